#include "runtime/check/invariants.hpp"

#include <fmt/format.h>

#include "runtime/base/text.hpp"

namespace flowframe {
namespace {

constexpr std::size_t kShownViolations = 5;

const v1::Node* spec_of(const v1::LogHeader& header, const std::string& id) {
  for (const auto& node : header.scenario().nodes())
    if (node.id() == id) return &node;
  return nullptr;
}

std::string some(const std::vector<std::string>& items) {
  std::vector<std::string> shown(items.begin(), items.begin() + static_cast<long>(std::min(items.size(), kShownViolations)));
  return join(shown, "; ") + (items.size() > kShownViolations ? fmt::format("; and {} more", items.size() - kShownViolations) : "");
}

}  // namespace

bool CheckReport::ok() const {
  return std::all_of(invariants.begin(), invariants.end(), [](const Invariant& i) { return i.holds; });
}

MessageLedger::MessageLedger(const v1::LogHeader& header) : header_(header) {
  for (const auto& info : header.nodes()) {
    const auto* spec = spec_of(header, info.id());
    if (!spec) continue;
    if (info.kind() == v1::Node::QUEUE_BROKER) {
      auto& broker = brokers_[info.index()];
      broker.id = info.id();
      for (const auto& queue : spec->queue_broker().queues()) {
        broker.limits[queue.name()] = queue.max_deliveries();
        if (!queue.dead_letter_queue().empty()) broker.dead_letter_queues.insert(queue.dead_letter_queue());
      }
    }
  }
  for (const auto& info : header.nodes()) {
    const auto* spec = spec_of(header, info.id());
    if (!spec || info.kind() != v1::Node::CONSUMER) continue;
    for (const auto& other : header.nodes())
      if (other.id() == spec->consumer().broker()) consumers_[info.index()] = {other.index(), spec->consumer().queue()};
  }
}

void MessageLedger::feed(const FrameView& view) {
  const auto& f = view.frame;
  if (auto consumer = consumers_.find(f.dst()); consumer != consumers_.end()) {
    const auto& [broker_index, queue] = consumer->second;
    auto& broker = brokers_.at(broker_index);
    if (f.kind() == v1::Frame::MESSAGE && f.src() == broker_index) {  // a delivery
      auto& m = message(broker, f.id());
      const auto count = ++m.deliveries[queue];
      broker.redeliveries += count > 1;
      const auto limit = broker.limits[queue];
      if (limit > 0 && count > limit)
        broker.over_limit.push_back(fmt::format("message {} delivered {} times from {} (limit {})", f.id(), count, queue, limit));
    } else if (f.outcome() == v1::Frame::SERVED) {  // processed, about to be acknowledged
      auto& m = message(broker, f.id());
      if (m.processed++ > 0) {
        ++m.duplicates;
        // At least once: a message is processed again only after the broker took it back from a
        // consumer it had given up on (gone, or reconnected), whose work it could not know of.
        if (m.returned == 0) ++m.unexplained_duplicates;
      }
    }
    return;
  }
  const auto found = brokers_.find(f.dst());
  if (found == brokers_.end()) return;
  auto& broker = found->second;
  if (f.has_state() && f.state().has_queue_broker()) {
    broker.last = f.state().queue_broker();
    broker.has_state = true;
  }
  switch (f.outcome()) {
    case v1::Frame::ACKED: message(broker, f.id()).acked = true; break;
    case v1::Frame::DEAD_LETTERED:
    case v1::Frame::EXPIRED: message(broker, f.id()).dead_lettered = true; break;
    case v1::Frame::REQUEUED:
      if (f.kind() == v1::Frame::TIMER) ++message(broker, f.id()).returned;  // its consumer was gone
      else ++broker.nack_requeues;
      break;
    case v1::Frame::CONSUMER_GONE: ++broker.gone; break;
    case v1::Frame::LATE:
      if (f.kind() == v1::Frame::MESSAGE) ++broker.late_acks;
      break;
    default: break;
  }
}

CheckReport MessageLedger::report() const {
  CheckReport report;
  for (const auto& [index, broker] : brokers_) {
    // Messages are numbered 1..issued; those neither acked nor dead-lettered must still be held.
    std::uint64_t issued = broker.has_state ? broker.last.next_message() : 0;
    if (!broker.messages.empty()) issued = std::max(issued, broker.messages.rbegin()->first);
    std::uint64_t acked = 0, dead = 0, duplicates = 0, unexplained = 0, most_deliveries = 0;
    std::vector<std::string> unexplained_ids;
    for (const auto& [id, m] : broker.messages) {
      acked += m.acked;
      dead += !m.acked && m.dead_lettered;
      duplicates += m.duplicates;
      unexplained += m.unexplained_duplicates;
      if (m.unexplained_duplicates) unexplained_ids.push_back(fmt::format("message {} processed {} times", id, m.processed));
      for (const auto& [queue, count] : m.deliveries) most_deliveries = std::max<std::uint64_t>(most_deliveries, count);
    }
    std::uint64_t held = 0;  // at the end, in queues other than dead-letter queues
    if (broker.has_state)
      for (const auto& queue : broker.last.queues())
        if (!broker.dead_letter_queues.count(queue.name())) held += queue.ready() + queue.unacked();
    const std::uint64_t unsettled = issued - acked - dead;

    Invariant kept{broker.id + ": no message lost (each ends acked, dead-lettered or still held)", unsettled <= held,
                   fmt::format("{} messages: {} acked, {} dead-lettered, {} still held at the end", issued, acked, dead, held)};
    if (!kept.holds) {
      std::vector<std::string> missing;
      for (std::uint64_t id = 1; id <= issued; ++id) {
        const auto m = broker.messages.find(id);
        if (m == broker.messages.end() || (!m->second.acked && !m->second.dead_lettered)) missing.push_back(std::to_string(id));
      }
      kept.detail += fmt::format(": {} unaccounted for (messages {})", unsettled - held, some(missing));
    }
    report.invariants.push_back(std::move(kept));
    report.invariants.push_back({broker.id + ": no message delivered more often than its queue's limit", broker.over_limit.empty(),
                                 broker.over_limit.empty() ? fmt::format("at most {} deliveries of one message", most_deliveries)
                                                           : some(broker.over_limit)});
    report.invariants.push_back(
        {broker.id + ": a message is processed twice only after its consumer was given up on", unexplained == 0,
         unexplained == 0 ? fmt::format("{} duplicate processings, each after a consumer was gone", duplicates)
                          : fmt::format("{} of {} duplicates unexplained: {}", unexplained, duplicates, some(unexplained_ids))});
    report.figures[broker.id] = {{"messages", issued},          {"acked", acked},
                                 {"dead_lettered", dead},        {"held_at_end", held},
                                 {"redeliveries", broker.redeliveries}, {"nack_requeues", broker.nack_requeues},
                                 {"consumers_gone", broker.gone}, {"late_acks", broker.late_acks},
                                 {"duplicates", duplicates},     {"max_deliveries", most_deliveries}};
  }
  return report;
}

CheckReport check_log(FrameLogReader& reader) {
  reader.refresh(true);
  MessageLedger ledger(reader.header());
  DecodedChunk chunk;
  for (std::size_t c = 0; c < reader.chunks().size(); ++c) {
    if (!reader.read_chunk(c, chunk)) continue;
    for (const auto& view : chunk.frames) ledger.feed(view);
  }
  auto report = ledger.report();
  report.log_problems = reader.health().problems;
  if (!reader.health().complete) report.log_problems.push_back("the log is incomplete: checked as far as it reads");
  return report;
}

std::string format_report(const CheckReport& report) {
  std::string out;
  if (report.invariants.empty()) out += "no invariants apply: the run has no message broker\n";
  for (const auto& invariant : report.invariants)
    out += fmt::format("{}  {}\n      {}\n", invariant.holds ? "ok  " : "FAIL", invariant.name, invariant.detail);
  for (const auto& problem : report.log_problems) out += "note  " + problem + "\n";
  return out;
}

}  // namespace flowframe
