// The metrics strip: completed requests, latency percentiles and errors over simulated time,
// counted as the run summary counts them, with a time axis and a cursor at the current time.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "viewer/app/viewer.hpp"

namespace flowframe::viewer {
namespace {

struct Line {
  const std::vector<float>* values;
  ImU32 colour;
  const char* name;  // in the legend ("" for none)
};

// One plot under its title line; `bucket` is the width of a value in simulated time. Buckets
// without a value (NaN) leave a gap.
void plot(Viewer& viewer, const std::string& title, std::initializer_list<Line> lines, Time bucket, float height) {
  const auto& palette = viewer.palette();
  const auto& metrics = viewer.metrics().metrics();
  ImGui::TextDisabled("%s", title.c_str());
  for (const auto& line : lines) {
    if (!*line.name) continue;
    ImGui::SameLine();
    ImGui::TextColored(ImGui::ColorConvertU32ToFloat4(line.colour), "%s", line.name);
  }
  float top = 1e-6f;
  for (const auto& line : lines)
    for (float value : *line.values)
      if (!std::isnan(value)) top = std::max(top, value);
  const ImVec2 at = ImGui::GetCursorScreenPos();
  const float width = ImGui::GetContentRegionAvail().x;
  auto* draw = ImGui::GetWindowDrawList();
  draw->AddRectFilled(at, {at.x + width, at.y + height}, palette.canvas, 4);
  const double span = static_cast<double>(metrics.end - metrics.start);
  auto x_of = [&](std::size_t i) { return at.x + width * static_cast<float>(std::min(1.0, (static_cast<double>(i) + 0.5) * static_cast<double>(bucket) / span)); };
  auto y_of = [&](float value) { return at.y + height - height * value / top * 0.92f; };
  for (const auto& line : lines) {
    const auto& values = *line.values;
    for (std::size_t i = 0; i < values.size(); ++i) {
      if (std::isnan(values[i])) continue;
      if (i > 0 && !std::isnan(values[i - 1])) draw->AddLine({x_of(i - 1), y_of(values[i - 1])}, {x_of(i), y_of(values[i])}, line.colour, 1.5f);
      else draw->AddCircleFilled({x_of(i), y_of(values[i])}, 1.8f, line.colour);  // a lone value still shows
    }
  }
  const float cursor = at.x + width * std::clamp(static_cast<float>(static_cast<double>(viewer.playback().time() - metrics.start) / span), 0.0f, 1.0f);
  draw->AddLine({cursor, at.y}, {cursor, at.y + height}, palette.selection, 2);
  ImGui::Dummy({width, height});
}

// Simulated time under the plots: start, middle and end.
void time_axis(Viewer& viewer) {
  const auto& metrics = viewer.metrics().metrics();
  const ImVec2 at = ImGui::GetCursorScreenPos();
  const float width = ImGui::GetContentRegionAvail().x;
  auto* draw = ImGui::GetWindowDrawList();
  for (int k = 0; k <= 2; ++k) {
    const Time t = metrics.start + (metrics.end - metrics.start) * k / 2;
    const auto label = format_time(t);
    const float label_width = ImGui::CalcTextSize(label.c_str()).x;
    const float x = std::clamp(at.x + width * static_cast<float>(k) / 2 - label_width / 2, at.x, at.x + width - label_width);
    draw->AddText({x, at.y}, viewer.palette().text_dim, label.c_str());
  }
  ImGui::Dummy({width, ImGui::GetTextLineHeight()});
}

std::string per_second(float value) { return fmt::format("{:.3g}/s", value); }

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
  const float height = (ImGui::GetContentRegionAvail().y - (plots + 1) * ImGui::GetTextLineHeightWithSpacing() - 4.0f * plots) /
                       static_cast<float>(plots);
  auto peak = [](const std::vector<float>& values) { return values.empty() ? 0.0f : *std::max_element(values.begin(), values.end()); };
  plot(viewer, fmt::format("completed {} (2xx), peak {}", m.completed, per_second(peak(m.completed_per_s))),
       {{&m.completed_per_s, palette.ok, ""}}, m.bucket, height);
  const auto latency_title = m.latency.count() ? fmt::format("latency, max {}", format_time(m.latency.max())) : std::string("latency: none");
  plot(viewer, latency_title, {{&m.p50_ms, palette.ok, "p50"}, {&m.p95_ms, palette.warning, "p95"}, {&m.p99_ms, palette.error, "p99"}},
       m.bucket, height);
  plot(viewer, fmt::format("failed {}, peak {}", m.failed, per_second(peak(m.errors_per_s))), {{&m.errors_per_s, palette.error, ""}},
       m.bucket, height);
  if (messaging)
    plot(viewer, m.logs ? "consumer lag" : "messages ready", {{&m.ready, palette.warning, m.logs ? "lag" : "ready"},
         {&m.unacked, palette.ok, m.logs ? "not yet replicated" : "unacknowledged"}}, m.broker_bucket, height);
  time_axis(viewer);
  ImGui::End();
}

}  // namespace flowframe::viewer
