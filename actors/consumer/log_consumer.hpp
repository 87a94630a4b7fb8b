#pragma once
// A consumer of a log broker's topic, in a consumer group: it joins, gets partitions, fetches each
// from its committed offset, processes records one at a time in offset order (writing each to the
// database when it has one) and commits how far it got, after each batch or every auto_commit_ms.
// When the coordinator asks (a member came or went) it stops, commits and rejoins: eager
// rebalancing, during which nothing is consumed. A record processed but not committed before a
// rebalance or a crash is processed again by the next owner: at least once.
//
// Event services (actors/event_service/) are log consumers that react to what they process:
// they override process().
#include <fmt/format.h>

#include <deque>
#include <map>
#include <optional>

#include "actors/common/components.hpp"
#include "actors/common/routing.hpp"
#include "actors/consumer/sink.hpp"
#include "actors/log_broker/cluster.hpp"
#include "actors/log_broker/log.hpp"

namespace flowframe {

class LogConsumer : public Component {
 public:
  static constexpr std::uint16_t kHeartbeatTimer = 1;
  static constexpr std::uint16_t kProcessedTimer = 2;
  static constexpr std::uint16_t kAutoCommitTimer = 3;
  static constexpr std::uint16_t kStartTimer = 4;
  static constexpr std::int64_t kWriteToken = -1;  // a database write's `arg` (fetches carry their positive number)

  LogConsumer(const v1::Node& spec, NodeIndex index, const Topology& topology, const v1::ConsumerParams& params)
      : Component(spec, index, topology.seed()),
        params_(params),
        broker_(topology.index_of(params.broker())),
        replicas_(reachable_replicas(topology, index, broker_)),
        database_(params.database().empty() ? kNoNode : topology.index_of(params.database())),
        config_(topology.spec(log_cluster(topology, broker_).front()).log_broker()),
        layout_(config_),
        first_(layout_.first(params.topic()).value_or(0)),
        service_(params.service_time()) {}

  void start(Context& context) override {
    if (!defer_start(params_, kStartTimer, context)) begin(context);
  }

  void begin(Context& context) {
    last_heard_ = context.now();
    join(context);
    beat_later(context);
    if (params_.commit() == v1::ConsumerParams::AUTO) auto_commit_later(context);
  }

  void handle(const Event& event, Context& context) override {
    // Heard from its coordinator: anything but "not the leader, and I know none".
    const bool no_leader = event.payload && event.payload->op() == v1::Payload::NOT_LEADER && event.payload->node() == 0;
    if ((event.kind == EventKind::message || event.kind == EventKind::response) && event.src == broker_ && !no_leader) {
      last_heard_ = context.now();
      no_leader_answers_ = 0;
    }
    switch (event.kind) {
      case EventKind::request:
        return refuse_request(event, 501, Outcome::no_route, "501 a log consumer takes messages from its broker, not requests", context);
      case EventKind::message:
        if (!event.payload || event.src != broker_) return;
        if (event.payload->op() == v1::Payload::REBALANCE) return revoke(context);
        if (event.payload->op() == v1::Payload::ASSIGN) return assigned(*event.payload, context);
        if (event.payload->op() == v1::Payload::NOT_LEADER) return not_the_leader(event.payload->node(), context);
        if (event.payload->op() == v1::Payload::HEARTBEAT) return context.decide(Outcome::none, broker_, "its coordinator answered its heartbeat");
        return;
      case EventKind::response:
        if (event.arg == kWriteToken) return written(event, context);
        if (event.status != 200 || !event.payload || event.payload->op() != v1::Payload::FETCH) return fetch_failed(event, context);
        return fetched(event, context);
      case EventKind::timeout:
        if (event.arg == kWriteToken) return written(event, context);
        if (const auto p = assigned_partition(event.partition); p && event.arg == positions_.at(*p).fetch)
          fetch(*p, false, context);  // the fetch timed out
        return;
      case EventKind::timer:
        if (event.status == kHeartbeatTimer) {
          beat_later(context);
          // Its coordinator has said nothing (no answer to heartbeats, fetches or joins) for a
          // session: it is gone, so the member looks for the group at the next replica.
          if (replicas_.size() > 1 && context.now() - last_heard_ >= from_millis(config_.session_timeout_ms()))
            return move_to(next_replica(replicas_, broker_, kNoNode),
                           fmt::format("{} has not answered for {}", id_of(broker_, context), duration_text(context.now() - last_heard_)),
                           context);
          return send(v1::Payload::HEARTBEAT, context);
        }
        if (event.status == kProcessedTimer) return processed(event, context);
        if (event.status == kStartTimer) {
          begin(context);
          return context.decide(Outcome::applied, broker_, "starts: joins " + params_.group());
        }
        if (event.status == kAutoCommitTimer) {
          commit_all(context);
          return auto_commit_later(context);
        }
        return;
      default: return;
    }
  }

