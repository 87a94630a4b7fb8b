#pragma once
// A component is one simulated node's logic: its state and its reaction to messages. It sees only
// events; the shard that hosts it delivers them in key order, records the frames and keeps what
// the engine owns of a node (random stream, sequence and call numbers, deadlines, faults), so a
// component holds its own kind's logic only.
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "flowframe/v1/frame.pb.h"
#include "flowframe/v1/scenario.pb.h"
#include "runtime/base/histogram.hpp"
#include "runtime/engine/distribution.hpp"
#include "runtime/engine/event.hpp"
#include "runtime/engine/random.hpp"

namespace flowframe {

class Shard;
class Topology;

// How a node's health follows control actions (a server: down at capacity 0, back up at its
// capacity before the failure). The component applies it; the engine clones it to foresee the
// health a scripted or live action leads to, so balancers in front learn at that instant.
class HealthRule {
 public:
  virtual ~HealthRule() = default;
  // Applies the action; returns the new health if it changed.
  virtual std::optional<bool> apply(const ControlAction& action) = 0;
  virtual bool healthy() const = 0;
  virtual std::unique_ptr<HealthRule> clone() const = 0;
};

// One direction of a link as its sender sees it, once a fault changed it.
struct LinkState {
  bool cut = false;
  double loss = 0;
  std::optional<Sampler> latency;  // replaces the scenario's latency
};

// What the engine keeps of a node across its component's life (a crash replaces the component).
struct NodeRuntime {
  explicit NodeRuntime(Rng rng) : rng(rng) {}
  Rng rng;
  std::uint64_t next_seq = 0;
  std::uint32_t next_call = 0;
  // Calls numbered below this were made before the node's last crash: their answers are late.
  std::uint32_t first_live_call = 1;
  std::unordered_set<std::uint32_t> waiting_calls;  // calls with a deadline, not yet answered
  Time call_timeout = 0;                            // the node's default deadline for calls (0: none)
  bool crashed = false;
  // Set once the node crashed or paused: its deliveries need the engine's checks from then on.
  bool disturbed = false;
  Time paused_until = 0;
  std::vector<Event> held;  // arrived while paused, in arrival order
  double slowdown = 1;
  Time restarted_at = 0;  // timers set before this belong to a crashed incarnation
  std::unordered_map<NodeIndex, LinkState> links;  // faulted outgoing links, by far end
};

// What a component may do while handling one event.
class Context {
 public:
  Context(Shard& shard, Topology& topology) : shard_(shard), topology_(topology) {}

  Time now() const { return now_; }
  NodeIndex self() const { return self_; }
  Rng& rng();
  const Topology& topology() const { return topology_; }

  // Sends over the link to `to`: delivery = now + `processing` + the link's latency. For
  // forwarding a request and answering one.
  void send(NodeIndex to, Event event, Time processing = 0);
  // Starts a request/response call to `to`: this node becomes the bottom of the request's `via`,
  // and the answer comes back to it. With a timeout (default: the node's `timeout_ms`) the
  // caller gets a TIMEOUT event at the deadline instead, and an answer after it is dropped as
  // late. Returns the call's number (the answer and the timeout carry it in Event::call).
  std::uint32_t call(NodeIndex to, Event request, Time timeout = -1, Time processing = 0);
  // A one-way message (publish, notify): no answer follows.
  void notify(NodeIndex to, Event message, Time processing = 0);
  // An event to this node itself after `delay` (at least 1 ns, so it sorts after the current one).
  void schedule(Time delay, Event event);
  // How long a piece of work takes here: a sample, stretched while the node is slowed down.
  Time work(const Sampler& duration);
  // What this node decided about the current event, for its frame; `note` says it in words
  // where the outcome alone does not ("user:42 (ttl 27.1s)").
  void decide(Outcome outcome, NodeIndex chosen = kNoNode, std::string_view note = {}) {
    outcome_ = outcome;
    chosen_ = chosen;
    note_.assign(note);
  }

 private:
  friend class Shard;
  NodeRuntime& node();
  Shard& shard_;
  Topology& topology_;
  class Component* component_ = nullptr;
  Time now_ = 0;
  NodeIndex self_ = 0;
  Outcome outcome_ = Outcome::none;
  NodeIndex chosen_ = kNoNode;
  std::string note_;
};

class Component {
 public:
  Component(const v1::Node& spec, NodeIndex index, std::uint64_t run_seed)
      : spec_(spec), index_(index), runtime_(Rng::for_node(run_seed, spec.id())) {}
  virtual ~Component() = default;

  // Called once at time 0, before any event, and again when the node restarts after a crash.
  virtual void start(Context&) {}
  // Requests, responses, messages, timers and (Event::call) timeouts of calls it made.
  virtual void handle(const Event& event, Context& context) = 0;
  // A control action (timed event or live control); returns "" or an error. Fills `previous`.
  virtual std::string apply(ControlAction& action, Context& context) = 0;
  // Its health rule, or nullptr for kinds that have no notion of health.
  virtual const HealthRule* health_rule() const { return nullptr; }
  // Whether it learns a downstream node's health changes at once (an ideal health check): kinds
  // that balance over backends, unless they rely on a health checker's notices.
  virtual bool takes_ideal_health() const { return false; }
  // A crash replaces the component with a fresh one built from the scenario; what survives a
  // crash (a database's rows, a client's counters) is copied into `fresh` here.
  virtual void survive_crash(Component& /*fresh*/) const {}
  // In-progress and waiting counts, recorded in each frame delivered here.
  virtual std::uint32_t load() const { return 0; }
  virtual std::uint32_t queue() const { return 0; }
  // Inspectable state. It must not depend on when it is taken, only on what happened (store
  // absolute times, not "remaining"), so a keyframe and a frame that carry it agree.
  virtual void snapshot(v1::NodeState& state) const = 0;
  // Whether frames delivered here should carry the whole state (components whose state is more
  // than load and queue), and roughly how many bytes it would take.
  virtual bool rich() const { return false; }
  virtual std::size_t state_size_hint() const { return 0; }
  // End-to-end latencies this node measured (clients), or nullptr.
  virtual const LatencyHistogram* latencies() const { return nullptr; }

  const v1::Node& spec() const { return spec_; }
  NodeIndex index() const { return index_; }
  const std::string& id() const { return spec_.id(); }
  const NodeRuntime& runtime() const { return runtime_; }
  // Its kind's snapshot plus what the engine keeps of the node (crashed, paused).
  void snapshot_node(v1::NodeState& state) const {
    snapshot(state);
    state.set_crashed(runtime_.crashed);
    state.set_paused_until_ns(runtime_.paused_until);
  }

 protected:
  v1::Node spec_;

 private:
  friend class Context;
  friend class Shard;
  friend class Topology;
  NodeIndex index_;
  NodeRuntime runtime_;
};

}  // namespace flowframe
