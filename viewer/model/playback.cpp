#include "viewer/model/playback.hpp"

#include <algorithm>
#include <cmath>

namespace flowframe::view {

// Frames further apart than this are rebuilt from a keyframe rather than replayed one by one.
constexpr std::uint64_t kReplayLimit = 20000;

Playback::Playback(LogModel& model) : model_(model) { time_ = model.first_time(); }

void Playback::play() {
  if (model_.frame_count() && frame_ + 1 >= model_.frame_count()) seek_frame(0);
  playing_ = true;
}

std::pair<double, double> Playback::rate_range() const {
  switch (pace_) {
    case Pace::sim_time: return {0.1, 1000.0};
    case Pace::frames: return {1.0, 1000.0};
    case Pace::story: return {0.2, 10.0};
  }
  return {1, 1};
}

void Playback::set_rate(double rate) {
  const auto [low, high] = rate_range();
  if (std::isnan(rate)) return;  // keep the rate it has
  rates_[static_cast<int>(pace_)] = std::clamp(rate, low, high);
}

std::optional<float> Playback::story_progress() const {
  if (pace_ != Pace::story || !playing_) return std::nullopt;
  return static_cast<float>(std::clamp(next_progress_, 0.0, 1.0));
}

bool Playback::advance_one() {
  if (frame_ + 1 >= model_.frame_count()) return false;
  auto view = model_.frame(frame_ + 1, false);
  if (!view) return false;  // its chunk is loading
  ++frame_;
  time_ = view->time;
  time_known_ = true;
  return true;
}

void Playback::seek_frame(std::uint64_t index) {
  next_progress_ = 0;  // a story starts its hop afresh wherever the cursor lands
  if (model_.frame_count() == 0) return;
  frame_ = std::min(index, model_.frame_count() - 1);
  pending_time_ = -1;
  time_known_ = false;
  settle_time();
}

void Playback::settle_time() {
  if (time_known_) return;
  if (auto view = model_.frame(frame_, false)) {
    time_ = view->time;
    time_known_ = true;
  } else {
    time_ = model_.chunk_ref(model_.chunk_of_frame(frame_)).first_time();  // until the chunk loads
  }
}

void Playback::seek_time(Time time) {
  next_progress_ = 0;
  time_ = std::clamp(time, model_.first_time(), model_.last_time());
  time_known_ = true;
  if (auto index = model_.frame_at_time(time_, false)) {
    frame_ = *index;
    pending_time_ = -1;
  } else {
    pending_time_ = time_;
  }
}

void Playback::tick(double wall_seconds) {
  if (pending_time_ >= 0) seek_time(pending_time_);
  settle_time();
  if (!playing_ || model_.frame_count() == 0) return;
  if (pace_ != Pace::sim_time && frame_ + 1 >= model_.frame_count()) return pause();
  if (pace_ == Pace::frames) {
    // Whole frames only; the fraction carries over so a rate below the UI's frame rate works.
    next_progress_ += wall_seconds * rate();
    for (; next_progress_ >= 1 && advance_one(); next_progress_ -= 1) {
    }
    next_progress_ = std::min(next_progress_, 1.0);
    return;
  }
  if (pace_ == Pace::story) {
    const Time from = time_;
    next_progress_ += wall_seconds * rate();
    if (next_progress_ >= 1) {
      if (advance_one()) next_progress_ = 0;  // else its chunk is loading: tell it once it is there
      return;
    }
    // Between hops the clock runs on across the hop being told (from its sending, or from now if
    // it left earlier), so every dot in flight moves too.
    if (auto next = model_.frame(frame_ + 1, false); next && time_known_) {
      const auto now = model_.frame(frame_, false);
      const Time start = std::max(now ? now->time : from, next->sent);
      time_ = start + static_cast<Time>(static_cast<double>(next->time - start) * next_progress_);
    }
    return;
  }
  const Time target = time_ + static_cast<Time>(std::llround(wall_seconds * rate() * kNanosPerSecond));
  if (target >= model_.last_time()) {
    seek_time(model_.last_time());
    return pause();
  }
  if (auto index = model_.frame_at_time(target, false)) {
    frame_ = *index;
    time_ = target;
  }
}

const World* Playback::world() {
  if (world_ && world_->frame == frame_) return &*world_;
  // Forward by a little: apply the frames in between; otherwise rebuild from a keyframe.
  if (world_ && world_->frame != World::kNone && world_->frame < frame_ && frame_ - world_->frame <= kReplayLimit) {
    World next = *world_;
    bool complete = true;
    for (std::uint64_t i = world_->frame + 1; i <= frame_ && complete; ++i) {
      if (auto view = model_.frame(i, false)) next.apply(*view);
      else complete = false;  // not loaded yet, or in a damaged chunk: rebuild below
    }
    if (complete) {
      world_ = std::move(next);
      return &*world_;
    }
  }
  if (auto rebuilt = model_.world_at(frame_, false)) world_ = std::move(rebuilt);
  return world_ ? &*world_ : nullptr;  // until the chunks load: the previous world
}

}  // namespace flowframe::view
