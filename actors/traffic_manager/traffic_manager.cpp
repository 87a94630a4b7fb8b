// Traffic manager (DNS-based global load balancing): answers each client's lookup with one of its
// endpoints and a TTL, leaving out endpoints its probes found down. LATENCY answers the endpoint with
// the shortest round trip from the client's region; GEO the one in the client's region, else the
// first in the order written; FAILOVER the first in that order for everyone. Clients keep the answer
// for the TTL, so they keep going to an endpoint that died until it expires.
#include <fmt/format.h>

#include "actors/common/components.hpp"
#include "actors/common/prober.hpp"
#include "actors/common/routing.hpp"
#include "runtime/scenario/regions.hpp"

namespace flowframe {
namespace {

constexpr const char* kProbePath = "GET /health";

class TrafficManager final : public Component {
 public:
  TrafficManager(const v1::Node& spec, NodeIndex index, const Topology& topology)
      : Component(spec, index, topology.seed()),
        prober_(endpoints_of(spec, topology),
                Prober::Settings{from_millis(spec.traffic_manager().probe_interval_ms()), from_millis(spec.traffic_manager().probe_timeout_ms()),
                                 spec.traffic_manager().unhealthy_threshold(), spec.traffic_manager().healthy_threshold(),
                                 topology.path_index(kProbePath)}),
        lookup_time_(spec.traffic_manager().lookup_time()),
        answered_(prober_.targets().size(), 0) {}

  static std::vector<NodeIndex> endpoints_of(const v1::Node& spec, const Topology& topology) {
    std::vector<NodeIndex> endpoints;
    for (const auto& id : spec.traffic_manager().endpoints()) endpoints.push_back(topology.index_of(id));
    return endpoints;
  }

  void start(Context& context) override { prober_.start(context); }

  void handle(const Event& event, Context& context) override {
    if (event.kind == EventKind::request && event.payload && event.payload->op() == v1::Payload::RESOLVE) return lookup(event, context);
    if (event.kind == EventKind::request)
      return refuse_request(event, 501, Outcome::no_route, "501 a traffic manager answers only lookups", context);
    std::optional<std::size_t> flipped;
    if (!prober_.handle(event, context, flipped) || !flipped) return;
    const auto& probed = prober_.targets()[*flipped];
    const bool up = probed.healthy();
    context.decide(Outcome::health_changed, probed.node(),
                   fmt::format("{} is {} after {} {} probes: {} its answers from now on (clients that have an answer keep it "
                               "for up to {})",
                               context.topology().spec(probed.node()).id(), up ? "up" : "DOWN", up ? probed.passed() : probed.failed(),
                               up ? "good" : "failed", up ? "back in" : "left out of", duration_text(ttl())));
  }

  // The TTL may change during a run (lowered before a planned move); the policy too.
  std::string apply(ControlAction& action, Context&) override {
    auto& params = *spec_.mutable_traffic_manager();
    action.previous = read_setting(params, action.field);
    return apply_setting(params, action.field, action.value);
  }

  bool rich() const override { return true; }
  std::size_t state_size_hint() const override { return 24 + prober_.targets().size() * 32; }

  void snapshot(v1::NodeState& state) const override {
    state.set_handled(lookups_);
    prober_.snapshot(*state.mutable_health_checker());
    auto& out = *state.mutable_traffic_manager();
    out.set_lookups(lookups_);
    for (const auto count : answered_) out.add_answered(count);
  }

 private:
  Time ttl() const { return from_seconds(spec_.traffic_manager().ttl_s()); }

  void lookup(const Event& request, Context& context) {
    ++lookups_;
    const auto& params = spec_.traffic_manager();
    const auto& topology = context.topology();
    const auto& region = topology.spec(request.client).region();
    const auto& endpoints = prober_.targets();
    // Every endpoint down: answer as if all were up (DNS answers something).
    const bool any_up = std::any_of(endpoints.begin(), endpoints.end(), [](const v1::ProbedState& e) { return e.healthy(); });
    std::optional<std::size_t> chosen;
    double best = 0;
    for (std::size_t e = 0; e < endpoints.size(); ++e) {
      if (any_up && !endpoints[e].healthy()) continue;
      const auto& where = topology.spec(endpoints[e].node()).region();
      double cost = static_cast<double>(e);  // FAILOVER: the order written
      if (params.policy() == v1::TrafficManagerParams::LATENCY)
        cost = region_rtt_ms(topology.scenario(), region, where).value_or(1e9);
      else if (params.policy() == v1::TrafficManagerParams::GEO)
        cost = where == region && !region.empty() ? -1.0 : static_cast<double>(e);
      if (!chosen || cost < best) chosen = e, best = cost;
    }
    auto answer = std::make_shared<v1::Payload>();
    answer->set_op(v1::Payload::RESOLVE);
    if (!chosen) {
      respond(request, 503, context, context.work(lookup_time_), answer);
      return context.decide(Outcome::rejected_down, kNoNode, "503 no endpoint to answer");
    }
    ++answered_[*chosen];
    const auto endpoint = endpoints[*chosen].node();
    answer->set_node(endpoint);
    answer->set_ttl_ns(ttl());
    respond(request, 200, context, context.work(lookup_time_), answer);
    context.decide(Outcome::served, endpoint,
                   fmt::format("{} ({}) → {} ({}){}; ttl {}", topology.spec(request.client).id(), region.empty() ? "no region" : region,
                               topology.spec(endpoint).id(), topology.spec(endpoint).region(), any_up ? "" : ", though every endpoint is down",
                               duration_text(ttl())));
  }

