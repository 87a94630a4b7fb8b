// Queue broker (RabbitMQ-like): the rules of queues.hpp on real messages. A publish is a request
// the broker confirms (201) or refuses (503); subscriptions, deliveries, acks, nacks and
// heartbeats are one-way messages. A consumer whose heartbeats stop is gone after
// consumer_timeout_ms and what it held goes back to the head of its queue. A message's fate decided
// as a side effect (pushed out by the length limit, expired, returned by a gone consumer) gets its
// own frame a nanosecond later, carrying the message's publisher and request, so every hop of a
// message is traceable like a request.
#include <fmt/format.h>

#include <set>

#include "actors/common/components.hpp"
#include "actors/common/routing.hpp"
#include "actors/queue_broker/queues.hpp"

namespace flowframe {
namespace {

using messaging::Message;
using messaging::Settled;

// Timer `status`: the sweep for gone consumers and expired messages, and a message's fate notice.
constexpr std::uint16_t kQueueSweepTimer = 1;
constexpr std::uint16_t kFateNotice = 2;
constexpr std::uint16_t kGoneNotice = 3;
constexpr std::size_t kShownMessages = 8;

std::string prefetch_text(std::uint32_t prefetch) { return prefetch ? std::to_string(prefetch) : "unlimited"; }

std::string times(std::uint32_t n) { return n == 1 ? "once" : n == 2 ? "twice" : std::to_string(n) + " times"; }

messaging::QueueSettings settings_of(const v1::MessageQueue& queue) {
  return {.max_length = queue.max_length(),
          .overflow = queue.overflow() == v1::MessageQueue::REJECT_PUBLISH ? messaging::Overflow::reject_publish
                                                                           : messaging::Overflow::drop_head,
          .message_ttl = from_millis(queue.message_ttl_ms()),
          .max_deliveries = queue.max_deliveries(),
          .dead_letter_queue = queue.dead_letter_queue()};
}

messaging::ExchangeType type_of(v1::Exchange::Type type) {
  switch (type) {
    case v1::Exchange::FANOUT: return messaging::ExchangeType::fanout;
    case v1::Exchange::TOPIC: return messaging::ExchangeType::topic;
    default: return messaging::ExchangeType::direct;
  }
}

class QueueBroker final : public Component {
 public:
  QueueBroker(const v1::Node& spec, NodeIndex index, std::uint64_t seed)
      : Component(spec, index, seed), op_time_(spec.queue_broker().op_time()) {
    const auto& params = spec.queue_broker();
    for (const auto& exchange : params.exchanges()) broker_.declare_exchange(exchange.name(), type_of(exchange.type()));
    for (const auto& queue : params.queues()) broker_.declare_queue(queue.name(), settings_of(queue));
    for (const auto& binding : params.bindings()) broker_.bind(binding.exchange(), binding.queue(), binding.key());
    timeout_ = from_millis(params.consumer_timeout_ms());
  }

  void start(Context& context) override { arm_sweep(context); }

  void handle(const Event& event, Context& context) override {
    broker_.tick(context.now());
    switch (event.kind) {
      case EventKind::request: publish(event, context); break;
      case EventKind::message: message(event, context); break;
      case EventKind::timer:
        if (event.status == kQueueSweepTimer && event.arg == sweep_generation_) sweep(context);
        else if (event.status == kGoneNotice) gone(static_cast<NodeIndex>(event.arg), context);
        else if (event.status == kFateNotice)
          context.decide(static_cast<Outcome>(event.arg), kNoNode, event.payload ? event.payload->note() : "");
        break;
      default: break;
    }
    broker_.expire(context.now());
    departures(context);
    deliver(context);
    arm_sweep(context);
  }

  std::string apply(ControlAction& action, Context&) override {
    return "a queue broker has no setting '" + action.field + "' to change during a run";
  }

  std::uint32_t load() const override { return static_cast<std::uint32_t>(broker_.unacked().size()); }
  std::uint32_t queue() const override {
    std::size_t ready = 0;
    for (const auto& [name, queue] : broker_.queues()) ready += queue.ready.size();
    return static_cast<std::uint32_t>(ready);
  }
  bool rich() const override { return true; }
  std::size_t state_size_hint() const override { return 64 + broker_.queues().size() * (96 + 2 * kShownMessages * 24); }

