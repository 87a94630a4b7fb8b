#pragma once
// A pool of backends picked by a balancing strategy, each behind its own circuit breaker when the
// scenario asks for one: a load balancer's pool and each of a gateway's pools. An open breaker takes
// its backend out of the pool; half-open, the backend takes requests until its probes are out.
#include <optional>

#include "actors/common/balancer.hpp"
#include "actors/common/breakers.hpp"
#include "actors/common/routing.hpp"

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
  // A backend other than `avoid` (a retry's), or nothing when only `avoid` can take it.
  std::optional<Pick> pick_other(std::size_t avoid, std::uint64_t client_hash, std::uint64_t key, Rng& rng);
  // A pick that will not be used: its breaker's permission goes back.
  void give_back(const Pick& pick) {
    if (guarded()) breakers_.release(pick.backend, pick.epoch);
  }
  // Whether some healthy backend is out of the pool only because of its breaker.
  bool tripped() const;
  // The fallback answer when tripped() left nothing to pick, and its note.
  std::uint16_t fallback(std::uint64_t key, std::string& note) const {
    std::string how;
    const auto status = breakers_.fallback(0, key, how);
    note = "no server can take it (every healthy one's breaker is open or has its probes out): " + how;
    return status;
  }
  // A relayed call to one of its backends ended (`answer`: the backend's, unless it timed out): the
  // balancer learns the response time, the backend's breaker the outcome. The call's relay tag holds
  // the breaker's epoch in its low 32 bits.
  void call_ended(const Relay::Ended& ended, const Event& answer, Context& context);
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
