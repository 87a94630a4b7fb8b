// How the viewer shows a server: slots in use, its queue, capacity (0: down) and utilisation.
#include <fmt/format.h>

#include "runtime/framelog/frame_text.hpp"
#include "viewer/app/kind_view.hpp"
#include "viewer/app/ui.hpp"
#include "viewer/app/viewer.hpp"

namespace flowframe::viewer {
namespace {

void steer_server(const Inspected& in) {
  const auto& server = in.state.server();
  static int capacity = 0;
  if (!ImGui::IsAnyItemActive()) capacity = static_cast<int>(server.capacity());
  ImGui::SetNextItemWidth(180);
  ImGui::SliderInt("capacity", &capacity, 0, std::max(8, 2 * static_cast<int>(server.capacity_before_fail() + server.capacity())));
  ui::note("capacity");
  if (ImGui::IsItemDeactivatedAfterEdit()) in.set("capacity", std::to_string(capacity));
  ImGui::SameLine();
  v1::ControlRequest request;
  if (ui::button("fail")) request.set_fail(true), in.send(request);
  ImGui::SameLine();
  if (ui::button("restore")) request.set_restore(true), in.send(request);
  // A cache-aside server's TTL for the keys it fills.
  for (const auto& node : in.viewer.model().header().scenario().nodes()) {
    if (node.id() != in.info.id() || !node.server().has_cache_aside()) continue;
    static float ttl = -1;
    if (!ImGui::IsAnyItemActive() || ttl < 0) ttl = static_cast<float>(node.server().cache_aside().ttl_s());
    ImGui::SetNextItemWidth(180);
    ui::slider_float("cache TTL (s)", &ttl, 0.0f, 120.0f, "%.1f");
    if (ImGui::IsItemDeactivatedAfterEdit()) in.set("cache_aside.ttl_s", fmt::format("{:g}", ttl));
  }
}

const KindView kServerView{
    .kind = v1::Node::SERVER,
    .colour = IM_COL32(90, 200, 150, 255),
    .icon = "\xef\x88\xb3",  // server
    .badge =
        [](const view::NodeView& node) {
          const auto& server = node.state.server();
          if (server.capacity() == 0) return std::string("DOWN");
          return node.queue ? fmt::format("{}/{} +{} queued", node.load, server.capacity(), node.queue)
                            : fmt::format("{}/{}", node.load, server.capacity());
        },
    .rows =
        [](const Inspected& in) {
          const auto& server = in.state.server();
          row("capacity", server.capacity() ? std::to_string(server.capacity()) : "0 (down)");
          row("queue limit", std::to_string(server.queue_limit()));
          row("longest queue", std::to_string(server.max_queue()));
          if (const auto busy = utilization(server, in.node.load, in.now)) row("utilisation", fmt::format("{:.0f}%", 100 * *busy));
          if (server.shed()) row("shed", fmt::format("{} (waited too long)", server.shed()));
          if (server.cancelled()) row("cancelled", fmt::format("{} (caller's deadline passed)", server.cancelled()));
        },
    .steer = steer_server,
    .down = [](const view::NodeView& node) { return node.state.server().capacity() == 0; },
};
FLOWFRAME_KIND_VIEW(kServerView);

}  // namespace
}  // namespace flowframe::viewer