  std::string apply(ControlAction& action, Context&) override {
    return "a log consumer has no setting '" + action.field + "' to change during a run";
  }

  void survive_crash(Component& fresh) const override {
    auto& next = static_cast<LogConsumer&>(fresh);
    next.processed_count_ = processed_count_;
    next.duplicates_ = duplicates_;
    next.received_ = received_;
  }

  std::uint32_t load() const override { return current_ ? 1 : 0; }
  std::uint32_t queue() const override { return static_cast<std::uint32_t>(buffer_.size()); }
  bool rich() const override { return true; }
  std::size_t state_size_hint() const override { return 48 + positions_.size() * 24; }

  void snapshot(v1::NodeState& state) const override {
    state.set_handled(processed_count_);
    state.set_load(load());
    state.set_queue(queue());
    auto& out = *state.mutable_consumer();
    out.set_queue(params_.topic());
    out.set_received(received_);
    out.set_processed(processed_count_);
    out.set_duplicates(duplicates_);
    out.set_generation(generation_);
    out.set_rebalancing(rebalancing_);
    for (const auto& [p, position] : positions_) {
      auto& pos = *out.add_positions();
      pos.set_partition(p);
      pos.set_fetched(position.fetched);
      pos.set_processed(position.processed);
      pos.set_committed(position.committed);
    }
  }

 protected:
  struct Position {
    std::uint64_t fetched = 0;    // the next offset to fetch
    std::uint64_t processed = 0;  // the next offset to process
    std::uint64_t committed = 0;
    bool fetching = false;
    std::int64_t fetch = 0;  // the outstanding fetch's number: answers to older ones are stale
  };
  struct Buffered {
    std::uint32_t partition;  // within the topic
    v1::LogRecord record;
    std::uint32_t generation;  // of the assignment it was fetched in
  };

  Event to_broker(v1::Payload::Op op) const {
    Event message;
    auto payload = std::make_shared<v1::Payload>();
    payload->set_op(op);
    payload->set_group(params_.group());
    payload->set_topic(params_.topic());
    payload->set_generation(generation_);
    message.payload = std::move(payload);
    message.client = index();
    return message;
  }

  void send(v1::Payload::Op op, Context& context) { context.notify(broker_, to_broker(op)); }

  void join(Context& context) {
    rebalancing_ = true;
    send(v1::Payload::JOIN, context);
  }

  void beat_later(Context& context) {
    Event tick = timer_event(kHeartbeatTimer, true, true);
    context.schedule(from_millis(params_.heartbeat_ms()), tick);
  }

  // Auto-commit keeps the run going only while something processed is not committed yet.
  void auto_commit_later(Context& context) {
    Event tick = timer_event(kAutoCommitTimer, true, !dirty());
    context.schedule(from_millis(params_.auto_commit_ms()), tick);
  }

  bool dirty() const {
    for (const auto& [p, position] : positions_)
      if (position.processed != position.committed) return true;
    return false;
  }

  std::optional<std::uint32_t> assigned_partition(std::uint32_t event_partition) const {
    if (event_partition <= first_) return std::nullopt;
    const auto p = event_partition - 1 - first_;
    return positions_.count(p) ? std::optional(p) : std::nullopt;
  }

