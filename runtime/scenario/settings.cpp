#include "runtime/scenario/settings.hpp"

#include <google/protobuf/descriptor.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <optional>
#include <sstream>
#include <vector>

#include "flowframe/v1/limits.pb.h"
#include "runtime/base/text.hpp"

namespace flowframe {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;

std::vector<std::string> field_names(const google::protobuf::Descriptor* type) {
  std::vector<std::string> names;
  for (int i = 0; i < type->field_count(); ++i) names.push_back(type->field(i)->name());
  return names;
}

template <class Number>
bool parse_number(std::string_view text, Number& out) {
  const auto* end = text.data() + text.size();
  if constexpr (std::is_floating_point_v<Number>) {
    std::string copy(text);  // from_chars for double is fine in g++ 12, but strtod handles "1e3" too
    char* parsed_end = nullptr;
    out = static_cast<Number>(std::strtod(copy.c_str(), &parsed_end));
    return !copy.empty() && parsed_end == copy.c_str() + copy.size() && std::isfinite(out);
  } else {
    auto [ptr, ec] = std::from_chars(text.data(), end, out);
    return ec == std::errc() && ptr == end;
  }
}

// Walks a dotted path down to the message holding the last field; "dependencies[1]" steps into
// an element of a repeated message field that exists. Returns an error or "".
std::string resolve(Message*& message, std::string_view path, const FieldDescriptor*& field) {
  while (true) {
    const auto dot = path.find('.');
    std::string name(path.substr(0, dot));
    int element = -1;
    if (const auto open = name.find('['); open != std::string::npos && name.back() == ']') {
      if (!parse_number(std::string_view(name).substr(open + 1, name.size() - open - 2), element))
        return "'" + name + "': expected NAME[INDEX] with a whole number";
      name.resize(open);
    }
    const auto* type = message->GetDescriptor();
    field = type->FindFieldByName(name);
    if (field != nullptr && field->is_repeated() && field->type() == FieldDescriptor::TYPE_MESSAGE && element >= 0) {
      const int size = message->GetReflection()->FieldSize(*message, field);
      if (element >= size)
        return "'" + name + "' has " + std::to_string(size) + " element" + (size == 1 ? "" : "s") + "; no [" +
               std::to_string(element) + "]";
      if (dot == std::string_view::npos) return "'" + name + "[" + std::to_string(element) + "]' is a message; set one of its fields";
      message = message->GetReflection()->MutableRepeatedMessage(message, field, element);
      path = path.substr(dot + 1);
      continue;
    }
    const bool list_of_numbers = field != nullptr && field->is_repeated() && dot == std::string_view::npos &&
                                 (field->cpp_type() == FieldDescriptor::CPPTYPE_UINT32 ||
                                  field->cpp_type() == FieldDescriptor::CPPTYPE_INT32);
    if (list_of_numbers && element < 0) return "";  // set whole, as "500,503"
    if (field != nullptr && field->is_repeated())
      return "'" + name + "' is a list" +
             (field->type() == FieldDescriptor::TYPE_MESSAGE ? "; name an element: " + name + "[0]" : " and cannot be set");
    if (field == nullptr || element >= 0) {
      std::string error = "unknown field '" + name + "' in " + type->name();
      if (auto guess = closest_name(name, field_names(type)); !guess.empty())
        error += " (did you mean '" + guess + "'?)";
      return error + "; fields: " + join(field_names(type), ", ");
    }
    if (dot == std::string_view::npos) return "";
    if (field->type() != FieldDescriptor::TYPE_MESSAGE)
      return "'" + name + "' is not a message, it has no field '" + std::string(path.substr(dot + 1)) + "'";
    message = message->GetReflection()->MutableMessage(message, field);
    path = path.substr(dot + 1);
  }
}

}  // namespace

std::string ValueProblem::field() const {
  std::string text;
  for (const auto& [field, index] : path)
    text += (text.empty() ? "" : ".") + field->name() + (index >= 0 ? "[" + std::to_string(index) + "]" : "");
  return text;
}

std::string range_text(const FieldDescriptor& field) {
  const auto& options = field.options();
  const bool low = options.HasExtension(v1::at_least), high = options.HasExtension(v1::at_most);
  const auto lowest = fmt_number(options.GetExtension(v1::at_least)), highest = fmt_number(options.GetExtension(v1::at_most));
  if (low && high) return "from " + lowest + " to " + highest;
  if (high) return "at most " + highest;
  if (low) return "at least " + lowest;
  return field.cpp_type() == FieldDescriptor::CPPTYPE_DOUBLE || field.cpp_type() == FieldDescriptor::CPPTYPE_FLOAT
             ? "any finite number"
             : "any whole number";
}

