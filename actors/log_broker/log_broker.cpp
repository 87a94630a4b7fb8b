// Log broker (Kafka-like): the rules of log.hpp on real messages. The leader appends produced
// records to its partitions and answers as the producer's acks ask; followers fetch from it and
// keep copies, and the leader moves the high watermark to what every in-sync replica has. Consumers
// fetch below the high watermark (a fetch that finds nothing waits, long polling) and commit their
// group's offsets; the leader coordinates groups with heartbeats, a session timeout and the eager
// rebalance protocol. Frames about one partition carry it (Event::partition), and `id` is the
// offset where the frame is about one record.
#include <fmt/format.h>

#include <set>

#include "actors/common/components.hpp"
#include "actors/common/routing.hpp"
#include "actors/log_broker/log.hpp"

namespace flowframe {
namespace {

using messaging::Record;

// Timer `status`: the periodic sweep, the end of a group's rebalance, a held fetch's deadline, a
// follower's pause before fetching again.
constexpr std::uint16_t kSweepTimer = 1;
constexpr std::uint16_t kRebalanceTimer = 2;
constexpr std::uint16_t kFetchWaitTimer = 3;
constexpr std::uint16_t kRefetchTimer = 4;
constexpr std::uint16_t kExpiryNotice = 5;  // a member's session expired: removed 1 ns later, framed
constexpr std::uint16_t kLagNotice = 6;     // a follower fell behind: out of the in-sync set 1 ns later, framed
constexpr std::size_t kShownRecords = 6;
constexpr Time kRefetchDelay = 200 * kNanosPerMilli;

std::string acks_name(int acks) {
  return acks == v1::Publish::LEADER ? "acks=1" : acks == v1::Publish::NONE ? "acks=0" : "acks=all";
}

class LogBroker final : public Component {
 public:
  LogBroker(const v1::Node& spec, NodeIndex index, const Topology& topology)
      : Component(spec, index, topology.seed()),
        leader_(spec.log_broker().follower_of().empty() ? index : topology.index_of(spec.log_broker().follower_of())),
        config_(topology.spec(leader_).log_broker()),
        layout_(config_),
        op_time_(config_.op_time()),
        logs_(layout_.size()),
        high_watermarks_(layout_.size(), 0),
        isr_(layout_.size()),
        held_(layout_.size()) {
    if (!leader()) return;
    // Components are built in node order, so later nodes are known by the scenario, not yet by size().
    for (const auto& other : topology.scenario().nodes())
      if (other.kind() == v1::Node::LOG_BROKER && other.log_broker().follower_of() == spec.id())
        followers_.push_back(topology.index_of(other.id()));
    replicas_.assign(layout_.size(), {});
    for (std::size_t flat = 0; flat < layout_.size(); ++flat)
      for (const auto follower : followers_) {
        replicas_[flat][follower] = Replica{};
        isr_[flat].insert(follower);  // as Kafka starts: every replica in sync
      }
  }

  void start(Context& context) override {
    if (!leader()) {
      for (std::uint32_t flat = 0; flat < layout_.size(); ++flat) fetch_from_leader(flat, context, true);
      return;
    }
    sweep_later(context);
  }

  void handle(const Event& event, Context& context) override {
    if (!leader()) return follow(event, context);
    switch (event.kind) {
      case EventKind::request:
      case EventKind::message:
        if (!event.payload) return context.decide(Outcome::bad_request, kNoNode, "400 a log broker message without a body");
        switch (event.payload->op()) {
          case v1::Payload::PRODUCE: return produce(event, context);
          case v1::Payload::FETCH: return fetch(event, context);
          case v1::Payload::JOIN: return join(event, context);
          case v1::Payload::HEARTBEAT: return heartbeat(event, context);
          case v1::Payload::COMMIT: return commit(event, context);
          default: break;
        }
        if (event.kind == EventKind::request) respond(event, 400, context);
        return context.decide(Outcome::bad_request, kNoNode, "400 not a log broker request");
      case EventKind::timer:
        if (event.status == kSweepTimer) return sweep(context);
        if (event.status == kRebalanceTimer) return end_rebalance(event, context);
        if (event.status == kFetchWaitTimer) return fetch_waited(event, context);
        if (event.status == kExpiryNotice) return expire_member(event, context);
        if (event.status == kLagNotice) return drop_from_isr(event, context);
        return;
      default: return;
    }
  }

  std::string apply(ControlAction& action, Context&) override {
    return "a log broker has no setting '" + action.field + "' to change during a run";
  }

