// Health checker: probes its targets every interval with a real request and a deadline, and
// tells the balancers it serves when a target crosses a threshold of failed or good probes in a
// row, with a one-way message. Unlike the ideal check (balancers learn at once), it takes time to
// notice: the requests sent to a dead server meanwhile fail, and a GC pause looks like a crash.
#include <fmt/format.h>

#include "actors/common/components.hpp"
#include "actors/common/routing.hpp"

namespace flowframe {
namespace {

class HealthChecker final : public Component {
 public:
  HealthChecker(const v1::Node& spec, NodeIndex index, const Topology& topology) : Component(spec, index, topology.seed()) {
    const auto& params = spec.health_checker();
    for (NodeIndex target : topology.resolve(params.targets())) {
      v1::ProbedState probed;
      probed.set_node(target);
      probed.set_healthy(true);
      targets_.push_back(probed);
    }
    notify_ = topology.resolve(params.notify());
    path_ = topology.path_index(probe_path(spec));
    interval_ = from_millis(params.interval_ms());
    timeout_ = from_millis(params.timeout_ms());
  }

  static std::string probe_path(const v1::Node& spec) {
    return "GET " + (spec.health_checker().path().empty() ? std::string("/health") : spec.health_checker().path());
  }

  void start(Context& context) override { tick(context, interval_); }

  void handle(const Event& event, Context& context) override {
    switch (event.kind) {
      case EventKind::timer: {
        for (std::size_t t = 0; t < targets_.size(); ++t) {
          Event probe;
          probe.client = index();
          probe.request = ++probes_;
          probe.created = context.now();
          probe.path = path_;
          probe.arg = static_cast<std::int64_t>(t);
          context.call(targets_[t].node(), probe, timeout_);
        }
        context.decide(Outcome::delegated, kNoNode, fmt::format("probes {} targets", targets_.size()));
        return tick(context, interval_);
      }
      case EventKind::response: {
        const bool ok = event.status >= 200 && event.status < 300;
        return record(static_cast<std::size_t>(event.arg), ok, std::to_string(event.status), context);
      }
      case EventKind::timeout:
        return record(static_cast<std::size_t>(event.arg), false, "timed out", context);
      default:
        return;
    }
  }

  std::string apply(ControlAction& action, Context&) override {
    return "a health checker has no setting '" + action.field + "' to change during a run";
  }

  bool rich() const override { return true; }
  std::size_t state_size_hint() const override { return 16 + targets_.size() * 24; }

  void snapshot(v1::NodeState& state) const override {
    state.set_handled(probes_);
    auto& out = *state.mutable_health_checker();
    out.set_probes(probes_);
    for (const auto& probed : targets_) *out.add_targets() = probed;
  }

 private:
  void tick(Context& context, Time delay) {
    Event tick;
    tick.kind = EventKind::timer;
    tick.silent = true;
    tick.background = true;  // probing alone does not keep the run going
    context.schedule(delay, tick);
  }

  void record(std::size_t t, bool ok, const std::string& result, Context& context) {
    if (t >= targets_.size()) return;
    auto& probed = targets_[t];
    const auto& params = spec_.health_checker();
    probed.set_passed(ok ? probed.passed() + 1 : 0);
    probed.set_failed(ok ? 0 : probed.failed() + 1);
    probed.set_last(result);
    probed.set_last_ns(context.now());
    const auto& name = context.topology().spec(probed.node()).id();
    const bool flips = probed.healthy() ? probed.failed() >= params.unhealthy_threshold()
                                        : probed.passed() >= params.healthy_threshold();
    if (!flips) {
      return context.decide(ok ? Outcome::probe_ok : Outcome::probe_failed, probed.node(),
                            fmt::format("{} {} ({} in a row)", name, result, ok ? probed.passed() : probed.failed()));
    }
    probed.set_healthy(!probed.healthy());
    for (NodeIndex balancer : notify_) {
      Event notice;
      auto payload = std::make_shared<v1::Payload>();
      payload->set_op(v1::Payload::HEALTH);
      payload->set_node(probed.node());
      payload->set_healthy(probed.healthy());
      notice.payload = std::move(payload);
      notice.client = index();
      notice.path = path_;
      context.notify(balancer, notice);
    }
    context.decide(Outcome::health_changed, probed.node(),
                   fmt::format("{} is {} after {} {} probes: told {} node{}", name, probed.healthy() ? "up" : "DOWN",
                               ok ? probed.passed() : probed.failed(), ok ? "good" : "failed", notify_.size(),
                               notify_.size() == 1 ? "" : "s"));
  }

  std::vector<v1::ProbedState> targets_;
  std::vector<NodeIndex> notify_;
  std::uint32_t path_ = 0;
  Time interval_ = 0;
  Time timeout_ = 0;
  std::uint64_t probes_ = 0;
};

std::unique_ptr<Component> make_health_checker(const v1::Node& spec, NodeIndex index, const Topology& topology) {
  return std::make_unique<HealthChecker>(spec, index, topology);
}

void check_health_checker(NodeChecks& c) {
  const auto& node = c.node();
  const auto& params = node.health_checker();
  for (const auto& [field, id] : {std::pair{"targets", params.targets()}, std::pair{"notify", params.notify()}}) {
    const auto where = c.at({{"health_checker"}, {field}});
    const auto name = std::string("health_checker.") + field;
    if (!c.known(id)) c.problem(where, name, id.empty() ? "missing: name a node or group" : c.unknown(id));
    else if (!c.linked(node.id(), id)) c.problem(where, name, "'" + node.id() + "' has no link to '" + id + "'");
  }
  c.duration(params.has_interval_ms(), params.interval_ms(), c.at({{"health_checker"}, {"interval_ms"}}), "health_checker.interval_ms", true);
  c.duration(params.has_timeout_ms(), params.timeout_ms(), c.at({{"health_checker"}, {"timeout_ms"}}), "health_checker.timeout_ms", true);
  if ((params.has_unhealthy_threshold() && params.unhealthy_threshold() == 0) ||
      (params.has_healthy_threshold() && params.healthy_threshold() == 0))
    c.problem(c.at({{"health_checker"}}), "health_checker.unhealthy_threshold", "thresholds must be >= 1");
  if (!params.path().empty() && params.path()[0] != '/')
    c.problem(c.at({{"health_checker"}, {"path"}}), "health_checker.path", "a path starts with '/'");
}

const KindDescription kHealthChecker{
    .kind = v1::Node::HEALTH_CHECKER,
    .name = "health_checker",
    .defaults =
        [](v1::Node& node) {
          auto& params = *node.mutable_health_checker();
          if (!params.has_interval_ms()) params.set_interval_ms(500);
          if (!params.has_timeout_ms()) params.set_timeout_ms(100);
          if (!params.has_unhealthy_threshold()) params.set_unhealthy_threshold(2);
          if (!params.has_healthy_threshold()) params.set_healthy_threshold(2);
        },
    .check = check_health_checker,
    .paths = [](const v1::Node& node) { return std::vector<std::string>{HealthChecker::probe_path(node)}; },
};
FLOWFRAME_KIND(kHealthChecker, make_health_checker);

}  // namespace
}  // namespace flowframe
