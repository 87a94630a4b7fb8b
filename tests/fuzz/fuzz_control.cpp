// Live controls in: as the words `flowframe control` takes, and as the protobuf a peer sends,
// judged against a server as the run judges them.
#include <cstdint>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "quiet.hpp"
#include "runtime/live/live.hpp"
#include "runtime/scenario/scenario.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const auto scenario = flowframe::load_scenario("load_balancing");
  const std::string text(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> words;
  std::istringstream split(text);
  for (std::string word; split >> word;) words.push_back(word);
  try {
    flowframe::parse_control(words);
  } catch (const std::invalid_argument&) {
  }
  flowframe::v1::ControlRequest request;
  if (request.ParseFromString(text) && flowframe::control_problem(request).empty())
    for (const auto& node : scenario.nodes()) flowframe::check_control(request, node);
  return 0;
}