  void snapshot(v1::NodeState& state) const override {
    state.set_handled(handled_);
    state.set_rejected(rejected_);
    state.set_load(load());
    state.set_queue(queue());
    auto& out = *state.mutable_queue_broker();
    out.set_unroutable(unroutable_);
    out.set_next_message(broker_.issued());
    for (const auto& [name, queue] : broker_.queues()) {
      auto& q = *out.add_queues();
      const auto& counts = queue.counts;
      q.set_name(name);
      q.set_ready(static_cast<std::uint32_t>(queue.ready.size()));
      q.set_unacked(static_cast<std::uint32_t>(broker_.unacked_in(name)));
      q.set_consumers(static_cast<std::uint32_t>(queue.consumers.size()));
      q.set_published(counts.published);
      q.set_delivered(counts.delivered);
      q.set_redelivered(counts.redelivered);
      q.set_acked(counts.acked);
      q.set_dead_lettered(counts.dead_lettered);
      q.set_discarded(counts.discarded);
      q.set_dropped(counts.dropped);
      q.set_expired(counts.expired);
      q.set_refused(counts.refused);
      q.set_max_ready(static_cast<std::uint32_t>(counts.max_ready));
      for (std::size_t i = 0; i < queue.ready.size() && i < kShownMessages; ++i)
        held(queue.ready[i], queue.ready[i].published, 0, *q.add_head());
      for (const auto& [tag, unacked] : broker_.unacked())
        if (unacked.queue == name && q.pending_size() < static_cast<int>(kShownMessages))
          held(unacked.message, unacked.message.published, unacked.consumer, *q.add_pending());
    }
    for (const auto& [node, seen] : heartbeats_) {
      auto& link = *out.add_consumers();
      link.set_node(node);
      link.set_last_heartbeat_ns(seen);
      for (const auto& [name, queue] : broker_.queues())
        for (const auto& consumer : queue.consumers)
          if (consumer.node == node) {
            link.set_queue(name);
            link.set_prefetch(consumer.prefetch);
            link.set_unacked(consumer.unacked);
          }
    }
  }

 private:
  static void held(const Message& message, Time since, NodeIndex consumer, v1::HeldMessage& out) {
    out.set_message(message.id);
    out.set_deliveries(message.deliveries);
    out.set_poison(message.poison);
    out.set_since_ns(since);
    out.set_consumer(consumer);
  }

  void publish(const Event& request, Context& context) {
    ++handled_;
    const Time processing = context.work(op_time_);
    const auto* payload = request.payload.get();
    if (!payload || payload->op() != v1::Payload::PUBLISH) {
      ++rejected_;
      respond(request, 400, context, processing);
      return context.decide(Outcome::bad_request, kNoNode, "400 a broker takes publishes");
    }
    if (!broker_.has_exchange(payload->exchange())) {
      ++rejected_;
      respond(request, 404, context, processing);
      return context.decide(Outcome::not_found, kNoNode, "404 no exchange '" + payload->exchange() + "'");
    }
    Message message;
    message.routing_key = payload->routing_key();
    message.poison = payload->poison();
    message.publisher = request.client;
    message.request = request.request;
    message.path = request.path;
    const auto routed = broker_.publish(payload->exchange(), message, context.now());
    const std::string what = fmt::format("message{}{}", routed.ids.size() == 1 ? " " + std::to_string(routed.ids[0]) : "",
                                         message.poison ? " (poison)" : "");
    if (!routed.refused.empty()) {
      ++rejected_;
      respond(request, 503, context, processing);
      return context.decide(Outcome::rejected_queue_full, kNoNode,
                            fmt::format("503 {} refused: {} full{}", what, join(routed.refused, ", "),
                                        routed.queues.empty() ? "" : " (queued in " + join(routed.queues, ", ") + ")"));
    }
    respond(request, 201, context, processing);
    if (routed.queues.empty()) {
      ++unroutable_;
      return context.decide(Outcome::no_route, kNoNode,
                            fmt::format("{} unroutable: no queue bound to '{}' for '{}'; confirmed and dropped", what,
                                        payload->exchange(), message.routing_key));
    }
    std::vector<std::string> depths;
    for (std::size_t q = 0; q < routed.queues.size(); ++q)
      depths.push_back(fmt::format("{}{} ({} ready)", routed.queues.size() > 1 ? "as " + std::to_string(routed.ids[q]) + " " : "",
                                   routed.queues[q], broker_.queues().at(routed.queues[q]).ready.size()));
    context.decide(Outcome::published, kNoNode, what + " to " + join(depths, ", "));
  }

  // Where a message that left `queue` other than by an ack went, in words.
  std::string where(const std::string& queue, Settled fate) const {
    const auto& dlq = broker_.queues().at(queue).settings.dead_letter_queue;
    if (fate == Settled::dead_lettered) return "to " + dlq;
    if (dlq.empty()) return "discarded (no dead-letter queue)";
    return "discarded (" + dlq + " refused it: full, or it came from there before, a dead-letter cycle)";
  }

