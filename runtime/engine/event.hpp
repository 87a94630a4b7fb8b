#pragma once
// The compact message that travels between components. A plain struct, so a window's worth of
// them moves between shards without allocation; frames (framelog/frame_record.hpp) record them.
#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "flowframe/v1/message.pb.h"
#include "runtime/base/time.hpp"
#include "runtime/engine/distribution.hpp"
#include "runtime/framelog/frame_record.hpp"

namespace flowframe {

// Nodes a response must travel back through, innermost on top (like HTTP Via). The first
// kInline entries live in the event; deeper chains continue in a shared, immutable list, so a
// chain of any depth answers its client and the common short one costs no allocation.
class ViaStack {
 public:
  static constexpr std::uint32_t kInline = 6;

  std::uint32_t depth() const { return depth_; }
  bool empty() const { return depth_ == 0; }
  void clear() {
    depth_ = 0;
    spill_.reset();
  }
  void push(NodeIndex node) {
    if (depth_ < kInline) inline_[depth_] = node;
    else spill_ = std::make_shared<const Spilled>(Spilled{node, std::move(spill_)});
    ++depth_;
  }
  NodeIndex top() const { return depth_ > kInline ? spill_->node : inline_[depth_ - 1]; }
  NodeIndex pop() {
    const NodeIndex node = top();
    if (depth_ > kInline) spill_ = spill_->below;
    --depth_;
    return node;
  }
  // The node that made the call this chain leads back to.
  NodeIndex bottom() const { return inline_[0]; }

 private:
  struct Spilled {
    NodeIndex node;
    std::shared_ptr<const Spilled> below;
  };
  std::array<NodeIndex, kInline> inline_{};
  std::uint32_t depth_ = 0;
  std::shared_ptr<const Spilled> spill_;
};

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
  std::uint16_t status = 0;
  EventKind kind = EventKind::request;
  bool silent = false;  // a component-internal timer, recorded only in small scenarios
  // Set by the sending link: the message never arrives (kept to record where it was lost).
  Outcome fate = Outcome::none;
  ViaStack via;
  // What this message carries beyond the header, for components that need it; shared and
  // immutable, so copying an event stays cheap.
  std::shared_ptr<const v1::Payload> payload;
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
};

}  // namespace flowframe
