// The metrics strip: completed requests, latency percentiles and errors over simulated time,
// counted as the run summary counts them, with a time axis and a cursor at the current time.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "viewer/app/viewer.hpp"

namespace flowframe::viewer {
namespace {

// A series of values, one per `bucket` of simulated time from `start`.
struct Line {
  const std::vector<float>* values;
  Time start, bucket;
  ImU32 colour;
  const char* name;  // in the legend ("" for none)
};

// The simulated time a plot spans, and where its cursor is.
struct Axis {
  Time start = 0, end = 1, cursor = 0;
  double span() const { return static_cast<double>(std::max<Time>(end - start, 1)); }
};

Axis axis_of(Viewer& viewer) {
  const auto& metrics = viewer.metrics().metrics();
  return {metrics.start, metrics.end, viewer.playback().time()};
}

// One plot under its title line. Buckets without a value (NaN) leave a gap.
void plot(const Palette& palette, const std::string& title, std::initializer_list<Line> lines, const Axis& axis, float height) {
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
  auto x_at = [&](Time t) { return at.x + width * std::clamp(static_cast<float>(static_cast<double>(t - axis.start) / axis.span()), 0.0f, 1.0f); };
  auto y_of = [&](float value) { return at.y + height - height * value / top * 0.92f; };
  for (const auto& line : lines) {
    const auto& values = *line.values;
    // A value stands at the middle of its bucket.
    auto x_of = [&](std::size_t i) { return x_at(line.start + static_cast<Time>((static_cast<double>(i) + 0.5) * static_cast<double>(line.bucket))); };
    for (std::size_t i = 0; i < values.size(); ++i) {
      if (std::isnan(values[i])) continue;
      if (i > 0 && !std::isnan(values[i - 1])) draw->AddLine({x_of(i - 1), y_of(values[i - 1])}, {x_of(i), y_of(values[i])}, line.colour, 1.5f);
      else draw->AddCircleFilled({x_of(i), y_of(values[i])}, 1.8f, line.colour);  // a lone value still shows
    }
  }
  const float cursor = x_at(axis.cursor);
  draw->AddLine({cursor, at.y}, {cursor, at.y + height}, palette.selection, 2);
  ImGui::Dummy({width, height});
}

// Simulated time under the plots: start, middle and end.
void time_axis(const Palette& palette, const Axis& axis) {
  const ImVec2 at = ImGui::GetCursorScreenPos();
  const float width = ImGui::GetContentRegionAvail().x;
  auto* draw = ImGui::GetWindowDrawList();
  for (int k = 0; k <= 2; ++k) {
    const Time t = axis.start + (axis.end - axis.start) * k / 2;
    const auto label = format_time(t);
    const float label_width = ImGui::CalcTextSize(label.c_str()).x;
    const float x = std::clamp(at.x + width * static_cast<float>(k) / 2 - label_width / 2, at.x, at.x + width - label_width);
    draw->AddText({x, at.y}, palette.text_dim, label.c_str());
  }
  ImGui::Dummy({width, ImGui::GetTextLineHeight()});
}

// The height of each of `plots` plots filling what is left of the window above the time axis.
float plot_height(int plots) {
  return (ImGui::GetContentRegionAvail().y - static_cast<float>(plots + 1) * ImGui::GetTextLineHeightWithSpacing() - 4.0f * static_cast<float>(plots)) /
         static_cast<float>(plots);
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
  const float height = plot_height(messaging ? 4 : 3);
  const Axis axis = axis_of(viewer);
  auto peak = [](const std::vector<float>& values) { return values.empty() ? 0.0f : *std::max_element(values.begin(), values.end()); };
  plot(palette, fmt::format("completed {} (2xx), peak {}", m.completed, per_second(peak(m.completed_per_s))),
       {{&m.completed_per_s, m.start, m.bucket, palette.ok, ""}}, axis, height);
  const auto latency_title = m.latency.count() ? fmt::format("latency, max {}", format_time(m.latency.max())) : std::string("latency: none");
  plot(palette, latency_title,
       {{&m.p50_ms, m.start, m.bucket, palette.ok, "p50"}, {&m.p95_ms, m.start, m.bucket, palette.warning, "p95"},
        {&m.p99_ms, m.start, m.bucket, palette.error, "p99"}},
       axis, height);
  plot(palette, fmt::format("failed {}, peak {}", m.failed, per_second(peak(m.errors_per_s))),
       {{&m.errors_per_s, m.start, m.bucket, palette.error, ""}}, axis, height);
  if (messaging)
    plot(palette, m.logs ? "consumer lag" : "messages ready",
         {{&m.ready, m.start, m.broker_bucket, palette.warning, m.logs ? "lag" : "ready"},
          {&m.unacked, m.start, m.broker_bucket, palette.ok, m.logs ? "not yet replicated" : "unacknowledged"}},
         axis, height);
  time_axis(palette, axis);
  ImGui::End();
}

void draw_metrics_overlay(Viewer& a, Viewer& b, Time cursor, ImVec2 pos, ImVec2 size) {
  begin_panel("Metrics, A and B", pos, size, ImGuiWindowFlags_NoScrollbar);
  if (!a.metrics().done() || !b.metrics().done()) {
    ImGui::TextDisabled("measuring both logs…");
    ImGui::End();
    return;
  }
  const auto& palette = a.palette();
  const auto& ma = a.metrics().metrics();
  const auto& mb = b.metrics().metrics();
  // One time axis over both runs; A in the request colour, B in the warning colour.
  const Axis axis{std::min(ma.start, mb.start), std::max(ma.end, mb.end), cursor};
  const ImU32 colour_a = palette.request, colour_b = palette.warning;
  const float height = plot_height(3);
  plot(palette, fmt::format("completed/s ({} and {} in all)", ma.completed, mb.completed),
       {{&ma.completed_per_s, ma.start, ma.bucket, colour_a, "A"}, {&mb.completed_per_s, mb.start, mb.bucket, colour_b, "B"}}, axis, height);
  ui::note_state(fmt::format("completed {} and {}", ma.completed, mb.completed));
  plot(palette, "latency p99",
       {{&ma.p99_ms, ma.start, ma.bucket, colour_a, "A"}, {&mb.p99_ms, mb.start, mb.bucket, colour_b, "B"}}, axis, height);
  plot(palette, fmt::format("failed/s ({} and {} in all)", ma.failed, mb.failed),
       {{&ma.errors_per_s, ma.start, ma.bucket, colour_a, "A"}, {&mb.errors_per_s, mb.start, mb.bucket, colour_b, "B"}}, axis, height);
  time_axis(palette, axis);
  ImGui::End();
}

}  // namespace flowframe::viewer