  void message(const Event& event, Context& context) {
    const auto* payload = event.payload.get();
    if (!payload) return context.decide(Outcome::bad_request, kNoNode, "a message without a body");
    const NodeIndex consumer = event.src;
    const auto& name = context.topology().spec(consumer).id();
    switch (payload->op()) {
      case v1::Payload::SUBSCRIBE:
      case v1::Payload::HEARTBEAT: {
        if (!broker_.has_queue(payload->queue()))
          return context.decide(Outcome::not_found, kNoNode, "no queue '" + payload->queue() + "'");
        const bool known = broker_.subscribed(consumer);
        heartbeats_[consumer] = context.now();
        if (payload->op() == v1::Payload::HEARTBEAT && known) {
          const auto before = broker_.prefetch_of(consumer, payload->queue());
          if (before == payload->prefetch()) return context.decide(Outcome::none, consumer, "heartbeat from " + name);
          broker_.subscribe(consumer, payload->queue(), payload->prefetch());
          return context.decide(Outcome::applied, consumer,
                                fmt::format("{} now takes up to {} unacknowledged (was {})", name,
                                            prefetch_text(payload->prefetch()), prefetch_text(before)));
        }
        // A SUBSCRIBE from a consumer still subscribed is a new connection after a restart; a
        // heartbeat from one declared gone reconnects it. Either way it starts afresh.
        std::string note;
        if (known) {
          const auto returned = broker_.consumer_gone(consumer);
          returns(returned, context);
          note = fmt::format(": reconnected, its {} unacknowledged back to the queue", returned.size());
        }
        broker_.subscribe(consumer, payload->queue(), payload->prefetch());
        return context.decide(Outcome::subscribed, consumer,
                              fmt::format("{} consumes {} (prefetch {}){}", name, payload->queue(),
                                          prefetch_text(payload->prefetch()), note));
      }
      case v1::Payload::ACK: {
        if (!broker_.ack(payload->delivery_tag()))
          return context.decide(Outcome::late, kNoNode,
                                fmt::format("ack of message {} from {} ignored: no longer its delivery (returned when it was gone)",
                                            event.id, name));
        return context.decide(Outcome::acked, kNoNode,
                              fmt::format("message {} acked by {} ({} unacknowledged in {})", event.id, name,
                                          broker_.unacked_in(payload->queue()), payload->queue()));
      }
      case v1::Payload::NACK: {
        const auto settled = broker_.nack(payload->delivery_tag(), payload->requeue());
        const auto& queue = payload->queue();
        switch (settled) {
          case Settled::unknown:
            return context.decide(Outcome::late, kNoNode,
                                  fmt::format("nack of message {} from {} ignored: no longer its delivery", event.id, name));
          case Settled::requeued:
            return context.decide(Outcome::requeued, kNoNode,
                                  fmt::format("message {} nacked by {}: back at the head of {} (delivered {})", event.id,
                                              name, queue, times(payload->deliveries())));
          case Settled::dead_lettered:
          case Settled::discarded:
            departures(context);  // what the dead letter pushed out of a full dead-letter queue
            return context.decide(settled == Settled::discarded ? Outcome::discarded : Outcome::dead_lettered, kNoNode,
                                  fmt::format("message {} {} by {}, delivered {}: {}", event.id,
                                              payload->requeue() ? "nacked" : "rejected", name,
                                              times(payload->deliveries()), where(queue, settled)));
        }
        return;
      }
      default:
        return context.decide(Outcome::bad_request, kNoNode, "not a broker message");
    }
  }

  // Each message a gone consumer held: its own frame, as it is requeued or dead-lettered.
  void returns(const std::vector<messaging::Left>& returned, Context& context) {
    for (const auto& left : returned) {
      if (left.fate == Settled::requeued)
        fate(left.message, Outcome::requeued, "back at the head of " + left.queue + ": its consumer is gone", context);
      else
        fate(left.message, left.fate == Settled::discarded ? Outcome::discarded : Outcome::dead_lettered,
             fmt::format("its consumer is gone, and it was delivered {}, the limit of {}: {}", times(left.message.deliveries),
                         left.queue, where(left.queue, left.fate)),
             context);
    }
    departures(context);
  }

  void fate(const Message& message, Outcome outcome, const std::string& why, Context& context) {
    Event notice = timer_event(kFateNotice);
    notice.arg = static_cast<std::int64_t>(outcome);
    notice.client = message.publisher;
    notice.request = message.request;
    notice.path = message.path;
    notice.id = message.id;
    auto payload = std::make_shared<v1::Payload>();
    payload->set_note(fmt::format("message {}: {}", message.id, why));
    notice.payload = std::move(payload);
    context.schedule(1, notice);
  }

