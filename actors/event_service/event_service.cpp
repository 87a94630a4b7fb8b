// Event service: one service of a choreographed saga. There is no orchestrator: each service
// consumes the saga's topic in a consumer group of its own and reacts to the events it knows. A
// reaction takes the service's action for that saga once (its effects are keyed by saga, so a
// duplicated event takes no new effect) and, in the same local transaction, writes the event that
// follows into its outbox. A relay polls the outbox and publishes each event with acks=all until it
// is acknowledged (at least once: a publish whose answer was lost is published again, and the
// services downstream see a repeat). Without the outbox (`outbox: false`: a dual write) the event is
// published once straight after the effect: a publish that fails, or that a crash catches in flight,
// is not tried again, as nothing durable remembers it, and its saga never ends.
//
// The service that starts sagas (`start_event`) takes requests, answers 202 once the first event is
// in its outbox, and follows each saga to its end through the reactions marked `ends`.
//
// Every event carries the request that started its saga (client and number) and names itself in its
// path ("EVENT StockReserved"), so a saga is traced across services like a request.
#include <fmt/format.h>

#include <deque>
#include <map>
#include <set>

#include "actors/common/effects.hpp"
#include "actors/consumer/log_consumer.hpp"

namespace flowframe {
namespace {

constexpr std::uint16_t kRelayTimer = 10;
constexpr std::int64_t kPublishToken = -2;  // a publish's `arg` is this minus its outbox number
constexpr std::size_t kPublishesInFlight = 16;
constexpr std::size_t kShownOutbox = 8;
constexpr std::size_t kShownUnfinishedSagas = 8;
constexpr std::size_t kShownEndedSagas = 6;
constexpr std::string_view kEventMethod = "EVENT ";
constexpr Time kSkipTime = kNanosPerMilli / 50;  // to read an event it does not react to

std::string event_path(const std::string& event) { return std::string(kEventMethod) + event; }

using Phase = v1::SagaInstance::Phase;

class EventService final : public LogConsumer {
 public:
  EventService(const v1::Node& spec, NodeIndex index, const Topology& topology)
      : LogConsumer(spec, index, topology, spec.event_service().subscription()),
        relay_interval_(from_millis(spec.event_service().relay_interval_ms())) {
    for (const auto& path : topology.paths())
      if (path.rfind(kEventMethod, 0) == 0) events_[path.substr(kEventMethod.size())] = topology.path_index(path);
  }

  void start(Context& context) override {
    LogConsumer::start(context);
    // Restarted after a crash: what its outbox holds is published again.
    if (!outbox_.empty()) relay_later(context);
  }

  void handle(const Event& event, Context& context) override {
    if (event.kind == EventKind::request && event.src != broker_) return begin_saga(event, context);
    if ((event.kind == EventKind::response || event.kind == EventKind::timeout) && event.arg <= kPublishToken)
      return published(event, context);
    if (event.kind == EventKind::timer && event.status == kRelayTimer) return relay(context);
    LogConsumer::handle(event, context);
  }

  // Its actions' refusals and its relay's pace may change during a run.
  std::string apply(ControlAction& action, Context&) override {
    auto& params = *spec_.mutable_event_service();
    action.previous = read_setting(params, action.field);
    auto error = apply_setting(params, action.field, action.value);
    relay_interval_ = from_millis(params.relay_interval_ms());
    return error;
  }

  // Its effects, sagas and outbox are its database; publishes in flight are not. Without an outbox
  // an event not yet acknowledged is gone.
  void survive_crash(Component& fresh) const override {
    LogConsumer::survive_crash(fresh);
    auto& next = static_cast<EventService&>(fresh);
    next.effects_ = effects_;
    next.sagas_ = sagas_;
    next.ended_ = ended_;
    next.reacted_ = reacted_;
    next.ended_order_ = ended_order_;
    next.committed_ = committed_;
    next.compensated_ = compensated_;
    next.next_entry_ = next_entry_;
    next.published_ = published_;
    next.republished_ = republished_;
    next.given_up_ = given_up_;
    for (const auto& [number, entry] : outbox_) {
      if (!entry.durable) {
        ++next.given_up_;
        continue;
      }
      auto& kept = next.outbox_[number];
      kept = entry;
      kept.in_flight = false;
    }
  }

