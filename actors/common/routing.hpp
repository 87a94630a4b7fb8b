#pragma once
// Responses travel back along the request's path: each forwarder pushed itself onto `via`.
#include <optional>
#include <unordered_map>

#include "runtime/engine/component.hpp"
#include "runtime/engine/topology.hpp"

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

// A request (or message) this node cannot serve, being the wrong kind of node or given a body it
// does not understand: a request is still answered, so its sender counts it failed instead of
// waiting for ever; `note` says why.
inline void refuse_request(const Event& event, std::uint16_t status, Outcome outcome, std::string_view note, Context& context) {
  if (event.kind == EventKind::request) respond(event, status, context);
  context.decide(outcome, kNoNode, note);
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

// How a forwarder (balancer, gateway) passes a request on. Without a timeout it forwards along
// `via` and the answer passes back through it. With the node's `timeout_ms` it calls the backend
// itself, so the engine holds the deadline, and answers the original when the call ends: with the
// backend's answer, or 504 when the deadline passes (a late answer is dropped).
class Relay {
 public:
  struct Ended {
    Event original;  // the request to answer
    NodeIndex backend;
    Time sent;       // when it went to the backend
    bool timed_out;
    std::uint64_t tag;  // the forwarder's, from forward()
  };

  // Every forward becomes a call of this node's, timeout or not (a forwarder that records each
  // backend's answers, like a breaker per backend).
  void own_every_call() { own_every_call_ = true; }

  // `timeout` (> 0) overrides the node's timeout_ms for this call (a gateway route's).
  void forward(const Event& request, NodeIndex backend, Context& context, std::uint64_t tag = 0, Time timeout = 0) {
    Event forward = request;
    forward.arg = context.now();  // comes back in the answer: the backend's response time
    if (!own_every_call_ && timeout <= 0 && context.topology().spec(context.self()).timeout_ms() <= 0) {
      forward.via_push(context.self());
      context.send(backend, forward);
      return;
    }
    waiting_.emplace(context.call(backend, forward, timeout > 0 ? timeout : -1),
                     Ended{request, backend, context.now(), false, tag});
  }

  // The call a response or timeout ends, if it is one of this node's; nullopt for an answer
  // passing back through it.
  std::optional<Ended> end(const Event& event) {
    if (event.kind != EventKind::timeout && !(event.kind == EventKind::response && event.via_empty())) return std::nullopt;
    const auto found = waiting_.find(event.call);
    if (found == waiting_.end()) return std::nullopt;
    auto ended = std::move(found->second);
    waiting_.erase(found);
    ended.timed_out = event.kind == EventKind::timeout;
    return ended;
  }

  // Answers what a call that ended was for; `answer` is the backend's (ignored after a timeout).
  static void answer(const Ended& ended, const Event& answer, Context& context) {
    if (ended.timed_out) {
      respond(ended.original, 504, context);
      context.decide(Outcome::timed_out, ended.backend,
                     "504: " + context.topology().spec(ended.backend).id() + " did not answer in time");
      return;
    }
    respond(ended.original, answer.status, context, 0, answer.payload);
    context.decide(Outcome::forwarded, ended.original.via_empty() ? kNoNode : ended.original.via_top());
  }

 private:
  std::unordered_map<std::uint32_t, Ended> waiting_;
  bool own_every_call_ = false;
};

}  // namespace flowframe
