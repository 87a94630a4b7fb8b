#pragma once
// What a caller of any kind may put around its calls: retries with backoff, jitter and a budget,
// circuit breakers, bulkheads. Plain logic over logical time, kept apart from the components so
// tests check every number and transition directly; components frame what it decides.
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "flowframe/v1/frame.pb.h"
#include "flowframe/v1/scenario.pb.h"
#include "runtime/base/time.hpp"
#include "runtime/engine/random.hpp"
#include "runtime/framelog/frame_record.hpp"
#include "runtime/scenario/kind.hpp"

namespace flowframe {


// A timer's `status` says what it is for when resilience set it (components' own timers use 0,
// a work queue's completion 200). `arg` is the caller's key for the call, or a breaker's index.
inline constexpr std::uint16_t kRetryTimer = 1;
inline constexpr std::uint16_t kBreakerTimer = 2;   // OPEN -> HALF_OPEN
inline constexpr std::uint16_t kBreakerNotice = 3;  // frames a change a result caused

// Retries at most `ratio` of the first attempts of the last `window_s` seconds plus min_per_s per
// second. Counts live in buckets of a tenth of the window, so old attempts leave it in steps.
class RetryBudget {
 public:
  explicit RetryBudget(const v1::RetryBudget& params);
  void on_first_attempt(Time now);
  // Whether a retry may go now; counts it if so.
  bool try_retry(Time now);
  std::uint32_t window_first() const { return first_sum_; }
  std::uint32_t window_retries() const { return retry_sum_; }
  double allowance() const;

 private:
  static constexpr int kBuckets = 10;
  void advance(Time now);
  double ratio_;
  double min_per_s_;
  Time window_;
  std::int64_t bucket_ = 0;  // index of the current bucket since time 0
  std::uint32_t first_[kBuckets] = {};
  std::uint32_t retries_[kBuckets] = {};
  std::uint32_t first_sum_ = 0;
  std::uint32_t retry_sum_ = 0;
};

class Retrier {
 public:
  explicit Retrier(const v1::RetryPolicy& policy) { reconfigure(policy); }
  // New settings; counts go on (a budget starts afresh when its settings change).
  void reconfigure(const v1::RetryPolicy& policy);
  bool enabled() const { return max_attempts_ > 1; }
  std::uint32_t max_attempts() const { return max_attempts_; }

  void on_first_attempt(Time now);
  struct Decision {
    bool retry = false;
    Time delay = 0;
    std::string why;  // "retry 2 of 4 in 120 ms: 503" or "gave up after 4 attempts: timed out"
  };
  // After attempt `attempt` (1 = the first) failed with `status` (timed_out: no answer in time).
  // `previous_delay` is the delay before this attempt (0 for the first; decorrelated jitter
  // grows from it); `retry_after` is the answer's Retry-After (0: none).
  Decision after_failure(std::uint32_t attempt, std::uint16_t status, bool timed_out, Time retry_after,
                         Time previous_delay, Time now, Rng& rng);
  bool retryable(std::uint16_t status, bool timed_out) const;
  // The delay before retry number `retry` (1 = the first retry).
  Time backoff(std::uint32_t retry, Time previous_delay, Rng& rng) const;

  // Adds its counts to `state` (a server's dependencies report together).
  void snapshot(v1::RetryState& state) const;
  std::uint64_t retries() const { return retries_; }
  // A retry it allowed was not sent after all (a breaker refused it): it does not count as one.
  void retry_not_sent() {
    if (retries_ > 0) --retries_;
  }
  // The counts of an earlier incarnation (a restarted client keeps its totals, not its settings).
  void carry_counts(const Retrier& before) {
    first_attempts_ = before.first_attempts_;
    retries_ = before.retries_;
    gave_up_ = before.gave_up_;
    budget_denied_ = before.budget_denied_;
  }

 private:
  v1::RetryPolicy policy_;
  std::uint32_t max_attempts_ = 1;
  double base_ns_ = 0;
  double cap_ns_ = 0;
  std::optional<RetryBudget> budget_;
  std::uint64_t first_attempts_ = 0;
  std::uint64_t retries_ = 0;
  std::uint64_t gave_up_ = 0;
  std::uint64_t budget_denied_ = 0;
};

// resilience4j's circuit breaker (see CircuitBreaker in scenario.proto). A call asks acquire();
// its result goes to record() with the epoch it got, so a result of a call let through in an
// earlier state does not count in the present one.
class CircuitBreaker {
 public:
  using State = v1::BreakerState::State;
  struct Transition {
    State from;
    State to;
    std::string why;
  };

