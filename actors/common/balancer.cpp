#include "actors/common/balancer.hpp"

#include <algorithm>

namespace flowframe {

Balancer::Balancer(const v1::LoadBalancerParams& params, std::vector<Backend> backends)
    : strategy_(params.strategy()), choices_(std::max<std::uint32_t>(params.has_choices() ? params.choices() : 2, 1)),
      backends_(std::move(backends)) {
  for (std::size_t b = 0; b < backends_.size(); ++b) {
    backends_[b].hash = mix64(0x5EED0000ULL + backends_[b].node);
    position_.emplace(backends_[b].node, b);
  }
  ring_points_ = params.has_virtual_nodes() ? std::max<std::uint32_t>(params.virtual_nodes(), 1) : 100;
  rebuild_healthy();
}

// The first healthy backend clockwise from the key on the ring. The ring is built the first time
// it is needed: 100 points per backend take 160 MB over 100 balancers of 1,000 servers that may
// never hash.
std::size_t Balancer::ring_lookup(std::uint64_t key) {
  if (ring_.empty()) {
    ring_.reserve(backends_.size() * ring_points_);
    for (std::size_t b = 0; b < backends_.size(); ++b)
      for (std::uint32_t v = 0; v < ring_points_; ++v)
        ring_.emplace_back(mix64(backends_[b].hash + v * 0x9E3779B97F4A7C15ULL), b);
    std::sort(ring_.begin(), ring_.end());
  }
  auto at = std::lower_bound(ring_.begin(), ring_.end(), std::make_pair(key, std::size_t{0}));
  for (std::size_t step = 0; step < ring_.size(); ++step, ++at) {
    if (at == ring_.end()) at = ring_.begin();
    if (in_pool(at->second)) return at->second;
  }
  return healthy_.front();
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
    if (in_pool(i)) healthy_.push_back(i);
}

std::optional<std::size_t> Balancer::find(std::uint32_t node) const {
  const auto found = position_.find(node);
  if (found == position_.end()) return std::nullopt;
  return found->second;
}

void Balancer::set_healthy(std::size_t backend, bool healthy) {
  backends_[backend].healthy = healthy;
  rebuild_healthy();
}

void Balancer::set_tripped(std::size_t backend, bool tripped) {
  if (backends_[backend].tripped == tripped) return;
  backends_[backend].tripped = tripped;
  rebuild_healthy();
}

void Balancer::on_sent(std::size_t backend) {
  ++backends_[backend].outstanding;
  ++backends_[backend].sent;
  ++outstanding_;
}

void Balancer::on_answered(std::size_t backend, Time response_time) {
  auto& ewma = backends_[backend].response_ewma;
  ewma = ewma == 0 ? static_cast<double>(response_time) : 0.8 * ewma + 0.2 * static_cast<double>(response_time);
  if (backends_[backend].outstanding > 0) {
    --backends_[backend].outstanding;
    --outstanding_;
  }
}

std::optional<std::size_t> Balancer::pick(std::uint64_t client_hash, std::uint64_t key, Rng& rng) {
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
      // The power of d choices: d distinct random backends, the least loaded wins (ties: the first drawn).
      if (count == 1) return healthy_[0];
      const std::size_t d = std::min<std::size_t>(choices_, count);
      std::size_t drawn[16];
      std::size_t best = 0;
      for (std::size_t k = 0; k < std::min<std::size_t>(d, 16); ++k) {
        std::size_t candidate;
        do candidate = rng.below(count);
        while (std::find(drawn, drawn + k, candidate) != drawn + k);
        drawn[k] = candidate;
        if (k == 0 || backends_[healthy_[candidate]].outstanding < backends_[healthy_[best]].outstanding) best = candidate;
      }
      return healthy_[best];
    }
    case v1::LoadBalancerParams::LEAST_RESPONSE_TIME: {
      // Expected wait: the recent response time times the requests it would be behind.
      auto cost = [&](std::size_t i) { return (backends_[i].response_ewma + 1.0) * (backends_[i].outstanding + 1); };
      std::size_t best = healthy_[cursor_ % count];
      for (std::size_t k = 1; k < count; ++k) {
        const std::size_t i = healthy_[(cursor_ + k) % count];
        if (cost(i) < cost(best)) best = i;
      }
      cursor_ = (cursor_ % count) + 1;
      return best;
    }
    case v1::LoadBalancerParams::CONSISTENT_HASH:
      return ring_lookup(mix64(key ? key * 0xA24BAED4963EE407ULL : client_hash));
    default:
      return healthy_[0];
  }
}

}  // namespace flowframe
