// API gateway: routes each request by the longest matching path prefix to a pool of servers, each
// pool balanced with its own strategy (the load balancer's Balancer), after token-bucket rate
// limits per client address and overall. 404 no route, 429 rate limited, 503 pool empty.
#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "actors/common/components.hpp"
#include "actors/common/guarded_pool.hpp"
#include "actors/common/routing.hpp"
#include "runtime/scenario/settings.hpp"

namespace flowframe {
namespace {

v1::LoadBalancerParams balancer_params(const v1::Pool& pool) {
  v1::LoadBalancerParams params;
  params.set_strategy(pool.strategy());
  return params;
}

// A token bucket in exact integer arithmetic: nano-tokens, refilled by elapsed nanoseconds.
class TokenBucket {
 public:
  static constexpr std::int64_t kToken = 1'000'000'000;
  TokenBucket(const v1::TokenBucket& spec, Time now)
      : rate_(spec.rate()), capacity_(static_cast<std::int64_t>(std::llround(spec.burst() * kToken))),
        tokens_(capacity_), since_(now) {}

  // Takes a token if there is one; otherwise says how long until there will be.
  bool take(Time now, Time& retry_after) {
    refill(now);
    if (tokens_ >= kToken) {
      tokens_ -= kToken;
      return true;
    }
    retry_after = static_cast<Time>(std::ceil(static_cast<double>(kToken - tokens_) / rate_));
    return false;
  }
  double tokens(Time now) const {
    return static_cast<double>(std::min(capacity_, tokens_ + added(now))) / kToken;
  }
  double burst() const { return static_cast<double>(capacity_) / kToken; }
  // New rate and burst from now on; tokens held so far stay (up to the new burst).
  void reconfigure(const v1::TokenBucket& spec, Time now) {
    refill(now);
    rate_ = spec.rate();
    capacity_ = static_cast<std::int64_t>(std::llround(spec.burst() * kToken));
    tokens_ = std::min(tokens_, capacity_);
    since_ = now;
  }
  // As of the last refill, so a snapshot does not depend on when it is taken.
  void snapshot(v1::BucketState& out) const {
    out.set_tokens(static_cast<double>(tokens_) / kToken);
    out.set_at_ns(since_);
    out.set_rate(rate_);
    out.set_burst(burst());
  }

 private:
  std::int64_t added(Time now) const { return static_cast<std::int64_t>(std::floor(rate_ * static_cast<double>(now - since_))); }
  void refill(Time now) {
    const std::int64_t gained = added(now);
    // Advance `since_` only by the time the whole gain stands for, so no fraction is lost.
    if (tokens_ + gained >= capacity_) {
      tokens_ = capacity_;
      since_ = now;
    } else if (gained > 0) {
      tokens_ += gained;
      since_ += static_cast<Time>(static_cast<double>(gained) / rate_);
    }
  }
  double rate_;  // nano-tokens per nanosecond = tokens per second
  std::int64_t capacity_;
  std::int64_t tokens_;
  Time since_;
};

class ApiGateway final : public Component {
 public:
  ApiGateway(const v1::Node& spec, NodeIndex index, const Topology& topology)
      : Component(spec, index, topology.seed()), topology_(topology) {
    const auto& params = spec.api_gateway();
    for (const auto& pool : params.pools())
      pools_.push_back({pool.name(), GuardedPool(Balancer(balancer_params(pool), Balancer::backends_for(topology.resolve(pool.servers()), topology)),
                                                  static_cast<std::uint32_t>(pools_.size()))});
    configure_breakers();

    for (const auto& route : params.routes()) {
      const auto pool = std::find_if(pools_.begin(), pools_.end(), [&](auto& p) { return p.name == route.pool(); });
      routes_.push_back({route.prefix(), static_cast<std::size_t>(pool - pools_.begin()), from_millis(route.timeout_ms())});
    }
    // Longest prefix first; equal lengths keep scenario order.
    std::stable_sort(routes_.begin(), routes_.end(), [](auto& a, auto& b) { return a.prefix.size() > b.prefix.size(); });
    const auto& clients = topology.clients();
    client_ip_.resize(topology.spec_count());
    for (std::size_t i = 0; i < clients.size(); ++i) client_ip_[clients[i]] = client_ip(topology.spec(clients[i]), i);
    if (params.has_global()) global_.emplace(params.global(), 0);
  }

