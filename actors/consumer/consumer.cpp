// Consumer: takes messages from one queue of a queue broker. Each delivery waits in its prefetch
// buffer for one of `concurrency` workers, is processed for its service time, is written to the
// database when it has one, and is acknowledged. A poison message fails every time: nack (requeue)
// or reject. It subscribes when it starts, again after a restart, and sends heartbeats so the broker
// notices when it dies; the messages it held then go to the other consumers: at least once.
#include <fmt/format.h>

#include <map>

#include "actors/common/components.hpp"
#include "actors/common/routing.hpp"
#include "actors/common/work_queue.hpp"
#include "actors/consumer/log_consumer.hpp"
#include "actors/consumer/sink.hpp"

namespace flowframe {
namespace {

constexpr std::uint16_t kHeartbeatTimer = 1;
constexpr std::uint16_t kStartTimer = 2;
constexpr std::size_t kShownHeld = 16;

class Consumer final : public Component {
 public:
  Consumer(const v1::Node& spec, NodeIndex index, const Topology& topology)
      : Component(spec, index, topology.seed()),
        // The broker keeps to the prefetch; after a reconnect it may briefly hand out more.
        work_(spec.consumer().concurrency(), UINT32_MAX, spec.consumer().service_time()),
        broker_(topology.index_of(spec.consumer().broker())),
        database_(spec.consumer().database().empty() ? kNoNode : topology.index_of(spec.consumer().database())),
        heartbeat_(from_millis(spec.consumer().heartbeat_ms())) {}

  void start(Context& context) override {
    if (defer_start(spec_.consumer(), kStartTimer, context)) return;
    context.notify(broker_, broker_message(v1::Payload::SUBSCRIBE));
    beat_later(context);
  }

  void handle(const Event& event, Context& context) override {
    switch (event.kind) {
      case EventKind::request:
        return refuse_request(event, 501, Outcome::no_route, "501 a consumer takes messages from its queue, not requests", context);
      case EventKind::message: return received(event, context);
      case EventKind::timer:
        if (event.status == kStartTimer) {
          context.notify(broker_, broker_message(v1::Payload::SUBSCRIBE));
          beat_later(context);
          return context.decide(Outcome::applied, broker_, "starts: subscribes to " + spec_.consumer().queue());
        }
        if (event.status == kHeartbeatTimer) {
          context.notify(broker_, broker_message(v1::Payload::HEARTBEAT));
          return beat_later(context);
        }
        if (const auto slot = work_.finished(event)) return processed(*slot, context);
        return;
      case EventKind::response:
        if (const auto slot = work_.slot_of(event.arg)) return written(*slot, event.status, context);
        return;
      case EventKind::timeout:
        if (const auto slot = work_.slot_of(event.arg)) return written(*slot, 504, context);
        return;
      default: return;
    }
  }

  std::string apply(ControlAction& action, Context& context) override {
    auto& params = *spec_.mutable_consumer();
    action.previous = read_setting(params, action.field);
    if (auto error = apply_setting(params, action.field, action.value); !error.empty()) return error;
    work_.set_capacity(params.concurrency(), context, [](const Event&) {});
    work_.set_service_time(params.service_time());
    // A new prefetch takes effect at the broker at once (AMQP basic.qos on the open channel).
    if (action.field == "prefetch") context.notify(broker_, broker_message(v1::Payload::HEARTBEAT));
    return "";
  }

  void survive_crash(Component& fresh) const override {
    auto& next = static_cast<Consumer&>(fresh);
    next.received_ = received_;
    next.processed_ = processed_;
    next.failed_ = failed_;
    next.duplicates_ = duplicates_;
  }

  std::uint32_t load() const override { return work_.busy(); }
  std::uint32_t queue() const override { return work_.waiting(); }
  bool rich() const override { return true; }
  std::size_t state_size_hint() const override { return 48 + std::min(held_.size(), kShownHeld) * 24; }

