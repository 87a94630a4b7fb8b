// Log broker (Kafka-like): the rules of log.hpp on real messages. The leader appends produced
// records to its partitions and answers as the producer's acks ask; followers fetch from it and
// keep copies, and the leader moves the high watermark to what every in-sync replica has. Consumers
// fetch below the high watermark (a fetch that finds nothing waits, long polling) and commit their
// group's offsets; the leader coordinates groups with heartbeats, a session timeout and the eager
// rebalance protocol, and replicates the committed offsets to its followers with their fetches.
//
// One replica leads every partition. When the followers hear nothing from it for leader_timeout_ms
// they elect another: a candidate asks the others for their vote in a new leader epoch and leads
// once a majority of the cluster (itself included) grants it. A replica grants only if it no longer
// hears a leader, has not voted in that epoch, and the candidate's log is at least as up to date as
// its own (Raft's rule on each partition: a later last epoch, or the same and as many records). Each
// record carries the epoch it was appended in. The winner announces itself with every epoch's start
// offsets, and each replica truncates every partition to where its last record's epoch ended in the
// new leader's history (Kafka's KIP-279): records the new leader never had, which with
// min_insync_replicas a majority were never acknowledged with acks=all. A leader no follower has fetched from for leader_timeout_ms gives the lead up and
// asks, so a leader cut off from the others cannot keep acknowledging writes that will be truncated.
//
// Frames about one partition carry it (Event::partition), and `id` is the offset where the frame
// is about one record.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <numeric>
#include <set>

#include "actors/common/components.hpp"
#include "actors/common/routing.hpp"
#include "actors/log_broker/cluster.hpp"
#include "actors/log_broker/log.hpp"

namespace flowframe {
namespace {

using messaging::Record;

// Timer `status`: the periodic sweep, the end of a group's rebalance, a held fetch's deadline, a
// follower's pause before fetching again.
constexpr std::uint16_t kLogSweepTimer = 1;
constexpr std::uint16_t kRebalanceTimer = 2;
constexpr std::uint16_t kFetchWaitTimer = 3;
constexpr std::uint16_t kRefetchTimer = 4;
constexpr std::uint16_t kExpiryNotice = 5;  // a member's session expired: removed 1 ns later, framed
constexpr std::uint16_t kLagNotice = 6;     // a follower fell behind: out of the in-sync set 1 ns later, framed
constexpr std::uint16_t kElectionNotice = 7;  // the sweep found the leader silent: an election 1 ns later, framed
constexpr std::size_t kShownRecords = 6;
constexpr Time kRefetchDelay = 200 * kNanosPerMilli;

std::string acks_name(int acks) {
  return acks == v1::Publish::LEADER ? "acks=1" : acks == v1::Publish::NONE ? "acks=0" : "acks=all";
}

// "not the leader" as an answer's payload: who is, if known (0: not known).
std::shared_ptr<v1::Payload> not_leader(NodeIndex leader) {
  auto payload = std::make_shared<v1::Payload>();
  payload->set_op(v1::Payload::NOT_LEADER);
  payload->set_node(leader == kNoNode ? 0 : leader);
  return payload;
}

class LogBroker final : public Component {
 public:
  LogBroker(const v1::Node& spec, NodeIndex index, const Topology& topology)
      : Component(spec, index, topology.seed()),
        cluster_(log_cluster(topology, index)),
        leader_(cluster_.front()),
        config_(topology.spec(leader_).log_broker()),
        layout_(config_),
        op_time_(config_.op_time()),
        logs_(layout_.size()),
        high_watermarks_(layout_.size(), 0),
        isr_(layout_.size()),
        replicas_(layout_.size()),
        held_(layout_.size()),
        leader_timeout_(from_millis(config_.leader_timeout_ms())) {
    for (const auto node : cluster_)
      if (node != index && topology.linked(index, node)) peers_.push_back(node);
    epochs_.push_back({0, std::vector<std::uint64_t>(layout_.size(), 0)});
    if (leader()) track_replicas(others(), true, 0);  // as Kafka starts: every replica in sync
  }

  void start(Context& context) override {
    sweep_later(context);
    last_heard_ = context.now();
    last_follower_fetch_ = context.now();
    if (restarted_ && !peers_.empty() && (leader() || electing_)) {
      // A restarted leader may have been replaced meanwhile: it asks before it serves.
      leader_ = kNoNode;
      return elect(context, "restarted");
    }
    if (!leader()) fetch_everything(context, true);
  }

