// Cache (Redis-like): GET / SET with TTL / DEL / EXPIRE on string keys in logical time. An expired
// key is gone when read (lazy expiry) and is removed by a sweep that runs at most every
// sweep_interval (active expiry). With max_entries, a new key evicts the least recently used.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <list>
#include <unordered_map>

#include "actors/common/components.hpp"
#include "actors/common/routing.hpp"
#include "runtime/engine/distribution.hpp"

namespace flowframe {
namespace {

std::string seconds(Time t) { return fmt::format("{:.1f}s", to_seconds(t)); }

class Cache final : public Component {
 public:
  Cache(const v1::Node& spec, NodeIndex index, std::uint64_t seed) : Component(spec, index, seed) {
    const auto& params = spec_.cache();
    op_time_ = Sampler(params.op_time());
    sweep_interval_ = from_millis(params.sweep_interval_ms());
  }

  void start(Context& context) override {
    for (const auto& entry : spec_.cache().entries())
      store(entry.key(), entry.value(), entry.ttl_s() > 0 ? from_seconds(entry.ttl_s()) : 0, context);
  }

  void handle(const Event& event, Context& context) override {
    if (event.kind == EventKind::timer) return sweep(context);
    if (event.kind != EventKind::request) return;
    if (!event.payload) {
      respond(event, 400, context, context.work(op_time_));
      return context.decide(Outcome::bad_request, kNoNode, "400 not a cache command");
    }
    const auto& command = *event.payload;
    const auto& key = command.key();
    const Time now = context.now();
    auto answer = [&](std::uint16_t status, Outcome outcome, std::string note, std::string value = {}) {
      std::shared_ptr<v1::Payload> reply;
      if (!value.empty()) {
        reply = std::make_shared<v1::Payload>();
        reply->set_key(key);
        reply->set_value(std::move(value));
      }
      ++handled_;
      respond(event, status, context, context.work(op_time_), std::move(reply));
      context.decide(outcome, kNoNode, note);
    };
    auto found = entries_.find(key);
    // Lazy expiry: a key past its time is gone the moment anyone looks.
    if (found != entries_.end() && found->second.expires && now >= found->second.expires) {
      const Time ago = now - found->second.expires;
      erase(found);
      ++expirations_;
      found = entries_.end();
      if (command.op() == v1::Payload::GET) {
        ++misses_;
        return answer(404, Outcome::cache_miss, fmt::format("MISS {} (expired {} ago)", key, seconds(ago)));
      }
    }
    switch (command.op()) {
      case v1::Payload::GET:
        if (found == entries_.end()) {
          ++misses_;
          return answer(404, Outcome::cache_miss, "MISS " + key);
        }
        ++hits_;
        touch(found, now);
        return answer(200, Outcome::cache_hit,
                      found->second.expires ? fmt::format("HIT {} (ttl {})", key, seconds(found->second.expires - now))
                                            : "HIT " + key + " (no ttl)",
                      found->second.value);
      case v1::Payload::SET: {
        const auto evicted = store(key, command.value(), command.ttl_ns(), context);
        return answer(200, Outcome::cache_set,
                      fmt::format("SET {}{}{}", key, command.ttl_ns() ? " (ttl " + seconds(command.ttl_ns()) + ")" : "",
                                  evicted.empty() ? "" : "; evicted " + evicted + " (least recently used)"));
      }
      case v1::Payload::DEL:
        if (found == entries_.end()) return answer(404, Outcome::not_found, "DEL " + key + " (absent)");
        erase(found);
        return answer(200, Outcome::cache_deleted, "DEL " + key);
      case v1::Payload::EXPIRE:
        if (found == entries_.end()) return answer(404, Outcome::not_found, "EXPIRE " + key + " (absent)");
        found->second.expires = command.ttl_ns() > 0 ? now + command.ttl_ns() : 0;
        plan_sweep(found->second.expires, context);
        return answer(200, Outcome::cache_set, "EXPIRE " + key + " in " + seconds(command.ttl_ns()));
      default:
        return answer(400, Outcome::bad_request, "400 not a cache command");
    }
  }

  std::string apply(ControlAction& action, Context&) override {
    return "a cache has no setting '" + action.field + "' to change during a run";
  }

  std::uint32_t load() const override { return static_cast<std::uint32_t>(entries_.size()); }
  bool rich() const override { return true; }
  std::size_t state_size_hint() const override { return 64 + entries_.size() * 48; }

  void snapshot(v1::NodeState& state) const override {
    state.set_load(load());
    state.set_handled(handled_);
    auto& cache = *state.mutable_cache();
    for (const auto& key : lru_) {
      const auto& entry = entries_.at(key);
      auto& out = *cache.add_keys();
      out.set_key(key);
      out.set_value(entry.value);
      out.set_expires_ns(entry.expires);
      out.set_last_access_ns(entry.last_access);
    }
    cache.set_hits(hits_);
    cache.set_misses(misses_);
    cache.set_evictions(evictions_);
    cache.set_expirations(expirations_);
    cache.set_max_entries(spec_.cache().max_entries());
  }

 private:
  struct Entry {
    std::string value;
    Time expires = 0;  // 0: never
    Time last_access = 0;
    std::list<std::string>::iterator position;  // in lru_
  };
  using Entries = std::unordered_map<std::string, Entry>;

