#pragma once
// The playback controls and keys, for any cursor with view::Playback's controls: one log's
// playback, or two runs locked by simulated time (view::LockedPlayback).
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "viewer/app/viewer.hpp"

namespace flowframe::viewer {

// What the theme and help buttons or keys asked for.
struct TransportAsks {
  bool toggle_theme = false, toggle_help = false, close_help = false;
};

// Space, arrows (Shift: ten), Home / End, + and -; t and ? into `asks`.
template <class Cursor>
void transport_keys(Cursor& cursor, TransportAsks& asks) {
  auto& io = ImGui::GetIO();
  if (io.WantTextInput) return;
  auto pressed = [](ImGuiKey key) { return ImGui::IsKeyPressed(ImGui::GetKeyIndex(key)); };
  if (pressed(ImGuiKey_Space)) cursor.toggle();
  if (pressed(ImGuiKey_RightArrow)) cursor.step(io.KeyShift ? 10 : 1);
  if (pressed(ImGuiKey_LeftArrow)) cursor.step(io.KeyShift ? -10 : -1);
  if (pressed(ImGuiKey_Home)) cursor.home();
  if (pressed(ImGuiKey_End)) cursor.end();
  if (pressed(ImGuiKey_Escape)) asks.close_help = true;
  for (int i = 0; i < io.InputQueueCharacters.Size; ++i) {
    const auto c = io.InputQueueCharacters[i];
    if (c == '?') asks.toggle_help = true;
    if (c == 't') asks.toggle_theme = true;
    if (c == '+' || c == '=') cursor.set_rate(cursor.rate() * 2);
    if (c == '-') cursor.set_rate(cursor.rate() / 2);
  }
}

// The row of buttons: to start, step back, play, step forward, to end, the pace and its rate, and
// in the corner theme and help.
template <class Cursor>
void transport_row(Cursor& cursor, bool dark, TransportAsks& asks) {
  if (ui::button(fmt::format("{}##to start", icon::to_start).c_str())) cursor.home();
  ImGui::SameLine();
  if (ui::button(fmt::format("{}##step back", icon::step_back).c_str())) cursor.step(-1);
  ImGui::SameLine();
  if (ui::button(fmt::format("{}##play", cursor.playing() ? icon::pause : icon::play).c_str(), {44, 0})) cursor.toggle();
  ui::note_state(cursor.playing() ? "playing" : "paused");
  ImGui::SameLine();
  if (ui::button(fmt::format("{}##step forward", icon::step_forward).c_str())) cursor.step(1);
  ImGui::SameLine();
  if (ui::button(fmt::format("{}##to end", icon::to_end).c_str())) cursor.end();
  ImGui::SameLine();
  // How it moves: simulated time, frames per second, or story (every hop a visible moment).
  const char* paces[] = {"sim time", "frames/s", "story"};
  const int pace = static_cast<int>(cursor.pace());
  if (ui::begin_combo("##pace", paces[pace], 100)) {
    for (int k = 0; k < 3; ++k)
      if (ui::selectable(fmt::format("{}##pace {}", paces[k], paces[k]).c_str(), k == pace))
        cursor.set_pace(static_cast<view::Playback::Pace>(k));
    ImGui::EndCombo();
  } else if (ImGui::IsItemHovered())
    ImGui::SetTooltip("sim time: simulated seconds per second\nframes/s: frames per second\nstory: hops per second, each hop crossing its link");
  ImGui::SameLine();
  const float corner_buttons = 2 * ImGui::GetFrameHeight() + 2 * ImGui::GetStyle().ItemSpacing.x + 8;
  ImGui::SetNextItemWidth(std::clamp(ImGui::GetContentRegionAvail().x - corner_buttons, 80.0f, 220.0f));
  const auto [low, high] = cursor.rate_range();
  float log_rate = static_cast<float>(std::log10(cursor.rate()));
  const char* unit = cursor.pace() == view::Playback::Pace::sim_time ? "x" : cursor.pace() == view::Playback::Pace::frames ? " frames/s" : " hops/s";
  if (ui::slider_float("##rate", &log_rate, static_cast<float>(std::log10(low)), static_cast<float>(std::log10(high)),
                       fmt::format("{:.3g}{}", cursor.rate(), unit).c_str()))
    cursor.set_rate(std::pow(10.0, std::round(log_rate * 10) / 10));
  ui::note_state(fmt::format("{:.3g}{}", cursor.rate(), unit));
  ImGui::SameLine(std::max(ImGui::GetCursorPosX(), ImGui::GetWindowContentRegionMax().x - corner_buttons + 8));
  if (ui::button(fmt::format("{}##theme", dark ? icon::sun : icon::moon).c_str(), {ImGui::GetFrameHeight(), 0})) asks.toggle_theme = true;
  ui::note_state(dark ? "dark theme" : "light theme");
  if (ImGui::IsItemHovered()) ImGui::SetTooltip("Light / dark theme (t)");
  ImGui::SameLine();
  if (ui::button(fmt::format("{}##help", icon::question).c_str(), {ImGui::GetFrameHeight(), 0})) asks.toggle_help = true;
}

// The timeline in simulated time from `first` to `last`, filling the rest of the line; dragging
// scrubs (backwards too). `where` is its label. True when scrubbed.
template <class Cursor>
bool transport_timeline(Cursor& cursor, Time first, Time last, const std::string& where) {
  const double span = to_seconds(last - first);
  float at = static_cast<float>(to_seconds(cursor.time() - first));
  ImGui::SetNextItemWidth(-1);
  if (!ui::slider_float("##timeline", &at, 0.0f, static_cast<float>(std::max(span, 1e-9)), where.c_str())) return false;
  cursor.pause();
  cursor.seek_time(first + from_seconds(at));
  return true;
}

}  // namespace flowframe::viewer
