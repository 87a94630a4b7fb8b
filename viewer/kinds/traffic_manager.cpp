// How the viewer shows a traffic manager (DNS): each endpoint's health as its probes found it, and
// how many lookups it answered with each.
#include <fmt/format.h>

#include "viewer/app/kind_view.hpp"
#include "viewer/app/ui.hpp"
#include "viewer/app/viewer.hpp"

namespace flowframe::viewer {
namespace {

const KindView kTrafficManagerView{
    .kind = v1::Node::TRAFFIC_MANAGER,
    .colour = IM_COL32(150, 140, 240, 255),
    .icon = "\xef\x82\xac",  // globe
    .badge =
        [](const view::NodeView& node) {
          const auto& endpoints = node.state.health_checker().targets();
          const auto up = std::count_if(endpoints.begin(), endpoints.end(), [](const v1::ProbedState& t) { return t.healthy(); });
          return fmt::format("{} lookups · {}/{} up", node.state.traffic_manager().lookups(), up, endpoints.size());
        },
    .rows =
        [](const Inspected& in) {
          row("lookups answered", std::to_string(in.state.traffic_manager().lookups()));
          row("probes sent", std::to_string(in.state.health_checker().probes()));
        },
    .tables =
        [](const Inspected& in) {
          if (!begin_grid("endpoints", {"endpoint", "health", "in a row", "last probe", "answered"}, in.table_height)) return;
          const auto& answered = in.state.traffic_manager().answered();
          int e = 0;
          for (const auto& t : in.state.health_checker().targets()) {
            cells({in.node_name(t.node()), t.healthy() ? "up" : "DOWN",
                   t.passed() ? fmt::format("{} good", t.passed()) : fmt::format("{} failed", t.failed()), t.last(),
                   e < answered.size() ? std::to_string(answered[e]) : "-"});
            ++e;
          }
          ImGui::EndTable();
        },
};
FLOWFRAME_KIND_VIEW(kTrafficManagerView);

}  // namespace
}  // namespace flowframe::viewer
