#include "actors/balancer.hpp"

#include <algorithm>

namespace flowframe {

Balancer::Balancer(Strategy strategy, std::vector<Backend> backends)
    : strategy_(strategy), backends_(std::move(backends)) {
  for (auto& backend : backends_) backend.hash = mix64(0x5EED0000ULL + backend.node);
  rebuild_healthy();
}

std::vector<Balancer::Backend> Balancer::backends_for(const std::vector<NodeIndex>& nodes, const Topology& topology) {
  std::vector<Backend> backends;
  for (NodeIndex node : nodes) {
    Backend backend;
    backend.node = node;
    const auto& spec = topology.spec(node);
    if (spec.kind() == v1::Node::SERVER) {
      backend.weight = spec.server().weight();
      backend.healthy = spec.server().capacity() > 0;
    }
    backends.push_back(backend);
  }
  return backends;
}

void Balancer::snapshot(google::protobuf::RepeatedPtrField<v1::BackendState>& out) const {
  for (const auto& backend : backends_) {
    auto& state = *out.Add();
    state.set_node(backend.node);
    state.set_healthy(backend.healthy);
    state.set_outstanding(backend.outstanding);
    state.set_sent(backend.sent);
    state.set_weight(backend.weight);
  }
}

void Balancer::rebuild_healthy() {
  healthy_.clear();
  for (std::size_t i = 0; i < backends_.size(); ++i)
    if (backends_[i].healthy) healthy_.push_back(i);
}

std::optional<std::size_t> Balancer::find(std::uint32_t node) const {
  for (std::size_t i = 0; i < backends_.size(); ++i)
    if (backends_[i].node == node) return i;
  return std::nullopt;
}

void Balancer::set_healthy(std::size_t backend, bool healthy) {
  backends_[backend].healthy = healthy;
  rebuild_healthy();
}

void Balancer::on_sent(std::size_t backend) {
  ++backends_[backend].outstanding;
  ++backends_[backend].sent;
  ++outstanding_;
}

void Balancer::on_answered(std::size_t backend) {
  if (backends_[backend].outstanding > 0) {
    --backends_[backend].outstanding;
    --outstanding_;
  }
}

std::optional<std::size_t> Balancer::pick(std::uint64_t client_hash, Rng& rng) {
  const std::size_t count = healthy_.size();
  if (count == 0) return std::nullopt;
  switch (strategy_) {
    case v1::LoadBalancerParams::ROUND_ROBIN: {
      const std::size_t chosen = healthy_[cursor_ % count];
      cursor_ = (cursor_ % count) + 1;
      return chosen;
    }
    case v1::LoadBalancerParams::WEIGHTED_ROUND_ROBIN: {
      // nginx's smooth weighted round robin: spreads a heavy backend's turns out evenly.
      std::int64_t total = 0;
      std::size_t best = healthy_[0];
      for (std::size_t i : healthy_) {
        auto& backend = backends_[i];
        backend.current_weight += backend.weight;
        total += backend.weight;
        if (backend.current_weight > backends_[best].current_weight) best = i;
      }
      backends_[best].current_weight -= total;
      return best;
    }
    case v1::LoadBalancerParams::IP_HASH: {
      // Rendezvous hashing: a client keeps its server, and when a server fails only that
      // server's clients move.
      std::size_t best = healthy_[0];
      std::uint64_t best_score = mix64(client_hash ^ backends_[best].hash);
      for (std::size_t i : healthy_) {
        const std::uint64_t score = mix64(client_hash ^ backends_[i].hash);
        if (score > best_score) {
          best_score = score;
          best = i;
        }
      }
      return best;
    }
    case v1::LoadBalancerParams::LEAST_CONN: {
      // Ties go round the backends, so equally idle servers share the work.
      std::size_t best = healthy_[cursor_ % count];
      for (std::size_t k = 1; k < count; ++k) {
        const std::size_t i = healthy_[(cursor_ + k) % count];
        if (backends_[i].outstanding < backends_[best].outstanding) best = i;
      }
      cursor_ = (cursor_ % count) + 1;
      return best;
    }
    case v1::LoadBalancerParams::RANDOM:
      return healthy_[rng.below(count)];
    case v1::LoadBalancerParams::POWER_OF_TWO: {
      if (count == 1) return healthy_[0];
      const std::size_t first = rng.below(count);
      std::size_t second = rng.below(count - 1);
      if (second >= first) ++second;
      const std::size_t a = healthy_[first], b = healthy_[second];
      return backends_[b].outstanding < backends_[a].outstanding ? b : a;
    }
    default:
      return healthy_[0];
  }
}

}  // namespace flowframe
