// Server: serves up to `capacity` requests at once, each for a sampled service time; others
// wait in a bounded FIFO queue (full: 503). Capacity 0 means down: it refuses everything and
// aborts what it held. With a handler it then does more before answering (cache-aside).
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "actors/common/components.hpp"
#include "actors/common/routing.hpp"
#include "actors/common/work_queue.hpp"
#include "runtime/base/text.hpp"
#include "runtime/framelog/frame_text.hpp"
#include "runtime/scenario/settings.hpp"

namespace flowframe {
namespace {

// "0 means down; restore brings back the capacity before the failure." The server follows it,
// and the engine clones it to tell balancers in front when a server goes down or comes back.
class CapacityRule final : public HealthRule {
 public:
  explicit CapacityRule(std::uint32_t capacity) : capacity_(capacity) {}

  std::optional<bool> apply(const ControlAction& action) override {
    const bool was_up = healthy();
    std::uint32_t next = capacity_;
    if (action.type == ControlAction::Type::fail) next = 0;
    else if (action.type == ControlAction::Type::restore) next = capacity_ ? capacity_ : before_fail_;
    else if (action.type == ControlAction::Type::set && action.field == "capacity") {
      v1::ServerParams parsed;
      if (!apply_setting(parsed, "capacity", action.value).empty()) return std::nullopt;
      next = parsed.capacity();
    }
    if (capacity_ > 0 && next == 0) before_fail_ = capacity_;
    capacity_ = next;
    if (healthy() == was_up) return std::nullopt;
    return healthy();
  }
  bool healthy() const override { return capacity_ > 0; }
  std::unique_ptr<HealthRule> clone() const override { return std::make_unique<CapacityRule>(*this); }

  std::uint32_t capacity() const { return capacity_; }
  std::uint32_t before_fail() const { return before_fail_; }

 private:
  std::uint32_t capacity_;
  std::uint32_t before_fail_ = 0;
};

class Server final : public Component {
 public:
  Server(const v1::Node& spec, NodeIndex index, const Topology& topology)
      : Component(spec, index, topology.seed()),
        work_(spec.server().capacity(), spec.server().queue_limit(), spec.server().service_time()),
        capacity_(spec.server().capacity()) {
    work_.set_speed(spec.server().speed());
    work_.on_cancel([this](const Event& request, Context& context) { cancel(request, context); });
    if (!spec.server().has_cache_aside()) return;
    const auto& handler = spec.server().cache_aside();
    cache_ = topology.index_of(handler.cache());
    database_ = topology.index_of(handler.database());
    for (const auto& path : topology.paths()) reads_.push_back(path.rfind("GET ", 0) == 0);
  }

  void handle(const Event& event, Context& context) override {
    switch (event.kind) {
      case EventKind::request:
        switch (work_.admit(event, context)) {
          case WorkQueue::Admitted::started: return context.decide(Outcome::started);
          case WorkQueue::Admitted::queued: return context.decide(Outcome::queued);
          case WorkQueue::Admitted::full: return reject(event, Outcome::rejected_queue_full, context);
          case WorkQueue::Admitted::down: return reject(event, Outcome::rejected_down, context);
          case WorkQueue::Admitted::expired:
            cancel(event, context);
            return context.decide(Outcome::cancelled, kNoNode, "504: its deadline passed before it arrived");
        }
        return;
      case EventKind::timer: {
        const auto slot = work_.finished(event);
        if (!slot) return context.decide(Outcome::none, kNoNode, "timer of a request aborted when the server went down");
        if (cache_ == kNoNode) return answer(*slot, 200, Outcome::served, "", context);
        return begin_cache_aside(*slot, context);
      }
      case EventKind::response: {
        const auto slot = work_.slot_of(event.arg);
        if (!slot) return context.decide(Outcome::none, kNoNode, "late answer for an aborted request; ignored");
        return continue_cache_aside(*slot, event, context);
      }
      case EventKind::timeout: {
        const auto slot = work_.slot_of(event.arg);
        if (!slot) return;
        return answer(*slot, 504, Outcome::timed_out,
                      "504: its dependency did not answer in time", context);
      }
      default:
        return;
    }
  }