  CircuitBreaker(const v1::CircuitBreaker& params, NodeIndex target);
  NodeIndex target() const { return target_; }
  State state() const { return state_; }
  const v1::CircuitBreaker& params() const { return params_; }
  // The epoch to record the call's result with, or nothing: the breaker refuses the call.
  std::optional<std::uint32_t> acquire();
  std::optional<Transition> record(std::uint32_t epoch, bool failed, Time duration, Time now);
  // A permission of this epoch that will never be recorded (its call was aborted): a half-open
  // breaker may let another probe through instead.
  void release(std::uint32_t epoch) {
    if (epoch == epoch_ && state_ == v1::BreakerState::HALF_OPEN) ++probes_left_;
  }
  // OPEN -> HALF_OPEN; the owner calls it at half_open_at() (its timer).
  std::optional<Transition> half_open(Time now);
  Time half_open_at() const { return half_open_at_; }
  // New settings; the state and the window start afresh in CLOSED when the window changes.
  void reconfigure(const v1::CircuitBreaker& params);
  void snapshot(v1::BreakerState& state) const;
  std::uint64_t short_circuited() const { return short_circuited_; }

 private:
  struct Cell {
    std::uint32_t calls = 0, failed = 0, slow = 0;
    std::int64_t second = -1;  // TIME_BASED: the second it counts
  };
  void reset_window();
  void advance(Time now);
  std::optional<Transition> evaluate(Time now, std::uint32_t minimum);
  Transition move(State to, std::string why, Time now);

  v1::CircuitBreaker params_;
  NodeIndex target_;
  State state_ = v1::BreakerState::CLOSED;
  std::uint32_t epoch_ = 0;
  std::vector<Cell> window_;
  std::size_t next_ = 0;  // COUNT_BASED: the cell the next call overwrites
  std::uint32_t calls_ = 0, failed_ = 0, slow_ = 0;
  std::uint32_t probes_left_ = 0;
  Time opened_ = 0;
  Time half_open_at_ = 0;
  std::uint64_t short_circuited_ = 0;
  std::uint32_t transitions_ = 0;
};

// A limit on calls in flight to one dependency with its own FIFO queue of waiting callers.
class Bulkhead {
 public:
  Bulkhead(const v1::Bulkhead& params, NodeIndex target) : params_(params), target_(target) {}
  // New limits: calls in flight finish; waiting ones start as places free up.
  void reconfigure(const v1::Bulkhead& params) { params_ = params; }
  enum class Entry { enter, wait, full };
  Entry enter(std::int64_t key);
  // A call ended: its place goes to the first waiting caller still wanted (`wanted(key)`), whose
  // key is returned.
  std::optional<std::int64_t> leave(const std::function<bool(std::int64_t)>& wanted);
  NodeIndex target() const { return target_; }
  void snapshot(v1::BulkheadState& state) const;
  // The node went down: every call and waiter is gone.
  void clear() {
    active_ = 0;
    waiting_.clear();
  }

 private:
  v1::Bulkhead params_;
  NodeIndex target_;
  std::uint32_t active_ = 0;
  std::deque<std::int64_t> waiting_;
  std::uint64_t refused_ = 0;
};

// The documented defaults, filled in where a scenario leaves them unset.
void fill_defaults(v1::RetryPolicy& policy);
void fill_defaults(v1::CircuitBreaker& breaker);
// Checks written settings. `base` is the path to the settings below the node ({"client"},
// {"retry"}), `prefix` their name as users write it ("retry.", "dependencies[0].breaker.").
using FieldPath = std::vector<NodeChecks::Step>;
void check_retry(NodeChecks& c, const v1::RetryPolicy& policy, const FieldPath& base, const std::string& prefix);
void check_breaker(NodeChecks& c, const v1::CircuitBreaker& breaker, const FieldPath& base, const std::string& prefix);
void check_bulkhead(NodeChecks& c, const v1::Bulkhead& bulkhead, const FieldPath& base, const std::string& prefix);

}  // namespace flowframe
