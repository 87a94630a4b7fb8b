#pragma once
// Fuzz inputs are garbage on purpose: protobuf's complaints about them (invalid UTF-8 in a
// string field, say) would drown the fuzzer's own output.
#include <google/protobuf/stubs/logging.h>

namespace flowframe::fuzz {
inline const bool kProtobufQuiet = (google::protobuf::SetLogHandler(nullptr), true);
}  // namespace flowframe::fuzz
