// Server: serves up to `capacity` requests at once, each for a sampled service time; others
// wait in a bounded FIFO queue (full: 503). Capacity 0 means down: it refuses everything and
// aborts what it held. Then it calls its dependencies (each behind its own retries, breaker and
// bulkhead) or its handler (cache-aside) before answering; its worker waits meanwhile.
#include <fmt/format.h>

#include <algorithm>
#include <deque>
#include <cmath>

#include "actors/common/breakers.hpp"
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
    configure_queue();
    configure_dependencies(topology);
    if (!spec.server().has_cache_aside()) return;
    const auto& handler = spec.server().cache_aside();
    if (!handler.cache().empty()) cache_ = topology.index_of(handler.cache());
    database_ = topology.index_of(handler.database());
    read_database_ = handler.read_database().empty() ? database_ : topology.index_of(handler.read_database());
    for (std::uint32_t path = 0; path < topology.paths().size(); ++path) {
      reads_.push_back(topology.is_read(path));
      rows_.push_back(topology.paths()[path].find("{id}") != std::string::npos);
    }
  }

  void handle(const Event& event, Context& context) override {
    if (breakers_.handle(event, context)) return;
    if (event.kind == EventKind::timer && event.status == kShedTimer) {
      ++rejected_;
      respond(event, 503, context);
      const Time waited = shed_waits_.empty() ? 0 : shed_waits_.front();
      if (!shed_waits_.empty()) shed_waits_.pop_front();
      return context.decide(Outcome::shed, kNoNode,
                            "503 shed: waited " + fmt_number(std::round(to_millis(waited))) + " ms, over the " +
                                fmt_number(spec_.server().max_queue_time_ms()) + " ms limit");
    }
    if (event.kind == EventKind::timer && (event.status == kRetryTimer || event.status == kPlaceTimer)) {
      if (const auto slot = work_.slot_of(event.arg)) return call_dependency(*slot, context);
      return context.decide(Outcome::none, kNoNode, "for a request aborted meanwhile; dropped");
    }
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
        if (spec_.server().error_rate() > 0 && context.rng().next_double() < spec_.server().error_rate())
          return answer(*slot, 500, Outcome::served, "500: failed (error rate " + fmt_number(spec_.server().error_rate()) + ")", context);
        if (!dependencies_.empty()) return next_dependency(*slot, 0, context);
        if (!spec_.server().has_cache_aside() || !rows_[work_.request(*slot).path]) return answer(*slot, 200, Outcome::served, "", context);
        return begin_cache_aside(*slot, context);
      }
      case EventKind::response: {
        const auto slot = work_.slot_of(event.arg);
        if (!slot) return context.decide(Outcome::none, kNoNode, "late answer for an aborted request; ignored");
        if (!dependencies_.empty()) return dependency_ended(*slot, event, context);
        return continue_cache_aside(*slot, event, context);
      }
      case EventKind::timeout: {
        const auto slot = work_.slot_of(event.arg);
        if (!slot) return;
        if (!dependencies_.empty()) return dependency_ended(*slot, event, context);
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
        find_kind(v1::Node::SERVER)->defaults(spec_);  // a breaker set up by this change gets its defaults
        configure_dependencies(context.topology());
        work_.set_service_time(params.service_time());
        work_.set_speed(params.speed());
        configure_queue();
        break;
      }
      default:
        return "a server has no health to set";
    }
    capacity_.apply(action);
    const auto capacity = capacity_.capacity();
    params.set_capacity(capacity);
    const auto drop = [&](const Event& request) { reject(request, Outcome::aborted, context); };
    if (capacity == 0) {
      // Every call it held is aborted: their answers will be ignored, so their places and probes return.
      for (auto& dependency : dependencies_)
        if (dependency.bulkhead) dependency.bulkhead->clear();
      for (auto& calling : calling_) {
        const auto& dependency = dependencies_[calling.dependency];
        if (calling.in_flight && calling.epoch && dependency.breaker) breakers_.release(*dependency.breaker, *calling.epoch);
        calling = Calling{};
      }
    }
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
    server.set_shed(work_.shed());
    server.set_cancelled(work_.cancelled());
    breakers_.snapshot(state);
    for (const auto& dependency : dependencies_)
      if (dependency.bulkhead) dependency.bulkhead->snapshot(*state.add_bulkheads());
    // One retry state for all its dependencies: their counts add up.
    v1::RetryState retries;
    for (const auto& dependency : dependencies_)
      if (dependency.retrier.enabled()) dependency.retrier.snapshot(retries);
    if (retries.first_attempts() > 0) *state.mutable_retries() = retries;
  }

  bool rich() const override { return !breakers_.empty() || has_bulkheads_; }
  std::size_t state_size_hint() const override { return 64 + 8 * breakers_.cells(); }

 private:
  // Where a cache-aside request is, per slot.
  enum class Stage { ask_cache, read_database, fill_cache, write_database, invalidate };

  // Answers the slot's request and frees the slot; `refused`: it was turned away, not served.
  void answer(std::uint32_t slot, std::uint16_t status, Outcome outcome, std::string_view note, Context& context,
              bool refused = false, std::shared_ptr<const v1::Payload> payload = nullptr) {
    ++(refused ? rejected_ : handled_);
    respond(work_.request(slot), status, context, 0, std::move(payload));
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
    if (reads_[request.path] && cache_ == kNoNode) return read_row(slot, "", context);
    if (reads_[request.path])
      return ask(slot, cache_, v1::Payload::GET, Stage::ask_cache, "GET " + key(request) + " from the cache", context);
    ask(slot, database_, v1::Payload::UPDATE, Stage::write_database,
        fmt::format("UPDATE {}/{} in the database", spec_.server().cache_aside().table(), request.id), context,
        fmt::format("{{\"updated_by\":\"request {}\"}}", request.request));
  }

  void read_row(std::uint32_t slot, std::string_view why, Context& context) {
    const auto& request = work_.request(slot);
    const auto& table = spec_.server().cache_aside().table();
    ask(slot, read_database_, v1::Payload::SELECT, Stage::read_database,
        fmt::format("{}SELECT {}/{} from {}", why, table, request.id, context.topology().spec(read_database_).id()), context);
  }

  // The row's version from the database's answer, for the client (its session token).
  static std::shared_ptr<const v1::Payload> version_of(const Event& response) {
    if (!response.payload || !response.payload->has_version()) return nullptr;
    auto payload = std::make_shared<v1::Payload>();
    payload->set_version(response.payload->version());
    return payload;
  }

  void continue_cache_aside(std::uint32_t slot, const Event& response, Context& context) {
    const auto& request = work_.request(slot);
    const bool ok = response.status >= 200 && response.status < 300;
    switch (stages_[slot]) {
      case Stage::ask_cache:
        if (ok) return answer(slot, 200, Outcome::served, "cache hit: answered " + key(request), context);
        return read_row(slot, "cache miss: " + key(request) + "; ", context);
      case Stage::read_database:
        if (ok && cache_ == kNoNode)
          return answer(slot, 200, Outcome::served, "answered from the database", context, false, version_of(response));
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
        if (ok && cache_ == kNoNode) return answer(slot, 200, Outcome::served, "written", context, false, version_of(response));
        if (ok) return ask(slot, cache_, v1::Payload::DEL, Stage::invalidate, "invalidate " + key(request), context);
        return answer(slot, response.status, Outcome::none, "write failed", context);
      case Stage::invalidate:
        return answer(slot, 200, Outcome::served, "written; cache entry " + key(request) + " invalidated", context);
    }
  }

  // ---- dependencies ----

  struct Dependency {
    NodeIndex node;
    std::vector<bool> on_path;  // per request path: whether it calls this dependency
    Time timeout;               // 0: the node's timeout_ms
    Retrier retrier;
    std::optional<std::size_t> breaker;  // in breakers_
    std::optional<Bulkhead> bulkhead;
  };
  // Where a slot's request is among its dependencies.
  struct Calling {
    std::size_t dependency = 0;
    std::uint32_t attempt = 1;
    Time sent = 0;
    Time delay = 0;  // the backoff before this attempt
    std::optional<std::uint32_t> epoch;
    bool waiting = false;     // for a place in the bulkhead
    bool in_bulkhead = false; // holds a place (also while its call waits for the timer that sends it)
    bool in_flight = false;   // sent, not yet answered
    bool degraded = false;    // a fallback answered for a dependency
  };

  // The first dependency from `from` on that the slot's request path uses; none left: answer.
  void next_dependency(std::uint32_t slot, std::size_t from, Context& context) {
    if (slot >= calling_.size()) calling_.resize(slot + 1);
    const bool degraded = from > 0 && calling_[slot].degraded;
    const auto path = work_.request(slot).path;
    for (std::size_t d = from; d < dependencies_.size(); ++d) {
      if (!dependencies_[d].on_path[path]) continue;
      calling_[slot] = Calling{d, 1, 0, 0, std::nullopt, false, false, false, degraded};
      if (dependencies_[d].retrier.enabled()) dependencies_[d].retrier.on_first_attempt(context.now());
      return call_dependency(slot, context);
    }
    answer(slot, degraded ? 203 : 200, Outcome::served, degraded ? "203: answered with a fallback's value" : "", context);
  }

  std::string dependency_id(const Dependency& dependency, const Context& context) const {
    return context.topology().spec(dependency.node).id();
  }

  // One attempt at the slot's present dependency: through its breaker and bulkhead, then sent.
  void call_dependency(std::uint32_t slot, Context& context) {
    auto& calling = calling_[slot];
    auto& dependency = dependencies_[calling.dependency];
    // A place in the bulkhead first (a waiting call comes back here with its place, from a timer), then
    // the breaker's permission, so a permission is only taken for a call that is made.
    if (dependency.bulkhead && !calling.in_bulkhead) {
      switch (dependency.bulkhead->enter(work_.token(slot))) {
        case Bulkhead::Entry::full:
          return answer(slot, 503, Outcome::bulkhead_full,
                        "503: the bulkhead to " + dependency_id(dependency, context) + " and its queue are full", context,
                        true);
        case Bulkhead::Entry::wait:
          calling.waiting = true;
          return context.decide(Outcome::queued, dependency.node,
                                "waits for a place in the bulkhead to " + dependency_id(dependency, context));
        case Bulkhead::Entry::enter:
          calling.in_bulkhead = true;
          break;
      }
    }
    calling.waiting = false;
    if (dependency.breaker) {
      calling.epoch = breakers_.acquire(*dependency.breaker);
      if (!calling.epoch) {
        release_place(calling, context);
        if (calling.attempt > 1) dependency.retrier.retry_not_sent();
        std::string how;
        const auto status = breakers_.fallback(*dependency.breaker, request_key(work_.request(slot)), how);
        const std::string note = breakers_.describe(*dependency.breaker, context) + ": " + how;
        if (status != 203) {
          return answer(slot, status, Outcome::short_circuited, note, context, true);
        }
        calling.degraded = true;
        context.decide(Outcome::short_circuited, dependency.node, note);
        return next_dependency(slot, calling.dependency + 1, context);
      }
    }
    calling.sent = context.now();
    calling.in_flight = true;
    Event request = sub_request(work_.request(slot), work_.token(slot), nullptr);
    if (!drops_expired()) request.deadline = kTimeNever;  // the caller's deadline did not travel with it
    context.call(dependency.node, request, dependency.timeout > 0 ? dependency.timeout : -1);
    std::string note = "calls " + dependency_id(dependency, context);
    if (dependency.retrier.enabled())
      note += fmt::format(" (attempt {} of {})", calling.attempt, dependency.retrier.max_attempts());
    context.decide(Outcome::delegated, dependency.node, note);
  }

  // Gives the slot's bulkhead place back; the first caller waiting for one gets it, and its call
  // goes out in a frame of its own right after.
  void release_place(Calling& calling, Context& context) {
    if (!calling.in_bulkhead) return;
    calling.in_bulkhead = false;
    auto& bulkhead = *dependencies_[calling.dependency].bulkhead;
    const auto next = bulkhead.leave([&](std::int64_t token) {
      const auto waiting = work_.slot_of(token);
      return waiting && *waiting < calling_.size() && calling_[*waiting].waiting;
    });
    if (!next) return;
    calling_[*work_.slot_of(*next)].in_bulkhead = true;
    Event place;
    place.kind = EventKind::timer;
    place.status = kPlaceTimer;
    place.arg = *next;
    const auto& waiter = work_.request(*work_.slot_of(*next));
    place.client = waiter.client;
    place.request = waiter.request;
    place.path = waiter.path;
    context.schedule(1, place);
  }

  // A dependency answered or timed out: record, free its bulkhead place, then go on, retry or answer.
  void dependency_ended(std::uint32_t slot, const Event& event, Context& context) {
    auto& calling = calling_[slot];
    auto& dependency = dependencies_[calling.dependency];
    const bool timed_out = event.kind == EventKind::timeout;
    const std::uint16_t status = timed_out ? 504 : event.status;
    calling.in_flight = false;
    if (dependency.breaker && calling.epoch)
      breakers_.record(*dependency.breaker, *calling.epoch, status, timed_out, context.now() - calling.sent,
                       request_key(work_.request(slot)), context);
    release_place(calling, context);
    if (!timed_out && status < 400) return next_dependency(slot, calling.dependency + 1, context);
    const auto decision =
        retry_after_failure(dependency.retrier, event, status, calling.attempt, calling.delay, work_.token(slot), context);
    if (decision.retry)
      return context.decide(Outcome::retry_scheduled, dependency.node, dependency_id(dependency, context) + " " + decision.why);
    if (!decision.why.empty()) return answer(slot, status, Outcome::gave_up, decision.why, context);
    answer(slot, status, timed_out ? Outcome::timed_out : Outcome::none,
           timed_out ? "504: " + dependency_id(dependency, context) + " did not answer in time"
                     : std::to_string(status) + " from " + dependency_id(dependency, context),
           context);
  }

  // Deadlines and load shedding as the parameters say (again after a live change).
  void configure_queue() {
    if (drops_expired()) work_.on_cancel([this](const Event& request, Context& context) { cancel(request, context); });
    else work_.on_cancel(nullptr);
    work_.set_shedding(from_millis(spec_.server().max_queue_time_ms()), spec_.server().lifo_above(),
                       [this](const Event& request, Context& context) {
                         shed_waits_.push_back(context.now() - request.deliver);  // `deliver`: when it arrived
                         Event shed = request;  // answered by its own frame, right after
                         shed.kind = EventKind::timer;
                         shed.status = kShedTimer;
                         context.schedule(1, shed);
                       });
  }

  // Dependencies as the parameters say; again after a live change (their node and paths stay).
  void configure_dependencies(const Topology& topology) {
    const auto& written = spec_.server().dependencies();
    for (int d = 0; d < written.size(); ++d) {
      const auto& params = written[d];
      if (static_cast<std::size_t>(d) == dependencies_.size()) {
        Dependency dependency{topology.index_of(params.node()), {}, 0, Retrier(params.retry()), {}, {}};
        for (const auto& path : topology.paths())
          dependency.on_path.push_back(params.paths().empty() ||
                                       std::find(params.paths().begin(), params.paths().end(), path) != params.paths().end());
        dependencies_.push_back(std::move(dependency));
      }
      auto& dependency = dependencies_[static_cast<std::size_t>(d)];
      dependency.timeout = from_millis(params.timeout_ms());
      dependency.retrier.reconfigure(params.retry());
      if (params.has_breaker()) {
        if (!dependency.breaker) {
          dependency.breaker = breakers_.add(params.breaker(), dependency.node);
        } else {
          breakers_.at(*dependency.breaker).reconfigure(params.breaker());
        }
      }
      if (params.has_bulkhead()) {
        if (dependency.bulkhead) dependency.bulkhead->reconfigure(params.bulkhead());
        else dependency.bulkhead.emplace(params.bulkhead(), dependency.node);
        has_bulkheads_ = true;
      }
    }
  }

  bool drops_expired() const { return !spec_.server().has_drop_expired() || spec_.server().drop_expired(); }

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
  NodeIndex read_database_ = kNoNode;
  std::vector<bool> reads_;  // per request path: a GET
  std::vector<bool> rows_;   // per request path: names a row ({id}); others (a health probe) the server answers itself
  std::vector<Stage> stages_;
  std::vector<Dependency> dependencies_;
  std::vector<Calling> calling_;  // per slot
  std::deque<Time> shed_waits_;   // how long each shed request had waited, until its frame
  Breakers breakers_;
  bool has_bulkheads_ = false;
  // Timers of its own (their `status`; resilience's are 1-3): answers a request shed from the queue;
  // sends a call that got a bulkhead place.
  static constexpr std::uint16_t kShedTimer = 4;
  static constexpr std::uint16_t kPlaceTimer = 5;
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
  if (!(server.error_rate() >= 0 && server.error_rate() <= 1))
    c.problem(c.at({{"server"}, {"error_rate"}}), "error_rate", "a share of requests: 0 to 1");
  if (!(server.max_queue_time_ms() >= 0 && server.max_queue_time_ms() <= kDayMs))
    c.problem(c.at({{"server"}, {"max_queue_time_ms"}}), "max_queue_time_ms", "must be 0 to a day (86400000 ms)");
  if (server.has_cache_aside() && server.dependencies_size() > 0)
    c.problem(c.at({{"server"}, {"dependencies", 0}}), "dependencies",
              "a server calls either its dependencies or a cache_aside handler, not both");
  for (int d = 0; d < server.dependencies_size(); ++d) {
    const auto& dependency = server.dependencies(d);
    const std::string name = "dependencies[" + std::to_string(d) + "].";
    auto where = [&](const char* field) { return c.at({{"server"}, {"dependencies", d}, {field}}); };
    const auto& id = dependency.node();
    if (!c.known(id)) c.problem(where("node"), name + "node", id.empty() ? "missing: name the node it calls" : c.unknown(id));
    else if (!c.linked(node.id(), id)) c.problem(where("node"), name + "node", "'" + node.id() + "' has no link to '" + id + "'");
    else if (const auto kind = c.kind_of(id);
             kind != v1::Node::SERVER && kind != v1::Node::LOAD_BALANCER && kind != v1::Node::API_GATEWAY)
      c.problem(where("node"), name + "node",
                "'" + id + "' is a " + v1::Node::Kind_Name(kind) + ": a dependency is a SERVER, LOAD_BALANCER or API_GATEWAY");
    const auto sent = c.request_paths();
    for (int p = 0; p < dependency.paths_size(); ++p)
      if (std::find(sent.begin(), sent.end(), dependency.paths(p)) == sent.end())
        c.problem(c.at({{"server"}, {"dependencies", d}, {"paths", p}}), name + "paths",
                  "no request has the path '" + dependency.paths(p) + "'; the workload sends " + join(sent, ", "));
    if (!(dependency.timeout_ms() >= 0 && dependency.timeout_ms() <= kDayMs))
      c.problem(where("timeout_ms"), name + "timeout_ms", "must be 0 to a day (86400000 ms)");
    const FieldPath here{{"server"}, {"dependencies", d}};
    auto below = [&](const char* field) {
      auto path = here;
      path.push_back({field});
      return path;
    };
    if (dependency.has_retry()) check_retry(c, dependency.retry(), below("retry"), name + "retry.");
    if (dependency.has_breaker()) check_breaker(c, dependency.breaker(), below("breaker"), name + "breaker.");
    if (dependency.has_bulkhead()) check_bulkhead(c, dependency.bulkhead(), below("bulkhead"), name + "bulkhead.");
  }
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
  if (!handler.cache().empty()) needs(handler.cache(), v1::Node::CACHE, "cache");
  if (!handler.read_database().empty() && needs(handler.read_database(), v1::Node::DATABASE, "read_database") &&
      handler.read_database() != handler.database() &&
      c.find(handler.read_database())->database().replica_of() != handler.database())
    c.problem(c.at({{"server"}, {"cache_aside"}, {"read_database"}}), "cache_aside.read_database",
              "'" + handler.read_database() + "' is not a replica of '" + handler.database() + "'");
  if (needs(handler.database(), v1::Node::DATABASE, "database")) {
    const auto& database = c.find(handler.database())->database();
    if (!database.replica_of().empty())
      c.problem(c.at({{"server"}, {"cache_aside"}, {"database"}}), "cache_aside.database",
                "'" + handler.database() + "' is a read-only replica of '" + database.replica_of() +
                    "': writes go to the primary; name the replica in read_database");
    const auto& tables = database.tables();
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
          if (!server.has_drop_expired()) server.set_drop_expired(true);
          for (auto& dependency : *server.mutable_dependencies()) {
            if (dependency.has_retry()) fill_defaults(*dependency.mutable_retry());
            if (dependency.has_breaker()) fill_defaults(*dependency.mutable_breaker());
          }
        },
    .example = [](v1::Node& node) { node.mutable_server()->mutable_service_time()->set_mean_ms(10); },
    .check = check_server,
    .settable = {"capacity", "queue_limit", "service_time.", "cache_aside.ttl_s", "speed", "max_queue_time_ms",
                 "lifo_above", "drop_expired", "error_rate", "dependencies["},
    .fixed = {"node", "paths"},  // a dependency's
    .commands = {{v1::ControlRequest::kFail, nullptr}, {v1::ControlRequest::kRestore, nullptr}},
    .metrics =
        [](const v1::NodeState& state, Time end, nlohmann::ordered_json& node) {
          node["utilization"] = std::round(utilization(state.server(), state.load(), end).value_or(0) * 1000) / 1000;
          node["max_queue"] = state.server().max_queue();
          if (state.server().shed()) node["shed"] = state.server().shed();
          if (state.server().cancelled()) node["cancelled"] = state.server().cancelled();
        },
    .detail =
        [](const nlohmann::ordered_json& node, std::vector<std::string>& parts) {
          if (node.contains("shed")) parts.push_back(fmt::format("{} shed", node["shed"].get<std::uint64_t>()));
          if (node.contains("cancelled")) parts.push_back(fmt::format("{} cancelled (deadline)", node["cancelled"].get<std::uint64_t>()));
        },
};
FLOWFRAME_KIND(kServer, make_server);

}  // namespace

}  // namespace flowframe