  // The logs and the groups' committed offsets are on disk; connections, held fetches, waiting
  // producers and group membership are not.
  void survive_crash(Component& fresh) const override {
    auto& next = static_cast<LogBroker&>(fresh);
    next.logs_ = logs_;
    next.high_watermarks_ = high_watermarks_;
    next.appended_ = appended_;
    for (const auto& [name, entry] : groups_) next.groups_.emplace(name, GroupEntry{entry.topic, entry.first, entry.group.restarted(), {}});
  }

  // Unreplicated records (leader) and the groups' lag.
  std::uint32_t load() const override {
    std::uint64_t unreplicated = 0;
    for (std::size_t flat = 0; flat < logs_.size(); ++flat) unreplicated += logs_[flat].end() - high_watermarks_[flat];
    return static_cast<std::uint32_t>(unreplicated);
  }
  std::uint32_t queue() const override {
    std::uint64_t lag = 0;
    for (const auto& [name, group] : groups_) lag += lag_of(group);
    return static_cast<std::uint32_t>(lag);
  }
  bool rich() const override { return true; }
  std::size_t state_size_hint() const override {
    std::size_t members = 0;
    for (const auto& [name, group] : groups_) members += group.group.members().size();
    return 32 + layout_.size() * (48 + kShownRecords * 32 + followers_.size() * 16) + groups_.size() * 64 + members * 48;
  }

  void snapshot(v1::NodeState& state) const override {
    state.set_handled(handled_);
    state.set_rejected(rejected_);
    state.set_load(load());
    state.set_queue(queue());
    auto& out = *state.mutable_log_broker();
    out.set_leader(leader_);
    out.set_appended(appended_);
    for (std::uint32_t flat = 0; flat < layout_.size(); ++flat) {
      const auto& log = logs_[flat];
      auto& p = *out.add_partitions();
      p.set_topic(layout_.topic_of(flat).name());
      p.set_partition(layout_.partition_of(flat));
      p.set_log_start(log.start());
      p.set_log_end(log.end());
      p.set_high_watermark(high_watermarks_[flat]);
      p.add_isr(leader_);
      for (const auto node : isr_[flat]) p.add_isr(node);
      const auto& records = log.records();
      for (std::size_t i = records.size() > kShownRecords ? records.size() - kShownRecords : 0; i < records.size(); ++i) {
        auto& view = *p.add_tail();
        view.set_offset(records[i].offset);
        view.set_key(records[i].key);
        view.set_publisher(records[i].publisher);
        view.set_request(records[i].request);
      }
      if (leader())
        for (const auto& [node, replica] : replicas_[flat]) {
          auto& r = *p.add_replicas();
          r.set_node(node);
          r.set_fetched(replica.fetched);
          r.set_caught_up_ns(replica.caught_up);
        }
    }
    for (const auto& [name, entry] : groups_) {
      auto& g = *out.add_groups();
      g.set_name(name);
      g.set_topic(entry.topic);
      g.set_generation(entry.group.generation());
      g.set_rebalancing(entry.group.rebalancing());
      for (const auto& [node, member] : entry.group.members()) {
        auto& m = *g.add_members();
        m.set_node(node);
        for (const auto p : member.partitions) m.add_partitions(p);
        m.set_last_heartbeat_ns(member.last_heartbeat);
        if (const auto found = entry.fetch_offsets.find(node); found != entry.fetch_offsets.end())
          for (const auto& [p, offset] : found->second) (*m.mutable_fetch_offsets())[p] = offset;
      }
      for (std::uint32_t p = 0; p < entry.group.committed().size(); ++p) (*g.mutable_committed())[p] = entry.group.committed()[p];
      g.set_lag(lag_of(entry));
    }
  }

 private:
  struct Replica {
    std::uint64_t fetched = 0;  // it has everything below
    Time caught_up = 0;         // when it last had everything the leader had
  };
  struct GroupEntry {
    std::string topic;
    std::uint32_t first = 0;  // the topic's first flat partition
    messaging::Group group;
    std::map<NodeIndex, std::map<std::uint32_t, std::uint64_t>> fetch_offsets;  // member -> partition -> offset
  };
  // A fetch that found nothing yet, answered when records come or its wait ends.
  struct HeldFetch {
    Event request;
    std::uint64_t id;
    bool follower;
  };
  struct PendingProduce {
    std::uint64_t offset;
    Event request;
  };

