#pragma once
// Setting a field of a protobuf message from text ("capacity" = "0", "strategy" = "ip_hash").
// One piece serves --set overrides, timed scenario events and live control.
#include <google/protobuf/message.h>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace flowframe {

// Sets the (possibly dotted) field path on `message` from `value`. Returns "" on success,
// otherwise an error that names the field and what was wrong.
std::string apply_setting(google::protobuf::Message& message, std::string_view field_path,
                          std::string_view value);

// Reads the (possibly dotted) field path as text, "" if the path does not name a scalar field.
std::string read_setting(const google::protobuf::Message& message, std::string_view field_path);

// A number outside the range its field documents (limits.proto's at_least/at_most), a double that
// is not finite, or text that is not UTF-8 (protobuf would then fail to read what was written).
// `path` leads from the message checked down to the field (index -1: not a list).
struct ValueProblem {
  std::vector<std::pair<const google::protobuf::FieldDescriptor*, int>> path;
  std::string message;  // "must be from 0 to 86400000 (got inf)"
  std::string field() const;  // "workload.paths[1].zipf_s"
};
// Every set number and string in `message` and below it, checked.
std::vector<ValueProblem> value_problems(const google::protobuf::Message& message);
// "from 0 to 86400000", "at most 100000", "any finite number"
std::string range_text(const google::protobuf::FieldDescriptor& field);

// The closest name in `candidates` to `name` (edit distance at most 3), or "".
std::string closest_name(std::string_view name, const std::vector<std::string>& candidates);

}  // namespace flowframe
