#pragma once
// A component's circuit breakers and retries at work. Each breaker guards calls to one node; what
// it decides becomes frames (a change a result caused is framed by a notice to itself right after,
// OPEN -> HALF_OPEN by a timer at the moment the wait ends) and fallback answers. A retry is a timer.
#include <deque>
#include <optional>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "actors/common/resilience.hpp"
#include "runtime/engine/component.hpp"

namespace flowframe {

class Breakers {
 public:
  // `tag` tells this set's timers from another set's in the same component (a gateway's pools).
  explicit Breakers(std::uint32_t tag = 0) : tag_(tag) {}

  // A breaker guarding calls to `target`. Breakers of one `group` share what CACHED fallbacks know
  // (a pool's backends answer the same requests); by default each is its own group.
  std::size_t add(const v1::CircuitBreaker& params, NodeIndex target, std::size_t group = SIZE_MAX);
  bool empty() const { return breakers_.empty(); }
  // Cells in all their windows: what a snapshot of them roughly weighs.
  std::size_t cells() const {
    std::size_t total = 0;
    for (const auto& guarded : breakers_) total += guarded.breaker.params().window_size();
    return total;
  }
  std::size_t size() const { return breakers_.size(); }
  CircuitBreaker& at(std::size_t i) { return breakers_[i].breaker; }
  const CircuitBreaker& at(std::size_t i) const { return breakers_[i].breaker; }

  // The epoch for a call through breaker i, or nothing: it is open (the caller falls back).
  std::optional<std::uint32_t> acquire(std::size_t i) { return breakers_[i].breaker.acquire(); }
  // A permission that will never be used or answered (the call was aborted): back to the breaker.
  void release(std::size_t i, std::uint32_t epoch) { breakers_[i].breaker.release(epoch); }
  // A call's result: a failure is a 5xx or a timeout. `key` names what was asked (path and id),
  // remembered on success for CACHED fallbacks.
  void record(std::size_t i, std::uint32_t epoch, std::uint16_t status, bool timed_out, Time duration,
              std::uint64_t key, Context& context);
  // The fallback's answer for a call breaker i refused: 203 (default, or cached when `key` was
  // answered before) or 503; `how` says which in words, for the frame.
  std::uint16_t fallback(std::size_t i, std::uint64_t key, std::string& how) const;
  // "breaker to server-2 OPEN"
  std::string describe(std::size_t i, const Context& context) const;
  // Its timers and notices: the breaker's index, or nothing for any other event. Every event of
  // a guarded component passes here, so the common answer is inline.
  std::optional<std::size_t> handle(const Event& event, Context& context) {
    if (event.kind != EventKind::timer || (event.status != kBreakerTimer && event.status != kBreakerNotice))
      return std::nullopt;
    return handle_timer(event, context);
  }
  void snapshot(v1::NodeState& state) const;

 private:
  void changed(std::size_t i, const CircuitBreaker::Transition& transition, Context& context);
  std::optional<std::size_t> handle_timer(const Event& event, Context& context);
  struct Guarded {
    CircuitBreaker breaker;
    std::size_t group;
  };
  std::vector<Guarded> breakers_;
  std::unordered_map<std::size_t, std::unordered_set<std::uint64_t>> answered_;  // CACHED: good keys by group
  std::deque<std::string> notices_;  // notes of changes not yet framed, in order
  std::uint32_t tag_;
};

// After attempt `attempt` failed (`ended` is the answer or the timeout): asks `retrier`, and when it
// retries, sets a kRetryTimer with `key` in its arg and moves `attempt` and `delay` (the backoff
// before the next attempt) on. The decision's `why` says why it retried or gave up ("" when the
// failure is not one it retries, or it has no retries).
Retrier::Decision retry_after_failure(Retrier& retrier, const Event& ended, std::uint16_t status, std::uint32_t& attempt,
                                      Time& delay, std::int64_t key, Context& context);

// What a request asks, as a key for cached fallbacks.
inline std::uint64_t request_key(const Event& request) { return (std::uint64_t{request.path} << 48) ^ request.id; }

}  // namespace flowframe