  bool leader() const { return leader_ == index(); }
  bool is_follower(NodeIndex node) const { return std::find(followers_.begin(), followers_.end(), node) != followers_.end(); }

  std::optional<std::uint32_t> flat_of(const Event& event) const {
    if (event.partition == 0 || event.partition > layout_.size()) return std::nullopt;
    return event.partition - 1;
  }

  std::uint64_t lag_of(const GroupEntry& entry) const {
    std::uint64_t lag = 0;
    for (std::uint32_t p = 0; p < entry.group.committed().size(); ++p)
      lag += logs_[entry.first + p].end() - std::min(logs_[entry.first + p].end(), entry.group.committed()[p]);
    return lag;
  }

  // ---- producing ----

  void produce(const Event& event, Context& context) {
    ++handled_;
    const auto flat = flat_of(event);
    const bool answers = event.kind == EventKind::request;
    const Time processing = context.work(op_time_);
    if (!flat || layout_.topic_of(*flat).name() != event.payload->topic()) {
      ++rejected_;
      if (answers) respond(event, 404, context, processing);
      return context.decide(Outcome::not_found, kNoNode,
                            fmt::format("404 unknown topic or partition: {}/{}", event.payload->topic(), event.payload->partition()));
    }
    auto& log = logs_[*flat];
    Record record;
    record.key = event.payload->key();
    record.appended = context.now();
    record.publisher = event.client;
    record.request = event.request;
    record.path = event.path;
    const auto offset = log.append(std::move(record));
    ++appended_;
    const auto& topic = layout_.topic_of(*flat);
    const auto deleted = log.retain(topic.retention_records(), from_millis(topic.retention_ms()), context.now());
    const int acks = event.payload->acks();
    if (answers && (acks == v1::Publish::LEADER || followers_.empty() || isr_[*flat].empty()))
      respond(event, 201, context, processing);
    else if (answers)
      pending_[*flat].push_back({offset, event});
    answer_held(*flat, true, context);  // followers can copy it now
    advance_high_watermark(*flat, context);
    context.decide(Outcome::appended, kNoNode,
                   fmt::format("{} offset {}{} ({}){}", layout_.name(*flat), offset,
                               event.payload->key().empty() ? "" : " key " + event.payload->key(), acks_name(acks),
                               deleted ? fmt::format("; retention deleted {} old", deleted) : ""));
  }

  // The high watermark follows the slowest in-sync replica; producers waiting for acks=all and
  // consumers waiting for records are answered as it passes them.
  void advance_high_watermark(std::uint32_t flat, Context& context) {
    std::uint64_t hw = logs_[flat].end();
    for (const auto node : isr_[flat]) hw = std::min(hw, replicas_[flat][node].fetched);
    if (hw <= high_watermarks_[flat]) return;
    high_watermarks_[flat] = hw;
    auto& pending = pending_[flat];
    while (!pending.empty() && pending.front().offset < hw) {
      respond(pending.front().request, 201, context);
      pending.pop_front();
    }
    answer_held(flat, false, context);
  }

  // ---- fetching ----

  void fetch(const Event& event, Context& context) {
    ++handled_;
    const auto flat = flat_of(event);
    if (!flat) {
      ++rejected_;
      respond(event, 400, context);
      return context.decide(Outcome::bad_request, kNoNode, "400 no such partition");
    }
    const bool follower = is_follower(event.src);
    const auto offset = event.payload->offset();
    if (follower) {
      auto& replica = replicas_[*flat][event.src];
      replica.fetched = offset;
      if (offset >= logs_[*flat].end()) {
        replica.caught_up = context.now();
        if (isr_[*flat].insert(event.src).second)
          note_ = fmt::format("; {} is in sync again", context.topology().spec(event.src).id());
      }
      advance_high_watermark(*flat, context);
    } else if (!event.payload->group().empty()) {
      if (auto group = groups_.find(event.payload->group()); group != groups_.end())
        group->second.fetch_offsets[event.src][*flat - group->second.first] = offset;
    }
    if (offset < logs_[*flat].start())
      note_ += fmt::format("; offsets {}..{} were deleted by retention before it read them: it goes on from {}", offset,
                           logs_[*flat].start() - 1, logs_[*flat].start());
    const auto sent = answer(event, *flat, follower, context);
    const std::string who = context.topology().spec(event.src).id();
    if (sent == 0) {
      hold(event, *flat, follower, context);
      context.decide(Outcome::fetched, event.src,
                     fmt::format("{} fetches {} from {}: nothing new, waits{}", who, layout_.name(*flat), offset, note_));
    } else {
      context.decide(Outcome::fetched, event.src,
                     fmt::format("{} fetches {} from {}: {} record{}{}", who, layout_.name(*flat), offset, sent,
                                 sent == 1 ? "" : "s", note_));
    }
    note_.clear();
  }

