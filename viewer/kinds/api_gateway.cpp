// How the viewer shows an API gateway: its routes, its pools' health and its rate-limit buckets.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "viewer/app/kind_view.hpp"
#include "viewer/app/ui.hpp"

namespace flowframe::viewer {
namespace {

const KindView kApiGatewayView{
    .kind = v1::Node::API_GATEWAY,
    .colour = IM_COL32(240, 170, 80, 255),
    .icon = "\xef\x83\xa8",  // sitemap
    .badge = [](const view::NodeView& node) { return fmt::format("{} in flight", node.load); },
    .tables =
        [](const Inspected& in) {
          const auto& gateway = in.state.api_gateway();
          // The routes take the rows they need, so the rate-limit buckets show below them.
          const float routes_height = std::min(in.table_height / 2, (static_cast<float>(gateway.routes_size()) + 1.6f) *
                                                                        ImGui::GetTextLineHeightWithSpacing());
          if (begin_grid("routes", {"route", "pool", "servers up"}, routes_height)) {
            for (const auto& route : gateway.routes()) {
              std::string up;
              for (const auto& pool : gateway.pools())
                if (pool.name() == route.pool())
                  for (const auto& b : pool.backends()) up += (b.healthy() ? "" : "!") + in.node_name(b.node()) + " ";
              cells({route.prefix(), route.pool(), up});
            }
            ImGui::EndTable();
          }
          if (begin_grid("buckets", {"rate limit", "tokens now", "burst"}, std::max(80.0f, ImGui::GetContentRegionAvail().y - 8))) {
            for (const auto& bucket : gateway.buckets()) {
              const double tokens = std::min(bucket.burst(), bucket.tokens() + bucket.rate() * to_seconds(in.now - bucket.at_ns()));
              cells({bucket.owner(), fmt::format("{:.2f}", tokens), fmt::format("{:g} (+{:g}/s)", bucket.burst(), bucket.rate())});
            }
            ImGui::EndTable();
          }
        },
    .steer =
        [](const Inspected& in) {
          for (const char* which : {"per_client", "global"}) {
            static float rate[2] = {-1, -1}, burst[2] = {-1, -1};
            const int k = std::string(which) == "global";
            for (const auto& bucket : in.state.api_gateway().buckets()) {
              if ((bucket.owner() == "global") != (k == 1) || ImGui::IsAnyItemActive()) continue;
              rate[k] = static_cast<float>(bucket.rate());
              burst[k] = static_cast<float>(bucket.burst());
            }
            if (rate[k] < 0) continue;  // no such limit in this scenario
            ImGui::SetNextItemWidth(140);
            ui::slider_float(fmt::format("{} rate/s", which).c_str(), &rate[k], 0.1f, 100.0f, "%.1f");
            if (ImGui::IsItemDeactivatedAfterEdit()) in.set(std::string(which) + ".rate", fmt::format("{:g}", rate[k]));
            ImGui::SameLine();
            ImGui::SetNextItemWidth(120);
            ui::slider_float(fmt::format("{} burst", which).c_str(), &burst[k], 1.0f, 100.0f, "%.0f");
            if (ImGui::IsItemDeactivatedAfterEdit())
              in.set(std::string(which) + ".burst", fmt::format("{:g}", std::round(burst[k])));
          }
        },
};
FLOWFRAME_KIND_VIEW(kApiGatewayView);

}  // namespace
}  // namespace flowframe::viewer
