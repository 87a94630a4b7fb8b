#include "actors/queue_broker/queues.hpp"

#include <algorithm>
#include <sstream>

namespace flowframe::messaging {
namespace {

std::vector<std::string> words(const std::string& key) {
  std::vector<std::string> out;
  std::string word;
  for (std::istringstream in(key); std::getline(in, word, '.');) out.push_back(word);
  if (!key.empty() && key.back() == '.') out.emplace_back();
  return out;
}

bool match_from(const std::vector<std::string>& pattern, std::size_t p, const std::vector<std::string>& key, std::size_t k) {
  if (p == pattern.size()) return k == key.size();
  if (pattern[p] == "#") {
    for (std::size_t skip = k; skip <= key.size(); ++skip)  // '#' takes zero or more words
      if (match_from(pattern, p + 1, key, skip)) return true;
    return false;
  }
  if (k == key.size()) return false;
  return (pattern[p] == "*" || pattern[p] == key[k]) && match_from(pattern, p + 1, key, k + 1);
}

}  // namespace

bool topic_matches(const std::string& pattern, const std::string& routing_key) {
  return match_from(words(pattern), 0, words(routing_key), 0);
}

void Broker::declare_exchange(const std::string& name, ExchangeType type) { exchanges_[name].type = type; }

void Broker::declare_queue(const std::string& name, QueueSettings settings) { queues_[name].settings = std::move(settings); }

void Broker::bind(const std::string& exchange, const std::string& queue, const std::string& binding_key) {
  exchanges_.at(exchange).bindings.emplace_back(queue, binding_key);
}

Routed Broker::publish(const std::string& exchange, Message message, Time now) {
  Routed routed;
  now_ = now;
  message.published = now;
  const auto found = exchanges_.find(exchange);
  if (found == exchanges_.end()) return routed;
  for (const auto& [queue, key] : found->second.bindings) {
    const bool matches = found->second.type == ExchangeType::fanout   ? true
                         : found->second.type == ExchangeType::direct ? key == message.routing_key
                                                                      : topic_matches(key, message.routing_key);
    if (!matches || std::find(routed.queues.begin(), routed.queues.end(), queue) != routed.queues.end()) continue;
    Message copy = message;
    copy.id = ++next_id_;
    if (enqueue(queues_.at(queue), std::move(copy), &routed, queue)) routed.ids.push_back(next_id_);
    else --next_id_;  // refused: no copy
  }
  return routed;
}

bool Broker::enqueue(Queue& queue, Message message, Routed* routed, const std::string& name) {
  const auto& settings = queue.settings;
  if (settings.max_length > 0 && queue.ready.size() >= settings.max_length) {
    if (settings.overflow == Overflow::reject_publish) {
      ++queue.counts.refused;
      if (routed) routed->refused.push_back(name);
      return false;
    }
    Message oldest = queue.ready.front();  // drop-head: the oldest makes room
    queue.ready.pop_front();
    ++queue.counts.dropped;
    Left left{name, oldest, Settled::dead_lettered, Left::Why::pushed_out};
    left.fate = dead_letter(name, std::move(oldest));
    departures_.push_back(std::move(left));
  }
  message.entered = now_;
  queue.ready.push_back(std::move(message));
  ++queue.counts.published;
  queue.counts.max_ready = std::max(queue.counts.max_ready, queue.ready.size());
  if (routed) routed->queues.push_back(name);
  return true;
}

Settled Broker::dead_letter(const std::string& from, Message message) {
  auto& queue = queues_.at(from);
  const auto& target_name = queue.settings.dead_letter_queue;
  const auto target = queues_.find(target_name);
  const bool cycle = std::find(message.died_in.begin(), message.died_in.end(), target_name) != message.died_in.end();
  // A dead letter starts afresh in its new queue, as RabbitMQ republishes it.
  message.deliveries = 0;
  message.died_in.push_back(from);
  if (target == queues_.end() || target_name == from || cycle || !enqueue(target->second, std::move(message), nullptr, target_name)) {
    ++queue.counts.discarded;
    return Settled::discarded;
  }
  ++queue.counts.dead_lettered;
  return Settled::dead_lettered;
}

Broker::Consumer* Broker::consumer_of(Queue& queue, std::uint32_t node) {
  for (auto& consumer : queue.consumers)
    if (consumer.node == node) return &consumer;
  return nullptr;
}

void Broker::subscribe(std::uint32_t consumer, const std::string& queue, std::uint32_t prefetch) {
  auto& q = queues_.at(queue);
  if (auto* existing = consumer_of(q, consumer)) {
    existing->prefetch = prefetch;
    return;
  }
  q.consumers.push_back({consumer, prefetch});
}

bool Broker::subscribed(std::uint32_t consumer) const {
  for (const auto& [name, queue] : queues_)
    for (const auto& c : queue.consumers)
      if (c.node == consumer) return true;
  return false;
}

std::uint32_t Broker::prefetch_of(std::uint32_t consumer, const std::string& queue) const {
  const auto found = queues_.find(queue);
  if (found == queues_.end()) return 0;
  for (const auto& c : found->second.consumers)
    if (c.node == consumer) return c.prefetch;
  return 0;
}

std::vector<Delivery> Broker::dispatch() {
  std::vector<Delivery> deliveries;
  for (auto& [name, queue] : queues_) {
    while (!queue.ready.empty() && !queue.consumers.empty()) {
      // The next consumer in turn with room under its prefetch (0: no limit).
      Consumer* chosen = nullptr;
      for (std::size_t k = 0; k < queue.consumers.size() && !chosen; ++k) {
        auto& candidate = queue.consumers[(queue.next_consumer + k) % queue.consumers.size()];
        if (candidate.prefetch == 0 || candidate.unacked < candidate.prefetch) {
          chosen = &candidate;
          queue.next_consumer = (queue.next_consumer + k + 1) % queue.consumers.size();
        }
      }
      if (!chosen) break;
      Message message = queue.ready.front();
      queue.ready.pop_front();
      const bool redelivered = message.deliveries > 0;
      ++message.deliveries;
      ++chosen->unacked;
      ++queue.counts.delivered;
      queue.counts.redelivered += redelivered;
      const auto tag = next_tag_++;
      unacked_.emplace(tag, Unacked{name, chosen->node, message});
      deliveries.push_back({chosen->node, name, tag, std::move(message), redelivered});
    }
  }
  return deliveries;
}

bool Broker::ack(std::uint64_t tag) {
  const auto found = unacked_.find(tag);
  if (found == unacked_.end()) return false;
  auto& queue = queues_.at(found->second.queue);
  if (auto* consumer = consumer_of(queue, found->second.consumer)) --consumer->unacked;
  ++queue.counts.acked;
  unacked_.erase(found);
  return true;
}

Settled Broker::give_back(Unacked unacked, bool requeue) {
  auto& queue = queues_.at(unacked.queue);
  if (auto* consumer = consumer_of(queue, unacked.consumer)) --consumer->unacked;
  const auto limit = queue.settings.max_deliveries;
  if (!requeue || (limit > 0 && unacked.message.deliveries >= limit)) return dead_letter(unacked.queue, std::move(unacked.message));
  queue.ready.push_front(std::move(unacked.message));  // RabbitMQ requeues at its original position: the head
  queue.counts.max_ready = std::max(queue.counts.max_ready, queue.ready.size());
  return Settled::requeued;
}

Settled Broker::nack(std::uint64_t tag, bool requeue) {
  const auto found = unacked_.find(tag);
  if (found == unacked_.end()) return Settled::unknown;
  auto unacked = std::move(found->second);
  unacked_.erase(found);
  return give_back(std::move(unacked), requeue);
}

std::vector<Left> Broker::consumer_gone(std::uint32_t consumer) {
  std::vector<Left> returned;
  // Highest tags first, each to the head: the oldest delivery ends up first again.
  for (auto it = unacked_.rbegin(); it != unacked_.rend();) {
    if (it->second.consumer != consumer) {
      ++it;
      continue;
    }
    auto unacked = std::move(it->second);
    it = decltype(it)(unacked_.erase(std::next(it).base()));
    Left left{unacked.queue, unacked.message, Settled::requeued, Left::Why::returned};
    left.fate = give_back(std::move(unacked), true);
    returned.insert(returned.begin(), std::move(left));
  }
  for (auto& [name, queue] : queues_) {
    queue.consumers.erase(std::remove_if(queue.consumers.begin(), queue.consumers.end(),
                                         [&](const Consumer& c) { return c.node == consumer; }),
                          queue.consumers.end());
    if (queue.next_consumer >= queue.consumers.size()) queue.next_consumer = 0;
  }
  return returned;
}

void Broker::expire(Time now) {
  now_ = now;
  for (auto& [name, queue] : queues_) {
    const Time ttl = queue.settings.message_ttl;
    if (ttl <= 0) continue;
    // Only the head expires (as RabbitMQ does): messages behind it wait their turn.
    while (!queue.ready.empty() && now - queue.ready.front().entered >= ttl) {
      Message message = queue.ready.front();
      queue.ready.pop_front();
      ++queue.counts.expired;
      Left left{name, message, Settled::dead_lettered, Left::Why::expired};
      left.fate = dead_letter(name, std::move(message));
      departures_.push_back(std::move(left));
    }
  }
}

Time Broker::next_expiry() const {
  Time next = kTimeNever;
  for (const auto& [name, queue] : queues_)
    if (queue.settings.message_ttl > 0 && !queue.ready.empty())
      next = std::min(next, queue.ready.front().entered + queue.settings.message_ttl);
  return next;
}

std::size_t Broker::unacked_in(const std::string& name) const {
  std::size_t count = 0;
  for (const auto& [tag, unacked] : unacked_) count += unacked.queue == name;
  return count;
}

}  // namespace flowframe::messaging
