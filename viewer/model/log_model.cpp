#include "viewer/model/log_model.hpp"

#include <algorithm>

namespace flowframe::view {

void World::start(const v1::Keyframe& keyframe, std::size_t node_count) {
  nodes.assign(node_count, {});
  for (const auto& state : keyframe.nodes()) {
    if (state.node() >= node_count) continue;
    auto& node = nodes[state.node()];
    node.state = state;
    node.load = state.load();
    node.queue = state.queue();
    node.state_frame = keyframe.frame();
  }
  frame = keyframe.frame() == 0 ? kNone : keyframe.frame() - 1;
  time = keyframe.time();
}

void World::apply(const FrameView& view) {
  frame = view.index;
  time = view.time;
  const auto& f = view.frame;
  if (f.dst() >= nodes.size()) return;
  auto& node = nodes[f.dst()];
  node.load = f.load();
  node.queue = f.queue();
  if (f.has_state()) {
    node.state = f.state();
    node.state_frame = view.index;
  }
}

LogModel::LogModel(const std::string& path)
    : path_(path), reader_(path), header_(reader_.header()), chunks_(reader_.chunks()),
      frame_count_(reader_.frame_count()), complete_(reader_.complete()), health_(reader_.health()) {
  loader_thread_ = std::thread([this] { loader(); });
}

LogModel::~LogModel() {
  {
    std::lock_guard lock(cache_mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  loader_thread_.join();
}

Time LogModel::first_time() const {
  std::lock_guard lock(index_mutex_);
  return chunks_.empty() ? 0 : chunks_.front().first_time();
}

Time LogModel::last_time() const {
  std::lock_guard lock(index_mutex_);
  return chunks_.empty() ? 0 : chunks_.back().last_time();
}

std::size_t LogModel::chunk_count() const {
  std::lock_guard lock(index_mutex_);
  return chunks_.size();
}

v1::ChunkRef LogModel::chunk_ref(std::size_t index) const {
  std::lock_guard lock(index_mutex_);
  return index < chunks_.size() ? chunks_[index] : v1::ChunkRef{};
}

bool LogModel::refresh(bool final) {
  std::vector<v1::ChunkRef> chunks;
  LogHealth health;
  {
    std::lock_guard lock(reader_mutex_);
    if (!reader_.refresh(final) && !final) return false;
    chunks = reader_.chunks();
    health = reader_.health();
    complete_ = reader_.complete();
  }
  const auto frames = chunks.empty() ? 0 : chunks.back().first_frame() + chunks.back().frame_count();
  {
    std::lock_guard lock(index_mutex_);
    chunks_ = std::move(chunks);
  }
  {
    std::lock_guard lock(cache_mutex_);
    health_ = std::move(health);
  }
  const bool grew = frames != frame_count_.load();
  frame_count_ = frames;
  return grew;
}

LogHealth LogModel::health() const {
  std::lock_guard lock(cache_mutex_);
  return health_;
}

std::size_t LogModel::chunk_of_frame(std::uint64_t index) const {
  std::lock_guard lock(index_mutex_);
  const auto after = std::upper_bound(chunks_.begin(), chunks_.end(), index, [](std::uint64_t i, const v1::ChunkRef& chunk) {
    return i < chunk.first_frame() + chunk.frame_count();
  });
  return static_cast<std::size_t>(after - chunks_.begin());
}

std::size_t LogModel::chunk_at_time(Time time) const {
  // The first chunk starting after `time`, minus one.
  std::lock_guard lock(index_mutex_);
  const auto after = std::upper_bound(chunks_.begin(), chunks_.end(), time,
                                      [](Time t, const v1::ChunkRef& chunk) { return t < chunk.first_time(); });
  return after == chunks_.begin() ? 0 : static_cast<std::size_t>(after - chunks_.begin()) - 1;
}

std::shared_ptr<const DecodedChunk> LogModel::load(std::size_t index) {
  auto decoded = std::make_shared<DecodedChunk>();
  LogHealth health;
  {
    std::lock_guard lock(reader_mutex_);
    if (!reader_.read_chunk(index, *decoded)) {
      decoded->chunk = index;
      decoded->frames.clear();
      decoded->has_keyframe = false;
    }
    health = reader_.health();
  }
  std::lock_guard lock(cache_mutex_);
  health_ = std::move(health);
  requested_.erase(index);
  if (auto found = cache_.find(index); found != cache_.end()) return found->second.first;
  recent_.push_front(index);
  cache_[index] = {decoded, recent_.begin()};
  while (cache_.size() > kCachedChunks) {
    cache_.erase(recent_.back());
    recent_.pop_back();
  }
  return decoded;
}

void LogModel::request(std::size_t index) {
  if (index >= chunk_count()) return;
  if (cache_.count(index) || !requested_.insert(index).second) return;
  requests_.push_back(index);
  wake_.notify_one();
}

std::shared_ptr<const DecodedChunk> LogModel::chunk(std::size_t index, bool wait) {
  if (index >= chunk_count()) return nullptr;
  {
    std::lock_guard lock(cache_mutex_);
    if (auto found = cache_.find(index); found != cache_.end()) {
      recent_.splice(recent_.begin(), recent_, found->second.second);
      request(index + 1);  // playback moves forward: have the next one ready
      return found->second.first;
    }
    if (!wait) {
      request(index);
      return nullptr;
    }
  }
  return load(index);
}

void LogModel::loader() {
  while (true) {
    std::size_t index;
    {
      std::unique_lock lock(cache_mutex_);
      wake_.wait(lock, [this] { return stopping_ || !requests_.empty(); });
      if (stopping_) return;
      index = requests_.front();
      requests_.pop_front();
    }
    load(index);
  }
}

std::optional<FrameView> LogModel::frame(std::uint64_t index, bool wait) {
  const auto chunk_index = chunk_of_frame(index);
  const auto decoded = chunk(chunk_index, wait);
  if (!decoded || decoded->frames.empty()) return std::nullopt;
  const auto offset = index - decoded->frames.front().index;
  if (offset >= decoded->frames.size()) return std::nullopt;
  return decoded->frames[offset];
}

std::optional<std::uint64_t> LogModel::frame_at_time(Time time, bool wait) {
  if (chunk_count() == 0) return std::nullopt;
  const auto at = chunk_at_time(time);
  const auto decoded = chunk(at, wait);
  if (!decoded) return std::nullopt;
  if (decoded->frames.empty()) return chunk_ref(at).first_frame();
  const auto& frames = decoded->frames;
  const auto after = std::upper_bound(frames.begin(), frames.end(), time,
                                      [](Time t, const FrameView& view) { return t < view.time; });
  if (after == frames.begin()) return frames.front().index == 0 ? 0 : frames.front().index - 1;
  return (after - 1)->index;
}

std::optional<World> LogModel::world_at(std::uint64_t index, bool wait) {
  if (frame_count() == 0) return std::nullopt;
  index = std::min(index, frame_count() - 1);
  const std::size_t target = chunk_of_frame(index);
  if (target >= chunk_count()) return std::nullopt;
  // The nearest chunk at or before the target that starts with a keyframe and is readable.
  std::size_t start = target;
  std::shared_ptr<const DecodedChunk> first;
  while (true) {
    if (chunk_ref(start).has_keyframe()) {
      first = chunk(start, wait);
      if (!first) return std::nullopt;
      if (first->has_keyframe) break;
    }
    if (start == 0) return std::nullopt;
    --start;
  }
  World world;
  world.start(first->keyframe, node_count());
  for (std::size_t c = start; c <= target; ++c) {
    const auto decoded = c == start ? first : chunk(c, wait);
    if (!decoded) return std::nullopt;
    for (const auto& view : decoded->frames) {
      if (view.index > index) break;
      world.apply(view);
    }
  }
  return world;
}

}  // namespace flowframe::view