  void snapshot(v1::NodeState& state) const override {
    state.set_handled(processed_ + failed_);
    state.set_load(load());
    state.set_queue(queue());
    auto& out = *state.mutable_consumer();
    out.set_queue(spec_.consumer().queue());
    out.set_prefetch(spec_.consumer().prefetch());
    out.set_received(received_);
    out.set_processed(processed_);
    out.set_failed(failed_);
    out.set_duplicates(duplicates_);
    for (const auto& [tag, held] : held_) {
      if (out.held_size() >= static_cast<int>(kShownHeld)) break;
      *out.add_held() = held;
    }
  }

 private:
  Event broker_message(v1::Payload::Op op) const {
    Event message;
    auto payload = std::make_shared<v1::Payload>();
    payload->set_op(op);
    payload->set_queue(spec_.consumer().queue());
    payload->set_prefetch(spec_.consumer().prefetch());
    message.payload = std::move(payload);
    return message;
  }

  void beat_later(Context& context) {
    Event tick = timer_event(kHeartbeatTimer, true);
    tick.background = true;  // heartbeats alone do not keep the run going
    context.schedule(heartbeat_, tick);
  }

  void received(const Event& delivery, Context& context) {
    const auto* payload = delivery.payload.get();
    if (!payload || payload->op() != v1::Payload::DELIVER)
      return context.decide(Outcome::bad_request, kNoNode, "a consumer takes deliveries only");
    ++received_;
    v1::HeldMessage held;
    held.set_message(delivery.id);
    held.set_deliveries(payload->deliveries());
    held.set_poison(payload->poison());
    held.set_since_ns(context.now());
    held_[payload->delivery_tag()] = held;
    const auto admitted = work_.admit(delivery, context);
    const auto note = fmt::format("message {} from {}{}", delivery.id, payload->queue(),
                                  payload->deliveries() > 1 ? fmt::format(" (delivery {}, redelivered)", payload->deliveries()) : "");
    context.decide(admitted == WorkQueue::Admitted::started ? Outcome::started : Outcome::queued, kNoNode,
                   admitted == WorkQueue::Admitted::started ? note : note + ": waits for a worker");
  }

  void processed(std::uint32_t slot, Context& context) {
    const Event delivery = work_.request(slot);  // a copy: settling frees the slot for the next one
    if (delivery.payload->poison()) {
      const bool requeue = spec_.consumer().on_poison() == v1::ConsumerParams::NACK_REQUEUE;
      ++failed_;
      settle(slot, v1::Payload::NACK, requeue, context);
      return context.decide(Outcome::nacked, broker_,
                            fmt::format("message {} is poison: processing failed; {}", delivery.id,
                                        requeue ? "nack, requeue" : "reject"));
    }
    if (database_ == kNoNode) {
      ++processed_;
      settle(slot, v1::Payload::ACK, false, context);
      return context.decide(Outcome::served, broker_, fmt::format("message {} processed: ack", delivery.id));
    }
    write_row(delivery, work_.token(slot), database_, spec_.consumer().table(), delivery.id, id(), context);
    context.decide(Outcome::delegated, database_,
                   fmt::format("message {} processed: INSERT {}/{}", delivery.id, spec_.consumer().table(), delivery.id));
  }

  // The database's answer: written (or written before, by an earlier delivery) is done; anything
  // else fails the message, which goes back to the queue.
  void written(std::uint32_t slot, std::uint16_t status, Context& context) {
    const auto message = work_.request(slot).id;
    if (const auto result = written_as(status); result != Written::failed) {
      ++processed_;
      if (result == Written::duplicate) ++duplicates_;
      settle(slot, v1::Payload::ACK, false, context);
      return context.decide(Outcome::served, broker_,
                            status == 409 ? fmt::format("message {} was written before (a duplicate delivery): ack", message)
                                          : fmt::format("message {} written: ack", message));
    }
    ++failed_;
    settle(slot, v1::Payload::NACK, true, context);
    context.decide(Outcome::nacked, broker_, fmt::format("message {}: the database answered {}; nack, requeue", message, status));
  }

