#pragma once
// Runs a topology on a CAF actor system: one actor per shard, a coordinator that advances the
// logical clock window by window, and a writer actor that turns frames into the log.
#include <functional>
#include <memory>
#include <string>

#include <optional>
#include <unordered_map>

#include "flowframe/v1/control.pb.h"
#include "flowframe/v1/frame.pb.h"
#include "runtime/base/histogram.hpp"
#include "runtime/engine/topology.hpp"

namespace flowframe {

class RemoteShard;

struct Progress {
  Time now = 0;
  std::uint64_t events = 0;
  std::uint64_t requests_done = 0;  // responses that reached their client
  double wall_s = 0;
};

struct RunOptions {
  std::uint64_t seed = 1;
  unsigned threads = 1;
  // CAF actors hosting components; 0 = choose from the scenario's event density and `threads`.
  unsigned shards = 0;
  // Frame log path; empty = frames off.
  std::string out_path;
  // Frames per chunk (a chunk ends at the first window boundary past this). While serving, a
  // chunk also ends after 50 ms of simulated time, so viewers see a paced run as it goes.
  std::size_t chunk_frames = 16384;
  int compression_level = 3;
  // What frames record. `full`: every event, each with its node's state, so any frame shows every
  // node exactly; `light`: what crosses a link and timers (not a client's next-request tick), with
  // state only for kinds whose state is more than load and queue, and every node in keyframes.
  // `automatic`: full for topologies of up to kFullDetailNodes nodes, counting the director
  // (learners' pictures).
  enum class Detail { automatic, full, light };
  Detail detail = Detail::automatic;
  static constexpr std::size_t kFullDetailNodes = 33;
  // Called about twice a second while running.
  std::function<void(const struct Progress&)> progress;

  // Live: serve the log on this address while running ("" = no; port 0 picks a free one).
  std::string serve;
  bool allow_remote = false;
  // Simulated seconds per wall second; 0 = as fast as possible.
  double speed = 0;
  bool start_paused = false;
  // After the run, how long to keep serving viewers that have not received everything yet.
  int linger_ms = 10000;
  std::function<void(const std::string& address)> on_serving;
  // Changes to apply at given logical times, as a live client would (replaying a steered run).
  std::vector<std::pair<Time, v1::ControlRequest>> scheduled_controls;
  // For tests: how many shards to run from a window on (0: keep). Without it, a run that chose
  // several shards measures, now and then, whether one would be faster, and switches.
  std::function<unsigned(std::uint64_t window)> shard_plan;
  // Close chunks every 50 ms of simulated time as served runs do (implied by `serve`), so a
  // replay of a steered run writes the very same bytes.
  bool live_chunks = false;
  // Shards hosted by other processes (flowframe run --workers), besides the one run here. Not with
  // live serving or pacing: those steer a run from this process alone.
  std::vector<std::shared_ptr<RemoteShard>> remote_shards;
};

// The changes a steered run's log recorded (control frames, less the derived health notices),
// ready for RunOptions::scheduled_controls.
std::vector<std::pair<Time, v1::ControlRequest>> controls_from_log(const std::string& path);

struct RunResult {
  Time sim_end = 0;
  double wall_s = 0;
  std::uint64_t frames = 0;
  std::uint64_t events = 0;
  std::uint64_t hops = 0;
  std::uint64_t windows = 0;
  std::uint64_t log_bytes = 0;
  unsigned shards = 0;
  unsigned threads = 0;
  bool cut_short = false;  // ended stop.drain_s after the duration with work still under way
  // Nodes hosted by other processes (RunOptions::remote_shards) as they ended: their components
  // here never ran, so a summary reads these instead.
  struct RemoteNode {
    v1::NodeState state;
    std::optional<LatencyHistogram> latencies;
  };
  std::unordered_map<NodeIndex, RemoteNode> remote_nodes;
};

class Simulation {
 public:
  Simulation(const v1::Scenario& scenario, RunOptions options, const ComponentFactory& factory);
  ~Simulation();

  RunResult run();
  Topology& topology() { return *topology_; }
  const RunOptions& options() const { return options_; }
  // The header a log of this run starts with.
  v1::LogHeader header() const;

 private:
  unsigned simulation_threads() const;
  unsigned choose_shards() const;

  RunOptions options_;
  std::unique_ptr<Topology> topology_;
};

}  // namespace flowframe
