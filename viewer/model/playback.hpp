#pragma once
// The playback cursor: where in the log the viewer is, how fast simulated time runs, and the
// world (every node's state) at that point, kept up to date incrementally.
#include "viewer/model/log_model.hpp"

namespace flowframe::view {

class Playback {
 public:
  explicit Playback(LogModel& model);
  LogModel& model() const { return model_; }

  void play();
  void pause() { playing_ = false; }
  void toggle() { playing_ ? pause() : play(); }
  bool playing() const { return playing_; }
  // How playback moves on. sim_time: simulated seconds per wall second. frames: frames per wall
  // second. story: hops per wall second, each hop taking the same visible moment whatever its
  // simulated duration (links take a millisecond: at sim_time 1x a hop is gone in a blink).
  enum class Pace { sim_time, frames, story };
  void set_pace(Pace pace) { pace_ = pace, next_progress_ = 0; }
  Pace pace() const { return pace_; }
  // The current pace's rate, clamped to its range; each pace keeps its own.
  void set_rate(double rate);
  double rate() const { return rates_[static_cast<int>(pace_)]; }
  std::pair<double, double> rate_range() const;
  // Story: how far the hop being told (frame() + 1) has got across its link, 0 to 1.
  std::optional<float> story_progress() const;

  void seek_frame(std::uint64_t index);
  void seek_time(Time time);
  void step(std::int64_t frames) { pause(), seek_frame(static_cast<std::uint64_t>(std::max<std::int64_t>(0, static_cast<std::int64_t>(frame_) + frames))); }
  void home() { pause(), seek_frame(0); }
  void end() { pause(), seek_frame(model_.frame_count() ? model_.frame_count() - 1 : 0); }

  // Moves on by `wall_seconds` if playing. Never blocks: where a chunk is not loaded yet the
  // cursor waits for it.
  void tick(double wall_seconds);

  std::uint64_t frame() const { return frame_; }
  // The simulated clock: during playback it runs between frames.
  Time time() const { return time_; }
  // Every node's state just after frame(); nullptr while its chunks load.
  const World* world();
  // Whether time() is exact (false for a moment after a seek, while the frame's chunk loads).
  bool settled() const { return time_known_ && pending_time_ < 0; }

 private:
  LogModel& model_;
  std::uint64_t frame_ = 0;
  Time time_ = 0;
  bool playing_ = false;
  Pace pace_ = Pace::sim_time;
  double rates_[3] = {1.0, 30.0, 1.5};
  double next_progress_ = 0;  // frames and story paces: how much of the way to the next frame is done (0 to 1)
  bool advance_one();
  Time pending_time_ = -1;  // a seek by time waiting for its chunk
  bool time_known_ = false;
  void settle_time();
  std::optional<World> world_;
};

}  // namespace flowframe::view
