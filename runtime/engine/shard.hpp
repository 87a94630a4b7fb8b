#pragma once
// A shard delivers events to the components it hosts, in (time, sender, sequence) order, and
// records a frame per delivery. It knows nothing of threads: the simulation runs each shard inside
// a CAF actor and calls run() once per window.
#include <memory>
#include <queue>
#include <vector>

#include <google/protobuf/arena.h>

#include "runtime/engine/component.hpp"
#include "runtime/engine/topology.hpp"

namespace flowframe {

// Which shard hosts each node, for `count` shards: the heaviest nodes first onto the least loaded
// shard. The same for every process of a run (flowframe run --workers).
std::vector<std::uint32_t> assign_shards(const Topology& topology, unsigned count);

class Shard {
 public:
  // Calls with a deadline carry this bit in their number, so an answer can tell it is awaited.
  static constexpr std::uint32_t kTimedCall = 0x80000000u;

  Shard(Topology& topology, std::uint32_t id, std::uint32_t shard_count,
        const std::vector<std::uint32_t>& shard_of, bool record, bool detailed);

  std::uint32_t id() const { return id_; }
  // Calls start() on the hosted components and queues their control actions.
  void start();
  // A control event from the coordinator, between windows.
  void inject(Event event) { push(std::move(event)); }
  // Between windows: hands over every event waiting here or in mail not yet taken, so the nodes
  // can move to other shards (the frames do not depend on which shard delivers what).
  void release(std::vector<Event>& out);
  // Takes the events other shards sent here during the previous window.
  void take_mail(const std::vector<std::unique_ptr<Shard>>& shards, std::uint64_t window);
  // The same mail, handed over instead (to a shard hosted elsewhere).
  void take_mail(const std::vector<std::unique_ptr<Shard>>& shards, std::uint64_t window, std::vector<Event>& out);
  // Delivers every event before `end`. `window` picks the outbox buffer, so other shards can
  // read last window's mail while this one fills the next.
  void run(Time end, std::uint64_t window);
  // The only shard runs the same windows on its own, with no one to wait for, until at least
  // `frames` frames or `events` events are done (always stopping at a window's end).
  void run_alone(Time lookahead, std::size_t frames, std::uint64_t events, Time until);
  // Earliest pending event here or in mail this shard sent in its last run.
  Time next_time() const;
  // Pending events here and in that mail that keep the run going (all but background timers).
  std::uint64_t foreground() const { return foreground_ + mail_foreground_[parity_]; }

  std::vector<FrameRecord>& frames() { return frames_; }
  // The notes frames() refer to.
  std::string& notes() { return notes_; }
  std::uint64_t delivered() const { return delivered_; }
  // Requests and responses delivered: messages that crossed a link.
  std::uint64_t hops() const { return hops_; }
  Time last_time() const { return last_time_; }
  // Where delivery stopped, for an error a component threw: "node 'db' at 1.25 s".
  std::string position() const;

 private:
  friend class Context;
  // The two ends of a shard hosted in another process (engine/remote_shard.hpp): the host runs
  // it, the mirror here holds what its windows did.
  friend class ShardHost;
  friend class ShardMirror;
  struct Pending {
    EventKey key;
    std::uint32_t slot;
    friend bool operator>(const Pending& a, const Pending& b) { return b.key < a.key; }
  };

  // Calls take(event) for each event the others sent here during the previous window.
  template <class Take>
  void each_mail(const std::vector<std::unique_ptr<Shard>>& shards, std::uint64_t window, Take&& take);
  void route(Event&& event);
  void push(Event&& event);
  void deliver(const Event& event);
  // Whether the engine must look at an event before its component does: a fault on the node or
  // the link, or a deadline. False for nearly every event, so the check stays inline.
  static bool concerns_engine(const Event& event, const NodeRuntime& node) {
    return event.fate != Outcome::none || node.disturbed || event.kind == EventKind::timeout ||
           (event.call & kTimedCall);
  }
  bool intercept(const Event& event, Component& component);
  std::string apply_fault(ControlAction& action, Component*& component);
  void end_pause(Component& component);

  Topology& topology_;
  std::uint32_t id_;
  const std::vector<std::uint32_t>& shard_of_;
  bool record_;
  // Every event makes a frame carrying its destination's state (RunOptions::detail).
  bool detailed_;
  Context context_;
  std::vector<Event> slab_;
  std::vector<std::uint32_t> free_slots_;
  std::priority_queue<Pending, std::vector<Pending>, std::greater<>> heap_;
  // outbox_[parity][shard]: events for another shard, read by it at its next window.
  std::vector<std::vector<Event>> outbox_[2];
  std::uint64_t parity_ = 0;
  std::uint64_t foreground_ = 0;
  std::uint64_t mail_foreground_[2] = {0, 0};
  Time earliest_sent_ = kTimeNever;
  std::vector<FrameRecord> frames_;
  std::string notes_;
  google::protobuf::Arena state_arena_;
  std::uint64_t delivered_ = 0;
  std::uint64_t hops_ = 0;
  Time last_time_ = 0;
};

}  // namespace flowframe
