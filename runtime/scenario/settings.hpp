#pragma once
// Setting a field of a protobuf message from text ("capacity" = "0", "strategy" = "ip_hash").
// One piece serves --set overrides, timed scenario events and live control.
#include <google/protobuf/message.h>

#include <string>
#include <string_view>

namespace flowframe {

// Sets the (possibly dotted) field path on `message` from `value`. Returns "" on success,
// otherwise an error that names the field and what was wrong.
std::string apply_setting(google::protobuf::Message& message, std::string_view field_path,
                          std::string_view value);

// Reads the (possibly dotted) field path as text, "" if the path does not name a scalar field.
std::string read_setting(const google::protobuf::Message& message, std::string_view field_path);

// The closest name in `candidates` to `name` (edit distance at most 3), or "".
std::string closest_name(std::string_view name, const std::vector<std::string>& candidates);

}  // namespace flowframe