  std::uint32_t queue() const override { return LogConsumer::queue() + static_cast<std::uint32_t>(outbox_.size()); }
  std::size_t state_size_hint() const override {
    return LogConsumer::state_size_hint() + effects_.size_hint() + 64 * (std::min(outbox_.size(), kShownOutbox) + kShownUnfinishedSagas + kShownEndedSagas);
  }

  void snapshot(v1::NodeState& state) const override {
    LogConsumer::snapshot(state);
    if (!service_params().actions().empty()) effects_.snapshot(*state.mutable_participant());
    auto& out = *state.mutable_event_service();
    out.set_unpublished(outbox_.size());
    out.set_published(published_);
    out.set_republished(republished_);
    out.set_given_up(given_up_);
    std::size_t shown = 0;
    for (auto it = outbox_.begin(); it != outbox_.end() && shown < kShownOutbox; ++it, ++shown) {
      auto& entry = *out.add_outbox();
      entry.set_saga(it->second.saga);
      entry.set_event(it->second.event);
      entry.set_written_ns(it->second.written);
      entry.set_attempts(it->second.attempts);
    }
    if (service_params().start_event().empty()) return;
    auto& sagas = *state.mutable_saga_orchestrator();
    sagas.set_committed(committed_);
    sagas.set_compensated(compensated_);
    sagas.set_running(sagas_.size());
    shown = 0;
    for (auto it = sagas_.begin(); it != sagas_.end() && shown < kShownUnfinishedSagas; ++it, ++shown) *sagas.add_sagas() = it->second;
    for (auto it = ended_order_.rbegin(); it != ended_order_.rend(); ++it) *sagas.add_sagas() = *it;
  }

 private:
  const v1::EventServiceParams& service_params() const { return spec_.event_service(); }

  using SagaId = std::pair<NodeIndex, std::uint64_t>;  // the request that started it
  struct Entry {
    std::string saga;  // the record key: every event of one saga goes to the same partition, in order
    std::string event;
    NodeIndex client = 0;
    std::uint64_t request = 0;
    Time written = 0;
    std::uint32_t attempts = 0;
    bool in_flight = false;
    bool durable = true;  // in the outbox (false: a dual write's publish, held in memory only)
  };

  static std::string saga_key(NodeIndex client, std::uint64_t request, Context& context) {
    return fmt::format("{}#{}", context.topology().spec(client).id(), request);
  }

  // A request starts a saga: recorded, its first event in the outbox, answered 202. A caller asking
  // again for the same request is answered again without a second saga.
  void begin_saga(const Event& request, Context& context) {
    const Time processing = context.work(service_);
    if (service_params().start_event().empty()) {
      respond(request, 404, context, processing);
      return context.decide(Outcome::not_found, kNoNode, "404 this service starts no saga: it only reacts to events");
    }
    const SagaId id{request.client, request.request};
    const auto key = saga_key(id.first, id.second, context);
    respond(request, 202, context, processing);
    if (sagas_.count(id) || ended_.count(id)) return context.decide(Outcome::served, kNoNode, "202 again: saga " + key + " was started before");
    auto& saga = sagas_[id];
    saga.set_client(id.first);
    saga.set_request(id.second);
    saga.set_started_ns(context.now());
    saga.set_why(service_params().start_event());
    write(key, service_params().start_event(), request.client, request.request, context);
    context.decide(Outcome::delegated, broker_,
                   fmt::format("saga {} starts: {} {}; answered 202", key, service_params().start_event(), written_how()));
  }

  std::string written_how() const { return outbox() ? "into its outbox in the same local transaction" : "published at once (no outbox)"; }
  bool outbox() const { return service_params().outbox(); }

  // Writes an event: into the outbox for the relay, or (no outbox) straight to the broker.
  void write(const std::string& saga, const std::string& event, NodeIndex client, std::uint64_t request, Context& context) {
    const auto number = next_entry_++;
    auto& entry = outbox_[number];
    entry = Entry{saga, event, client, request, context.now(), 0, false, outbox()};
    if (outbox()) return relay_later(context);
    publish(number, entry, context);
  }