  // The coordinator asks every member to rejoin: stop, commit what was processed, give up every
  // partition, join again. A record being processed still finishes, uncommitted.
  void revoke(Context& context) {
    commit_all(context);
    std::vector<std::string> gave_up;
    for (const auto& [p, position] : positions_) gave_up.push_back(std::to_string(p));
    positions_.clear();
    buffer_.clear();
    join(context);
    context.decide(Outcome::rebalancing, broker_,
                   gave_up.empty() ? "rebalance: rejoins its group"
                                   : "rebalance: commits, gives up partitions " + flowframe::join(gave_up, ",") + " and rejoins");
  }

  void assigned(const v1::Payload& assignment, Context& context) {
    generation_ = assignment.generation();
    rebalancing_ = false;
    positions_.clear();
    buffer_.clear();
    std::vector<std::string> parts;
    for (int i = 0; i < assignment.partitions_size(); ++i) {
      const auto p = assignment.partitions(i);
      const auto from = i < assignment.offsets_size() ? assignment.offsets(i) : 0;
      positions_[p] = Position{from, from, from, false};
      parts.push_back(fmt::format("{} from {}", layout_.name(first_ + p), from));
    }
    for (const auto& [p, position] : positions_) fetch(p, true, context);
    context.decide(Outcome::assigned, broker_,
                   fmt::format("generation {}: {}", generation_, parts.empty() ? "no partitions (more members than partitions)" : flowframe::join(parts, ", ")));
  }

  void fetch(std::uint32_t p, bool expecting, Context& context) {
    auto& position = positions_.at(p);
    position.fetching = true;
    position.fetch = ++fetches_;
    Event request = to_broker(v1::Payload::FETCH);
    request.arg = position.fetch;
    request.partition = first_ + p + 1;
    request.id = position.fetched;
    auto payload = std::make_shared<v1::Payload>(*request.payload);
    payload->set_partition(p);
    payload->set_offset(position.fetched);
    payload->set_max_records(params_.max_poll_records());
    request.payload = std::move(payload);
    // A fetch for records known to be there keeps the run going; an idle poll does not.
    request.background = !expecting;
    context.call(broker_, request, from_millis(config_.fetch_wait_ms()) + kNanosPerSecond);
  }

  void fetched(const Event& response, Context& context) {
    const auto p = assigned_partition(response.partition);
    if (!p || response.arg != positions_.at(*p).fetch)
      return context.decide(Outcome::late, kNoNode, "an answer to an earlier fetch (before a rebalance or a timeout): dropped");
    auto& position = positions_.at(*p);
    position.fetching = false;
    const auto& records = response.payload->records();
    for (const auto& record : records) {
      buffer_.push_back({*p, record, generation_});
      position.fetched = record.offset() + 1;
    }
    received_ += static_cast<std::uint64_t>(records.size());
    if (records.empty()) fetch(*p, false, context);  // long polling: ask again at once
    else next_record(context);
    context.decide(records.empty() ? Outcome::none : Outcome::queued, kNoNode,
                   records.empty() ? "nothing new in " + layout_.name(first_ + *p)
                                   : fmt::format("{} record{} of {} ({}..{}), high watermark {}", records.size(),
                                                 records.size() == 1 ? "" : "s", layout_.name(first_ + *p),
                                                 records.begin()->offset(), records.rbegin()->offset(),
                                                 response.payload->high_watermark()));
  }

  // Starts the next buffered record if none is being processed.
  void next_record(Context& context) {
    if (current_ || buffer_.empty()) return;
    current_ = buffer_.front();
    buffer_.pop_front();
    Event done = timer_event(kProcessedTimer);
    done.client = current_->record.publisher();
    done.request = current_->record.request();
    done.path = current_->record.path();
    done.partition = first_ + current_->partition + 1;
    done.id = current_->record.offset();
    context.schedule(processing_time(current_->record, context), done);
  }

  // A record fetched in an earlier generation (a rebalance came while it was processed): done,
  // but its partition is not this member's to advance or commit any more.
  bool revoked(const Buffered& record) const { return record.generation != generation_ || !positions_.count(record.partition); }