  Prober prober_;
  Sampler lookup_time_;
  std::vector<std::uint64_t> answered_;  // by endpoint
  std::uint64_t lookups_ = 0;
};

}  // namespace

std::unique_ptr<Component> make_traffic_manager(const v1::Node& spec, NodeIndex index, const Topology& topology) {
  return std::make_unique<TrafficManager>(spec, index, topology);
}

namespace {

void check_traffic_manager(NodeChecks& c) {
  const auto& node = c.node();
  const auto& params = node.traffic_manager();
  if (params.endpoints().empty()) c.problem(c.at({{"traffic_manager"}}), "traffic_manager.endpoints", "missing: the endpoints it answers with");
  for (int i = 0; i < params.endpoints_size(); ++i) {
    const auto& id = params.endpoints(i);
    const auto at = c.at({{"traffic_manager"}, {"endpoints", i}});
    const auto* endpoint = c.find(id);
    if (!endpoint) c.problem(at, "traffic_manager.endpoints", c.unknown(id));
    else if (endpoint->replicas() > 0) c.problem(at, "traffic_manager.endpoints", "'" + id + "' is a replicated group: name one node");
    else if (!c.linked(node.id(), id)) c.problem(at, "traffic_manager.endpoints", "'" + node.id() + "' has no link to '" + id + "' (to probe it)");
  }
  const auto at = [&](const char* field) { return c.at({{"traffic_manager"}, {field}}); };
  if (params.has_ttl_s() && !(params.ttl_s() >= 0 && params.ttl_s() <= kDayMs / 1000))
    c.problem(at("ttl_s"), "traffic_manager.ttl_s", "must be from 0 to at most a day (86400 s)");
  c.duration(params.has_probe_interval_ms(), params.probe_interval_ms(), at("probe_interval_ms"), "traffic_manager.probe_interval_ms", true);
  c.duration(params.has_probe_timeout_ms(), params.probe_timeout_ms(), at("probe_timeout_ms"), "traffic_manager.probe_timeout_ms", true);
  if ((params.has_unhealthy_threshold() && params.unhealthy_threshold() == 0) || (params.has_healthy_threshold() && params.healthy_threshold() == 0))
    c.problem(c.at({{"traffic_manager"}}), "traffic_manager.unhealthy_threshold", "thresholds must be >= 1");
  check_optional_distribution(c, params.has_lookup_time(), params.lookup_time(), "traffic_manager", "lookup_time");
}

const KindDescription kTrafficManager{
    .kind = v1::Node::TRAFFIC_MANAGER,
    .name = "traffic_manager",
    .defaults =
        [](v1::Node& node) {
          auto& params = *node.mutable_traffic_manager();
          if (!params.has_ttl_s()) params.set_ttl_s(30);
          if (!params.has_probe_interval_ms()) params.set_probe_interval_ms(1000);
          if (!params.has_probe_timeout_ms()) params.set_probe_timeout_ms(500);
          if (!params.has_unhealthy_threshold()) params.set_unhealthy_threshold(3);
          if (!params.has_healthy_threshold()) params.set_healthy_threshold(2);
          if (!params.has_lookup_time()) *params.mutable_lookup_time() = constant_ms(1);
        },
    .example = [](v1::Node& node) { node.mutable_traffic_manager()->add_endpoints("lb"); },
    .check = check_traffic_manager,
    .paths = [](const v1::Node&) { return std::vector<std::string>{kProbePath}; },
    .settable = {"ttl_s", "policy"},
    .metrics =
        [](const v1::NodeState& state, Time, nlohmann::ordered_json& node) {
          node["lookups"] = state.traffic_manager().lookups();
          std::uint64_t down = 0;
          for (const auto& target : state.health_checker().targets()) down += !target.healthy();
          node["endpoints_down"] = down;
        },
    .detail =
        [](const nlohmann::ordered_json& node, std::vector<std::string>& parts) {
          parts.push_back(fmt::format("{} lookups, {} endpoints down at the end", node["lookups"].get<std::uint64_t>(),
                                      node["endpoints_down"].get<std::uint64_t>()));
        },
};
FLOWFRAME_KIND(kTrafficManager, make_traffic_manager);

}  // namespace
}  // namespace flowframe