  void relay_later(Context& context, Time delay = 0) {
    if (relay_pending_) return;
    relay_pending_ = true;
    context.schedule(delay > 0 ? delay : relay_interval_, timer_event(kRelayTimer));
  }

  // The relay's poll: what the outbox holds and is not on its way is published, oldest first.
  void relay(Context& context) {
    relay_pending_ = false;
    std::vector<std::string> sent;
    std::size_t in_flight = 0;
    for (auto& [number, entry] : outbox_) {
      if (entry.in_flight) {
        ++in_flight;
        continue;
      }
      if (in_flight >= kPublishesInFlight) break;
      if (entry.attempts > 0) ++republished_;
      publish(number, entry, context);
      sent.push_back(entry.event + " " + entry.saga);
      ++in_flight;
    }
    // More than it may have in flight: it polls again.
    if (std::any_of(outbox_.begin(), outbox_.end(), [](const auto& entry) { return !entry.second.in_flight; })) relay_later(context);
    if (sent.empty()) return context.decide(Outcome::none, kNoNode, "relay: nothing to publish");
    const auto more = sent.size() > 3 ? fmt::format(" and {} more", sent.size() - 3) : "";
    sent.resize(std::min<std::size_t>(sent.size(), 3));
    context.decide(Outcome::delegated, broker_, fmt::format("relay publishes {}{} from its outbox", flowframe::join(sent, ", "), more));
  }

  void publish(std::uint64_t number, Entry& entry, Context& context) {
    entry.in_flight = true;
    ++entry.attempts;
    const auto partitions = layout_.partitions(params_.topic());
    const auto partition = messaging::partition_for_key(entry.saga, partitions);
    auto payload = std::make_shared<v1::Payload>();
    payload->set_op(v1::Payload::PRODUCE);
    payload->set_topic(params_.topic());
    payload->set_key(entry.saga);
    payload->set_acks(v1::Publish::ALL);
    payload->set_partition(partition);
    Event produce;
    produce.kind = EventKind::request;
    produce.client = entry.client;
    produce.request = entry.request;
    produce.created = context.now();
    produce.path = events_.at(entry.event);
    produce.partition = first_ + partition + 1;
    produce.arg = kPublishToken - static_cast<std::int64_t>(number);
    produce.payload = std::move(payload);
    context.call(broker_, produce, from_millis(std::max(1000.0, 2 * config_.fetch_wait_ms())));
  }

  // The broker's answer to a publish: acknowledged (out of the outbox), or to be tried again at the
  // next poll (at the replica a "not the leader" answer names, as producers do).
  void published(const Event& answer, Context& context) {
    const auto number = static_cast<std::uint64_t>(kPublishToken - answer.arg);
    const auto found = outbox_.find(number);
    if (found == outbox_.end() || !found->second.in_flight)
      return context.decide(Outcome::late, kNoNode, "an answer to a publish tried again since: dropped");
    auto& entry = found->second;
    if (answer.kind == EventKind::response && answer.status == 201) {
      const auto what = fmt::format("{} {} published (acks=all) after {}", entry.event, entry.saga, duration_text(context.now() - entry.written));
      outbox_.erase(found);
      ++published_;
      return context.decide(Outcome::served, kNoNode, what + (outbox() ? ": out of the outbox" : ""));
    }
    const auto why = answer.kind == EventKind::timeout ? std::string("no answer") : std::to_string(answer.status);
    if (!entry.durable) {
      // A dual write: nothing durable remembers the event, so there is nothing to publish again from.
      const auto what = fmt::format("{} {} not acknowledged ({}): given up, nothing durable remembers it to publish again (no outbox)", entry.event, entry.saga, why);
      outbox_.erase(found);
      ++given_up_;
      return context.decide(Outcome::gave_up, kNoNode, what);
    }
    entry.in_flight = false;
    if (answer.kind == EventKind::response && answer.payload && answer.payload->op() == v1::Payload::NOT_LEADER && answer.payload->node() != 0 &&
        answer.payload->node() != broker_)
      not_the_leader(answer.payload->node(), context);
    const auto failures = std::min<std::uint32_t>(entry.attempts, 5);
    relay_later(context, relay_interval_ << failures);
    context.decide(answer.kind == EventKind::timeout ? Outcome::timed_out : Outcome::refused, kNoNode,
                   fmt::format("{} {} not acknowledged ({}): the relay publishes it again in {}", entry.event, entry.saga, why,
                               duration_text(relay_interval_ << failures)));
  }

