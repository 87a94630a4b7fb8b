#pragma once
// Controls that say where they were drawn. Every button, checkbox or slider the viewer offers goes
// through here, so scripted input (ui_script.hpp) can find it by name, click it and check that it
// is whole on screen: the viewer's UI tests drive the real window this way.
#include <imgui.h>

#include <string>
#include <vector>

namespace flowframe::viewer::ui {

struct Widget {
  std::string name;
  ImVec2 min, max;            // where it was drawn
  ImVec2 clip_min, clip_max;  // what of its window could show it
  bool enabled = true;
  bool control = true;  // false: a node drawn on the canvas or a row of a list, which may touch others
  bool scrolls = false;  // its window scrolls: being partly scrolled out of view is normal
};

// A control's name: the text after "##" if there is one, else its label without leading icons.
std::string name_of(const char* label);

// While one lives, the names recorded start with `inner` ("A/"): the two sides of a comparison
// draw the same controls, and a script tells them apart by it.
class Scope {
 public:
  explicit Scope(std::string inner);
  ~Scope();
  Scope(const Scope&) = delete;
  Scope& operator=(const Scope&) = delete;

 private:
  std::string outer_;
};

// Called once the UI of a frame is built: its widgets become the last complete frame's.
void end_frame();
const std::vector<Widget>& last_frame();
// Whether the last frame drew outside every window (ImGui then shows its implicit Debug window).
bool drew_outside_windows();

// Records the item just submitted under `name`.
void note(std::string name);
// Records something drawn by hand (a node on the canvas), or a control whose rectangle the caller
// knows (a combo box, whose open popup becomes the last item).
void note_region(std::string name, ImVec2 min, ImVec2 max, bool control = false);
// A combo box that records itself; true while it is open (then call ImGui::EndCombo).
bool begin_combo(const char* label, const char* preview, float width);
// Records what the item just submitted shows ("at frame 12"), for a script to check.
void note_state(std::string state);

// `text` cut with an ellipsis to fit `room` pixels in the current font (whole UTF-8 characters).
std::string ellipsize(const std::string& text, float room);

// Text in a table cell or a narrow place; when the space cuts it, the whole of it on hover.
void clipped_text(const std::string& text, const ImVec4* colour = nullptr);

// Next on the same line if `next_width` pixels fit there, else on a new line.
void flow(float next_width);

bool button(const char* label, ImVec2 size = {0, 0});
bool small_button(const char* label);
bool checkbox(const char* label, bool* value);
bool slider_float(const char* label, float* value, float low, float high, const char* format);
bool selectable(const char* label, bool selected, ImGuiSelectableFlags flags = 0, ImVec2 size = {0, 0});

}  // namespace flowframe::viewer::ui
