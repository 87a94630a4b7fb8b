// How the viewer shows a queue broker: each queue's depth, unacknowledged messages and fates, the
// messages at the head of each queue and those out with consumers, and its consumers' heartbeats.
#include <fmt/format.h>

#include "viewer/app/kind_view.hpp"
#include "viewer/app/ui.hpp"
#include "viewer/app/viewer.hpp"

namespace flowframe::viewer {
namespace {

std::string message_label(const v1::HeldMessage& message) {
  return fmt::format("{}{}", message.message(), message.poison() ? " (poison)" : "");
}

const KindView kQueueBrokerView{
    .kind = v1::Node::QUEUE_BROKER,
    .colour = IM_COL32(240, 150, 80, 255),
    .icon = "\xef\x83\xac",  // exchange
    .badge = [](const view::NodeView& node) { return fmt::format("{} ready, {} unacked", node.queue, node.load); },
    .rows =
        [](const Inspected& in) {
          const auto& broker = in.state.queue_broker();
          row("messages queued (a copy per queue)", std::to_string(broker.next_message()));
          if (broker.unroutable()) row("unroutable (dropped)", std::to_string(broker.unroutable()));
        },
    .tables =
        [](const Inspected& in) {
          const auto& broker = in.state.queue_broker();
          // Each queue's depth against the deepest it has been so far.
          for (const auto& queue : broker.queues()) {
            const float fraction = queue.max_ready() ? static_cast<float>(queue.ready()) / static_cast<float>(queue.max_ready()) : 0.0f;
            ImGui::ProgressBar(fraction, {-1, 0},
                               fmt::format("{}: {} ready, {} unacked", queue.name(), queue.ready(), queue.unacked()).c_str());
            if (ImGui::IsItemHovered())
              ImGui::SetTooltip("%s", fmt::format("deepest so far {}; {} consumer{}", queue.max_ready(), queue.consumers(),
                                                  queue.consumers() == 1 ? "" : "s").c_str());
          }
          if (begin_grid("queues", {"queue", "delivered", "redelivered", "acked", "dead"})) {
            for (const auto& queue : broker.queues())
              cells({queue.name(), std::to_string(queue.delivered()), std::to_string(queue.redelivered()),
                     std::to_string(queue.acked()), std::to_string(queue.dead_lettered())});
            ImGui::EndTable();
          }
          if (begin_grid("messages", {"queue", "message", "where", "deliveries", "age"}, in.table_height * 0.6f)) {
            for (const auto& queue : broker.queues()) {
              for (const auto& message : queue.head())
                cells({queue.name(), message_label(message), "ready", std::to_string(message.deliveries()),
                       seconds(in.now - message.since_ns())});
              for (const auto& message : queue.pending())
                cells({queue.name(), message_label(message), "with " + in.node_name(message.consumer()),
                       std::to_string(message.deliveries()), seconds(in.now - message.since_ns())});
            }
            ImGui::EndTable();
          }
          if (begin_grid("consumers", {"consumer", "queue", "prefetch", "unacked", "last heartbeat"}, in.table_height * 0.4f)) {
            for (const auto& consumer : broker.consumers())
              cells({in.node_name(consumer.node()), consumer.queue().empty() ? "(gone)" : consumer.queue(),
                     consumer.prefetch() ? std::to_string(consumer.prefetch()) : "unlimited",
                     std::to_string(consumer.unacked()), seconds(in.now - consumer.last_heartbeat_ns()) + " ago"});
            ImGui::EndTable();
          }
        },
};
FLOWFRAME_KIND_VIEW(kQueueBrokerView);

}  // namespace
}  // namespace flowframe::viewer
