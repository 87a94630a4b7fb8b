#include "viewer/model/locked_playback.hpp"

#include <algorithm>

namespace flowframe::view {
namespace {

// A frame's time, waiting for its chunk; a damaged chunk's frames are at its first time.
Time time_of(const Playback& playback, std::uint64_t frame) {
  auto& model = playback.model();
  if (auto view = model.frame(frame, true)) return view->time;
  return model.chunk_ref(model.chunk_of_frame(frame)).first_time();
}

std::optional<Time> next_time(const Playback& p) {
  if (p.frame() + 1 >= p.model().frame_count()) return std::nullopt;
  return time_of(p, p.frame() + 1);
}

std::optional<Time> current_time_unless_first(const Playback& p) {
  if (p.frame() == 0) return std::nullopt;
  return time_of(p, p.frame());
}

}  // namespace

LockedPlayback::LockedPlayback(Playback& a, Playback& b)
    : a_(a), b_(b), a_leads_(a.model().last_time() >= b.model().last_time()), moment_(first_time()) {}

Time LockedPlayback::first_time() const { return std::min(a_.model().first_time(), b_.model().first_time()); }
Time LockedPlayback::last_time() const { return std::max(a_.model().last_time(), b_.model().last_time()); }

Time LockedPlayback::frames_time() const {
  const auto time = [](const Playback& p) { return p.model().frame_count() ? time_of(p, p.frame()) : p.model().first_time(); };
  return std::max(time(a_), time(b_));
}

void LockedPlayback::play() {
  auto& lead = this->lead();
  if (lead.model().frame_count() && lead.frame() + 1 >= lead.model().frame_count()) home();
  else if (lead.time() < moment_) lead.seek_time(moment_);  // a step left the follower ahead
  lead.play();
}

void LockedPlayback::home() {
  pause();
  a_.seek_frame(0);
  b_.seek_frame(0);
  moment_ = first_time();
}

void LockedPlayback::end() {
  pause();
  a_.end();
  b_.end();
  moment_ = last_time();
}

void LockedPlayback::seek_time(Time time) {
  moment_ = std::clamp(time, first_time(), last_time());
  a_.seek_time(moment_);
  b_.seek_time(moment_);
}

void LockedPlayback::seek_frames(std::uint64_t a, std::uint64_t b) {
  pause();
  a_.seek_frame(a);
  b_.seek_frame(b);
  moment_ = frames_time();
}

void LockedPlayback::follow(bool a_moved) {
  pause();
  auto& moved = a_moved ? a_ : b_;
  moment_ = moved.model().frame_count() ? time_of(moved, moved.frame()) : moved.time();
  (a_moved ? b_ : a_).seek_time(moment_);
}

bool LockedPlayback::step_forward() {
  const auto a = next_time(a_), b = next_time(b_);
  if (!a && !b) return false;
  const Time moment = std::min(a.value_or(b.value_or(0)), b.value_or(a.value_or(0)));
  if (a == moment) a_.seek_frame(a_.frame() + 1);
  if (b == moment) b_.seek_frame(b_.frame() + 1);
  return true;
}

bool LockedPlayback::step_back() {
  const auto a = current_time_unless_first(a_), b = current_time_unless_first(b_);
  if (!a && !b) return false;
  const Time moment = std::max(a.value_or(0), b.value_or(0));
  if (a == moment) a_.seek_frame(a_.frame() - 1);
  if (b == moment) b_.seek_frame(b_.frame() - 1);
  return true;
}

void LockedPlayback::step(std::int64_t moments) {
  pause();
  for (std::int64_t k = 0; k < std::abs(moments); ++k)
    if (!(moments > 0 ? step_forward() : step_back())) break;
  moment_ = frames_time();
}

void LockedPlayback::tick(double wall_seconds) {
  auto& lead = this->lead();
  auto& follower = this->follower();
  const bool was_playing = lead.playing();
  const Time before = lead.time();
  lead.tick(wall_seconds);
  if (was_playing) {
    moment_ = lead.time();
    if (lead.time() != before || !follower.settled()) follower.seek_time(moment_);
  }
  follower.tick(0);  // settles a seek waiting for its chunk
}

}  // namespace flowframe::view
