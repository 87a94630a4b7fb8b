#include "runtime/check/invariants.hpp"

#include <fmt/format.h>

#include "runtime/base/text.hpp"
#include "runtime/check/sagas.hpp"

namespace flowframe {
namespace {

const v1::Node* spec_of(const v1::LogHeader& header, const std::string& id) {
  for (const auto& node : header.scenario().nodes())
    if (node.id() == id) return &node;
  return nullptr;
}

}  // namespace

std::string first_few(const std::vector<std::string>& items) {
  constexpr std::size_t kShown = 5;
  std::vector<std::string> shown(items.begin(), items.begin() + static_cast<long>(std::min(items.size(), kShown)));
  return join(shown, "; ") + (items.size() > kShown ? fmt::format("; and {} more", items.size() - kShown) : "");
}

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
  std::map<std::string, std::uint32_t> index_of;
  for (const auto& info : header.nodes()) index_of[info.id()] = info.index();
  for (const auto& info : header.nodes()) {
    const auto* spec = spec_of(header, info.id());
    if (spec && info.kind() == v1::Node::LOG_BROKER && spec->log_broker().follower_of().empty()) {
      auto& log = logs_[info.index()];
      log.id = info.id();
      log.leader = info.index();
      std::size_t partitions = 0;
      for (const auto& topic : spec->log_broker().topics()) partitions += std::max<std::uint32_t>(1, topic.partitions());
      log.partitions = partitions;
      log.replicas[info.index()].resize(partitions);
      replica_of_[info.index()] = info.index();
    }
  }
  for (const auto& info : header.nodes()) {
    const auto* spec = spec_of(header, info.id());
    if (spec && info.kind() == v1::Node::LOG_BROKER && !spec->log_broker().follower_of().empty())
      if (const auto leader = index_of.find(spec->log_broker().follower_of()); leader != index_of.end() && logs_.count(leader->second)) {
        replica_of_[info.index()] = leader->second;
        auto& log = logs_.at(leader->second);
        log.replicas[info.index()].resize(log.partitions);
      }
  }
  // Producers: a client publishing to a topic of a cluster it sends its workload to.
  const auto& workload = header.scenario().workload();
  for (const auto& info : header.nodes()) {
    const auto* spec = spec_of(header, info.id());
    if (!spec || info.kind() != v1::Node::CLIENT || spec->client().publish().topic().empty()) continue;
    for (const auto& link : header.scenario().links()) {
      const auto& far = link.from() == info.id() ? link.to() : link.to() == info.id() ? link.from() : "";
      if (!workload.target().empty() && far != workload.target()) continue;
      if (const auto found = index_of.find(far); found != index_of.end())
        if (const auto cluster = replica_of_.find(found->second); cluster != replica_of_.end()) {
          producers_[info.index()] = {cluster->second, spec->client().publish().acks()};
          break;
        }
    }
  }
  for (const auto& info : header.nodes()) {
    const auto* spec = spec_of(header, info.id());
    if (!spec || info.kind() != v1::Node::EVENT_SERVICE) continue;
    const auto& subscription = spec->event_service().subscription();
    if (const auto broker = index_of.find(subscription.broker()); broker != index_of.end())
      if (const auto cluster = replica_of_.find(broker->second); cluster != replica_of_.end()) {
        // Its relay publishes with acks=all; it consumes in a group of its own.
        producers_[info.index()] = {cluster->second, v1::Publish::ALL};
        log_consumers_[info.index()] = LogConsumer{cluster->second, subscription.group(), 0, {}};
      }
  }
  for (const auto& info : header.nodes()) {
    const auto* spec = spec_of(header, info.id());
    if (!spec || info.kind() != v1::Node::CONSUMER) continue;
    for (const auto& other : header.nodes()) {
      if (other.id() != spec->consumer().broker()) continue;
      if (brokers_.count(other.index())) consumers_[info.index()] = {other.index(), spec->consumer().queue()};
      if (const auto cluster = replica_of_.find(other.index()); cluster != replica_of_.end())
        log_consumers_[info.index()] = LogConsumer{cluster->second, spec->consumer().group(), 0, {}};
    }
  }
}