  // An event it does not react to is read and skipped: its service time is a reaction's.
  Time processing_time(const v1::LogRecord& record, Context& context) override {
    return reaction_to(event_of(record, context)) ? context.work(service_) : kSkipTime;
  }

  static std::string event_of(const v1::LogRecord& record, Context& context) {
    const auto& path = context.topology().paths()[record.path()];
    return path.rfind(kEventMethod, 0) == 0 ? path.substr(kEventMethod.size()) : path;
  }

  const v1::EventReaction* reaction_to(const std::string& event) const {
    for (const auto& reaction : service_params().reactions())
      if (reaction.on() == event) return &reaction;
    return nullptr;
  }

  // A record processed: the reaction to its event, if it has one, in one local transaction with the
  // event that follows.
  void process(const Event& done, Context& context) override {
    const auto record = current_->record;
    finish(Written::done, context);
    const auto event = event_of(record, context);
    const auto* reaction = reaction_to(event);
    if (!reaction) return context.decide(Outcome::served, broker_, event + " " + record.key() + ": not an event it reacts to");
    const SagaId id{done.client, done.request};
    std::string emit = reaction->emit();
    std::string what;
    Outcome outcome = Outcome::served;
    if (!reaction->action().empty()) {
      bool undo = false;
      const auto* action = find_action(service_params().actions(), reaction->action(), &undo);
      const auto key = record.key() + "/" + action->name();
      const auto result = undo ? effects_.undo(*action, key, context.now()) : effects_.act(*action, key, context.now());
      outcome = result.outcome;
      what = result.note;
      // A repeated event (published twice, or processed again after a crash) takes no new effect,
      // and what followed it is already in the outbox.
      if (result.repeat) return context.decide(outcome, kNoNode, event + ": " + what + " (a repeat: nothing follows)");
      if (result.outcome == Outcome::step_refused) emit = reaction->emit_refused();
    }
    if (reaction->action().empty() && !reacted_.insert({record.key(), event}).second)
      return context.decide(Outcome::step_repeated, kNoNode, event + " " + record.key() + ": a repeat, reacted to before");
    if (reaction->ends() != v1::EventReaction::NONE) {
      const auto ended = end_saga(id, *reaction, event, context);
      if (!ended) return context.decide(Outcome::step_repeated, kNoNode, event + " " + record.key() + ": its saga has ended already");
      outcome = *ended;
      what = fmt::format("saga {} {} after {}", record.key(), outcome == Outcome::saga_committed ? "committed" : "compensated", event);
    }
    if (!emit.empty()) {
      write(record.key(), emit, done.client, done.request, context);
      what += fmt::format("{}{} {}", what.empty() ? "" : "; ", emit, written_how());
    }
    context.decide(outcome, kNoNode, fmt::format("{}: {}", event, what.empty() ? "nothing follows" : what));
  }

  std::optional<Outcome> end_saga(const SagaId& id, const v1::EventReaction& reaction, const std::string& event, Context& context) {
    const auto found = sagas_.find(id);
    if (found == sagas_.end()) return std::nullopt;
    auto saga = found->second;
    sagas_.erase(found);
    ended_.insert(id);
    const bool committed = reaction.ends() == v1::EventReaction::COMMITTED;
    ++(committed ? committed_ : compensated_);
    saga.set_phase(committed ? v1::SagaInstance::COMMITTED : v1::SagaInstance::COMPENSATED);
    saga.set_ended_ns(context.now());
    saga.set_why(event);
    ended_order_.push_back(saga);
    if (ended_order_.size() > kShownEndedSagas) ended_order_.pop_front();
    return committed ? Outcome::saga_committed : Outcome::saga_compensated;
  }

