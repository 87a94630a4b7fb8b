// Load balancer: forwards each request to a healthy backend picked by its strategy, relays the
// response back, and answers 503 itself when no backend is healthy. With a breaker per backend,
// an open breaker takes its backend out of the pool until its probes pass.
#include "actors/common/components.hpp"
#include "actors/common/guarded_pool.hpp"
#include "actors/common/routing.hpp"
#include "runtime/scenario/settings.hpp"

namespace flowframe {
namespace {

class LoadBalancer final : public Component {
 public:
  LoadBalancer(const v1::Node& spec, NodeIndex index, const Topology& topology)
      : Component(spec, index, topology.seed()),
        pool_(Balancer(spec.load_balancer(), Balancer::backends_for(topology.downstream(index), topology)), 0),
        client_hash_(topology.size(), 0) {
    const auto& clients = topology.clients();
    for (std::size_t i = 0; i < clients.size(); ++i)
      client_hash_[clients[i]] = stable_hash(client_ip(topology.spec(clients[i]), i));
    configure_breakers();
  }

  // A breaker per backend, as the parameters say; again after a live change.
  void configure_breakers() {
    if (!spec_.load_balancer().has_breaker()) return;
    pool_.guard(spec_.load_balancer().breaker());
    relay_.own_every_call();  // to see every backend's answer
  }

  void handle(const Event& event, Context& context) override {
    if (pool_.handle(event, context)) return;
    auto& balancer = pool_.balancer();
    if (event.kind == EventKind::request) {
      const auto chosen = pool_.pick(client_hash_[event.client], event.id, context.rng());
      if (!chosen) {
        ++rejected_;
        if (pool_.tripped()) {
          std::string note;
          const auto status = pool_.fallback(request_key(event), note);
          respond(event, status, context);
          return context.decide(Outcome::short_circuited, kNoNode, note);
        }
        context.decide(Outcome::rejected_no_backend);
        respond(event, 503, context);
        return;
      }
      ++handled_;
      const auto backend = balancer.backends()[chosen->backend].node;
      balancer.on_sent(chosen->backend);
      context.decide(Outcome::forwarded, backend);
      relay_.forward(event, backend, context, chosen->epoch);
      return;
    }
    if (event.kind == EventKind::message && event.payload && event.payload->op() == v1::Payload::HEALTH) {
      const auto backend = balancer.find(event.payload->node());
      if (!backend) return context.decide(Outcome::none, kNoNode, "a health notice about a node it does not balance");
      balancer.set_healthy(*backend, event.payload->healthy());
      return context.decide(Outcome::health_changed, event.payload->node(),
                            context.topology().spec(event.payload->node()).id() +
                                (event.payload->healthy() ? " is up: back in the pool" : " is down: out of the pool"));
    }
    if (auto ended = relay_.end(event)) {
      Relay::answer(*ended, event, context);
      return pool_.call_ended(*ended, event, context);
    }
    if (event.kind == EventKind::response) {
      if (auto backend = balancer.find(event.src)) balancer.on_answered(*backend, context.now() - event.arg);
      context.decide(Outcome::forwarded, event.via_empty() ? kNoNode : event.via_top());
      send_back(event, context);
    }
  }

  std::string apply(ControlAction& action, Context&) override {
    if (action.type == ControlAction::Type::health) {
      const auto backend = pool_.balancer().find(action.subject);
      if (!backend) return "not a backend of this balancer";
      action.previous = pool_.balancer().backends()[*backend].healthy ? "up" : "down";
      pool_.balancer().set_healthy(*backend, action.healthy);
      return "";
    }
    if (action.type != ControlAction::Type::set) return "a load balancer cannot fail or restore";
    auto& params = *spec_.mutable_load_balancer();
    action.previous = read_setting(params, action.field);
    if (auto error = apply_setting(params, action.field, action.value); !error.empty()) return error;
    pool_.balancer().set_strategy(params.strategy());
    pool_.balancer().set_choices(params.choices());
    find_kind(v1::Node::LOAD_BALANCER)->defaults(spec_);
    configure_breakers();
    return "";
  }

  bool takes_ideal_health() const override { return !spec_.load_balancer().probed_health(); }

  std::uint32_t load() const override { return pool_.balancer().outstanding(); }

  void snapshot(v1::NodeState& state) const override {
    state.set_load(load());
    state.set_handled(handled_);
    state.set_rejected(rejected_);
    auto& lb = *state.mutable_load_balancer();
    lb.set_strategy(pool_.balancer().strategy());
    pool_.balancer().snapshot(*lb.mutable_backends());
    pool_.breakers().snapshot(state);
  }

  bool rich() const override { return pool_.guarded(); }
  std::size_t state_size_hint() const override {
    return pool_.breakers().size() * 32 + 8 * pool_.breakers().cells();
  }

 private:
  GuardedPool pool_;
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
          if (balancer.has_breaker()) fill_defaults(*balancer.mutable_breaker());
        },
    .check =
        [](NodeChecks& c) {
          if (c.node().load_balancer().has_breaker())
            check_breaker(c, c.node().load_balancer().breaker(), {{"load_balancer"}, {"breaker"}}, "breaker.");
        },
    .settable = {"strategy", "choices", "breaker."},
};
FLOWFRAME_KIND(kLoadBalancer, make_load_balancer);

}  // namespace

}  // namespace flowframe
