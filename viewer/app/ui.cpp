#include "viewer/app/ui.hpp"

#include <imgui_internal.h>

#include <utility>

namespace flowframe::viewer::ui {
namespace {

std::vector<Widget> building, complete;
bool stray = false;  // the last frame drew outside every window
std::string prefix;  // of the innermost Scope

void add(std::string name, ImVec2 min, ImVec2 max, bool control) {
  // The window's list directly: GetWindowDrawList() outside every window would show ImGui's
  // implicit Debug window.
  auto* draw = GImGui->CurrentWindow->DrawList;
  const bool enabled = (GImGui->CurrentItemFlags & ImGuiItemFlags_Disabled) == 0;
  bool scrolls = false;  // it or a window around it has a scrollbar: a user can scroll to what is cut
  for (const auto* window = GImGui->CurrentWindow; window && !scrolls; window = window->ParentWindow)
    scrolls = window->ScrollbarX || window->ScrollbarY;
  building.push_back({prefix + std::move(name), min, max, draw->GetClipRectMin(), draw->GetClipRectMax(), enabled, control, scrolls});
}

}  // namespace

Scope::Scope(std::string inner) : outer_(std::exchange(prefix, std::move(inner))) {}
Scope::~Scope() { prefix = std::move(outer_); }

std::string name_of(const char* label) {
  const std::string text(label);
  if (const auto hashes = text.find("##"); hashes != std::string::npos) return text.substr(hashes + 2);
  std::size_t start = 0;  // icons are outside ASCII; arrows too
  while (start < text.size() && (static_cast<unsigned char>(text[start]) >= 0x80 || text[start] == ' ')) ++start;
  return text.substr(start);
}

void end_frame() {
  complete.swap(building);
  building.clear();
  const auto* fallback = ImGui::FindWindowByName("Debug##Default");
  stray = fallback && fallback->WriteAccessed;
}

bool drew_outside_windows() { return stray; }

const std::vector<Widget>& last_frame() { return complete; }

void note(std::string name) { add(std::move(name), ImGui::GetItemRectMin(), ImGui::GetItemRectMax(), true); }

void note_region(std::string name, ImVec2 min, ImVec2 max, bool control) { add(std::move(name), min, max, control); }

bool begin_combo(const char* label, const char* preview, float width) {
  const ImVec2 at = ImGui::GetCursorScreenPos();
  ImGui::SetNextItemWidth(width);
  const bool open = ImGui::BeginCombo(label, preview);
  note_region(name_of(label), at, {at.x + width, at.y + ImGui::GetFrameHeight()}, true);
  return open;
}

void note_state(std::string state) { add(std::move(state), ImGui::GetItemRectMin(), ImGui::GetItemRectMax(), false); }

std::string ellipsize(const std::string& text, float room) {
  if (ImGui::CalcTextSize(text.c_str()).x <= room) return text;
  const std::string ellipsis = "\xe2\x80\xa6";
  std::size_t keep = text.size();
  while (keep > 0 && ImGui::CalcTextSize((text.substr(0, keep) + ellipsis).c_str()).x > room) {
    do --keep;
    while (keep > 0 && (static_cast<unsigned char>(text[keep]) & 0xC0) == 0x80);
  }
  return text.substr(0, keep) + ellipsis;
}

void clipped_text(const std::string& text, const ImVec4* colour) {
  const float room = ImGui::GetContentRegionAvail().x;
  if (colour) ImGui::TextColored(*colour, "%s", text.c_str());
  else ImGui::TextUnformatted(text.c_str());
  if (ImGui::CalcTextSize(text.c_str()).x > room && ImGui::IsItemHovered()) ImGui::SetTooltip("%s", text.c_str());
}

void flow(float next_width) {
  ImGui::SameLine();
  if (ImGui::GetContentRegionAvail().x < next_width) ImGui::NewLine();
}

bool button(const char* label, ImVec2 size) {
  const bool pressed = ImGui::Button(label, size);
  note(name_of(label));
  return pressed;
}

bool small_button(const char* label) {
  const bool pressed = ImGui::SmallButton(label);
  note(name_of(label));
  return pressed;
}

bool checkbox(const char* label, bool* value) {
  const bool changed = ImGui::Checkbox(label, value);
  note(name_of(label));
  return changed;
}

bool slider_float(const char* label, float* value, float low, float high, const char* format) {
  const bool changed = ImGui::SliderFloat(label, value, low, high, format);
  note(name_of(label));
  return changed;
}

bool selectable(const char* label, bool selected, ImGuiSelectableFlags flags, ImVec2 size) {
  const bool clicked = ImGui::Selectable(label, selected, flags, size);
  add(name_of(label), ImGui::GetItemRectMin(), ImGui::GetItemRectMax(), false);  // rows of a list touch
  return clicked;
}

}  // namespace flowframe::viewer::ui
