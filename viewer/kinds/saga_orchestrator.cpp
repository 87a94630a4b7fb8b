// How the viewer shows a saga orchestrator: its log, each saga's state machine (the step it is at,
// running forwards or compensating) and how the ended ones ended.
#include <fmt/format.h>

#include "viewer/app/kind_view.hpp"

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

const KindView kSagaOrchestratorView{
    .kind = v1::Node::SAGA_ORCHESTRATOR,
    .colour = IM_COL32(120, 200, 200, 255),
    .icon = "\xef\x84\xa6",  // code-fork
    .badge =
        [](const view::NodeView& node) {
          const auto& saga = node.state.saga_orchestrator();
          return fmt::format("{} running, {} ok, {} undone", node.load, saga.committed(), saga.compensated());
        },
    .rows =
        [](const Inspected& in) {
          const auto& saga = in.state.saga_orchestrator();
          row("sagas committed", std::to_string(saga.committed()));
          row("sagas compensated", std::to_string(saga.compensated()));
          row("running now", std::to_string(in.state.load()));
          row("step retries", std::to_string(saga.retries()));
          if (saga.resumed()) row("resumed from its log", std::to_string(saga.resumed()));
        },
    .tables =
        [](const Inspected& in) {
          // The oldest unfinished sagas, then the latest ended; why a saga compensates says the most.
          if (!begin_grid("sagas", {"saga", "state", "step", "why"}, in.table_height)) return;
          for (const auto& instance : in.state.saga_orchestrator().sagas()) {
            const bool ended = instance.ended_ns() != 0;
            cells({fmt::format("{}#{}", in.node_name(instance.client()), instance.request()), phase_name(instance.phase()),
                   ended ? seconds(instance.ended_ns() - instance.started_ns())
                         : fmt::format("{}, try {}", instance.step() + 1, instance.attempt()),
                   instance.why()});
          }
          ImGui::EndTable();
        },
};
FLOWFRAME_KIND_VIEW(kSagaOrchestratorView);

}  // namespace
}  // namespace flowframe::viewer
