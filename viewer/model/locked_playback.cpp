#include "viewer/model/locked_playback.hpp"

#include <algorithm>

namespace flowframe::view {
namespace {

std::optional<Time> time_of(Playback& playback, std::uint64_t frame) {
  auto view = playback.model().frame(frame, true);
  return view ? std::optional<Time>(view->time) : std::nullopt;
}

// The earlier of two times that may be missing.
std::optional<Time> earlier(std::optional<Time> a, std::optional<Time> b) {
  if (!a || !b) return a ? a : b;
  return std::min(*a, *b);
}

}  // namespace

LockedPlayback::LockedPlayback(Playback& a, Playback& b)
    : a_(a), b_(b), a_leads_(a.model().last_time() >= b.model().last_time()) {}

Time LockedPlayback::first_time() const { return std::min(a_.model().first_time(), b_.model().first_time()); }
Time LockedPlayback::last_time() const { return std::max(a_.model().last_time(), b_.model().last_time()); }

void LockedPlayback::play() {
  auto& lead = this->lead();
  if (lead.model().frame_count() && lead.frame() + 1 >= lead.model().frame_count()) home();
  else if (follower().time() > lead.time()) lead.seek_time(follower().time());  // a step left the follower ahead
  lead.play();
}

bool LockedPlayback::step_forward() {
  auto next = [](Playback& p) {
    return p.frame() + 1 < p.model().frame_count() ? time_of(p, p.frame() + 1) : std::nullopt;
  };
  const auto a = next(a_), b = next(b_);
  const auto moment = earlier(a, b);
  if (!moment) return false;
  if (a == moment) a_.seek_frame(a_.frame() + 1);
  if (b == moment) b_.seek_frame(b_.frame() + 1);
  return true;
}

bool LockedPlayback::step_back() {
  auto current = [](Playback& p) { return p.frame() > 0 ? time_of(p, p.frame()) : std::nullopt; };
  const auto a = current(a_), b = current(b_);
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
}

void LockedPlayback::tick(double wall_seconds) {
  auto& lead = this->lead();
  auto& follower = this->follower();
  const bool was_playing = lead.playing();
  const Time before = lead.time();
  lead.tick(wall_seconds);
  if (was_playing && (lead.time() != before || !follower.settled())) follower.seek_time(lead.time());
  follower.tick(0);  // settles a seek waiting for its chunk
}

}  // namespace flowframe::view