  void handle(const Event& event, Context& context) override {
    if (event.payload && (event.kind == EventKind::request || event.kind == EventKind::message)) {
      switch (event.payload->op()) {
        case v1::Payload::VOTE: return vote(event, context);
        case v1::Payload::LEADER: return announced(event, context);
        case v1::Payload::NOT_LEADER: return;
        default: break;
      }
    }
    // A vote's answer (a refusal from a crashed peer carries the request's own payload), or its
    // deadline: timeouts carry no payload, and the replica's other calls (fetches) name a partition.
    if ((event.kind == EventKind::response && event.payload && event.payload->op() == v1::Payload::VOTE) ||
        (event.kind == EventKind::timeout && event.partition == 0))
      return vote_answered(event, context);
    if (event.kind == EventKind::timer && event.status == kLogSweepTimer) return sweep(context);
    if (event.kind == EventKind::timer && event.status == kElectionNotice) return election_due(event, context);
    if (!leader()) return follow(event, context);
    switch (event.kind) {
      case EventKind::request:
      case EventKind::message:
        if (!event.payload) return refuse_request(event, 400, Outcome::bad_request, "400 a log broker message without a body", context);
        switch (event.payload->op()) {
          case v1::Payload::PRODUCE: return produce(event, context);
          case v1::Payload::FETCH: return fetch(event, context);
          case v1::Payload::JOIN: return join(event, context);
          case v1::Payload::HEARTBEAT: return heartbeat(event, context);
          case v1::Payload::COMMIT: return commit(event, context);
          default: break;
        }
        return refuse_request(event, 400, Outcome::bad_request, "400 not a log broker request", context);
      case EventKind::timer:
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

  // The logs, the groups' committed offsets and what it knows of leader epochs are on disk;
  // connections, held fetches, waiting producers and group membership are not.
  void survive_crash(Component& fresh) const override {
    auto& next = static_cast<LogBroker&>(fresh);
    next.logs_ = logs_;
    next.high_watermarks_ = high_watermarks_;
    next.appended_ = appended_;
    next.handled_ = handled_;
    next.rejected_ = rejected_;
    next.epoch_ = epoch_;
    next.epochs_ = epochs_;
    next.voted_epoch_ = voted_epoch_;
    next.leader_ = leader_;
    next.electing_ = electing_;
    next.replicated_ = replicated_;
    for (const auto& [name, entry] : groups_) next.groups_.emplace(name, GroupEntry{entry.topic, entry.first, entry.group.restarted(), {}});
    next.restarted_ = true;
  }

  // Unreplicated records (leader) and the groups' lag.
  std::uint32_t load() const override {
    std::uint64_t unreplicated = 0;
    for (std::size_t flat = 0; flat < logs_.size(); ++flat)
      unreplicated += logs_[flat].end() - std::min(logs_[flat].end(), high_watermarks_[flat]);
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
    return 32 + layout_.size() * (48 + kShownRecords * 32 + cluster_.size() * 16) + groups_.size() * 64 + members * 48;
  }

  void snapshot(v1::NodeState& state) const override {
    state.set_handled(handled_);
    state.set_rejected(rejected_);
    state.set_load(load());
    state.set_queue(queue());
    auto& out = *state.mutable_log_broker();
    out.set_leader(leader_ == kNoNode ? 0 : leader_);
    out.set_epoch(epoch_);
    out.set_electing(electing_);
    out.set_appended(appended_);
    for (std::uint32_t flat = 0; flat < layout_.size(); ++flat) {
      const auto& log = logs_[flat];
      auto& p = *out.add_partitions();
      p.set_topic(layout_.topic_of(flat).name());
      p.set_partition(layout_.partition_of(flat));
      p.set_log_start(log.start());
      p.set_log_end(log.end());
      p.set_high_watermark(high_watermarks_[flat]);
      if (leader_ != kNoNode) p.add_isr(leader_);
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
    // A follower's copy of its leader's commits (no members): where a new leader would start.
    for (const auto& [name, commits] : replicated_) {
      const auto first = layout_.first(commits.topic());
      if (leader() || !first) continue;
      auto& g = *out.add_groups();
      g.set_name(name);
      g.set_topic(commits.topic());
      g.set_generation(commits.generation());
      std::uint64_t lag = 0;
      for (std::uint32_t p = 0; p < static_cast<std::uint32_t>(commits.committed_size()) && *first + p < logs_.size(); ++p) {
        (*g.mutable_committed())[p] = commits.committed(static_cast<int>(p));
        lag += logs_[*first + p].end() - std::min(logs_[*first + p].end(), commits.committed(static_cast<int>(p)));
      }
      g.set_lag(lag);
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
  struct EpochStart {
    std::uint32_t epoch;
    std::vector<std::uint64_t> offsets;  // by flat partition
  };
  // The votes of the election this replica runs as a candidate.
  struct Election {
    std::uint32_t epoch = 0;
    std::uint64_t round = 0;  // answers carry it (Event::arg): those of an earlier election are stale
    std::size_t waiting = 0;
    std::vector<NodeIndex> granted;
    // The newest leader a refusal named, with the epoch history that comes with it.
    NodeIndex named = kNoNode;
    std::uint32_t named_epoch = 0;
    std::vector<EpochStart> named_epochs;
  };

  bool leader() const { return leader_ == index(); }
  // The leader a follower names to producers and consumers: none while its own fetches from it fail.
  NodeIndex working_leader(Time now) const {
    // A live leader answers a follower's fetch within fetch_wait_ms, even with nothing new.
    const bool silent = now - last_heard_ > from_millis(config_.fetch_wait_ms()) + kRefetchDelay;
    return leader_failing_ || silent ? kNoNode : leader_;
  }
  bool is_replica(NodeIndex node) const {
    return node != index() && std::find(cluster_.begin(), cluster_.end(), node) != cluster_.end();
  }
  std::vector<NodeIndex> others() const {
    std::vector<NodeIndex> out;
    for (const auto node : cluster_)
      if (node != index()) out.push_back(node);
    return out;
  }
  std::string id_of(NodeIndex node, Context& context) const {
    return node == kNoNode ? "nobody" : context.topology().spec(node).id();
  }
  std::size_t rank(NodeIndex node) const {
    return static_cast<std::size_t>(std::find(cluster_.begin(), cluster_.end(), node) - cluster_.begin());
  }
  std::vector<std::uint64_t> log_ends() const {
    std::vector<std::uint64_t> ends;
    for (const auto& log : logs_) ends.push_back(log.end());
    return ends;
  }
  static std::uint64_t total(const std::vector<std::uint64_t>& ends) { return std::accumulate(ends.begin(), ends.end(), std::uint64_t{0}); }
  // The epoch of each partition's last record (0 for an empty log).
  std::vector<std::uint32_t> last_epochs() const {
    std::vector<std::uint32_t> epochs;
    for (const auto& log : logs_) epochs.push_back(log.records().empty() ? 0 : log.records().back().epoch);
    return epochs;
  }

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

  void track_replicas(const std::vector<NodeIndex>& in_sync, bool everyone, Time now) {
    for (std::size_t flat = 0; flat < layout_.size(); ++flat) {
      replicas_[flat].clear();
      isr_[flat].clear();
      for (const auto node : others()) replicas_[flat][node] = Replica{0, now};
      for (const auto node : everyone ? others() : in_sync) isr_[flat].insert(node);
    }
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
    const int acks = event.payload->acks();
    if (acks == v1::Publish::ALL && too_few_in_sync(*flat)) {
      ++rejected_;
      if (answers) respond(event, 503, context, processing, not_leader(index()));
      return context.decide(Outcome::rejected_down, kNoNode,
                            fmt::format("503 not enough replicas: {} in sync on {}, min_insync_replicas {}", isr_[*flat].size() + 1,
                                        layout_.name(*flat), config_.min_insync_replicas()));
    }
    auto& log = logs_[*flat];
    Record record;
    record.key = event.payload->key();
    record.appended = context.now();
    record.publisher = event.client;
    record.request = event.request;
    record.path = event.path;
    record.epoch = epoch_;
    const auto offset = log.append(std::move(record));
    ++appended_;
    const auto& topic = layout_.topic_of(*flat);
    const auto deleted = log.retain(topic.retention_records(), from_millis(topic.retention_ms()), context.now());
    if (answers && (acks == v1::Publish::LEADER || others().empty() || isr_[*flat].empty()))
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

  bool too_few_in_sync(std::uint32_t flat) const { return isr_[flat].size() + 1 < config_.min_insync_replicas(); }

  // The high watermark follows the slowest in-sync replica; producers waiting for acks=all and
  // consumers waiting for records are answered as it passes them (acks=all refused if the in-sync
  // set shrank below its minimum meanwhile, as Kafka's NOT_ENOUGH_REPLICAS_AFTER_APPEND).
  void advance_high_watermark(std::uint32_t flat, Context& context) {
    std::uint64_t hw = logs_[flat].end();
    for (const auto node : isr_[flat]) hw = std::min(hw, replicas_[flat][node].fetched);
    if (hw <= high_watermarks_[flat]) return;
    high_watermarks_[flat] = hw;
    auto& pending = pending_[flat];
    while (!pending.empty() && pending.front().offset < hw) {
      if (too_few_in_sync(flat)) respond(pending.front().request, 503, context, 0, not_leader(index()));
      else respond(pending.front().request, 201, context);
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
    const bool follower = is_replica(event.src);
    const auto offset = event.payload->offset();
    const std::string who = context.topology().spec(event.src).id();
    if (follower) {
      last_follower_fetch_ = context.now();
      if (event.payload->epoch() < epoch_) {
        // It knew an older epoch: it first learns this one's history and truncates.
        answer(event, *flat, true, context, true);
        return context.decide(Outcome::fetched, event.src,
                              fmt::format("{} fetches from epoch {}: told epoch {} began at {}", who, event.payload->epoch(), epoch_,
                                          epochs_.back().offsets[*flat]));
      }
      auto& replica = replicas_[*flat][event.src];
      replica.fetched = std::min(offset, logs_[*flat].end());
      if (offset >= logs_[*flat].end()) {
        replica.caught_up = context.now();
        if (isr_[*flat].insert(event.src).second) note_ = fmt::format("; {} is in sync again", who);
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

  // Answers a fetch with what it may read (followers: up to the log end, with the groups' commits;
  // consumers: below the high watermark). Returns how many records; with none it answers only if
  // `even_empty`. A follower from an older epoch gets the epochs' history and no records.
  std::size_t answer(const Event& request, std::uint32_t flat, bool follower, Context& context, bool even_empty = false) {
    const auto& log = logs_[flat];
    const bool stale = follower && request.payload->epoch() < epoch_;
    const auto records = stale ? std::vector<Record>{}
                               : log.read(request.payload->offset(), std::max<std::uint32_t>(1, request.payload->max_records()),
                                          follower ? log.end() : high_watermarks_[flat]);
    if (records.empty() && !even_empty) return 0;
    auto reply = std::make_shared<v1::Payload>();
    reply->set_op(v1::Payload::FETCH);
    reply->set_partition(flat);
    reply->set_offset(request.payload->offset());
    reply->set_high_watermark(high_watermarks_[flat]);
    reply->set_epoch(epoch_);
    for (const auto node : isr_[flat]) reply->add_isr(node);
    if (stale) write_epochs(*reply);
    if (follower)
      for (const auto& [name, entry] : groups_) {
        auto& commits = *reply->add_commits();
        commits.set_group(name);
        commits.set_topic(entry.topic);
        commits.set_generation(entry.group.generation());
        for (const auto offset : entry.group.committed()) commits.add_committed(offset);
      }
    for (const auto& record : records) {
      auto& out = *reply->add_records();
      out.set_offset(record.offset);
      out.set_key(record.key);
      out.set_publisher(record.publisher);
      out.set_request(record.request);
      out.set_path(record.path);
      out.set_appended_ns(record.appended);
      out.set_epoch(record.epoch);
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

  // A new leader coordinates the groups its old leader did, from the commits it had copied (the
  // assignment strategy is the members' own, as the scenario gives it).
  void adopt_groups(Context& context) {
    for (const auto& [name, commits] : replicated_) {
      const auto first = layout_.first(commits.topic());
      if (groups_.count(name) || !first) continue;
      auto strategy = v1::ConsumerParams::RANGE;
      for (const auto& node : context.topology().scenario().nodes())
        if (node.kind() == v1::Node::CONSUMER && node.consumer().group() == name) strategy = node.consumer().assignment();
      messaging::Group group(strategy, {commits.committed().begin(), commits.committed().end()}, commits.generation());
      groups_.emplace(name, GroupEntry{commits.topic(), *first, std::move(group), {}});
    }
    replicated_.clear();
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

  // A member's heartbeat is answered, so it knows its coordinator is alive (Kafka's heartbeat
  // response); a member removed meanwhile is told to rejoin instead.
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
    Event reply;
    auto payload = std::make_shared<v1::Payload>();
    payload->set_op(v1::Payload::HEARTBEAT);
    payload->set_group(event.payload->group());
    reply.payload = std::move(payload);
    reply.client = index();
    reply.background = true;
    reply.silent = true;
    context.notify(event.src, reply);
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

  // ---- the periodic sweep: sessions, in-sync replicas, retention by time, a silent leader ----

  // What the sweep finds is done by a notice 1 ns later, which makes its own frame (the sweep
  // itself is silent).
  void sweep(Context& context) {
    sweep_later(context);
    if (!leader()) {
      // A follower that has not heard its leader for the leader timeout (a candidate whose
      // election failed: and its pause is over) calls an election.
      if (!election_.waiting && context.now() - last_heard_ >= leader_timeout_ + stagger() && context.now() >= next_election_)
        notice(kElectionNotice, leader_, "", 0, context);
      return;
    }
    // A leader no follower has fetched from for the leader timeout may have been replaced.
    if (!peers_.empty() && context.now() - last_follower_fetch_ >= leader_timeout_)
      notice(kElectionNotice, index(), "", 0, context);
    for (auto& [name, entry] : groups_)
      for (const auto node : entry.group.expired(context.now(), from_millis(config_.session_timeout_ms())))
        notice(kExpiryNotice, node, name, 0, context);
    for (std::uint32_t flat = 0; flat < layout_.size(); ++flat) {
      for (auto& [node, replica] : replicas_[flat])
        if (lagging(flat, node, context.now()) && isr_[flat].count(node)) notice(kLagNotice, node, "", flat + 1, context);
      const auto& topic = layout_.topic_of(flat);
      if (topic.retention_ms() > 0) logs_[flat].retain(topic.retention_records(), from_millis(topic.retention_ms()), context.now());
    }
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
    Event tick = timer_event(kLogSweepTimer, true);
    // It keeps the run going while a group has members (their sessions may expire) or a produce
    // waits for replicas.
    bool waiting = false;
    for (const auto& pending : pending_) waiting |= !pending.second.empty();
    // A lagging group whose members may still expire (and leave their partitions to others).
    for (const auto& [name, entry] : groups_) waiting |= entry.group.rebalancing() || (!entry.group.members().empty() && lag_of(entry) > 0);
    tick.background = !waiting;
    const double every_ms = std::min({config_.session_timeout_ms(), config_.replica_lag_ms(), config_.leader_timeout_ms()});
    context.schedule(std::max<Time>(1, from_millis(every_ms) / 4), tick);
  }

  // ---- leader election ----

  // Followers that lose their leader together call elections a quarter of the leader timeout
  // apart, by their place in the scenario, so the first usually wins without a split vote.
  Time stagger() const { return leader_timeout_ / 4 * static_cast<Time>(std::max<std::size_t>(rank(index()), 1) - 1); }

  void election_due(const Event& event, Context& context) {
    const auto silent = static_cast<NodeIndex>(event.arg);
    if (election_.waiting) return;
    if (leader()) {
      if (context.now() - last_follower_fetch_ < leader_timeout_) return;
      abdicate(kNoNode, context);
      return elect(context, fmt::format("no follower fetched for {}: it may have been replaced, so it stops leading", duration_text(leader_timeout_)));
    }
    // It refused a candidate less up to date than itself, and still hears no leader.
    const bool at_once = event.partition == 1 && (leader_ == kNoNode || context.now() - last_heard_ >= leader_timeout_);
    if (at_once) return elect(context, "a candidate less up to date asked for its vote");
    if (context.now() - last_heard_ < leader_timeout_ + stagger()) return;
    elect(context, silent == kNoNode ? "no leader known" : fmt::format("heard nothing from {} for {}", id_of(silent, context), duration_text(leader_timeout_)));
  }

  // Asks every other replica for its vote in a new epoch (its own vote counts too).
  void elect(Context& context, const std::string& why) {
    electing_ = true;
    leader_ = kNoNode;
    voted_epoch_ = std::max(epoch_, voted_epoch_) + 1;
    election_ = Election{};
    election_.epoch = voted_epoch_;
    election_.round = ++rounds_;
    election_.granted.push_back(index());
    std::vector<std::string> asked;
    for (const auto peer : peers_) {
      Event request;
      request.client = index();
      request.arg = static_cast<std::int64_t>((election_.round << 32) | peer);
      auto payload = std::make_shared<v1::Payload>();
      payload->set_op(v1::Payload::VOTE);
      payload->set_epoch(election_.epoch);
      for (const auto end : log_ends()) payload->add_offsets(end);
      for (const auto epoch : last_epochs()) payload->add_epochs(epoch);
      request.payload = std::move(payload);
      context.call(peer, request, std::max<Time>(1, leader_timeout_ / 2));
      ++election_.waiting;
      asked.push_back(id_of(peer, context));
    }
    if (!election_.waiting) return conclude_election(why, context);
    context.decide(Outcome::health_changed, kNoNode,
                   fmt::format("{}: asks {} to make it leader for epoch {} ({} records)", why, flowframe::join(asked, ", "),
                               election_.epoch, total(log_ends())));
  }

  // Whether a candidate's log is at least as up to date as this replica's, Raft's rule on each
  // partition: its last record's epoch is later, or the same with at least as many records. Where
  // neither log is ahead on every partition (each copied some partition further), or they are the
  // same, the scenario's order decides, so some candidate can always win.
  bool better_than_me(NodeIndex candidate, const std::vector<std::uint64_t>& ends, const std::vector<std::uint32_t>& epochs) const {
    const auto my_ends = log_ends();
    const auto my_epochs = last_epochs();
    bool ahead = false, behind = false;
    for (std::size_t flat = 0; flat < my_ends.size(); ++flat) {
      const std::pair theirs{flat < epochs.size() ? epochs[flat] : 0u, flat < ends.size() ? ends[flat] : 0u};
      const std::pair mine{my_epochs[flat], my_ends[flat]};
      ahead |= theirs > mine;
      behind |= theirs < mine;
    }
    if (ahead != behind) return ahead;
    return rank(candidate) < rank(index());
  }

  void vote(const Event& request, Context& context) {
    const auto& ask = *request.payload;
    const auto who = id_of(request.src, context);
    const std::vector<std::uint64_t> ends(ask.offsets().begin(), ask.offsets().end());
    const std::vector<std::uint32_t> epochs(ask.epochs().begin(), ask.epochs().end());
    std::string refusal;
    NodeIndex heard = kNoNode;  // a leader it still hears, named in its refusal
    if (leader() && !electing_) {
      refusal = fmt::format("it leads epoch {}", epoch_);
      heard = index();
    } else if (leader_ != kNoNode && context.now() - last_heard_ < leader_timeout_) {
      refusal = "it still hears its leader " + id_of(leader_, context);
      heard = leader_;
    }
    if (refusal.empty() && ask.epoch() <= std::max(epoch_, voted_epoch_))
      refusal = fmt::format("it already voted in epoch {}", std::max(epoch_, voted_epoch_));
    else if (refusal.empty() && !better_than_me(request.src, ends, epochs)) {
      refusal = fmt::format("its log is more up to date ({} records to {}; last epochs {} to {})", total(log_ends()), total(ends),
                            fmt::join(last_epochs(), ","), fmt::join(epochs, ","));
      // The better candidate is this replica: it asks at once, for a later epoch than the one refused
      // (else a worse candidate that always asks first would keep the cluster leaderless).
      voted_epoch_ = std::max(voted_epoch_, ask.epoch());
      if (!election_.waiting) notice(kElectionNotice, leader_, "", 1, context);
    }
    auto reply = std::make_shared<v1::Payload>();
    reply->set_op(v1::Payload::VOTE);
    if (!refusal.empty()) {
      reply->set_node(heard == kNoNode ? 0 : heard);
      reply->set_epoch(epoch_);
      reply->set_generation(std::max(epoch_, voted_epoch_));  // a later candidate must ask for a newer epoch
      write_epochs(*reply);
      respond(request, 409, context, 0, std::move(reply));
      return context.decide(Outcome::none, request.src, fmt::format("{} asks for its vote in epoch {}: refused, {}", who, ask.epoch(), refusal));
    }
    // Granted: it waits for the winner's announcement, and gives it a leader timeout to come.
    if (electing_) election_ = Election{};
    electing_ = true;
    voted_epoch_ = ask.epoch();
    leader_ = kNoNode;
    last_heard_ = context.now();
    reply->set_epoch(ask.epoch());
    respond(request, 200, context, 0, std::move(reply));
    context.decide(Outcome::none, request.src, fmt::format("{} asks for its vote in epoch {}: granted", who, ask.epoch()));
  }

  void vote_answered(const Event& event, Context& context) {
    const auto tag = static_cast<std::uint64_t>(event.arg);
    const auto who = id_of(static_cast<NodeIndex>(tag & 0xffffffffu), context);
    if (!election_.waiting || (tag >> 32) != election_.round)
      return context.decide(Outcome::late, kNoNode, "an answer to an earlier election");
    --election_.waiting;
    std::string heard;
    if (event.kind == EventKind::response && event.status == 200) {
      election_.granted.push_back(event.src);
      heard = who + " grants its vote";
    } else if (event.kind == EventKind::response && event.status == 409 && event.payload) {
      const auto& refusal = *event.payload;
      voted_epoch_ = std::max(voted_epoch_, refusal.generation());
      heard = who + " refuses its vote";
      if (refusal.node() != 0 && (election_.named == kNoNode || refusal.epoch() > election_.named_epoch)) {
        election_.named = refusal.node();
        election_.named_epoch = refusal.epoch();
        election_.named_epochs = read_epochs(refusal);
        heard += refusal.node() == event.src ? fmt::format(" (it leads epoch {})", refusal.epoch())
                                             : fmt::format(" (it follows {} in epoch {})", id_of(refusal.node(), context), refusal.epoch());
      }
    } else {
      heard = fmt::format("no vote from {} ({})", who, event.kind == EventKind::timeout ? "no answer" : std::to_string(event.status));
    }
    // A majority decides at once (the answers still out are dropped as late); otherwise every vote counts.
    if (election_.waiting && (election_.granted.size() < cluster_.size() / 2 + 1 || election_.named != kNoNode))
      return context.decide(Outcome::none, kNoNode, heard);
    conclude_election(heard, context);
  }

  // Every vote is in: lead with a majority; follow a leader a refusal named in a current epoch;
  // otherwise try again after a pause that grows with the replica's rank, so candidates do not
  // keep splitting the vote.
  void conclude_election(const std::string& heard, Context& context) {
    const auto granted = election_.granted.size();
    const auto majority = cluster_.size() / 2 + 1;
    if (election_.named != kNoNode && election_.named_epoch >= epoch_) {
      const auto named = election_.named;
      const auto epoch = election_.named_epoch;
      auto epochs = std::move(election_.named_epochs);
      election_ = Election{};
      return learn_leader(named, epoch, std::move(epochs), heard, context);
    }
    if (granted >= majority) {
      std::vector<NodeIndex> voters(election_.granted.begin() + 1, election_.granted.end());
      const auto epoch = election_.epoch;
      election_ = Election{};
      return lead(epoch, voters, heard, context);
    }
    next_election_ = context.now() + leader_timeout_ / 4 * static_cast<Time>(rank(index()) + 1);
    last_heard_ = context.now() - leader_timeout_;  // the pause alone decides when to try again
    const auto epoch = election_.epoch;
    election_ = Election{};
    context.decide(Outcome::none, kNoNode,
                   fmt::format("{}: {} of {} votes for epoch {}, {} needed; tries again in {}", heard, granted, cluster_.size(), epoch,
                               majority, duration_text(next_election_ - context.now())));
  }

  // Becomes the leader: of a new epoch (its log ends are where the epoch starts), or again of the
  // epoch it led before a restart when the others still follow it.
  void lead(std::uint32_t epoch, const std::vector<NodeIndex>& in_sync, const std::string& heard, Context& context) {
    const bool again = epoch == epoch_ && !epochs_.empty() && epochs_.back().epoch == epoch;
    epoch_ = epoch;
    voted_epoch_ = std::max(voted_epoch_, epoch);
    if (!again) epochs_.push_back({epoch, log_ends()});
    leader_ = index();
    electing_ = false;
    last_follower_fetch_ = context.now();
    track_replicas(in_sync, again, context.now());
    adopt_groups(context);
    for (const auto peer : peers_) {
      Event announcement;
      announcement.client = index();
      auto payload = std::make_shared<v1::Payload>();
      payload->set_op(v1::Payload::LEADER);
      payload->set_node(index());
      payload->set_epoch(epoch_);
      write_epochs(*payload);
      announcement.payload = std::move(payload);
      context.notify(peer, announcement);
    }
    for (std::uint32_t flat = 0; flat < layout_.size(); ++flat) advance_high_watermark(flat, context);
    std::vector<std::string> names;
    for (const auto node : in_sync) names.push_back(id_of(node, context));
    context.decide(Outcome::elected, kNoNode,
                   fmt::format("{}: leads epoch {}{} with {} records; in sync: {}", heard, epoch_, again ? " again" : "",
                               total(log_ends()), names.empty() ? "none yet" : flowframe::join(names, ", ")));
  }

  // A leader that learns of another (or doubts itself) stops: waiting producers and held fetches
  // are told who leads now; its groups' commits stay, for when it leads again.
  void abdicate(NodeIndex successor, Context& context) {
    for (auto& [flat, pending] : pending_)
      for (const auto& produce : pending) respond(produce.request, 503, context, 0, not_leader(successor));
    pending_.clear();
    for (auto& held : held_) {
      for (const auto& fetch : held) respond(fetch.request, 503, context, 0, not_leader(successor));
      held.clear();
    }
    keep_commits_only();
    for (auto& isr : isr_) isr.clear();
    for (auto& replicas : replicas_) replicas.clear();
  }

  // Its groups become what a follower keeps of them: their commits, until its leader's replace them.
  void keep_commits_only() {
    for (const auto& [name, entry] : groups_) {
      auto& commits = replicated_[name];
      commits.set_group(name);
      commits.set_topic(entry.topic);
      commits.set_generation(entry.group.generation());
      commits.clear_committed();
      for (const auto offset : entry.group.committed()) commits.add_committed(offset);
    }
    groups_.clear();
  }

  // Another replica leads `epoch`: what this one has that the new leader never had is dropped, and
  // it fetches from the new leader.
  void learn_leader(NodeIndex node, std::uint32_t epoch, std::vector<EpochStart> epochs, const std::string& heard, Context& context) {
    if (epoch < epoch_) return context.decide(Outcome::none, node, heard + ": an older epoch, ignored");
    if (node == index()) return lead(epoch, {}, heard + "; the others still follow it", context);
    if (leader()) abdicate(node, context);
    else keep_commits_only();  // a restarted leader's, from before its crash
    // Kafka's rule (KIP-279): each partition keeps what it has up to where its last record's epoch
    // ended in the new leader's history, the start of the next epoch there.
    std::size_t dropped = 0;
    std::vector<std::string> truncated;
    const auto lasts = last_epochs();
    for (std::uint32_t flat = 0; flat < logs_.size(); ++flat) {
      const auto next = std::find_if(epochs.begin(), epochs.end(), [&](const EpochStart& e) { return e.epoch > lasts[flat]; });
      if (next == epochs.end() || flat >= next->offsets.size()) continue;
      if (const auto n = logs_[flat].truncate(next->offsets[flat])) {
        dropped += n;
        truncated.push_back(fmt::format("{} to {} ({} dropped)", layout_.name(flat), next->offsets[flat], n));
      }
    }
    epochs_ = std::move(epochs);
    epoch_ = epoch;
    voted_epoch_ = std::max(voted_epoch_, epoch);
    leader_ = node;
    leader_failing_ = false;
    electing_ = false;
    election_ = Election{};
    last_heard_ = context.now();
    for (std::uint32_t flat = 0; flat < logs_.size(); ++flat) high_watermarks_[flat] = std::min(high_watermarks_[flat], logs_[flat].end());
    fetch_everything(context, false);
    const auto follows = fmt::format("{}: {} follows {} in epoch {}", heard, id(), id_of(node, context), epoch);
    if (dropped)
      return context.decide(Outcome::truncated, node,
                            fmt::format("{}; truncates {}: records the new leader never had", follows, flowframe::join(truncated, ", ")));
    context.decide(Outcome::none, node, follows);
  }

  void announced(const Event& event, Context& context) {
    learn_leader(event.payload->node(), event.payload->epoch(), read_epochs(*event.payload),
                 id_of(event.src, context) + fmt::format(" announces it leads epoch {}", event.payload->epoch()), context);
  }

  void write_epochs(v1::Payload& payload) const {
    for (const auto& e : epochs_) {
      auto& out = *payload.add_epoch_starts();
      out.set_epoch(e.epoch);
      for (const auto offset : e.offsets) out.add_offsets(offset);
    }
  }
  static std::vector<EpochStart> read_epochs(const v1::Payload& payload) {
    std::vector<EpochStart> out;
    for (const auto& e : payload.epoch_starts()) out.push_back({e.epoch(), {e.offsets().begin(), e.offsets().end()}});
    return out;
  }

  // ---- followers ----

  void follow(const Event& event, Context& context) {
    const auto refuse = [&](const char* what) {
      const auto known = working_leader(context.now());
      return context.decide(Outcome::rejected_down, known,
                            fmt::format("{}: not the leader; {}", what,
                                        known != kNoNode ? id_of(known, context) + " is"
                                        : leader_ != kNoNode ? "its fetches from " + id_of(leader_, context) + " fail"
                                                             : "a new one is being elected"));
    };
    if (event.kind == EventKind::request) {
      ++rejected_;
      respond(event, 503, context, 0, not_leader(working_leader(context.now())));
      return refuse("503");
    }
    if (event.kind == EventKind::message && event.payload) {
      // A group member that came here is told where the leader is (or that an election is on).
      Event reply;
      reply.client = index();
      reply.payload = not_leader(working_leader(context.now()));
      context.notify(event.src, reply);
      return refuse("told its sender");
    }
    if (event.kind == EventKind::timer && event.status == kRefetchTimer) {
      if (const auto flat = flat_of(event); flat && leader_ != kNoNode) fetch_from_leader(*flat, context, true);
      return;
    }
    if (event.kind != EventKind::response && event.kind != EventKind::timeout) return;
    const auto flat = flat_of(event);
    if (!flat) return;
    // Fetches carry the epoch they were sent in: answers from before a change of leader are stale.
    if (leader_ == kNoNode || static_cast<std::uint32_t>(event.arg) != epoch_)
      return context.decide(Outcome::late, kNoNode, "an answer to a fetch from an earlier leader: dropped");
    leader_failing_ = event.kind == EventKind::timeout || event.status != 200 || !event.payload;
    if (leader_failing_) {
      Event again = timer_event(kRefetchTimer, true);
      again.partition = *flat + 1;
      context.schedule(kRefetchDelay, again);
      return context.decide(Outcome::none, leader_,
                            fmt::format("fetching {} from the leader failed ({}): again in {}", layout_.name(*flat),
                                        event.kind == EventKind::timeout ? "timed out" : std::to_string(event.status),
                                        duration_text(kRefetchDelay)));
    }
    const auto& answer = *event.payload;
    last_heard_ = context.now();
    if (answer.epoch() > epoch_)
      return learn_leader(leader_, answer.epoch(), read_epochs(answer),
                          fmt::format("{} leads epoch {}", id_of(leader_, context), answer.epoch()), context);
    auto& log = logs_[*flat];
    std::size_t copied = 0;
    for (const auto& r : answer.records()) {
      if (r.offset() != log.end()) continue;  // only what follows what it has
      log.append(Record{r.offset(), r.key(), r.appended_ns(), r.publisher(), r.request(), r.path(), r.epoch()});
      ++copied;
    }
    const auto& topic = layout_.topic_of(*flat);
    log.retain(topic.retention_records(), from_millis(topic.retention_ms()), context.now());
    appended_ += copied;
    high_watermarks_[*flat] = std::min(log.end(), answer.high_watermark());
    isr_[*flat] = std::set<NodeIndex>(answer.isr().begin(), answer.isr().end());
    for (const auto& commits : answer.commits()) replicated_[commits.group()] = commits;
    // Having copied something, its next fetch tells the leader so (producers with acks=all wait
    // for it): that fetch keeps the run going; an idle one does not.
    fetch_from_leader(*flat, context, copied == 0);
    context.decide(Outcome::appended, leader_,
                   fmt::format("copied {} record{} of {} (log end {})", copied, copied == 1 ? "" : "s", layout_.name(*flat), log.end()));
  }

  void fetch_everything(Context& context, bool idle) {
    for (std::uint32_t flat = 0; flat < layout_.size(); ++flat) fetch_from_leader(flat, context, idle);
  }

  void fetch_from_leader(std::uint32_t flat, Context& context, bool idle) {
    if (leader_ == kNoNode || !context.topology().linked(index(), leader_)) return;
    Event request;
    request.client = index();
    request.partition = flat + 1;
    auto payload = std::make_shared<v1::Payload>();
    payload->set_op(v1::Payload::FETCH);
    payload->set_topic(layout_.topic_of(flat).name());
    payload->set_partition(layout_.partition_of(flat));
    payload->set_offset(logs_[flat].end());
    payload->set_max_records(500);
    payload->set_epoch(epoch_);
    request.payload = std::move(payload);
    request.arg = epoch_;
    request.background = idle;
    context.call(leader_, request, from_millis(config_.fetch_wait_ms()) + kNanosPerSecond);
  }

  std::vector<NodeIndex> cluster_;  // the scenario's leader first, then its followers
  std::vector<NodeIndex> peers_;    // the other replicas it has a link to
  NodeIndex leader_;                // kNoNode while it does not know one
  v1::LogBrokerParams config_;      // the scenario leader's: followers copy its topics
  messaging::TopicLayout layout_;
  Sampler op_time_;
  std::vector<messaging::PartitionLog> logs_;  // by flat partition
  std::vector<std::uint64_t> high_watermarks_;
  std::vector<std::set<NodeIndex>> isr_;  // followers in sync (the leader always is)
  std::vector<std::map<NodeIndex, Replica>> replicas_;
  std::map<std::uint32_t, std::deque<PendingProduce>> pending_;  // acks=all produces waiting, by partition
  std::vector<std::vector<HeldFetch>> held_;
  std::uint64_t next_hold_ = 0;
  std::map<std::string, GroupEntry> groups_;
  std::map<std::string, v1::GroupCommits> replicated_;  // a follower: its leader's groups' commits
  // Leader epochs.
  Time leader_timeout_;
  std::uint32_t epoch_ = 0;
  std::vector<EpochStart> epochs_;  // every epoch it knows and where it started
  std::uint32_t voted_epoch_ = 0;   // the newest epoch it voted in
  bool electing_ = false;           // it has no leader: it runs an election or waits for the winner
  Election election_;
  std::uint64_t rounds_ = 0;
  Time last_heard_ = 0;           // a follower: its leader's last answer
  Time last_follower_fetch_ = 0;  // a leader: a follower's last fetch
  Time next_election_ = 0;        // a candidate that lost waits until then
  bool leader_failing_ = false;   // a follower: its last fetch from its leader failed
  bool restarted_ = false;
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

constexpr double kDefaultFetchWaitMs = 500;

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
    // Replicas elect a new leader among themselves: each needs a link to every other.
    for (const auto* other : c.nodes())
      if (other->id() != c.node().id() && other->kind() == v1::Node::LOG_BROKER &&
          other->log_broker().follower_of() == params.follower_of() && !c.linked(c.node().id(), other->id()))
        c.problem(at, "log_broker.follower_of",
                  "'" + c.node().id() + "' has no link to '" + other->id() +
                      "', another follower of '" + params.follower_of() + "': replicas elect a new leader among themselves, so each needs a link to every other");
    if (params.topics_size() > 0)
      c.problem(c.at({{"log_broker"}, {"topics", 0}}), "log_broker.topics", "a follower copies its leader's topics: it has none of its own");
    // Every replica runs by its leader's settings (any of them may lead): a follower's own are ignored.
    for (const auto& [field, has] :
         {std::pair{"replica_lag_ms", params.has_replica_lag_ms()}, std::pair{"session_timeout_ms", params.has_session_timeout_ms()},
          std::pair{"rebalance_ms", params.has_rebalance_ms()}, std::pair{"fetch_wait_ms", params.has_fetch_wait_ms()},
          std::pair{"op_time", params.has_op_time()}, std::pair{"leader_timeout_ms", params.has_leader_timeout_ms()},
          std::pair{"min_insync_replicas", params.has_min_insync_replicas()}})
      if (has)
        c.problem(c.at({{"log_broker"}, {field}}), std::string("log_broker.") + field,
                  "a follower runs by its leader's settings: set it on '" + params.follower_of() + "'");
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
        std::tuple{"fetch_wait_ms", params.has_fetch_wait_ms(), params.fetch_wait_ms()},
        std::tuple{"leader_timeout_ms", params.has_leader_timeout_ms(), params.leader_timeout_ms()}})
    c.duration(has, value, c.at({{"log_broker"}, {field}}), std::string("log_broker.") + field, true);
  // Followers wait fetch_wait_ms for records before an empty answer: a shorter leader timeout would
  // take an idle leader for a dead one.
  const double fetch_wait_ms = params.has_fetch_wait_ms() ? params.fetch_wait_ms() : kDefaultFetchWaitMs;
  if (params.has_leader_timeout_ms() && params.leader_timeout_ms() <= fetch_wait_ms)
    c.problem(c.at({{"log_broker"}, {"leader_timeout_ms"}}), "log_broker.leader_timeout_ms",
              "must be longer than fetch_wait_ms (" + fmt_number(fetch_wait_ms) + "): an idle leader answers a follower's fetch only after it");
  if (params.has_min_insync_replicas() && !c.nodes().empty()) {
    std::uint32_t replicas = 1;
    for (const auto* other : c.nodes())
      replicas += other->kind() == v1::Node::LOG_BROKER && other->log_broker().follower_of() == c.node().id();
    if (params.min_insync_replicas() < 1 || params.min_insync_replicas() > replicas)
      c.problem(c.at({{"log_broker"}, {"min_insync_replicas"}}), "log_broker.min_insync_replicas",
                fmt::format("must be from 1 to the {} replica{} (the leader and its followers)", replicas, replicas == 1 ? "" : "s"));
  }
  check_optional_distribution(c, params.has_op_time(), params.op_time(), "log_broker", "op_time");
}

const KindDescription kLogBroker{
    .kind = v1::Node::LOG_BROKER,
    .name = "log_broker",
    .defaults =
        [](v1::Node& node) {
          auto& params = *node.mutable_log_broker();
          if (!params.follower_of().empty()) return;  // it runs by its leader's settings
          if (!params.has_replica_lag_ms()) params.set_replica_lag_ms(1000);
          if (!params.has_session_timeout_ms()) params.set_session_timeout_ms(3000);
          if (!params.has_rebalance_ms()) params.set_rebalance_ms(300);
          if (!params.has_fetch_wait_ms()) params.set_fetch_wait_ms(kDefaultFetchWaitMs);
          if (!params.has_leader_timeout_ms()) params.set_leader_timeout_ms(std::max(2000.0, 2 * params.fetch_wait_ms()));
          if (!params.has_min_insync_replicas()) params.set_min_insync_replicas(1);
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
          const bool leads = broker.leader() == state.node() && !broker.electing();
          node["role"] = broker.electing() ? "electing" : leads ? "leader" : "follower";
          node["epoch"] = broker.epoch();
          for (const auto& p : broker.partitions()) {
            auto& out = node["partitions"][p.topic() + "/" + std::to_string(p.partition())];
            out["log_end"] = p.log_end();
            out["high_watermark"] = p.high_watermark();
            out["in_sync"] = p.isr_size();
          }
          // A follower's groups are its copy of the leader's commits: the leader reports the groups.
          for (const auto& g : broker.groups()) {
            if (!leads) break;
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
    .detail =
        [](const nlohmann::ordered_json& node, std::vector<std::string>& parts) {
          parts.push_back(fmt::format("{}, epoch {}", node["role"].get<std::string>(), node["epoch"].get<std::uint32_t>()));
          if (!node.contains("groups")) return;
          for (const auto& [name, group] : node["groups"].items())
            parts.push_back(fmt::format("group {}: generation {}, {} members, lag {}", name, group["generation"].get<std::uint32_t>(),
                                        group["members"].get<std::uint32_t>(), group["lag"].get<std::uint64_t>()));
        },
};
FLOWFRAME_KIND(kLogBroker, make_log_broker);

}  // namespace
}  // namespace flowframe
