// How the viewer shows an event service of a choreographed saga: what its outbox still holds for
// the relay, its effects by saga, and (the service that starts sagas) each saga and how it ended.
#include <fmt/format.h>

#include "viewer/kinds/saga_parts.hpp"

namespace flowframe::viewer {
namespace {

const KindView kEventServiceView{
    .kind = v1::Node::EVENT_SERVICE,
    .colour = IM_COL32(110, 190, 170, 255),
    .icon = "\xef\x83\xa8",  // sitemap
    .badge =
        [](const view::NodeView& node) {
          const auto& service = node.state.event_service();
          const auto outbox = service.unpublished() ? fmt::format(", outbox {}", service.unpublished()) : "";
          if (node.state.has_saga_orchestrator()) {
            const auto& sagas = node.state.saga_orchestrator();
            return fmt::format("{} running, {} ok, {} undone", sagas.running(), sagas.committed(), sagas.compensated());
          }
          return fmt::format("{} in effect{}", node.state.participant().applied(), outbox);
        },
    .rows =
        [](const Inspected& in) {
          const auto& service = in.state.event_service();
          const auto& consumer = in.state.consumer();
          row("group generation", fmt::format("{}{}", consumer.generation(), consumer.rebalancing() ? " (rebalancing: not consuming)" : ""));
          row("events processed", std::to_string(consumer.processed()));
          if (in.state.has_saga_orchestrator()) saga_rows(in.state.saga_orchestrator());
          if (in.state.has_participant()) effect_rows(in.state.participant());
          row("in the outbox", std::to_string(service.unpublished()));
          row("published", fmt::format("{}{}", service.published(),
                                       service.republished() ? fmt::format(" ({} tried again)", service.republished()) : ""));
          if (service.given_up()) row("given up (no outbox)", std::to_string(service.given_up()));
        },
    .tables =
        [](const Inspected& in) {
          // An empty outbox takes no room: the sagas or effects below get it.
          const auto& service = in.state.event_service();
          const int shown = (service.outbox_size() > 0) + in.state.has_saga_orchestrator() + in.state.has_participant();
          const float share = in.table_height / static_cast<float>(std::max(shown, 1));
          if (service.outbox_size() > 0 && begin_grid("outbox", {"saga", "event", "waiting", "tries"}, share)) {
            for (const auto& entry : service.outbox())
              cells({entry.saga(), entry.event(), seconds(in.now - entry.written_ns()), std::to_string(entry.attempts())});
            ImGui::EndTable();
          }
          if (in.state.has_saga_orchestrator()) sagas_table(in, share);
          if (in.state.has_participant()) effects_table(in, share);
        },
};
FLOWFRAME_KIND_VIEW(kEventServiceView);

}  // namespace
}  // namespace flowframe::viewer
