// Server: serves up to `capacity` requests at once, each for a sampled service time; others
// wait in a bounded FIFO queue (full: 503). Capacity 0 means down: it refuses everything and
// aborts what it held.
#include <deque>

#include "actors/components.hpp"
#include "actors/routing.hpp"
#include "runtime/distribution.hpp"
#include "runtime/settings.hpp"

namespace flowframe {
namespace {

class Server final : public Component {
 public:
  Server(const v1::Node& spec, NodeIndex index, std::uint64_t seed) : Component(spec, index, seed) {
    service_ = Sampler(spec_.server().service_time());
    capacity_ = spec_.server().capacity();
  }

  void handle(const Event& event, Context& context) override {
    if (event.kind == EventKind::request) {
      if (capacity_ == 0) return reject(event, Outcome::rejected_down, context);
      if (busy_ < capacity_) return begin(event, context);
      if (waiting_.size() < spec_.server().queue_limit()) {
        waiting_.push_back(event);
        max_queue_ = std::max<std::uint32_t>(max_queue_, static_cast<std::uint32_t>(waiting_.size()));
        context.decide(Outcome::queued);
        return;
      }
      return reject(event, Outcome::rejected_queue_full, context);
    }
    if (event.kind == EventKind::timer) finish(event, context);
  }

  std::string apply(ControlAction& action, Context& context) override {
    auto& params = *spec_.mutable_server();
    std::uint32_t capacity = capacity_;
    switch (action.type) {
      case ControlAction::Type::fail:
        action.previous = "capacity=" + std::to_string(capacity_);
        if (capacity_ > 0) capacity_before_fail_ = capacity_;
        capacity = 0;
        break;
      case ControlAction::Type::restore:
        action.previous = "capacity=" + std::to_string(capacity_);
        capacity = capacity_ > 0 ? capacity_ : capacity_before_fail_;
        break;
      case ControlAction::Type::set: {
        action.previous = read_setting(params, action.field);
        if (auto error = apply_setting(params, action.field, action.value); !error.empty()) return error;
        service_ = Sampler(params.service_time());
        if (action.field == "capacity" && params.capacity() == 0 && capacity_ > 0) capacity_before_fail_ = capacity_;
        capacity = params.capacity();
        break;
      }
      default:
        return "a server has no health to set";
    }
    params.set_capacity(capacity);
    set_capacity(capacity, context);
    // A shorter queue limit turns the requests past it away.
    while (waiting_.size() > params.queue_limit()) {
      reject(waiting_.back(), Outcome::aborted, context);
      waiting_.pop_back();
    }
    context.decide(Outcome::applied);
    return "";
  }

  std::uint32_t load() const override { return busy_; }
  std::uint32_t queue() const override { return static_cast<std::uint32_t>(waiting_.size()); }

  void snapshot(v1::NodeState& state, Time now) const override {
    state.set_load(busy_);
    state.set_queue(queue());
    state.set_handled(handled_);
    state.set_rejected(rejected_);
    auto& server = *state.mutable_server();
    server.set_capacity(capacity_);
    server.set_queue_limit(spec_.server().queue_limit());
    server.set_busy_ns(busy_ns_ + static_cast<std::uint64_t>(busy_) * static_cast<std::uint64_t>(now - since_));
    server.set_capacity_ns(capacity_ns_ + static_cast<std::uint64_t>(capacity_) * static_cast<std::uint64_t>(now - since_));
    server.set_max_queue(max_queue_);
    server.set_capacity_before_fail(capacity_before_fail_);
  }

 private:
  struct Slot {
    Event request;
    std::uint32_t generation = 0;
    bool active = false;
  };

  // Busy time and capacity integrated up to now, before either changes.
  void account(Time now) {
    busy_ns_ += static_cast<std::uint64_t>(busy_) * static_cast<std::uint64_t>(now - since_);
    capacity_ns_ += static_cast<std::uint64_t>(capacity_) * static_cast<std::uint64_t>(now - since_);
    since_ = now;
  }

  void begin(const Event& request, Context& context) {
    account(context.now());
    std::uint32_t slot;
    if (free_slots_.empty()) {
      slot = static_cast<std::uint32_t>(slots_.size());
      slots_.emplace_back();
    } else {
      slot = free_slots_.back();
      free_slots_.pop_back();
    }
    auto& entry = slots_[slot];
    entry.request = request;
    entry.active = true;
    ++busy_;
    Event done;
    done.kind = EventKind::timer;
    done.client = request.client;
    done.request = request.request;
    done.path = request.path;
    done.created = request.created;
    done.status = 200;
    done.arg = static_cast<std::int64_t>((std::uint64_t{entry.generation} << 32) | slot);
    context.schedule(service_.sample(context.rng()), done);
    context.decide(Outcome::started);
  }

  void finish(const Event& timer, Context& context) {
    const auto slot = static_cast<std::uint32_t>(timer.arg & 0xFFFFFFFF);
    const auto generation = static_cast<std::uint32_t>(static_cast<std::uint64_t>(timer.arg) >> 32);
    if (slot >= slots_.size() || !slots_[slot].active || slots_[slot].generation != generation)
      return;  // the request was aborted when the server went down
    account(context.now());
    auto& entry = slots_[slot];
    entry.active = false;
    ++entry.generation;
    free_slots_.push_back(slot);
    --busy_;
    ++handled_;
    respond(entry.request, 200, context);
    start_waiting(context);
    context.decide(Outcome::served);
  }

  void start_waiting(Context& context) {
    while (busy_ < capacity_ && !waiting_.empty()) {
      const Event next = waiting_.front();
      waiting_.pop_front();
      begin(next, context);
    }
  }

  void reject(const Event& request, Outcome outcome, Context& context) {
    ++rejected_;
    respond(request, 503, context);
    context.decide(outcome);
  }

  void set_capacity(std::uint32_t capacity, Context& context) {
    account(context.now());
    capacity_ = capacity;
    if (capacity_ == 0) {
      // Down: everything held here fails now.
      for (auto& slot : slots_) {
        if (!slot.active) continue;
        slot.active = false;
        ++slot.generation;
        --busy_;
        reject(slot.request, Outcome::aborted, context);
      }
      free_slots_.clear();
      for (std::uint32_t i = 0; i < slots_.size(); ++i) free_slots_.push_back(i);
      for (const auto& request : waiting_) reject(request, Outcome::aborted, context);
      waiting_.clear();
      return;
    }
    start_waiting(context);
  }

  Sampler service_;
  std::uint32_t capacity_ = 0;
  std::uint32_t capacity_before_fail_ = 0;
  std::uint32_t busy_ = 0;
  std::vector<Slot> slots_;
  std::vector<std::uint32_t> free_slots_;
  std::deque<Event> waiting_;
  std::uint64_t handled_ = 0;
  std::uint64_t rejected_ = 0;
  std::uint32_t max_queue_ = 0;
  Time since_ = 0;
  std::uint64_t busy_ns_ = 0;
  std::uint64_t capacity_ns_ = 0;
};

}  // namespace

std::unique_ptr<Component> make_server(const v1::Node& spec, NodeIndex index, std::uint64_t seed) {
  return std::make_unique<Server>(spec, index, seed);
}

}  // namespace flowframe