void MessageLedger::feed_log(const FrameView& view) {
  const auto& f = view.frame;
  if (auto consumer = log_consumers_.find(f.dst()); consumer != log_consumers_.end()) {
    auto& c = consumer->second;
    // Each member's new assignment: its epoch, and (over all members) the group's rebalances go on.
    if (f.outcome() == v1::Frame::ASSIGNED && f.kind() == v1::Frame::MESSAGE) {
      ++c.epoch;
      ++logs_.at(c.broker).rebalances[c.group];
    }
    // A record processed: the timer that ends its processing time (its write, if any, follows)
    // carries its partition and offset. In order within its partition while the assignment lasts.
    // (An event service's reaction is framed by its effect: a saga step or a saga's end.)
    const bool done = f.outcome() == v1::Frame::SERVED || f.outcome() == v1::Frame::DELEGATED || f.outcome() == v1::Frame::LATE ||
                      (f.outcome() >= v1::Frame::STEP_APPLIED && f.outcome() <= v1::Frame::SAGA_COMPENSATED);
    if (f.kind() == v1::Frame::TIMER && f.partition() != 0 && done) {  // not a paused node's held timer
      const auto flat = f.partition() - 1;
      auto& checks = log_checks_[c.broker];
      if (f.outcome() != v1::Frame::LATE) {
        const auto [last, fresh] = c.last.try_emplace(flat, c.epoch, f.id());
        if (!fresh) {
          if (last->second.first == c.epoch && f.id() <= last->second.second)
            checks.out_of_order.push_back(fmt::format("{} processed offset {} of partition {} after offset {}",
                                                      header_.nodes(f.dst()).id(), f.id(), flat, last->second.second));
          last->second = {c.epoch, f.id()};
        }
      }
      auto& log = logs_.at(c.broker);
      auto& processed = checks.processed[c.group][{flat, f.id()}];
      const auto rebalances = log.rebalances[c.group];
      // A member finishing a record whose partition a rebalance took from it (LATE: it knows; or its
      // generation is behind the group's: paused or cut off, it has not heard yet). The new owner
      // starts again from the last commit.
      bool zombie = f.outcome() == v1::Frame::LATE;
      if (f.has_state() && f.state().has_consumer())
        zombie |= f.state().consumer().generation() < log.generations[c.group];
      if (processed.times++ == 0) {
        processed.rebalances_then = rebalances;
        processed.by_zombie = zombie;
      } else {
        ++checks.duplicates;
        // At least once: processed again only after a rebalance took the partition from a member
        // that had not committed past the record.
        const auto committed = log.committed[c.group][flat];
        const bool explained = zombie || processed.by_zombie || (rebalances != processed.rebalances_then && committed <= f.id());
        if (!explained)
          checks.unexplained.push_back(fmt::format("offset {} of partition {} processed {} times", f.id(), flat, processed.times));
      }
      return;
    }
    if (!producers_.count(f.dst())) return;  // an event service publishes too
  }
  // A producer's acknowledgement: the answer that reached it from a replica.
  if (const auto producer = producers_.find(f.dst()); producer != producers_.end()) {
    if (f.kind() == v1::Frame::RESPONSE && f.status() == 201 && replica_of_.count(f.src())) {
      auto& log = logs_.at(producer->second.first);
      const RecordOf record{f.client(), f.request(), f.path()};
      if (producer->second.second == v1::Publish::ALL) log.acked_all.insert(record);
      else if (producer->second.second == v1::Publish::LEADER) log.acked_one.insert(record);
    }
    return;
  }
  const auto cluster = replica_of_.find(f.dst());
  if (cluster == replica_of_.end()) return;
  auto& log = logs_.at(cluster->second);
  const bool at_leader = f.dst() == log.leader;
  if (at_leader && f.has_state() && f.state().has_log_broker())
    for (const auto& group : f.state().log_broker().groups()) log.generations[group.name()] = group.generation();
  auto& mine = log.replicas[f.dst()];
  const auto* state = f.has_state() && f.state().has_log_broker() ? &f.state().log_broker() : nullptr;
  switch (f.outcome()) {
    case v1::Frame::APPENDED:
      if ((f.kind() == v1::Frame::REQUEST || f.kind() == v1::Frame::MESSAGE) && f.partition() > 0 && f.partition() <= mine.size()) {
        // A leader that does not know yet it was replaced appends what the cluster will not keep.
        log.deposed_appends += !at_leader;
        mine[f.partition() - 1].push_back({f.client(), f.request(), f.path()});  // at its log end
      } else if (f.kind() == v1::Frame::RESPONSE && log.replicas.count(f.src())) {
        // A follower copied from its leader: up to its log end in its state, the leader's records.
        if (!state) {
          log.followed = false;
          break;
        }
        const auto& from = log.replicas.at(f.src());
        for (int flat = 0; flat < state->partitions_size() && flat < static_cast<int>(mine.size()); ++flat) {
          auto& records = mine[static_cast<std::size_t>(flat)];
          const auto& source = from[static_cast<std::size_t>(flat)];
          while (records.size() < state->partitions(flat).log_end())
            records.push_back(records.size() < source.size() ? source[records.size()] : RecordOf{0, 0, 0});
        }
      }
      break;
    case v1::Frame::TRUNCATED:
      if (!state) {
        log.followed = false;
        break;
      }
      for (int flat = 0; flat < state->partitions_size() && flat < static_cast<int>(mine.size()); ++flat)
        mine[static_cast<std::size_t>(flat)].resize(std::min<std::uint64_t>(mine[static_cast<std::size_t>(flat)].size(), state->partitions(flat).log_end()));
      break;
    case v1::Frame::COMMITTED:
      if (auto consumer = log_consumers_.find(f.src()); at_leader && consumer != log_consumers_.end() && f.partition() > 0)
        log.committed[consumer->second.group][f.partition() - 1] = f.id();
      break;
    case v1::Frame::ELECTED: {
      // The new leader's log is the cluster's now: what the old one had beyond where they agree is
      // gone (those offsets hold other records from now on), and its groups start from the commits
      // it had copied.
      ++log.elections;
      const auto& before = log.records();
      for (std::size_t flat = 0; flat < mine.size() && flat < before.size(); ++flat) {
        const auto& old = before[flat];
        const auto& now = mine[flat];
        std::size_t agree = 0;
        while (agree < old.size() && agree < now.size() && old[agree] == now[agree]) ++agree;
        if (agree == old.size()) continue;
        log.truncated += old.size() - agree;
        for (auto& [group, processed] : log_checks_[cluster->second].processed)
          processed.erase(processed.lower_bound({static_cast<std::uint32_t>(flat), agree}),
                          processed.lower_bound({static_cast<std::uint32_t>(flat) + 1, 0}));
      }
      log.leader = f.dst();
      if (!state) break;
      log.committed.clear();
      for (const auto& group : state->groups()) {
        int first = 0;
        while (first < state->partitions_size() && state->partitions(first).topic() != group.topic()) ++first;
        for (const auto& [p, offset] : group.committed()) log.committed[group.name()][static_cast<std::uint32_t>(first) + p] = offset;
        log.generations[group.name()] = group.generation();
      }
      break;
    }
    default: break;
  }
}

