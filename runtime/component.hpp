#pragma once
// A component is one simulated node: its state, its own random generator and sequence counter,
// and its reaction to messages. It sees only events; the shard that hosts it delivers them in key
// order and records the frames, so components contain their own logic only.
#include <memory>
#include <string>
#include <vector>

#include "flowframe/v1/frame.pb.h"
#include "flowframe/v1/scenario.pb.h"
#include "runtime/event.hpp"
#include "runtime/histogram.hpp"
#include "runtime/random.hpp"

namespace flowframe {

class Shard;
class Topology;

// What a component may do while handling one event.
class Context {
 public:
  Context(Shard& shard, const Topology& topology) : shard_(shard), topology_(topology) {}

  Time now() const { return now_; }
  NodeIndex self() const { return self_; }
  Rng& rng();
  const Topology& topology() const { return topology_; }

  // Sends over the link to `to`: delivery = now + `processing` + the link's latency.
  void send(NodeIndex to, Event event, Time processing = 0);
  // An event to this node itself after `delay` (at least 1 ns, so it sorts after the current one).
  void schedule(Time delay, Event event);
  // What this node decided about the current event, for its frame; `note` says it in words
  // where the outcome alone does not ("user:42 (ttl 27.1s)").
  void decide(Outcome outcome, NodeIndex chosen = kNoNode, std::string_view note = {}) {
    outcome_ = outcome;
    chosen_ = chosen;
    note_.assign(note);
  }

 private:
  friend class Shard;
  Shard& shard_;
  const Topology& topology_;
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
      : spec_(spec), index_(index), rng_(Rng::for_node(run_seed, spec.id())) {}
  virtual ~Component() = default;

  // Called once at time 0, before any event.
  virtual void start(Context&) {}
  virtual void handle(const Event& event, Context& context) = 0;
  // A control action (timed event or live control); returns "" or an error. Fills `previous`.
  virtual std::string apply(ControlAction& action, Context& context) = 0;
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

 protected:
  v1::Node spec_;

 private:
  friend class Context;
  friend class Shard;
  NodeIndex index_;
  Rng rng_;
  std::uint64_t next_seq_ = 0;
};

}  // namespace flowframe
