// A share link's text in: decoded and checked, or refused with why. The same bytes read as a
// scenario message are also made into a link with a valid checksum first, so mutations reach the
// checks behind it (what a crafted link carries) and not only the checksum.
#include <cstdint>
#include <stdexcept>
#include <string>

#include "flowframe/v1/scenario.pb.h"
#include "quiet.hpp"
#include "runtime/learn/share_link.hpp"
#include "runtime/scenario/scenario.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const auto scenario = flowframe::decode_link(std::string(reinterpret_cast<const char*>(data), size));
    flowframe::encode_link(scenario);
  } catch (const std::invalid_argument&) {
  }
  flowframe::v1::Scenario crafted;
  if (crafted.ParseFromArray(data, static_cast<int>(size))) try {
      flowframe::decode_link(flowframe::encode_link(crafted));
    } catch (const std::invalid_argument&) {
    }
  return 0;
}
