#include "actors/common/work_queue.hpp"

namespace flowframe {

WorkQueue::WorkQueue(std::uint32_t capacity, std::uint32_t queue_limit, const v1::Distribution& service_time)
    : service_(service_time), capacity_(capacity), queue_limit_(queue_limit) {}

void WorkQueue::account(Time now) {
  busy_ns_ += std::uint64_t{busy_} * static_cast<std::uint64_t>(now - since_);
  capacity_ns_ += std::uint64_t{capacity_} * static_cast<std::uint64_t>(now - since_);
  since_ = now;
}

WorkQueue::Admitted WorkQueue::admit(const Event& request, Context& context) {
  if (capacity_ == 0) return Admitted::down;
  if (request.deadline <= context.now() && cancel_) {
    ++cancelled_;
    return Admitted::expired;
  }
  if (busy_ < capacity_) {
    begin(request, context);
    return Admitted::started;
  }
  if (waiting_.size() >= queue_limit_) return Admitted::full;
  waiting_.push_back(request);
  max_queue_ = std::max(max_queue_, waiting());
  return Admitted::queued;
}

std::int64_t WorkQueue::token(std::uint32_t slot) const {
  return static_cast<std::int64_t>((std::uint64_t{slots_[slot].generation} << 32) | slot);
}

std::optional<std::uint32_t> WorkQueue::slot_of(std::int64_t token) const {
  const auto slot = static_cast<std::uint32_t>(token & 0xFFFFFFFF);
  const auto generation = static_cast<std::uint32_t>(static_cast<std::uint64_t>(token) >> 32);
  if (slot >= slots_.size() || !slots_[slot].active || slots_[slot].generation != generation) return std::nullopt;
  return slot;
}

void WorkQueue::begin(const Event& request, Context& context) {
  account(context.now());
  std::uint32_t slot;
  if (free_slots_.empty()) {
    slot = static_cast<std::uint32_t>(slots_.size());
    slots_.emplace_back();
  } else {
    slot = free_slots_.back();
    free_slots_.pop_back();
  }
  slots_[slot].request = request;
  slots_[slot].active = true;
  ++busy_;
  Event done;
  done.kind = EventKind::timer;
  done.client = request.client;
  done.request = request.request;
  done.path = request.path;
  done.id = request.id;
  done.created = request.created;
  done.status = 200;  // what finishing means unless the owner has more to do
  done.arg = token(slot);
  const Time service = context.work(service_);
  context.schedule(speed_ == 1.0 ? service : static_cast<Time>(std::llround(static_cast<double>(service) / speed_)), done);
}

std::optional<std::uint32_t> WorkQueue::finished(const Event& timer) const { return slot_of(timer.arg); }

void WorkQueue::release(std::uint32_t slot, Context& context) {
  account(context.now());
  slots_[slot].active = false;
  slots_[slot].request.payload.reset();  // let go of what the request carried
  ++slots_[slot].generation;
  free_slots_.push_back(slot);
  --busy_;
  start_waiting(context);
}

void WorkQueue::start_waiting(Context& context) {
  while (busy_ < capacity_ && !waiting_.empty()) {
    // Under overload the oldest have most likely been given up on: serve the newest.
    const bool newest_first = lifo_above_ > 0 && waiting_.size() > lifo_above_;
    const Event next = newest_first ? waiting_.back() : waiting_.front();
    if (newest_first) waiting_.pop_back();
    else waiting_.pop_front();
    // Its caller gave up while it waited: no work for an answer nobody reads.
    if (next.deadline <= context.now() && cancel_) {
      ++cancelled_;
      cancel_(next, context);
      continue;
    }
    // `deliver` is when it arrived here.
    if (max_wait_ > 0 && shed_ && context.now() - next.deliver > max_wait_) {
      ++shed_count_;
      shed_(next, context);
      continue;
    }
    begin(next, context);
  }
}

void WorkQueue::set_capacity(std::uint32_t capacity, Context& context, const std::function<void(const Event&)>& drop) {
  account(context.now());
  capacity_ = capacity;
  if (capacity_ > 0) {
    start_waiting(context);
    return;
  }
  for (std::uint32_t i = 0; i < slots_.size(); ++i) {
    auto& slot = slots_[i];
    if (!slot.active) continue;
    slot.active = false;
    ++slot.generation;
    free_slots_.push_back(i);
    --busy_;
    drop(slot.request);
  }
  for (const auto& request : waiting_) drop(request);
  waiting_.clear();
}

void WorkQueue::set_queue_limit(std::uint32_t limit, const std::function<void(const Event&)>& drop) {
  queue_limit_ = limit;
  while (waiting_.size() > queue_limit_) {
    drop(waiting_.back());
    waiting_.pop_back();
  }
}

}  // namespace flowframe