void MessageLedger::keyframe(const v1::Keyframe& keyframe) {
  for (const auto& state : keyframe.nodes()) {
    const auto cluster = replica_of_.find(state.node());
    if (cluster == replica_of_.end() || !state.has_log_broker()) continue;
    auto& log = logs_.at(cluster->second);
    if (state.node() != log.leader) continue;
    ++log.keyframes;
    const auto& broker = state.log_broker();
    const auto& records = log.records();
    for (int flat = 0; flat < broker.partitions_size() && flat < static_cast<int>(records.size()); ++flat) {
      const auto& p = broker.partitions(flat);
      if (p.log_end() != records[flat].size())
        log.disagreements.push_back(fmt::format("at frame {}: {}/{} log end {} in the state, {} from frames", keyframe.frame(),
                                                p.topic(), p.partition(), p.log_end(), records[flat].size()));
    }
    for (const auto& group : broker.groups()) {
      // The group's partitions are the topic's: find its first flat partition by name.
      int first = 0;
      while (first < broker.partitions_size() && broker.partitions(first).topic() != group.topic()) ++first;
      std::uint64_t lag = 0;
      for (const auto& [p, offset] : group.committed()) {
        const auto flat = static_cast<std::uint32_t>(first) + p;
        const auto from_frames = log.committed[group.name()][flat];
        if (offset != from_frames)
          log.disagreements.push_back(fmt::format("at frame {}: {} committed {} on partition {} in the state, {} from frames",
                                                  keyframe.frame(), group.name(), offset, flat, from_frames));
        if (flat < records.size()) lag += records[flat].size() - std::min<std::uint64_t>(records[flat].size(), from_frames);
      }
      if (lag != group.lag())
        log.disagreements.push_back(fmt::format("at frame {}: {} lag {} in the state, {} from frames (log end - committed)",
                                                keyframe.frame(), group.name(), group.lag(), lag));
    }
  }
}

