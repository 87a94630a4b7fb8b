// Load balancer: forwards each request to a healthy backend picked by its strategy, relays the
// response back, and answers 503 itself when no backend is healthy.
#include "actors/common/balancer.hpp"
#include "actors/common/components.hpp"
#include "actors/common/routing.hpp"
#include "runtime/scenario/settings.hpp"

namespace flowframe {
namespace {

class LoadBalancer final : public Component {
 public:
  LoadBalancer(const v1::Node& spec, NodeIndex index, const Topology& topology)
      : Component(spec, index, topology.seed()),
        balancer_(spec.load_balancer(), Balancer::backends_for(topology.downstream(index), topology)),
        client_hash_(topology.size(), 0) {
    const auto& clients = topology.clients();
    for (std::size_t i = 0; i < clients.size(); ++i)
      client_hash_[clients[i]] = stable_hash(client_ip(topology.spec(clients[i]), i));
  }

  void handle(const Event& event, Context& context) override {
    if (event.kind == EventKind::request) {
      const auto chosen = balancer_.pick(client_hash_[event.client], event.id, context.rng());
      if (!chosen) {
        ++rejected_;
        context.decide(Outcome::rejected_no_backend);
        respond(event, 503, context);
        return;
      }
      ++handled_;
      const auto backend = balancer_.backends()[*chosen].node;
      balancer_.on_sent(*chosen);
      context.decide(Outcome::forwarded, backend);
      relay_.forward(event, backend, context);
      return;
    }
    if (event.kind == EventKind::message && event.payload && event.payload->op() == v1::Payload::HEALTH) {
      const auto backend = balancer_.find(event.payload->node());
      if (!backend) return context.decide(Outcome::none, kNoNode, "a health notice about a node it does not balance");
      balancer_.set_healthy(*backend, event.payload->healthy());
      return context.decide(Outcome::health_changed, event.payload->node(),
                            context.topology().spec(event.payload->node()).id() +
                                (event.payload->healthy() ? " is up: back in the pool" : " is down: out of the pool"));
    }
    if (auto ended = relay_.end(event)) {
      if (auto backend = balancer_.find(ended->backend)) balancer_.on_answered(*backend, context.now() - ended->sent);
      return Relay::answer(*ended, event, context);
    }
    if (event.kind == EventKind::response) {
      if (auto backend = balancer_.find(event.src)) balancer_.on_answered(*backend, context.now() - event.arg);
      context.decide(Outcome::forwarded, event.via_empty() ? kNoNode : event.via_top());
      send_back(event, context);
    }
  }

  std::string apply(ControlAction& action, Context&) override {
    if (action.type == ControlAction::Type::health) {
      const auto backend = balancer_.find(action.subject);
      if (!backend) return "not a backend of this balancer";
      action.previous = balancer_.backends()[*backend].healthy ? "up" : "down";
      balancer_.set_healthy(*backend, action.healthy);
      return "";
    }
    if (action.type != ControlAction::Type::set) return "a load balancer cannot fail or restore";
    auto& params = *spec_.mutable_load_balancer();
    action.previous = read_setting(params, action.field);
    if (auto error = apply_setting(params, action.field, action.value); !error.empty()) return error;
    balancer_.set_strategy(params.strategy());
    balancer_.set_choices(params.choices());
    return "";
  }

  bool takes_ideal_health() const override { return !spec_.load_balancer().probed_health(); }

  std::uint32_t load() const override { return balancer_.outstanding(); }

  void snapshot(v1::NodeState& state) const override {
    state.set_load(load());
    state.set_handled(handled_);
    state.set_rejected(rejected_);
    auto& lb = *state.mutable_load_balancer();
    lb.set_strategy(balancer_.strategy());
    balancer_.snapshot(*lb.mutable_backends());
  }

 private:
  Balancer balancer_;
  Relay relay_;
  std::vector<std::uint64_t> client_hash_;
  std::uint64_t handled_ = 0;
  std::uint64_t rejected_ = 0;
};

}  // namespace

std::unique_ptr<Component> make_load_balancer(const v1::Node& spec, NodeIndex index, const Topology& topology) {
  return std::make_unique<LoadBalancer>(spec, index, topology);
}

namespace {

const KindDescription kLoadBalancer{
    .kind = v1::Node::LOAD_BALANCER,
    .name = "load_balancer",
    .defaults =
        [](v1::Node& node) {
          auto& balancer = *node.mutable_load_balancer();
          if (!balancer.has_choices()) balancer.set_choices(2);
          if (!balancer.has_virtual_nodes()) balancer.set_virtual_nodes(100);
        },
    .settable = {"strategy", "choices"},
};
FLOWFRAME_KIND(kLoadBalancer, make_load_balancer);

}  // namespace

}  // namespace flowframe