  std::string apply(ControlAction& action, Context& context) override {
    auto& params = *spec_.mutable_server();
    switch (action.type) {
      case ControlAction::Type::fail:
      case ControlAction::Type::restore:
        action.previous = "capacity=" + std::to_string(capacity_.capacity());
        break;
      case ControlAction::Type::set: {
        action.previous = read_setting(params, action.field);
        if (auto error = apply_setting(params, action.field, action.value); !error.empty()) return error;
        work_.set_service_time(params.service_time());
        work_.set_speed(params.speed());
        break;
      }
      default:
        return "a server has no health to set";
    }
    capacity_.apply(action);
    const auto capacity = capacity_.capacity();
    params.set_capacity(capacity);
    const auto drop = [&](const Event& request) { reject(request, Outcome::aborted, context); };
    work_.set_capacity(capacity, context, drop);
    work_.set_queue_limit(params.queue_limit(), drop);
    return "";
  }

  std::uint32_t load() const override { return work_.busy(); }
  std::uint32_t queue() const override { return work_.waiting(); }

  void snapshot(v1::NodeState& state) const override {
    state.set_load(work_.busy());
    state.set_queue(work_.waiting());
    state.set_handled(handled_);
    state.set_rejected(rejected_);
    auto& server = *state.mutable_server();
    server.set_capacity(work_.capacity());
    server.set_queue_limit(work_.queue_limit());
    server.set_busy_ns(work_.busy_ns());
    server.set_capacity_ns(work_.capacity_ns());
    server.set_accounted_ns(work_.accounted());
    server.set_max_queue(work_.max_queue());
    server.set_capacity_before_fail(capacity_.before_fail());
  }

 private:
  // Where a cache-aside request is, per slot.
  enum class Stage { ask_cache, read_database, fill_cache, write_database, invalidate };

  void answer(std::uint32_t slot, std::uint16_t status, Outcome outcome, std::string_view note, Context& context) {
    ++handled_;
    respond(work_.request(slot), status, context);
    work_.release(slot, context);
    context.decide(outcome, kNoNode, note);
  }

  void reject(const Event& request, Outcome outcome, Context& context) {
    ++rejected_;
    respond(request, 503, context);
    context.decide(outcome);
  }

  std::string key(const Event& request) const { return spec_.server().cache_aside().key_prefix() + std::to_string(request.id); }

  void ask(std::uint32_t slot, NodeIndex to, v1::Payload::Op op, Stage stage, std::string_view note, Context& context,
           std::string value = {}) {
    const auto& request = work_.request(slot);
    const auto& handler = spec_.server().cache_aside();
    auto payload = std::make_shared<v1::Payload>();
    payload->set_op(op);
    payload->set_key(key(request));
    payload->set_table(handler.table());
    payload->set_value(std::move(value));
    if (op == v1::Payload::SET) payload->set_ttl_ns(from_seconds(handler.ttl_s()));
    if (slot >= stages_.size()) stages_.resize(slot + 1);
    stages_[slot] = stage;
    context.call(to, sub_request(request, work_.token(slot), std::move(payload)));
    context.decide(Outcome::delegated, to, note);
  }

  void begin_cache_aside(std::uint32_t slot, Context& context) {
    const auto& request = work_.request(slot);
    if (reads_[request.path])
      return ask(slot, cache_, v1::Payload::GET, Stage::ask_cache, "GET " + key(request) + " from the cache", context);
    ask(slot, database_, v1::Payload::UPDATE, Stage::write_database,
        fmt::format("UPDATE {}/{} in the database", spec_.server().cache_aside().table(), request.id), context,
        fmt::format("{{\"updated_by\":\"request {}\"}}", request.request));
  }

  void continue_cache_aside(std::uint32_t slot, const Event& response, Context& context) {
    const auto& request = work_.request(slot);
    const bool ok = response.status >= 200 && response.status < 300;
    switch (stages_[slot]) {
      case Stage::ask_cache:
        if (ok) return answer(slot, 200, Outcome::served, "cache hit: answered " + key(request), context);
        return ask(slot, database_, v1::Payload::SELECT, Stage::read_database,
                   "cache miss: " + key(request) + " -> database", context);
      case Stage::read_database:
        if (ok)
          return ask(slot, cache_, v1::Payload::SET, Stage::fill_cache,
                     fmt::format("fill the cache: SET {} (ttl {}s)", key(request), spec_.server().cache_aside().ttl_s()),
                     context, response.payload ? response.payload->value() : "");
        if (response.status == 404)
          return answer(slot, 404, Outcome::not_found, "404 " + key(request) + " not found; nothing cached", context);
        return answer(slot, response.status, Outcome::none, "database failed", context);
      case Stage::fill_cache:
        return answer(slot, 200, Outcome::served, "answered " + key(request) + " from the database", context);
      case Stage::write_database:
        if (ok) return ask(slot, cache_, v1::Payload::DEL, Stage::invalidate, "invalidate " + key(request), context);
        return answer(slot, response.status, Outcome::none, "write failed", context);
      case Stage::invalidate:
        return answer(slot, 200, Outcome::served, "written; cache entry " + key(request) + " invalidated", context);
    }
  }

