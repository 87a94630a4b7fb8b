#pragma once
// The compact message that travels between components, and the frame the delivery layer records.
// Both are plain structs so a window's worth of them moves between shards without allocation;
// frame.proto's Frame is their on-disk form.
#include <array>
#include <cstdint>
#include <memory>
#include <string>

#include "flowframe/v1/message.pb.h"

#include "runtime/time.hpp"

namespace flowframe {

using NodeIndex = std::uint32_t;
inline constexpr NodeIndex kDirector = 0;  // node 0: timed events and live control
inline constexpr NodeIndex kNoNode = 0xFFFFFFFF;

enum class EventKind : std::uint8_t { request = 0, response = 1, timer = 2, control = 3 };

// Values equal frame.proto's Frame.Outcome.
enum class Outcome : std::uint8_t {
  none = 0,
  forwarded = 1,
  started = 2,
  queued = 3,
  served = 4,
  rejected_queue_full = 5,
  rejected_down = 6,
  rejected_no_backend = 7,
  completed = 8,
  applied = 9,
  aborted = 10,
  delegated = 11,
  cache_hit = 12,
  cache_miss = 13,
  cache_set = 14,
  cache_deleted = 15,
  expired = 16,
  not_found = 17,
  row_read = 18,
  row_written = 19,
  pool_exhausted = 20,
  rate_limited = 21,
  no_route = 22,
  pool_empty = 23,
  token_issued = 24,
  stored = 25,
  read_ok = 26,
  token_expired = 27,
  token_bad_signature = 28,
  token_wrong_key = 29,
  token_wrong_permission = 30,
  bad_request = 31,
};

inline constexpr int kMaxVia = 6;

struct Event {
  Time deliver = 0;
  Time sent = 0;
  Time created = 0;  // when the client made the request: end-to-end latency
  std::uint64_t seq = 0;  // the sender's sequence number: (deliver, src, seq) orders delivery
  std::uint64_t request = 0;  // per-client request number
  std::uint64_t id = 0;       // the {id} of the request's path
  std::int64_t arg = 0;       // timers, sub-requests: component-defined; control: index of the action
  NodeIndex src = 0;
  NodeIndex dst = 0;
  NodeIndex client = 0;
  std::uint32_t path = 0;
  std::uint16_t status = 0;
  EventKind kind = EventKind::request;
  bool silent = false;  // a component-internal timer, recorded only in small scenarios
  std::uint8_t via_depth = 0;
  // Nodes a response must travel back through, innermost last (like HTTP Via).
  std::array<NodeIndex, kMaxVia> via{};
  // What this message carries beyond the header, for components that need it; shared and
  // immutable, so copying an event stays cheap.
  std::shared_ptr<const v1::Payload> payload;
};

// Total order of events: by delivery time, then sender, then the sender's sequence number.
struct EventKey {
  Time deliver;
  std::uint64_t order;  // src << 40 | seq
  friend bool operator<(const EventKey& a, const EventKey& b) {
    return a.deliver != b.deliver ? a.deliver < b.deliver : a.order < b.order;
  }
  friend bool operator==(const EventKey& a, const EventKey& b) = default;
};
inline EventKey key_of(const Event& e) {
  return {e.deliver, (static_cast<std::uint64_t>(e.src) << 40) | (e.seq & ((1ULL << 40) - 1))};
}

struct FrameRecord {
  EventKey key;
  Time sent;
  std::uint64_t request;
  std::uint64_t id;
  NodeIndex src;
  NodeIndex dst;
  NodeIndex client;
  NodeIndex chosen;  // kNoNode if none
  std::uint32_t path;
  std::uint32_t load;
  std::uint32_t queue;
  // The frame's note, (control frames) previous value and (some frames) the destination's state:
  // note_size bytes at note_offset in the notes buffer that travels with the frames, then
  // previous_size bytes, then state_size bytes.
  std::uint32_t note_offset;
  std::uint32_t note_size;
  std::uint32_t previous_size;
  std::uint32_t state_size;  // then this many bytes of serialized NodeState
  std::uint16_t status;
  EventKind kind;
  Outcome outcome;
};

// A change to a node at a logical time: a scripted event or (later) live control.
struct ControlAction {
  enum class Type : std::uint8_t { set, fail, restore, health };
  Type type = Type::set;
  Time at = 0;
  NodeIndex target = 0;
  NodeIndex subject = kNoNode;  // health: the backend whose health changed
  bool healthy = true;          // health
  std::string field;
  std::string value;
  std::string previous;  // filled in by the node that applies it
};

}  // namespace flowframe
