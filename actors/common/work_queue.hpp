#pragma once
// Up to `capacity` requests in service at once, each for a sampled time; the rest wait in a
// bounded FIFO queue. Servers (worker slots) and databases (connection pools) are both this.
#include <deque>
#include <functional>
#include <optional>
#include <vector>

#include "runtime/engine/component.hpp"
#include "runtime/engine/distribution.hpp"

namespace flowframe {

class WorkQueue {
 public:
  enum class Admitted { started, queued, full, down, expired };

  WorkQueue(std::uint32_t capacity, std::uint32_t queue_limit, const v1::Distribution& service_time);

  // A new request: starts it (scheduling its completion timer), queues it, or says why not.
  Admitted admit(const Event& request, Context& context);
  // A completion timer: the slot it finished, or nothing if that request was aborted meanwhile.
  // The slot stays taken until release(): a request may have more to do before it is answered.
  std::optional<std::uint32_t> finished(const Event& timer) const;
  const Event& request(std::uint32_t slot) const { return slots_[slot].request; }
  // Frees the slot and starts waiting requests.
  void release(std::uint32_t slot, Context& context);
  // A sub-request on behalf of the slot's request carries this in `arg`; its response brings it back.
  std::int64_t token(std::uint32_t slot) const;
  std::optional<std::uint32_t> slot_of(std::int64_t token) const;

  // Requests whose deadline passed before they started are handed here instead (to answer 504);
  // without it they are served anyway.
  void on_cancel(std::function<void(const Event&, Context&)> cancel) { cancel_ = std::move(cancel); }
  std::uint64_t cancelled() const { return cancelled_; }
  // Load shedding: a request that waited longer than `max_wait` (0: no limit) is handed to `shed`
  // instead of served; above `lifo_above` waiting (0: never) the newest is served first.
  void set_shedding(Time max_wait, std::uint32_t lifo_above, std::function<void(const Event&, Context&)> shed) {
    max_wait_ = max_wait;
    lifo_above_ = lifo_above;
    shed_ = std::move(shed);
  }
  std::uint64_t shed() const { return shed_count_; }

  // Changes capacity. At 0 every request held is dropped and handed to `drop` (to answer it).
  void set_capacity(std::uint32_t capacity, Context& context, const std::function<void(const Event&)>& drop);
  void set_queue_limit(std::uint32_t limit, const std::function<void(const Event&)>& drop);
  void set_service_time(const v1::Distribution& service_time) { service_ = Sampler(service_time); }
  // A faster worker: service times are divided by `speed`.
  void set_speed(double speed) { speed_ = speed > 0 ? speed : 1.0; }

  std::uint32_t capacity() const { return capacity_; }
  std::uint32_t queue_limit() const { return queue_limit_; }
  std::uint32_t busy() const { return busy_; }
  std::uint32_t waiting() const { return static_cast<std::uint32_t>(waiting_.size()); }
  std::uint32_t max_queue() const { return max_queue_; }
  // Integrals of busy slots and of capacity over time, up to accounted().
  std::uint64_t busy_ns() const { return busy_ns_; }
  std::uint64_t capacity_ns() const { return capacity_ns_; }
  Time accounted() const { return since_; }

 private:
  struct Slot {
    Event request;
    std::uint32_t generation = 0;
    bool active = false;
  };
  void account(Time now);
  void begin(const Event& request, Context& context);
  void start_waiting(Context& context);

  Sampler service_;
  double speed_ = 1.0;
  std::uint32_t capacity_;
  std::uint32_t queue_limit_;
  std::uint32_t busy_ = 0;
  std::vector<Slot> slots_;
  std::vector<std::uint32_t> free_slots_;
  std::deque<Event> waiting_;
  std::uint32_t max_queue_ = 0;
  std::function<void(const Event&, Context&)> cancel_;
  std::uint64_t cancelled_ = 0;
  Time max_wait_ = 0;
  std::uint32_t lifo_above_ = 0;
  std::function<void(const Event&, Context&)> shed_;
  std::uint64_t shed_count_ = 0;
  Time since_ = 0;
  std::uint64_t busy_ns_ = 0;
  std::uint64_t capacity_ns_ = 0;
};

}  // namespace flowframe
