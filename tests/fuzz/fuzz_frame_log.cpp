// A frame log's bytes in: read as far as they are readable, every chunk decoded or reported,
// never trusted (sizes, node and path indices, kinds, outcomes).
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <string>

#include "quiet.hpp"
#include "runtime/framelog/frame_log.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::string path = "/tmp/flowframe-fuzz-log-" + std::to_string(::getpid()) + ".ffl";
  {
    flowframe::File file{std::fopen(path.c_str(), "wb")};
    std::fwrite(data, 1, size, file.get());
  }
  try {
    flowframe::FrameLogReader reader(path);
    flowframe::DecodedChunk chunk;
    for (std::size_t i = 0; i < reader.chunks().size(); ++i) reader.read_chunk(i, chunk);
    reader.chunk_of(reader.frame_count() / 2);
  } catch (const flowframe::LogError&) {
  }
  return 0;
}
