// The queue broker's rules, one by one: routing by exchange type, prefetch, acks, redelivery,
// dead letters, TTL and length limits.
#include <gtest/gtest.h>

#include "actors/queue_broker/queues.hpp"
#include "runtime/check/invariants.hpp"
#include "support.hpp"

namespace flowframe::messaging {
namespace {

Message message(std::uint64_t id, const std::string& key = "task", bool poison = false) {
  Message m;
  m.request = id;  // the broker numbers each queue's copy itself
  m.routing_key = key;
  m.poison = poison;
  return m;
}

std::size_t ready(const Broker& broker, const std::string& queue) { return broker.queues().at(queue).ready.size(); }

TEST(Queues, TopicMatchingFollowsAmqp) {
  EXPECT_TRUE(topic_matches("orders.*", "orders.created"));
  EXPECT_FALSE(topic_matches("orders.*", "orders.created.eu"));
  EXPECT_TRUE(topic_matches("orders.#", "orders.created.eu"));
  EXPECT_TRUE(topic_matches("orders.#", "orders"));  // '#' matches zero words
  EXPECT_TRUE(topic_matches("#.eu", "orders.created.eu"));
  EXPECT_TRUE(topic_matches("*.created.*", "orders.created.eu"));
  EXPECT_FALSE(topic_matches("*.created", "created"));
  EXPECT_TRUE(topic_matches("#", ""));
}

TEST(Queues, ExchangesRouteByType) {
  Broker broker;
  broker.declare_exchange("direct", ExchangeType::direct);
  broker.declare_exchange("fanout", ExchangeType::fanout);
  broker.declare_exchange("topic", ExchangeType::topic);
  for (const char* q : {"a", "b"}) broker.declare_queue(q, {});
  broker.bind("direct", "a", "red");
  broker.bind("direct", "b", "blue");
  broker.bind("fanout", "a", "");
  broker.bind("fanout", "b", "");
  broker.bind("topic", "a", "orders.*");
  broker.bind("topic", "b", "#.eu");
  EXPECT_EQ(broker.publish("direct", message(1, "red"), 0).queues, std::vector<std::string>{"a"});
  const auto fanned = broker.publish("fanout", message(2), 0);
  EXPECT_EQ(fanned.queues, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(fanned.ids, (std::vector<std::uint64_t>{2, 3}));  // each queue's copy has its own number
  EXPECT_EQ(broker.publish("topic", message(3, "orders.eu"), 0).queues, (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(broker.publish("topic", message(4, "users.us"), 0).queues.empty());  // unroutable: dropped
  EXPECT_TRUE(broker.publish("nosuch", message(5), 0).queues.empty());
}

TEST(Queues, CompetingConsumersRespectTheirPrefetch) {
  Broker broker;
  broker.declare_exchange("x", ExchangeType::fanout);
  broker.declare_queue("q", {});
  broker.bind("x", "q", "");
  broker.subscribe(1, "q", 2);
  broker.subscribe(2, "q", 1);
  for (std::uint64_t i = 1; i <= 5; ++i) broker.publish("x", message(i), 0);
  const auto first = broker.dispatch();
  ASSERT_EQ(first.size(), 3u);  // 2 + 1 in flight; 2 wait
  EXPECT_EQ(first[0].consumer, 1u);
  EXPECT_EQ(first[1].consumer, 2u);
  EXPECT_EQ(first[2].consumer, 1u);
  EXPECT_EQ(ready(broker, "q"), 2u);
  EXPECT_EQ(broker.unacked_in("q"), 3u);
  EXPECT_TRUE(broker.ack(first[1].tag));
  EXPECT_FALSE(broker.ack(first[1].tag));  // twice: unknown
  const auto next = broker.dispatch();
  ASSERT_EQ(next.size(), 1u);
  EXPECT_EQ(next[0].consumer, 2u);
  EXPECT_EQ(next[0].message.id, 4u);  // in order
}

TEST(Queues, APoisonMessageIsDeadLetteredAfterItsDeliveries) {
  Broker broker;
  broker.declare_exchange("x", ExchangeType::fanout);
  broker.declare_queue("dlq", {});
  broker.declare_queue("q", QueueSettings{.max_deliveries = 3, .dead_letter_queue = "dlq"});
  broker.bind("x", "q", "");
  broker.subscribe(1, "q", 1);
  broker.publish("x", message(7, "task", true), 0);
  for (int delivery = 1; delivery <= 3; ++delivery) {
    const auto got = broker.dispatch();
    ASSERT_EQ(got.size(), 1u) << delivery;
    EXPECT_EQ(got[0].message.deliveries, static_cast<std::uint32_t>(delivery));
    EXPECT_EQ(got[0].redelivered, delivery > 1);
    EXPECT_EQ(broker.nack(got[0].tag, true), delivery < 3 ? Settled::requeued : Settled::dead_lettered);
  }
  EXPECT_TRUE(broker.dispatch().empty());
  EXPECT_EQ(ready(broker, "q"), 0u);
  EXPECT_EQ(broker.queues().at("q").counts.dead_lettered, 1u);
  EXPECT_EQ(ready(broker, "dlq"), 1u);
  // Reject (no requeue) dead-letters at once.
  broker.publish("x", message(8), 0);
  const auto got = broker.dispatch();
  ASSERT_EQ(got.size(), 1u);
  broker.nack(got[0].tag, false);
  EXPECT_EQ(ready(broker, "dlq"), 2u);
}

TEST(Queues, AGoneConsumersMessagesAreRedeliveredToTheOthers) {
  Broker broker;
  broker.declare_exchange("x", ExchangeType::fanout);
  broker.declare_queue("q", {});
  broker.bind("x", "q", "");
  broker.subscribe(1, "q", 2);
  for (std::uint64_t i = 1; i <= 2; ++i) broker.publish("x", message(i), 0);
  ASSERT_EQ(broker.dispatch().size(), 2u);
  broker.subscribe(2, "q", 5);
  const auto returned = broker.consumer_gone(1);
  ASSERT_EQ(returned.size(), 2u);
  EXPECT_EQ(returned[0].message.id, 1u);
  EXPECT_EQ(returned[0].fate, Settled::requeued);
  const auto again = broker.dispatch();
  ASSERT_EQ(again.size(), 2u);
  EXPECT_EQ(again[0].consumer, 2u);
  EXPECT_EQ(again[0].message.id, 1u);  // the oldest first again
  EXPECT_TRUE(again[0].redelivered);
  EXPECT_EQ(again[1].message.id, 2u);
}

TEST(Queues, AMessageAGoneConsumerHeldAtItsLastDeliveryIsDeadLettered) {
  Broker broker;
  broker.declare_exchange("x", ExchangeType::fanout);
  broker.declare_queue("dlq", {});
  broker.declare_queue("q", QueueSettings{.max_deliveries = 2, .dead_letter_queue = "dlq"});
  broker.bind("x", "q", "");
  broker.publish("x", message(1), 0);
  for (std::uint32_t consumer = 1; consumer <= 2; ++consumer) {
    broker.subscribe(consumer, "q", 1);
    ASSERT_EQ(broker.dispatch().size(), 1u);
    const auto returned = broker.consumer_gone(consumer);  // crashed mid-message
    ASSERT_EQ(returned.size(), 1u);
    EXPECT_EQ(returned[0].fate, consumer < 2 ? Settled::requeued : Settled::dead_lettered);
  }
  EXPECT_EQ(ready(broker, "q"), 0u);
  ASSERT_EQ(ready(broker, "dlq"), 1u);
  EXPECT_EQ(broker.queues().at("dlq").ready.front().deliveries, 0u);  // starts afresh there
  EXPECT_FALSE(broker.subscribed(1));
}

TEST(Queues, AFullDeadLetterQueueOrACycleDiscardsAndSaysSo) {
  Broker broker;
  broker.declare_exchange("x", ExchangeType::fanout);
  broker.declare_queue("dlq", QueueSettings{.max_length = 1, .overflow = Overflow::reject_publish, .dead_letter_queue = {}});
  broker.declare_queue("q", QueueSettings{.message_ttl = 10, .dead_letter_queue = "dlq"});
  broker.declare_queue("ping", QueueSettings{.message_ttl = 10, .dead_letter_queue = "pong"});
  broker.declare_queue("pong", QueueSettings{.message_ttl = 10, .dead_letter_queue = "ping"});
  broker.bind("x", "q", "");
  broker.bind("x", "ping", "");
  broker.publish("x", message(1), 0);
  broker.publish("x", message(2), 0);
  broker.expire(10);
  auto left = broker.take_departures();
  ASSERT_EQ(left.size(), 4u);  // both copies in q, both in ping
  std::map<std::string, std::vector<Settled>> fates;
  for (const auto& l : left) fates[l.queue].push_back(l.fate);
  EXPECT_EQ(fates["q"], (std::vector<Settled>{Settled::dead_lettered, Settled::discarded}));  // the dlq holds one
  EXPECT_EQ(fates["ping"], (std::vector<Settled>{Settled::dead_lettered, Settled::dead_lettered}));
  broker.expire(20);  // pong -> ping again would be a cycle
  left = broker.take_departures();
  ASSERT_EQ(left.size(), 2u);
  for (const auto& l : left) EXPECT_EQ(l.fate, Settled::discarded);
  EXPECT_EQ(broker.queues().at("ping").ready.size() + broker.queues().at("pong").ready.size(), 0u);
}

TEST(Queues, TtlAndLengthLimits) {
  Broker broker;
  broker.declare_exchange("x", ExchangeType::fanout);
  broker.declare_queue("dlq", {});
  broker.declare_queue("ttl", QueueSettings{.message_ttl = 100, .dead_letter_queue = "dlq"});
  broker.declare_queue("head", QueueSettings{.max_length = 2, .overflow = Overflow::drop_head, .dead_letter_queue = ""});
  broker.declare_queue("reject", QueueSettings{.max_length = 2, .overflow = Overflow::reject_publish, .dead_letter_queue = ""});
  for (const char* q : {"ttl", "head", "reject"}) broker.bind("x", q, "");
  for (std::uint64_t i = 1; i <= 3; ++i) {
    const auto routed = broker.publish("x", message(i), static_cast<Time>(i));
    if (i == 3) {
      EXPECT_EQ(routed.refused, std::vector<std::string>{"reject"});
      const auto dropped = broker.take_departures();
      ASSERT_EQ(dropped.size(), 1u);
      EXPECT_EQ(dropped[0].message.request, 1u);  // the oldest leaves the drop-head queue
      EXPECT_EQ(dropped[0].queue, "head");
      EXPECT_EQ(dropped[0].fate, Settled::discarded);  // it has no dead-letter queue
    }
  }
  EXPECT_EQ(ready(broker, "head"), 2u);
  EXPECT_EQ(ready(broker, "reject"), 2u);
  EXPECT_EQ(broker.next_expiry(), 101);
  broker.expire(100);
  EXPECT_TRUE(broker.take_departures().empty());
  broker.expire(101);
  const auto expired = broker.take_departures();
  ASSERT_EQ(expired.size(), 1u);
  EXPECT_EQ(expired[0].why, Left::Why::expired);
  EXPECT_EQ(expired[0].fate, Settled::dead_lettered);  // message 1 published at 1: 100 ns later it is gone
  EXPECT_EQ(ready(broker, "ttl"), 2u);
  EXPECT_EQ(ready(broker, "dlq"), 1u);
}

}  // namespace
}  // namespace flowframe::messaging

// ---- the queue broker and consumer kinds, run ----

namespace flowframe {
namespace {

using test::Recorded;

Recorded record_work_queue(const std::string& extra = "", const std::vector<std::string>& overrides = {}) {
  return test::record_builtin("work_queue", overrides, extra);
}

// Node indices in work_queue: 0 is the director, then the nodes in the order written.
constexpr std::uint32_t kBroker = 2, kWorker2 = 4;

std::uint64_t broker_figure(const Recorded& r, const char* name) { return r.report.figures["broker"][name].get<std::uint64_t>(); }

TEST(WorkQueue, ThePoisonMessageIsDeliveredThreeTimesThenDeadLettered) {
  const auto r = record_work_queue();
  EXPECT_TRUE(r.report.ok()) << format_report(r.report);
  std::uint64_t poison = 0;
  std::vector<std::string> deliveries, dead;
  for (const auto& view : r.frames)
    if (view.frame.outcome() == v1::Frame::NACKED) poison = view.frame.id();
  for (const auto& view : r.frames) {
    const auto& f = view.frame;
    if (f.id() == poison && f.kind() == v1::Frame::MESSAGE && f.src() == kBroker) deliveries.push_back(f.note());
    if (f.outcome() == v1::Frame::DEAD_LETTERED) dead.push_back(f.note());
  }
  ASSERT_NE(poison, 0u);
  ASSERT_EQ(deliveries.size(), 3u);
  EXPECT_NE(deliveries[2].find("delivery 3, redelivered"), std::string::npos) << deliveries[2];
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_NE(dead[0].find("delivered 3 times: to tasks.dead"), std::string::npos) << dead[0];
  const auto& tasks = r.run.summary["nodes"]["broker"]["queues"];
  EXPECT_EQ(tasks["tasks"]["dead_lettered"], 1);
  EXPECT_EQ(tasks["tasks.dead"]["ready"], 1);  // it rests in the dead-letter queue
  EXPECT_EQ(broker_figure(r, "max_deliveries"), 3u);
}

TEST(WorkQueue, ACrashedWorkersMessagesGoToTheOthers) {
  const auto r = record_work_queue();
  // worker-2 crashed at 5 s holding messages it never acknowledged; once the broker gave up on it,
  // each came back to the head of the queue and was delivered to another worker.
  std::vector<std::uint64_t> returned;
  Time gone_at = 0, last_heartbeat = 0;
  for (const auto& view : r.frames) {
    const auto& f = view.frame;
    if (f.src() == kWorker2 && f.dst() == kBroker && f.note().rfind("heartbeat", 0) == 0 && view.time < from_seconds(5))
      last_heartbeat = view.time;
    if (f.outcome() == v1::Frame::CONSUMER_GONE) gone_at = view.time;
    if (f.outcome() == v1::Frame::REQUEUED && f.kind() == v1::Frame::TIMER) returned.push_back(f.id());
  }
  ASSERT_GT(last_heartbeat, from_millis(4400));
  EXPECT_GE(gone_at, last_heartbeat + from_millis(1500));  // its last heartbeat + the timeout
  EXPECT_LE(gone_at, last_heartbeat + from_millis(2000));  // ... noticed within a sweep
  ASSERT_FALSE(returned.empty());
  for (const auto id : returned) {
    std::vector<std::uint32_t> delivered_to;
    for (const auto& view : r.frames)
      if (view.frame.id() == id && view.frame.kind() == v1::Frame::MESSAGE && view.frame.src() == kBroker)
        delivered_to.push_back(view.frame.dst());
    ASSERT_EQ(delivered_to.size(), 2u) << "message " << id;
    EXPECT_NE(delivered_to[1], delivered_to[0]);
  }
  EXPECT_EQ(broker_figure(r, "consumers_gone"), 1u);
  EXPECT_EQ(broker_figure(r, "redeliveries"), returned.size() + 2);  // plus the poison message's two
  EXPECT_EQ(broker_figure(r, "acked") + broker_figure(r, "dead_lettered"), broker_figure(r, "messages"));
}

TEST(WorkQueue, AWorkerPausedPastTheTimeoutProcessesTwiceAndEveryDuplicateIsCounted) {
  // A 3 s pause looks like death to the broker: the worker's messages go to the others, and when
  // it wakes it still processes them. The database already has those rows: 409, a duplicate.
  const auto r = record_work_queue(R"(events { at_s: 3 node: "worker-1" fault { pause_s: 3 } })");
  EXPECT_TRUE(r.report.ok()) << format_report(r.report);
  std::uint64_t counted_by_workers = 0;
  for (const char* worker : {"worker-1", "worker-2", "worker-3"})
    counted_by_workers += r.run.summary["nodes"][worker].value("duplicates", std::uint64_t{0});
  EXPECT_GT(broker_figure(r, "duplicates"), 0u);
  EXPECT_EQ(broker_figure(r, "duplicates"), counted_by_workers);
  EXPECT_GT(broker_figure(r, "late_acks"), 0u);  // its acks came for deliveries the broker had taken back
  EXPECT_EQ(broker_figure(r, "acked") + broker_figure(r, "dead_lettered"), broker_figure(r, "messages"));
}

TEST(WorkQueue, ABrokerWithoutConsumersKeepsItsMessagesAndSaysSo) {
  const auto r = record_work_queue(R"(events { at_s: 1 node: "worker-1" fault { crash: true } }
events { at_s: 1 node: "worker-3" fault { crash: true } }
)");
  // worker-2 crashes at 5 s too and comes back at 9 s: the backlog drains then.
  EXPECT_TRUE(r.report.ok()) << format_report(r.report);
  EXPECT_GT(r.run.summary["nodes"]["broker"]["queues"]["tasks"]["max_ready"].get<std::uint64_t>(), 50u);
}

TEST(MessageCheck, CatchesALostMessageAndADeliveryOverTheLimit) {
  test::TempPath log(".ffl");
  RunOptions options;
  options.out_path = log.str();
  test::run_scenario("work_queue", {"workload.rate=5", "stop.duration_s=1"}, options);
  FrameLogReader reader(log.str());
  MessageLedger ledger(reader.header());
  const auto frames = test::read_frames(log.str());
  for (const auto& view : frames) {
    if (view.frame.outcome() == v1::Frame::ACKED && view.frame.id() == 2) continue;  // as if message 2 vanished
    ledger.feed(view);
  }
  for (int extra = 0; extra < 3; ++extra)
    for (const auto& view : frames)
      if (view.frame.kind() == v1::Frame::MESSAGE && view.frame.src() == kBroker && view.frame.id() == 1) {
        ledger.feed(view);  // message 1 delivered four times in all
        break;
      }
  const auto report = ledger.report();
  ASSERT_EQ(report.invariants.size(), 3u);
  EXPECT_FALSE(report.invariants[0].holds);
  EXPECT_NE(report.invariants[0].detail.find("messages 2"), std::string::npos) << report.invariants[0].detail;
  EXPECT_FALSE(report.invariants[1].holds);
  EXPECT_NE(report.invariants[1].detail.find("message 1 delivered 4 times from tasks (limit 3)"), std::string::npos)
      << report.invariants[1].detail;
  EXPECT_TRUE(report.invariants[2].holds);
}

}  // namespace
}  // namespace flowframe

namespace flowframe {
namespace {

// A fanout to two queues nobody consumes: one refuses publishes once 5 deep, the other lets
// messages expire after 200 ms into a dead-letter queue.
constexpr const char* kLimits = R"(
name: "limits"
nodes { id: "publisher" kind: CLIENT position { x: 0 y: 0 } client { publish { exchange: "all" } } }
nodes { id: "broker" kind: QUEUE_BROKER position { x: 1 y: 0 }
  queue_broker {
    exchanges { name: "all" type: FANOUT }
    queues { name: "bounded" max_length: 5 overflow: REJECT_PUBLISH }
    queues { name: "fleeting" message_ttl_ms: 200 dead_letter_queue: "expired" }
    queues { name: "expired" }
    bindings { exchange: "all" queue: "bounded" }
    bindings { exchange: "all" queue: "fleeting" }
  }
}
links { from: "publisher" to: "broker" latency { mean_ms: 1 } }
workload { clients: "publisher" arrival: STEADY rate: 100 }
stop { requests: 20 }
)";

TEST(QueueBroker, RejectPublishRefusesAndTtlExpiresIntoTheDeadLetterQueue) {
  test::TempPath scenario(".textproto"), log(".ffl");
  test::write_file(scenario.str(), kLimits);
  RunOptions options;
  options.out_path = log.str();
  const auto run = test::run_scenario(scenario.str(), {}, options);
  // Publishes 6..20 find 'bounded' full: refused with 503 (the copy in 'fleeting' stays, as in RabbitMQ).
  EXPECT_EQ(run.summary["requests"]["by_status"]["201"], 5);
  EXPECT_EQ(run.summary["requests"]["by_status"]["503"], 15);
  const auto& queues = run.summary["nodes"]["broker"]["queues"];
  EXPECT_EQ(queues["bounded"]["ready"], 5);
  EXPECT_EQ(queues["bounded"]["refused"], 15);
  EXPECT_EQ(queues["fleeting"]["expired"], 20);  // nobody consumed them: each left after its TTL
  EXPECT_EQ(queues["expired"]["ready"], 20);
  Time first_expiry = 0;
  for (const auto& view : test::read_frames(log.str()))
    if (view.frame.outcome() == v1::Frame::EXPIRED && !first_expiry) first_expiry = view.time;
  // The first publish leaves at 1 ns and arrives 1 ms later; its copy in 'fleeting' leaves exactly
  // 200 ms after that, and its frame follows 1 ns later.
  EXPECT_EQ(first_expiry, 1 + from_millis(201) + 1);
}

}  // namespace
}  // namespace flowframe

namespace flowframe {
namespace {

TEST(WorkQueue, APoisonRedeliveredForEverEndsTheRunAfterTheDrainTime) {
  auto text = test::builtin_text("work_queue");
  const std::string limit = R"(queues { name: "tasks" max_deliveries: 3 dead_letter_queue: "tasks.dead" })";
  text.replace(text.find(limit), limit.size(), R"(queues { name: "tasks" })");
  test::TempPath scenario(".textproto");
  test::write_file(scenario.str(), text);
  const auto run = test::run_scenario(scenario.str(), {"stop.drain_s=30"});
  EXPECT_EQ(run.summary["cut_short"], true);
  EXPECT_NEAR(run.summary["sim_time_s"].get<double>(), 12 + 30, 0.01);
}

}  // namespace
}  // namespace flowframe