  // Answers a fetch with what it may read (followers: up to the log end; consumers: below the high
  // watermark). Returns how many records; with none it answers only if `even_empty`.
  std::size_t answer(const Event& request, std::uint32_t flat, bool follower, Context& context, bool even_empty = false) {
    const auto& log = logs_[flat];
    const auto records = log.read(request.payload->offset(), std::max<std::uint32_t>(1, request.payload->max_records()),
                                  follower ? log.end() : high_watermarks_[flat]);
    if (records.empty() && !even_empty) return 0;
    auto reply = std::make_shared<v1::Payload>();
    reply->set_op(v1::Payload::FETCH);
    reply->set_partition(flat);
    reply->set_offset(request.payload->offset());
    reply->set_high_watermark(high_watermarks_[flat]);
    for (const auto node : isr_[flat]) reply->add_isr(node);
    for (const auto& record : records) {
      auto& out = *reply->add_records();
      out.set_offset(record.offset);
      out.set_key(record.key);
      out.set_publisher(record.publisher);
      out.set_request(record.request);
      out.set_path(record.path);
      out.set_appended_ns(record.appended);
    }
    reply->set_log_end(log.end());
    Event response = request;
    response.kind = EventKind::response;
    response.status = 200;
    // Records keep the run going; an empty answer to an idle poll does not.
    response.background = records.empty();
    response.replace_payload(std::move(reply));
    send_back(response, context);
    return records.size();
  }

  void hold(const Event& request, std::uint32_t flat, bool follower, Context& context) {
    const auto id = ++next_hold_;
    held_[flat].push_back({request, id, follower});
    // An idle consumer's long poll does not keep the run going.
    Event wake = timer_event(kFetchWaitTimer, true, true);
    wake.arg = static_cast<std::int64_t>(id);
    wake.partition = flat + 1;
    context.schedule(from_millis(config_.fetch_wait_ms()), wake);
  }

  // Held fetches that can now read something (followers after an append, consumers after the
  // high watermark moved) are answered.
  void answer_held(std::uint32_t flat, bool followers, Context& context) {
    auto& held = held_[flat];
    for (auto it = held.begin(); it != held.end();) {
      if (it->follower == followers && answer(it->request, flat, it->follower, context) > 0) it = held.erase(it);
      else ++it;
    }
  }

  void fetch_waited(const Event& timer, Context& context) {
    const auto flat = flat_of(timer);
    if (!flat) return;
    auto& held = held_[*flat];
    const auto found = std::find_if(held.begin(), held.end(), [&](const HeldFetch& h) { return h.id == static_cast<std::uint64_t>(timer.arg); });
    if (found == held.end()) return;
    const NodeIndex who = found->request.src;
    answer(found->request, *flat, found->follower, context, true);
    held.erase(found);
    context.decide(Outcome::fetched, who, "nothing new after waiting: an empty answer");
  }

  // ---- consumer groups ----

  GroupEntry* group_for(const Event& event, Context& context) {
    const auto& name = event.payload->group();
    auto found = groups_.find(name);
    if (found != groups_.end()) return &found->second;
    const auto& topic = event.payload->topic();
    const auto first = layout_.first(topic);
    if (!first) return nullptr;
    const auto strategy = context.topology().spec(event.src).consumer().assignment();
    return &groups_.emplace(name, GroupEntry{topic, *first, messaging::Group(layout_.partitions(topic), strategy), {}}).first->second;
  }

  void join(const Event& event, Context& context) {
    auto* entry = group_for(event, context);
    const auto& who = context.topology().spec(event.src).id();
    if (!entry) return context.decide(Outcome::not_found, kNoNode, "no topic '" + event.payload->topic() + "'");
    if (entry->topic != event.payload->topic())
      return context.decide(Outcome::bad_request, event.src,
                            fmt::format("{} cannot join {}: the group consumes '{}', not '{}'", who, event.payload->group(),
                                        entry->topic, event.payload->topic()));
    const bool starts = entry->group.join(event.src, context.now());
    if (starts) return start_rebalance(*entry, event.payload->group(), who + " joined", event.src, context);
    if (entry->group.rebalancing() && entry->group.all_rejoined()) return complete_rebalance(*entry, event.payload->group(), context);
    context.decide(Outcome::rebalancing, event.src,
                   fmt::format("{} rejoined {}; waiting for the others", who, event.payload->group()));
  }

