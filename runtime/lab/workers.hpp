#pragma once
// Runs spread over other processes and machines on CAF's network layer (remote actors):
// `flowframe worker --listen HOST:PORT` serves them; `flowframe bench --workers` sends it whole
// runs of a benchmark, `flowframe run --workers` the shards of one run. A run is deterministic, so
// where it runs changes nothing in its result.
#include <atomic>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "flowframe/v1/remote.pb.h"
#include "runtime/engine/topology.hpp"

namespace flowframe {

class RemoteShard;

// 2: run --workers (shards of one run).
inline constexpr std::uint32_t kWorkerProtocol = 2;

// One run of a grid point, wherever it runs (recorded to `out_path` if given): its summary as
// `flowframe run --summary-json` writes it. Throws ScenarioError if the scenario cannot be loaded.
std::string run_point(const v1::PointRun& run, const ComponentFactory& factory, const std::string& out_path = "");

// Serves runs to `flowframe bench --workers` until destroyed.
class WorkerServer {
 public:
  // Listens on `address` (loopback unless `allow_remote`; port 0 picks one) and runs up to `jobs`
  // points at once. Throws std::runtime_error / std::invalid_argument with the reason.
  WorkerServer(const std::string& address, bool allow_remote, unsigned jobs, ComponentFactory factory);
  ~WorkerServer();
  WorkerServer(const WorkerServer&) = delete;
  WorkerServer& operator=(const WorkerServer&) = delete;

  const std::string& address() const { return address_; }
  // Runs finished and answered so far.
  std::uint64_t runs_served() const;

 private:
  struct Network;
  std::unique_ptr<Network> network_;
  std::string address_;
};

// A worker stopped answering (it died, or its connection broke): its runs go elsewhere.
class WorkerLost : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Connections to workers, each greeted first: one of another FlowFrame version or protocol is
// refused with the reason.
class WorkerPool {
 public:
  // Throws std::runtime_error naming the first worker that cannot be reached or refuses.
  explicit WorkerPool(const std::vector<std::string>& addresses);
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  std::size_t size() const;
  const std::string& address(std::size_t worker) const;
  unsigned jobs(std::size_t worker) const;
  // Runs `run` on `worker` and returns its summary. Throws WorkerLost if the worker is gone,
  // std::runtime_error with the worker's reason if it refused the run. Safe from several threads.
  std::string run(std::size_t worker, const v1::PointRun& run);
  // One shard of a run per worker (flowframe run --workers), for RunOptions::remote_shards; each
  // keeps the pool's connections for as long as it lives.
  std::vector<std::shared_ptr<RemoteShard>> shards(const std::string& scenario_name, const std::string& scenario_text,
                                                   const std::vector<std::string>& overrides);

 private:
  friend class WorkerShard;
  struct Network;
  struct Worker;
  std::shared_ptr<Network> network_;  // shards keep it while they live
  std::vector<Worker> workers_;
};

}  // namespace flowframe
