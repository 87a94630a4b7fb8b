// Load balancer: forwards each request to a healthy backend picked by its strategy, relays the
// response back, and answers 503 itself when no backend is healthy. With a breaker per backend,
// an open breaker takes its backend out of the pool until its probes pass.
#include <algorithm>
#include <fmt/format.h>

#include <unordered_map>

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
        retrier_(spec.load_balancer().retry()) {
    const auto& clients = topology.clients();
    for (std::size_t i = 0; i < clients.size(); ++i)
      client_hash_.emplace_back(clients[i], stable_hash(client_ip(topology.spec(clients[i]), i)));
    std::sort(client_hash_.begin(), client_hash_.end());
    configure_breakers();
  }

  // A breaker per backend, as the parameters say; again after a live change.
  void configure_breakers() {
    retrier_.reconfigure(spec_.load_balancer().retry());
    if (retrier_.enabled()) relay_.own_every_call();  // it answers only when no retry follows
    if (!spec_.load_balancer().has_breaker()) return;
    pool_.guard(spec_.load_balancer().breaker());
    relay_.own_every_call();  // to see every backend's answer
  }

  // Forwards `request` to a backend the pool picks: a first attempt, or a retry (attempt > 1) that
  // avoids `avoid` when another backend can take it. Returns false when no backend can (the request
  // is answered then).
  bool forward(const Event& request, std::uint32_t attempt, NodeIndex avoid, Context& context) {
    auto& balancer = pool_.balancer();
    auto chosen = pool_.pick(client_hash(request.client), request.id, context.rng());
    if (chosen && balancer.backends()[chosen->backend].node == avoid && balancer.available() > 1) {
      pool_.give_back(*chosen);
      chosen = pool_.pick_other(chosen->backend, client_hash(request.client), request.id, context.rng());
    }
    if (!chosen) {
      if (attempt == 1) ++rejected_;  // a retry's request was counted when it was first forwarded
      else retrier_.retry_not_sent();
      if (pool_.tripped()) {
        std::string fallback;
        const auto status = pool_.fallback(request_key(request), fallback);
        respond(request, status, context);
        context.decide(Outcome::short_circuited, kNoNode, fallback);
        return false;
      }
      context.decide(Outcome::rejected_no_backend);
      respond(request, 503, context);
      return false;
    }
    const auto backend = balancer.backends()[chosen->backend].node;
    balancer.on_sent(chosen->backend);
    std::string note;
    if (attempt > 1)
      note = fmt::format("{} (attempt {} of {})",
                         backend == avoid ? "retries on " + context.topology().spec(backend).id() +
                                                " again: no other backend can take it"
                                          : std::string("retries on another backend"),
                         attempt, retrier_.max_attempts());
    context.decide(Outcome::forwarded, backend, note);
    relay_.forward(request, backend, context, chosen->epoch);
    return true;
  }

  void handle(const Event& event, Context& context) override {
    if (pool_.handle(event, context)) return;
    auto& balancer = pool_.balancer();
    if (event.kind == EventKind::request) {
      if (retrier_.enabled()) retrier_.on_first_attempt(context.now());
      if (forward(event, 1, kNoNode, context)) ++handled_;
      return;
    }
    if (event.kind == EventKind::timer && event.status == kRetryTimer) {
      const auto found = retrying_.find(static_cast<std::uint64_t>(event.arg));
      if (found == retrying_.end()) return;
      const auto& retry = found->second;
      if (!forward(retry.original, retry.attempt, retry.failed_on, context)) retrying_.erase(found);
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
      pool_.call_ended(*ended, event, context);
      if (retrier_.enabled() && retry(*ended, event, context)) return;
      retrying_.erase(retry_key(ended->original));
      return Relay::answer(*ended, event, context);
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
    if (retrier_.enabled()) retrier_.snapshot(*state.mutable_retries());
  }

  bool rich() const override { return pool_.guarded() || retrier_.enabled(); }
  std::size_t state_size_hint() const override {
    return pool_.breakers().size() * 32 + 8 * pool_.breakers().cells();
  }

 private:
  // A forward that failed, waiting to be retried on another backend.
  struct Retrying {
    Event original;
    std::uint32_t attempt = 1;
    Time delay = 0;
    NodeIndex failed_on = kNoNode;
  };
  static std::uint64_t retry_key(const Event& request) { return (std::uint64_t{request.client} << 40) | request.request; }

  // A forward ended: retried when it failed in a way the policy retries and attempts are left.
  bool retry(const Relay::Ended& ended, const Event& answer, Context& context) {
    const auto key = retry_key(ended.original);
    auto& retrying = retrying_.try_emplace(key, Retrying{ended.original}).first->second;
    Event failure = ended.timed_out ? ended.original : answer;  // what the retry step reads
    if (ended.timed_out) failure.kind = EventKind::timeout;
    const auto decision = retry_after_failure(retrier_, failure, ended.timed_out ? 504 : answer.status, retrying.attempt,
                                              retrying.delay, static_cast<std::int64_t>(key), context);
    if (!decision.retry) {
      if (!decision.why.empty()) {
        Relay::answer(ended, answer, context);
        context.decide(Outcome::gave_up, ended.backend, decision.why);
        retrying_.erase(key);
        return true;
      }
      return false;
    }
    retrying.failed_on = ended.backend;
    context.decide(Outcome::retry_scheduled, ended.backend,
                   context.topology().spec(ended.backend).id() + " " + decision.why);
    return true;
  }

  GuardedPool pool_;
  Retrier retrier_;
  std::unordered_map<std::uint64_t, Retrying> retrying_;  // by client and request
  Relay relay_;
  // The hash of each client's address (IP hashing), by client node: a sorted list, not a table
  // over all nodes (100 balancers over 100,000 nodes would hold 80 MB of zeros).
  std::vector<std::pair<NodeIndex, std::uint64_t>> client_hash_;
  std::uint64_t client_hash(NodeIndex client) const {
    const auto found = std::lower_bound(client_hash_.begin(), client_hash_.end(), std::make_pair(client, std::uint64_t{0}));
    return found != client_hash_.end() && found->first == client ? found->second : 0;
  }
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
          if (balancer.has_retry()) fill_defaults(*balancer.mutable_retry());
        },
    .check =
        [](NodeChecks& c) {
          if (c.node().load_balancer().has_breaker())
            check_breaker(c, c.node().load_balancer().breaker(), {{"load_balancer"}, {"breaker"}}, "breaker.");
          if (c.node().load_balancer().has_retry())
            check_retry(c, c.node().load_balancer().retry(), {{"load_balancer"}, {"retry"}}, "retry.");
        },
    .settable = {"strategy", "choices", "breaker.", "retry."},
};
FLOWFRAME_KIND(kLoadBalancer, make_load_balancer);

}  // namespace

}  // namespace flowframe
