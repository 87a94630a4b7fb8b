#pragma once
// Small text helpers every layer needs (enum names in messages, case-insensitive matching).
#include <utf8.h>

#include <cctype>
#include <cmath>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>
#include <string_view>

#include "runtime/base/time.hpp"

namespace flowframe {

inline bool valid_utf8(std::string_view text) { return utf8::is_valid(text.begin(), text.end()); }

// Text from outside (a file, a flag, a socket) made safe to print in a message: invalid UTF-8
// becomes U+FFFD, control characters \xNN, and more than `limit` characters end in "…".
inline std::string printable(std::string_view text, std::size_t limit = 80) {
  std::string valid;
  utf8::replace_invalid(text.begin(), text.end(), std::back_inserter(valid));
  std::string out;
  std::size_t characters = 0;
  for (auto it = valid.begin(); it != valid.end(); ++characters) {
    if (characters == limit) return out + "…";
    const auto start = it;
    utf8::next(it, valid.end());
    if (it - start == 1 && (static_cast<unsigned char>(*start) < 0x20 || *start == 0x7F)) {
      static constexpr char kHex[] = "0123456789abcdef";
      out += {'\\', 'x', kHex[static_cast<unsigned char>(*start) >> 4], kHex[*start & 0xF]};
    } else {
      out.append(start, it);
    }
  }
  return out;
}

// A number as a person writes it: 0.5, 2, 86400000, 1e-07.
inline std::string fmt_number(double value) {
  if (std::isfinite(value) && value == std::floor(value) && std::fabs(value) < 1e15)
    return std::to_string(static_cast<long long>(value));
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
