#include "viewer/app/ui_script.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>
#include <utility>

#include "viewer/app/ui.hpp"

namespace flowframe::viewer {
namespace {

// Keys by the ImGui key the viewer reads them as.
const std::map<std::string, ImGuiKey> kKeys = {{"space", ImGuiKey_Space}, {"left", ImGuiKey_LeftArrow},
                                               {"right", ImGuiKey_RightArrow}, {"home", ImGuiKey_Home},
                                               {"end", ImGuiKey_End},   {"escape", ImGuiKey_Escape}};

// By name; a name ending in * matches any name it begins.
const ui::Widget* find(const std::string& name) {
  const bool prefix = !name.empty() && name.back() == '*';
  const auto wanted = prefix ? name.substr(0, name.size() - 1) : name;
  for (const auto& widget : ui::last_frame())
    if (prefix ? widget.name.rfind(wanted, 0) == 0 : widget.name == name) return &widget;
  return nullptr;
}

// Whole inside what its window shows and inside the screen ("" if so, else what is cut).
std::string cut(const ui::Widget& w, ImVec2 display) {
  constexpr float slack = 1;
  if (w.min.x < 0 - slack || w.min.y < 0 - slack || w.max.x > display.x + slack || w.max.y > display.y + slack)
    return fmt::format("it lies partly off screen ({:.0f},{:.0f})-({:.0f},{:.0f})", w.min.x, w.min.y, w.max.x, w.max.y);
  if (w.min.x < w.clip_min.x - slack || w.min.y < w.clip_min.y - slack || w.max.x > w.clip_max.x + slack ||
      w.max.y > w.clip_max.y + slack)
    return fmt::format("its window cuts it: ({:.0f},{:.0f})-({:.0f},{:.0f}) shown within ({:.0f},{:.0f})-({:.0f},{:.0f})",
                       w.min.x, w.min.y, w.max.x, w.max.y, w.clip_min.x, w.clip_min.y, w.clip_max.x, w.clip_max.y);
  return "";
}

bool scrolled_away(const ui::Widget& w) {
  return w.max.x <= w.clip_min.x || w.max.y <= w.clip_min.y || w.min.x >= w.clip_max.x || w.min.y >= w.clip_max.y;
}

bool overlap(const ui::Widget& a, const ui::Widget& b) {
  constexpr float slack = 1;
  return std::min(a.max.x, b.max.x) - std::max(a.min.x, b.min.x) > slack &&
         std::min(a.max.y, b.max.y) - std::max(a.min.y, b.min.y) > slack;
}

// Every control on screen is whole and clear of the others ("" if so).
std::string untidy(ImVec2 display) {
  if (ui::drew_outside_windows()) return "something was drawn outside every window: ImGui's Debug window shows";
  std::vector<const ui::Widget*> shown;
  for (const auto& widget : ui::last_frame()) {
    if (!widget.control || (widget.scrolls && scrolled_away(widget))) continue;
    if (auto problem = cut(widget, display); !problem.empty() && !widget.scrolls) return widget.name + ": " + problem;
    shown.push_back(&widget);
  }
  for (std::size_t i = 0; i < shown.size(); ++i)
    for (std::size_t j = i + 1; j < shown.size(); ++j)
      if (overlap(*shown[i], *shown[j])) return shown[i]->name + " and " + shown[j]->name + " overlap";
  return "";
}

std::string drawn_names() {
  std::string names;
  for (const auto& widget : ui::last_frame())
    if (widget.control && names.size() < 600) names += (names.empty() ? "" : ", ") + widget.name;
  return names;
}

ImVec2 centre(const ui::Widget& w) { return {(w.min.x + w.max.x) / 2, (w.min.y + w.max.y) / 2}; }

}  // namespace

UiScript::UiScript(const std::string& path) : path_(path) {
  std::ifstream in(path);
  if (!in) throw std::invalid_argument(path + ": cannot read the script");
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    if (const auto hash = line.find('#'); hash != std::string::npos && (hash == 0 || line[hash - 1] == ' ')) line.resize(hash);
    std::istringstream words(line);
    Step step;
    step.line = number;
    if (!(words >> step.verb)) continue;
    auto rest = [&] {
      std::string text;
      std::getline(words >> std::ws, text);
      while (!text.empty() && text.back() == ' ') text.pop_back();
      return text;
    };
    auto bad = [&](const std::string& why) { return std::invalid_argument(fmt::format("{}:{}: {}", path, number, why)); };
    if (step.verb == "scroll") {
      if (!(words >> step.dy)) throw bad("scroll needs STEPS then NAME");
    } else if (step.verb == "drag") {
      if (!(words >> step.dx >> step.dy)) throw bad("drag needs DX DY then NAME");
    } else if (step.verb == "wait") {
      if (!(words >> step.dx) || step.dx < 0) throw bad("wait needs a number of frames");
    }
    const auto argument = rest();
    if (step.verb == "type" || step.verb == "screenshot" || step.verb == "key") step.text = argument;
    else step.name = argument;
    static const std::set<std::string> kExpects = {"expect", "expect-gone", "expect-visible", "expect-hidden",
                                                   "expect-enabled", "expect-disabled", "expect-tidy"};
    const bool named = step.verb == "click" || step.verb == "scroll" || step.verb == "drag" || kExpects.count(step.verb);
    const bool known = named || step.verb == "wait" || step.verb == "type" || step.verb == "screenshot" || step.verb == "key";
    if (!known) throw bad("unknown command '" + step.verb + "' (click, scroll, drag, key, type, wait, expect…, screenshot)");
    if (step.verb == "key" && !kKeys.count(step.text)) throw bad("unknown key '" + step.text + "' (space, left, right, home, end, escape)");
    if (step.verb == "expect-tidy") {
      if (!step.name.empty()) throw bad("expect-tidy takes no name");
    } else if (named && step.name.empty()) {
      throw bad(step.verb + " needs the NAME of a control");
    }
    if ((step.verb == "type" || step.verb == "screenshot") && step.text.empty()) throw bad(step.verb + " needs an argument");
    steps_.push_back(step);
  }
}