void MessageLedger::feed(const FrameView& view) {
  feed_log(view);
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
    case v1::Frame::DISCARDED: message(broker, f.id()).discarded = true; break;
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
    std::uint64_t acked = 0, dead = 0, discarded = 0, duplicates = 0, unexplained = 0, most_deliveries = 0;
    std::vector<std::string> unexplained_ids;
    for (const auto& [id, m] : broker.messages) {
      acked += m.acked;
      dead += !m.acked && m.dead_lettered && !m.discarded;
      discarded += !m.acked && m.discarded;
      duplicates += m.duplicates;
      unexplained += m.unexplained_duplicates;
      if (m.unexplained_duplicates) unexplained_ids.push_back(fmt::format("message {} processed {} times", id, m.processed));
      for (const auto& [queue, count] : m.deliveries) most_deliveries = std::max<std::uint64_t>(most_deliveries, count);
    }
    std::uint64_t held = 0;  // at the end, in queues other than dead-letter queues
    if (broker.has_state)
      for (const auto& queue : broker.last.queues())
        if (!broker.dead_letter_queues.count(queue.name())) held += queue.ready() + queue.unacked();
    const std::uint64_t unsettled = issued - acked - dead - discarded;

    Invariant kept{broker.id + ": no message lost (each ends acked, dead-lettered, discarded by a rule, or still held)",
                   unsettled <= held,
                   fmt::format("{} messages: {} acked, {} dead-lettered, {} still held at the end{}", issued, acked, dead, held,
                               discarded ? fmt::format(", {} discarded (no dead-letter queue, a full one, or a cycle)", discarded)
                                         : "")};
    if (!kept.holds) {
      std::vector<std::string> missing;
      for (std::uint64_t id = 1; id <= issued; ++id) {
        const auto m = broker.messages.find(id);
        if (m == broker.messages.end() || (!m->second.acked && !m->second.dead_lettered && !m->second.discarded))
          missing.push_back(std::to_string(id));
      }
      kept.detail += fmt::format(": {} unaccounted for (messages {})", unsettled - held, first_few(missing));
    }
    report.invariants.push_back(std::move(kept));
    report.invariants.push_back({broker.id + ": no message delivered more often than its queue's limit", broker.over_limit.empty(),
                                 broker.over_limit.empty() ? fmt::format("at most {} deliver{} of one message", most_deliveries, most_deliveries == 1 ? "y" : "ies")
                                                           : first_few(broker.over_limit)});
    report.invariants.push_back(
        {broker.id + ": a message is processed twice only after its consumer was given up on", unexplained == 0,
         unexplained == 0 ? fmt::format("{} duplicate processings, each after a consumer was gone", duplicates)
                          : fmt::format("{} of {} duplicates unexplained: {}", unexplained, duplicates, first_few(unexplained_ids))});
    report.figures[broker.id] = {{"messages", issued},          {"acked", acked},
                                 {"dead_lettered", dead},        {"discarded", discarded},
                                 {"held_at_end", held},
                                 {"redeliveries", broker.redeliveries}, {"nack_requeues", broker.nack_requeues},
                                 {"consumers_gone", broker.gone}, {"late_acks", broker.late_acks},
                                 {"duplicates", duplicates},     {"max_deliveries", most_deliveries}};
  }
  for (const auto& [index, log] : logs_) {
    const auto found = log_checks_.find(index);
    const LogChecks none;
    const auto& checks = found == log_checks_.end() ? none : found->second;
    std::uint64_t appended = 0;
    std::set<RecordOf> kept;
    for (const auto& records : log.records()) {
      appended += records.size();
      kept.insert(records.begin(), records.end());
    }
    const auto lost_from = [&](const std::set<RecordOf>& acked) {
      std::vector<std::string> lost;
      for (const auto& record : acked)
        if (!kept.count(record)) {
          const auto& [client, request, path] = record;
          const auto& name = path < static_cast<std::uint32_t>(header_.paths_size()) ? header_.paths(static_cast<int>(path)) : "";
          lost.push_back(fmt::format("{}#{}{}", header_.nodes(static_cast<int>(client)).id(), request,
                                     name.rfind("EVENT ", 0) == 0 ? " " + name.substr(6) : ""));
        }
      return lost;
    };
    const auto lost_all = lost_from(log.acked_all), lost_one = lost_from(log.acked_one);
    const auto elections = log.elections == 1 ? std::string("1 leader election") : fmt::format("{} leader elections", log.elections);
    Invariant durable{log.id + ": with acks=all no acknowledged record is lost, across leader changes too", lost_all.empty() && log.followed,
                      fmt::format("{} acknowledged with acks=all, {} in the final log; {}", log.acked_all.size(),
                                  log.acked_all.size() - lost_all.size(), elections)};
    if (!lost_all.empty()) durable.detail += ": lost " + first_few(lost_all);
    if (!log.followed) durable.detail += "; a copy or truncation frame had no state, so the replicas' logs could not be followed";
    if (!log.acked_one.empty())
      durable.detail += fmt::format("; acks=1: {} acknowledged, {} lost (their leader lost them before a follower copied them)",
                                    log.acked_one.size(), lost_one.size());
    report.invariants.push_back(std::move(durable));
    report.invariants.push_back({log.id + ": within a partition each consumer processes offsets in order", checks.out_of_order.empty(),
                                 checks.out_of_order.empty() ? fmt::format("{} records processed", checks.processed_count())
                                                             : first_few(checks.out_of_order)});
    report.invariants.push_back(
        {log.id + ": a record is processed twice only after a rebalance before its commit", checks.unexplained.empty(),
         checks.unexplained.empty() ? fmt::format("{} duplicate processings, each after a rebalance before its commit", checks.duplicates)
                                    : fmt::format("{} unexplained: {}", checks.unexplained.size(), first_few(checks.unexplained))});
    report.invariants.push_back({log.id + ": lag from frames equals log end - committed in every keyframe", log.disagreements.empty(),
                                 log.disagreements.empty() ? fmt::format("{} keyframes agree", log.keyframes) : first_few(log.disagreements)});
    std::uint64_t rebalances = 0;
    for (const auto& [group, count] : log.rebalances) rebalances += count;
    report.figures[log.id] = {{"records", appended},
                              {"elections", log.elections},
                              {"truncated", log.truncated},
                              {"appended_by_deposed_leader", log.deposed_appends},
                              {"acked_all", log.acked_all.size()},
                              {"acked_all_lost", lost_all.size()},
                              {"acked_one", log.acked_one.size()},
                              {"acked_one_lost", lost_one.size()},
                              {"processed", checks.processed_count()},
                              {"duplicates", checks.duplicates},
                              {"assignments", rebalances},
                              {"keyframes_checked", log.keyframes}};
  }
  return report;
}

CheckReport check_log(FrameLogReader& reader) {
  reader.refresh(true);
  MessageLedger ledger(reader.header());
  SagaLedger sagas(reader.header());
  DecodedChunk chunk;
  for (std::size_t c = 0; c < reader.chunks().size(); ++c) {
    if (!reader.read_chunk(c, chunk)) continue;
    if (chunk.has_keyframe) ledger.keyframe(chunk.keyframe);
    for (const auto& view : chunk.frames) {
      ledger.feed(view);
      sagas.feed(view);
    }
  }
  auto report = ledger.report();
  sagas.report(report);
  report.log_problems = reader.health().problems;
  if (!reader.health().complete) report.log_problems.push_back("the log is incomplete: checked as far as it reads");
  return report;
}

std::string format_report(const CheckReport& report) {
  std::string out;
  if (report.invariants.empty()) out += "no invariants apply: the run has no message broker or saga orchestrator\n";
  for (const auto& invariant : report.invariants)
    out += fmt::format("{}  {}\n      {}\n", invariant.holds ? "ok  " : "FAIL", invariant.name, invariant.detail);
  for (const auto& problem : report.log_problems) out += "note  " + problem + "\n";
  return out;
}

}  // namespace flowframe
