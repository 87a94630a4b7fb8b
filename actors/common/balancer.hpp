#pragma once
// Picking a backend for a request: the strategies of a load balancer, kept apart from the
// load balancer actor so other components (the API gateway's pools) reuse them.
#include <optional>
#include <unordered_map>
#include <vector>

#include "flowframe/v1/frame.pb.h"
#include "runtime/engine/random.hpp"
#include "runtime/base/time.hpp"
#include "runtime/engine/topology.hpp"

namespace flowframe {

class Balancer {
 public:
  using Strategy = v1::LoadBalancerParams::Strategy;
  struct Backend {
    std::uint32_t node;
    std::uint32_t weight = 1;
    bool healthy = true;
    bool tripped = false;  // its breaker is open: out of the pool while healthy
    std::uint32_t outstanding = 0;
    std::uint64_t sent = 0;
    std::int64_t current_weight = 0;  // smooth weighted round robin
    std::uint64_t hash = 0;           // rendezvous hashing
    double response_ewma = 0;         // least response time, ns
  };

  Balancer(const v1::LoadBalancerParams& params, std::vector<Backend> backends);
  // Backends for these nodes: servers bring their weight, and start down at capacity 0.
  static std::vector<Backend> backends_for(const std::vector<NodeIndex>& nodes, const Topology& topology);

  // A healthy backend for a request from a client whose address hashes to `client_hash`, for
  // key `key` (the request's {id}; 0: none, the client's address is used).
  std::optional<std::size_t> pick(std::uint64_t client_hash, std::uint64_t key, Rng& rng);
  void on_sent(std::size_t backend);
  // An answer came back `response_time` after the request left.
  void on_answered(std::size_t backend, Time response_time);
  // Position of a node among the backends, if it is one.
  std::optional<std::size_t> find(std::uint32_t node) const;
  void set_healthy(std::size_t backend, bool healthy);
  void set_tripped(std::size_t backend, bool tripped);
  // Backends taking requests: healthy and not tripped.
  std::size_t available() const { return healthy_.size(); }
  void set_strategy(Strategy strategy) { strategy_ = strategy; }
  void set_choices(std::uint32_t choices) { choices_ = std::max<std::uint32_t>(choices, 1); }

  Strategy strategy() const { return strategy_; }
  // Every backend's state, for snapshots.
  void snapshot(google::protobuf::RepeatedPtrField<v1::BackendState>& out) const;
  const std::vector<Backend>& backends() const { return backends_; }
  std::uint32_t outstanding() const { return outstanding_; }

 private:
  void rebuild_healthy();
  bool in_pool(std::size_t i) const { return backends_[i].healthy && !backends_[i].tripped; }
  std::size_t ring_lookup(std::uint64_t key);

  Strategy strategy_;
  std::uint32_t choices_ = 2;
  // Consistent hashing: (point, backend) sorted by point, ring_points_ per backend.
  std::vector<std::pair<std::uint64_t, std::size_t>> ring_;
  std::uint32_t ring_points_ = 100;
  std::vector<Backend> backends_;
  std::unordered_map<std::uint32_t, std::size_t> position_;  // node -> backend
  std::vector<std::size_t> healthy_;  // in the pool: healthy and not tripped
  std::size_t cursor_ = 0;
  std::uint32_t outstanding_ = 0;
};

}  // namespace flowframe