  // REBALANCE: stop, commit, give up every partition and join again.
  void ask_to_rejoin(NodeIndex member, const std::string& group, std::uint32_t generation, Context& context) {
    Event stop;
    auto payload = std::make_shared<v1::Payload>();
    payload->set_op(v1::Payload::REBALANCE);
    payload->set_group(group);
    payload->set_generation(generation);
    stop.payload = std::move(payload);
    stop.client = index();
    context.notify(member, stop);
  }

  // Eager protocol: every member stops, commits and rejoins; nobody consumes until it ends.
  void start_rebalance(GroupEntry& entry, const std::string& name, const std::string& why, NodeIndex except, Context& context) {
    for (const auto& [node, member] : entry.group.members())
      if (node != except) ask_to_rejoin(node, name, entry.group.generation(), context);
    Event end = timer_event(kRebalanceTimer);
    end.arg = static_cast<std::int64_t>(entry.group.generation());
    auto payload = std::make_shared<v1::Payload>();
    payload->set_group(name);
    end.payload = std::move(payload);
    context.schedule(from_millis(config_.rebalance_ms()), end);
    if (entry.group.all_rejoined()) return complete_rebalance(entry, name, context);
    context.decide(Outcome::rebalancing, kNoNode,
                   fmt::format("{}: {}; all {} members stop, commit and rejoin", name, why, entry.group.members().size()));
  }

  void end_rebalance(const Event& timer, Context& context) {
    const auto found = groups_.find(timer.payload->group());
    if (found == groups_.end() || !found->second.group.rebalancing() ||
        found->second.group.generation() != static_cast<std::uint32_t>(timer.arg))
      return;
    complete_rebalance(found->second, found->first, context);
  }

  void complete_rebalance(GroupEntry& entry, const std::string& name, Context& context) {
    const auto dropped = entry.group.complete();
    std::vector<std::string> parts;
    for (const auto& [node, member] : entry.group.members()) {
      Event assigned;
      auto payload = std::make_shared<v1::Payload>();
      payload->set_op(v1::Payload::ASSIGN);
      payload->set_group(name);
      payload->set_topic(entry.topic);
      payload->set_generation(entry.group.generation());
      std::vector<std::string> mine;
      for (const auto p : member.partitions) {
        payload->add_partitions(p);
        payload->add_offsets(entry.group.committed()[p]);
        mine.push_back(std::to_string(p));
      }
      assigned.payload = std::move(payload);
      assigned.client = index();
      context.notify(node, assigned);
      parts.push_back(context.topology().spec(node).id() + " [" + flowframe::join(mine, ",") + "]");
    }
    for (const auto node : dropped) entry.fetch_offsets.erase(node);
    context.decide(Outcome::assigned, kNoNode,
                   fmt::format("{} generation {}: {}{}", name, entry.group.generation(), parts.empty() ? "no members" : flowframe::join(parts, ", "),
                               dropped.empty() ? "" : fmt::format(" ({} did not rejoin)", dropped.size())));
  }

  void heartbeat(const Event& event, Context& context) {
    auto* entry = group_for(event, context);
    if (!entry) return;
    const auto& who = context.topology().spec(event.src).id();
    if (!entry->group.has(event.src)) {
      // Removed meanwhile (its session expired): it must join again.
      ask_to_rejoin(event.src, event.payload->group(), entry->group.generation(), context);
      return context.decide(Outcome::none, event.src, who + " is not a member any more: it must rejoin");
    }
    entry->group.heartbeat(event.src, context.now());
    context.decide(Outcome::none, event.src, "heartbeat from " + who);
  }