  // A breaker per server in pools that ask for one; again after a live change.
  void configure_breakers() {
    const auto& written = spec_.api_gateway().pools();
    for (int p = 0; p < written.size(); ++p)
      if (written[p].has_breaker()) {
        pools_[static_cast<std::size_t>(p)].guarded.guard(written[p].breaker());
        relay_.own_every_call();  // to see every server's answer
      }
  }

  void handle(const Event& event, Context& context) override {
    for (auto& pool : pools_)
      if (pool.guarded.handle(event, context)) return;
    if (auto ended = relay_.end(event)) {
      ++by_status_[ended->timed_out ? 504 : event.status];
      Relay::answer(*ended, event, context);
      // The tag's high bits say which pool it went through (a server may be in several).
      return pools_[static_cast<std::size_t>(ended->tag >> 32)].guarded.call_ended(*ended, event, context);
    }
    if (event.kind == EventKind::response) {
      for (auto& pool : pools_)
        if (auto backend = pool.guarded.balancer().find(event.src)) pool.guarded.balancer().on_answered(*backend, context.now() - event.arg);
      ++by_status_[event.status];
      context.decide(Outcome::forwarded, event.via_empty() ? kNoNode : event.via_top());
      return send_back(event, context);
    }
    if (event.kind == EventKind::message && event.payload && event.payload->op() == v1::Payload::HEALTH) {
      bool found = false;
      for (auto& pool : pools_)
        if (auto backend = pool.guarded.balancer().find(event.payload->node())) {
          pool.guarded.balancer().set_healthy(*backend, event.payload->healthy());
          found = true;
        }
      return context.decide(found ? Outcome::health_changed : Outcome::none, event.payload->node(),
                            context.topology().spec(event.payload->node()).id() +
                                (found ? (event.payload->healthy() ? " is up: back in its pool" : " is down: out of its pool")
                                       : ": a health notice about a server in no pool"));
    }
    if (event.kind != EventKind::request) return;
    const Time now = context.now();
    const auto& name = topology_.paths()[event.path];
    const std::string path = name.substr(name.find(' ') + 1);
    Time retry = 0;  // a 429's Retry-After, set by the bucket that refused
    auto refuse = [&](std::uint16_t status, Outcome outcome, const std::string& note) {
      ++by_status_[status];
      std::shared_ptr<v1::Payload> retry_after;
      if (retry > 0) {
        retry_after = std::make_shared<v1::Payload>();
        retry_after->set_retry_after_ns(retry);
      }
      respond(event, status, context, 0, std::move(retry_after));
      context.decide(outcome, kNoNode, note);
    };
    const auto route = std::find_if(routes_.begin(), routes_.end(),
                                    [&](const Route& r) { return path.rfind(r.prefix, 0) == 0; });
    if (route == routes_.end()) return refuse(404, Outcome::no_route, "404 no route for " + path);
    const auto& ip = client_ip_[event.client];
    if (spec_.api_gateway().has_per_client()) {
      auto bucket = per_client_.try_emplace(ip, spec_.api_gateway().per_client(), now).first;
      if (!bucket->second.take(now, retry))
        return refuse(429, Outcome::rate_limited,
                      fmt::format("429 rate limited: {} has {:.1f}/{:.0f} tokens, Retry-After {:.2f}s", ip,
                                  bucket->second.tokens(now), bucket->second.burst(), to_seconds(retry)));
    }
    if (global_ && !global_->take(now, retry))
      return refuse(429, Outcome::rate_limited,
                    fmt::format("429 rate limited (global {:.1f}/{:.0f} tokens), Retry-After {:.2f}s",
                                global_->tokens(now), global_->burst(), to_seconds(retry)));
    auto& pool = pools_[route->pool];
    const auto chosen = pool.guarded.pick(stable_hash(ip), event.id, context.rng());
    if (!chosen && pool.guarded.tripped()) {
      std::string note;
      const auto status = pool.guarded.fallback(request_key(event), note);
      return refuse(status, Outcome::short_circuited, pool.name + " pool: " + note);
    }
    if (!chosen) return refuse(503, Outcome::pool_empty, "503 " + pool.name + " pool empty (no healthy server)");
    const auto backend = pool.guarded.balancer().backends()[chosen->backend].node;
    pool.guarded.balancer().on_sent(chosen->backend);
    relay_.forward(event, backend, context, (std::uint64_t{route->pool} << 32) | chosen->epoch, route->timeout);
    context.decide(Outcome::forwarded, backend, route->prefix + " -> " + pool.name + " pool");
  }

