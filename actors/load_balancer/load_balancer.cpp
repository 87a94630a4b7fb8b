// Load balancer: forwards each request to a healthy backend picked by its strategy, relays the
// response back, and answers 503 itself when no backend is healthy. With a breaker per backend,
// an open breaker takes its backend out of the pool until its probes pass.
#include "actors/common/balancer.hpp"
#include "actors/common/breakers.hpp"
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
    configure_breakers();
  }

  // A breaker per backend (breaker i guards backend i), as the parameters say; again after a live change.
  void configure_breakers() {
    const auto& params = spec_.load_balancer();
    if (!params.has_breaker()) return;
    if (!breakers_.empty()) {
      for (std::size_t i = 0; i < breakers_.size(); ++i) breakers_.at(i).reconfigure(params.breaker());
      return;
    }
    for (const auto& backend : balancer_.backends()) breakers_.add(params.breaker(), backend.node);
    breakers_.on_change([this](std::size_t i, Context&) {
      balancer_.set_tripped(i, breakers_.at(i).state() == v1::BreakerState::OPEN);
    });
    relay_.own_every_call();
  }

  void handle(const Event& event, Context& context) override {
    if (breakers_.handle(event, context)) return;
    if (event.kind == EventKind::request) {
      std::optional<std::size_t> chosen;
      std::uint32_t epoch = 0;
      while ((chosen = balancer_.pick(client_hash_[event.client], event.id, context.rng()))) {
        if (breakers_.empty()) break;
        if (const auto permit = breakers_.acquire(*chosen)) {
          epoch = *permit;
          break;
        }
        balancer_.set_tripped(*chosen, true);  // half-open with every probe out: no more until they answer
      }
      if (!chosen) {
        ++rejected_;
        const bool tripped = std::any_of(balancer_.backends().begin(), balancer_.backends().end(),
                                         [](const Balancer::Backend& b) { return b.healthy && b.tripped; });
        if (tripped) {
          std::string note;
          const auto status = breakers_.fallback(0, request_key(event), context, note);
          respond(event, status, context);
          return context.decide(Outcome::short_circuited, kNoNode,
                                "every healthy backend's breaker is open: " + note.substr(note.find(':') + 2));
        }
        context.decide(Outcome::rejected_no_backend);
        respond(event, 503, context);
        return;
      }
      ++handled_;
      const auto backend = balancer_.backends()[*chosen].node;
      balancer_.on_sent(*chosen);
      context.decide(Outcome::forwarded, backend);
      relay_.forward(event, backend, context, epoch);
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
      if (auto backend = balancer_.find(ended->backend)) {
        balancer_.on_answered(*backend, context.now() - ended->sent);
        Relay::answer(*ended, event, context);
        if (!breakers_.empty()) {
          breakers_.record(*backend, ended->tag, ended->timed_out ? 504 : event.status, ended->timed_out,
                           context.now() - ended->sent, request_key(ended->original), context);
          // Probes answered: a half-open breaker that stays half-open takes requests again.
          balancer_.set_tripped(*backend, breakers_.at(*backend).state() == v1::BreakerState::OPEN);
        }
        return;
      }
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
    if (params.has_breaker()) fill_defaults(*params.mutable_breaker());
    configure_breakers();
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
    breakers_.snapshot(state);
  }

  bool rich() const override { return !breakers_.empty(); }
  std::size_t state_size_hint() const override {
    return breakers_.empty() ? 0 : breakers_.size() * (32 + 8 * breakers_.at(0).params().window_size());
  }

 private:
  Balancer balancer_;
  Relay relay_;
  Breakers breakers_;  // empty, or one per backend in the balancer's order
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
            check_breaker(c, c.node().load_balancer().breaker(),
                          [&](const char* f) { return c.at({{"load_balancer"}, {"breaker"}, {f}}); }, "breaker.");
        },
    .settable = {"strategy", "choices", "breaker."},
};
FLOWFRAME_KIND(kLoadBalancer, make_load_balancer);

}  // namespace

}  // namespace flowframe
