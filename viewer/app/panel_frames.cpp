// The frame list: every frame (or the filter's matches), only visible rows drawn, the current one
// highlighted and kept in view; click to jump there and trace its request.
#include <fmt/format.h>

#include "viewer/app/viewer.hpp"

namespace flowframe::viewer {

void draw_frame_list(Viewer& viewer, ImVec2 pos, ImVec2 size) {
  auto& model = viewer.model();
  auto& playback = viewer.playback();
  begin_panel("Frames", pos, size, ImGuiWindowFlags_NoScrollbar);
  bool changed = false;
  ImGui::SetNextItemWidth(280);
  changed |= ImGui::InputTextWithHint("##filter", fmt::format("{} filter: words, status:503, node:lb, outcome:…", icon::search).c_str(),
                                      viewer.filter_text, sizeof viewer.filter_text);
  ui::note("filter");
  ImGui::SameLine();
  ImGui::SetNextItemWidth(130);
  const char* statuses[] = {"any status", "ok only", "errors only"};
  changed |= ImGui::Combo("##status", &viewer.filter_status, statuses, 3);
  ui::note("status filter");
  ui::flow(ImGui::CalcTextSize("selected node").x + 40);
  ImGui::BeginDisabled(!viewer.selected_node);
  changed |= ui::checkbox("selected node", &viewer.filter_selected_node);
  ImGui::EndDisabled();
  ui::flow(ImGui::CalcTextSize("selected request").x + 40);
  ImGui::BeginDisabled(!viewer.selected_request());
  changed |= ui::checkbox("selected request", &viewer.filter_selected_request);
  ImGui::EndDisabled();
  if (changed) viewer.refilter();
  auto* scan = viewer.filter_scan();
  if (!viewer.filter_error.empty()) {
    ImGui::TextColored(ImGui::ColorConvertU32ToFloat4(viewer.palette().error), "%s", viewer.filter_error.c_str());
  } else if (scan) {
    ui::flow(150);
    ImGui::TextDisabled("%zu matches%s", scan->size(), scan->done() ? "" : fmt::format(" ({:.0f}%)", scan->progress() * 100).c_str());
  }
  const auto rows = scan ? scan->size() : model.frame_count();
  const auto current = playback.frame();
  static std::uint64_t followed = UINT64_MAX;
  ImGui::PushFont(viewer.fonts().mono);
  const ImGuiTableFlags flags = ImGuiTableFlags_ScrollY | ImGuiTableFlags_RowBg | ImGuiTableFlags_BordersInnerV |
                                ImGuiTableFlags_Resizable | ImGuiTableFlags_SizingFixedFit;
  if (ImGui::BeginTable("frames", 5, flags)) {
    ImGui::TableSetupScrollFreeze(0, 1);
    ImGui::TableSetupColumn("#", 0, 70);
    ImGui::TableSetupColumn("time", 0, 110);
    ImGui::TableSetupColumn("from", 0, 100);
    ImGui::TableSetupColumn("to", 0, 100);
    ImGui::TableSetupColumn("what happened", ImGuiTableColumnFlags_WidthStretch);
    ImGui::TableHeadersRow();
    const float row_height = ImGui::GetTextLineHeightWithSpacing();
    // Keep the current frame in view when it moves (not while the user scrolls by hand).
    if (current != followed) {
      followed = current;
      const auto row = scan ? scan->lower_bound(current) : current;
      const float y = static_cast<float>(row) * row_height;
      if (y < ImGui::GetScrollY() || y > ImGui::GetScrollY() + ImGui::GetWindowHeight() - 3 * row_height)
        ImGui::SetScrollY(std::max(0.0f, y - ImGui::GetWindowHeight() / 2));
    }
    ImGuiListClipper clipper;
    clipper.Begin(static_cast<int>(std::min<std::uint64_t>(rows, INT32_MAX)), row_height);
    while (clipper.Step()) {
      for (int row = clipper.DisplayStart; row < clipper.DisplayEnd; ++row) {
        const std::uint64_t index = scan ? scan->at(static_cast<std::size_t>(row)) : static_cast<std::uint64_t>(row);
        ImGui::TableNextRow();
        const auto view = model.frame(index, false);
        ImGui::TableNextColumn();
        const bool is_current = index == current;
        if (ui::selectable(fmt::format("{}##frame {}", index, index).c_str(), is_current, ImGuiSelectableFlags_SpanAllColumns)) {
          playback.pause();
          playback.seek_frame(index);
          viewer.following = false;
          if (view) viewer.select_request(view->frame.client(), view->frame.request(), index);
        }
        if (!view) {
          ImGui::TableNextColumn();
          ImGui::TextDisabled("loading…");
          continue;
        }
        const auto& f = view->frame;
        ImGui::TableNextColumn();
        ImGui::TextUnformatted(format_time(view->time).c_str());
        ImGui::TableNextColumn();
        ImGui::TextUnformatted(viewer.text().node(f.src()).c_str());
        ImGui::TableNextColumn();
        ImGui::TextUnformatted(viewer.text().node(f.dst()).c_str());
        ImGui::TableNextColumn();
        const ImVec4 error = ImGui::ColorConvertU32ToFloat4(viewer.palette().error);
        ui::clipped_text(viewer.text().summary(f), is_error(f) ? &error : nullptr);
      }
    }
    ImGui::EndTable();
  }
  ImGui::PopFont();
  ImGui::End();
}

}  // namespace flowframe::viewer
