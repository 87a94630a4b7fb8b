#pragma once
// Two runs played as one: the playbacks of two logs locked by simulated time, so the same moment
// of both shows side by side. The run that lasts longer leads (its pace and rate drive playing, so
// the whole of both can be reached) and the other follows to the lead's time. Steps go through the
// frames of both in time order: a step moves each run whose next frame comes first, both when
// their next frames are at the same moment.
#include "viewer/model/playback.hpp"

namespace flowframe::view {

class LockedPlayback {
 public:
  LockedPlayback(Playback& a, Playback& b);

  // The controls a single playback has, for both runs.
  void play();
  void pause() { a_.pause(), b_.pause(); }
  void toggle() { playing() ? pause() : play(); }
  bool playing() const { return lead().playing(); }
  void set_pace(Playback::Pace pace) { a_.set_pace(pace), b_.set_pace(pace); }
  Playback::Pace pace() const { return lead().pace(); }
  void set_rate(double rate) { a_.set_rate(rate), b_.set_rate(rate); }
  double rate() const { return lead().rate(); }
  std::pair<double, double> rate_range() const { return lead().rate_range(); }
  // `moments` steps forward (negative: back). Waits for the chunks of the frames it passes; a
  // damaged chunk's frames count as at its first time.
  void step(std::int64_t moments);
  void home();
  void end();
  void seek_time(Time time);
  // Each run to a frame of its own: where the runs part.
  void seek_frames(std::uint64_t a, std::uint64_t b);
  // One run was moved on its own (a click on its frames): the other goes to the same moment.
  void follow(bool a_moved);
  void tick(double wall_seconds);

  // The moment shown. A run that has not started by then shows its first frame, one that ended
  // its last.
  Time time() const { return moment_; }
  Time first_time() const;
  Time last_time() const;
  bool settled() const { return a_.settled() && b_.settled(); }
  bool a_leads() const { return a_leads_; }

 private:
  Playback& lead() const { return a_leads_ ? a_ : b_; }
  Playback& follower() const { return a_leads_ ? b_ : a_; }
  bool step_forward();
  bool step_back();
  // The later of the two runs' current frames' times.
  Time frames_time() const;

  Playback& a_;
  Playback& b_;
  bool a_leads_;
  Time moment_;
};

}  // namespace flowframe::view
