// Database (Postgres-like): tables of rows keyed by id, seeded from the scenario. SELECT, UPDATE
// and INSERT take a connection from a bounded pool for their query time; a full pool queues,
// a full queue answers 503. With replicas, a primary streams every committed change to them in
// LSN order; replicas apply one change at a time, answer reads (which may be stale) and refuse
// writes. A replica finds out which of its reads were stale when the changes committed before
// them arrive. Answers carry the row's version, so clients can check read-your-writes.
#include <fmt/format.h>

#include <algorithm>
#include <deque>
#include <map>

#include "actors/common/components.hpp"
#include "actors/common/routing.hpp"
#include "actors/common/work_queue.hpp"
#include "runtime/scenario/settings.hpp"

namespace flowframe {
namespace {

constexpr std::size_t kTouchedShown = 16;
constexpr std::uint16_t kApplyTimer = 1;
constexpr std::uint16_t kStatusTimer = 2;
// How often a primary looks for replicas that stopped making progress (a restart, lost messages)
// and sends them what they miss again, at most kResendBatch changes at a time.
constexpr Time kStatusInterval = 500 * kNanosPerMilli;
constexpr std::uint64_t kResendBatch = 4096;
// Reads a replica remembers until the changes committed before them have arrived (to find out
// later that they were stale); beyond it the oldest are forgotten unjudged.
constexpr std::size_t kReadsRemembered = 1 << 20;

struct Row {
  std::string value;
  std::uint64_t lsn = 0;  // the change that wrote it; 0: seed data
};
using Tables = std::map<std::string, std::map<std::uint64_t, Row>>;

// A committed write as it travels to replicas: the writing request rides along (client, number,
// id, path, created), so frames show whose change a replica applies.
struct Change {
  std::uint64_t lsn = 0;
  std::string table;
  std::string value;
  Time committed = 0;
  Event write;  // the request that made it (no payload)
};

class Database final : public Component {
 public:
  Database(const v1::Node& spec, NodeIndex index, const Topology& topology)
      : Component(spec, index, topology.seed()),
        pool_(spec.database().max_connections(), spec.database().queue_limit(), spec.database().query_time()),
        apply_time_(spec.database().apply_time()) {
    pool_.on_cancel([this](const Event& request, Context& context) {
      ++rejected_;
      respond(request, 504, context);
    });
    const auto& params = spec.database();
    if (!params.replica_of().empty()) primary_ = topology.index_of(params.replica_of());
    for (NodeIndex i = 1; i < topology.spec_count(); ++i)
      if (topology.spec(i).kind() == v1::Node::DATABASE && topology.spec(i).database().replica_of() == spec.id())
        replicas_.push_back(ReplicaLink{i});
    // A replica starts as a copy of its primary.
    const auto& seed_tables = primary_ == kNoNode ? params.tables() : topology.spec(primary_).database().tables();
    for (const auto& table : seed_tables) {
      auto& rows = tables_[table.name()];
      for (const auto& row : table.rows()) rows[row.id()] = Row{row.value()};
      for (std::uint64_t id = 1; id <= table.generated_rows(); ++id) rows.try_emplace(id, Row{fmt::format("{{\"id\":{}}}", id)});
    }
  }

  void start(Context& context) override {
    if (primary_ != kNoNode) acknowledge(context, nullptr, true);  // connects: the primary sends what it misses
    for (auto& replica : replicas_) {
      replica.sent = replica.applied;  // what was in flight before a restart is gone
      replica.last_progress = context.now();
    }
    if (!replicas_.empty()) context.schedule(kStatusInterval, timer_event(kStatusTimer, true, true));
  }