namespace {

void check_ranges(const Message& message, std::vector<std::pair<const FieldDescriptor*, int>>& path,
                  std::vector<ValueProblem>& out) {
  const auto* reflection = message.GetReflection();
  std::vector<const FieldDescriptor*> fields;
  reflection->ListFields(message, &fields);
  for (const auto* field : fields) {
    const int count = field->is_repeated() ? reflection->FieldSize(message, field) : 1;
    for (int i = 0; i < count; ++i) {
      path.emplace_back(field, field->is_repeated() ? i : -1);
      const auto get = [&]() -> std::optional<double> {
        const bool list = field->is_repeated();
        switch (field->cpp_type()) {
          case FieldDescriptor::CPPTYPE_DOUBLE: return list ? reflection->GetRepeatedDouble(message, field, i) : reflection->GetDouble(message, field);
          case FieldDescriptor::CPPTYPE_FLOAT: return list ? reflection->GetRepeatedFloat(message, field, i) : reflection->GetFloat(message, field);
          case FieldDescriptor::CPPTYPE_INT32: return list ? reflection->GetRepeatedInt32(message, field, i) : reflection->GetInt32(message, field);
          case FieldDescriptor::CPPTYPE_UINT32: return list ? reflection->GetRepeatedUInt32(message, field, i) : reflection->GetUInt32(message, field);
          case FieldDescriptor::CPPTYPE_INT64:
            return static_cast<double>(list ? reflection->GetRepeatedInt64(message, field, i) : reflection->GetInt64(message, field));
          case FieldDescriptor::CPPTYPE_UINT64:
            return static_cast<double>(list ? reflection->GetRepeatedUInt64(message, field, i) : reflection->GetUInt64(message, field));
          default: return std::nullopt;
        }
      };
      if (field->cpp_type() == FieldDescriptor::CPPTYPE_STRING) {
        std::string scratch;
        const auto& text = field->is_repeated() ? reflection->GetRepeatedStringReference(message, field, i, &scratch)
                                                : reflection->GetStringReference(message, field, &scratch);
        if (field->type() == FieldDescriptor::TYPE_STRING && !valid_utf8(text))
          out.push_back({path, "is not UTF-8 text ('" + printable(text) + "')"});
      } else if (field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
        check_ranges(field->is_repeated() ? reflection->GetRepeatedMessage(message, field, i) : reflection->GetMessage(message, field),
                     path, out);
      } else if (const auto value = get()) {
        const auto& options = field->options();
        const bool finite = std::isfinite(*value);
        const bool in_range = finite &&
                              (!options.HasExtension(v1::at_least) || *value >= options.GetExtension(v1::at_least)) &&
                              (!options.HasExtension(v1::at_most) || *value <= options.GetExtension(v1::at_most));
        if (!in_range) out.push_back({path, "must be " + range_text(*field) + " (got " + fmt_number(*value) + ")"});
      }
      path.pop_back();
    }
  }
}

}  // namespace

std::vector<ValueProblem> value_problems(const Message& message) {
  std::vector<ValueProblem> out;
  std::vector<std::pair<const FieldDescriptor*, int>> path;
  check_ranges(message, path, out);
  return out;
}

std::string closest_name(std::string_view name, const std::vector<std::string>& candidates) {
  std::string best;
  std::size_t best_distance = 4;
  const std::string needle = lowercase(name);
  for (const auto& candidate : candidates) {
    const std::string target = lowercase(candidate);
    std::vector<std::size_t> row(target.size() + 1);
    for (std::size_t j = 0; j <= target.size(); ++j) row[j] = j;
    for (std::size_t i = 1; i <= needle.size(); ++i) {
      std::size_t diagonal = row[0];
      row[0] = i;
      for (std::size_t j = 1; j <= target.size(); ++j) {
        const std::size_t above = row[j];
        row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (needle[i - 1] != target[j - 1])});
        diagonal = above;
      }
    }
    if (row[target.size()] < best_distance) {
      best_distance = row[target.size()];
      best = candidate;
    }
  }
  return best;
}

