// The metrics strip: throughput, latency percentiles and errors over simulated time, with a cursor
// at the current time.
#include <fmt/format.h>

#include <algorithm>

#include "viewer/app/viewer.hpp"

namespace flowframe::viewer {
namespace {

void plot(Viewer& viewer, const char* title, std::initializer_list<std::pair<const std::vector<float>*, ImU32>> series,
          const char* unit, float height) {
  const auto& palette = viewer.palette();
  const auto& metrics = viewer.metrics().metrics();
  float top = 1e-6f;
  for (const auto& [values, color] : series) top = std::max(top, *std::max_element(values->begin(), values->end()));
  if (top <= 1e-6f) ImGui::TextDisabled("%s: none", title);
  else ImGui::TextDisabled("%s (max %.3g %s)", title, top, unit);
  const ImVec2 at = ImGui::GetCursorScreenPos();
  const float width = ImGui::GetContentRegionAvail().x;
  auto* draw = ImGui::GetWindowDrawList();
  draw->AddRectFilled(at, {at.x + width, at.y + height}, palette.canvas, 4);
  for (const auto& [values, color] : series) {
    const auto count = values->size();
    for (std::size_t i = 1; i < count; ++i) {
      const float x0 = at.x + width * (i - 1) / (count - 1), x1 = at.x + width * i / (count - 1);
      draw->AddLine({x0, at.y + height - height * (*values)[i - 1] / top * 0.92f},
                    {x1, at.y + height - height * (*values)[i] / top * 0.92f}, color, 1.5f);
    }
  }
  const float span = static_cast<float>(metrics.bucket) * static_cast<float>(metrics.size());
  const float cursor = at.x + width * std::clamp(static_cast<float>(viewer.playback().time() - metrics.start) / span, 0.0f, 1.0f);
  draw->AddLine({cursor, at.y}, {cursor, at.y + height}, palette.selection, 2);
  ImGui::Dummy({width, height});
}

}  // namespace

void draw_metrics(Viewer& viewer, ImVec2 pos, ImVec2 size) {
  begin_panel("Metrics", pos, size, ImGuiWindowFlags_NoScrollbar);
  if (!viewer.metrics().done()) {
    ImGui::TextDisabled("measuring the whole log…");
    ImGui::End();
    return;
  }
  const auto& palette = viewer.palette();
  const auto& m = viewer.metrics().metrics();
  const bool messaging = !m.ready.empty();
  const int plots = messaging ? 4 : 3;
  const float height =
      (ImGui::GetContentRegionAvail().y - plots * ImGui::GetTextLineHeightWithSpacing() - 4.0f * plots) / static_cast<float>(plots);
  plot(viewer, "completed", {{&m.completed_per_s, palette.ok}}, "req/s", height);
  plot(viewer, "latency p50 / p95 / p99", {{&m.p50_ms, palette.ok}, {&m.p95_ms, palette.warning}, {&m.p99_ms, palette.error}},
       "ms", height);
  plot(viewer, "errors", {{&m.errors_per_s, palette.error}}, "req/s", height);
  if (messaging)
    plot(viewer, m.logs ? "consumer lag / not yet replicated" : "messages ready / unacknowledged",
         {{&m.ready, palette.warning}, {&m.unacked, palette.ok}}, m.logs ? "records" : "messages", height);
  ImGui::End();
}

}  // namespace flowframe::viewer
