// The node inspector: the selected node's state at the current frame (stepping back shows the
// earlier state), and the log's health.
#include <fmt/format.h>

#include <algorithm>

#include "viewer/app/kind_view.hpp"
#include "viewer/app/resilience_view.hpp"
#include "viewer/model/queries.hpp"
#include "viewer/app/viewer.hpp"

#include "runtime/framelog/frame_text.hpp"
#include "runtime/base/text.hpp"

namespace flowframe::viewer {
namespace {

// Names as wide as the widest of them, values in the rest: a long value never squeezes the names.
bool begin_fields(const char* id) {
  if (!ImGui::BeginTable(id, 2, ImGuiTableFlags_SizingStretchProp)) return false;
  ImGui::TableSetupColumn("name", ImGuiTableColumnFlags_WidthFixed);
  ImGui::TableSetupColumn("value", ImGuiTableColumnFlags_WidthStretch);
  return true;
}

void health(Viewer& viewer) {
  const auto health = viewer.model().health();
  if (health.problems.empty()) return;
  ImGui::PushStyleColor(ImGuiCol_Text, ImGui::ColorConvertU32ToFloat4(viewer.palette().warning));
  const bool open = ImGui::CollapsingHeader(
      fmt::format("{} Log health: {} problem{}", icon::warning, health.problems.size(), health.problems.size() == 1 ? "" : "s").c_str(),
      ImGuiTreeNodeFlags_DefaultOpen);
  ImGui::PopStyleColor();
  if (!open) return;
  ImGui::TextWrapped("Showing everything readable.");
  for (const auto& problem : health.problems) ImGui::BulletText("%s", problem.c_str());
  ImGui::Separator();
}

// Changes to the selected node in the running simulation; each becomes a control frame. Its
// kind's own controls first, then the faults every kind can suffer.
void steer(const Inspected& in) {
  ImGui::Separator();
  ImGui::TextDisabled("change it in the running simulation");
  kind_view(in.info.kind()).steer(in);
  ImGui::TextDisabled("faults");
  // Buttons side by side while they fit the panel, then on the next line.
  bool first = true;
  auto button = [&](const char* label) {
    if (!first) ui::flow(ImGui::CalcTextSize(label).x + 2 * ImGui::GetStyle().FramePadding.x);
    first = false;
    return ui::button(label);
  };
  v1::ControlRequest request;
  auto& fault = *request.mutable_fault();
  if (button("crash")) fault.set_crash(true), in.send(request);
  if (button("restart")) fault.set_restart(true), in.send(request);
  if (button("pause 2 s")) fault.set_pause_s(2), in.send(request);
  if (button("slow x3")) fault.set_slow(3), in.send(request);
  if (button("speed x1")) fault.set_slow(1), in.send(request);
  // Its links, one at a time: the change applies in both directions.
  const auto& header = in.viewer.model().header();
  const auto others = view::neighbours(header, in.info.index());
  if (others.empty()) return;
  static std::uint32_t other = 0;
  if (std::find(others.begin(), others.end(), other) == others.end()) other = others.front();
  if (ui::begin_combo("link to", header.nodes(static_cast<int>(other)).id().c_str(), 160)) {
    for (auto n : others)
      if (ImGui::Selectable(header.nodes(static_cast<int>(n)).id().c_str(), n == other)) other = n;
    ImGui::EndCombo();
  }
  auto& link = *fault.mutable_link();
  link.set_to(header.nodes(static_cast<int>(other)).id());
  first = false;
  if (button("partition")) link.set_partition(true), in.send(request);
  if (button("heal")) link.set_heal(true), in.send(request);
  if (button("lose 10%")) link.set_loss(0.1), in.send(request);
}

}  // namespace

void draw_inspector(Viewer& viewer, ImVec2 pos, ImVec2 size) {
  begin_panel(viewer.window("Inspector").c_str(), pos, size);
  health(viewer);
  const auto& header = viewer.model().header();
  const view::World* world = viewer.playback().world();
  if (!viewer.selected_node || !world) {
    ImGui::TextWrapped("Click a node on the canvas to see its state at the current frame.");
    if (auto current = viewer.model().frame(viewer.playback().frame(), false)) {
      ImGui::Spacing();
      ImGui::TextDisabled("Frame %llu", static_cast<unsigned long long>(current->index));
      ImGui::TextWrapped("%s", viewer.text().line(*current).c_str() + 10);
    }
    const auto& explanation = header.scenario().explanation();
    if (!explanation.empty()) {
      ImGui::Spacing();
      ImGui::Separator();
      ImGui::TextWrapped("%s", explanation.c_str());
    }
    ImGui::End();
    return;
  }
  const auto n = *viewer.selected_node;
  const auto& info = header.nodes(static_cast<int>(n));
  const auto& node = world->nodes[n];
  const auto& s = node.state;
  const Time now = viewer.playback().time();
  const auto& view = kind_view(info.kind());
  Inspected inspected{viewer, info, node, s, now, 0};
  ImGui::PushFont(viewer.fonts().title);
  ImGui::TextColored(ImGui::ColorConvertU32ToFloat4(viewer.palette().kind(info.kind())), "%s", kind_icon(info.kind()));
  ImGui::SameLine();
  ImGui::Text("%s", info.id().c_str());
  ui::note_state("inspecting " + info.id());
  ImGui::PopFont();
  ImGui::SameLine();
  ImGui::TextDisabled("%s%s", lowercase(v1::Node::Kind_Name(info.kind())).c_str(),
                      info.group().empty() ? "" : (" · group " + info.group()).c_str());
  ImGui::PushStyleColor(ImGuiCol_Text, ImGui::GetStyle().Colors[ImGuiCol_TextDisabled]);
  ImGui::TextWrapped("at frame %llu, %s; details as of frame %llu", static_cast<unsigned long long>(world->frame),
                     format_time(now).c_str(), static_cast<unsigned long long>(node.state_frame));
  ImGui::PopStyleColor();
  ImGui::Separator();
  if (begin_fields("fields")) {
    row("in progress", std::to_string(node.load));
    row("waiting", std::to_string(node.queue));
    row("handled", std::to_string(s.handled()));
    row("rejected", std::to_string(s.rejected()));
    if (s.crashed()) row("fault", "CRASHED: refuses every request");
    else if (s.paused_until_ns() > now) row("fault", "paused until " + format_time(s.paused_until_ns()));
    view.rows(inspected);
    resilience_rows(inspected);
    ImGui::EndTable();
  }
  if (viewer.live() && !viewer.run_ended()) steer(inspected);
  ImGui::Spacing();
  resilience_tables(inspected);
  inspected.table_height = std::max(120.0f, ImGui::GetContentRegionAvail().y - 8);
  view.tables(inspected);
  ImGui::End();
}

}  // namespace flowframe::viewer
