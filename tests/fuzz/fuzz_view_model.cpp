// The viewer's model on any bytes: open, seek to the start, the middle and the end, rebuild state.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <string>

#include "quiet.hpp"
#include "runtime/framelog/frame_log.hpp"
#include "viewer/model/log_model.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::string path = "/tmp/flowframe-fuzz-view-" + std::to_string(::getpid()) + ".ffl";
  {
    flowframe::File file{std::fopen(path.c_str(), "wb")};
    std::fwrite(data, 1, size, file.get());
  }
  try {
    flowframe::view::LogModel model(path);
    const auto count = model.frame_count();
    for (const std::uint64_t at : {std::uint64_t{0}, count / 2, count ? count - 1 : 0}) {
      model.world_at(at, true);
      model.frame(at, true);
    }
    model.frame_at_time((model.first_time() / 2) + (model.last_time() / 2), true);
  } catch (const flowframe::LogError&) {
  }
  return 0;
}
