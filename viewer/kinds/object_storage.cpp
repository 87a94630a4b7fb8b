// How the viewer shows object storage: the objects it holds and its verdict on each token.
#include <fmt/format.h>

#include <algorithm>

#include "viewer/app/kind_view.hpp"
#include "viewer/app/ui.hpp"
#include "viewer/app/viewer.hpp"

namespace flowframe::viewer {
namespace {

const KindView kObjectStorageView{
    .kind = v1::Node::OBJECT_STORAGE,
    .colour = IM_COL32(160, 190, 120, 255),
    .icon = "\xef\x86\x87",  // archive
    .badge = [](const view::NodeView& node) { return fmt::format("{} objects", node.load); },
    .rows =
        [](const Inspected& in) {
          row("accepted / rejected",
              fmt::format("{} / {}", in.state.object_storage().accepted(), in.state.object_storage().rejected()));
        },
    .tables =
        [](const Inspected& in) {
          if (begin_grid("objects", {"object", "size", "uploaded"}, in.table_height / 2)) {
            for (const auto& object : in.state.object_storage().objects())
              cells({object.bucket() + "/" + object.key(), fmt::format("{:.1f} MB", object.size() / 1e6),
                     format_time(object.uploaded_ns())});
            ImGui::EndTable();
          }
          if (begin_grid("checks", {"token check", "verdict"}, std::max(80.0f, ImGui::GetContentRegionAvail().y - 8))) {
            for (const auto& check : in.state.object_storage().checks()) cells({check.key(), check.verdict()});
            ImGui::EndTable();
          }
        },
};
FLOWFRAME_KIND_VIEW(kObjectStorageView);

}  // namespace
}  // namespace flowframe::viewer
