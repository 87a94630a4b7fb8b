// CDN edge: a point of presence caching an origin's GET answers. A fresh copy is answered from the
// edge; a stale one within stale-while-revalidate is answered too while one background request
// refreshes it; a miss goes to the origin once however many ask meanwhile (request collapsing), and
// every request waiting for it gets the origin's answer. Only 200s are kept. Its origin may be
// another edge (an origin shield). Purging (setting `purge`) drops objects by path prefix.
//
// Cached objects are keyed by the request's path with its id ("GET /img/42").
#include <fmt/format.h>

#include <list>
#include <set>
#include <map>
#include <unordered_map>

#include "actors/common/components.hpp"
#include "actors/common/routing.hpp"

namespace flowframe {
namespace {

constexpr std::size_t kShownObjects = 12;
constexpr Time kFetchTimeout = 30 * kNanosPerSecond;

class CdnEdge final : public Component {
 public:
  CdnEdge(const v1::Node& spec, NodeIndex index, const Topology& topology)
      : Component(spec, index, topology.seed()),
        origin_(topology.index_of(spec.cdn_edge().origin())),
        hit_time_(spec.cdn_edge().hit_time()) {}

  void handle(const Event& event, Context& context) override {
    switch (event.kind) {
      case EventKind::request: return requested(event, context);
      case EventKind::response:
      case EventKind::timeout: return fetched(event, context);
      default: return;
    }
  }

  // `purge` drops objects; the cache's settings may change too (a new max-age applies to what is
  // stored from then on).
  std::string apply(ControlAction& action, Context&) override {
    auto& params = *spec_.mutable_cdn_edge();
    action.previous = read_setting(params, action.field);
    if (auto error = apply_setting(params, action.field, action.value); !error.empty()) return error;
    if (action.field != "purge") return "";
    const auto prefix = action.value == "*" ? std::string("/") : action.value;
    std::size_t dropped = 0;
    for (auto it = objects_.begin(); it != objects_.end();) {
      if (matches(it->second.path, prefix)) {
        lru_.erase(it->second.position);
        it = objects_.erase(it);
        ++dropped;
      } else {
        ++it;
      }
    }
    for (auto& [key, fetch] : fetches_)
      if (matches(fetch.path, prefix)) fetch.purged = true;  // its answer is passed on, not kept
    purged_ += dropped;
    return "";
  }

  std::uint32_t load() const override { return static_cast<std::uint32_t>(fetches_.size()); }
  std::uint32_t queue() const override {
    std::size_t waiting = 0;
    for (const auto& [key, fetch] : fetches_) waiting += fetch.waiting.size();
    return static_cast<std::uint32_t>(waiting);
  }
  bool rich() const override { return true; }
  std::size_t state_size_hint() const override { return 96 + std::min(objects_.size(), kShownObjects) * 48; }

  void snapshot(v1::NodeState& state) const override {
    state.set_load(load());
    state.set_queue(queue());
    state.set_handled(hits_ + stale_hits_ + misses_ + collapsed_);
    auto& out = *state.mutable_cdn_edge();
    out.set_hits(hits_);
    out.set_stale_hits(stale_hits_);
    out.set_misses(misses_);
    out.set_collapsed(collapsed_);
    out.set_revalidations(revalidations_);
    out.set_purged(purged_);
    out.set_evictions(evictions_);
    out.set_objects_held(static_cast<std::uint32_t>(objects_.size()));
    out.set_fetching(static_cast<std::uint32_t>(fetches_.size()));
    std::size_t shown = 0;
    for (auto it = lru_.begin(); it != lru_.end() && shown < kShownObjects; ++it, ++shown) {
      const auto& object = objects_.at(*it);
      auto& o = *out.add_objects();
      o.set_key(object.path);
      o.set_stored_ns(object.stored);
      o.set_fresh_until_ns(object.fresh_until);
      o.set_stale_until_ns(object.stale_until);
    }
  }

