#include "actors/common/guarded_pool.hpp"

#include <algorithm>

namespace flowframe {

void GuardedPool::guard(const v1::CircuitBreaker& params) {
  if (guarded()) {
    for (std::size_t i = 0; i < breakers_.size(); ++i) breakers_.at(i).reconfigure(params);
    return;
  }
  for (const auto& backend : balancer_.backends()) breakers_.add(params, backend.node, 0);  // one group: CACHED answers are the pool's
}

std::optional<GuardedPool::Pick> GuardedPool::pick(std::uint64_t client_hash, std::uint64_t key, Rng& rng) {
  while (const auto chosen = balancer_.pick(client_hash, key, rng)) {
    if (!guarded()) return Pick{*chosen, 0};
    if (const auto epoch = breakers_.acquire(*chosen)) return Pick{*chosen, *epoch};
    balancer_.set_tripped(*chosen, true);  // half-open with every probe out: no more until they answer
  }
  return std::nullopt;
}

std::optional<GuardedPool::Pick> GuardedPool::pick_other(std::size_t avoid, std::uint64_t client_hash, std::uint64_t key,
                                                         Rng& rng) {
  const bool was_tripped = balancer_.backends()[avoid].tripped;
  balancer_.set_tripped(avoid, true);  // out of the pool for this one pick
  auto chosen = pick(client_hash, key, rng);
  balancer_.set_tripped(avoid, was_tripped);
  return chosen;
}

bool GuardedPool::tripped() const {
  const auto& backends = balancer_.backends();
  return std::any_of(backends.begin(), backends.end(), [](const Balancer::Backend& b) { return b.healthy && b.tripped; });
}

void GuardedPool::call_ended(const Relay::Ended& ended, const Event& answer, Context& context) {
  const auto backend = balancer_.find(ended.backend);
  if (!backend) return;
  const Time duration = context.now() - ended.sent;
  balancer_.on_answered(*backend, duration);
  if (!guarded()) return;
  breakers_.record(*backend, static_cast<std::uint32_t>(ended.tag), ended.timed_out ? 504 : answer.status,
                   ended.timed_out, duration, request_key(ended.original), context);
  sync(*backend);  // a half-open breaker whose probes answered takes requests again
}

bool GuardedPool::handle(const Event& event, Context& context) {
  const auto backend = breakers_.handle(event, context);
  if (backend) sync(*backend);
  return backend.has_value();
}

}  // namespace flowframe
