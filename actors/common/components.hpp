#pragma once
// The component kinds FlowFrame simulates, and the factory the runtime builds them with.
#include <memory>

#include "runtime/engine/topology.hpp"

namespace flowframe {

std::unique_ptr<Component> make_component(const v1::Node& spec, NodeIndex index, const Topology& topology);

// The address a client's requests come from: its `ip` parameter, or 10.0.X.Y by its position
// among the workload's clients.
std::string client_ip(const v1::Node& spec, std::size_t position);

}  // namespace flowframe
