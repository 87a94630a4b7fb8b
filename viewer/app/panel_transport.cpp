// Transport: play / pause, step, jump to start / end, the pace (simulated time, frames per second
// or story) and a timeline to scrub anywhere, backwards included.
#include <fmt/format.h>

#include <cmath>

#include "viewer/app/transport.hpp"

namespace flowframe::viewer {

void draw_transport(Viewer& viewer, ImVec2 pos, ImVec2 size) {
  auto& playback = viewer.playback();
  auto& model = viewer.model();
  begin_panel("Playback", pos, size, ImGuiWindowFlags_NoTitleBar | ImGuiWindowFlags_NoScrollbar);
  TransportAsks asks;
  transport_row(playback, viewer.dark(), asks);
  if (asks.toggle_theme) viewer.set_dark(!viewer.dark());
  if (asks.toggle_help) viewer.show_help = !viewer.show_help;
  // Timeline in simulated time; dragging scrubs, backwards too. Its label says where playback is.
  if (viewer.live()) {
    const bool following = viewer.following;
    if (following) ImGui::PushStyleColor(ImGuiCol_Button, ImGui::ColorConvertU32ToFloat4(viewer.palette().error));
    if (ui::button(viewer.run_ended() ? "ENDED" : "\xe2\x97\x8f LIVE")) viewer.following = true;
    if (following) ImGui::PopStyleColor();
    if (ImGui::IsItemHovered()) ImGui::SetTooltip("Follow the newest frame (scrubbing back leaves live)");
    ImGui::SameLine();
  }
  const auto where = fmt::format("frame {} / {}   {} of {}", playback.frame(), model.frame_count(), format_time(playback.time()),
                                 format_time(model.last_time()));
  if (transport_timeline(playback, model.first_time(), model.last_time(), where)) viewer.following = false;
  ui::note_state(fmt::format("at frame {}", playback.frame()));
  if (viewer.live()) {
    // Steering the running simulation (the buttons above only move through what arrived).
    ImGui::TextDisabled("run");
    ImGui::SameLine();
    if (viewer.can_restart) {
      if (ui::button(fmt::format("{} restart run", icon::restart).c_str())) viewer.wants_restart = true;
      if (ImGui::IsItemHovered()) ImGui::SetTooltip("Start this run again from the beginning");
      ui::flow(ImGui::CalcTextSize("pause run").x + 40);
    }
    ImGui::BeginDisabled(viewer.run_ended());
    v1::ControlRequest request;
    if (ui::button(fmt::format("{} pause run", icon::pause).c_str())) request.set_pause(true), viewer.send(request);
    ui::flow(ImGui::CalcTextSize("resume run").x + 40);
    if (ui::button(fmt::format("{} resume run", icon::play).c_str())) request.set_resume(true), viewer.send(request);
    ui::flow(90);
    static int step = 10;
    ImGui::SetNextItemWidth(90);
    ImGui::InputInt("##step", &step);
    ui::note("step count");
    step = std::max(step, 1);
    ui::flow(ImGui::CalcTextSize("step run").x + 40);
    if (ui::button(fmt::format("{} step run", icon::step_forward).c_str())) request.set_step(static_cast<std::uint64_t>(step)), viewer.send(request);
    ui::flow(140);
    static float run_speed = 0;  // log10 of the run's speed; the run's own flag set the start
    ImGui::SetNextItemWidth(std::clamp(ImGui::GetContentRegionAvail().x - 90, 140.0f, 200.0f));
    if (ui::slider_float("##runspeed", &run_speed, -1.0f, 3.0f, fmt::format("run at {:g}x", std::pow(10.0, run_speed)).c_str()) ||
        ImGui::IsItemDeactivatedAfterEdit()) {
      if (ImGui::IsItemDeactivatedAfterEdit()) request.set_speed(std::pow(10.0, std::round(run_speed * 10) / 10)), viewer.send(request);
    }
    ui::flow(ImGui::CalcTextSize("flat out").x + 20);
    if (ui::button("flat out")) request.set_speed(0), viewer.send(request);
    ImGui::EndDisabled();
    ui::flow(ImGui::CalcTextSize(viewer.live_status().c_str()).x);
    ImGui::TextDisabled("%s", viewer.live_status().c_str());
    ui::note("status: " + viewer.live_status());
  }
  ImGui::End();
}

void draw_help(Viewer& viewer) {
  ImGui::SetNextWindowPos(ImGui::GetMainViewport()->GetCenter(), ImGuiCond_Always, {0.5f, 0.5f});
  ImGui::SetNextWindowSize({460, 0});
  ImGui::Begin("Keyboard", &viewer.show_help, ImGuiWindowFlags_NoCollapse | ImGuiWindowFlags_NoSavedSettings);
  ui::note_region("Keyboard help", ImGui::GetWindowPos(),
                  {ImGui::GetWindowPos().x + ImGui::GetWindowSize().x, ImGui::GetWindowPos().y + ImGui::GetWindowSize().y});
  const char* keys[][2] = {{"Space", "play / pause"},
                           {"Right / Left", "step one frame (Shift: ten)"},
                           {"Home / End", "jump to start / end"},
                           {"+ / -", "double / halve the pace's rate"},
                           {"t", "light / dark theme"},
                           {"?", "this help (Esc closes)"},
                           {"click a node", "inspect its state at the current frame"},
                           {"click a dot or a frame", "trace that request"},
                           {"drag / wheel", "pan / zoom the canvas"}};
  if (ImGui::BeginTable("keys", 2)) {
    for (auto& row : keys) {
      ImGui::TableNextRow();
      ImGui::TableNextColumn();
      ImGui::PushFont(viewer.fonts().mono);
      ImGui::TextUnformatted(row[0]);
      ImGui::PopFont();
      ImGui::TableNextColumn();
      ImGui::TextUnformatted(row[1]);
    }
    ImGui::EndTable();
  }
  ImGui::End();
}

}  // namespace flowframe::viewer
