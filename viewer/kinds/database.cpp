// How the viewer shows a database: its connection pool, tables and the rows requests touched.
#include <fmt/format.h>

#include "viewer/app/kind_view.hpp"
#include "viewer/app/viewer.hpp"

namespace flowframe::viewer {
namespace {

const KindView kDatabaseView{
    .kind = v1::Node::DATABASE,
    .colour = IM_COL32(90, 170, 230, 255),
    .icon = "\xef\x87\x80",  // database
    .badge =
        [](const view::NodeView& node) {
          return fmt::format("pool {}/{}{}", node.load, node.state.database().max_connections(),
                             node.queue ? fmt::format(" +{}", node.queue) : "");
        },
    .rows =
        [](const Inspected& in) {
          const auto& database = in.state.database();
          row("pool", fmt::format("{} of {} in use, {} waiting", database.pool_in_use(), database.max_connections(),
                                  database.pool_waiting()));
          row("queries", std::to_string(database.queries()));
          for (const auto& table : database.tables()) row(("table " + table.name()).c_str(), fmt::format("{} rows", table.rows()));
        },
    .tables =
        [](const Inspected& in) {
          if (!begin_grid("touched", {"row", "op", "value", "when"}, in.table_height)) return;
          for (const auto& touched : in.state.database().touched())
            cells({fmt::format("{}/{}", touched.table(), touched.id()), touched.op(), touched.value(), format_time(touched.at_ns())});
          ImGui::EndTable();
        },
    .steer =
        [](const Inspected& in) {
          static int connections = 0;
          if (!ImGui::IsAnyItemActive()) connections = static_cast<int>(in.state.database().max_connections());
          ImGui::SetNextItemWidth(180);
          ImGui::SliderInt("connections", &connections, 1, 64);
          if (ImGui::IsItemDeactivatedAfterEdit()) in.set("max_connections", std::to_string(connections));
        },
};
FLOWFRAME_KIND_VIEW(kDatabaseView);

}  // namespace
}  // namespace flowframe::viewer
