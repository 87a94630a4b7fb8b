// The request trace: every hop of the selected request as a bar on a time axis (a waterfall),
// showing where its latency went. The hops also light up on the canvas.
#include <fmt/format.h>

#include <algorithm>

#include "viewer/app/viewer.hpp"

namespace flowframe::viewer {

void draw_trace(Viewer& viewer, ImVec2 pos, ImVec2 size) {
  begin_panel("Request trace", pos, size);
  const view::Trace* trace = viewer.trace();
  if (!trace || trace->hops.empty()) {
    ImGui::TextWrapped("Click a frame in the list or a moving dot on the canvas to follow that request hop by hop.");
    ImGui::End();
    return;
  }
  const auto& palette = viewer.palette();
  const Time start = trace->start(), end = std::max(trace->end(), start + 1);
  ImGui::Text("%s #%llu: %zu hops, %s end to end", viewer.text().node(trace->client).c_str(),
              static_cast<unsigned long long>(trace->request), trace->hops.size(), format_time(end - start).c_str());
  auto* draw = ImGui::GetWindowDrawList();
  const float label_width = 150, row = ImGui::GetTextLineHeightWithSpacing() + 4;
  ImGui::PushFont(viewer.fonts().mono);
  for (const auto& hop : trace->hops) {
    const ImVec2 at = ImGui::GetCursorScreenPos();
    const float width = ImGui::GetContentRegionAvail().x - label_width;
    const auto& f = hop.frame;
    const std::string label = f.src() == f.dst() ? viewer.text().node(f.dst()) + " (work)"
                                                 : viewer.text().node(f.src()) + " → " + viewer.text().node(f.dst());
    draw->AddText(at, palette.text_dim, label.c_str());
    const float x0 = at.x + label_width + width * static_cast<float>(hop.sent - start) / static_cast<float>(end - start);
    const float x1 = at.x + label_width + width * static_cast<float>(hop.time - start) / static_cast<float>(end - start);
    const ImU32 color = is_error(f) ? palette.error : f.src() == f.dst() ? palette.warning
                        : f.kind() == v1::Frame::RESPONSE ? palette.ok : palette.request;
    draw->AddRectFilled({x0, at.y + 2}, {std::max(x1, x0 + 2), at.y + row - 6}, color, 3);
    ImGui::InvisibleButton(fmt::format("hop{}", hop.index).c_str(), {label_width + width, row});
    if (ImGui::IsItemHovered())
      ImGui::SetTooltip("frame %llu: %s\nsent %s, delivered %s (%s)", static_cast<unsigned long long>(hop.index),
                        viewer.text().summary(f).c_str(), format_time(hop.sent).c_str(), format_time(hop.time).c_str(),
                        format_time(hop.time - hop.sent).c_str());
    if (ImGui::IsItemClicked()) {
      viewer.playback().pause();
      viewer.playback().seek_frame(hop.index);
      viewer.following = false;
    }
  }
  ImGui::PopFont();
  ImGui::End();
}

}  // namespace flowframe::viewer
