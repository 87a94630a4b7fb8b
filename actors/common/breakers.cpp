#include "actors/common/breakers.hpp"

#include "runtime/engine/topology.hpp"

namespace flowframe {

std::size_t Breakers::add(const v1::CircuitBreaker& params, NodeIndex target, std::size_t group) {
  breakers_.push_back(Guarded{CircuitBreaker(params, target), group == SIZE_MAX ? breakers_.size() : group});
  return breakers_.size() - 1;
}

std::string Breakers::describe(std::size_t i, const Context& context) const {
  const auto& breaker = breakers_[i].breaker;
  return "breaker to " + context.topology().spec(breaker.target()).id() + " " + v1::BreakerState::State_Name(breaker.state());
}

void Breakers::record(std::size_t i, std::uint32_t epoch, std::uint16_t status, bool timed_out, Time duration,
                      std::uint64_t key, Context& context) {
  auto& guarded = breakers_[i];
  const bool failed = timed_out || status >= 500;
  if (!failed && status < 300 && guarded.breaker.params().fallback() == v1::CircuitBreaker::CACHED)
    answered_[guarded.group].insert(key);
  if (auto transition = guarded.breaker.record(epoch, failed, duration, context.now())) changed(i, *transition, context);
}

void Breakers::changed(std::size_t i, const CircuitBreaker::Transition& transition, Context& context) {
  const auto& breaker = breakers_[i].breaker;
  notices_.push_back(std::string("breaker to ") + context.topology().spec(breaker.target()).id() + ": " +
                     v1::BreakerState::State_Name(transition.from) + " -> " + v1::BreakerState::State_Name(transition.to) + " (" +
                     transition.why + ")");
  Event notice;
  notice.kind = EventKind::timer;
  notice.status = kBreakerNotice;
  notice.arg = static_cast<std::int64_t>((std::uint64_t{tag_} << 32) | i);
  context.schedule(1, notice);
  if (transition.to == v1::BreakerState::OPEN) {
    Event wake = notice;
    wake.status = kBreakerTimer;
    wake.background = true;  // waiting to probe does not keep a run going that has nothing else to do
    context.schedule(breaker.half_open_at() - context.now(), wake);
  }
}

std::uint16_t Breakers::fallback(std::size_t i, std::uint64_t key, std::string& how) const {
  const auto& guarded = breakers_[i];
  switch (guarded.breaker.params().fallback()) {
    case v1::CircuitBreaker::DEFAULT:
      how = "fallback 203 with a default answer";
      return 203;
    case v1::CircuitBreaker::CACHED: {
      const auto known = answered_.find(guarded.group);
      if (known != answered_.end() && known->second.count(key)) {
        how = "fallback 203 with the last good answer";
        return 203;
      }
      how = "nothing cached for it, fail fast 503";
      return 503;
    }
    default:
      how = "fail fast 503";
      return 503;
  }
}

std::optional<std::size_t> Breakers::handle_timer(const Event& event, Context& context) {
  if (static_cast<std::uint64_t>(event.arg) >> 32 != tag_) return std::nullopt;
  const auto i = static_cast<std::size_t>(event.arg & 0xFFFFFFFF);
  auto& breaker = breakers_.at(i).breaker;
  if (event.status == kBreakerNotice) {
    if (!notices_.empty()) {
      context.decide(Outcome::breaker_changed, breaker.target(), notices_.front());
      notices_.pop_front();
    }
    return i;
  }
  const auto transition = breaker.half_open(context.now());
  if (!transition) {
    context.decide(Outcome::none, breaker.target(), "breaker timer of an earlier opening; ignored");
    return i;
  }
  context.decide(Outcome::breaker_changed, breaker.target(),
                 std::string("breaker to ") + context.topology().spec(breaker.target()).id() + ": OPEN -> HALF_OPEN (" +
                     transition->why + ")");
  return i;
}

void Breakers::snapshot(v1::NodeState& state) const {
  for (const auto& guarded : breakers_) guarded.breaker.snapshot(*state.add_breakers());
}

Retrier::Decision retry_after_failure(Retrier& retrier, const Event& ended, std::uint16_t status, std::uint32_t& attempt,
                                      Time& delay, std::int64_t key, Context& context) {
  const bool timed_out = ended.kind == EventKind::timeout;
  if (!retrier.enabled() || (!timed_out && status < 400)) return {};
  const Time retry_after = ended.payload && !timed_out ? ended.payload->retry_after_ns() : 0;
  auto decision = retrier.after_failure(attempt, status, timed_out, retry_after, delay, context.now(), context.rng());
  if (!decision.retry) return decision;
  ++attempt;
  delay = decision.delay;
  Event wake;
  wake.kind = EventKind::timer;
  wake.status = kRetryTimer;
  wake.arg = key;
  wake.client = ended.client;  // whose request it is, for the frame
  wake.request = ended.request;
  wake.path = ended.path;
  wake.id = ended.id;
  context.schedule(decision.delay, wake);
  return decision;
}

}  // namespace flowframe
