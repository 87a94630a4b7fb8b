// How the viewer shows a consumer: what it took from its queue, processed, failed and wrote twice,
// and the messages it holds unacknowledged.
#include <fmt/format.h>

#include "viewer/app/kind_view.hpp"
#include "viewer/app/viewer.hpp"

namespace flowframe::viewer {
namespace {

const KindView kConsumerView{
    .kind = v1::Node::CONSUMER,
    .colour = IM_COL32(120, 200, 150, 255),
    .icon = "\xef\x82\x85",  // cogs
    .badge =
        [](const view::NodeView& node) {
          return fmt::format("{} busy{}, {} done", node.load, node.queue ? fmt::format(" +{}", node.queue) : "",
                             node.state.consumer().processed());
        },
    .rows =
        [](const Inspected& in) {
          const auto& consumer = in.state.consumer();
          row("queue", consumer.queue());
          row("prefetch", consumer.prefetch() ? std::to_string(consumer.prefetch()) : "unlimited");
          row("received", std::to_string(consumer.received()));
          row("processed (acked)", std::to_string(consumer.processed()));
          row("failed (nacked)", std::to_string(consumer.failed()));
          row("duplicates", std::to_string(consumer.duplicates()));
        },
    .tables =
        [](const Inspected& in) {
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
