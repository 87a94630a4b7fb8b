#pragma once
// Small text helpers every layer needs (enum names in messages, case-insensitive matching).
#include <cctype>
#include <cmath>
#include <sstream>
#include <string>
#include <vector>
#include <string_view>

#include "runtime/base/time.hpp"

namespace flowframe {

// A number as a person writes it: 0.5, 2, 1e+06.
inline std::string fmt_number(double value) {
  std::ostringstream out;
  out << value;
  return out.str();
}

// "a, b, c"
inline std::string join(const std::vector<std::string>& items, std::string_view separator) {
  std::string out;
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i) out += separator;
    out += items[i];
  }
  return out;
}

inline std::string lowercase(std::string_view text) {
  std::string out(text);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

inline std::string uppercase(std::string_view text) {
  std::string out(text);
  for (auto& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

// A logical duration for people: "at once", "350 ns", "37.2 ms", "12.5 s".
inline std::string duration_text(Time t) {
  if (t <= 1) return "at once";
  if (t < kNanosPerMilli) return std::to_string(t) + " ns";
  if (t < 10 * kNanosPerSecond) return fmt_number(std::round(to_millis(t) * 10) / 10) + " ms";
  return fmt_number(std::round(to_seconds(t) * 100) / 100) + " s";
}

}  // namespace flowframe
