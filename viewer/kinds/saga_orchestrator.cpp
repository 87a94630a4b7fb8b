// How the viewer shows a saga orchestrator: its log, each saga's state machine (the step it is at,
// running forwards or compensating) and how the ended ones ended.
#include <fmt/format.h>

#include "viewer/kinds/saga_parts.hpp"

namespace flowframe::viewer {
namespace {

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
          saga_rows(saga);
          row("step retries", std::to_string(saga.retries()));
          if (saga.resumed()) row("resumed from its log", std::to_string(saga.resumed()));
        },
    .tables = [](const Inspected& in) { sagas_table(in, in.table_height); },
};
FLOWFRAME_KIND_VIEW(kSagaOrchestratorView);

}  // namespace
}  // namespace flowframe::viewer
