#pragma once
// Every limit in words, for `flowframe limits` and docs/LIMITS.md (which is its output): the sizes
// of runtime/base/limits.hpp and the range of every number field in the schema.
#include <string>

namespace flowframe {

std::string limits_markdown();

}  // namespace flowframe