  void handle(const Event& event, Context& context) override {
    last_time_ = context.now();
    if (event.kind == EventKind::message && event.payload) {
      if (event.payload->op() == v1::Payload::REPLICATE) return receive_change(event, context);
      if (event.payload->op() == v1::Payload::REPLICATED) return replica_applied(event, context);
    }
    if (event.kind == EventKind::timer && event.status == kApplyTimer) return apply_next(context);
    if (event.kind == EventKind::timer && event.status == kStatusTimer) return check_replicas(context);
    if (event.kind == EventKind::request) {
      if (!event.payload) {
        respond(event, 400, context);
        return context.decide(Outcome::bad_request, kNoNode, "400 not a query");
      }
      switch (pool_.admit(event, context)) {
        case WorkQueue::Admitted::started:
          return context.decide(Outcome::started, kNoNode,
                                fmt::format("{} (connection {}/{})", query(event), pool_.busy(), pool_.capacity()));
        case WorkQueue::Admitted::queued:
          return context.decide(Outcome::queued, kNoNode,
                                fmt::format("{} waits for a connection ({} waiting)", query(event), pool_.waiting()));
        case WorkQueue::Admitted::expired:
          ++rejected_;
          respond(event, 504, context);
          return context.decide(Outcome::cancelled, kNoNode, "504: its deadline passed before it arrived");
        default:
          ++rejected_;
          respond(event, 503, context);
          return context.decide(Outcome::pool_exhausted, kNoNode,
                                fmt::format("503 pool exhausted ({} busy, {} waiting)", pool_.busy(), pool_.waiting()));
      }
    }
    if (event.kind != EventKind::timer) return;
    const auto slot = pool_.finished(event);
    if (!slot) return;
    if (execute(*slot, context)) pool_.release(*slot, context);
  }

  std::string apply(ControlAction& action, Context& context) override {
    auto& params = *spec_.mutable_database();
    action.previous = read_setting(params, action.field);
    if (auto error = apply_setting(params, action.field, action.value); !error.empty()) return error;
    const auto drop = [&](const Event& request) { respond(request, 503, context); };
    pool_.set_capacity(params.max_connections(), context, drop);
    if (params.max_connections() == 0) waiting_writes_.clear();  // their connections were dropped with them
    pool_.set_queue_limit(params.queue_limit(), drop);
    pool_.set_service_time(params.query_time());
    apply_time_ = Sampler(params.apply_time());
    answer_confirmed_writes(context);  // fewer replicas to wait for now
    return "";
  }

  // Rows, the change log and how far each replica applied it are on disk: a crash loses the
  // connections, the queries in flight and changes received but not applied, not the data. The
  // counters are the run's measurements and go on.
  void survive_crash(Component& fresh_component) const override {
    auto& fresh = static_cast<Database&>(fresh_component);
    fresh.tables_ = tables_;
    fresh.lsn_ = lsn_;
    fresh.log_ = log_;
    fresh.log_base_ = log_base_;
    fresh.replicas_ = replicas_;
    fresh.applied_ = applied_;
    fresh.queries_ = queries_;
    fresh.reads_ = reads_;
    fresh.stale_reads_ = stale_reads_;
    fresh.lag_sum_ = lag_sum_;
    fresh.applied_count_ = applied_count_;
    fresh.last_lag_ = last_lag_;
  }

  std::uint32_t load() const override { return pool_.busy(); }
  std::uint32_t queue() const override { return pool_.waiting(); }
  bool rich() const override { return true; }
  std::size_t state_size_hint() const override {
    return 96 + tables_.size() * 16 + touched_.size() * 72 + replicas_.size() * 24;
  }

