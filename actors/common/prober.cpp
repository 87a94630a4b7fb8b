#include "actors/common/prober.hpp"

#include <fmt/format.h>

namespace flowframe {

Prober::Prober(const std::vector<NodeIndex>& targets, Settings settings) : settings_(settings) {
  for (const auto target : targets) {
    v1::ProbedState probed;
    probed.set_node(target);
    probed.set_healthy(true);
    targets_.push_back(probed);
  }
}

void Prober::tick(Context& context) {
  // Probing alone does not keep the run going.
  context.schedule(settings_.interval, timer_event(kProbeTimer, true, true));
}

bool Prober::handle(const Event& event, Context& context, std::optional<std::size_t>& flipped) {
  switch (event.kind) {
    case EventKind::timer: {
      if (event.status != kProbeTimer) return false;
      for (std::size_t t = 0; t < targets_.size(); ++t) {
        Event probe;
        probe.client = context.self();
        probe.request = ++probes_;
        probe.created = context.now();
        probe.path = settings_.path;
        // By its call number: a balancer in front of the target may reuse the request's own fields.
        in_flight_[context.call(targets_[t].node(), probe, settings_.timeout)] = t;
      }
      context.decide(Outcome::delegated, kNoNode, fmt::format("probes {} targets", targets_.size()));
      tick(context);
      return true;
    }
    case EventKind::response:
    case EventKind::timeout: {
      const auto probe = in_flight_.find(event.call);
      if (probe == in_flight_.end()) return false;
      const auto t = probe->second;
      in_flight_.erase(probe);
      const bool ok = event.kind == EventKind::response && event.status >= 200 && event.status < 300;
      flipped = record(t, ok, event.kind == EventKind::timeout ? "timed out" : std::to_string(event.status), context);
      return true;
    }
    default: return false;
  }
}

std::optional<std::size_t> Prober::record(std::size_t t, bool ok, const std::string& result, Context& context) {
  if (t >= targets_.size()) return std::nullopt;
  auto& probed = targets_[t];
  probed.set_passed(ok ? probed.passed() + 1 : 0);
  probed.set_failed(ok ? 0 : probed.failed() + 1);
  probed.set_last(result);
  probed.set_last_ns(context.now());
  const bool flips = probed.healthy() ? probed.failed() >= settings_.unhealthy : probed.passed() >= settings_.healthy;
  if (flips) {
    probed.set_healthy(!probed.healthy());
    return t;
  }
  context.decide(ok ? Outcome::probe_ok : Outcome::probe_failed, probed.node(),
                 fmt::format("{} {} ({} in a row)", context.topology().spec(probed.node()).id(), result, ok ? probed.passed() : probed.failed()));
  return std::nullopt;
}

void Prober::snapshot(v1::HealthCheckerState& out) const {
  out.set_probes(probes_);
  for (const auto& probed : targets_) *out.add_targets() = probed;
}

}  // namespace flowframe
