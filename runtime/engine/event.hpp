#pragma once
// The compact message that travels between components. A plain struct, so a window's worth of
// them moves between shards without allocation; frames (framelog/frame_record.hpp) record them.
#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "flowframe/v1/control.pb.h"
#include "flowframe/v1/message.pb.h"
#include "runtime/base/time.hpp"
#include "runtime/engine/distribution.hpp"
#include "runtime/framelog/frame_record.hpp"

namespace flowframe {

struct Event {
  Time deliver = 0;
  Time sent = 0;
  Time created = 0;  // when the client made the request: end-to-end latency
  // Past this the caller no longer waits; work still queued then is cancelled (kTimeNever: none).
  Time deadline = kTimeNever;
  std::uint64_t seq = 0;  // the sender's sequence number: (deliver, src, seq) orders delivery
  std::uint64_t request = 0;  // per-client request number
  std::uint64_t id = 0;       // the {id} of the request's path
  std::int64_t arg = 0;       // timers, sub-requests: component-defined; control: index of the action
  NodeIndex src = 0;
  NodeIndex dst = 0;
  NodeIndex client = 0;
  std::uint32_t path = 0;
  // The engine's number for the call at the bottom of `via` (Context::call); 0 for none.
  std::uint32_t call = 0;
  // Broker messages: the log partition + 1 (0: none); `id` is then the message's offset in it.
  std::uint32_t partition = 0;
  std::uint16_t status = 0;
  EventKind kind = EventKind::request;
  bool silent = false;  // a component-internal timer, recorded only in small scenarios
  // A periodic timer (a probe, a heartbeat) that does not keep the run going: the run ends when
  // only such events are left.
  bool background = false;
  // Set by the sending link: the message never arrives (kept to record where it was lost).
  Outcome fate = Outcome::none;
  std::uint16_t via_depth = 0;
  // Nodes a response must travel back through, innermost on top (like HTTP Via): the first
  // kViaInline here, deeper ones in the payload's via_spill, so a chain of any depth answers its
  // client while the common short one costs nothing extra.
  static constexpr std::uint16_t kViaInline = 4;
  std::array<NodeIndex, kViaInline> via{};
  // What this message carries beyond the header, for components that need it; shared and
  // immutable, so copying an event stays cheap.
  std::shared_ptr<const v1::Payload> payload;

  bool via_empty() const { return via_depth == 0; }
  void via_clear() { via_depth = 0; }
  NodeIndex via_top() const {
    return via_depth > kViaInline ? payload->via_spill(via_depth - kViaInline - 1) : via[via_depth - 1];
  }
  NodeIndex via_pop() {
    const NodeIndex node = via_top();
    --via_depth;
    return node;
  }
  // Replaces what the message carries, keeping the spilled part of its way back.
  void replace_payload(std::shared_ptr<const v1::Payload> replacement) {
    if (via_depth > kViaInline) {
      auto merged = replacement ? std::make_shared<v1::Payload>(*replacement) : std::make_shared<v1::Payload>();
      *merged->mutable_via_spill() = payload->via_spill();
      replacement = std::move(merged);
    }
    payload = std::move(replacement);
  }
  void via_push(NodeIndex node) {
    if (via_depth < kViaInline) {
      via[via_depth++] = node;
      return;
    }
    // Deep chains are rare: copy the payload and keep exactly the spilled entries below this one.
    auto copy = payload ? std::make_shared<v1::Payload>(*payload) : std::make_shared<v1::Payload>();
    copy->mutable_via_spill()->Truncate(via_depth - kViaInline);
    copy->add_via_spill(node);
    payload = std::move(copy);
    ++via_depth;
  }
};

inline EventKey key_of(const Event& e) {
  return {e.deliver, (static_cast<std::uint64_t>(e.src) << 40) | (e.seq & ((1ULL << 40) - 1))};
}

// A change to a node (or one direction of a link) at a logical time: a scripted event or live control.
struct ControlAction {
  enum class Type : std::uint8_t {
    set,
    fail,
    restore,
    health,
    crash,     // state lost (as the kind says); requests refused until restart
    restart,
    pause,     // `duration`: deliveries held, then handled in arrival order
    slow,      // `factor`: service times multiplied
    link,      // the link from `target` to `subject`: cut, loss, latency
  };
  Type type = Type::set;
  Time at = 0;
  NodeIndex target = 0;
  NodeIndex subject = kNoNode;  // health: the backend whose health changed; link: the far end
  bool healthy = true;          // health
  Time duration = 0;            // pause
  double factor = 1;            // slow; link: loss probability
  std::optional<Sampler> latency;  // link: the new latency
  std::string field;            // set: field; link: "cut", "loss", "latency" or "heal"
  std::string value;            // set: the value; others: the figure in words, for the frame's note
  std::string previous;  // filled in by the node that applies it
  // A change made live: the request as this node takes it (recorded typed in its control frame, so
  // the steered run replays exactly); none for scripted changes and the notices they cause.
  std::optional<v1::ControlRequest> change;
};

}  // namespace flowframe