  void touch(Entries::iterator entry, Time now) {
    entry->second.last_access = now;
    lru_.splice(lru_.begin(), lru_, entry->second.position);
  }

  void erase(Entries::iterator entry) {
    lru_.erase(entry->second.position);
    entries_.erase(entry);
  }

  // Sets a key; returns the key evicted to make room, if any.
  std::string store(const std::string& key, const std::string& value, Time ttl, Context& context) {
    const Time now = context.now();
    std::string evicted;
    auto found = entries_.find(key);
    if (found == entries_.end()) {
      const auto limit = spec_.cache().max_entries();
      if (limit > 0 && entries_.size() >= limit) {
        evicted = lru_.back();
        erase(entries_.find(evicted));
        ++evictions_;
      }
      lru_.push_front(key);
      found = entries_.emplace(key, Entry{}).first;
      found->second.position = lru_.begin();
    }
    found->second.value = value;
    found->second.expires = ttl > 0 ? now + ttl : 0;
    touch(found, now);
    plan_sweep(found->second.expires, context);
    return evicted;
  }

  // Makes sure a sweep will come for a key expiring at `expires`.
  void plan_sweep(Time expires, Context& context) {
    if (expires == 0 || sweep_at_ != kTimeNever) return;
    sweep_at_ = std::max(expires, last_sweep_ + sweep_interval_);
    Event sweep;
    sweep.kind = EventKind::timer;
    context.schedule(sweep_at_ - context.now(), sweep);
  }

  // Active expiry: removes every key past its time.
  void sweep(Context& context) {
    const Time now = context.now();
    sweep_at_ = kTimeNever;
    last_sweep_ = now;
    std::vector<std::string> removed;
    Time next = kTimeNever;
    for (auto entry = entries_.begin(); entry != entries_.end();) {
      if (entry->second.expires && entry->second.expires <= now) {
        removed.push_back(entry->first);
        lru_.erase(entry->second.position);
        entry = entries_.erase(entry);
        continue;
      }
      if (entry->second.expires) next = std::min(next, entry->second.expires);
      ++entry;
    }
    expirations_ += removed.size();
    if (next != kTimeNever) plan_sweep(next, context);
    if (removed.empty()) return context.decide(Outcome::none, kNoNode, "expiry sweep: nothing due");
    std::sort(removed.begin(), removed.end());
    const auto shown = std::min<std::size_t>(removed.size(), 5);
    context.decide(Outcome::expired, kNoNode,
                   fmt::format("EXPIRED {}{} (active sweep)", fmt::join(removed.begin(), removed.begin() + shown, ", "),
                               removed.size() > shown ? fmt::format(" and {} more", removed.size() - shown) : ""));
  }

  Sampler op_time_;
  Time sweep_interval_ = 0;
  Time sweep_at_ = kTimeNever;
  Time last_sweep_ = 0;
  Entries entries_;
  std::list<std::string> lru_;  // most recently used first
  std::uint64_t handled_ = 0, hits_ = 0, misses_ = 0, evictions_ = 0, expirations_ = 0;
};

}  // namespace

std::unique_ptr<Component> make_cache(const v1::Node& spec, NodeIndex index, const Topology& topology) {
  return std::make_unique<Cache>(spec, index, topology.seed());
}

namespace {

void check_cache(NodeChecks& c) {
  const auto& cache = c.node().cache();
  check_optional_distribution(c, cache.has_op_time(), cache.op_time(), "cache", "op_time");
  if (cache.has_sweep_interval_ms() && !(cache.sweep_interval_ms() > 0))
    c.problem(c.at({{"cache"}, {"sweep_interval_ms"}}), "cache.sweep_interval_ms", "must be > 0");
  for (int k = 0; k < cache.entries_size(); ++k) {
    if (cache.entries(k).ttl_s() < 0)
      c.problem(c.at({{"cache"}, {"entries", k}, {"ttl_s"}}), "cache.entries.ttl_s",
                "negative TTL " + fmt_number(cache.entries(k).ttl_s()) + " s (0 means no expiry)");
    if (cache.entries(k).key().empty())
      c.problem(c.at({{"cache"}, {"entries", k}}), "cache.entries.key", "an entry needs a key");
  }
}

const KindDescription kCache{
    .kind = v1::Node::CACHE,
    .name = "cache",
    .defaults =
        [](v1::Node& node) {
          auto& cache = *node.mutable_cache();
          if (!cache.has_sweep_interval_ms()) cache.set_sweep_interval_ms(1000);
          if (!cache.has_op_time()) *cache.mutable_op_time() = constant_ms(0.1);
        },
    .check = check_cache,
    .metrics =
        [](const v1::NodeState& state, Time, nlohmann::ordered_json& node) {
          const auto lookups = state.cache().hits() + state.cache().misses();
          node["hit_ratio"] =
              lookups ? std::round(static_cast<double>(state.cache().hits()) / static_cast<double>(lookups) * 1000) / 1000
                      : 0.0;
        },
    .detail = [](const nlohmann::ordered_json& node, std::vector<std::string>& parts) {
      parts.push_back(fmt::format("hit ratio {:.1f}%", node["hit_ratio"].get<double>() * 100));
    },
};
FLOWFRAME_KIND(kCache, make_cache);

}  // namespace

}  // namespace flowframe