  void snapshot(v1::NodeState& state) const override {
    state.set_load(pool_.busy());
    state.set_queue(pool_.waiting());
    state.set_handled(queries_);
    state.set_rejected(rejected_);
    auto& database = *state.mutable_database();
    for (const auto& [name, rows] : tables_) {
      auto& table = *database.add_tables();
      table.set_name(name);
      table.set_rows(rows.size());
    }
    for (const auto& row : touched_) *database.add_touched() = row;
    database.set_pool_in_use(pool_.busy());
    database.set_pool_waiting(pool_.waiting());
    database.set_queries(queries_);
    database.set_max_connections(pool_.capacity());
    if (primary_ != kNoNode) {
      database.set_primary(primary_);
      database.set_lsn(applied_);
      database.set_pending(static_cast<std::uint32_t>(pending_.size()));
    } else {
      database.set_lsn(lsn_);
    }
    for (const auto& replica : replicas_) {
      auto& progress = *database.add_replicas();
      progress.set_node(replica.node);
      progress.set_sent_lsn(replica.sent);
      progress.set_applied_lsn(replica.applied);
      progress.set_lag_ns(replica.applied < lsn_ && replica.applied + 1 >= log_base_ ? last_time_ - change(replica.applied + 1).committed : 0);
    }
    database.set_waiting_for_replicas(static_cast<std::uint32_t>(waiting_writes_.size()));
    database.set_last_lag_ns(last_lag_);
    database.set_reads(reads_);
    database.set_stale_reads(stale_reads_);
    database.set_lag_sum_ns(lag_sum_);
    database.set_applied(applied_count_);
  }

 private:
  struct ReplicaLink {
    NodeIndex node;
    std::uint64_t sent = 0;     // changes up to here were sent (since its last progress)
    std::uint64_t applied = 0;  // it said it applied every change up to here
    Time last_progress = 0;
    std::uint32_t quiet_rounds = 0;  // resends since it last made progress
  };
  // A read a replica answered with no newer change waiting: stale if a change to its row,
  // committed before it, was still on its way.
  struct Read {
    Time at;
    std::string table;
    std::uint64_t id;
  };

  static std::string query(const Event& request) {
    const auto& q = *request.payload;
    return fmt::format("{} {}/{}", v1::Payload::Op_Name(q.op()), q.table(), request.id);
  }

  const Change& change(std::uint64_t lsn) const { return log_[lsn - log_base_]; }
  // A replica has every change up to here: those applied, then those waiting in order.
  std::uint64_t received() const { return applied_ + pending_.size(); }

  std::string name_of(NodeIndex node, const Context& context) const { return context.topology().spec(node).id(); }

  // Runs the slot's query; false while a write waits for its replicas (the connection stays held).
  bool execute(std::uint32_t slot, Context& context) {
    const Event& request = pool_.request(slot);
    ++queries_;
    const auto& q = *request.payload;
    auto reply = std::make_shared<v1::Payload>();
    reply->set_table(q.table());
    auto& rows = tables_[q.table()];
    auto row = rows.find(request.id);
    std::uint16_t status = 200;
    Outcome outcome = Outcome::row_read;
    std::string note;
    const bool write = q.op() == v1::Payload::UPDATE || q.op() == v1::Payload::INSERT;
    if (write && primary_ != kNoNode) {
      ++rejected_;
      respond(request, 403, context);
      context.decide(Outcome::bad_request, kNoNode,
                     fmt::format("403 {} {}/{}: a read-only replica of {}", v1::Payload::Op_Name(q.op()), q.table(),
                                 request.id, name_of(primary_, context)));
      return true;
    }
    switch (q.op()) {
      case v1::Payload::SELECT:
        if (row == rows.end()) {
          status = 404;
          outcome = Outcome::not_found;
          note = fmt::format("404 {}/{} not found", q.table(), request.id);
        } else {
          reply->set_value(row->second.value);
          reply->set_version(row->second.lsn);
          note = fmt::format("SELECT {}/{} -> {}", q.table(), request.id, row->second.value);
          if (primary_ != kNoNode) note += judge_read(request, q.table(), row->second, outcome, context);
        }
        break;
      case v1::Payload::UPDATE:
        outcome = Outcome::row_written;
        if (row == rows.end()) {
          status = 404;
          outcome = Outcome::not_found;
          note = fmt::format("404 {}/{} not found; nothing updated", q.table(), request.id);
        } else {
          row->second = Row{q.value(), ++lsn_};
          note = fmt::format("UPDATE {}/{} = {}", q.table(), request.id, q.value());
        }
        break;
      case v1::Payload::INSERT:
        outcome = Outcome::row_written;
        if (row != rows.end()) {
          status = 409;
          note = fmt::format("409 {}/{} exists", q.table(), request.id);
        } else {
          rows[request.id] = Row{q.value(), ++lsn_};
          status = 201;
          note = fmt::format("INSERT {}/{} = {}", q.table(), request.id, q.value());
        }
        break;
      default:
        status = 400;
        outcome = Outcome::bad_request;
        note = "400 not a query";
    }
    if (status < 400) touch(q.table(), request.id, rows[request.id], v1::Payload::Op_Name(q.op()), context.now());
    if (write && status < 400) reply->set_version(lsn_);
    const bool held = write && status < 400 && replicate(request, q.table(), q.value(), context);
    if (held) {
      waiting_writes_.emplace(lsn_, Waiting{slot, status, std::move(reply)});
      note += fmt::format(" (LSN {}); waits for {} of {} replicas", lsn_, replica_acks_needed(), replicas_.size());
    } else {
      if (write && status < 400 && !replicas_.empty()) note += fmt::format(" (LSN {})", lsn_);
      respond(request, status, context, 0, std::move(reply));
    }
    context.decide(outcome, kNoNode, note);
    return !held;
  }

