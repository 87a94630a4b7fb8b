#include "viewer/kinds/saga_parts.hpp"

#include <fmt/format.h>

namespace flowframe::viewer {
namespace {

std::string phase_name(v1::SagaInstance::Phase phase) {
  switch (phase) {
    case v1::SagaInstance::RUNNING: return "running";
    case v1::SagaInstance::COMPENSATING: return "compensating";
    case v1::SagaInstance::COMMITTED: return "committed";
    case v1::SagaInstance::COMPENSATED: return "compensated";
    default: return "?";
  }
}

std::string status_name(v1::Effect::Status status) {
  switch (status) {
    case v1::Effect::APPLIED: return "in effect";
    case v1::Effect::UNDONE: return "undone";
    case v1::Effect::VOIDED: return "compensated first";
    case v1::Effect::REFUSED: return "refused";
    default: return "?";
  }
}

}  // namespace

void saga_rows(const v1::SagaState& sagas) {
  row("sagas committed", std::to_string(sagas.committed()));
  row("sagas compensated", std::to_string(sagas.compensated()));
  row("running now", std::to_string(sagas.running()));
}

void sagas_table(const Inspected& in, float height) {
  // The oldest unfinished sagas, then the latest ended; why a saga compensates says the most.
  if (!begin_grid("sagas", {"saga", "state", "step", "why"}, height)) return;
  for (const auto& instance : in.state.saga_orchestrator().sagas()) {
    const bool ended = instance.ended_ns() != 0;
    cells({fmt::format("{}#{}", in.node_name(instance.client()), instance.request()), phase_name(instance.phase()),
           ended ? seconds(instance.ended_ns() - instance.started_ns()) : fmt::format("{}, try {}", instance.step() + 1, instance.attempt()),
           instance.why()});
  }
  ImGui::EndTable();
}

void effect_rows(const v1::ParticipantState& effects) {
  row("effects in place", std::to_string(effects.applied()));
  row("undone by compensations", std::to_string(effects.undone()));
  row("refused", std::to_string(effects.refused()));
  row("repeated (no new effect)", std::to_string(effects.repeated()));
}

void effects_table(const Inspected& in, float height) {
  if (!begin_grid("effects", {"idempotency key", "action", "status", "calls"}, height)) return;
  for (const auto& effect : in.state.participant().effects())
    cells({effect.key(), effect.action(), status_name(effect.status()), std::to_string(effect.calls())});
  ImGui::EndTable();
}

void positions_table(const Inspected& in, float height) {
  if (!begin_grid("positions", {"partition", "fetched to", "processed to", "committed"}, height)) return;
  for (const auto& p : in.state.consumer().positions())
    cells({std::to_string(p.partition()), std::to_string(p.fetched()), std::to_string(p.processed()), std::to_string(p.committed())});
  ImGui::EndTable();
}

}  // namespace flowframe::viewer