std::string apply_setting(Message& root, std::string_view field_path, std::string_view value) {
  Message* message = &root;
  const FieldDescriptor* field = nullptr;
  if (auto error = resolve(message, field_path, field); !error.empty()) return error;
  const auto* reflection = message->GetReflection();
  const std::string name(field_path);
  const std::string text(value);
  auto bad = [&](std::string_view expected) {
    return "field '" + name + "' expects " + std::string(expected) + ", got '" + text + "'";
  };
  if (field->is_repeated()) {  // a list of whole numbers, written "500,503"; all or nothing
    std::vector<std::int64_t> numbers;
    std::string part;
    for (std::istringstream parts(text); std::getline(parts, part, ',');) {
      std::int64_t number;
      part.erase(0, part.find_first_not_of(' '));
      part.erase(part.find_last_not_of(' ') + 1);
      const bool unsigned_field = field->cpp_type() == FieldDescriptor::CPPTYPE_UINT32;
      if (!parse_number(part, number) || number > 0xFFFFFFFFLL || (unsigned_field && number < 0) ||
          (!unsigned_field && (number < INT32_MIN || number > INT32_MAX)))
        return bad("whole numbers separated by commas (500,503)");
      numbers.push_back(number);
    }
    reflection->ClearField(message, field);
    for (const auto number : numbers) {
      if (field->cpp_type() == FieldDescriptor::CPPTYPE_UINT32) reflection->AddUInt32(message, field, static_cast<std::uint32_t>(number));
      else reflection->AddInt32(message, field, static_cast<std::int32_t>(number));
    }
    return "";
  }
  switch (field->cpp_type()) {
    case FieldDescriptor::CPPTYPE_BOOL: {
      const auto word = lowercase(text);
      if (word == "true" || word == "1") reflection->SetBool(message, field, true);
      else if (word == "false" || word == "0") reflection->SetBool(message, field, false);
      else return bad("true or false");
      return "";
    }
    case FieldDescriptor::CPPTYPE_INT32: {
      std::int32_t number;
      if (!parse_number(text, number)) return bad("an integer");
      reflection->SetInt32(message, field, number);
      return "";
    }
    case FieldDescriptor::CPPTYPE_INT64: {
      std::int64_t number;
      if (!parse_number(text, number)) return bad("an integer");
      reflection->SetInt64(message, field, number);
      return "";
    }
    case FieldDescriptor::CPPTYPE_UINT32: {
      std::uint32_t number;
      if (!parse_number(text, number)) return bad("a whole number >= 0");
      reflection->SetUInt32(message, field, number);
      return "";
    }
    case FieldDescriptor::CPPTYPE_UINT64: {
      std::uint64_t number;
      if (!parse_number(text, number)) return bad("a whole number >= 0");
      reflection->SetUInt64(message, field, number);
      return "";
    }
    case FieldDescriptor::CPPTYPE_DOUBLE:
    case FieldDescriptor::CPPTYPE_FLOAT: {
      double number;
      if (!parse_number(text, number)) return bad("a number");
      if (field->cpp_type() == FieldDescriptor::CPPTYPE_DOUBLE) reflection->SetDouble(message, field, number);
      else reflection->SetFloat(message, field, static_cast<float>(number));
      return "";
    }
    case FieldDescriptor::CPPTYPE_STRING:
      reflection->SetString(message, field, text);
      return "";
    case FieldDescriptor::CPPTYPE_ENUM: {
      const auto* type = field->enum_type();
      std::vector<std::string> names;
      for (int i = 0; i < type->value_count(); ++i) {
        const auto* candidate = type->value(i);
        if (lowercase(candidate->name()) == lowercase(text)) {
          reflection->SetEnum(message, field, candidate);
          return "";
        }
        names.push_back(lowercase(candidate->name()));
      }
      std::string error = bad("one of " + join(names, ", "));
      if (auto guess = closest_name(text, names); !guess.empty()) error += " (did you mean '" + guess + "'?)";
      return error;
    }
    case FieldDescriptor::CPPTYPE_MESSAGE:
      return "field '" + name + "' is a message; set one of its fields: " +
             join(field_names(field->message_type()), ", ");
  }
  return "field '" + name + "' cannot be set";
}

std::string read_setting(const Message& root, std::string_view field_path) {
  // resolve() needs a mutable message only to descend; reading a copy keeps `root` untouched.
  std::unique_ptr<Message> copy(root.New());
  copy->CopyFrom(root);
  Message* message = copy.get();
  const FieldDescriptor* field = nullptr;
  if (!resolve(message, field_path, field).empty()) return "";
  const auto* reflection = message->GetReflection();
  if (field->is_repeated()) {
    std::string text;
    for (int i = 0; i < reflection->FieldSize(*message, field); ++i)
      text += (i ? "," : "") + (field->cpp_type() == FieldDescriptor::CPPTYPE_UINT32
                                    ? std::to_string(reflection->GetRepeatedUInt32(*message, field, i))
                                    : std::to_string(reflection->GetRepeatedInt32(*message, field, i)));
    return text;
  }
  switch (field->cpp_type()) {
    case FieldDescriptor::CPPTYPE_BOOL: return reflection->GetBool(*message, field) ? "true" : "false";
    case FieldDescriptor::CPPTYPE_INT32: return std::to_string(reflection->GetInt32(*message, field));
    case FieldDescriptor::CPPTYPE_INT64: return std::to_string(reflection->GetInt64(*message, field));
    case FieldDescriptor::CPPTYPE_UINT32: return std::to_string(reflection->GetUInt32(*message, field));
    case FieldDescriptor::CPPTYPE_UINT64: return std::to_string(reflection->GetUInt64(*message, field));
    case FieldDescriptor::CPPTYPE_DOUBLE: {
      auto text = std::to_string(reflection->GetDouble(*message, field));
      text.erase(text.find_last_not_of('0') + 1);
      if (text.back() == '.') text.pop_back();
      return text;
    }
    case FieldDescriptor::CPPTYPE_FLOAT: return std::to_string(reflection->GetFloat(*message, field));
    case FieldDescriptor::CPPTYPE_STRING: return reflection->GetString(*message, field);
    case FieldDescriptor::CPPTYPE_ENUM: return lowercase(reflection->GetEnum(*message, field)->name());
    case FieldDescriptor::CPPTYPE_MESSAGE: return "";
  }
  return "";
}

}  // namespace flowframe
