// The live wire's two decoders on any bytes, in any split: what a client sends (greeting, hello,
// control requests) and what a server streams (log records and replies). The first byte picks the
// split; every size announced must be checked before anything waits for it.
#include <cstdint>
#include <string_view>
#include <vector>

#include "quiet.hpp"
#include "runtime/live/live.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::size_t step = 1 + data[0] % 97;
  const std::string_view bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  flowframe::ClientMessages messages;
  flowframe::StreamPieces stream;
  std::vector<flowframe::StreamPieces::Piece> pieces;
  bool client_done = false, stream_done = false;
  for (std::size_t at = 0; at < bytes.size(); at += step) {
    const auto part = bytes.substr(at, step);
    if (!client_done) client_done = !messages.feed(part).empty();
    if (!stream_done) stream_done = !stream.feed(part, pieces).empty();
    messages.requests.clear();
    pieces.clear();
  }
  return 0;
}