  std::string apply(ControlAction& action, Context& context) override {
    if (action.type == ControlAction::Type::set) {  // a rate limit
      auto params = spec_.api_gateway();
      action.previous = read_setting(params, action.field);
      if (auto error = apply_setting(params, action.field, action.value); !error.empty()) return error;
      auto valid = [](const v1::TokenBucket& bucket) { return bucket.rate() > 0 && bucket.burst() >= 1; };
      if ((params.has_per_client() && !valid(params.per_client())) || (params.has_global() && !valid(params.global())))
        return "a rate limit needs rate > 0 and burst >= 1";
      *spec_.mutable_api_gateway() = params;
      find_kind(v1::Node::API_GATEWAY)->defaults(spec_);
      configure_breakers();
      for (auto& route : routes_)
        for (const auto& written : params.routes())
          if (written.prefix() == route.prefix) route.timeout = from_millis(written.timeout_ms());
      for (auto& [owner, bucket] : per_client_) bucket.reconfigure(params.per_client(), context.now());
      if (params.has_global()) {
        if (global_) global_->reconfigure(params.global(), context.now());
        else global_.emplace(params.global(), context.now());
      }
      return "";
    }
    if (action.type != ControlAction::Type::health) return "a gateway cannot fail or restore";
    bool found = false;
    for (auto& pool : pools_) {
      if (auto backend = pool.guarded.balancer().find(action.subject)) {
        action.previous = pool.guarded.balancer().backends()[*backend].healthy ? "up" : "down";
        pool.guarded.balancer().set_healthy(*backend, action.healthy);
        found = true;
      }
    }
    return found ? "" : "not a server of any pool";
  }

  bool takes_ideal_health() const override { return !spec_.api_gateway().probed_health(); }
  bool rich() const override { return true; }
  std::size_t state_size_hint() const override { return 256 + per_client_.size() * 40 + pools_.size() * 128; }

  std::uint32_t load() const override {
    std::uint32_t total = 0;
    for (const auto& pool : pools_) total += pool.guarded.balancer().outstanding();
    return total;
  }

  void snapshot(v1::NodeState& state) const override {
    state.set_load(load());
    auto& out = *state.mutable_api_gateway();
    for (const auto& route : spec_.api_gateway().routes()) *out.add_routes() = route;
    for (const auto& pool : pools_) {
      auto& p = *out.add_pools();
      p.set_name(pool.name);
      p.set_strategy(pool.guarded.balancer().strategy());
      pool.guarded.balancer().snapshot(*p.mutable_backends());
      pool.guarded.breakers().snapshot(state);
    }
    if (global_) {
      auto& bucket = *out.add_buckets();
      bucket.set_owner("global");
      global_->snapshot(bucket);
    }
    for (const auto& [owner, tokens] : per_client_) {
      auto& bucket = *out.add_buckets();
      bucket.set_owner(owner);
      tokens.snapshot(bucket);
    }
    std::uint64_t ok = 0, refused = 0;
    for (const auto& [status, count] : by_status_) {
      (*out.mutable_by_status())[status] = count;
      (status < 400 ? ok : refused) += count;
    }
    state.set_handled(ok);
    state.set_rejected(refused);
  }

