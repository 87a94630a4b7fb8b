#pragma once
// Small text helpers every layer needs (enum names in messages, case-insensitive matching).
#include <cctype>
#include <sstream>
#include <string>
#include <vector>
#include <string_view>

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

}  // namespace flowframe
