#pragma once
// Responses travel back along the request's path: each forwarder pushed itself onto `via`.
#include "runtime/engine/component.hpp"

namespace flowframe {

// Sends a response one hop back towards the client, `processing` after now.
inline void send_back(Event response, Context& context, Time processing = 0) {
  if (response.via_empty()) return;
  const NodeIndex back = response.via_pop();
  context.send(back, response, processing);
}

// Answers `request` with `status` (and what `payload` carries), `processing` after now.
inline void respond(const Event& request, std::uint16_t status, Context& context, Time processing = 0,
                    std::shared_ptr<const v1::Payload> payload = nullptr) {
  Event response = request;
  response.kind = EventKind::response;
  response.status = status;
  response.replace_payload(std::move(payload));
  send_back(response, context, processing);
}

// A request this node makes on behalf of `original` (same client and request number, so frames
// show whose work it is, and the same deadline); `arg` comes back in the response. Send it with
// Context::call.
inline Event sub_request(const Event& original, std::int64_t arg, std::shared_ptr<const v1::Payload> payload) {
  Event request = original;
  request.kind = EventKind::request;
  request.status = 0;
  request.silent = false;
  request.arg = arg;
  request.payload = std::move(payload);
  return request;
}

}  // namespace flowframe
