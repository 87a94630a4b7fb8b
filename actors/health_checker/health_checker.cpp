// Health checker: probes its targets every interval with a real request and a deadline, and
// tells the balancers it serves when a target crosses a threshold of failed or good probes in a
// row, with a one-way message. Unlike the ideal check (balancers learn at once), it takes time to
// notice: the requests sent to a dead server meanwhile fail, and a GC pause looks like a crash.
#include <fmt/format.h>

#include "actors/common/components.hpp"
#include "actors/common/prober.hpp"
#include "actors/common/routing.hpp"

namespace flowframe {
namespace {

class HealthChecker final : public Component {
 public:
  HealthChecker(const v1::Node& spec, NodeIndex index, const Topology& topology)
      : Component(spec, index, topology.seed()),
        prober_(topology.resolve(spec.health_checker().targets()),
                Prober::Settings{from_millis(spec.health_checker().interval_ms()), from_millis(spec.health_checker().timeout_ms()),
                                 spec.health_checker().unhealthy_threshold(), spec.health_checker().healthy_threshold(),
                                 topology.path_index(probe_path(spec))}),
        notify_(topology.resolve(spec.health_checker().notify())),
        path_(topology.path_index(probe_path(spec))) {}

  static std::string probe_path(const v1::Node& spec) {
    return "GET " + (spec.health_checker().path().empty() ? std::string("/health") : spec.health_checker().path());
  }

  void start(Context& context) override { prober_.start(context); }

  // A target that crossed a threshold: every balancer it serves is told, with a one-way message.
  void handle(const Event& event, Context& context) override {
    if (event.kind == EventKind::request)
      return refuse_request(event, 501, Outcome::no_route, "501 a health checker sends probes, it serves no requests", context);
    std::optional<std::size_t> flipped;
    if (!prober_.handle(event, context, flipped) || !flipped) return;
    const auto& probed = prober_.targets()[*flipped];
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
    const bool ok = probed.healthy();
    context.decide(Outcome::health_changed, probed.node(),
                   fmt::format("{} is {} after {} {} probes: told {} node{}", context.topology().spec(probed.node()).id(),
                               ok ? "up" : "DOWN", ok ? probed.passed() : probed.failed(), ok ? "good" : "failed", notify_.size(),
                               notify_.size() == 1 ? "" : "s"));
  }

  std::string apply(ControlAction& action, Context&) override {
    return "a health checker has no setting '" + action.field + "' to change during a run";
  }

  bool rich() const override { return true; }
  std::size_t state_size_hint() const override { return 16 + prober_.targets().size() * 24; }

  void snapshot(v1::NodeState& state) const override {
    state.set_handled(prober_.probes());
    prober_.snapshot(*state.mutable_health_checker());
  }

 private:
  Prober prober_;
  std::vector<NodeIndex> notify_;
  std::uint32_t path_ = 0;
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
