// Structure-aware: the input is not a log's bytes but what a log holds. It picks a built-in
// scenario's header, then damages its node and path tables and makes frames of any values (nodes,
// paths, kinds, outcomes, note ranges, times) and chunk boundaries. The writer gives them valid
// framing, checksums and compression, so every mutation reaches the checks behind the checksums:
// the reader, the frame text `flowframe inspect` prints and the viewer's model must refuse or
// report, never trust.
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "quiet.hpp"
#include "runtime/engine/kinds.hpp"
#include "runtime/engine/simulation.hpp"
#include "runtime/framelog/frame_log.hpp"
#include "runtime/framelog/frame_text.hpp"
#include "runtime/scenario/scenario.hpp"
#include "viewer/model/log_model.hpp"
#include "viewer/model/queries.hpp"

namespace {

// Hands out the input's bytes as numbers; zeros once it runs out.
class Bytes {
 public:
  Bytes(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}
  template <class T>
  T take() {
    T value{};
    const auto n = std::min(sizeof value, size_ - at_);
    std::memcpy(&value, data_ + at_, n);
    at_ += n;
    return value;
  }
  std::size_t left() const { return size_ - at_; }

 private:
  const std::uint8_t* data_;
  std::size_t size_;
  std::size_t at_ = 0;
};

const std::vector<flowframe::v1::LogHeader>& headers() {
  static const auto made = [] {
    std::vector<flowframe::v1::LogHeader> out;
    for (const auto& builtin : flowframe::builtin_scenarios()) {
      const flowframe::Simulation simulation(flowframe::load_scenario(builtin.name), {}, flowframe::make_component);
      out.push_back(simulation.header());
    }
    return out;
  }();
  return made;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace flowframe;
  static const std::string path = "/tmp/flowframe-fuzz-structure-" + std::to_string(::getpid()) + ".ffl";
  Bytes in(data, size);
  auto header = headers()[in.take<std::uint8_t>() % headers().size()];
  // Damage the tables frames index into: drop, duplicate or retype nodes, drop paths.
  for (auto edits = in.take<std::uint8_t>() % 4; edits > 0; --edits) {
    const auto what = in.take<std::uint8_t>();
    auto& nodes = *header.mutable_nodes();
    if (nodes.empty()) break;
    const int at = static_cast<int>(in.take<std::uint16_t>() % nodes.size());
    switch (what % 4) {
      case 0: nodes.erase(nodes.begin() + at); break;
      case 1: *header.add_nodes() = nodes.Get(at); break;
      case 2: nodes.Mutable(at)->set_kind(static_cast<v1::Node::Kind>(in.take<std::uint8_t>() % 32)); break;
      case 3: header.mutable_paths()->Clear(); break;
    }
  }
  std::string notes;
  for (auto n = in.take<std::uint8_t>(); n > 0 && in.left() > 0; --n) notes.push_back(static_cast<char>(in.take<std::uint8_t>()));
  try {
    {
      FrameLogWriter writer(path, header, 1);
      // Most chunks start from a keyframe (every node's state), so the model applies the frames.
      v1::Keyframe empty;
      const auto keyframe = [&]() -> const v1::Keyframe* { return in.take<std::uint8_t>() < 224 ? &empty : nullptr; };
      std::vector<FrameRecord> frames;
      Time time = 0;
      while (in.left() > 0 && frames.size() < 4096) {
        FrameRecord frame{};
        time += in.take<std::uint16_t>();
        frame.key.deliver = time;
        frame.key.order = frames.size();
        frame.sent = time - in.take<std::uint8_t>();
        frame.request = in.take<std::uint8_t>();
        frame.id = frames.size();
        frame.src = in.take<std::uint8_t>();
        frame.dst = in.take<std::uint8_t>();
        frame.client = in.take<std::uint8_t>();
        frame.chosen = in.take<std::uint8_t>() == 255 ? kNoNode : in.take<std::uint8_t>();
        frame.path = in.take<std::uint8_t>();
        frame.load = in.take<std::uint8_t>();
        frame.queue = in.take<std::uint8_t>();
        // The engine's note ranges lie inside its notes (the writer trusts them); what they hold
        // (text, a previous value, a live change, a node's state) is anything.
        frame.note_offset = in.take<std::uint8_t>() % (notes.size() + 1);
        auto room = static_cast<std::uint32_t>(notes.size() - frame.note_offset);
        const auto part = [&] { return room == 0 ? 0u : in.take<std::uint8_t>() % (room + 1); };
        room -= frame.note_size = part();
        room -= frame.previous_size = static_cast<std::uint16_t>(part());
        room -= frame.change_size = static_cast<std::uint16_t>(part());
        frame.state_size = part();
        frame.status = in.take<std::uint16_t>();
        frame.kind = static_cast<EventKind>(in.take<std::uint8_t>() % 8);
        frame.outcome = static_cast<Outcome>(in.take<std::uint8_t>() % 32);
        frames.push_back(frame);
        if (in.take<std::uint8_t>() < 16) {  // end the chunk here
          writer.write_chunk(keyframe(), frames.data(), frames.size(), notes);
          frames.clear();
        }
      }
      if (!frames.empty()) writer.write_chunk(keyframe(), frames.data(), frames.size(), notes);
      writer.finish();
    }
    FrameLogReader reader(path);
    const FrameText text(reader.header());
    DecodedChunk chunk;
    for (std::size_t i = 0; i < reader.chunks().size(); ++i)
      if (reader.read_chunk(i, chunk))
        for (const auto& frame : chunk.frames) text.line(frame), text.json(frame);
    view::LogModel model(path);
    const auto count = model.frame_count();
    // What the canvas draws from the header: links between nodes, a selected node's neighbours.
    view::linked_pairs(model.header());
    for (std::uint32_t node = 0; node < model.node_count() + 2; ++node) view::neighbours(model.header(), node);
    for (const std::uint64_t at : {std::uint64_t{0}, count / 2, count ? count - 1 : 0}) {
      model.world_at(at, true);
      if (const auto frame = model.frame(at, true)) {
        concludes_request(frame->frame, model.header());
        view::trace_request(model, frame->frame.client(), frame->frame.request(), at);
      }
    }
  } catch (const LogError&) {
  }
  std::remove(path.c_str());
  return 0;
}
