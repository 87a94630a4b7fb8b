#pragma once
// CAF's network errors in words a user can act on: its own name the failed call, not the cause.
#include <caf/all.hpp>

#include <string>

namespace flowframe {

inline std::string network_error_text(const caf::actor_system& system, const caf::error& error) {
  if (error == caf::sec::cannot_connect_to_node) return "nothing accepts connections there";
  if (error == caf::sec::cannot_open_port) return "cannot listen there (the port is taken, or the address is not this host's)";
  return system.render(error);
}

}  // namespace flowframe
