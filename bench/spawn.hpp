#pragma once
// A tool run as a user runs it: in its own process, timed from the outside, with its peak memory.
#include <string>
#include <vector>

namespace flowframe::bench {

struct Spawned {
  int exit_code = -1;  // -1: it did not exit normally
  double wall_s = 0;
  double peak_mib = 0;
};

// Runs args[0] with args; its standard output goes to `stdout_path` ("" keeps this process's).
Spawned spawn(const std::vector<std::string>& args, const std::string& stdout_path = "");

}  // namespace flowframe::bench