void UiScript::fail(const Step& step, const std::string& why) {
  failure_ = fmt::format("{}:{}: {} {}: {}", path_, step.line, step.verb, step.name.empty() ? step.text : step.name, why);
}

void UiScript::next() {
  ++step_;
  frames_in_step_ = 0;
  phase_ = 0;
}

void UiScript::feed(ImGuiIO& io) {
  // The script owns the pointer: a real one under Xvfb must not interfere.
  io.MousePos = mouse_;
  io.MouseDown[0] = false;
  io.MouseWheel = 0;
  if (key_down_ >= 0) io.KeysDown[key_down_] = false, key_down_ = -1;
  if (done()) return;
  const auto& step = steps_[step_];
  if (step.verb == "key" && frames_in_step_ == 0) {  // pressed for one frame, released the next
    key_down_ = io.KeyMap[kKeys.at(step.text)];
    io.KeysDown[key_down_] = true;
  }
  if (step.verb == "type" && frames_in_step_ == 0)
    for (const char c : step.text) io.AddInputCharacter(static_cast<unsigned char>(c));
  if (phase_ == 0) return;  // the target is not found yet
  // Two frames hovering first: ImGui gives a click to what was hovered in the frame before.
  if (step.verb == "click") io.MouseDown[0] = phase_ == 3;
  if (step.verb == "scroll" && phase_ == 3) io.MouseWheel = step.dy;
  // A drag: held from phase 3, the whole move made while held, released one frame after.
  if (step.verb == "drag" && phase_ >= 3) {
    const float done_part = std::min(1.0f, static_cast<float>(phase_ - 3) / kDragFrames);
    mouse_ = {grab_.x + step.dx * done_part, grab_.y + step.dy * done_part};
    io.MousePos = mouse_;
    io.MouseDown[0] = phase_ <= 3 + kDragFrames;
  }
}

void UiScript::advance(ImVec2 display) {
  if (done()) return;
  const auto& step = steps_[step_];
  ++frames_in_step_;
  const bool patience_left = frames_in_step_ < kPatience;
  const auto* widget = step.name.empty() ? nullptr : find(step.name);
  if (step.verb == "wait") {
    if (frames_in_step_ >= static_cast<int>(step.dx)) next();
  } else if (step.verb == "key") {
    if (frames_in_step_ >= 2) next();  // a frame up after the press, so the same key twice is two presses
  } else if (step.verb == "type" || step.verb == "screenshot") {
    if (step.verb == "screenshot") screenshot_ = step.text;
    next();
  } else if (step.verb == "expect") {
    if (widget) next();
    else if (!patience_left) fail(step, "not drawn (drawn: " + drawn_names() + ")");
  } else if (step.verb == "expect-gone") {
    if (!widget) next();
    else if (!patience_left) fail(step, "still drawn");
  } else if (step.verb == "expect-visible") {
    const auto problem = widget ? cut(*widget, display) : "not drawn (drawn: " + drawn_names() + ")";
    if (problem.empty()) next();
    else if (!patience_left) fail(step, problem);
  } else if (step.verb == "expect-hidden") {  // drawn, but not whole on screen (zoomed or scrolled away)
    if (widget && !cut(*widget, display).empty()) next();
    else if (!patience_left) fail(step, widget ? "whole on screen" : "not drawn");
  } else if (step.verb == "expect-enabled" || step.verb == "expect-disabled") {
    const bool want = step.verb == "expect-enabled";
    if (widget && widget->enabled == want) next();
    else if (!patience_left) fail(step, widget ? (want ? "disabled" : "enabled") : "not drawn (drawn: " + drawn_names() + ")");
  } else if (step.verb == "expect-tidy") {
    const auto problem = untidy(display);
    if (problem.empty()) next();
    else if (!patience_left) fail(step, problem);
  } else if (phase_ == 0) {  // click, scroll, drag: find the target first
    const std::string problem = !widget ? "not drawn (drawn: " + drawn_names() + ")"
                                : !widget->enabled ? "disabled"
                                                   : cut(*widget, display);
    if (problem.empty()) {
      phase_ = 1;
      grab_ = mouse_ = centre(*widget);
    } else if (!patience_left) {
      fail(step, problem);
    }
  } else {
    // The target may move while it is pressed (a live log arriving): follow it, and fail if it went.
    if (step.verb == "click" && phase_ < 3) {
      if (!widget) return fail(step, "it went away before it was clicked");
      grab_ = mouse_ = centre(*widget);
    }
    const int last_phase = step.verb == "drag" ? 4 + kDragFrames : step.verb == "click" ? 4 : 3;
    if (phase_++ >= last_phase) next();
  }
}

std::string UiScript::unfinished() const {
  if (done()) return "";
  const auto& step = steps_[step_];
  return fmt::format("{}:{}: {} {}: the viewer closed before the script ended", path_, step.line, step.verb,
                     step.name.empty() ? step.text : step.name);
}

std::string UiScript::take_screenshot() { return std::exchange(screenshot_, ""); }

}  // namespace flowframe::viewer
