#include "runtime/engine/shard.hpp"

#include <algorithm>
#include <iterator>
#include <numeric>

#include "runtime/base/text.hpp"
#include "runtime/framelog/frame_log.hpp"

namespace flowframe {
namespace {

// Frames carry their destination's state only while it is this small.
constexpr std::size_t kMaxFrameState = 4096;
// Memory the states being recorded take before their arena is emptied.
constexpr std::uint64_t kStateArenaBytes = 1 << 20;

constexpr std::uint32_t kTimedCall = Shard::kTimedCall;
constexpr std::uint32_t kCallNumber = 0x7FFFFFFFu;

// A control frame's note: "capacity=0", "fail", "health server-2 down", "crash", "pause 2s".
std::string describe_action(const ControlAction& action, const Topology& topology) {
  switch (action.type) {
    case ControlAction::Type::set: return action.field + "=" + action.value;
    case ControlAction::Type::fail: return "fail";
    case ControlAction::Type::restore: return "restore";
    case ControlAction::Type::health:
      return "health " + topology.spec(action.subject).id() + (action.healthy ? " up" : " down");
    case ControlAction::Type::crash: return "crash";
    case ControlAction::Type::restart: return "restart";
    case ControlAction::Type::pause: return "pause " + action.value + "s";
    case ControlAction::Type::slow: return "slow x" + action.value;
    case ControlAction::Type::link:
      return "link -> " + topology.spec(action.subject).id() + " " + action.field +
             (action.value.empty() ? "" : "=" + action.value);
  }
  return "";
}

// Control events at a negative index end a pause.
constexpr std::int64_t kEndOfPause = -1;

}  // namespace

// Heaviest nodes (or groups of nodes) first onto the least-loaded shard. A node's weight is the
// share of the workload that passes through it (each request costs every node it visits about two
// events): the clients' rate, split evenly over each node's downstream links.
std::vector<std::uint32_t> assign_shards(const Topology& topology, unsigned count) {
  const auto nodes = static_cast<NodeIndex>(topology.size());
  std::vector<double> traffic(nodes, 0.0);
  std::vector<NodeIndex> frontier;
  for (NodeIndex client : topology.clients()) {
    traffic[client] = 1.0;
    frontier.push_back(client);
  }
  // Breadth-first along downstream links; a cycle stops after `nodes` rounds.
  for (NodeIndex round = 0; round < nodes && !frontier.empty(); ++round) {
    std::vector<NodeIndex> next;
    for (NodeIndex node : frontier) {
      const auto& down = topology.downstream(node);
      if (down.empty() || topology.spec(node).kind() == v1::Node::SERVER) continue;
      for (NodeIndex to : down) {
        if (traffic[to] == 0) next.push_back(to);
        traffic[to] += traffic[node] / static_cast<double>(down.size());
      }
    }
    frontier = std::move(next);
  }
  // Nodes that never talk to each other (separate cells of a big scenario) go to shards whole,
  // so their messages never cross shards, if that leaves the shards about evenly loaded.
  std::vector<NodeIndex> group(nodes);
  std::iota(group.begin(), group.end(), NodeIndex{0});
  auto root = [&](NodeIndex node) {
    while (group[node] != node) node = group[node] = group[group[node]];
    return node;
  };
  for (NodeIndex node = 1; node < nodes; ++node)
    for (NodeIndex to : topology.downstream(node)) group[root(to)] = root(node);
  std::vector<double> group_weight(nodes, 0.0);
  double total = 0;
  for (NodeIndex i = 1; i < nodes; ++i) {
    group_weight[root(i)] += traffic[i] + 1e-9;
    total += traffic[i] + 1e-9;
  }
  const auto groups = static_cast<unsigned>(std::count_if(group_weight.begin(), group_weight.end(), [](double w) { return w > 0; }));
  // Heaviest first onto the least loaded shard: whole groups, or single nodes. Returns the
  // heaviest shard's load.
  std::vector<std::uint32_t> shard_of(nodes, 0);
  auto spread = [&](bool whole_groups) {
    std::vector<std::pair<double, NodeIndex>> weights;
    for (NodeIndex i = 1; i < nodes; ++i)
      if (!whole_groups) weights.emplace_back(traffic[i] + 1e-9, i);
      else if (root(i) == i) weights.emplace_back(group_weight[i], i);
    std::stable_sort(weights.begin(), weights.end(), [](auto& a, auto& b) { return a.first > b.first; });
    std::vector<double> load(count, 0.0);
    for (const auto& [weight, node] : weights) {
      const auto lightest = static_cast<std::uint32_t>(std::min_element(load.begin(), load.end()) - load.begin());
      shard_of[node] = lightest;
      load[lightest] += weight;
    }
    if (whole_groups)
      for (NodeIndex i = 1; i < nodes; ++i) shard_of[i] = shard_of[root(i)];
    return *std::max_element(load.begin(), load.end());
  };
  // Whole groups if that keeps every shard busy and none above a quarter over even.
  if (groups >= count && spread(true) <= 1.25 * total / count) {
    std::vector<bool> used(count);
    for (NodeIndex i = 1; i < nodes; ++i) used[shard_of[i]] = true;
    if (std::all_of(used.begin(), used.end(), [](bool u) { return u; })) return shard_of;
  }
  spread(false);
  return shard_of;
}

Rng& Context::rng() { return component_->runtime_.rng; }
NodeRuntime& Context::node() { return component_->runtime_; }

void Context::send(NodeIndex to, Event event, Time processing) {
  auto& node = this->node();
  event.src = self_;
  event.dst = to;
  event.sent = now_ + processing;
  event.seq = node.next_seq++;
  const LinkState* fault = nullptr;
  if (!node.links.empty())
    if (auto found = node.links.find(to); found != node.links.end()) fault = &found->second;
  const Sampler& latency = fault && fault->latency ? *fault->latency : topology_.link(self_, to);
  event.deliver = event.sent + latency.sample(node.rng);
  if (fault && fault->cut) event.fate = Outcome::partitioned;
  else if (fault && fault->loss > 0 && node.rng.next_double() < fault->loss) event.fate = Outcome::lost;
  shard_.route(std::move(event));
}

std::uint32_t Context::call(NodeIndex to, Event request, Time timeout, Time processing) {
  auto& node = this->node();
  if (timeout < 0) timeout = node.call_timeout;
  request.kind = EventKind::request;
  request.via_clear();
  request.via_push(self_);
  request.call = (++node.next_call & kCallNumber) | (timeout > 0 ? kTimedCall : 0);
  if (timeout > 0) {
    const Time deadline = now_ + processing + timeout;
    request.deadline = std::min(request.deadline, deadline);
    node.waiting_calls.insert(request.call);
    Event expiry = request;
    expiry.kind = EventKind::timeout;
    expiry.silent = true;  // a deadline that was met leaves no trace
    expiry.via_clear();
    expiry.payload.reset();
    const auto call = request.call;
    send(to, std::move(request), processing);
    schedule(deadline - now_, std::move(expiry));
    return call;
  }
  const auto call = request.call;
  send(to, std::move(request), processing);
  return call;
}

void Context::notify(NodeIndex to, Event message, Time processing) {
  message.kind = EventKind::message;
  message.via_clear();
  message.call = 0;
  send(to, std::move(message), processing);
}

void Context::schedule(Time delay, Event event) {
  event.src = self_;
  event.dst = self_;
  event.sent = now_;
  event.seq = node().next_seq++;
  event.deliver = now_ + std::max<Time>(delay, 1);
  shard_.route(std::move(event));
}

Time Context::work(const Sampler& duration) {
  const Time sampled = duration.sample(node().rng);
  const double slowdown = node().slowdown;
  return slowdown == 1 ? sampled : static_cast<Time>(std::llround(static_cast<double>(sampled) * slowdown));
}

Shard::Shard(Topology& topology, std::uint32_t id, std::uint32_t shard_count,
             const std::vector<std::uint32_t>& shard_of, bool record, bool detailed)
    : topology_(topology),
      id_(id),
      shard_of_(shard_of),
      record_(record),
      detailed_(detailed),
      context_(*this, topology) {
  outbox_[0].resize(shard_count);
  outbox_[1].resize(shard_count);
}

void Shard::start() {
  for (NodeIndex node = 1; node < topology_.size(); ++node) {
    if (shard_of_[node] != id_) continue;
    context_.component_ = &topology_.component(node);
    context_.self_ = node;
    context_.now_ = 0;
    context_.component_->start(context_);
  }
  const auto& actions = topology_.actions();
  for (std::size_t i = 0; i < actions.size(); ++i) {
    if (shard_of_[actions[i].target] != id_) continue;
    Event control;
    control.kind = EventKind::control;
    control.src = kDirector;
    control.dst = actions[i].target;
    control.seq = i;
    control.sent = control.deliver = actions[i].at;
    control.arg = static_cast<std::int64_t>(i);
    push(std::move(control));
  }
}

template <class Take>
void Shard::each_mail(const std::vector<std::unique_ptr<Shard>>& shards, std::uint64_t window, Take&& take) {
  const auto previous = (window & 1) ^ 1;
  for (auto& sender : shards) {
    auto& mail = sender->outbox_[previous][id_];
    for (auto& event : mail) take(std::move(event));
    mail.clear();
  }
}

void Shard::take_mail(const std::vector<std::unique_ptr<Shard>>& shards, std::uint64_t window) {
  each_mail(shards, window, [this](Event&& event) { push(std::move(event)); });
}

void Shard::take_mail(const std::vector<std::unique_ptr<Shard>>& shards, std::uint64_t window, std::vector<Event>& out) {
  each_mail(shards, window, [&out](Event&& event) { out.push_back(std::move(event)); });
}

void Shard::release(std::vector<Event>& out) {
  while (!heap_.empty()) {
    out.push_back(std::move(slab_[heap_.top().slot]));
    heap_.pop();
  }
  slab_.clear();
  free_slots_.clear();
  for (auto& outbox : outbox_)
    for (auto& mail : outbox) {
      std::move(mail.begin(), mail.end(), std::back_inserter(out));
      mail.clear();
    }
  foreground_ = 0;
  mail_foreground_[0] = mail_foreground_[1] = 0;
  earliest_sent_ = kTimeNever;
}

void Shard::route(Event&& event) {
  const auto target = shard_of_[event.dst];
  if (target == id_) {
    push(std::move(event));
    return;
  }
  earliest_sent_ = std::min(earliest_sent_, event.deliver);
  if (!event.background) ++mail_foreground_[parity_];
  outbox_[parity_][target].push_back(std::move(event));
}

void Shard::push(Event&& event) {
  const auto key = key_of(event);
  if (!event.background) ++foreground_;
  std::uint32_t slot;
  if (free_slots_.empty()) {
    slot = static_cast<std::uint32_t>(slab_.size());
    slab_.push_back(std::move(event));
  } else {
    slot = free_slots_.back();
    free_slots_.pop_back();
    slab_[slot] = std::move(event);
  }
  heap_.push({key, slot});
}

Time Shard::next_time() const {
  const Time local = heap_.empty() ? kTimeNever : heap_.top().key.deliver;
  return std::min(local, earliest_sent_);
}

void Shard::run(Time end, std::uint64_t window) {
  parity_ = window & 1;
  earliest_sent_ = kTimeNever;
  mail_foreground_[parity_] = 0;  // that mail was taken at the start of the last window
  while (!heap_.empty() && heap_.top().key.deliver < end) {
    const auto slot = heap_.top().slot;
    heap_.pop();
    const Event event = std::move(slab_[slot]);
    if (!event.background) --foreground_;
    free_slots_.push_back(slot);
    deliver(event);
  }
}

void Shard::run_alone(Time lookahead, std::size_t frames, std::uint64_t events, Time until) {
  const std::uint64_t stop = delivered_ + events;
  while (!heap_.empty() && foreground_ > 0 && frames_.size() < frames && delivered_ < stop && heap_.top().key.deliver <= until)
    run(heap_.top().key.deliver + lookahead, 0);
}

// What the engine itself does with an event before (or instead of) the component: faults,
// deadlines and late answers. Returns false when the component should handle it.
bool Shard::intercept(const Event& event, Component& component) {
  auto& node = component.runtime_;
  if (event.fate != Outcome::none) {
    context_.decide(event.fate, kNoNode,
                    (event.fate == Outcome::lost ? "lost on the link from " : "partitioned away from ") +
                        topology_.spec(event.src).id());
    return true;
  }
  if (event.kind == EventKind::control) return false;
  const bool own_timer = event.kind == EventKind::timer || event.kind == EventKind::timeout;
  if (node.crashed) {
    if (event.kind == EventKind::request && !event.via_empty()) {
      Event refusal = event;
      refusal.kind = EventKind::response;
      refusal.status = 503;
      const NodeIndex back = refusal.via_pop();
      context_.send(back, refusal);
      context_.decide(Outcome::refused, back, "crashed: connection refused");
    } else {
      context_.decide(Outcome::dropped, kNoNode, "crashed: nobody handles it");
    }
    return true;
  }
  if (own_timer && event.sent < node.restarted_at) {
    context_.decide(Outcome::dropped, kNoNode, "set before the node crashed");
    return true;
  }
  if (context_.now_ < node.paused_until) {
    node.held.push_back(event);
    context_.decide(Outcome::held, kNoNode, "paused: handled when the pause ends");
    return true;
  }
  if (event.kind == EventKind::timeout) {
    node.waiting_calls.erase(event.call);  // the caller handles it (checked awaited in deliver)
    context_.decide(Outcome::timed_out, kNoNode, "deadline passed");
    return false;
  }
  if ((event.kind == EventKind::response) && event.via_empty() && event.call != 0) {
    const bool before_crash = (event.call & kCallNumber) < node.first_live_call;
    if (before_crash || ((event.call & kTimedCall) && !node.waiting_calls.erase(event.call))) {
      context_.decide(Outcome::late, kNoNode,
                      before_crash ? "answer to a call made before the node crashed; dropped"
                                   : "answer after the call timed out; dropped");
      return true;
    }
  }
  return false;
}

// Crash, restart, pause, slow and link faults work the same on every kind, so the engine applies
// them; everything else is the component's. Returns "" or an error.
std::string Shard::apply_fault(ControlAction& action, Component*& component) {
  auto& node = component->runtime_;
  switch (action.type) {
    case ControlAction::Type::crash: {
      if (node.crashed) return "already crashed";
      action.previous = "up";
      node.crashed = true;
      node.disturbed = true;
      node.waiting_calls.clear();
      node.first_live_call = (node.next_call & kCallNumber) + 1;
      node.held.clear();
      node.paused_until = 0;
      component = &topology_.rebuild(action.target);
      context_.component_ = component;
      return "";
    }
    case ControlAction::Type::restart:
      if (!node.crashed) return "not crashed";
      action.previous = "crashed";
      node.crashed = false;
      node.restarted_at = context_.now_;
      component->start(context_);
      return "";
    case ControlAction::Type::pause: {
      action.previous = node.paused_until > context_.now_ ? "paused" : "running";
      const Time until = context_.now_ + action.duration;
      if (until <= node.paused_until) return "";
      node.paused_until = until;
      node.disturbed = true;
      Event end;
      end.kind = EventKind::control;
      end.arg = kEndOfPause;
      context_.schedule(action.duration, end);
      return "";
    }
    case ControlAction::Type::slow:
      action.previous = "x" + std::to_string(node.slowdown);
      node.slowdown = action.factor;
      return "";
    case ControlAction::Type::link: {
      auto& link = node.links[action.subject];
      if (action.field == "cut") link.cut = true;
      else if (action.field == "loss") link.loss = action.factor;
      else if (action.field == "latency") link.latency = action.latency;
      else node.links.erase(action.subject);  // heal
      return "";
    }
    default:
      return component->apply(action, context_);
  }
}

void Shard::end_pause(Component& component) {
  auto& node = component.runtime_;
  if (context_.now_ < node.paused_until) return context_.decide(Outcome::none, kNoNode, "a longer pause goes on");
  auto held = std::move(node.held);
  node.held.clear();
  // Held messages follow in the order they arrived, a nanosecond apart.
  for (std::size_t i = 0; i < held.size(); ++i) {
    held[i].deliver = context_.now_ + 1 + static_cast<Time>(i);
    push(std::move(held[i]));
  }
  context_.decide(Outcome::applied, kNoNode, "pause over: " + std::to_string(held.size()) + " held messages follow");
}

void Shard::deliver(const Event& event) {
  Component* component = &topology_.component(event.dst);
  context_.component_ = component;
  context_.self_ = event.dst;
  context_.now_ = event.deliver;
  context_.outcome_ = Outcome::none;
  context_.chosen_ = kNoNode;
  context_.note_.clear();
  ++delivered_;
  if (event.kind == EventKind::timeout && !component->runtime_.waiting_calls.count(event.call)) return;  // met
  // The run ends at its last frame; an unrecorded idle tick past a client's stop is not activity.
  if (!event.silent || (record_ && detailed_) || event.kind == EventKind::timeout) last_time_ = event.deliver;
  if (event.kind == EventKind::request || event.kind == EventKind::response || event.kind == EventKind::message)
    ++hops_;
  const ControlAction* action = nullptr;
  if (event.kind == EventKind::control && event.arg == kEndOfPause) {
    end_pause(*component);
  } else if (event.kind == EventKind::control) {
    auto& applied = topology_.actions()[static_cast<std::size_t>(event.arg)];
    action = &applied;
    const auto error = apply_fault(applied, component);
    // What a restarted component said as it started (a saga log resumed) follows the change itself.
    const auto said = applied.type == ControlAction::Type::restart ? std::move(context_.note_) : std::string();
    context_.outcome_ = error.empty() ? Outcome::applied : Outcome::none;
    context_.note_ = describe_action(applied, topology_) + (error.empty() ? "" : ": " + error) + (said.empty() ? "" : ": " + said);
  } else if (!concerns_engine(event, component->runtime_) || !intercept(event, *component)) {
    component->handle(event, context_);
  }
  // Silent events (a client's next-request tick) make no frame, except in small scenarios where
  // every state change must be visible to a reader; a deadline that fired always does.
  if (!record_ || (event.silent && !detailed_ && event.kind != EventKind::timeout)) return;
  const auto note_offset = static_cast<std::uint32_t>(notes_.size());
  notes_ += context_.note_;
  // What a setting was before: for people to read, so a very long one is cut.
  const std::size_t previous_size = action ? std::min<std::size_t>(action->previous.size(), 0xFFFF) : 0;
  if (action) notes_.append(action->previous, 0, previous_size);
  const auto change_offset = notes_.size();
  if (action && action->change) append_deterministic(*action->change, notes_);
  const auto change_size = static_cast<std::uint32_t>(notes_.size() - change_offset);
  const auto state_offset = notes_.size();
  // A state estimated at twice the limit is not built only to be dropped (a warm cache's keys).
  const auto hint = component->state_size_hint();
  if ((action || detailed_) ? hint <= 2 * kMaxFrameState : component->rich() && hint <= kMaxFrameState) {
    // States are built on an arena that is emptied now and then: no allocation per frame.
    if (state_arena_.SpaceUsed() > kStateArenaBytes) state_arena_.Reset();
    auto& state = *google::protobuf::Arena::CreateMessage<v1::NodeState>(&state_arena_);
    state.set_node(event.dst);
    component->snapshot_node(state);
    append_deterministic(state, notes_);
    if (notes_.size() - state_offset > kMaxFrameState) notes_.resize(state_offset);  // too big to carry
  }
  frames_.push_back(FrameRecord{
      .key = key_of(event),
      .sent = event.sent,
      .request = event.request,
      .id = event.id,
      .src = event.src,
      .dst = event.dst,
      .client = event.client,
      .chosen = context_.chosen_,
      .path = event.path,
      .load = component->load(),
      .queue = component->queue(),
      .partition = event.partition,
      .note_offset = note_offset,
      .note_size = static_cast<std::uint32_t>(context_.note_.size()),
      .state_size = static_cast<std::uint32_t>(notes_.size() - state_offset),
      .previous_size = static_cast<std::uint16_t>(previous_size),
      .change_size = static_cast<std::uint16_t>(change_size),
      .status = event.status,
      .kind = event.kind,
      .outcome = context_.outcome_,
  });
}

std::string Shard::position() const {
  return "node '" + topology_.spec(context_.self()).id() + "' at " + duration_text(context_.now());
}

}  // namespace flowframe
