// How the viewer shows a token service: the upload tokens it issued and when they expire.
#include <fmt/format.h>

#include "viewer/app/kind_view.hpp"
#include "viewer/app/ui.hpp"

namespace flowframe::viewer {
namespace {

const KindView kTokenServiceView{
    .kind = v1::Node::TOKEN_SERVICE,
    .colour = IM_COL32(230, 200, 90, 255),
    .icon = "\xef\x82\x84",  // key
    .badge = [](const view::NodeView& node) { return fmt::format("{} tokens", node.state.token_service().issued_size()); },
    .tables =
        [](const Inspected& in) {
          if (!begin_grid("issued", {"token for", "expires in", "signature"}, in.table_height)) return;
          for (const auto& issued : in.state.token_service().issued())
            cells({issued.token().bucket() + "/" + issued.token().key(),
                   issued.token().expires_ns() > in.now ? seconds(issued.token().expires_ns() - in.now) : "expired",
                   issued.token().signature().substr(0, 12) + "…"});
          ImGui::EndTable();
        },
};
FLOWFRAME_KIND_VIEW(kTokenServiceView);

}  // namespace
}  // namespace flowframe::viewer
