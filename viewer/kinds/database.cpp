// How the viewer shows a database: its connection pool, tables, the rows requests touched, and
// replication (a primary's replicas and how far behind they are; a replica's lag and stale reads).
#include <fmt/format.h>

#include "runtime/base/text.hpp"
#include "viewer/app/kind_view.hpp"
#include "viewer/app/ui.hpp"
#include "viewer/app/viewer.hpp"

namespace flowframe::viewer {
namespace {

const KindView kDatabaseView{
    .kind = v1::Node::DATABASE,
    .colour = IM_COL32(90, 170, 230, 255),
    .icon = "\xef\x87\x80",  // database
    .badge =
        [](const view::NodeView& node) {
          const auto& database = node.state.database();
          if (database.primary() != 0)
            return fmt::format("LSN {}, {} stale", database.lsn(), database.stale_reads());
          return fmt::format("pool {}/{}{}", node.load, database.max_connections(), node.queue ? fmt::format(" +{}", node.queue) : "");
        },
    .rows =
        [](const Inspected& in) {
          const auto& database = in.state.database();
          row("pool", fmt::format("{} of {} in use, {} waiting", database.pool_in_use(), database.max_connections(),
                                  database.pool_waiting()));
          row("queries", std::to_string(database.queries()));
          for (const auto& table : database.tables()) row(("table " + table.name()).c_str(), fmt::format("{} rows", table.rows()));
          if (database.primary() != 0) {
            row("replica of", in.node_name(database.primary()));
            row("applied", fmt::format("LSN {}, {} received waiting", database.lsn(), database.pending()));
            row("last lag", duration_text(database.last_lag_ns()));
            row("stale reads", fmt::format("{} of {} reads", database.stale_reads(), database.reads()));
          } else if (database.replicas_size() > 0) {
            row("LSN", std::to_string(database.lsn()));
            row("writes waiting", fmt::format("{} for their replicas", database.waiting_for_replicas()));
            for (const auto& replica : database.replicas())
              row(("replica " + in.node_name(replica.node())).c_str(),
                  fmt::format("applied {} ({} behind), lag {}", replica.applied_lsn(),
                              database.lsn() - std::min(database.lsn(), replica.applied_lsn()), duration_text(replica.lag_ns())));
          }
        },
    .tables =
        [](const Inspected& in) {
          if (!begin_grid("touched", {"row", "op", "value", "LSN", "when"}, in.table_height)) return;
          for (const auto& touched : in.state.database().touched())
            cells({fmt::format("{}/{}", touched.table(), touched.id()), touched.op(), touched.value(),
                   touched.lsn() ? std::to_string(touched.lsn()) : "seed", format_time(touched.at_ns())});
          ImGui::EndTable();
        },
    .steer =
        [](const Inspected& in) {
          static int connections = 0;
          if (!ImGui::IsAnyItemActive()) connections = static_cast<int>(in.state.database().max_connections());
          ImGui::SetNextItemWidth(180);
          ImGui::SliderInt("connections", &connections, 1, 64);
          ui::note("connections");
          if (ImGui::IsItemDeactivatedAfterEdit()) in.set("max_connections", std::to_string(connections));
        },
};
FLOWFRAME_KIND_VIEW(kDatabaseView);

}  // namespace
}  // namespace flowframe::viewer
