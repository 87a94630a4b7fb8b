// The queue broker's rules, one by one: routing by exchange type, prefetch, acks, redelivery,
// dead letters, TTL and length limits.
#include <gtest/gtest.h>

#include "actors/queue_broker/queues.hpp"

namespace flowframe::messaging {
namespace {

Message message(std::uint64_t id, const std::string& key = "task", bool poison = false) {
  Message m;
  m.id = id;
  m.routing_key = key;
  m.poison = poison;
  return m;
}

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
  EXPECT_EQ(broker.publish("fanout", message(2), 0).queues, (std::vector<std::string>{"a", "b"}));
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
  const auto first = broker.dispatch(0);
  ASSERT_EQ(first.size(), 3u);  // 2 + 1 in flight; 2 wait
  EXPECT_EQ(first[0].consumer, 1u);
  EXPECT_EQ(first[1].consumer, 2u);
  EXPECT_EQ(first[2].consumer, 1u);
  EXPECT_EQ(broker.view("q").ready, 2u);
  EXPECT_EQ(broker.view("q").unacked, 3u);
  EXPECT_TRUE(broker.ack(first[1].tag));
  EXPECT_FALSE(broker.ack(first[1].tag));  // twice: unknown
  const auto next = broker.dispatch(0);
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
    const auto got = broker.dispatch(0);
    ASSERT_EQ(got.size(), 1u) << delivery;
    EXPECT_EQ(got[0].message.deliveries, static_cast<std::uint32_t>(delivery));
    EXPECT_EQ(got[0].redelivered, delivery > 1);
    EXPECT_TRUE(broker.nack(got[0].tag, true));
  }
  EXPECT_TRUE(broker.dispatch(0).empty());
  EXPECT_EQ(broker.view("q").ready, 0u);
  EXPECT_EQ(broker.view("q").dead_lettered, 1u);
  EXPECT_EQ(broker.view("dlq").ready, 1u);
  // Reject (no requeue) dead-letters at once.
  broker.publish("x", message(8), 0);
  const auto got = broker.dispatch(0);
  ASSERT_EQ(got.size(), 1u);
  broker.nack(got[0].tag, false);
  EXPECT_EQ(broker.view("dlq").ready, 2u);
}

TEST(Queues, AGoneConsumersMessagesAreRedeliveredToTheOthers) {
  Broker broker;
  broker.declare_exchange("x", ExchangeType::fanout);
  broker.declare_queue("q", {});
  broker.bind("x", "q", "");
  broker.subscribe(1, "q", 2);
  for (std::uint64_t i = 1; i <= 2; ++i) broker.publish("x", message(i), 0);
  ASSERT_EQ(broker.dispatch(0).size(), 2u);
  broker.subscribe(2, "q", 5);
  broker.consumer_gone(1);
  const auto again = broker.dispatch(0);
  ASSERT_EQ(again.size(), 2u);
  EXPECT_EQ(again[0].consumer, 2u);
  EXPECT_EQ(again[0].message.id, 1u);  // the oldest first again
  EXPECT_TRUE(again[0].redelivered);
  EXPECT_EQ(again[1].message.id, 2u);
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
      ASSERT_EQ(routed.dropped.size(), 1u);
      EXPECT_EQ(routed.dropped[0].id, 1u);  // the oldest leaves the drop-head queue
    }
  }
  EXPECT_EQ(broker.view("head").ready, 2u);
  EXPECT_EQ(broker.view("reject").ready, 2u);
  EXPECT_EQ(broker.expire(101).size(), 1u);  // message 1 published at 1: 100 ns later it is gone
  EXPECT_EQ(broker.view("ttl").ready, 2u);
  EXPECT_EQ(broker.view("dlq").ready, 1u);
}

}  // namespace
}  // namespace flowframe::messaging