 private:
  struct Pool {
    std::string name;
    GuardedPool guarded;
  };
  struct Route {
    std::string prefix;
    std::size_t pool;
    Time timeout;  // 0: the gateway's
  };
  const Topology& topology_;
  std::vector<Pool> pools_;
  std::vector<Route> routes_;
  std::vector<std::string> client_ip_;
  std::map<std::string, TokenBucket> per_client_;
  std::optional<TokenBucket> global_;
  std::map<std::uint16_t, std::uint64_t> by_status_;
  Relay relay_;
};

}  // namespace

std::unique_ptr<Component> make_api_gateway(const v1::Node& spec, NodeIndex index, const Topology& topology) {
  return std::make_unique<ApiGateway>(spec, index, topology);
}

namespace {

void check_api_gateway(NodeChecks& c) {
  const auto& node = c.node();
  const auto& gateway = node.api_gateway();
  std::set<std::string> pools;
  for (int p = 0; p < gateway.pools_size(); ++p) {
    const auto& pool = gateway.pools(p);
    if (pool.name().empty() || !pools.insert(pool.name()).second)
      c.problem(c.at({{"api_gateway"}, {"pools", p}, {"name"}}), "api_gateway.pools.name",
                pool.name().empty() ? "a pool needs a name" : "duplicate pool '" + pool.name() + "'");
    if (!c.known(pool.servers()))
      c.problem(c.at({{"api_gateway"}, {"pools", p}, {"servers"}}), "api_gateway.pools.servers",
                pool.servers().empty() ? "missing: name a server or group" : c.unknown(pool.servers()));
    else if (!c.linked(node.id(), pool.servers()))
      c.problem(c.at({{"api_gateway"}, {"pools", p}, {"servers"}}), "api_gateway.pools.servers",
                "'" + node.id() + "' has no link to '" + pool.servers() + "'");
    if (pool.has_breaker())
      check_breaker(c, pool.breaker(), {{"api_gateway"}, {"pools", p}, {"breaker"}},
                    "api_gateway.pools[" + std::to_string(p) + "].breaker.");
  }
  if (gateway.routes().empty())
    c.problem(c.at({{"api_gateway"}}), "api_gateway.routes", "a gateway needs at least one route");
  for (int r = 0; r < gateway.routes_size(); ++r) {
    const auto& route = gateway.routes(r);
    if (route.prefix().empty() || route.prefix()[0] != '/')
      c.problem(c.at({{"api_gateway"}, {"routes", r}, {"prefix"}}), "api_gateway.routes.prefix", "a prefix starts with '/'");
    if (!pools.count(route.pool())) {
      std::vector<std::string> names(pools.begin(), pools.end());
      auto guess = closest_name(route.pool(), names);
      c.problem(c.at({{"api_gateway"}, {"routes", r}, {"pool"}}), "api_gateway.routes.pool",
                "route to unknown pool '" + route.pool() + "'" + (guess.empty() ? "" : " (did you mean '" + guess + "'?)"));
    }
    if (!(route.timeout_ms() >= 0 && route.timeout_ms() <= kDayMs))
      c.problem(c.at({{"api_gateway"}, {"routes", r}, {"timeout_ms"}}), "api_gateway.routes.timeout_ms",
                "must be 0 to a day (86400000 ms)");
  }
  for (const char* which : {"per_client", "global"}) {
    const bool per_client = std::string(which) == "per_client";
    if (per_client ? !gateway.has_per_client() : !gateway.has_global()) continue;
    const auto& bucket = per_client ? gateway.per_client() : gateway.global();
    if (!(bucket.rate() > 0))
      c.problem(c.at({{"api_gateway"}, {which}, {"rate"}}), std::string("api_gateway.") + which + ".rate", "must be > 0");
    if (bucket.burst() < 1)
      c.problem(c.at({{"api_gateway"}, {which}, {"burst"}}), std::string("api_gateway.") + which + ".burst", "must be >= 1");
  }
}

const KindDescription kApiGateway{
    .kind = v1::Node::API_GATEWAY,
    .name = "api_gateway",
    .defaults =
        [](v1::Node& node) {
          for (auto& pool : *node.mutable_api_gateway()->mutable_pools())
            if (pool.has_breaker()) fill_defaults(*pool.mutable_breaker());
        },
    .check = check_api_gateway,
    .settable = {"per_client.rate", "per_client.burst", "global.rate", "global.burst", "pools[", "routes["},
    .fixed = {"name", "servers", "strategy", "prefix", "pool"},  // of a pool or route: only breakers and timeouts change
};
FLOWFRAME_KIND(kApiGateway, make_api_gateway);

}  // namespace

}  // namespace flowframe
