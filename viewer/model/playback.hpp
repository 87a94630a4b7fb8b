#pragma once
// The playback cursor: where in the log the viewer is, how fast simulated time runs, and the
// world (every node's state) at that point, kept up to date incrementally.
#include "viewer/model/log_model.hpp"

namespace flowframe::view {

class Playback {
 public:
  explicit Playback(LogModel& model);

  void play();
  void pause() { playing_ = false; }
  void toggle() { playing_ ? pause() : play(); }
  bool playing() const { return playing_; }
  // Simulated seconds per wall second (0.1 to 1000).
  void set_speed(double ratio);
  double speed() const { return speed_; }
  // Instead of simulated time: one frame per UI tick.
  void set_frame_per_tick(bool on) { frame_per_tick_ = on; }
  bool frame_per_tick() const { return frame_per_tick_; }

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
  double speed_ = 1.0;
  bool frame_per_tick_ = false;
  Time pending_time_ = -1;  // a seek by time waiting for its chunk
  bool time_known_ = false;
  void settle_time();
  std::optional<World> world_;
};

}  // namespace flowframe::view
