#pragma once
// A pool of backends picked by a balancing strategy, each behind its own circuit breaker when the
// scenario asks for one: a load balancer's pool and each of a gateway's pools. An open breaker takes
// its backend out of the pool; half-open, the backend takes requests until its probes are out.
#include <optional>

#include "actors/common/balancer.hpp"
#include "actors/common/breakers.hpp"

namespace flowframe {

class GuardedPool {
 public:
  // `tag` tells this pool's breaker timers apart from other pools' in the same component.
  GuardedPool(Balancer balancer, std::uint32_t tag) : balancer_(std::move(balancer)), breakers_(tag) {}

  Balancer& balancer() { return balancer_; }
  const Balancer& balancer() const { return balancer_; }
  const Breakers& breakers() const { return breakers_; }
  bool guarded() const { return !breakers_.empty(); }
  // A breaker per backend with these settings (new ones, or changed settings for those there).
  void guard(const v1::CircuitBreaker& params);

  struct Pick {
    std::size_t backend;
    std::uint32_t epoch;  // the backend's breaker's, for ended()
  };
  // A backend for the request whose breaker lets it through; nothing when none can take it.
  std::optional<Pick> pick(std::uint64_t client_hash, std::uint64_t key, Rng& rng);
  // Whether some healthy backend is out of the pool only because of its breaker.
  bool tripped() const;
  // The fallback answer when tripped() left nothing to pick, and its note.
  std::uint16_t fallback(std::uint64_t key, const Context& context, std::string& note) const {
    return breakers_.fallback(0, key, context, note);
  }
  // A call to `backend` ended after `duration` with `status` (or timed out).
  void ended(std::size_t backend, std::uint32_t epoch, std::uint16_t status, bool timed_out, Time duration,
             std::uint64_t key, Context& context);
  // The breakers' timers and notices; false for other events.
  bool handle(const Event& event, Context& context);

 private:
  void sync(std::size_t backend) {
    balancer_.set_tripped(backend, breakers_.at(backend).state() == v1::BreakerState::OPEN);
  }
  Balancer balancer_;
  Breakers breakers_;  // empty, or breaker i guards backend i
};

}  // namespace flowframe
