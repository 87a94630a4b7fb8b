#pragma once
// Scripted input for the real viewer window (`flowframe-view … --script FILE`): the viewer's UI
// tests click, type and check what is on screen through it. One command per line, # comments:
//
//   click NAME            move onto NAME, press, release (NAME must be whole on screen and enabled)
//   scroll STEPS NAME     turn the wheel over NAME (positive: zoom in on the canvas)
//   drag DX DY NAME       press on NAME, move by DX,DY pixels, release
//   key KEY               space, left, right, home, end, escape
//   type TEXT             characters, as typed
//   wait FRAMES           let FRAMES UI frames pass
//   expect NAME           NAME is drawn          expect-gone NAME      it is not
//   expect-visible NAME   whole inside its window and the screen
//   expect-hidden NAME    drawn, but not whole on screen
//   expect-enabled NAME   expect-disabled NAME
//   expect-tidy           every control is whole on screen and overlaps no other control, and
//                         nothing was drawn outside the windows
//   screenshot PATH       write the window as a PNG
//
// NAME is a control's name (ui.hpp): its label without icons, or the id after "##"; canvas nodes
// are "node:ID"; a NAME ending in * matches names that begin with it. Checks wait up to kPatience frames for the UI to get there, as a person would.
#include <imgui.h>

#include <string>
#include <vector>

namespace flowframe::viewer {

class UiScript {
 public:
  static constexpr int kPatience = 360;  // frames (about 6 s)

  // Throws std::invalid_argument naming file:line for a command it does not know.
  explicit UiScript(const std::string& path);

  // Before ImGui::NewFrame: this frame's mouse, wheel and keys.
  void feed(ImGuiIO& io);
  // After the frame's UI was built (ui::end_frame): checks and moves on.
  void advance(ImVec2 display);
  // A screenshot the last step asked for ("" if none); taken after rendering.
  std::string take_screenshot();

  bool done() const { return step_ >= steps_.size() || !failure_.empty(); }
  // The step the script is at, for a run that ended before the script did.
  std::string unfinished() const;
  const std::string& failure() const { return failure_; }

 private:
  struct Step {
    int line = 0;
    std::string verb, name, text;
    float dx = 0, dy = 0;
  };
  void fail(const Step& step, const std::string& why);
  void next();

  std::string path_;
  std::vector<Step> steps_;
  std::size_t step_ = 0;
  int frames_in_step_ = 0;
  static constexpr int kDragFrames = 6;
  int phase_ = 0;  // of a click, scroll or drag: 0 until its target is found
  ImVec2 mouse_{-1, -1}, grab_{-1, -1};
  std::string failure_, screenshot_;
  int key_down_ = -1;
};

}  // namespace flowframe::viewer