  void touch(const std::string& table, std::uint64_t id, const Row& row, std::string op, Time now) {
    v1::TouchedRow touched;
    touched.set_table(table);
    touched.set_id(id);
    touched.set_value(row.value);
    touched.set_op(std::move(op));
    touched.set_at_ns(now);
    touched.set_lsn(row.lsn);
    touched_.push_front(std::move(touched));
    if (touched_.size() > kTouchedShown) touched_.pop_back();
  }

  // ---- primary ----

  struct Waiting {
    std::uint32_t slot;
    std::uint16_t status;
    std::shared_ptr<v1::Payload> reply;
  };

  std::size_t replica_acks_needed() const {
    switch (spec_.database().replication()) {
      case v1::DatabaseParams::SYNC: return replicas_.size();
      case v1::DatabaseParams::QUORUM: return (replicas_.size() + 1) / 2;  // with the primary: a majority of copies
      default: return 0;
    }
  }

  // Logs the change just committed and sends it to every replica; true if the answer must wait for them.
  bool replicate(const Event& request, const std::string& table, const std::string& value, Context& context) {
    if (replicas_.empty()) return false;
    Change made{lsn_, table, value, context.now(), request};
    made.write.payload = nullptr;
    if (log_.empty()) log_base_ = lsn_;
    log_.push_back(std::move(made));
    for (auto& replica : replicas_) {
      if (replica.sent + 1 != lsn_) continue;  // behind: the status timer sends it its backlog in order
      if (replica.applied == replica.sent) replica.last_progress = context.now();  // it was caught up: waiting starts now
      send_change(replica, log_.back(), context);
    }
    return replica_acks_needed() > 0;
  }

  void send_change(ReplicaLink& replica, const Change& change, Context& context) {
    auto payload = std::make_shared<v1::Payload>();
    payload->set_op(v1::Payload::REPLICATE);
    payload->set_offset(change.lsn);
    payload->set_table(change.table);
    payload->set_value(change.value);
    payload->set_committed_ns(change.committed);
    Event message = change.write;
    message.kind = EventKind::message;
    message.status = 0;
    message.via_clear();
    message.call = 0;
    message.arg = 0;
    message.deadline = kTimeNever;
    message.payload = std::move(payload);
    context.notify(replica.node, message);
    replica.sent = change.lsn;
  }

