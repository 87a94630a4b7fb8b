// A share link's text in: decoded and checked, or refused with why.
#include <cstdint>
#include <stdexcept>
#include <string>

#include "quiet.hpp"
#include "runtime/learn/share_link.hpp"
#include "runtime/scenario/scenario.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const auto scenario = flowframe::decode_link(std::string(reinterpret_cast<const char*>(data), size));
    flowframe::encode_link(scenario);
  } catch (const std::invalid_argument&) {
  }
  return 0;
}