  // Tells the broker how the slot's delivery ended and frees the worker.
  void settle(std::uint32_t slot, v1::Payload::Op op, bool requeue, Context& context) {
    const Event& delivery = work_.request(slot);
    Event out;
    out.client = delivery.client;
    out.request = delivery.request;
    out.path = delivery.path;
    out.id = delivery.id;
    out.created = delivery.created;
    auto payload = std::make_shared<v1::Payload>();
    payload->set_op(op);
    payload->set_queue(delivery.payload->queue());
    payload->set_delivery_tag(delivery.payload->delivery_tag());
    payload->set_deliveries(delivery.payload->deliveries());
    payload->set_requeue(requeue);
    out.payload = std::move(payload);
    context.notify(broker_, out);
    held_.erase(delivery.payload->delivery_tag());
    work_.release(slot, context);
  }

  WorkQueue work_;
  NodeIndex broker_;
  NodeIndex database_;
  Time heartbeat_;
  std::map<std::uint64_t, v1::HeldMessage> held_;  // by delivery tag: received, not yet settled
  std::uint64_t received_ = 0;
  std::uint64_t processed_ = 0;
  std::uint64_t failed_ = 0;
  std::uint64_t duplicates_ = 0;
};

}  // namespace

void consumer_defaults(v1::ConsumerParams& params) {
  if (!params.has_prefetch()) params.set_prefetch(1);
  if (!params.has_concurrency()) params.set_concurrency(1);
  if (!params.has_service_time()) *params.mutable_service_time() = constant_ms(10);
  if (!params.has_heartbeat_ms()) params.set_heartbeat_ms(500);
  if (!params.has_auto_commit_ms()) params.set_auto_commit_ms(1000);
  if (!params.has_max_poll_records()) params.set_max_poll_records(10);
}

void check_consumer_pace(NodeChecks& c, const v1::ConsumerParams& params, std::vector<NodeChecks::Step> at, const std::string& field) {
  const auto where = [&](const char* name) {
    auto path = at;
    path.push_back({name});
    return c.at(path);
  };
  c.duration(params.has_heartbeat_ms(), params.heartbeat_ms(), where("heartbeat_ms"), field + ".heartbeat_ms", true);
  if (params.has_service_time()) c.distribution(params.service_time(), where("service_time"), field + ".service_time");
  if (!(params.start_s() >= 0 && params.start_s() <= kDayMs / 1000)) c.problem(where("start_s"), field + ".start_s", "must be from 0 to at most a day");
}

void check_log_subscription(NodeChecks& c, const v1::ConsumerParams& params, std::vector<NodeChecks::Step> at, const std::string& field) {
  const auto where = [&](const char* name) {
    auto path = at;
    path.push_back({name});
    return c.at(path);
  };
  const auto& node = c.node();
  const v1::Node* broker = c.find(params.broker());
  if (!broker || broker->kind() != v1::Node::LOG_BROKER) {
    c.problem(where("broker"), field + ".broker",
              params.broker().empty() ? "missing: name a log broker" : !broker ? c.unknown(params.broker()) : "'" + params.broker() + "' is not a log broker");
  } else {
    if (!c.linked(node.id(), params.broker()))
      c.problem(where("broker"), field + ".broker", "'" + node.id() + "' has no link to '" + params.broker() + "'");
    if (!broker->log_broker().follower_of().empty())
      c.problem(where("broker"), field + ".broker",
                "'" + params.broker() + "' is a follower: consume from its leader '" + broker->log_broker().follower_of() + "'");
    const auto& topics = broker->log_broker().topics();
    if (std::none_of(topics.begin(), topics.end(), [&](const v1::Topic& t) { return t.name() == params.topic(); }))
      c.problem(where("topic"), field + ".topic",
                params.topic().empty() ? "missing: name a topic of '" + params.broker() + "'"
                                       : "'" + params.broker() + "' has no topic '" + params.topic() + "'");
  }
  if (params.group().empty()) c.problem(where("group"), field + ".group", "missing: the consumer group it belongs to");
  if (!params.queue().empty()) c.problem(where("queue"), field + ".queue", "a log broker has topics, not queues: use topic and group");
  c.duration(params.has_auto_commit_ms(), params.auto_commit_ms(), where("auto_commit_ms"), field + ".auto_commit_ms", true);
  if (params.has_max_poll_records() && params.max_poll_records() == 0)
    c.problem(where("max_poll_records"), field + ".max_poll_records", "must be >= 1");
  check_consumer_pace(c, params, at, field);
}

std::unique_ptr<Component> make_consumer(const v1::Node& spec, NodeIndex index, const Topology& topology) {
  if (topology.spec(topology.index_of(spec.consumer().broker())).kind() == v1::Node::LOG_BROKER)
    return make_log_consumer(spec, index, topology);
  return std::make_unique<Consumer>(spec, index, topology);
}

namespace {

void check_consumer(NodeChecks& c) {
  const auto& node = c.node();
  const auto& params = node.consumer();
  const auto broker_at = c.at({{"consumer"}, {"broker"}});
  const v1::Node* broker = c.find(params.broker());
  if (broker && broker->kind() == v1::Node::LOG_BROKER) {
    check_log_subscription(c, params, {{"consumer"}}, "consumer");
  } else if (!broker) {
    c.problem(broker_at, "consumer.broker", params.broker().empty() ? "missing: name a queue broker" : c.unknown(params.broker()));
  } else if (broker->kind() != v1::Node::QUEUE_BROKER) {
    c.problem(broker_at, "consumer.broker", "'" + params.broker() + "' is not a queue broker or a log broker");
  } else {
    if (!c.linked(node.id(), params.broker()))
      c.problem(broker_at, "consumer.broker", "'" + node.id() + "' has no link to '" + params.broker() + "'");
    const auto& queues = broker->queue_broker().queues();
    if (std::none_of(queues.begin(), queues.end(), [&](const v1::MessageQueue& q) { return q.name() == params.queue(); }))
      c.problem(c.at({{"consumer"}, {"queue"}}), "consumer.queue",
                params.queue().empty() ? "missing: name a queue of '" + params.broker() + "'"
                                       : "'" + params.broker() + "' has no queue '" + params.queue() + "'");
    check_consumer_pace(c, params, {{"consumer"}}, "consumer");
  }
  if (!params.database().empty()) {
    const auto at = c.at({{"consumer"}, {"database"}});
    if (!c.known(params.database())) c.problem(at, "consumer.database", c.unknown(params.database()));
    else if (c.kind_of(params.database()) != v1::Node::DATABASE)
      c.problem(at, "consumer.database", "'" + params.database() + "' is not a database");
    else if (!c.linked(node.id(), params.database()))
      c.problem(at, "consumer.database", "'" + node.id() + "' has no link to '" + params.database() + "'");
    if (params.table().empty()) c.problem(c.at({{"consumer"}, {"table"}}), "consumer.table", "missing: the table messages are written to");
  }
  if (params.has_concurrency() && params.concurrency() == 0)
    c.problem(c.at({{"consumer"}, {"concurrency"}}), "consumer.concurrency", "must be >= 1");
}

const KindDescription kConsumer{
    .kind = v1::Node::CONSUMER,
    .name = "consumer",
    .defaults =
        [](v1::Node& node) { consumer_defaults(*node.mutable_consumer()); },
    .check = check_consumer,
    .settable = {"prefetch", "concurrency", "service_time.", "on_poison"},
    .metrics =
        [](const v1::NodeState& state, Time, nlohmann::ordered_json& node) {
          const auto& consumer = state.consumer();
          node["processed"] = consumer.processed();
          node["failed"] = consumer.failed();
          if (consumer.duplicates()) node["duplicates"] = consumer.duplicates();
        },
    .detail =
        [](const nlohmann::ordered_json& node, std::vector<std::string>& parts) {
          const auto duplicates = node.value("duplicates", std::uint64_t{0});
          parts.push_back(fmt::format("{} processed, {} failed{}", node["processed"].get<std::uint64_t>(), node["failed"].get<std::uint64_t>(),
                                      duplicates ? fmt::format(", {} duplicate{}", duplicates, duplicates == 1 ? "" : "s") : ""));
        },
};
FLOWFRAME_KIND(kConsumer, make_consumer);

}  // namespace

}  // namespace flowframe