  void commit(const Event& event, Context& context) {
    auto* entry = group_for(event, context);
    const auto flat = flat_of(event);
    if (!entry || !flat) return context.decide(Outcome::bad_request, kNoNode, "a commit for no group or partition");
    const auto& who = context.topology().spec(event.src).id();
    const auto partition = *flat - entry->first;
    const auto generation = event.payload->generation();
    if (!entry->group.commit(event.src, generation, partition, event.payload->offset()))
      return context.decide(Outcome::late, event.src,
                            generation != entry->group.generation()
                                ? fmt::format("commit of {} at {} from {} refused: it is in generation {}, the group in {}",
                                              layout_.name(*flat), event.payload->offset(), who, generation, entry->group.generation())
                                : fmt::format("commit of {} at {} from {} refused: not its partition", layout_.name(*flat),
                                              event.payload->offset(), who));
    context.decide(Outcome::committed, event.src,
                   fmt::format("{} committed {} at {} (lag {})", event.payload->group(), layout_.name(*flat),
                               event.payload->offset(), logs_[*flat].end() - std::min(logs_[*flat].end(), event.payload->offset())));
  }

  // ---- the periodic sweep: sessions, in-sync replicas, retention by time ----

  // What the sweep finds is done by a notice 1 ns later, which makes its own frame (the sweep
  // itself is silent).
  void sweep(Context& context) {
    for (auto& [name, entry] : groups_)
      for (const auto node : entry.group.expired(context.now(), from_millis(config_.session_timeout_ms())))
        notice(kExpiryNotice, node, name, 0, context);
    for (std::uint32_t flat = 0; flat < layout_.size(); ++flat) {
      for (auto& [node, replica] : replicas_[flat])
        if (lagging(flat, node, context.now()) && isr_[flat].count(node)) notice(kLagNotice, node, "", flat + 1, context);
      const auto& topic = layout_.topic_of(flat);
      if (topic.retention_ms() > 0) logs_[flat].retain(topic.retention_records(), from_millis(topic.retention_ms()), context.now());
    }
    sweep_later(context);
  }

  bool lagging(std::uint32_t flat, NodeIndex node, Time now) {
    const auto& replica = replicas_[flat][node];
    return replica.fetched < logs_[flat].end() && now - replica.caught_up > from_millis(config_.replica_lag_ms());
  }

  void notice(std::uint16_t kind, NodeIndex node, const std::string& group, std::uint32_t partition, Context& context) {
    Event event = timer_event(kind);
    event.arg = node;
    event.partition = partition;
    auto payload = std::make_shared<v1::Payload>();
    payload->set_group(group);
    event.payload = std::move(payload);
    context.schedule(1, event);
  }

  void expire_member(const Event& event, Context& context) {
    const auto found = groups_.find(event.payload->group());
    const auto node = static_cast<NodeIndex>(event.arg);
    if (found == groups_.end()) return;
    auto& entry = found->second;
    const auto expired = entry.group.expired(context.now(), from_millis(config_.session_timeout_ms()));
    if (std::find(expired.begin(), expired.end(), node) == expired.end()) return;  // a heartbeat came meanwhile
    entry.fetch_offsets.erase(node);
    const auto why = context.topology().spec(node).id() + " sent no heartbeat for " +
                     duration_text(from_millis(config_.session_timeout_ms())) + ": its session expired";
    if (entry.group.remove(node)) return start_rebalance(entry, found->first, why, kNoNode, context);
    if (entry.group.rebalancing() && entry.group.all_rejoined()) return complete_rebalance(entry, found->first, context);
    context.decide(Outcome::rebalancing, node, why);
  }

  void drop_from_isr(const Event& event, Context& context) {
    const auto flat = flat_of(event);
    const auto node = static_cast<NodeIndex>(event.arg);
    if (!flat || !lagging(*flat, node, context.now()) || !isr_[*flat].erase(node)) return;
    advance_high_watermark(*flat, context);  // it no longer holds acks=all back
    context.decide(Outcome::health_changed, node,
                   fmt::format("{} fell behind on {} for over {}: out of the in-sync set", context.topology().spec(node).id(),
                               layout_.name(*flat), duration_text(from_millis(config_.replica_lag_ms()))));
  }

  void sweep_later(Context& context) {
    Event tick = timer_event(kSweepTimer, true);
    // It keeps the run going while a group has members (their sessions may expire) or a produce
    // waits for replicas.
    bool waiting = false;
    for (const auto& pending : pending_) waiting |= !pending.second.empty();
    // A lagging group whose members may still expire (and leave their partitions to others).
    for (const auto& [name, entry] : groups_) waiting |= entry.group.rebalancing() || (!entry.group.members().empty() && lag_of(entry) > 0);
    tick.background = !waiting;
    context.schedule(std::max<Time>(1, from_millis(std::min(config_.session_timeout_ms(), config_.replica_lag_ms())) / 4), tick);
  }

  // ---- followers ----

