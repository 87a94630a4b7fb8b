#pragma once
// The sandbox ("Build"): sketch a topology, edit it with undo / redo, save, share, run it live.
#include <string>
#include <vector>

#include "viewer/app/viewer.hpp"
#include "viewer/model/design.hpp"

namespace flowframe::viewer {

struct Sandbox {
  view::Design design;
  std::string selected;
  std::string status;
  std::string path = "my_design.textproto";
  std::string params;      // the selected node's parameters being edited
  std::string params_for;  // whose
  std::vector<std::string> typing_problems;  // what the loader says about `params` as typed
  std::string mix, mix_shown;  // the request mix being edited, and the design's when editing began
  std::string dragging, linking;
  float scale = 70;
  ImVec2 offset{100, 120};
  bool fit_pending = true;  // a design just opened: fit it to the canvas
};

enum class SandboxAction { none, back, run };

SandboxAction draw_sandbox(Sandbox& sandbox, ImVec2 size, const Fonts& fonts, bool dark);

}  // namespace flowframe::viewer
