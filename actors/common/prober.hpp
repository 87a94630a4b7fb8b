#pragma once
// Probes a list of targets every interval with a real request and a deadline. A target is down
// after `unhealthy` failed probes in a row (an error status or no answer in time) and up again after
// `healthy` good ones. Health checkers tell balancers; traffic managers leave down endpoints out of
// their answers.
#include <optional>
#include <unordered_map>
#include <vector>

#include "actors/common/components.hpp"

namespace flowframe {

class Prober {
 public:
  struct Settings {
    Time interval = 0, timeout = 0;
    std::uint32_t unhealthy = 1, healthy = 1;
    std::uint32_t path = 0;  // the probe's request path
  };
  Prober(const std::vector<NodeIndex>& targets, Settings settings);

  void start(Context& context) { tick(context); }
  // Takes the probes' timer, answers and timeouts (false: not a probe's event). A probe that moves
  // its target across a threshold sets `flipped` to the target's position and leaves the frame to
  // the caller; the others are framed here.
  bool handle(const Event& event, Context& context, std::optional<std::size_t>& flipped);

  const std::vector<v1::ProbedState>& targets() const { return targets_; }
  std::uint64_t probes() const { return probes_; }
  // Targets and probes, as health checker state.
  void snapshot(v1::HealthCheckerState& out) const;

 private:
  static constexpr std::uint16_t kProbeTimer = 100;
  void tick(Context& context);
  std::optional<std::size_t> record(std::size_t t, bool ok, const std::string& result, Context& context);

  std::vector<v1::ProbedState> targets_;
  Settings settings_;
  std::unordered_map<std::uint32_t, std::size_t> in_flight_;  // a probe's call -> its target
  std::uint64_t probes_ = 0;
};

}  // namespace flowframe