  Time relay_interval_;
  std::map<std::string, std::uint32_t> events_;  // event name -> its path
  Effects effects_;
  std::map<SagaId, v1::SagaInstance> sagas_;  // started here and not ended
  std::set<SagaId> ended_;
  std::set<std::pair<std::string, std::string>> reacted_;  // (saga, event) of reactions without an action
  std::deque<v1::SagaInstance> ended_order_;  // the latest few ended, for the inspector
  std::uint64_t committed_ = 0, compensated_ = 0;
  std::map<std::uint64_t, Entry> outbox_;  // by number, oldest first
  std::uint64_t next_entry_ = 0;
  bool relay_pending_ = false;
  std::uint64_t published_ = 0, republished_ = 0, given_up_ = 0;
};

}  // namespace

std::unique_ptr<Component> make_event_service(const v1::Node& spec, NodeIndex index, const Topology& topology) {
  return std::make_unique<EventService>(spec, index, topology);
}

namespace {

void check_event_service(NodeChecks& c) {
  const auto& params = c.node().event_service();
  check_log_subscription(c, params.subscription(), {{"event_service"}, {"subscription"}}, "event_service.subscription");
  if (!params.subscription().database().empty())
    c.problem(c.at({{"event_service"}, {"subscription"}, {"database"}}), "event_service.subscription.database",
              "an event service keeps its effects and outbox itself: no database");
  if (!params.actions().empty()) check_saga_actions(c, params.actions(), "event_service");
  std::set<std::string> reacts_to;
  for (int i = 0; i < params.reactions_size(); ++i) {
    const auto& reaction = params.reactions(i);
    const auto at = [&](const char* field) { return c.at({{"event_service"}, {"reactions", i}, {field}}); };
    if (reaction.on().empty() || !reacts_to.insert(reaction.on()).second)
      c.problem(at("on"), "event_service.reactions.on",
                reaction.on().empty() ? "missing: the event it reacts to" : "'" + reaction.on() + "' has a reaction already");
    bool undo = false;
    const auto* action = reaction.action().empty() ? nullptr : find_action(params.actions(), reaction.action(), &undo);
    if (!reaction.action().empty() && !action)
      c.problem(at("action"), "event_service.reactions.action", "'" + reaction.action() + "' is none of its actions or their undo");
    if (!reaction.emit_refused().empty() && (!action || undo || action->refuse_every() == 0))
      c.problem(at("emit_refused"), "event_service.reactions.emit_refused",
                "only an action that can be refused (refuse_every) emits on refusal");
    if (!reaction.on().empty() && (reaction.on() == reaction.emit() || reaction.on() == reaction.emit_refused()))
      c.problem(at("emit"), "event_service.reactions.emit", "'" + reaction.on() + "' would react to itself for ever");
    if (action && !undo && action->refuse_every() > 0 && reaction.emit_refused().empty())
      c.problem(at("emit_refused"), "event_service.reactions.emit_refused",
                "missing: '" + action->name() + "' can be refused (refuse_every), and a refusal must tell the saga (its compensation)");
    if (reaction.ends() != v1::EventReaction::NONE && params.start_event().empty())
      c.problem(at("ends"), "event_service.reactions.ends", "only the service that starts sagas (start_event) sees them end");
  }
  if (c.node().replicas() > 0)
    c.problem(c.at({{"replicas"}}), "replicas",
              "an event service keeps its effects and outbox itself: replicas would each need the others' (a shared database is not modelled)");
  for (const auto* other : c.nodes())
    if (other->id() != c.node().id() && other->kind() == v1::Node::EVENT_SERVICE &&
        other->event_service().subscription().group() == params.subscription().group() &&
        other->event_service().subscription().broker() == params.subscription().broker())
      c.problem(c.at({{"event_service"}, {"subscription"}, {"group"}}), "event_service.subscription.group",
                "'" + other->id() + "' consumes in group '" + params.subscription().group() + "' too: every event service needs a group of its own");
  if (params.reactions().empty() && params.start_event().empty())
    c.problem(c.at({{"event_service"}}), "event_service.reactions", "an event service needs a reaction or a start_event");
  c.duration(params.has_relay_interval_ms(), params.relay_interval_ms(), c.at({{"event_service"}, {"relay_interval_ms"}}),
             "event_service.relay_interval_ms", true);
}

const KindDescription kEventService{
    .kind = v1::Node::EVENT_SERVICE,
    .name = "event_service",
    .defaults =
        [](v1::Node& node) {
          auto& params = *node.mutable_event_service();
          consumer_defaults(*params.mutable_subscription());
          if (!params.has_relay_interval_ms()) params.set_relay_interval_ms(10);
          if (!params.has_outbox()) params.set_outbox(true);
        },
    .example =
        [](v1::Node& node) {
          auto& params = *node.mutable_event_service();
          params.mutable_subscription()->set_topic("saga");
          params.mutable_subscription()->set_group(node.id());
          auto& action = *params.add_actions();
          action.set_name("reserve");
          action.set_undo("release");
          auto& reaction = *params.add_reactions();
          reaction.set_on("OrderPlaced");
          reaction.set_action("reserve");
          reaction.set_emit("StockReserved");
        },
    .check = check_event_service,
    // Every event it writes is a path of its own, so frames and traces name the event.
    .paths =
        [](const v1::Node& node) {
          std::vector<std::string> paths;
          const auto& params = node.event_service();
          if (!params.start_event().empty()) paths.push_back(event_path(params.start_event()));
          for (const auto& reaction : params.reactions())
            for (const auto& event : {reaction.emit(), reaction.emit_refused()})
              if (!event.empty()) paths.push_back(event_path(event));
          return paths;
        },
    .settable = {"actions[", "relay_interval_ms"},
    .fixed = {"name", "undo"},
    .metrics =
        [](const v1::NodeState& state, Time, nlohmann::ordered_json& node) {
          const auto& service = state.event_service();
          node["processed"] = state.consumer().processed();
          node["published"] = service.published();
          node["unpublished"] = service.unpublished();
          if (service.republished()) node["republished"] = service.republished();
          if (service.given_up()) node["given_up"] = service.given_up();
          if (state.has_participant()) {
            node["in_effect"] = state.participant().applied();
            node["undone"] = state.participant().undone();
            node["refused"] = state.participant().refused();
            node["repeated_events"] = state.participant().repeated();
          }
          if (state.has_saga_orchestrator()) {
            node["sagas_committed"] = state.saga_orchestrator().committed();
            node["sagas_compensated"] = state.saga_orchestrator().compensated();
          }
        },
    .detail =
        [](const nlohmann::ordered_json& node, std::vector<std::string>& parts) {
          if (node.contains("sagas_committed"))
            parts.push_back(fmt::format("sagas: {} committed, {} compensated", node["sagas_committed"].get<std::uint64_t>(),
                                        node["sagas_compensated"].get<std::uint64_t>()));
          if (node.contains("in_effect"))
            parts.push_back(fmt::format("{} in effect, {} undone, {} refused, {} repeated events", node["in_effect"].get<std::uint64_t>(),
                                        node["undone"].get<std::uint64_t>(), node["refused"].get<std::uint64_t>(),
                                        node["repeated_events"].get<std::uint64_t>()));
          parts.push_back(fmt::format("{} processed, {} published{}{}{}", node["processed"].get<std::uint64_t>(),
                                      node["published"].get<std::uint64_t>(),
                                      node.contains("republished") ? fmt::format(" ({} again)", node["republished"].get<std::uint64_t>()) : "",
                                      node["unpublished"].get<std::uint64_t>() ? fmt::format(", {} left in the outbox", node["unpublished"].get<std::uint64_t>()) : "",
                                      node.contains("given_up") ? fmt::format(", {} given up unacknowledged (no outbox)", node["given_up"].get<std::uint64_t>()) : ""));
        },
};
FLOWFRAME_KIND(kEventService, make_event_service);

}  // namespace
}  // namespace flowframe
