// Scenario text in: validated or refused with its problems, never a crash, hang or huge allocation.
#include <cstdint>
#include <string>

#include "quiet.hpp"
#include "runtime/scenario/scenario.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    flowframe::parse_scenario(std::string(reinterpret_cast<const char*>(data), size), "fuzz.textproto");
  } catch (const flowframe::ScenarioError&) {
  }
  return 0;
}