 private:
  using Key = std::pair<std::uint32_t, std::uint64_t>;  // path and id
  struct Object {
    std::string path;  // for people: "GET /img/42"
    Time stored = 0, fresh_until = 0, stale_until = 0;
    std::list<Key>::iterator position;  // in lru_
  };
  struct Fetch {
    std::vector<Event> waiting;  // requests to answer with the origin's answer
    bool revalidation = false;   // refreshing a stale copy: nobody waits
    bool purged = false;         // a purge came while it was under way: the answer is not kept
    std::string path;
  };

  // Whether an object's path ("GET /img/4") is under a purge's prefix ("/img/").
  static bool matches(const std::string& path, const std::string& prefix) {
    return path.compare(path.find(' ') + 1, prefix.size(), prefix) == 0;
  }

  static bool cacheable(const Event& request, Context& context) {
    return context.topology().is_read(request.path);
  }

  std::string name_of(const Event& request, Context& context) const {
    auto name = context.topology().paths()[request.path];
    if (const auto at = name.find("{id}"); at != std::string::npos) name.replace(at, 4, std::to_string(request.id));
    return name;
  }

  void requested(const Event& request, Context& context) {
    const auto& params = spec_.cdn_edge();
    if (!cacheable(request, context)) {
      start_fetch({request.path, request.id}, request, false, context, false);
      return context.decide(Outcome::delegated, origin_, name_of(request, context) + ": not a GET, passed to the origin");
    }
    const Key key{request.path, request.id};
    const Time now = context.now();
    if (const auto found = objects_.find(key); found != objects_.end()) {
      auto& object = found->second;
      lru_.splice(lru_.begin(), lru_, object.position);
      if (now < object.fresh_until) {
        ++hits_;
        respond(request, 200, context, context.work(hit_time_));
        return context.decide(Outcome::cache_hit, kNoNode,
                              fmt::format("HIT {} (age {}, fresh {} more)", object.path, duration_text(now - object.stored),
                                          duration_text(object.fresh_until - now)));
      }
      if (now < object.stale_until) {
        ++stale_hits_;
        respond(request, 200, context, context.work(hit_time_));
        const bool refreshing = fetches_.count(key) > 0;
        if (!refreshing) {
          ++revalidations_;
          start_fetch(key, request, true, context, true);
        }
        return context.decide(Outcome::cache_hit, refreshing ? kNoNode : origin_,
                              fmt::format("STALE {} (age {}): answered, {}", object.path, duration_text(now - object.stored),
                                          refreshing ? "a refresh is under way" : "refreshed in the background"));
      }
      lru_.erase(object.position);
      objects_.erase(found);
    }
    if (const auto under_way = fetches_.find(key); under_way != fetches_.end() && params.collapse()) {
      ++collapsed_;
      under_way->second.waiting.push_back(request);
      return context.decide(Outcome::queued, kNoNode,
                            fmt::format("MISS {}: joins the origin fetch under way ({} waiting)", name_of(request, context),
                                        under_way->second.waiting.size()));
    }
    ++misses_;
    start_fetch(key, request, false, context, true);
    context.decide(Outcome::cache_miss, origin_, fmt::format("MISS {}: fetched from {}", name_of(request, context), origin_name(context)));
  }

  std::string origin_name(Context& context) const { return context.topology().spec(origin_).id(); }

  // One call to the origin on behalf of `request`; collapsing fetches are keyed by object, the
  // others (uncached methods, a second fetch without collapsing) by their call.
  void start_fetch(const Key& key, const Event& request, bool revalidation, Context& context, bool cached) {
    Event call = sub_request(request, 0, request.payload);
    // A fetch always has a deadline (the node's timeout_ms, else kFetchTimeout): a lost answer
    // must not keep its waiters, and every later miss for the object, waiting for ever.
    const auto number = context.call(origin_, call, context.topology().spec(index()).timeout_ms() > 0 ? -1 : kFetchTimeout);
    if (!cached || fetches_.count(key)) {
      uncached_[number] = request;
      return;
    }
    auto& fetch = fetches_[key];
    fetch.revalidation = revalidation;
    fetch.path = name_of(request, context);
    if (!revalidation) fetch.waiting.push_back(request);
    by_call_[number] = key;
  }

