// The sequence chart, in the canvas's place: a lifeline per node, each hop an arrow at its times,
// for the selected request or the frames up to the cursor. Clicking an arrow goes to its frame.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "viewer/app/ui.hpp"
#include "viewer/app/viewer.hpp"
#include "viewer/model/sequence.hpp"

namespace flowframe::viewer {
namespace {

// How many frames up to the cursor the chart can show when no request is followed.
constexpr std::uint64_t kRecentChoices[] = {12, 24, 48, 96};

std::vector<FrameView> recent_frames(Viewer& viewer) {
  std::vector<FrameView> frames;
  const auto count = viewer.model().frame_count();
  if (count == 0) return frames;
  const auto last = std::min<std::uint64_t>(viewer.playback().frame(), count - 1);
  const auto span = viewer.sequence_frames;
  for (auto i = last + 1 > span ? last + 1 - span : 0; i <= last; ++i)
    if (auto view = viewer.model().frame(i, false)) frames.push_back(std::move(*view));
  return frames;
}

ImU32 arrow_colour(const Palette& palette, const view::SequenceChart::Arrow& arrow) {
  if (arrow.error) return palette.error;
  if (arrow.from == arrow.to) return palette.warning;
  if (arrow.kind == v1::Frame::RESPONSE) return palette.ok;
  if (arrow.kind == v1::Frame::MESSAGE) return palette.warning;
  return palette.request;
}

ImU32 faded(ImU32 colour) { return (colour & 0x00FFFFFF) | (static_cast<ImU32>(70) << 24); }

}  // namespace

void draw_sequence(Viewer& viewer, ImVec2 pos, ImVec2 size) {
  const auto& palette = viewer.palette();
  begin_panel(viewer.window("Sequence chart").c_str(), pos, size, ImGuiWindowFlags_NoScrollbar | ImGuiWindowFlags_NoScrollWithMouse);
  if (ui::button("Topology")) viewer.show_sequence = false;
  const view::Trace* trace = viewer.trace();
  ImGui::SameLine();
  if (trace && !trace->hops.empty()) {
    bool whole = !viewer.sequence_recent;
    if (ui::checkbox(fmt::format("Request {}#{}", viewer.text().node(trace->client), trace->request).c_str(), &whole))
      viewer.sequence_recent = !whole;
  }
  if (!trace || trace->hops.empty() || viewer.sequence_recent) {
    // How far back from the cursor: the frames up to it, as many as chosen.
    ImGui::SameLine();
    if (ui::begin_combo("##recent frames", fmt::format("last {} frames", viewer.sequence_frames).c_str(), 150)) {
      for (const auto choice : kRecentChoices)
        if (ui::selectable(fmt::format("last {} frames##recent {}", choice, choice).c_str(), choice == viewer.sequence_frames))
          viewer.sequence_frames = choice;
      ImGui::EndCombo();
    }
    if (!trace || trace->hops.empty()) {
      ImGui::SameLine();
      ImGui::TextDisabled("click a request's dot or frame to follow it");
    }
  }
  const bool follow_request = trace && !trace->hops.empty() && !viewer.sequence_recent;
  const std::vector<FrameView> frames = follow_request ? trace->hops : recent_frames(viewer);
  const auto chart = view::build_sequence(frames, viewer.model().header(), viewer.collapse_groups);
  ui::note_state(fmt::format("sequence: {} arrows", chart.arrows.size()));
  ui::note_state(fmt::format("lifelines: {}", chart.lifelines.size()));

  auto* draw = ImGui::GetWindowDrawList();
  const ImVec2 corner = ImGui::GetCursorScreenPos();
  const ImVec2 area = ImGui::GetContentRegionAvail();
  const float header = ImGui::GetTextLineHeight() + 10, margin_x = 70, margin_bottom = ImGui::GetTextLineHeight() + 8;
  if (chart.arrows.empty() || area.y < header + margin_bottom + 20) {
    ImGui::End();
    return;
  }
  const view::SequenceLayout layout(chart, corner.x + margin_x, corner.y + header + 6, area.x - margin_x - 12,
                                    area.y - header - margin_bottom - 12);
  const float top = corner.y + header, bottom = corner.y + area.y - margin_bottom;
  // Lifelines with their names; time at the top and bottom.
  const float column = (area.x - margin_x - 12) / static_cast<float>(chart.lifelines.size());
  for (std::size_t i = 0; i < chart.lifelines.size(); ++i) {
    const float x = layout.x(i);
    const auto name = ui::ellipsize(chart.lifelines[i].name, column - 6);
    const ImVec2 name_size = ImGui::CalcTextSize(name.c_str());
    draw->AddText({x - name_size.x / 2, corner.y + 2}, palette.text, name.c_str());
    draw->AddLine({x, top}, {x, bottom}, palette.grid, 1.5f);
  }
  draw->AddText({corner.x + 4, top}, palette.text_dim, format_time(chart.start).c_str());
  draw->AddText({corner.x + 4, bottom - ImGui::GetTextLineHeight()}, palette.text_dim, format_time(chart.end).c_str());

  const auto current = viewer.playback().frame();
  // Labels that would overlap one drawn before are left out (the tooltip has them).
  std::vector<ImVec4> labels;
  auto label_fits = [&](ImVec2 at, ImVec2 size) {
    const ImVec4 box{at.x, at.y, at.x + size.x, at.y + size.y};
    for (const auto& other : labels)
      if (box.x < other.z && other.x < box.z && box.y < other.w && other.y < box.w) return false;
    labels.push_back(box);
    return true;
  };
  ImGui::PushFont(viewer.fonts().mono);
  for (const auto& arrow : chart.arrows) {
    // What has not happened yet at the cursor is drawn faint.
    const ImU32 colour = arrow.frame > current ? faded(arrow_colour(palette, arrow)) : arrow_colour(palette, arrow);
    const float thickness = arrow.frame == current ? 3.5f : 1.8f;
    ImVec2 low, high;
    if (arrow.from == arrow.to) {
      const auto box = layout.bar(arrow);
      draw->AddRectFilled({box.x0, box.y0}, {box.x1, box.y1}, colour, 2);
      if (arrow.frame == current) draw->AddRect({box.x0 - 2, box.y0 - 2}, {box.x1 + 2, box.y1 + 2}, palette.selection, 2, 0, 2);
      const ImVec2 at{box.x1 + 4, box.y1 - ImGui::GetTextLineHeight()};
      if (label_fits(at, ImGui::CalcTextSize(arrow.label.c_str()))) draw->AddText(at, palette.text_dim, arrow.label.c_str());
      low = {box.x0, box.y0}, high = {box.x1, box.y1};
    } else {
      const ImVec2 from{layout.x(arrow.from), layout.y(arrow.sent)}, to{layout.x(arrow.to), layout.y(arrow.time)};
      draw->AddLine(from, to, colour, thickness);
      // The head: a triangle pointing along the arrow.
      const float dx = to.x - from.x, dy = to.y - from.y, length = std::max(std::hypot(dx, dy), 1.0f);
      const ImVec2 unit{dx / length, dy / length}, side{-unit.y, unit.x};
      draw->AddTriangleFilled(to, {to.x - unit.x * 10 + side.x * 4.5f, to.y - unit.y * 10 + side.y * 4.5f},
                              {to.x - unit.x * 10 - side.x * 4.5f, to.y - unit.y * 10 - side.y * 4.5f}, colour);
      const auto label = ui::ellipsize(arrow.label, std::max(std::abs(dx) - 16, 30.0f));
      const ImVec2 label_size = ImGui::CalcTextSize(label.c_str());
      const ImVec2 at{(from.x + to.x - label_size.x) / 2, (from.y + to.y) / 2 - label_size.y - 1};
      if (label_fits(at, label_size)) draw->AddText(at, palette.text_dim, label.c_str());
      low = {std::min(from.x, to.x), std::min(from.y, to.y)}, high = {std::max(from.x, to.x), std::max(from.y, to.y) + 1};
    }
    ui::note_region(fmt::format("arrow:{}", arrow.frame), low, high);
  }
  ImGui::PopFont();

  // Hover for the frame in words; click to go to it.
  const auto& io = ImGui::GetIO();
  if (ImGui::IsWindowHovered()) {
    if (const auto hit = layout.arrow_at(io.MousePos.x, io.MousePos.y)) {
      const auto& arrow = chart.arrows[*hit];
      const auto it = std::find_if(frames.begin(), frames.end(), [&](const FrameView& f) { return f.index == arrow.frame; });
      if (it != frames.end())
        ImGui::SetTooltip("frame %llu: %s\nsent %s, delivered %s", static_cast<unsigned long long>(arrow.frame),
                          viewer.text().summary(it->frame).c_str(), format_time(arrow.sent).c_str(), format_time(arrow.time).c_str());
      if (ImGui::IsMouseClicked(ImGuiMouseButton_Left)) {
        viewer.playback().pause();
        viewer.playback().seek_frame(arrow.frame);
        viewer.following = false;
        // And follow its request, if it belongs to one.
        if (it != frames.end() && it->frame.request()) {
          viewer.select_request(it->frame.client(), it->frame.request(), arrow.frame);
          viewer.sequence_recent = false;  // the same request again: back to its hops too
        }
      }
    }
  }
  ImGui::End();
}

}  // namespace flowframe::viewer
