#include "actors/common/resilience.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "runtime/base/text.hpp"
#include "runtime/scenario/kind.hpp"

namespace flowframe {
namespace {

std::string rate_text(double percent) { return fmt_number(std::round(percent * 10) / 10) + " %"; }

}  // namespace

// ---- retry budget ----

RetryBudget::RetryBudget(const v1::RetryBudget& params)
    : ratio_(params.ratio()),
      min_per_s_(params.has_min_per_s() ? params.min_per_s() : 10),
      window_(std::max<Time>(kBuckets, from_seconds(params.has_window_s() ? params.window_s() : 10))) {}

void RetryBudget::advance(Time now) {
  const std::int64_t bucket = now / (window_ / kBuckets);
  if (bucket - bucket_ >= kBuckets) {
    std::fill(std::begin(first_), std::end(first_), 0);
    std::fill(std::begin(retries_), std::end(retries_), 0);
    first_sum_ = retry_sum_ = 0;
    bucket_ = bucket;
    return;
  }
  while (bucket_ < bucket) {
    const auto slot = static_cast<std::size_t>(++bucket_ % kBuckets);
    first_sum_ -= first_[slot];
    retry_sum_ -= retries_[slot];
    first_[slot] = retries_[slot] = 0;
  }
}

void RetryBudget::on_first_attempt(Time now) {
  advance(now);
  ++first_[bucket_ % kBuckets];
  ++first_sum_;
}

double RetryBudget::allowance() const { return ratio_ * first_sum_ + min_per_s_ * to_seconds(window_); }

bool RetryBudget::try_retry(Time now) {
  advance(now);
  if (retry_sum_ + 1 > allowance()) return false;
  ++retries_[bucket_ % kBuckets];
  ++retry_sum_;
  return true;
}

// ---- retries ----

void Retrier::reconfigure(const v1::RetryPolicy& policy) {
  const bool same_budget = budget_ && policy.has_budget() &&
                           policy.budget().SerializeAsString() == policy_.budget().SerializeAsString();
  policy_ = policy;
  fill_defaults(policy_);
  max_attempts_ = std::max<std::uint32_t>(1, policy_.max_attempts());
  base_ns_ = static_cast<double>(from_millis(policy_.base_ms()));
  cap_ns_ = static_cast<double>(from_millis(policy_.cap_ms()));
  if (!policy_.has_budget()) budget_.reset();
  else if (!same_budget) budget_.emplace(policy_.budget());
}

void Retrier::on_first_attempt(Time now) {
  ++first_attempts_;
  if (budget_) budget_->on_first_attempt(now);
}

bool Retrier::retryable(std::uint16_t status, bool timed_out) const {
  if (timed_out) return policy_.retry_on_timeout();
  return std::find(policy_.retry_on().begin(), policy_.retry_on().end(), status) != policy_.retry_on().end();
}

Time Retrier::backoff(std::uint32_t retry, Time previous_delay, Rng& rng) const {
  double delay;
  if (policy_.jitter() == v1::RetryPolicy::DECORRELATED) {
    // sleep = min(cap, random_between(base, sleep * 3)), the first sleep being base.
    const double previous = previous_delay > 0 ? static_cast<double>(previous_delay) : base_ns_;
    const double top = std::max(base_ns_, previous * 3);
    delay = std::min(cap_ns_, base_ns_ + rng.next_double() * (top - base_ns_));
  } else {
    const double grown = policy_.backoff() == v1::RetryPolicy::EXPONENTIAL
                             ? base_ns_ * std::pow(2.0, static_cast<double>(retry - 1))
                             : base_ns_;
    const double limit = std::min(cap_ns_, grown);
    switch (policy_.jitter()) {
      case v1::RetryPolicy::FULL: delay = rng.next_double() * limit; break;
      case v1::RetryPolicy::EQUAL: delay = limit / 2 + rng.next_double() * (limit / 2); break;
      default: delay = limit; break;
    }
  }
  return std::max<Time>(1, static_cast<Time>(std::llround(delay)));
}

Retrier::Decision Retrier::after_failure(std::uint32_t attempt, std::uint16_t status, bool timed_out, Time retry_after,
                                         Time previous_delay, Time now, Rng& rng) {
  Decision decision;
  if (!retryable(status, timed_out)) return decision;
  const std::string cause = timed_out ? "timed out" : std::to_string(status);
  if (attempt >= max_attempts_) {
    ++gave_up_;
    decision.why = fmt::format("gave up after {} attempt{}: {}", attempt, attempt == 1 ? "" : "s", cause);
    return decision;
  }
  if (budget_ && !budget_->try_retry(now)) {
    ++gave_up_;
    ++budget_denied_;
    decision.why = fmt::format("retry budget spent ({} retries for {} first attempts in the last {} s; it allows {:.0f}): {}",
                               budget_->window_retries(), budget_->window_first(), fmt_number(policy_.budget().window_s()),
                               budget_->allowance(), cause);
    return decision;
  }
  ++retries_;
  decision.retry = true;
  decision.delay = backoff(attempt, previous_delay, rng);
  std::string after;
  if (policy_.honor_retry_after() && retry_after > decision.delay) {
    decision.delay = retry_after;
    after = " (Retry-After)";
  }
  const auto when = duration_text(decision.delay);
  decision.why = fmt::format("{}: attempt {} of {} {}{}{}", cause, attempt + 1, max_attempts_,
                             when == "at once" ? "" : "in ", when, after);
  return decision;
}

void Retrier::snapshot(v1::RetryState& state) const {
  state.set_first_attempts(state.first_attempts() + first_attempts_);
  state.set_retries(state.retries() + retries_);
  state.set_gave_up(state.gave_up() + gave_up_);
  state.set_budget_denied(state.budget_denied() + budget_denied_);
  if (budget_) {
    state.set_window_first(state.window_first() + budget_->window_first());
    state.set_window_retries(state.window_retries() + budget_->window_retries());
  }
}

// ---- circuit breaker ----

CircuitBreaker::CircuitBreaker(const v1::CircuitBreaker& params, NodeIndex target) : target_(target) {
  params_ = params;
  fill_defaults(params_);
  reset_window();
}

void CircuitBreaker::reconfigure(const v1::CircuitBreaker& params) {
  v1::CircuitBreaker next = params;
  fill_defaults(next);
  const bool window_changed = next.window() != params_.window() || next.window_size() != params_.window_size();
  params_ = next;
  if (window_changed) {
    if (state_ == v1::BreakerState::CLOSED) reset_window();
  }
}

void CircuitBreaker::reset_window() {
  window_.assign(std::max<std::uint32_t>(1, params_.window_size()), Cell{});
  next_ = 0;
  calls_ = failed_ = slow_ = 0;
}

std::optional<std::uint32_t> CircuitBreaker::acquire() {
  switch (state_) {
    case v1::BreakerState::CLOSED:
      return epoch_;
    case v1::BreakerState::HALF_OPEN:
      if (probes_left_ > 0) {
        --probes_left_;
        return epoch_;
      }
      [[fallthrough]];
    default:
      ++short_circuited_;
      return std::nullopt;
  }
}

void CircuitBreaker::advance(Time now) {
  const std::int64_t second = now / kNanosPerSecond;
  const std::int64_t oldest = second - static_cast<std::int64_t>(window_.size()) + 1;
  for (auto& cell : window_) {
    if (cell.second < 0 || cell.second >= oldest) continue;
    calls_ -= cell.calls;
    failed_ -= cell.failed;
    slow_ -= cell.slow;
    cell = Cell{};
  }
}

std::optional<CircuitBreaker::Transition> CircuitBreaker::record(std::uint32_t epoch, bool failed, Time duration,
                                                                 Time now) {
  if (epoch != epoch_ || state_ == v1::BreakerState::OPEN) return std::nullopt;
  const bool slow = duration > from_millis(params_.slow_call_ms());  // resilience4j: strictly longer
  if (state_ == v1::BreakerState::HALF_OPEN) {
    ++calls_;
    failed_ += failed;
    slow_ += slow;
    // resilience4j decides once min(minimum calls, permitted probes) have answered.
    return evaluate(now, std::min(params_.minimum_calls(), params_.half_open_calls()));
  }
  Cell* cell;
  if (params_.window() == v1::CircuitBreaker::TIME_BASED) {
    advance(now);
    const std::int64_t second = now / kNanosPerSecond;
    cell = &window_[static_cast<std::size_t>(second % static_cast<std::int64_t>(window_.size()))];
    cell->second = second;
  } else {
    cell = &window_[next_];
    next_ = (next_ + 1) % window_.size();
    calls_ -= cell->calls;
    failed_ -= cell->failed;
    slow_ -= cell->slow;
    *cell = Cell{};
  }
  ++cell->calls;
  cell->failed += failed;
  cell->slow += slow;
  ++calls_;
  failed_ += failed;
  slow_ += slow;
  // A count window can never hold more calls than its size: resilience4j caps the minimum there.
  const std::uint32_t minimum = params_.window() == v1::CircuitBreaker::COUNT_BASED
                                    ? std::min(params_.minimum_calls(), params_.window_size())
                                    : params_.minimum_calls();
  return evaluate(now, minimum);
}

std::optional<CircuitBreaker::Transition> CircuitBreaker::evaluate(Time now, std::uint32_t minimum) {
  if (calls_ == 0 || calls_ < minimum) return std::nullopt;
  const double failure_rate = 100.0 * failed_ / calls_;
  const double slow_rate = 100.0 * slow_ / calls_;
  const std::string of = fmt::format(" of {} call{}", calls_, calls_ == 1 ? "" : "s");
  if (failure_rate >= params_.failure_rate_threshold())
    return move(v1::BreakerState::OPEN,
                "failure rate " + rate_text(failure_rate) + " >= " + rate_text(params_.failure_rate_threshold()) + of,
                now);
  if (slow_rate >= params_.slow_call_rate_threshold())
    return move(v1::BreakerState::OPEN,
                "slow-call rate " + rate_text(slow_rate) + " >= " + rate_text(params_.slow_call_rate_threshold()) + of,
                now);
  if (state_ == v1::BreakerState::HALF_OPEN)
    return move(v1::BreakerState::CLOSED,
                "probes passed: failure rate " + rate_text(failure_rate) + ", slow " + rate_text(slow_rate) + of, now);
  return std::nullopt;
}

CircuitBreaker::Transition CircuitBreaker::move(State to, std::string why, Time now) {
  Transition transition{state_, to, std::move(why)};
  state_ = to;
  ++epoch_;
  ++transitions_;
  reset_window();
  if (to == v1::BreakerState::OPEN) {
    opened_ = now;
    half_open_at_ = now + from_millis(params_.wait_open_ms());
  }
  probes_left_ = to == v1::BreakerState::HALF_OPEN ? params_.half_open_calls() : 0;
  return transition;
}

std::optional<CircuitBreaker::Transition> CircuitBreaker::half_open(Time now) {
  if (state_ != v1::BreakerState::OPEN || now < half_open_at_) return std::nullopt;
  return move(v1::BreakerState::HALF_OPEN, "waited " + duration_text(now - opened_) + " open: letting " +
                                               std::to_string(params_.half_open_calls()) + " probe call" +
                                               (params_.half_open_calls() == 1 ? "" : "s") + " through",
              now);
}

void CircuitBreaker::snapshot(v1::BreakerState& state) const {
  state.set_target(target_);
  state.set_state(state_);
  state.set_calls(calls_);
  state.set_failed(failed_);
  state.set_slow(slow_);
  state.set_opened_ns(opened_);
  state.set_half_open_at_ns(state_ == v1::BreakerState::OPEN ? half_open_at_ : 0);
  state.set_probes_left(probes_left_);
  state.set_short_circuited(short_circuited_);
  state.set_transitions(transitions_);
  if (state_ != v1::BreakerState::CLOSED) return;
  auto add = [&](const Cell& cell) {
    auto& out = *state.add_window();
    out.set_calls(cell.calls);
    out.set_failed(cell.failed);
    out.set_slow(cell.slow);
  };
  if (params_.window() == v1::CircuitBreaker::TIME_BASED) {
    std::vector<const Cell*> seconds;
    for (const auto& cell : window_)
      if (cell.second >= 0) seconds.push_back(&cell);
    std::sort(seconds.begin(), seconds.end(), [](const Cell* a, const Cell* b) { return a->second < b->second; });
    for (const auto* cell : seconds) add(*cell);
    return;
  }
  const std::size_t filled = std::min<std::size_t>(calls_, window_.size());
  for (std::size_t k = 0; k < filled; ++k) add(window_[(next_ + window_.size() - filled + k) % window_.size()]);
}

// ---- bulkhead ----

Bulkhead::Entry Bulkhead::enter(std::int64_t key) {
  if (active_ < params_.max_concurrent()) {
    ++active_;
    return Entry::enter;
  }
  if (waiting_.size() < params_.queue_limit()) {
    waiting_.push_back(key);
    return Entry::wait;
  }
  ++refused_;
  return Entry::full;
}

std::optional<std::int64_t> Bulkhead::leave(const std::function<bool(std::int64_t)>& wanted) {
  if (active_ > 0) --active_;
  while (!waiting_.empty()) {
    const auto key = waiting_.front();
    waiting_.pop_front();
    if (!wanted(key)) continue;
    ++active_;
    return key;
  }
  return std::nullopt;
}

void Bulkhead::snapshot(v1::BulkheadState& state) const {
  state.set_target(target_);
  state.set_max_concurrent(params_.max_concurrent());
  state.set_active(active_);
  state.set_waiting(static_cast<std::uint32_t>(waiting_.size()));
  state.set_refused(refused_);
}

// ---- defaults and checks ----

void fill_defaults(v1::RetryPolicy& policy) {
  // Defaults never depend on other fields: --set changes fields after defaults are filled in.
  if (!policy.has_base_ms()) policy.set_base_ms(100);
  if (!policy.has_cap_ms()) policy.set_cap_ms(10000);
  if (!policy.has_retry_on_timeout()) policy.set_retry_on_timeout(true);
  if (policy.retry_on().empty()) {
    policy.add_retry_on(503);
    policy.add_retry_on(429);
  }
  if (policy.has_budget()) {
    auto& budget = *policy.mutable_budget();
    if (!budget.has_min_per_s()) budget.set_min_per_s(10);
    if (!budget.has_window_s()) budget.set_window_s(10);
  }
}

void fill_defaults(v1::CircuitBreaker& breaker) {
  if (!breaker.has_window_size()) breaker.set_window_size(100);  // calls or seconds, as resilience4j
  if (!breaker.has_failure_rate_threshold()) breaker.set_failure_rate_threshold(50);
  if (!breaker.has_slow_call_rate_threshold()) breaker.set_slow_call_rate_threshold(100);
  if (!breaker.has_slow_call_ms()) breaker.set_slow_call_ms(60000);
  if (!breaker.has_minimum_calls()) breaker.set_minimum_calls(100);
  if (!breaker.has_wait_open_ms()) breaker.set_wait_open_ms(60000);
  if (!breaker.has_half_open_calls()) breaker.set_half_open_calls(10);
}

namespace {

// Where a field below `base` is written.
std::string place(NodeChecks& c, const FieldPath& base, std::initializer_list<NodeChecks::Step> rest) {
  auto path = base;
  path.insert(path.end(), rest);
  return c.at(path);
}

// A duration setting: 0 to a day when set (`above_zero`: more than 0).
void check_duration(NodeChecks& c, bool has, double ms, const FieldPath& base, const char* field,
                    const std::string& prefix, bool above_zero = false) {
  c.duration(has, ms, place(c, base, {{field}}), prefix + field, above_zero);
}

}  // namespace

void check_retry(NodeChecks& c, const v1::RetryPolicy& policy, const FieldPath& base, const std::string& prefix) {
  if (policy.max_attempts() > 100)
    c.problem(place(c, base, {{"max_attempts"}}), prefix + "max_attempts", "at most 100 attempts");
  for (int i = 0; i < policy.retry_on_size(); ++i)
    if (policy.retry_on(i) < 100 || policy.retry_on(i) > 599)
      c.problem(place(c, base, {{"retry_on", i}}), prefix + "retry_on",
                "not an HTTP status: " + std::to_string(policy.retry_on(i)));
  check_duration(c, policy.has_base_ms(), policy.base_ms(), base, "base_ms", prefix);
  check_duration(c, policy.has_cap_ms(), policy.cap_ms(), base, "cap_ms", prefix);
  if (policy.has_base_ms() && policy.has_cap_ms() && policy.cap_ms() < policy.base_ms())
    c.problem(place(c, base, {{"cap_ms"}}), prefix + "cap_ms",
              "cap_ms " + fmt_number(policy.cap_ms()) + " is smaller than base_ms " + fmt_number(policy.base_ms()) +
                  ": no backoff could be that short");
  if (!policy.has_budget()) return;
  const auto& budget = policy.budget();
  if (!(budget.ratio() >= 0 && budget.ratio() <= 100))
    c.problem(place(c, base, {{"budget"}, {"ratio"}}), prefix + "budget.ratio",
              "must be 0 to 100 (0.2: retries at most 20 % of first attempts)");
  if (budget.has_min_per_s() && !(budget.min_per_s() >= 0 && budget.min_per_s() <= 1e6))
    c.problem(place(c, base, {{"budget"}, {"min_per_s"}}), prefix + "budget.min_per_s", "must be 0 to 1000000");
  if (budget.has_window_s() && !(budget.window_s() >= 0.01 && budget.window_s() <= 3600))
    c.problem(place(c, base, {{"budget"}, {"window_s"}}), prefix + "budget.window_s", "must be 0.01 to 3600 s");
}

void check_breaker(NodeChecks& c, const v1::CircuitBreaker& breaker, const FieldPath& base, const std::string& prefix) {
  const bool time_based = breaker.window() == v1::CircuitBreaker::TIME_BASED;
  if (breaker.has_window_size() && !(breaker.window_size() >= 1 && breaker.window_size() <= (time_based ? 3600u : 100000u)))
    c.problem(place(c, base, {{"window_size"}}), prefix + "window_size",
              time_based ? "must be 1 to 3600 seconds" : "must be 1 to 100000 calls");
  auto percent = [&](bool has, double value, const char* field) {
    if (has && !(value > 0 && value <= 100))
      c.problem(place(c, base, {{field}}), prefix + field, "a percentage: above 0, at most 100");
  };
  percent(breaker.has_failure_rate_threshold(), breaker.failure_rate_threshold(), "failure_rate_threshold");
  percent(breaker.has_slow_call_rate_threshold(), breaker.slow_call_rate_threshold(), "slow_call_rate_threshold");
  check_duration(c, breaker.has_slow_call_ms(), breaker.slow_call_ms(), base, "slow_call_ms", prefix, true);
  check_duration(c, breaker.has_wait_open_ms(), breaker.wait_open_ms(), base, "wait_open_ms", prefix);
  if (breaker.has_minimum_calls() && !(breaker.minimum_calls() >= 1 && breaker.minimum_calls() <= 1000000))
    c.problem(place(c, base, {{"minimum_calls"}}), prefix + "minimum_calls", "must be 1 to 1000000");
  if (breaker.has_half_open_calls() && !(breaker.half_open_calls() >= 1 && breaker.half_open_calls() <= 100000))
    c.problem(place(c, base, {{"half_open_calls"}}), prefix + "half_open_calls", "must be 1 to 100000");
}

void check_bulkhead(NodeChecks& c, const v1::Bulkhead& bulkhead, const FieldPath& base, const std::string& prefix) {
  if (bulkhead.max_concurrent() < 1 || bulkhead.max_concurrent() > 1000000)
    c.problem(place(c, base, {{"max_concurrent"}}), prefix + "max_concurrent", "must be 1 to 1000000 calls at once");
  if (bulkhead.queue_limit() > 1000000)
    c.problem(place(c, base, {{"queue_limit"}}), prefix + "queue_limit", "at most 1000000");
}

}  // namespace flowframe
