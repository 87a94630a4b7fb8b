#pragma once
// The saga half of `flowframe check`: follows every saga through its orchestrator's frames (in a
// choreography, its starting event service's) and its participants' (which carry the saga's
// request), and reports per orchestrator whether every saga ended committed or fully compensated, whether any effect was applied twice or undone without
// being applied, and the window in which other requests could see a half-done saga that was
// later undone (the isolation sagas give up, shown and counted, not failed).
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "runtime/check/invariants.hpp"

namespace flowframe {

class SagaLedger {
 public:
  explicit SagaLedger(const v1::LogHeader& header);
  void feed(const FrameView& view);
  void report(CheckReport& report) const;

 private:
  using SagaKey = std::pair<std::uint32_t, std::uint64_t>;  // the request that started it
  struct Step {
    std::uint32_t applied = 0, undone = 0;
    bool compensated_first = false;  // its compensation came before any action
    bool applied_after_compensation = false;
    Time applied_at = 0, undone_at = 0;
  };
  struct Saga {
    Time started = 0, ended = 0;
    int end = 0;  // 0 unfinished, 1 committed, 2 compensated
    std::map<std::uint32_t, Step> steps;  // by participant
  };
  struct Orchestrator {
    std::string id;
    std::vector<std::uint32_t> participants;  // by step
    std::map<SagaKey, Saga> sagas;
    std::uint64_t repeated = 0;  // calls a participant had seen before (retries): no new effect
  };

  const v1::LogHeader& header_;
  std::map<std::uint32_t, Orchestrator> orchestrators_;  // by node index
  std::map<std::uint32_t, std::uint32_t> owner_;         // participant -> its orchestrator
  std::map<std::uint32_t, std::vector<std::pair<Time, SagaKey>>> applied_;  // participant -> effects in time order
};

}  // namespace flowframe