  void follow(const Event& event, Context& context) {
    if (event.kind == EventKind::request) {
      ++rejected_;
      respond(event, 503, context);
      return context.decide(Outcome::rejected_down, leader_,
                            "503 not the leader: " + context.topology().spec(leader_).id() + " is");
    }
    if (event.kind == EventKind::timer && event.status == kRefetchTimer) {
      if (const auto flat = flat_of(event)) fetch_from_leader(*flat, context, true);
      return;
    }
    if (event.kind != EventKind::response && event.kind != EventKind::timeout) return;
    const auto flat = flat_of(event);
    if (!flat) return;
    if (event.kind == EventKind::timeout || event.status != 200 || !event.payload) {
      Event again = timer_event(kRefetchTimer, true);
      again.partition = *flat + 1;
      context.schedule(kRefetchDelay, again);
      return context.decide(Outcome::none, leader_,
                            fmt::format("fetching {} from the leader failed ({}): again in {}", layout_.name(*flat),
                                        event.kind == EventKind::timeout ? "timed out" : std::to_string(event.status),
                                        duration_text(kRefetchDelay)));
    }
    auto& log = logs_[*flat];
    std::size_t copied = 0;
    for (const auto& r : event.payload->records()) {
      if (r.offset() != log.end()) continue;  // only what follows what it has
      log.append(Record{r.offset(), r.key(), r.appended_ns(), r.publisher(), r.request(), r.path()});
      ++copied;
    }
    const auto& topic = layout_.topic_of(*flat);
    log.retain(topic.retention_records(), from_millis(topic.retention_ms()), context.now());
    appended_ += copied;
    high_watermarks_[*flat] = std::min(log.end(), event.payload->high_watermark());
    isr_[*flat] = std::set<NodeIndex>(event.payload->isr().begin(), event.payload->isr().end());
    // Having copied something, its next fetch tells the leader so (producers with acks=all wait
    // for it): that fetch keeps the run going; an idle one does not.
    fetch_from_leader(*flat, context, copied == 0);
    context.decide(Outcome::appended, leader_,
                   fmt::format("copied {} record{} of {} (log end {})", copied, copied == 1 ? "" : "s", layout_.name(*flat), log.end()));
  }

  void fetch_from_leader(std::uint32_t flat, Context& context, bool idle) {
    Event request;
    request.client = index();
    request.partition = flat + 1;
    auto payload = std::make_shared<v1::Payload>();
    payload->set_op(v1::Payload::FETCH);
    payload->set_topic(layout_.topic_of(flat).name());
    payload->set_partition(layout_.partition_of(flat));
    payload->set_offset(logs_[flat].end());
    payload->set_max_records(500);
    request.payload = std::move(payload);
    request.background = idle;
    context.call(leader_, request, from_millis(config_.fetch_wait_ms()) + kNanosPerSecond);
  }

