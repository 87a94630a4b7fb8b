// How the viewer shows a CDN edge: its hit ratio, the objects it holds and how long each stays
// fresh (then stale, still served while it is refreshed), and the origin fetches under way.
#include <fmt/format.h>

#include "viewer/app/kind_view.hpp"
#include "viewer/app/ui.hpp"

namespace flowframe::viewer {
namespace {

std::string hit_ratio(const v1::CdnState& cdn) {
  const auto served = cdn.hits() + cdn.stale_hits();
  const auto asked = served + cdn.misses() + cdn.collapsed();
  return asked ? fmt::format("{:.0f}% hits", 100.0 * static_cast<double>(served) / static_cast<double>(asked)) : "cold";
}

const KindView kCdnEdgeView{
    .kind = v1::Node::CDN_EDGE,
    .colour = IM_COL32(240, 160, 90, 255),
    .icon = "\xef\x82\xac",  // globe
    .badge =
        [](const view::NodeView& node) {
          const auto& cdn = node.state.cdn_edge();
          return fmt::format("{} · {} held", hit_ratio(cdn), cdn.objects_held());
        },
    .rows =
        [](const Inspected& in) {
          const auto& cdn = in.state.cdn_edge();
          row("hit ratio", hit_ratio(cdn));
          row("fresh hits / stale hits", fmt::format("{} / {}", cdn.hits(), cdn.stale_hits()));
          row("misses / collapsed", fmt::format("{} / {}", cdn.misses(), cdn.collapsed()));
          row("background refreshes", std::to_string(cdn.revalidations()));
          row("objects held", std::to_string(cdn.objects_held()));
          row("origin fetches under way", fmt::format("{} ({} requests wait)", cdn.fetching(), in.state.queue()));
          if (cdn.evictions()) row("evicted", std::to_string(cdn.evictions()));
          if (cdn.purged()) row("purged", std::to_string(cdn.purged()));
        },
    .tables =
        [](const Inspected& in) {
          if (!begin_grid("objects", {"object", "age", "fresh for", "then stale for"}, in.table_height)) return;
          for (const auto& object : in.state.cdn_edge().objects()) {
            const bool fresh = object.fresh_until_ns() > in.now;
            const bool stale = !fresh && object.stale_until_ns() > in.now;
            cells({object.key(), seconds(in.now - object.stored_ns()), fresh ? seconds(object.fresh_until_ns() - in.now) : "stale",
                   fresh  ? seconds(object.stale_until_ns() - object.fresh_until_ns())
                   : stale ? seconds(object.stale_until_ns() - in.now)
                           : "expired"});
          }
          ImGui::EndTable();
        },
};
FLOWFRAME_KIND_VIEW(kCdnEdgeView);

}  // namespace
}  // namespace flowframe::viewer
