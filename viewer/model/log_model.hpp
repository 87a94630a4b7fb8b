#pragma once
// The viewer's data model (Tracy's Worker, for frame logs): the log's frames by index and time, a
// bounded cache of decoded chunks filled by a background thread, and every node's state at any
// frame. No UI code: the viewer draws it, the CLI and the tests use it directly.
#include <atomic>
#include <condition_variable>
#include <deque>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <unordered_map>

#include "runtime/framelog/frame_log.hpp"

namespace flowframe::view {

// A node as a viewer shows it just after some frame.
struct NodeView {
  std::uint32_t load = 0;   // from the latest frame delivered to it
  std::uint32_t queue = 0;
  v1::NodeState state;      // latest whole state: from a keyframe or a frame that carried it
  std::uint64_t state_frame = 0;  // the frame that state is as of
};

// Every node's state just after frame `frame` (nothing applied yet: frame == kNone).
struct World {
  static constexpr std::uint64_t kNone = UINT64_MAX;
  std::uint64_t frame = kNone;
  Time time = 0;
  std::vector<NodeView> nodes;

  void start(const v1::Keyframe& keyframe, std::size_t node_count);
  void apply(const FrameView& view);
};

class LogModel {
 public:
  // Chunks kept decoded; bounds memory however large the log (a chunk is ~16k frames).
  static constexpr std::size_t kCachedChunks = 48;
  // Frames after the current one the canvas reads at most each UI frame for requests in flight.
  static constexpr std::uint64_t kInFlightScan = 4000;

  // Throws LogError if the file is not a readable frame log.
  explicit LogModel(const std::string& path);
  ~LogModel();
  LogModel(const LogModel&) = delete;
  LogModel& operator=(const LogModel&) = delete;

  const std::string& path() const { return path_; }
  const v1::LogHeader& header() const { return header_; }
  std::size_t node_count() const { return static_cast<std::size_t>(header_.nodes_size()); }
  std::uint64_t frame_count() const { return frame_count_.load(); }
  std::size_t chunk_count() const;
  v1::ChunkRef chunk_ref(std::size_t index) const;
  Time first_time() const;
  Time last_time() const;
  // What was found wrong with the file so far (grows as damaged chunks are met).
  LogHealth health() const;
  // A log still being written or received: takes in what was appended. `final`: nothing more
  // will come. Returns true if frames were added.
  bool refresh(bool final);
  // The whole log is here (its index was read).
  bool complete() const { return complete_.load(); }

  // A decoded chunk. From the cache; else with `wait` read now, otherwise nullptr while the
  // background thread reads it (ask again next UI frame). A damaged chunk decodes to no frames.
  std::shared_ptr<const DecodedChunk> chunk(std::size_t index, bool wait);
  std::size_t chunk_of_frame(std::uint64_t index) const;
  // The chunk holding the last frame at or before `time`.
  std::size_t chunk_at_time(Time time) const;

  std::optional<FrameView> frame(std::uint64_t index, bool wait);
  // The last frame delivered at or before `time` (frame 0 if none is).
  std::optional<std::uint64_t> frame_at_time(Time time, bool wait);
  // Every node's state just after frame `index`, rebuilt from the nearest keyframe before it.
  std::optional<World> world_at(std::uint64_t index, bool wait);

 private:
  std::shared_ptr<const DecodedChunk> load(std::size_t index);
  void request(std::size_t index);
  void loader();

  std::string path_;
  std::mutex reader_mutex_;
  FrameLogReader reader_;
  v1::LogHeader header_;
  mutable std::mutex index_mutex_;  // guards chunks_, which grows while a live log arrives
  std::vector<v1::ChunkRef> chunks_;
  std::atomic<std::uint64_t> frame_count_{0};
  std::atomic<bool> complete_{false};

  mutable std::mutex cache_mutex_;
  LogHealth health_;
  std::condition_variable wake_;
  std::unordered_map<std::size_t, std::pair<std::shared_ptr<const DecodedChunk>, std::list<std::size_t>::iterator>> cache_;
  std::list<std::size_t> recent_;  // most recently used first
  std::deque<std::size_t> requests_;
  std::set<std::size_t> requested_;
  bool stopping_ = false;
  std::thread loader_thread_;
};

}  // namespace flowframe::view
