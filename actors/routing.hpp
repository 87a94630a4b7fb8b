#pragma once
// Responses travel back along the request's path: each forwarder pushed itself onto `via`.
#include "runtime/component.hpp"

namespace flowframe {

// Sends a response one hop back towards the client.
inline void send_back(Event response, Context& context) {
  if (response.via_depth == 0) return;
  const NodeIndex back = response.via[--response.via_depth];
  context.send(back, response);
}

// Answers `request` with `status`.
inline void respond(const Event& request, std::uint16_t status, Context& context) {
  Event response = request;
  response.kind = EventKind::response;
  response.status = status;
  send_back(response, context);
}

}  // namespace flowframe