  // A request whose caller has given up: answered 504 without the work, so every forwarder on
  // its way back settles its count; the caller drops it as late.
  void cancel(const Event& request, Context& context) {
    ++rejected_;
    respond(request, 504, context);
  }

  const HealthRule* health_rule() const override { return &capacity_; }

  WorkQueue work_;
  CapacityRule capacity_;
  std::uint64_t handled_ = 0;
  std::uint64_t rejected_ = 0;
  NodeIndex cache_ = kNoNode;
  NodeIndex database_ = kNoNode;
  std::vector<bool> reads_;  // per request path: a GET
  std::vector<Stage> stages_;
};

}  // namespace

std::unique_ptr<Component> make_server(const v1::Node& spec, NodeIndex index, const Topology& topology) {
  return std::make_unique<Server>(spec, index, topology);
}

namespace {

void check_server(NodeChecks& c) {
  const auto& node = c.node();
  const auto& server = node.server();
  if (!server.has_service_time())
    c.problem(c.at({}), "server.service_time", "server '" + node.id() + "' needs a service_time");
  else
    c.distribution(server.service_time(), c.at({{"server"}, {"service_time"}}), "service_time");
  if (server.has_weight() && server.weight() == 0) c.problem(c.at({{"server"}, {"weight"}}), "weight", "must be >= 1");
  if (server.has_speed() && !(server.speed() > 0)) c.problem(c.at({{"server"}, {"speed"}}), "speed", "must be > 0");
  if (!server.has_cache_aside()) return;
  const auto& handler = server.cache_aside();
  auto needs = [&](const std::string& id, v1::Node::Kind kind, const char* field) {
    const auto where = c.at({{"server"}, {"cache_aside"}, {field}});
    const std::string name = std::string("cache_aside.") + field;
    if (!c.known(id)) return c.problem(where, name, id.empty() ? "missing" : c.unknown(id)), false;
    if (c.kind_of(id) != kind) return c.problem(where, name, "'" + id + "' is not a " + v1::Node::Kind_Name(kind)), false;
    if (!c.linked(node.id(), id)) return c.problem(where, name, "'" + node.id() + "' has no link to '" + id + "'"), false;
    return true;
  };
  needs(handler.cache(), v1::Node::CACHE, "cache");
  if (needs(handler.database(), v1::Node::DATABASE, "database")) {
    const auto& tables = c.find(handler.database())->database().tables();
    if (std::none_of(tables.begin(), tables.end(), [&](const v1::Table& t) { return t.name() == handler.table(); }))
      c.problem(c.at({{"server"}, {"cache_aside"}, {"table"}}), "cache_aside.table",
                "unknown table '" + handler.table() + "' in database '" + handler.database() + "'");
  }
  if (handler.ttl_s() < 0)
    c.problem(c.at({{"server"}, {"cache_aside"}, {"ttl_s"}}), "cache_aside.ttl_s",
              "negative TTL " + fmt_number(handler.ttl_s()) + " s (0 means no expiry)");
}

const KindDescription kServer{
    .kind = v1::Node::SERVER,
    .name = "server",
    .defaults =
        [](v1::Node& node) {
          auto& server = *node.mutable_server();
          if (!server.has_capacity()) server.set_capacity(1);
          if (!server.has_queue_limit()) server.set_queue_limit(64);
          if (!server.has_weight()) server.set_weight(1);
          if (!server.has_speed()) server.set_speed(1);
        },
    .example = [](v1::Node& node) { node.mutable_server()->mutable_service_time()->set_mean_ms(10); },
    .check = check_server,
    .settable = {"capacity", "queue_limit", "service_time.", "cache_aside.ttl_s", "speed"},
    .commands = {{v1::ControlRequest::kFail, nullptr}, {v1::ControlRequest::kRestore, nullptr}},
    .metrics =
        [](const v1::NodeState& state, Time end, nlohmann::ordered_json& node) {
          node["utilization"] = std::round(utilization(state.server(), state.load(), end).value_or(0) * 1000) / 1000;
          node["max_queue"] = state.server().max_queue();
        },
};
FLOWFRAME_KIND(kServer, make_server);

}  // namespace

}  // namespace flowframe
