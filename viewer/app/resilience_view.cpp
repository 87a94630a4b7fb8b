#include "viewer/app/resilience_view.hpp"

#include <fmt/format.h>

#include "viewer/app/viewer.hpp"

namespace flowframe::viewer {
namespace {

std::string percent(std::uint32_t part, std::uint32_t whole) {
  return whole ? fmt::format("{:.0f} %", 100.0 * part / whole) : "-";
}

// The window as a strip of cells, oldest left: green all good, amber slow, red failed (shaded by
// share in a time window's second).
void window_strip(const Inspected& inspected, const v1::BreakerState& breaker) {
  const auto& palette = inspected.viewer.palette();
  auto* draw = ImGui::GetWindowDrawList();
  const float size = 7, gap = 2;
  const float width = ImGui::GetContentRegionAvail().x;
  const int per_line = std::max(1, static_cast<int>(width / (size + gap)));
  const ImVec2 start = ImGui::GetCursorScreenPos();
  const int cells = breaker.window_size();
  for (int i = 0; i < cells; ++i) {
    const auto& cell = breaker.window(i);
    const ImU32 colour = cell.failed() * 2 >= std::max(1u, cell.calls()) && cell.failed() ? palette.error
                         : cell.slow() * 2 >= std::max(1u, cell.calls()) && cell.slow() ? palette.warning
                         : cell.failed() || cell.slow()                             ? palette.warning
                                                                                    : palette.ok;
    const ImVec2 at{start.x + static_cast<float>(i % per_line) * (size + gap),
                    start.y + static_cast<float>(i / per_line) * (size + gap)};
    draw->AddRectFilled(at, {at.x + size, at.y + size}, colour, 1.5f);
  }
  const int lines = cells == 0 ? 0 : (cells + per_line - 1) / per_line;
  ImGui::Dummy({width, static_cast<float>(lines) * (size + gap)});
}

}  // namespace

void resilience_rows(const Inspected& inspected) {
  const auto& s = inspected.state;
  if (!s.has_retries()) return;
  const auto& r = s.retries();
  row("attempts", fmt::format("{} first, {} retries ({:.2f} per request)", r.first_attempts(), r.retries(),
                              r.first_attempts() ? static_cast<double>(r.first_attempts() + r.retries()) / r.first_attempts() : 0.0));
  row("gave up", std::to_string(r.gave_up()) + (r.budget_denied() ? fmt::format(" ({} by the budget)", r.budget_denied()) : ""));
  if (r.window_first() || r.window_retries())
    row("retry budget", fmt::format("{} retries for {} first attempts in its window", r.window_retries(), r.window_first()));
}

void resilience_tables(const Inspected& inspected) {
  const auto& s = inspected.state;
  const auto& palette = inspected.viewer.palette();
  for (const auto& breaker : s.breakers()) {
    ImGui::PushID(static_cast<int>(breaker.target()));
    const bool open = breaker.state() == v1::BreakerState::OPEN;
    const bool half = breaker.state() == v1::BreakerState::HALF_OPEN;
    ImGui::TextDisabled("breaker to %s", inspected.node_name(breaker.target()).c_str());
    ImGui::SameLine();
    ImGui::TextColored(ImGui::ColorConvertU32ToFloat4(open ? palette.error : half ? palette.warning : palette.ok), "%s",
                       v1::BreakerState::State_Name(breaker.state()).c_str());
    std::string detail;
    if (open)
      detail = "probes at " + format_time(breaker.half_open_at_ns()) + fmt::format("; short-circuited {}", breaker.short_circuited());
    else if (half)
      detail = fmt::format("{} probe{} left; probes back: {} ({} failed, {} slow)", breaker.probes_left(),
                           breaker.probes_left() == 1 ? "" : "s", breaker.calls(), breaker.failed(), breaker.slow());
    else
      detail = fmt::format("window {} calls: failure rate {}, slow {}", breaker.calls(),
                           percent(breaker.failed(), breaker.calls()), percent(breaker.slow(), breaker.calls()));
    ImGui::TextWrapped("%s · %u changes", detail.c_str(), breaker.transitions());
    if (!open && !half) window_strip(inspected, breaker);
    ImGui::PopID();
  }
  if (s.bulkheads_size() > 0 && begin_grid("bulkheads", {"bulkhead to", "in flight", "waiting", "refused"})) {
    for (const auto& bulkhead : s.bulkheads())
      cells({inspected.node_name(bulkhead.target()), fmt::format("{} / {}", bulkhead.active(), bulkhead.max_concurrent()),
             std::to_string(bulkhead.waiting()), std::to_string(bulkhead.refused())});
    ImGui::EndTable();
  }
  if (s.breakers_size() > 0 || s.bulkheads_size() > 0) ImGui::Spacing();
}

}  // namespace flowframe::viewer
