#include "runtime/engine/kinds.hpp"

#include <map>
#include <stdexcept>

namespace flowframe {
namespace {

std::map<v1::Node::Kind, MakeComponent>& makers() {
  static std::map<v1::Node::Kind, MakeComponent> all;
  return all;
}

}  // namespace

KindRegistration::KindRegistration(const KindDescription& description, MakeComponent make) {
  register_kind_description(description);
  makers()[description.kind] = make;
}

std::unique_ptr<Component> make_component(const v1::Node& spec, NodeIndex index, const Topology& topology) {
  const auto found = makers().find(spec.kind());
  if (found == makers().end())
    throw std::invalid_argument("node '" + spec.id() + "': no component of kind " + v1::Node::Kind_Name(spec.kind()));
  return found->second(spec, index, topology);
}

bool has_component(v1::Node::Kind kind) { return makers().count(kind) != 0; }

}  // namespace flowframe