  void processed(const Event& done, Context& context) {
    if (current_) process(done, context);
  }

  // How long processing `record` takes.
  virtual Time processing_time(const v1::LogRecord& /*record*/, Context& context) { return context.work(service_); }

  // What it does with the current record once its service time has passed; finish() ends it.
  virtual void process(const Event& done, Context& context) {
    if (database_ != kNoNode) {
      // Keyed by the record's own identity (its producer and request), not its offset: a record a
      // new leader truncated and replaced has the same offset but is another record, and a
      // producer's retry appended twice is the same record at two offsets.
      const std::uint64_t row = current_->record.publisher() * kRowsPerProducer + current_->record.request();
      write_row(done, kWriteToken, database_, params_.table(), row, id(), context);
      const auto what = fmt::format("{} offset {} processed", layout_.name(first_ + current_->partition), current_->record.offset());
      const auto insert = fmt::format("INSERT {}/{}", params_.table(), row);
      // LATE marks it for readers (and `flowframe check`): the work of a partition it lost.
      if (revoked(*current_))
        return context.decide(Outcome::late, database_,
                              fmt::format("{} after a rebalance took its partition (generation {}): {}", what, current_->generation, insert));
      return context.decide(Outcome::delegated, database_, what + ": " + insert);
    }
    finish(Written::done, context);
  }

  void written(const Event& answer, Context& context) {
    if (!current_) return;
    const auto result = answer.kind == EventKind::timeout ? Written::failed : written_as(answer.status);
    finish(result, context);
  }

  // The current record is done: the position moves on (a failed write is counted and skipped, as a
  // consumer that logs and goes on); a finished batch is committed and the next one fetched.
  void finish(Written result, Context& context) {
    const auto record = *current_;
    current_.reset();
    ++processed_count_;
    if (result == Written::duplicate) ++duplicates_;
    std::string after;
    const bool lost = revoked(record);
    if (auto found = positions_.find(record.partition); found != positions_.end() && !lost) {
      auto& position = found->second;
      position.processed = record.record.offset() + 1;
      const bool batch_done = std::none_of(buffer_.begin(), buffer_.end(), [&](const Buffered& b) { return b.partition == record.partition; });
      if (batch_done) {
        if (params_.commit() == v1::ConsumerParams::AFTER_PROCESSING) {
          commit(record.partition, context);
          after = fmt::format("; commits {}", position.processed);
        }
        if (!position.fetching) fetch(record.partition, true, context);
      }
    } else {
      after = "; its partition was revoked meanwhile: not committed, its next owner processes it again";
    }
    next_record(context);
    context.decide(lost && database_ == kNoNode ? Outcome::late : Outcome::served, broker_,
                   fmt::format("{} offset {} done{}{}", layout_.name(first_ + record.partition), record.record.offset(),
                               result == Written::duplicate ? " (written before: a duplicate)"
                               : result == Written::failed  ? " (the write failed: skipped)"
                                                            : "",
                               after));
  }

  // A failed fetch: a replica that does not lead names the one that does (or none during an
  // election: the member asks again with its next heartbeat, and after a session of that tries the
  // next replica); a crashed one refuses, and the member tries the next replica.
  void fetch_failed(const Event& response, Context& context) {
    const auto p = assigned_partition(response.partition);
    if (!p || response.arg != positions_.at(*p).fetch)
      return context.decide(Outcome::late, kNoNode, "an answer to an earlier fetch (before a rebalance or a timeout): dropped");
    positions_.at(*p).fetching = false;
    if (response.payload && response.payload->op() == v1::Payload::NOT_LEADER) return not_the_leader(response.payload->node(), context);
    refused_by_ = broker_;
    refused_at_ = context.now();
    move_to(next_replica(replicas_, broker_, kNoNode), fmt::format("{} answered {}", id_of(broker_, context), response.status), context);
  }

