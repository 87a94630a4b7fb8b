// Database (Postgres-like): tables of rows keyed by id, seeded from the scenario. SELECT, UPDATE
// and INSERT take a connection from a bounded pool for their query time; a full pool queues,
// a full queue answers 503.
#include <fmt/format.h>

#include <deque>
#include <map>

#include "actors/common/components.hpp"
#include "actors/common/routing.hpp"
#include "actors/common/work_queue.hpp"
#include "runtime/scenario/settings.hpp"

namespace flowframe {
namespace {

constexpr std::size_t kTouchedShown = 16;

class Database final : public Component {
 public:
  Database(const v1::Node& spec, NodeIndex index, std::uint64_t seed)
      : Component(spec, index, seed),
        pool_(spec.database().max_connections(), spec.database().queue_limit(), spec.database().query_time()) {
    pool_.on_cancel([this](const Event& request, Context& context) {
      ++rejected_;
      respond(request, 504, context);
    });
    for (const auto& table : spec.database().tables()) {
      auto& rows = tables_[table.name()];
      for (const auto& row : table.rows()) rows[row.id()] = row.value();
      for (std::uint64_t id = 1; id <= table.generated_rows(); ++id) rows.try_emplace(id, fmt::format("{{\"id\":{}}}", id));
    }
  }

  void handle(const Event& event, Context& context) override {
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
    const Event request = pool_.request(*slot);
    execute(request, context);
    pool_.release(*slot, context);
  }

  std::string apply(ControlAction& action, Context& context) override {
    auto& params = *spec_.mutable_database();
    action.previous = read_setting(params, action.field);
    if (auto error = apply_setting(params, action.field, action.value); !error.empty()) return error;
    const auto drop = [&](const Event& request) { respond(request, 503, context); };
    pool_.set_capacity(params.max_connections(), context, drop);
    pool_.set_queue_limit(params.queue_limit(), drop);
    pool_.set_service_time(params.query_time());
    return "";
  }

  // Rows are on disk: a crash loses the connections and queries in flight, not the data.
  void survive_crash(Component& fresh) const override { static_cast<Database&>(fresh).tables_ = tables_; }

  std::uint32_t load() const override { return pool_.busy(); }
  std::uint32_t queue() const override { return pool_.waiting(); }
  bool rich() const override { return true; }
  std::size_t state_size_hint() const override { return 64 + tables_.size() * 16 + touched_.size() * 64; }

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
  }

 private:
  static std::string query(const Event& request) {
    const auto& q = *request.payload;
    return fmt::format("{} {}/{}", v1::Payload::Op_Name(q.op()), q.table(), request.id);
  }

  void execute(const Event& request, Context& context) {
    ++queries_;
    const auto& q = *request.payload;
    auto reply = std::make_shared<v1::Payload>();
    reply->set_table(q.table());
    auto& rows = tables_[q.table()];
    auto row = rows.find(request.id);
    std::uint16_t status = 200;
    Outcome outcome = Outcome::row_read;
    std::string note;
    switch (q.op()) {
      case v1::Payload::SELECT:
        if (row == rows.end()) {
          status = 404;
          outcome = Outcome::not_found;
          note = fmt::format("404 {}/{} not found", q.table(), request.id);
        } else {
          reply->set_value(row->second);
          note = fmt::format("SELECT {}/{} -> {}", q.table(), request.id, row->second);
        }
        break;
      case v1::Payload::UPDATE:
        outcome = Outcome::row_written;
        if (row == rows.end()) {
          status = 404;
          outcome = Outcome::not_found;
          note = fmt::format("404 {}/{} not found; nothing updated", q.table(), request.id);
        } else {
          row->second = q.value();
          note = fmt::format("UPDATE {}/{} = {}", q.table(), request.id, q.value());
        }
        break;
      case v1::Payload::INSERT:
        outcome = Outcome::row_written;
        if (row != rows.end()) {
          status = 409;
          note = fmt::format("409 {}/{} exists", q.table(), request.id);
        } else {
          rows[request.id] = q.value();
          status = 201;
          note = fmt::format("INSERT {}/{} = {}", q.table(), request.id, q.value());
        }
        break;
      default:
        status = 400;
        outcome = Outcome::bad_request;
        note = "400 not a query";
    }
    if (status < 400) {
      v1::TouchedRow touched;
      touched.set_table(q.table());
      touched.set_id(request.id);
      touched.set_value(rows[request.id]);
      touched.set_op(v1::Payload::Op_Name(q.op()));
      touched.set_at_ns(context.now());
      touched_.push_front(std::move(touched));
      if (touched_.size() > kTouchedShown) touched_.pop_back();
    }
    respond(request, status, context, 0, std::move(reply));
    context.decide(outcome, kNoNode, note);
  }

  WorkQueue pool_;
  std::map<std::string, std::map<std::uint64_t, std::string>> tables_;
  std::deque<v1::TouchedRow> touched_;
  std::uint64_t queries_ = 0;
  std::uint64_t rejected_ = 0;
};

}  // namespace

std::unique_ptr<Component> make_database(const v1::Node& spec, NodeIndex index, const Topology& topology) {
  return std::make_unique<Database>(spec, index, topology.seed());
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
        },
    .check = check_database,
    .settable = {"max_connections", "queue_limit", "query_time."},
};
FLOWFRAME_KIND(kDatabase, make_database);

}  // namespace

}  // namespace flowframe
