#pragma once
// A kind registers once, at the end of its own module (actors/KIND/KIND.cpp):
//
//   const KindDescription kServer{.kind = v1::Node::SERVER, .name = "server", ...};
//   FLOWFRAME_KIND(kServer, make_server);
//
// which gives the scenario loader its description and the engine its component. Binaries link
// the kinds whole (flowframe_kinds in CMake), so a kind nobody names still registers.
#include <memory>

#include "runtime/engine/topology.hpp"
#include "runtime/scenario/kind.hpp"

namespace flowframe {

using MakeComponent = std::unique_ptr<Component> (*)(const v1::Node& spec, NodeIndex index, const Topology& topology);

struct KindRegistration {
  KindRegistration(const KindDescription& description, MakeComponent make);
};

// The component for a node, built by its kind's module: the ComponentFactory every run uses.
std::unique_ptr<Component> make_component(const v1::Node& spec, NodeIndex index, const Topology& topology);
// Whether a kind has registered a component.
bool has_component(v1::Node::Kind kind);

#define FLOWFRAME_KIND(description, make) \
  const ::flowframe::KindRegistration kFlowframeKindRegistration_##description{description, make}

}  // namespace flowframe
