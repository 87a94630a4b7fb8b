// The Learn panel: a concept's page beside its live simulation; "try it" buttons steer the run
// and point at what to watch.
#include <fmt/format.h>

#include <sstream>

#include "runtime/live/live.hpp"
#include "viewer/app/viewer.hpp"

namespace flowframe::viewer {
namespace {

// Words wrapped by hand, so bold and code spans keep their colour inside a paragraph.
void spans(Viewer& viewer, const std::vector<PageSpan>& parts) {
  const float right = ImGui::GetContentRegionMax().x;
  const ImVec4 accent = ImGui::GetStyleColorVec4(ImGuiCol_CheckMark);
  const ImVec4 code = ImGui::ColorConvertU32ToFloat4(viewer.palette().request);
  bool first = true;
  for (const auto& part : parts) {
    std::istringstream words(part.text);
    for (std::string word; words >> word;) {
      const float width = ImGui::CalcTextSize(word.c_str()).x;
      if (!first) {
        const bool punctuation = std::string(",.;:!?)").find(word[0]) != std::string::npos;
        ImGui::SameLine(0, punctuation ? 0.0f : ImGui::CalcTextSize(" ").x);
        if (ImGui::GetCursorPosX() + width > right) ImGui::NewLine();
      }
      first = false;
      if (part.bold) ImGui::TextColored(accent, "%s", word.c_str());
      else if (part.code) ImGui::TextColored(code, "%s", word.c_str());
      else ImGui::TextUnformatted(word.c_str());
    }
  }
}

}  // namespace

void draw_learn(Viewer& viewer, const Page& page, ImVec2 pos, ImVec2 size) {
  begin_panel("Learn", pos, size);
  for (const auto& block : page.blocks) {
    switch (block.kind) {
      case PageBlock::Kind::title:
        ImGui::PushFont(viewer.fonts().title);
        spans(viewer, block.spans);
        ImGui::PopFont();
        ImGui::Separator();
        break;
      case PageBlock::Kind::section:
        ImGui::Spacing();
        ImGui::PushFont(viewer.fonts().title);
        spans(viewer, block.spans);
        ImGui::PopFont();
        break;
      case PageBlock::Kind::paragraph:
        spans(viewer, block.spans);
        ImGui::Spacing();
        break;
      case PageBlock::Kind::item:
        ImGui::Bullet();
        ImGui::SameLine();
        ImGui::BeginGroup();
        spans(viewer, block.spans);
        ImGui::EndGroup();
        break;
      case PageBlock::Kind::code:
        ImGui::PushFont(viewer.fonts().mono);
        ImGui::TextUnformatted(block.text.c_str());
        ImGui::PopFont();
        break;
      case PageBlock::Kind::action: {
        // After the run ended, a try-it starts the run again and does it there.
        const bool restarts = viewer.run_ended() && viewer.can_restart;
        ImGui::BeginDisabled(!viewer.live() || (viewer.run_ended() && !restarts));
        // Cut to the page's width; the whole label on hover.
        const auto label = fmt::format("{} Try it: {}", icon::play, block.label);
        const auto shown = ui::ellipsize(label, ImGui::GetContentRegionAvail().x - 2 * ImGui::GetStyle().FramePadding.x);
        const bool pressed = ui::button(fmt::format("{}##try {}", shown, block.label).c_str());
        if (shown != label && ImGui::IsItemHovered()) ImGui::SetTooltip("%s", label.c_str());
        if (pressed) {
          try {
            v1::ControlRequest request;
            std::vector<v1::ControlRequest> requests;
            for (const auto& command : block.commands) requests.push_back(request = parse_control(command));
            if (restarts) {
              viewer.wants_restart = true;
              viewer.after_restart = std::move(requests);
            } else {
              for (auto& each : requests) viewer.send(std::move(each));
            }
            // Point at it: select the node and show the frames that involve it.
            if (auto node = viewer.node_named(request.node())) viewer.selected_node = node;
            else if (auto member = viewer.node_named(request.node() + "-1")) viewer.selected_node = member;
            if (viewer.selected_node) {
              viewer.filter_selected_node = true;
              viewer.refilter();
            }
            viewer.following = true;
          } catch (const std::invalid_argument&) {
            // check_page keeps built-in pages free of these; a hand-written page just does nothing
          }
        }
        ImGui::EndDisabled();
        if (!viewer.live() && ImGui::IsItemHovered(ImGuiHoveredFlags_AllowWhenDisabled))
          ImGui::SetTooltip("Open the scenario live (flowframe-view --scenario NAME) to try it");
        else if (restarts && ImGui::IsItemHovered())
          ImGui::SetTooltip("The run has ended: this starts it again and tries it there");
        break;
      }
    }
  }
  ImGui::End();
}

}  // namespace flowframe::viewer
