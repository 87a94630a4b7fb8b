// How the viewer shows a health checker: each target's health and its run of good or failed probes.
#include <fmt/format.h>

#include "viewer/app/kind_view.hpp"
#include "viewer/app/ui.hpp"
#include "viewer/app/viewer.hpp"

namespace flowframe::viewer {
namespace {

const KindView kHealthCheckerView{
    .kind = v1::Node::HEALTH_CHECKER,
    .colour = IM_COL32(220, 120, 200, 255),
    .icon = "\xef\x88\x9e",  // heartbeat
    .badge =
        [](const view::NodeView& node) {
          const auto& targets = node.state.health_checker().targets();
          const auto up = std::count_if(targets.begin(), targets.end(), [](const v1::ProbedState& t) { return t.healthy(); });
          return fmt::format("{}/{} up", up, targets.size());
        },
    .rows = [](const Inspected& in) { row("probes sent", std::to_string(in.state.health_checker().probes())); },
    .tables =
        [](const Inspected& in) {
          if (!begin_grid("targets", {"target", "health", "in a row", "last probe", "when"}, in.table_height)) return;
          for (const auto& t : in.state.health_checker().targets())
            cells({in.node_name(t.node()), t.healthy() ? "up" : "DOWN",
                   t.passed() ? fmt::format("{} good", t.passed()) : fmt::format("{} failed", t.failed()), t.last(),
                   t.last_ns() ? format_time(t.last_ns()) : "-"});
          ImGui::EndTable();
        },
};
FLOWFRAME_KIND_VIEW(kHealthCheckerView);

}  // namespace
}  // namespace flowframe::viewer