  // Messages that left a queue as a side effect (pushed out by a length limit, expired): a frame each.
  void departures(Context& context) {
    for (const auto& left : broker_.take_departures()) {
      const bool expired = left.why == messaging::Left::Why::expired;
      const auto outcome = left.fate == Settled::discarded ? Outcome::discarded : expired ? Outcome::expired : Outcome::dead_lettered;
      fate(left.message, outcome,
           (expired ? "older than the TTL of " + left.queue : "pushed out of " + left.queue + " by its length limit") + ": " +
               where(left.queue, left.fate),
           context);
    }
  }

  // Hands every message a consumer has room for, each as a one-way DELIVER.
  void deliver(Context& context) {
    for (auto& delivery : broker_.dispatch()) {
      Event out;
      out.client = delivery.message.publisher;
      out.request = delivery.message.request;
      out.path = delivery.message.path;
      out.id = delivery.message.id;
      out.created = delivery.message.published;
      auto payload = std::make_shared<v1::Payload>();
      payload->set_op(v1::Payload::DELIVER);
      payload->set_queue(delivery.queue);
      payload->set_delivery_tag(delivery.tag);
      payload->set_deliveries(delivery.message.deliveries);
      payload->set_poison(delivery.message.poison);
      out.payload = std::move(payload);
      context.notify(delivery.consumer, out);
    }
  }

  // Consumers silent for longer than the timeout are gone: each gets its own frame.
  void sweep(Context& context) {
    sweep_due_ = kTimeNever;
    for (const auto& [consumer, seen] : heartbeats_)
      if (context.now() - seen >= timeout_ && broker_.subscribed(consumer)) {
        Event notice = timer_event(kGoneNotice);
        notice.arg = consumer;
        context.schedule(1, notice);
      }
  }

  void gone(NodeIndex consumer, Context& context) {
    const auto seen = heartbeats_.find(consumer);
    if (seen == heartbeats_.end() || !broker_.subscribed(consumer) || context.now() - seen->second < timeout_) return;
    const auto returned = broker_.consumer_gone(consumer);
    returns(returned, context);
    context.decide(Outcome::consumer_gone, consumer,
                   fmt::format("{} sent no heartbeat for {}: gone; its {} unacknowledged messages go back",
                               context.topology().spec(consumer).id(), duration_text(context.now() - seen->second),
                               returned.size()));
  }

  // The next sweep: within a third of the consumer timeout, and exactly when the next message
  // expires. It keeps the run going only while it may still change something (unacknowledged
  // messages whose consumer may be gone, messages that will expire); a sweep armed earlier that
  // no longer fits is replaced (its generation is stale).
  void arm_sweep(Context& context) {
    const bool needed = !broker_.unacked().empty() || broker_.next_expiry() != kTimeNever;
    const Time due = std::min(context.now() + std::max<Time>(1, timeout_ / 3), broker_.next_expiry());
    if (sweep_due_ <= due && (sweep_keeps_running_ || !needed)) return;
    Event tick = timer_event(kQueueSweepTimer);
    tick.arg = ++sweep_generation_;
    tick.silent = true;
    tick.background = !needed;
    context.schedule(due - context.now(), tick);
    sweep_due_ = due;
    sweep_keeps_running_ = needed;
  }