  void replica_applied(const Event& ack, Context& context) {
    auto found = std::find_if(replicas_.begin(), replicas_.end(), [&](const ReplicaLink& r) { return r.node == ack.src; });
    if (found == replicas_.end()) return context.decide(Outcome::none, ack.src, "not one of its replicas; ignored");
    const std::uint64_t applied = std::min(ack.payload->offset(), lsn_);
    if (applied > found->applied) {
      found->applied = applied;
      found->last_progress = context.now();
      found->quiet_rounds = 0;
    }
    if (ack.payload->healthy()) {
      // It has just started: at the next status check it gets everything it misses, from where it is.
      found->quiet_rounds = 0;
      found->last_progress = context.now() - kStatusInterval;
    }
    found->sent = std::max(found->sent, found->applied);
    const auto answered = answer_confirmed_writes(context);
    trim_log();
    context.decide(Outcome::replica_acked, ack.src,
                   fmt::format("{} applied up to LSN {} of {}{}", name_of(ack.src, context), found->applied, lsn_,
                               answered ? fmt::format("; {} write{} answered", answered, answered == 1 ? "" : "s") : ""));
  }

  // Answers the waiting writes enough replicas have applied (all of them under ASYNC): those up to
  // the needed-th highest applied LSN.
  std::size_t answer_confirmed_writes(Context& context) {
    std::uint64_t confirmed = lsn_;
    if (const auto needed = replica_acks_needed(); needed > 0) {
      std::vector<std::uint64_t> applied_lsns;
      for (const auto& replica : replicas_) applied_lsns.push_back(replica.applied);
      std::nth_element(applied_lsns.begin(), applied_lsns.begin() + static_cast<std::ptrdiff_t>(needed - 1), applied_lsns.end(),
                       std::greater<>());
      confirmed = applied_lsns[needed - 1];
    }
    std::size_t answered = 0;
    while (!waiting_writes_.empty() && waiting_writes_.begin()->first <= confirmed) {
      auto waiting = std::move(waiting_writes_.begin()->second);
      waiting_writes_.erase(waiting_writes_.begin());
      respond(pool_.request(waiting.slot), waiting.status, context, 0, std::move(waiting.reply));
      pool_.release(waiting.slot, context);
      ++answered;
    }
    return answered;
  }

  // Changes every replica has applied are not needed any more.
  void trim_log() {
    std::uint64_t lowest = lsn_;
    for (const auto& replica : replicas_) lowest = std::min(lowest, replica.applied);
    while (!log_.empty() && log_base_ <= lowest) {
      log_.pop_front();
      ++log_base_;
    }
  }

  // A replica that made no progress for a while gets what it misses again, from where it applied. One
  // that stays silent (down, cut off) gets one change at a time, ever less often (up to every 8 s),
  // until it answers.
  void check_replicas(Context& context) {
    std::uint64_t resent = 0;
    std::string to;
    for (auto& replica : replicas_) {
      if (replica.applied >= lsn_ || context.now() - replica.last_progress < kStatusInterval << std::min(replica.quiet_rounds, 4u))
        continue;
      const std::uint64_t until = std::min(lsn_, replica.applied + (replica.quiet_rounds == 0 ? kResendBatch : 1));
      ++replica.quiet_rounds;
      for (std::uint64_t lsn = replica.applied + 1; lsn <= until; ++lsn) send_change(replica, change(lsn), context);
      resent += until - replica.applied;
      to += (to.empty() ? "" : ", ") + name_of(replica.node, context);
      replica.last_progress = context.now();
    }
    context.schedule(kStatusInterval, timer_event(kStatusTimer, true, true));
    if (resent) context.decide(Outcome::none, kNoNode, fmt::format("no progress from {}: {} changes sent again", to, resent));
  }

  // ---- replica ----

