#include "runtime/check/sagas.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "runtime/base/text.hpp"

namespace flowframe {

SagaLedger::SagaLedger(const v1::LogHeader& header) : header_(header) {
  std::map<std::string, std::uint32_t> index_of;
  for (const auto& info : header.nodes()) index_of[info.id()] = info.index();
  // A choreographed saga has no orchestrator: the event service that starts it stands for one, and
  // the services with actions on the same topic are its participants.
  for (const auto& node : header.scenario().nodes()) {
    if (node.kind() != v1::Node::EVENT_SERVICE || node.event_service().start_event().empty()) continue;
    const auto self = index_of.find(node.id());
    if (self == index_of.end()) continue;
    auto& starter = orchestrators_[self->second];
    starter.id = node.id();
    const auto& topic = node.event_service().subscription();
    for (const auto& other : header.scenario().nodes()) {
      const auto& theirs = other.event_service().subscription();
      if (other.kind() != v1::Node::EVENT_SERVICE || other.id() == node.id() || other.event_service().actions().empty() ||
          theirs.broker() != topic.broker() || theirs.topic() != topic.topic())
        continue;
      if (const auto participant = index_of.find(other.id()); participant != index_of.end()) {
        starter.participants.push_back(participant->second);
        owner_[participant->second] = self->second;
      }
    }
  }
  for (const auto& node : header.scenario().nodes()) {
    if (node.kind() != v1::Node::SAGA_ORCHESTRATOR) continue;
    const auto self = index_of.find(node.id());
    if (self == index_of.end()) continue;
    auto& orchestrator = orchestrators_[self->second];
    orchestrator.id = node.id();
    for (const auto& step : node.saga_orchestrator().steps())
      if (const auto participant = index_of.find(step.node()); participant != index_of.end()) {
        orchestrator.participants.push_back(participant->second);
        owner_[participant->second] = self->second;
      }
  }
}

void SagaLedger::feed(const FrameView& view) {
  const auto& f = view.frame;
  const SagaKey key{f.client(), f.request()};
  if (const auto found = orchestrators_.find(f.dst()); found != orchestrators_.end()) {
    auto& sagas = found->second.sagas;
    // A caller's request starts a saga (calls from participants are answers, not starts).
    if (f.kind() == v1::Frame::REQUEST && f.outcome() == v1::Frame::DELEGATED && !owner_.count(f.src()) && !sagas.count(key))
      sagas[key].started = view.time;
    if (f.outcome() == v1::Frame::SAGA_COMMITTED || f.outcome() == v1::Frame::SAGA_COMPENSATED) {
      auto& saga = sagas[key];
      saga.end = f.outcome() == v1::Frame::SAGA_COMMITTED ? 1 : 2;
      saga.ended = view.time;
    }
    return;
  }
  const auto owner = owner_.find(f.dst());
  const auto outcome = f.outcome();
  if (owner == owner_.end() || outcome < v1::Frame::STEP_APPLIED || outcome > v1::Frame::STEP_VOIDED) return;
  auto& orchestrator = orchestrators_.at(owner->second);
  auto& step = orchestrator.sagas[key].steps[f.dst()];
  switch (f.outcome()) {
    case v1::Frame::STEP_APPLIED:
      step.applied_after_compensation |= step.compensated_first || step.undone > 0;
      ++step.applied;
      step.applied_at = view.time;
      applied_[f.dst()].emplace_back(view.time, key);
      break;
    case v1::Frame::STEP_UNDONE:
      ++step.undone;
      step.undone_at = view.time;
      break;
    case v1::Frame::STEP_VOIDED:
      if (step.applied == 0) step.compensated_first = true;
      break;
    case v1::Frame::STEP_REPEATED: ++orchestrator.repeated; break;
    default: break;
  }
}

void SagaLedger::report(CheckReport& report) const {
  for (const auto& [index, orchestrator] : orchestrators_) {
    std::uint64_t committed = 0, compensated = 0;
    std::vector<std::string> unfinished, half_done, twice;
    std::uint64_t windows = 0, beside = 0;
    Time exposed = 0;
    std::vector<Time> durations;  // of the ended sagas
    for (const auto& [key, saga] : orchestrator.sagas) {
      const auto name = fmt::format("{}#{}", header_.nodes(static_cast<int>(key.first)).id(), key.second);
      if (saga.end == 0) {
        unfinished.push_back(name + " unfinished");
        continue;
      }
      ++(saga.end == 1 ? committed : compensated);
      durations.push_back(saga.ended - saga.started);
      for (const auto participant : orchestrator.participants) {
        const auto at = saga.steps.find(participant);
        const Step none;
        const auto& step = at == saga.steps.end() ? none : at->second;
        const auto& where = header_.nodes(static_cast<int>(participant)).id();
        if (saga.end == 1 && (step.applied != 1 || step.undone != 0))
          half_done.push_back(fmt::format("{} committed with {} applied {} times, undone {}", name, where, step.applied, step.undone));
        if (saga.end == 2 && step.applied != step.undone)
          half_done.push_back(fmt::format("{} compensated with {} applied {} times, undone {}", name, where, step.applied, step.undone));
        if (step.applied > 1 || step.undone > 1) twice.push_back(fmt::format("{} at {}: applied {} times, undone {}", name, where, step.applied, step.undone));
        if (step.undone > step.applied) twice.push_back(fmt::format("{} at {}: undone without being applied", name, where));
        if (step.applied_after_compensation) twice.push_back(fmt::format("{} at {}: applied after its compensation", name, where));
      }
      // Undone later: while its effects were in place others could see a saga that never happened.
      if (saga.end != 2) continue;
      Time from = kTimeNever, to = 0;
      for (const auto& [participant, step] : saga.steps) {
        if (step.applied == 0) continue;
        from = std::min(from, step.applied_at);
        to = std::max(to, step.undone_at);
        if (const auto effects = applied_.find(participant); effects != applied_.end())
          for (const auto& [time, other] : effects->second)
            beside += other != key && time > step.applied_at && time < step.undone_at;
      }
      if (from < to) {
        ++windows;
        exposed += to - from;
      }
    }
    const auto sagas = orchestrator.sagas.size();
    std::sort(durations.begin(), durations.end());
    const auto median = durations.empty() ? Time{0} : durations[durations.size() / 2];
    const auto longest = durations.empty() ? Time{0} : durations.back();
    Invariant ends{orchestrator.id + ": every saga ends committed or fully compensated", unfinished.empty() && half_done.empty(),
                   fmt::format("{} sagas: {} committed, {} compensated; from start to end {} median, {} the longest", sagas, committed,
                               compensated, duration_text(median), duration_text(longest))};
    if (!unfinished.empty() || !half_done.empty()) {
      auto problems = unfinished;
      problems.insert(problems.end(), half_done.begin(), half_done.end());
      ends.detail += ": " + first_few(problems);
    }
    report.invariants.push_back(std::move(ends));
    report.invariants.push_back({orchestrator.id + ": no effect applied twice or undone without its step, despite retries", twice.empty(),
                                 twice.empty() ? fmt::format("{} repeated calls answered without a new effect", orchestrator.repeated)
                                               : first_few(twice)});
    report.invariants.push_back(
        {orchestrator.id + ": half-done sagas others could see (not isolated: shown, not failed)", true,
         fmt::format("{} compensated sagas had effects in place for {} in all; {} other steps took effect beside them", windows,
                     duration_text(exposed), beside)});
    report.figures[orchestrator.id] = {{"sagas", sagas},
                                       {"committed", committed},
                                       {"compensated", compensated},
                                       {"unfinished", unfinished.size()},
                                       {"median_ms", static_cast<double>(median) / kNanosPerMilli},
                                       {"longest_ms", static_cast<double>(longest) / kNanosPerMilli},
                                       {"repeated_calls", orchestrator.repeated},
                                       {"exposed_sagas", windows},
                                       {"exposed_ms", static_cast<double>(exposed) / kNanosPerMilli},
                                       {"steps_beside_exposed", beside}};
  }
}

}  // namespace flowframe
