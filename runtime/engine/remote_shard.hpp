#pragma once
// One run's shards in several processes (`flowframe run --workers`). The run's process keeps the
// clock and a mirror of each shard hosted elsewhere; the host runs the shard's nodes window by
// window. Between windows the mirror hands the host the mail other shards sent it, and takes back
// the window's frames, its mail for the others and its counts, so the clock merges frames and
// plans windows exactly as with local shards: the log does not depend on where shards run.
// Nothing here knows the network: runtime/lab/workers.cpp carries these messages on CAF's.
#include <memory>
#include <string>
#include <vector>

#include "flowframe/v1/remote.pb.h"
#include "runtime/engine/shard.hpp"

namespace flowframe {

// The run's end of a hosted shard.
class RemoteShard {
 public:
  virtual ~RemoteShard() = default;
  // Where it runs, for messages: "worker 127.0.0.1:7000".
  virtual std::string where() const = 0;
  // Has the host build the scenario and start the shard's nodes. Throws std::runtime_error with
  // the host's reason.
  virtual v1::ShardOpened open(std::uint32_t shard, std::uint32_t shard_count, std::uint64_t seed, bool record,
                               bool detailed) = 0;
  // One window. Throws std::runtime_error if the host is gone or fails.
  virtual void run(const v1::ShardWindow& window, v1::ShardWindowDone& done) = 0;
  // The shard's nodes as they are now.
  virtual void states(v1::ShardStates& states) = 0;
};

// The host's end: the whole topology built from the scenario, one shard of it run.
class ShardHost {
 public:
  // Throws ScenarioError if the scenario cannot be loaded, std::invalid_argument for an open
  // request this build cannot serve.
  ShardHost(const v1::ShardOpen& open, const ComponentFactory& factory);
  ~ShardHost();
  // What its nodes did as they started: pending events, mail for the others.
  void started(v1::ShardOpened& opened);
  // A component that throws is reported in done.error with where it happened.
  void run(const v1::ShardWindow& window, v1::ShardWindowDone& done);
  void states(v1::ShardStates& states) const;

 private:
  void hand_over_mail(google::protobuf::RepeatedPtrField<v1::WireEvent>& out);
  std::unique_ptr<Topology> topology_;
  std::vector<std::uint32_t> shard_of_;
  std::unique_ptr<Shard> shard_;
};

// The run's copy of a hosted shard, for the clock and the other shards to read.
class ShardMirror {
 public:
  ShardMirror(Shard& mirror, RemoteShard& remote, const Topology& topology, const std::vector<std::uint32_t>& shard_of)
      : mirror_(mirror), remote_(remote), topology_(topology), shard_of_(shard_of) {}
  // Opens the shard on its host (RemoteShard::open); throws if the host laid the nodes out otherwise.
  void open(std::uint32_t shard_count, std::uint64_t seed, bool record, bool detailed);
  // Runs the host's window: hands it its mail from `shards`, takes back what it did. Throws
  // std::runtime_error naming the host if it fails or answers what it could not have done.
  void run(const std::vector<std::unique_ptr<Shard>>& shards, Time end, std::uint64_t window);
  // The host's nodes as they are now (RemoteShard::states), checked: throws naming the host if
  // they are not exactly its nodes.
  void states(v1::ShardStates& states);
  std::string where() const { return remote_.where(); }
  // Answers the host's clients have received so far.
  std::uint64_t requests_done() const { return requests_done_; }

 private:
  void check_frames(const v1::ShardWindowDone& done, Time end) const;
  // Puts what the host sent other shards during the window ending at `end` where they read it at
  // window `window` + 1.
  void post(const google::protobuf::RepeatedPtrField<v1::WireEvent>& mail, std::uint64_t window, Time end);
  Shard& mirror_;
  RemoteShard& remote_;
  const Topology& topology_;
  const std::vector<std::uint32_t>& shard_of_;
  v1::ShardWindow window_;
  v1::ShardWindowDone done_;
  std::vector<Event> mail_;
  std::uint64_t requests_done_ = 0;
};

// What a host needs to build the run's scenario (the first part of ShardOpen), and the rest.
v1::ShardOpen shard_open(const std::string& scenario_name, const std::string& scenario_text,
                         const std::vector<std::string>& overrides);
void fill_open(v1::ShardOpen& open, std::uint32_t shard, std::uint32_t shard_count, std::uint64_t seed, bool record,
               bool detailed);

// Events as they travel between processes.
void to_wire(const Event& event, v1::WireEvent& out);
// "" or what is wrong with `in`: only what may cross a link between nodes of `topology`.
std::string from_wire(const v1::WireEvent& in, const Topology& topology, Event& out);

// A fingerprint of how nodes are spread over shards: both ends of a run must agree.
std::uint64_t layout(const std::vector<std::uint32_t>& shard_of);

}  // namespace flowframe
