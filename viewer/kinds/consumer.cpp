// How the viewer shows a consumer: what it took from its queue, processed, failed and wrote twice,
// and the messages it holds unacknowledged.
#include <fmt/format.h>

#include "viewer/app/kind_view.hpp"
#include "viewer/app/ui.hpp"
#include "viewer/app/viewer.hpp"
#include "viewer/kinds/saga_parts.hpp"

namespace flowframe::viewer {
namespace {

// A log broker's consumer is in a group (generation 0: not assigned yet).
bool log_consumer(const v1::ConsumerState& consumer) {
  return consumer.generation() > 0 || consumer.rebalancing() || consumer.positions_size() > 0;
}

const KindView kConsumerView{
    .kind = v1::Node::CONSUMER,
    .colour = IM_COL32(120, 200, 150, 255),
    .icon = "\xef\x82\x85",  // cogs
    .badge =
        [](const view::NodeView& node) {
          const auto& consumer = node.state.consumer();
          if (log_consumer(consumer)) {
            std::string parts;
            for (const auto& p : consumer.positions()) parts += (parts.empty() ? "" : ",") + std::to_string(p.partition());
            return consumer.rebalancing() ? fmt::format("rebalancing, {} done", consumer.processed())
                                          : fmt::format("[{}] {} done", parts, consumer.processed());
          }
          return fmt::format("{} busy{}, {} done", node.load, node.queue ? fmt::format(" +{}", node.queue) : "",
                             consumer.processed());
        },
    .rows =
        [](const Inspected& in) {
          const auto& consumer = in.state.consumer();
          if (log_consumer(consumer)) {
            row("topic", consumer.queue());
            row("group generation", fmt::format("{}{}", consumer.generation(), consumer.rebalancing() ? " (rebalancing: not consuming)" : ""));
            row("received", std::to_string(consumer.received()));
            row("processed", std::to_string(consumer.processed()));
            row("duplicates", std::to_string(consumer.duplicates()));
            return;
          }
          row("queue", consumer.queue());
          row("prefetch", consumer.prefetch() ? std::to_string(consumer.prefetch()) : "unlimited");
          row("received", std::to_string(consumer.received()));
          row("processed (acked)", std::to_string(consumer.processed()));
          row("failed (nacked)", std::to_string(consumer.failed()));
          row("duplicates", std::to_string(consumer.duplicates()));
        },
    .tables =
        [](const Inspected& in) {
          if (log_consumer(in.state.consumer())) return positions_table(in, in.table_height);
          if (!begin_grid("held", {"message", "delivery", "held for"}, in.table_height)) return;
          for (const auto& held : in.state.consumer().held())
            cells({fmt::format("{}{}", held.message(), held.poison() ? " (poison)" : ""),
                   held.deliveries() > 1 ? fmt::format("{} (redelivered)", held.deliveries()) : "1",
                   seconds(in.now - held.since_ns())});
          ImGui::EndTable();
        },
};
FLOWFRAME_KIND_VIEW(kConsumerView);

}  // namespace
}  // namespace flowframe::viewer
