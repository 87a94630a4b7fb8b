#pragma once
// A RabbitMQ-like broker's routing and queues as plain logic over logical time: exchanges (direct,
// fanout, topic) bound to queues; competing consumers with a prefetch limit; ack, nack with requeue,
// reject; delivery counts and the redelivered flag; dead-lettering after N deliveries, on reject or
// on TTL expiry; a length limit that drops the oldest or rejects the publish. The queue broker
// component frames what it decides; tests check every rule here directly.
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "runtime/base/time.hpp"

namespace flowframe::messaging {

struct Message {
  std::uint64_t id = 0;
  std::string routing_key;
  Time published = 0;
  Time entered = 0;  // when it entered its present queue: its TTL runs from then
  std::uint32_t deliveries = 0;  // times handed to a consumer so far
  bool poison = false;           // consumers fail on it (a message that can never be processed)
  // Who published it, carried along so every hop of the message shows whose it is.
  std::uint32_t publisher = 0;
  std::uint64_t request = 0;
  std::uint32_t path = 0;
  std::vector<std::string> died_in;  // queues it was dead-lettered from (a cycle discards it)
};

enum class ExchangeType { direct, fanout, topic };
enum class Overflow { drop_head, reject_publish };

struct QueueSettings {
  std::size_t max_length = 0;      // 0: unbounded
  Overflow overflow = Overflow::drop_head;
  Time message_ttl = 0;            // 0: messages never expire
  std::uint32_t max_deliveries = 0;  // 0: redelivered for ever; else dead-lettered at this count
  std::string dead_letter_queue;   // "" : dead letters are dropped
};

// AMQP topic matching: words separated by '.', '*' matches one word, '#' zero or more.
bool topic_matches(const std::string& pattern, const std::string& routing_key);

struct Delivery {
  std::uint32_t consumer;
  std::string queue;
  std::uint64_t tag;  // unique per broker; the consumer acks with it
  Message message;
  bool redelivered;
};

// What became of a message that left its queue other than by an ack: back at the head, in the
// dead-letter queue, or thrown away (no dead-letter queue, it is full, or a dead-letter cycle).
enum class Settled { unknown, requeued, dead_lettered, discarded };

// A message that left `queue` other than by an ack, why, and where it went.
struct Left {
  enum class Why { pushed_out, expired, returned };
  std::string queue;
  Message message;
  Settled fate = Settled::dead_lettered;
  Why why = Why::pushed_out;
};

// Where a message went or why not, for the publishing frame.
struct Routed {
  std::vector<std::string> queues;   // enqueued into
  std::vector<std::uint64_t> ids;    // the copy's number in each of them
  std::vector<std::string> refused;  // full with reject-publish
};

class Broker {
 public:
  void declare_exchange(const std::string& name, ExchangeType type);
  void declare_queue(const std::string& name, QueueSettings settings);
  void bind(const std::string& exchange, const std::string& queue, const std::string& binding_key);
  bool has_exchange(const std::string& name) const { return exchanges_.count(name) != 0; }
  bool has_queue(const std::string& name) const { return queues_.count(name) != 0; }

  // Each queue the exchange routes it to gets its own copy, numbered by the broker.
  Routed publish(const std::string& exchange, Message message, Time now);
  // The broker's clock, for messages that change queues (dead letters start their TTL afresh).
  void tick(Time now) { now_ = now; }
  std::uint64_t issued() const { return next_id_; }  // copies numbered so far: 1..issued()
  void subscribe(std::uint32_t consumer, const std::string& queue, std::uint32_t prefetch);
  // Hands ready messages to consumers with room under their prefetch, round robin per queue.
  std::vector<Delivery> dispatch();
  // Outcomes of a delivery; false for a tag it does not know (acked already, or its consumer gone).
  bool ack(std::uint64_t tag);
  // Requeued at the head (redelivered) unless it reached max_deliveries; then dead-lettered.
  Settled nack(std::uint64_t tag, bool requeue);
  // A consumer died or left: its unacked messages go back to the head of their queues (those
  // delivered max_deliveries times to the dead-letter queue), oldest delivery first.
  std::vector<Left> consumer_gone(std::uint32_t consumer);
  // Messages that left a queue as a side effect since the last call: pushed out by a length limit
  // (also inside a dead-letter queue), expired. Each needs telling.
  std::vector<Left> take_departures() { return std::exchange(departures_, {}); }
  bool subscribed(std::uint32_t consumer) const;
  std::uint32_t prefetch_of(std::uint32_t consumer, const std::string& queue) const;
  // Ready messages at the head past their TTL leave for the dead-letter queue (see departures).
  void expire(Time now);
  // The earliest time a ready head message expires (kTimeNever: none).
  Time next_expiry() const;

  struct Consumer {
    std::uint32_t node;
    std::uint32_t prefetch;
    std::uint32_t unacked = 0;
  };
  struct Counts {
    std::uint64_t published = 0, delivered = 0, redelivered = 0, acked = 0;
    std::uint64_t dead_lettered = 0, discarded = 0, dropped = 0, expired = 0, refused = 0;
    std::size_t max_ready = 0;
  };
  struct Queue {
    QueueSettings settings;
    std::deque<Message> ready;
    std::vector<Consumer> consumers;
    std::size_t next_consumer = 0;
    Counts counts;
  };
  struct Unacked {
    std::string queue;
    std::uint32_t consumer;
    Message message;
  };
  const std::map<std::string, Queue>& queues() const { return queues_; }
  const std::map<std::uint64_t, Unacked>& unacked() const { return unacked_; }  // by delivery tag
  std::size_t unacked_in(const std::string& queue) const;

 private:
  struct Exchange {
    ExchangeType type;
    std::vector<std::pair<std::string, std::string>> bindings;  // queue, binding key
  };
  // Returns false if a reject-publish limit refused it.
  bool enqueue(Queue& queue, Message message, Routed* routed, const std::string& name);
  // To the queue's dead-letter queue, or discarded.
  Settled dead_letter(const std::string& from, Message message);
  Settled give_back(Unacked unacked, bool requeue);
  Consumer* consumer_of(Queue& queue, std::uint32_t node);

  std::map<std::string, Exchange> exchanges_;
  std::map<std::string, Queue> queues_;
  std::map<std::uint64_t, Unacked> unacked_;
  std::uint64_t next_tag_ = 1;
  std::uint64_t next_id_ = 0;
  std::vector<Left> departures_;
  Time now_ = 0;
};

}  // namespace flowframe::messaging