  void fetched(const Event& answer, Context& context) {
    const bool timed_out = answer.kind == EventKind::timeout;
    const std::uint16_t status = timed_out ? 504 : answer.status;
    if (const auto plain = uncached_.find(answer.call); plain != uncached_.end()) {
      respond(plain->second, status, context);
      uncached_.erase(plain);
      return context.decide(timed_out ? Outcome::timed_out : Outcome::served, kNoNode,
                            fmt::format("{} from {}: passed back", status, origin_name(context)));
    }
    const auto by_call = by_call_.find(answer.call);
    if (by_call == by_call_.end()) return context.decide(Outcome::late, kNoNode, "an answer nobody waits for: dropped");
    const auto key = by_call->second;
    by_call_.erase(by_call);
    auto fetch = std::move(fetches_.at(key));
    fetches_.erase(key);
    for (const auto& waiting : fetch.waiting) respond(waiting, status, context);
    const auto who = fetch.waiting.size() > 1 ? fmt::format("; answers the {} requests that waited", fetch.waiting.size()) : "";
    if (fetch.purged)
      return context.decide(Outcome::served, kNoNode, fmt::format("{} from {}: passed on, not kept (purged meanwhile){}", status, origin_name(context), who));
    if (status != 200)
      return context.decide(timed_out ? Outcome::timed_out : Outcome::served, kNoNode,
                            fmt::format("{} from {}: not kept{}", status, origin_name(context), who));
    const auto evicted = store(key, answer, context);
    context.decide(Outcome::cache_set, kNoNode,
                   fmt::format("{} {} for {}{}{}", fetch.revalidation ? "refreshed" : "stored", objects_.at(key).path,
                               duration_text(from_seconds(spec_.cdn_edge().max_age_s())), who,
                               evicted.empty() ? "" : "; evicted " + evicted + " (least recently used)"));
  }

  std::string store(const Key& key, const Event& answer, Context& context) {
    const auto& params = spec_.cdn_edge();
    std::string evicted;
    auto [at, fresh] = objects_.try_emplace(key);
    if (fresh) {
      if (objects_.size() > params.max_objects() && !lru_.empty()) {
        const auto last = lru_.back();
        evicted = objects_.at(last).path;
        objects_.erase(last);
        lru_.pop_back();
        ++evictions_;
      }
      lru_.push_front(key);
      at->second.position = lru_.begin();
    } else {
      lru_.splice(lru_.begin(), lru_, at->second.position);
    }
    auto& object = at->second;
    object.path = name_of(answer, context);
    object.stored = context.now();
    object.fresh_until = object.stored + from_seconds(params.max_age_s());
    object.stale_until = object.fresh_until + from_seconds(params.stale_while_revalidate_s());
    return evicted;
  }