  NodeIndex leader_;
  v1::LogBrokerParams config_;  // the leader's: followers copy its topics
  messaging::TopicLayout layout_;
  Sampler op_time_;
  std::vector<messaging::PartitionLog> logs_;  // by flat partition
  std::vector<std::uint64_t> high_watermarks_;
  std::vector<std::set<NodeIndex>> isr_;  // followers in sync (the leader always is)
  std::vector<std::map<NodeIndex, Replica>> replicas_;
  std::vector<NodeIndex> followers_;
  std::map<std::uint32_t, std::deque<PendingProduce>> pending_;  // acks=all produces waiting, by partition
  std::vector<std::vector<HeldFetch>> held_;
  std::uint64_t next_hold_ = 0;
  std::map<std::string, GroupEntry> groups_;
  std::uint64_t appended_ = 0;
  std::uint64_t handled_ = 0;
  std::uint64_t rejected_ = 0;
  std::string note_;  // added to the current frame's note
};

}  // namespace

std::unique_ptr<Component> make_log_broker(const v1::Node& spec, NodeIndex index, const Topology& topology) {
  return std::make_unique<LogBroker>(spec, index, topology);
}

namespace {

void check_log_broker(NodeChecks& c) {
  const auto& params = c.node().log_broker();
  if (!params.follower_of().empty()) {
    const auto at = c.at({{"log_broker"}, {"follower_of"}});
    const auto* leader = c.find(params.follower_of());
    if (!leader) c.problem(at, "log_broker.follower_of", c.unknown(params.follower_of()));
    else if (leader->kind() != v1::Node::LOG_BROKER || !leader->log_broker().follower_of().empty())
      c.problem(at, "log_broker.follower_of", "'" + params.follower_of() + "' is not a leading log broker");
    else if (!c.linked(c.node().id(), params.follower_of()))
      c.problem(at, "log_broker.follower_of", "'" + c.node().id() + "' has no link to '" + params.follower_of() + "'");
    if (params.topics_size() > 0)
      c.problem(c.at({{"log_broker"}, {"topics", 0}}), "log_broker.topics", "a follower copies its leader's topics: it has none of its own");
    return;
  }
  if (params.topics_size() == 0) c.problem(c.at({{"log_broker"}}), "log_broker.topics", "a leading log broker needs a topic");
  std::set<std::string> names;
  for (int t = 0; t < params.topics_size(); ++t) {
    const auto& topic = params.topics(t);
    if (topic.name().empty() || !names.insert(topic.name()).second)
      c.problem(c.at({{"log_broker"}, {"topics", t}, {"name"}}), "log_broker.topics.name",
                topic.name().empty() ? "a topic needs a name" : "duplicate topic '" + topic.name() + "'");
    if (topic.has_partitions() && (topic.partitions() == 0 || topic.partitions() > 1024))
      c.problem(c.at({{"log_broker"}, {"topics", t}, {"partitions"}}), "log_broker.topics.partitions", "must be from 1 to 1024");
    if (!(topic.retention_ms() >= 0 && topic.retention_ms() <= 365 * kDayMs))
      c.problem(c.at({{"log_broker"}, {"topics", t}, {"retention_ms"}}), "log_broker.topics.retention_ms",
                "must be from 0 (keep for ever) to at most a year");
  }
  for (const auto& [field, has, value] :
       {std::tuple{"replica_lag_ms", params.has_replica_lag_ms(), params.replica_lag_ms()},
        std::tuple{"session_timeout_ms", params.has_session_timeout_ms(), params.session_timeout_ms()},
        std::tuple{"rebalance_ms", params.has_rebalance_ms(), params.rebalance_ms()},
        std::tuple{"fetch_wait_ms", params.has_fetch_wait_ms(), params.fetch_wait_ms()}})
    c.duration(has, value, c.at({{"log_broker"}, {field}}), std::string("log_broker.") + field, true);
  check_optional_distribution(c, params.has_op_time(), params.op_time(), "log_broker", "op_time");
}

const KindDescription kLogBroker{
    .kind = v1::Node::LOG_BROKER,
    .name = "log_broker",
    .defaults =
        [](v1::Node& node) {
          auto& params = *node.mutable_log_broker();
          if (!params.has_replica_lag_ms()) params.set_replica_lag_ms(1000);
          if (!params.has_session_timeout_ms()) params.set_session_timeout_ms(3000);
          if (!params.has_rebalance_ms()) params.set_rebalance_ms(300);
          if (!params.has_fetch_wait_ms()) params.set_fetch_wait_ms(500);
          if (!params.has_op_time()) *params.mutable_op_time() = constant_ms(0.2);
          for (auto& topic : *params.mutable_topics())
            if (!topic.has_partitions()) topic.set_partitions(1);
        },
    .example =
        [](v1::Node& node) {
          auto& topic = *node.mutable_log_broker()->add_topics();
          topic.set_name("events");
          topic.set_partitions(3);
        },
    .check = check_log_broker,
    .metrics =
        [](const v1::NodeState& state, Time, nlohmann::ordered_json& node) {
          const auto& broker = state.log_broker();
          for (const auto& p : broker.partitions()) {
            auto& out = node["partitions"][p.topic() + "/" + std::to_string(p.partition())];
            out["log_end"] = p.log_end();
            out["high_watermark"] = p.high_watermark();
            out["in_sync"] = p.isr_size();
          }
          for (const auto& g : broker.groups()) {
            auto& out = node["groups"][g.name()];
            out["generation"] = g.generation();
            out["members"] = g.members_size();
            out["lag"] = g.lag();
            // Per partition of its topic: log end - committed.
            for (const auto& p : broker.partitions()) {
              if (p.topic() != g.topic()) continue;
              const auto committed = g.committed().count(p.partition()) ? g.committed().at(p.partition()) : 0;
              out["lag_by_partition"][std::to_string(p.partition())] = p.log_end() - std::min(p.log_end(), committed);
            }
          }
        },
};
FLOWFRAME_KIND(kLogBroker, make_log_broker);

}  // namespace
}  // namespace flowframe
