// How the viewer shows a load balancer: its strategy and each backend's health and share.
#include <fmt/format.h>

#include "runtime/base/text.hpp"
#include "viewer/app/kind_view.hpp"
#include "viewer/app/ui.hpp"

namespace flowframe::viewer {
namespace {

const KindView kLoadBalancerView{
    .kind = v1::Node::LOAD_BALANCER,
    .colour = IM_COL32(190, 140, 255, 255),
    .icon = "\xef\x81\xb4",  // random
    .badge = [](const view::NodeView& node) { return fmt::format("{} in flight", node.load); },
    .rows =
        [](const Inspected& in) {
          row("strategy", lowercase(v1::LoadBalancerParams::Strategy_Name(in.state.load_balancer().strategy())));
        },
    .tables =
        [](const Inspected& in) {
          if (!begin_grid("backends", {"backend", "health", "weight", "sent"}, in.table_height)) return;
          for (const auto& b : in.state.load_balancer().backends())
            cells({in.node_name(b.node()), b.healthy() ? "up" : "DOWN", std::to_string(b.weight()), std::to_string(b.sent())});
          ImGui::EndTable();
        },
    .steer =
        [](const Inspected& in) {
          static const auto names = [] {
            std::vector<std::string> all;
            const auto* strategies = v1::LoadBalancerParams::Strategy_descriptor();
            for (int i = 0; i < strategies->value_count(); ++i) all.push_back(lowercase(strategies->value(i)->name()));
            return all;
          }();
          int strategy = in.state.load_balancer().strategy();
          ImGui::SetNextItemWidth(220);
          const auto item = [](void* list, int i, const char** out) {
            *out = (*static_cast<const std::vector<std::string>*>(list))[static_cast<std::size_t>(i)].c_str();
            return true;
          };
          if (ImGui::Combo("strategy", &strategy, item, const_cast<std::vector<std::string>*>(&names),
                           static_cast<int>(names.size())))
            in.set("strategy", names[static_cast<std::size_t>(strategy)]);
          ui::note("strategy");
        },
};
FLOWFRAME_KIND_VIEW(kLoadBalancerView);

}  // namespace
}  // namespace flowframe::viewer
