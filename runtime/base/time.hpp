#pragma once
// Simulated time: integer nanoseconds. No simulation logic reads the wall clock.
#include <cmath>
#include <cstdint>
#include <limits>

namespace flowframe {

using Time = std::int64_t;

inline constexpr Time kNanosPerMilli = 1'000'000;
inline constexpr Time kNanosPerSecond = 1'000'000'000;
inline constexpr Time kTimeNever = std::numeric_limits<Time>::max();
// The longest duration a scenario may write (ms): longer ones overflow nanoseconds in sums.
inline constexpr double kDayMs = 86'400'000;

// Conversions saturate at ±kFarTime (about 3 years) so a few far times still add up without
// overflow; NaN counts as far. Scenario values are checked to lie well inside (docs/LIMITS.md).
inline constexpr Time kFarTime = 100'000'000 * kNanosPerSecond;
inline Time saturated_time(double nanos) {
  if (!(nanos < static_cast<double>(kFarTime))) return kFarTime;
  if (!(nanos > -static_cast<double>(kFarTime))) return -kFarTime;
  return static_cast<Time>(std::llround(nanos));
}
inline Time from_millis(double ms) { return saturated_time(ms * kNanosPerMilli); }
inline Time from_seconds(double s) { return saturated_time(s * kNanosPerSecond); }
inline double to_millis(Time t) { return static_cast<double>(t) / kNanosPerMilli; }
inline double to_seconds(Time t) { return static_cast<double>(t) / kNanosPerSecond; }

}  // namespace flowframe