  void not_the_leader(NodeIndex named, Context& context) {
    // A replica that knows no leader twice in a row may be cut off itself: another may know.
    if ((named == 0 || named == broker_) && ++no_leader_answers_ >= 3) {
      no_leader_answers_ = 0;
      return move_to(next_replica(replicas_, broker_, kNoNode), id_of(broker_, context) + " knows no leader, three times", context);
    }
    if (named == 0 || named == broker_)
      return context.decide(Outcome::none, broker_,
                            id_of(broker_, context) + " does not lead and knows no leader: asks again with its next heartbeat");
    no_leader_answers_ = 0;
    // A replica may not have noticed yet that its leader died: one that just refused this member
    // is not believed for a session.
    if (named == refused_by_ && context.now() - refused_at_ < from_millis(config_.session_timeout_ms()))
      return context.decide(Outcome::none, broker_,
                            fmt::format("{} names {} as leader, which refused it {} ago: asks again with its next heartbeat",
                                        id_of(broker_, context), id_of(named, context), duration_text(context.now() - refused_at_)));
    move_to(next_replica(replicas_, broker_, named), id_of(broker_, context) + " does not lead", context);
  }

  // Its group is coordinated elsewhere now: what it held is given up (a record being processed
  // finishes, uncommitted) and it joins the group at `replica`.
  void move_to(NodeIndex replica, const std::string& why, Context& context) {
    broker_ = replica;
    last_heard_ = context.now();
    positions_.clear();
    buffer_.clear();
    join(context);
    context.decide(Outcome::rebalancing, broker_, why + ": joins " + params_.group() + " at " + id_of(broker_, context));
  }

  std::string id_of(NodeIndex node, Context& context) const { return context.topology().spec(node).id(); }

  void commit(std::uint32_t p, Context& context) {
    auto& position = positions_.at(p);
    if (position.committed == position.processed) return;
    position.committed = position.processed;
    Event message = to_broker(v1::Payload::COMMIT);
    message.partition = first_ + p + 1;
    message.id = position.processed;
    auto payload = std::make_shared<v1::Payload>(*message.payload);
    payload->set_partition(p);
    payload->set_offset(position.processed);
    message.payload = std::move(payload);
    context.notify(broker_, message);
  }

  void commit_all(Context& context) {
    for (auto& [p, position] : positions_) commit(p, context);
  }

  static constexpr std::uint64_t kRowsPerProducer = 1000000000;  // row id: producer node * this + its request

  v1::ConsumerParams params_;
  NodeIndex broker_;                // the replica it takes for its group's coordinator
  std::vector<NodeIndex> replicas_;  // the broker's replicas it can reach
  NodeIndex database_;
  v1::LogBrokerParams config_;  // the cluster's
  messaging::TopicLayout layout_;
  std::uint32_t first_;
  Sampler service_;
  std::uint32_t generation_ = 0;
  bool rebalancing_ = true;
  std::map<std::uint32_t, Position> positions_;  // by partition within the topic
  std::deque<Buffered> buffer_;
  std::optional<Buffered> current_;
  std::int64_t fetches_ = 0;
  Time last_heard_ = 0;  // the coordinator's last message or answer
  std::uint32_t no_leader_answers_ = 0;  // "not the leader, and I know none" in a row
  NodeIndex refused_by_ = kNoNode;  // the replica that last refused a fetch (crashed), and when
  Time refused_at_ = 0;
  std::uint64_t received_ = 0;
  std::uint64_t processed_count_ = 0;
  std::uint64_t duplicates_ = 0;
};


// The consumer kind for a log broker's topic (consumer.cpp makes it when `broker` is one).
std::unique_ptr<Component> make_log_consumer(const v1::Node& spec, NodeIndex index, const Topology& topology);

// What consumers and event services (whose `subscription` is a log consumer's) share in consumer.cpp:
// the documented defaults, and the loader's checks of a log subscription (`at` and `field` name the
// parameters: {{"consumer"}}, "consumer") and of any consumer's pace.
void consumer_defaults(v1::ConsumerParams& params);
void check_log_subscription(NodeChecks& c, const v1::ConsumerParams& params, std::vector<NodeChecks::Step> at, const std::string& field);
void check_consumer_pace(NodeChecks& c, const v1::ConsumerParams& params, std::vector<NodeChecks::Step> at, const std::string& field);

}  // namespace flowframe
