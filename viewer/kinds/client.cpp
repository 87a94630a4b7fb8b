// How the viewer shows a client: its address and what it sent and got back.
#include <fmt/format.h>

#include "viewer/app/kind_view.hpp"
#include "viewer/app/ui.hpp"
#include "viewer/app/viewer.hpp"

namespace flowframe::viewer {
namespace {

const KindView kClientView{
    .kind = v1::Node::CLIENT,
    .colour = IM_COL32(120, 170, 255, 255),
    .icon = "\xef\x80\x87",  // user
    .badge = [](const view::NodeView& node) { return fmt::format("{} sent", node.state.client().sent()); },
    .rows =
        [](const Inspected& in) {
          const auto& client = in.state.client();
          row("address", client.ip());
          row("sent", std::to_string(client.sent()));
          row("completed", std::to_string(client.completed()));
          row("failed", std::to_string(client.failed()));
        },
    .steer =
        [](const Inspected& in) {
          v1::ControlRequest request;
          request.set_burst(10);
          request.set_node(in.info.group().empty() ? in.info.id() : in.info.group());
          if (ui::button("fire a burst of 10 requests from every client")) in.viewer.send(request);
        },
};
FLOWFRAME_KIND_VIEW(kClientView);

}  // namespace
}  // namespace flowframe::viewer