  void receive_change(const Event& message, Context& context) {
    const auto& payload = *message.payload;
    const std::uint64_t lsn = payload.offset();
    if (primary_ == kNoNode || message.src != primary_)
      return context.decide(Outcome::none, message.src, "a change from a node that is not its primary; ignored");
    if (lsn <= received() || arrived_.count(lsn)) {
      acknowledge(context);  // its earlier answer may have been lost
      return context.decide(Outcome::none, message.src, fmt::format("change {} again: already has it", lsn));
    }
    Change incoming{lsn, payload.table(), payload.value(), payload.committed_ns(), message};
    incoming.write.payload = nullptr;
    arrived_.emplace(lsn, std::move(incoming));
    std::uint64_t stale = 0;
    // In LSN order: every change committed before one received in order has arrived too.
    for (auto next = arrived_.find(received() + 1); next != arrived_.end(); next = arrived_.find(received() + 1)) {
      const Change& arrived = next->second;
      while (!unjudged_.empty() && unjudged_.front().at <= arrived.committed) unjudged_.pop_front();
      for (auto read = unjudged_.begin(); read != unjudged_.end();) {
        if (read->table == arrived.table && read->id == arrived.write.id) {
          ++stale;
          read = unjudged_.erase(read);
        } else {
          ++read;
        }
      }
      waiting_rows_[{arrived.table, arrived.write.id}].push_back(arrived.lsn);
      pending_.push_back(std::move(next->second));
      arrived_.erase(next);
    }
    stale_reads_ += stale;
    std::string note = fmt::format("change {}: {}/{} (committed {} ago)", lsn, payload.table(), message.id,
                                   duration_text(context.now() - payload.committed_ns()));
    if (lsn > received()) note += fmt::format("; waits for change {} before it", received() + 1);
    else note += fmt::format("; {} to apply", pending_.size());
    if (stale) note += fmt::format("; {} read{} since its commit were stale", stale, stale == 1 ? "" : "s");
    if (!applying_) apply_later(context);
    context.decide(Outcome::queued, kNoNode, note);
  }

  void apply_later(Context& context) {
    if (pending_.empty()) return;
    applying_ = true;
    context.schedule(std::max<Time>(1, context.work(apply_time_)), timer_event(kApplyTimer));
  }

  void apply_next(Context& context) {
    applying_ = false;
    if (pending_.empty()) return;
    Change next = std::move(pending_.front());
    pending_.pop_front();
    auto& row = tables_[next.table][next.write.id];
    row = Row{next.value, next.lsn};
    applied_ = next.lsn;
    auto waiting = waiting_rows_.find({next.table, next.write.id});
    if (waiting != waiting_rows_.end() && (waiting->second.pop_front(), waiting->second.empty())) waiting_rows_.erase(waiting);
    last_lag_ = context.now() - next.committed;
    lag_sum_ += last_lag_;
    ++applied_count_;
    touch(next.table, next.write.id, row, "APPLY", context.now());
    acknowledge(context, &next.write);
    apply_later(context);
    context.decide(Outcome::change_applied, kNoNode,
                   fmt::format("applied change {}: {}/{} = {} ({} after its commit)", next.lsn, next.table, next.write.id,
                               next.value, duration_text(last_lag_)));
  }

  // Tells the primary how far it has applied; on behalf of the write just applied, if any.
  void acknowledge(Context& context, const Event* write = nullptr, bool started = false) {
    Event ack;
    auto payload = std::make_shared<v1::Payload>();
    payload->set_op(v1::Payload::REPLICATED);
    payload->set_offset(applied_);
    payload->set_healthy(started);
    ack.payload = std::move(payload);
    if (write) {
      ack.client = write->client;
      ack.request = write->request;
      ack.created = write->created;
      ack.id = write->id;
      ack.path = write->path;
    }
    context.notify(primary_, ack);
  }

  // A read at a replica: stale now if a change to the row waits here to be applied; otherwise
  // remembered, to be judged when the changes committed before it have arrived.
  std::string judge_read(const Event& request, const std::string& table, const Row& row, Outcome& outcome,
                         const Context& context) {
    ++reads_;
    const auto waiting = waiting_rows_.find({table, request.id});
    if (waiting == waiting_rows_.end()) {
      if (unjudged_.size() == kReadsRemembered) unjudged_.pop_front();
      unjudged_.push_back(Read{context.now(), table, request.id});
      return "";
    }
    ++stale_reads_;
    outcome = Outcome::stale_read;
    const auto& newest = pending_[waiting->second.back() - applied_ - 1];
    return fmt::format("; stale: v{} here, the primary wrote v{} {} ago", row.lsn, newest.lsn,
                       duration_text(context.now() - newest.committed));
  }

