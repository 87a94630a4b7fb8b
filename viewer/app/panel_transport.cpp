// Transport: play / pause, step, jump to start / end, speed (0.1x to 1000x simulated time, or one
// frame per tick) and a timeline to scrub anywhere, backwards included.
#include <fmt/format.h>

#include <cmath>

#include "viewer/app/viewer.hpp"

namespace flowframe::viewer {

void draw_transport(Viewer& viewer, ImVec2 pos, ImVec2 size) {
  auto& playback = viewer.playback();
  auto& model = viewer.model();
  begin_panel("Playback", pos, size, ImGuiWindowFlags_NoTitleBar | ImGuiWindowFlags_NoScrollbar);
  if (ImGui::Button(icon::to_start)) playback.home();
  ImGui::SameLine();
  if (ImGui::Button(icon::step_back)) playback.step(-1);
  ImGui::SameLine();
  if (ImGui::Button(playback.playing() ? icon::pause : icon::play, {44, 0})) playback.toggle();
  ImGui::SameLine();
  if (ImGui::Button(icon::step_forward)) playback.step(1);
  ImGui::SameLine();
  if (ImGui::Button(icon::to_end)) playback.end();
  ImGui::SameLine();
  bool per_tick = playback.frame_per_tick();
  if (ImGui::Checkbox("frame per tick", &per_tick)) playback.set_frame_per_tick(per_tick);
  ImGui::SameLine();
  ImGui::SetNextItemWidth(200);
  float log_speed = static_cast<float>(std::log10(playback.speed()));
  ImGui::BeginDisabled(per_tick);
  if (ImGui::SliderFloat("##speed", &log_speed, -1.0f, 3.0f, fmt::format("speed {:g}x", playback.speed()).c_str()))
    playback.set_speed(std::pow(10.0, std::round(log_speed * 10) / 10));
  ImGui::EndDisabled();
  ImGui::SameLine();
  ImGui::TextDisabled("sim time");
  ImGui::SameLine();
  ImGui::PushFont(viewer.fonts().mono);
  ImGui::Text("%s", format_time(playback.time()).c_str());
  ImGui::PopFont();
  ImGui::SameLine();
  ImGui::TextDisabled("frame");
  ImGui::SameLine();
  ImGui::PushFont(viewer.fonts().mono);
  ImGui::Text("%llu / %llu", static_cast<unsigned long long>(playback.frame()),
              static_cast<unsigned long long>(model.frame_count()));
  ImGui::PopFont();
  ImGui::SameLine(ImGui::GetWindowWidth() - 76);
  if (ImGui::Button(viewer.dark() ? icon::sun : icon::moon)) viewer.set_dark(!viewer.dark());
  if (ImGui::IsItemHovered()) ImGui::SetTooltip("Light / dark theme (t)");
  ImGui::SameLine();
  if (ImGui::Button(icon::question)) viewer.show_help = !viewer.show_help;
  // Timeline in simulated time; dragging scrubs, backwards too.
  ImGui::SetNextItemWidth(-1);
  const double span = to_seconds(model.last_time() - model.first_time());
  float at = static_cast<float>(to_seconds(playback.time() - model.first_time()));
  if (viewer.live()) {
    const bool following = viewer.following;
    if (following) ImGui::PushStyleColor(ImGuiCol_Button, ImGui::ColorConvertU32ToFloat4(viewer.palette().error));
    if (ImGui::Button(viewer.run_ended() ? "ENDED" : "\xe2\x97\x8f LIVE")) viewer.following = true;
    if (following) ImGui::PopStyleColor();
    if (ImGui::IsItemHovered()) ImGui::SetTooltip("Follow the newest frame (scrubbing back leaves live)");
    ImGui::SameLine();
  }
  ImGui::SetNextItemWidth(-1);
  if (ImGui::SliderFloat("##timeline", &at, 0.0f, static_cast<float>(std::max(span, 1e-9)),
                         fmt::format("{} of {}", format_time(playback.time()), format_time(model.last_time())).c_str())) {
    playback.pause();
    playback.seek_time(model.first_time() + from_seconds(at));
    viewer.following = false;
  }
  if (viewer.live()) {
    // Steering the running simulation (the buttons above only move through what arrived).
    ImGui::TextDisabled("run");
    ImGui::SameLine();
    ImGui::BeginDisabled(viewer.run_ended());
    v1::ControlRequest request;
    if (ImGui::Button(fmt::format("{} pause run", icon::pause).c_str())) request.set_pause(true), viewer.send(request);
    ImGui::SameLine();
    if (ImGui::Button(fmt::format("{} resume run", icon::play).c_str())) request.set_resume(true), viewer.send(request);
    ImGui::SameLine();
    static int step = 10;
    ImGui::SetNextItemWidth(90);
    ImGui::InputInt("##step", &step);
    step = std::max(step, 1);
    ImGui::SameLine();
    if (ImGui::Button(fmt::format("{} step run", icon::step_forward).c_str())) request.set_step(static_cast<std::uint64_t>(step)), viewer.send(request);
    ImGui::SameLine();
    static float run_speed = 0;  // log10 of the run's speed; the run's own flag set the start
    ImGui::SetNextItemWidth(200);
    if (ImGui::SliderFloat("##runspeed", &run_speed, -1.0f, 3.0f, fmt::format("run at {:g}x", std::pow(10.0, run_speed)).c_str()) ||
        ImGui::IsItemDeactivatedAfterEdit()) {
      if (ImGui::IsItemDeactivatedAfterEdit()) request.set_speed(std::pow(10.0, std::round(run_speed * 10) / 10)), viewer.send(request);
    }
    ImGui::SameLine();
    if (ImGui::Button("flat out")) request.set_speed(0), viewer.send(request);
    ImGui::EndDisabled();
    ImGui::SameLine();
    ImGui::TextDisabled("%s", viewer.live_status().c_str());
  }
  ImGui::End();
}

void draw_help(Viewer& viewer) {
  ImGui::SetNextWindowPos(ImGui::GetMainViewport()->GetCenter(), ImGuiCond_Always, {0.5f, 0.5f});
  ImGui::SetNextWindowSize({460, 0});
  ImGui::Begin("Keyboard", &viewer.show_help, ImGuiWindowFlags_NoCollapse | ImGuiWindowFlags_NoSavedSettings);
  const char* keys[][2] = {{"Space", "play / pause"},
                           {"Right / Left", "step one frame (Shift: ten)"},
                           {"Home / End", "jump to start / end"},
                           {"+ / -", "double / halve the speed"},
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
