#pragma once
#include <optional>
#include <string>
#include <sys/types.h>

#include "viewer/app/viewer.hpp"

namespace flowframe::viewer {

// A built-in scenario running live in a child `flowframe run … --serve`; stopped when dropped.
class RunningScenario {
 public:
  RunningScenario(const std::string& scenario, double speed);
  ~RunningScenario();
  RunningScenario(const RunningScenario&) = delete;
  RunningScenario& operator=(const RunningScenario&) = delete;
  const std::string& address() const { return address_; }

 private:
  void stop();
  pid_t child_ = -1;
  std::string address_;
  std::string log_;
};

// The home screen; returns the scenario the user opened; `build` turns true for the sandbox, and
// `edit` names a built-in scenario to open in it.
std::optional<std::string> draw_gallery(ImVec2 size, const Fonts& fonts, const std::string& error, bool& build,
                                        std::string& edit);

}  // namespace flowframe::viewer
