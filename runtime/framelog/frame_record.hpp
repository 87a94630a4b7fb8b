#pragma once
// One recorded delivery as the engine hands it to the log writer: plain data, no engine types,
// so the frame log (and the viewer's model on top of it) builds without the engine.
#include <cstdint>

#include "flowframe/v1/frame.pb.h"
#include "runtime/base/time.hpp"

namespace flowframe {

using NodeIndex = std::uint32_t;
inline constexpr NodeIndex kDirector = 0;  // node 0: timed events and live control
inline constexpr NodeIndex kNoNode = 0xFFFFFFFF;

// What was delivered. Values equal frame.proto's Frame.Kind.
enum class EventKind : std::uint8_t { request = 0, response = 1, timer = 2, control = 3, message = 4, timeout = 5 };

// What the destination did with it: frame.proto's Frame.Outcome under C++ names. The values come
// from the proto, so the two cannot disagree; the count check catches a proto outcome not listed.
#define FLOWFRAME_OUTCOMES(X) \
  X(none, NONE) \
  X(forwarded, FORWARDED) \
  X(started, STARTED) \
  X(queued, QUEUED) \
  X(served, SERVED) \
  X(rejected_queue_full, REJECTED_QUEUE_FULL) \
  X(rejected_down, REJECTED_DOWN) \
  X(rejected_no_backend, REJECTED_NO_BACKEND) \
  X(completed, COMPLETED) \
  X(applied, APPLIED) \
  X(aborted, ABORTED) \
  X(delegated, DELEGATED) \
  X(cache_hit, CACHE_HIT) \
  X(cache_miss, CACHE_MISS) \
  X(cache_set, CACHE_SET) \
  X(cache_deleted, CACHE_DELETED) \
  X(expired, EXPIRED) \
  X(not_found, NOT_FOUND) \
  X(row_read, ROW_READ) \
  X(row_written, ROW_WRITTEN) \
  X(pool_exhausted, POOL_EXHAUSTED) \
  X(rate_limited, RATE_LIMITED) \
  X(no_route, NO_ROUTE) \
  X(pool_empty, POOL_EMPTY) \
  X(token_issued, TOKEN_ISSUED) \
  X(stored, STORED) \
  X(read_ok, READ_OK) \
  X(token_expired, TOKEN_EXPIRED) \
  X(token_bad_signature, TOKEN_BAD_SIGNATURE) \
  X(token_wrong_key, TOKEN_WRONG_KEY) \
  X(token_wrong_permission, TOKEN_WRONG_PERMISSION) \
  X(bad_request, BAD_REQUEST) \
  X(timed_out, TIMED_OUT) \
  X(late, LATE) \
  X(cancelled, CANCELLED) \
  X(refused, REFUSED) \
  X(dropped, DROPPED) \
  X(held, HELD) \
  X(lost, LOST) \
  X(partitioned, PARTITIONED) \
  X(probe_ok, PROBE_OK) \
  X(probe_failed, PROBE_FAILED) \
  X(health_changed, HEALTH_CHANGED) \
  X(retry_scheduled, RETRY_SCHEDULED) \
  X(gave_up, GAVE_UP) \
  X(short_circuited, SHORT_CIRCUITED) \
  X(breaker_changed, BREAKER_CHANGED) \
  X(bulkhead_full, BULKHEAD_FULL) \
  X(shed, SHED) \
  X(published, PUBLISHED) \
  X(acked, ACKED) \
  X(requeued, REQUEUED) \
  X(dead_lettered, DEAD_LETTERED) \
  X(consumer_gone, CONSUMER_GONE) \
  X(subscribed, SUBSCRIBED) \
  X(nacked, NACKED) \
  X(appended, APPENDED) \
  X(fetched, FETCHED) \
  X(committed, COMMITTED) \
  X(rebalancing, REBALANCING) \
  X(assigned, ASSIGNED) \
  X(discarded, DISCARDED) \
  X(elected, ELECTED) \
  X(truncated, TRUNCATED) \
  X(step_applied, STEP_APPLIED) \
  X(step_repeated, STEP_REPEATED) \
  X(step_refused, STEP_REFUSED) \
  X(step_undone, STEP_UNDONE) \
  X(step_voided, STEP_VOIDED) \
  X(saga_committed, SAGA_COMMITTED) \
  X(saga_compensated, SAGA_COMPENSATED) \
  X(change_applied, CHANGE_APPLIED) \
  X(stale_read, STALE_READ) \
  X(replica_acked, REPLICA_ACKED)
enum class Outcome : std::uint8_t {
#define FLOWFRAME_OUTCOME_VALUE(name, NAME) name = v1::Frame::NAME,
  FLOWFRAME_OUTCOMES(FLOWFRAME_OUTCOME_VALUE)
#undef FLOWFRAME_OUTCOME_VALUE
};
#define FLOWFRAME_COUNT_OUTCOME(name, NAME) +1
static_assert(0 FLOWFRAME_OUTCOMES(FLOWFRAME_COUNT_OUTCOME) == v1::Frame::Outcome_ARRAYSIZE,
              "frame.proto's Frame.Outcome has values that FLOWFRAME_OUTCOMES does not list");
#undef FLOWFRAME_COUNT_OUTCOME
static_assert(static_cast<int>(EventKind::timeout) == v1::Frame::TIMEOUT && v1::Frame::MESSAGE == 4 &&
                  v1::Frame::Kind_ARRAYSIZE == 6,
              "EventKind differs from frame.proto's Frame.Kind");

// Total order of deliveries: by time, then sender, then the sender's sequence number.
struct EventKey {
  Time deliver;
  std::uint64_t order;  // src << 40 | seq
  friend bool operator<(const EventKey& a, const EventKey& b) {
    return a.deliver != b.deliver ? a.deliver < b.deliver : a.order < b.order;
  }
  friend bool operator==(const EventKey& a, const EventKey& b) = default;
};

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
  std::uint32_t partition;  // a log partition + 1; 0: none
  // The frame's note, (control frames) previous value and live change, and (some frames) the
  // destination's state: note_size bytes at note_offset in the notes buffer that travels with the
  // frames, then previous_size bytes, then change_size bytes of serialized ControlRequest, then
  // state_size bytes of serialized NodeState.
  std::uint32_t note_offset;
  std::uint32_t note_size;
  std::uint32_t state_size;
  std::uint16_t previous_size;  // a setting's value before the change: short
  std::uint16_t change_size;    // live requests are checked to fit (Simulation)
  std::uint16_t status;
  EventKind kind;
  Outcome outcome;
  // Named so no byte of a record is left undefined: records travel between processes as bytes
  // (flowframe run --workers).
  std::uint32_t unused = 0;
};

}  // namespace flowframe