  messaging::Broker broker_;
  Sampler op_time_;
  Time timeout_ = 0;
  std::map<NodeIndex, Time> heartbeats_;  // consumers' last sign of life
  std::int64_t sweep_generation_ = 0;
  Time sweep_due_ = kTimeNever;
  bool sweep_keeps_running_ = false;
  std::uint64_t handled_ = 0;
  std::uint64_t rejected_ = 0;
  std::uint64_t unroutable_ = 0;
};

}  // namespace

std::unique_ptr<Component> make_queue_broker(const v1::Node& spec, NodeIndex index, const Topology& topology) {
  return std::make_unique<QueueBroker>(spec, index, topology.seed());
}

namespace {

void check_queue_broker(NodeChecks& c) {
  const auto& params = c.node().queue_broker();
  std::set<std::string> exchanges, queues;
  for (int e = 0; e < params.exchanges_size(); ++e) {
    const auto& name = params.exchanges(e).name();
    if (name.empty() || !exchanges.insert(name).second)
      c.problem(c.at({{"queue_broker"}, {"exchanges", e}, {"name"}}), "queue_broker.exchanges.name",
                name.empty() ? "an exchange needs a name" : "duplicate exchange '" + name + "'");
  }
  for (int q = 0; q < params.queues_size(); ++q) {
    const auto& name = params.queues(q).name();
    if (name.empty() || !queues.insert(name).second)
      c.problem(c.at({{"queue_broker"}, {"queues", q}, {"name"}}), "queue_broker.queues.name",
                name.empty() ? "a queue needs a name" : "duplicate queue '" + name + "'");
  }
  for (int q = 0; q < params.queues_size(); ++q) {
    const auto& queue = params.queues(q);
    const auto& dlq = queue.dead_letter_queue();
    if (!dlq.empty() && (!queues.count(dlq) || dlq == queue.name()))
      c.problem(c.at({{"queue_broker"}, {"queues", q}, {"dead_letter_queue"}}), "queue_broker.queues.dead_letter_queue",
                dlq == queue.name() ? "a queue cannot be its own dead-letter queue" : "no queue '" + dlq + "' on this broker");
    c.duration(true, queue.message_ttl_ms(), c.at({{"queue_broker"}, {"queues", q}, {"message_ttl_ms"}}),
               "queue_broker.queues.message_ttl_ms");
  }
  for (int b = 0; b < params.bindings_size(); ++b) {
    const auto& binding = params.bindings(b);
    if (!exchanges.count(binding.exchange()))
      c.problem(c.at({{"queue_broker"}, {"bindings", b}, {"exchange"}}), "queue_broker.bindings.exchange",
                "no exchange '" + binding.exchange() + "' on this broker");
    if (!queues.count(binding.queue()))
      c.problem(c.at({{"queue_broker"}, {"bindings", b}, {"queue"}}), "queue_broker.bindings.queue",
                "no queue '" + binding.queue() + "' on this broker");
  }
  c.duration(params.has_consumer_timeout_ms(), params.consumer_timeout_ms(), c.at({{"queue_broker"}, {"consumer_timeout_ms"}}),
             "queue_broker.consumer_timeout_ms", true);
  check_optional_distribution(c, params.has_op_time(), params.op_time(), "queue_broker", "op_time");
}

const KindDescription kQueueBroker{
    .kind = v1::Node::QUEUE_BROKER,
    .name = "queue_broker",
    .defaults =
        [](v1::Node& node) {
          auto& params = *node.mutable_queue_broker();
          if (!params.has_consumer_timeout_ms()) params.set_consumer_timeout_ms(3000);
          if (!params.has_op_time()) *params.mutable_op_time() = constant_ms(0.2);
        },
    .example =
        [](v1::Node& node) {
          auto& params = *node.mutable_queue_broker();
          auto& exchange = *params.add_exchanges();
          exchange.set_name("tasks");
          params.add_queues()->set_name("tasks");
          auto& binding = *params.add_bindings();
          binding.set_exchange("tasks");
          binding.set_queue("tasks");
          binding.set_key("task");
        },
    .check = check_queue_broker,
    .metrics =
        [](const v1::NodeState& state, Time, nlohmann::ordered_json& node) {
          for (const auto& queue : state.queue_broker().queues()) {
            auto& q = node["queues"][queue.name()];
            q["published"] = queue.published();
            q["delivered"] = queue.delivered();
            q["redelivered"] = queue.redelivered();
            q["acked"] = queue.acked();
            q["dead_lettered"] = queue.dead_lettered();
            q["ready"] = queue.ready();
            q["unacked"] = queue.unacked();
            q["max_ready"] = queue.max_ready();
            if (queue.dropped()) q["dropped"] = queue.dropped();
            if (queue.discarded()) q["discarded"] = queue.discarded();
            if (queue.expired()) q["expired"] = queue.expired();
            if (queue.refused()) q["refused"] = queue.refused();
          }
          if (state.queue_broker().unroutable()) node["unroutable"] = state.queue_broker().unroutable();
        },
    .detail =
        [](const nlohmann::ordered_json& node, std::vector<std::string>& parts) {
          if (!node.contains("queues")) return;
          for (const auto& [name, queue] : node["queues"].items())
            parts.push_back(fmt::format("{}: {} acked, {} redelivered, {} dead-lettered, {} left (deepest {})", name,
                                        queue["acked"].get<std::uint64_t>(), queue["redelivered"].get<std::uint64_t>(),
                                        queue["dead_lettered"].get<std::uint64_t>(),
                                        queue["ready"].get<std::uint64_t>() + queue["unacked"].get<std::uint64_t>(),
                                        queue["max_ready"].get<std::uint64_t>()));
        },
};
FLOWFRAME_KIND(kQueueBroker, make_queue_broker);

}  // namespace

}  // namespace flowframe
