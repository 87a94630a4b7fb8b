// Client: generates the workload (its share of the total rate and request count) and measures
// each request's end-to-end latency when the response comes back.
#include "actors/client.hpp"

#include <algorithm>
#include <cmath>

namespace flowframe {

std::string client_ip(const v1::Node& spec, std::size_t position) {
  if (!spec.client().ip().empty()) return spec.client().ip();
  return "10.0." + std::to_string((position + 1) / 256) + "." + std::to_string((position + 1) % 256);
}

Client::Client(const v1::Node& spec, NodeIndex index, const Topology& topology)
    : Component(spec, index, topology.seed()) {
  const auto& clients = topology.clients();
  const auto found = std::find(clients.begin(), clients.end(), index);
  if (found == clients.end()) return;  // a client node the workload does not use stays idle
  const auto position = static_cast<std::size_t>(found - clients.begin());
  const auto count = clients.size();
  const auto& workload = topology.scenario().workload();
  const auto& stop = topology.scenario().stop();
  ip_ = client_ip(spec, position);
  active_ = true;
  target_ = topology.workload_target();
  poisson_ = workload.arrival() == v1::Workload::POISSON;
  mean_gap_ = static_cast<double>(count) / workload.rate() * kNanosPerSecond;
  // The first request of each client is staggered so steady clients do not fire in lockstep.
  first_at_ = static_cast<Time>(std::llround(mean_gap_ * static_cast<double>(position) / static_cast<double>(count)));
  if (stop.requests() > 0)
    quota_ = stop.requests() / count + (position < stop.requests() % count ? 1 : 0);
  stop_at_ = stop.duration_s() > 0 ? from_seconds(stop.duration_s()) : kTimeNever;
  std::uint64_t total = 0;
  for (auto weight : topology.path_weights()) cumulative_weights_.push_back(total += weight);
}

void Client::start(Context& context) {
  if (!active_ || quota_ == 0) return;
  Event tick;
  tick.kind = EventKind::timer;
  tick.silent = true;
  context.schedule(poisson_ ? next_gap(context) : std::max<Time>(first_at_, 1), tick);
}

Time Client::next_gap(Context& context) {
  const double gap = poisson_ ? context.rng().exponential(mean_gap_) : mean_gap_;
  return std::max<Time>(1, static_cast<Time>(std::llround(gap)));
}

void Client::handle(const Event& event, Context& context) {
  if (event.kind == EventKind::timer) {
    if (sent_ >= quota_ || context.now() >= stop_at_) return;
    Event request;
    request.kind = EventKind::request;
    request.client = index();
    request.request = ++sent_;
    request.created = context.now();
    request.path = pick_path(context);
    request.via[request.via_depth++] = index();
    context.send(target_, request);
    if (sent_ < quota_) {
      Event tick;
      tick.kind = EventKind::timer;
      tick.silent = true;
      context.schedule(next_gap(context), tick);
    }
    return;
  }
  if (event.kind == EventKind::response) {
    latencies_.record(context.now() - event.created);
    if (event.status >= 200 && event.status < 300) ++completed_;
    else ++failed_;
    ++by_status_[event.status];
    context.decide(Outcome::completed);
  }
}

std::uint32_t Client::pick_path(Context& context) {
  if (cumulative_weights_.size() <= 1) return 0;
  const auto roll = context.rng().below(cumulative_weights_.back());
  return static_cast<std::uint32_t>(
      std::upper_bound(cumulative_weights_.begin(), cumulative_weights_.end(), roll) - cumulative_weights_.begin());
}

std::string Client::apply(ControlAction& action, Context&) {
  return "a client has no setting '" + action.field + "'";
}

void Client::snapshot(v1::NodeState& state, Time) const {
  state.set_load(load());
  state.set_handled(completed_);
  state.set_rejected(failed_);
  auto& client = *state.mutable_client();
  client.set_ip(ip_);
  client.set_sent(sent_);
  client.set_completed(completed_);
  client.set_failed(failed_);
  for (const auto& [status, count] : by_status_) (*client.mutable_by_status())[status] = count;
}

}  // namespace flowframe