  WorkQueue pool_;
  Sampler apply_time_;
  Tables tables_;
  std::deque<v1::TouchedRow> touched_;
  std::uint64_t queries_ = 0;
  std::uint64_t rejected_ = 0;

  // A primary's: its last change, the changes some replica has not applied (from log_base_), its
  // replicas, and writes waiting for them (by LSN).
  std::uint64_t lsn_ = 0;
  std::deque<Change> log_;
  std::uint64_t log_base_ = 1;
  std::vector<ReplicaLink> replicas_;
  std::map<std::uint64_t, Waiting> waiting_writes_;
  Time last_time_ = 0;

  // A replica's: its primary, what it applied, changes received beyond a gap, those received in order and waiting
  // to be applied (and by row), and the reads it has yet to judge.
  NodeIndex primary_ = kNoNode;
  std::uint64_t applied_ = 0;
  std::map<std::uint64_t, Change> arrived_;
  std::deque<Change> pending_;
  std::map<std::pair<std::string, std::uint64_t>, std::deque<std::uint64_t>> waiting_rows_;
  std::deque<Read> unjudged_;
  bool applying_ = false;
  std::uint64_t reads_ = 0, stale_reads_ = 0, applied_count_ = 0;
  Time last_lag_ = 0, lag_sum_ = 0;
};

}  // namespace

std::unique_ptr<Component> make_database(const v1::Node& spec, NodeIndex index, const Topology& topology) {
  return std::make_unique<Database>(spec, index, topology);
}

namespace {

void check_database(NodeChecks& c) {
  const auto& database = c.node().database();
  check_optional_distribution(c, database.has_query_time(), database.query_time(), "database", "query_time");
  if (database.has_max_connections() && database.max_connections() == 0)
    c.problem(c.at({{"database"}, {"max_connections"}}), "database.max_connections", "must be >= 1");
  std::set<std::string> names;
  for (int t = 0; t < database.tables_size(); ++t) {
    const auto& table = database.tables(t);
    if (table.name().empty() || !names.insert(table.name()).second)
      c.problem(c.at({{"database"}, {"tables", t}, {"name"}}), "database.tables.name",
                table.name().empty() ? "a table needs a name" : "duplicate table '" + table.name() + "'");
    std::set<std::uint64_t> ids;
    for (int r = 0; r < table.rows_size(); ++r)
      if (!ids.insert(table.rows(r).id()).second)
        c.problem(c.at({{"database"}, {"tables", t}, {"rows", r}, {"id"}}), "database.tables.rows.id",
                  "duplicate id " + std::to_string(table.rows(r).id()) + " in table '" + table.name() + "'");
  }
  check_optional_distribution(c, database.has_apply_time(), database.apply_time(), "database", "apply_time");
  const auto& id = c.node().id();
  const auto nodes = c.nodes();
  const bool has_replicas = std::any_of(nodes.begin(), nodes.end(), [&](const v1::Node* other) {
    return other->kind() == v1::Node::DATABASE && other->database().replica_of() == id;
  });
  if ((has_replicas || !database.replica_of().empty()) && c.node().replicas() > 0)
    c.problem(c.at({{"replicas"}}), "replicas",
              "a replicated database is one node per copy: name each replica and its replica_of, not a group");
  if (database.replica_of().empty()) {
    if (database.replication() != v1::DatabaseParams::ASYNC && !nodes.empty() && !has_replicas)
      c.problem(c.at({{"database"}, {"replication"}}), "database.replication",
                "'" + id + "' has no replicas (no database names it in replica_of) to wait for");
    return;
  }
  const auto where = c.at({{"database"}, {"replica_of"}});
  const auto& primary = database.replica_of();
  if (!c.known(primary)) return c.problem(where, "database.replica_of", c.unknown(primary));
  if (primary == id) return c.problem(where, "database.replica_of", "a database cannot replicate itself");
  const auto* of = c.find(primary);
  if (c.kind_of(primary) != v1::Node::DATABASE || !of)
    return c.problem(where, "database.replica_of", "'" + primary + "' is not a DATABASE");
  if (!of->database().replica_of().empty())
    c.problem(where, "database.replica_of",
              "'" + primary + "' is itself a replica (of '" + of->database().replica_of() + "'): name the primary");
  if (!c.linked(id, primary))
    c.problem(where, "database.replica_of",
              "no link between '" + id + "' and '" + primary + "': changes go from the primary, progress comes back");
  if (database.tables_size() > 0)
    c.problem(c.at({{"database"}, {"tables", 0}}), "database.tables",
              "a replica starts as a copy of its primary's tables: give it none");
  if (database.replication() != v1::DatabaseParams::ASYNC)
    c.problem(c.at({{"database"}, {"replication"}}), "database.replication",
              "set on the primary ('" + primary + "'): it decides when a write is answered");
}

std::string percent(std::uint64_t part, std::uint64_t whole) {
  return fmt::format("{:.1f}%", whole ? 100.0 * static_cast<double>(part) / static_cast<double>(whole) : 0.0);
}

const KindDescription kDatabase{
    .kind = v1::Node::DATABASE,
    .name = "database",
    .defaults =
        [](v1::Node& node) {
          auto& database = *node.mutable_database();
          if (!database.has_query_time()) *database.mutable_query_time() = constant_ms(2);
          if (!database.has_max_connections()) database.set_max_connections(10);
          if (!database.has_queue_limit()) database.set_queue_limit(64);
          if (!database.replica_of().empty() && !database.has_apply_time()) *database.mutable_apply_time() = constant_ms(0.2);
        },
    .check = check_database,
    .settable = {"max_connections", "queue_limit", "query_time.", "apply_time.", "replication"},
    .metrics =
        [](const v1::NodeState& state, Time, nlohmann::ordered_json& node) {
          const auto& database = state.database();
          if (database.primary() == 0) {
            if (database.replicas_size() == 0) return;
            node["lsn"] = database.lsn();
            for (const auto& replica : database.replicas())
              node["replicas_behind"].push_back(database.lsn() - std::min(database.lsn(), replica.applied_lsn()));
            return;
          }
          node["applied"] = database.applied();
          node["mean_lag_ms"] =
              database.applied() ? std::round(to_millis(database.lag_sum_ns()) / static_cast<double>(database.applied()) * 1000) / 1000 : 0.0;
          node["reads"] = database.reads();
          node["stale_reads"] = database.stale_reads();
        },
    .detail =
        [](const nlohmann::ordered_json& node, std::vector<std::string>& parts) {
          if (node.contains("replicas_behind")) {
            std::vector<std::string> behind;
            for (const auto& count : node["replicas_behind"]) behind.push_back(std::to_string(count.get<std::uint64_t>()));
            parts.push_back(fmt::format("primary at LSN {}; replicas behind by {}", node["lsn"].get<std::uint64_t>(), join(behind, ", ")));
          }
          if (!node.contains("stale_reads")) return;
          const auto reads = node["reads"].get<std::uint64_t>(), stale = node["stale_reads"].get<std::uint64_t>();
          parts.push_back(fmt::format("{} changes applied, mean lag {} ms; {} of {} reads stale ({})",
                                      node["applied"].get<std::uint64_t>(), fmt_number(node["mean_lag_ms"].get<double>()), stale,
                                      reads, percent(stale, reads)));
        },
};
FLOWFRAME_KIND(kDatabase, make_database);

}  // namespace

}  // namespace flowframe