  NodeIndex origin_;
  Sampler hit_time_;
  std::map<Key, Object> objects_;
  std::list<Key> lru_;  // most recently used first
  std::map<Key, Fetch> fetches_;
  std::unordered_map<std::uint32_t, Key> by_call_;        // a collapsing fetch's call
  std::unordered_map<std::uint32_t, Event> uncached_;     // a passed-through request's call
  std::uint64_t hits_ = 0, stale_hits_ = 0, misses_ = 0, collapsed_ = 0, revalidations_ = 0, purged_ = 0, evictions_ = 0;
};

}  // namespace

std::unique_ptr<Component> make_cdn_edge(const v1::Node& spec, NodeIndex index, const Topology& topology) {
  return std::make_unique<CdnEdge>(spec, index, topology);
}

namespace {

void check_cdn_edge(NodeChecks& c) {
  const auto& node = c.node();
  const auto& params = node.cdn_edge();
  const auto at = [&](const char* field) { return c.at({{"cdn_edge"}, {field}}); };
  if (params.origin().empty()) c.problem(at("origin"), "cdn_edge.origin", "missing: the origin (or origin shield) it caches");
  else if (!c.known(params.origin())) c.problem(at("origin"), "cdn_edge.origin", c.unknown(params.origin()));
  else if (!c.linked(node.id(), params.origin()))
    c.problem(at("origin"), "cdn_edge.origin", "'" + node.id() + "' has no link to '" + params.origin() + "'");
  else if (params.origin() == node.id()) c.problem(at("origin"), "cdn_edge.origin", "an edge cannot be its own origin");
  else if (const auto* origin = c.find(params.origin()); origin && origin->replicas() > 0)
    c.problem(at("origin"), "cdn_edge.origin", "'" + params.origin() + "' is a replicated group: name one node (a load balancer in front of them)");
  else {
    // Up the chain of shields: an edge whose misses come back to it would wait on itself.
    std::set<std::string> seen{node.id()};
    for (const auto* up = c.find(params.origin()); up && up->kind() == v1::Node::CDN_EDGE; up = c.find(up->cdn_edge().origin()))
      if (!seen.insert(up->id()).second) {
        c.problem(at("origin"), "cdn_edge.origin", "its origins lead back to '" + up->id() + "': a loop of edges");
        break;
      }
  }
  if (params.has_max_age_s() && !(params.max_age_s() > 0 && params.max_age_s() <= kDayMs / 1000))
    c.problem(at("max_age_s"), "cdn_edge.max_age_s", "must be above 0 and at most a day (86400 s)");
  if (!(params.stale_while_revalidate_s() >= 0 && params.stale_while_revalidate_s() <= kDayMs / 1000))
    c.problem(at("stale_while_revalidate_s"), "cdn_edge.stale_while_revalidate_s", "must be from 0 to at most a day (86400 s)");
  if (params.has_max_objects() && (params.max_objects() == 0 || params.max_objects() > 10'000'000))
    c.problem(at("max_objects"), "cdn_edge.max_objects", "must be from 1 to 10000000");
  check_optional_distribution(c, params.has_hit_time(), params.hit_time(), "cdn_edge", "hit_time");
}

const KindDescription kCdnEdge{
    .kind = v1::Node::CDN_EDGE,
    .name = "cdn_edge",
    .defaults =
        [](v1::Node& node) {
          auto& params = *node.mutable_cdn_edge();
          if (!params.has_max_age_s()) params.set_max_age_s(60);
          if (!params.has_collapse()) params.set_collapse(true);
          if (!params.has_max_objects()) params.set_max_objects(10000);
          if (!params.has_hit_time()) *params.mutable_hit_time() = constant_ms(0.5);
        },
    .example = [](v1::Node& node) { node.mutable_cdn_edge()->set_origin("origin"); },
    .check = check_cdn_edge,
    .settable = {"purge", "max_age_s", "stale_while_revalidate_s", "collapse"},
    .metrics =
        [](const v1::NodeState& state, Time, nlohmann::ordered_json& node) {
          const auto& cdn = state.cdn_edge();
          const auto served = cdn.hits() + cdn.stale_hits();
          const auto asked = served + cdn.misses() + cdn.collapsed();
          node["hit_ratio"] = asked ? std::round(static_cast<double>(served) / static_cast<double>(asked) * 1000) / 1000 : 0.0;
          node["hits"] = cdn.hits();
          node["stale_hits"] = cdn.stale_hits();
          node["misses"] = cdn.misses();
          node["collapsed"] = cdn.collapsed();
          node["revalidations"] = cdn.revalidations();
          if (cdn.purged()) node["purged"] = cdn.purged();
        },
    .detail =
        [](const nlohmann::ordered_json& node, std::vector<std::string>& parts) {
          parts.push_back(fmt::format("hit ratio {:.1f}% ({} fresh, {} stale; {} misses, {} collapsed into a fetch under way)",
                                      node["hit_ratio"].get<double>() * 100, node["hits"].get<std::uint64_t>(),
                                      node["stale_hits"].get<std::uint64_t>(), node["misses"].get<std::uint64_t>(),
                                      node["collapsed"].get<std::uint64_t>()));
          if (node.contains("purged")) parts.push_back(fmt::format("{} purged", node["purged"].get<std::uint64_t>()));
        },
};
FLOWFRAME_KIND(kCdnEdge, make_cdn_edge);

}  // namespace
}  // namespace flowframe
