#include "runtime/shard.hpp"

#include <algorithm>

#include "runtime/frame_log.hpp"

namespace flowframe {
namespace {

// Frames carry their destination's state only while it is this small.
constexpr std::size_t kMaxFrameState = 4096;
// Scenarios with at most this many nodes record every frame's destination state.
constexpr std::size_t kDetailedNodes = 33;

// A control frame's note: "capacity=0", "fail", "health server-2 down".
std::string describe_action(const ControlAction& action, const Topology& topology) {
  switch (action.type) {
    case ControlAction::Type::set: return action.field + "=" + action.value;
    case ControlAction::Type::fail: return "fail";
    case ControlAction::Type::restore: return "restore";
    case ControlAction::Type::health:
      return "health " + topology.spec(action.subject).id() + (action.healthy ? " up" : " down");
  }
  return "";
}

}  // namespace

Rng& Context::rng() { return component_->rng_; }

void Context::send(NodeIndex to, Event event, Time processing) {
  event.src = self_;
  event.dst = to;
  event.sent = now_ + processing;
  event.seq = component_->next_seq_++;
  event.deliver = event.sent + topology_.link(self_, to).sample(component_->rng_);
  shard_.route(event);
}

void Context::schedule(Time delay, Event event) {
  event.src = self_;
  event.dst = self_;
  event.sent = now_;
  event.seq = component_->next_seq_++;
  event.deliver = now_ + std::max<Time>(delay, 1);
  shard_.route(event);
}

Shard::Shard(Topology& topology, std::uint32_t id, std::uint32_t shard_count,
             const std::vector<std::uint32_t>& shard_of, bool record)
    : topology_(topology),
      id_(id),
      shard_of_(shard_of),
      record_(record),
      detailed_(topology.size() <= kDetailedNodes),
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
    push(control);
  }
}

void Shard::take_mail(const std::vector<std::unique_ptr<Shard>>& shards, std::uint64_t window) {
  const auto previous = (window & 1) ^ 1;
  for (auto& sender : shards) {
    auto& mail = sender->outbox_[previous][id_];
    for (const auto& event : mail) push(event);
    mail.clear();
  }
}

void Shard::route(const Event& event) {
  const auto target = shard_of_[event.dst];
  if (target == id_) {
    push(event);
    return;
  }
  outbox_[parity_][target].push_back(event);
  earliest_sent_ = std::min(earliest_sent_, event.deliver);
}

void Shard::push(const Event& event) {
  std::uint32_t slot;
  if (free_slots_.empty()) {
    slot = static_cast<std::uint32_t>(slab_.size());
    slab_.push_back(event);
  } else {
    slot = free_slots_.back();
    free_slots_.pop_back();
    slab_[slot] = event;
  }
  heap_.push({key_of(event), slot});
}

Time Shard::next_time() const {
  const Time local = heap_.empty() ? kTimeNever : heap_.top().key.deliver;
  return std::min(local, earliest_sent_);
}

void Shard::run(Time end, std::uint64_t window) {
  parity_ = window & 1;
  earliest_sent_ = kTimeNever;
  while (!heap_.empty() && heap_.top().key.deliver < end) {
    const auto slot = heap_.top().slot;
    heap_.pop();
    const Event event = slab_[slot];
    free_slots_.push_back(slot);
    deliver(event);
  }
}

void Shard::run_alone(Time lookahead, std::size_t frames, std::uint64_t events) {
  const std::uint64_t stop = delivered_ + events;
  while (!heap_.empty() && frames_.size() < frames && delivered_ < stop) run(heap_.top().key.deliver + lookahead, 0);
}

void Shard::deliver(const Event& event) {
  auto& component = topology_.component(event.dst);
  context_.component_ = &component;
  context_.self_ = event.dst;
  context_.now_ = event.deliver;
  context_.outcome_ = Outcome::none;
  context_.chosen_ = kNoNode;
  context_.note_.clear();
  ++delivered_;
  // The run ends at its last frame; an unrecorded idle tick past a client's stop is not activity.
  if (!event.silent || (record_ && detailed_)) last_time_ = event.deliver;
  if (event.kind == EventKind::request || event.kind == EventKind::response) ++hops_;
  const ControlAction* action = nullptr;
  if (event.kind == EventKind::control) {
    auto& applied = topology_.actions()[static_cast<std::size_t>(event.arg)];
    action = &applied;
    const auto error = component.apply(applied, context_);
    context_.outcome_ = error.empty() ? Outcome::applied : Outcome::none;
    context_.note_ = describe_action(applied, topology_) + (error.empty() ? "" : ": " + error);
  } else {
    component.handle(event, context_);
  }
  // Silent events (a client's next-request tick) make no frame, except in small scenarios where
  // every state change must be visible to a reader.
  if (!record_ || (event.silent && !detailed_)) return;
  const auto note_offset = static_cast<std::uint32_t>(notes_.size());
  notes_ += context_.note_;
  if (action) notes_ += action->previous;
  const auto state_offset = notes_.size();
  if (action || detailed_ || (component.rich() && component.state_size_hint() <= kMaxFrameState)) {
    v1::NodeState state;
    state.set_node(event.dst);
    component.snapshot(state);
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
      .load = component.load(),
      .queue = component.queue(),
      .note_offset = note_offset,
      .note_size = static_cast<std::uint32_t>(context_.note_.size()),
      .previous_size = action ? static_cast<std::uint32_t>(action->previous.size()) : 0,
      .state_size = static_cast<std::uint32_t>(notes_.size() - state_offset),
      .status = event.status,
      .kind = event.kind,
      .outcome = context_.outcome_,
  });
}

}  // namespace flowframe
