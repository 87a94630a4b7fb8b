#include "runtime/scenario/kind.hpp"

#include <map>
#include <stdexcept>

#include "runtime/base/text.hpp"

namespace flowframe {
namespace {

// Built on first use: kinds register from static initialisers in other translation units.
std::map<v1::Node::Kind, const KindDescription*>& registry() {
  static std::map<v1::Node::Kind, const KindDescription*> kinds;
  return kinds;
}

}  // namespace

void register_kind_description(const KindDescription& description) {
  if (!registry().emplace(description.kind, &description).second)
    throw std::logic_error("kind " + v1::Node::Kind_Name(description.kind) + " registered twice");
  if (description.name != lowercase(v1::Node::Kind_Name(description.kind)))
    throw std::logic_error("kind " + v1::Node::Kind_Name(description.kind) + " must be named after its enum value");
}

std::vector<const KindDescription*> kind_descriptions() {
  std::vector<const KindDescription*> all;
  for (const auto& [kind, description] : registry()) all.push_back(description);
  return all;
}

const KindDescription* find_kind(v1::Node::Kind kind) {
  const auto found = registry().find(kind);
  return found == registry().end() ? nullptr : found->second;
}

const KindDescription* find_kind(std::string_view name) {
  for (const auto& [kind, description] : registry())
    if (description->name == name) return description;
  return nullptr;
}

std::string kind_name(v1::Node::Kind kind) { return lowercase(v1::Node::Kind_Name(kind)); }

std::string kind_list() {
  std::string out;
  const auto all = kind_descriptions();
  for (std::size_t i = 0; i < all.size(); ++i)
    out += (i == 0 ? "" : i + 1 == all.size() ? " or " : ", ") + uppercase(all[i]->name);
  return out;
}

}  // namespace flowframe
