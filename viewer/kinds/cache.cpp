// How the viewer shows a cache: its keys with TTLs, hits and misses.
#include <fmt/format.h>

#include "viewer/app/kind_view.hpp"
#include "viewer/app/ui.hpp"

namespace flowframe::viewer {
namespace {

const KindView kCacheView{
    .kind = v1::Node::CACHE,
    .colour = IM_COL32(250, 110, 110, 255),
    .icon = "\xef\x83\xa7",  // bolt
    .badge =
        [](const view::NodeView& node) {
          const auto& cache = node.state.cache();
          const auto lookups = cache.hits() + cache.misses();
          return fmt::format("{} key{}{}", cache.keys_size(), cache.keys_size() == 1 ? "" : "s",
                             lookups ? fmt::format(" · {:.0f}% hits", 100.0 * cache.hits() / lookups) : "");
        },
    .rows =
        [](const Inspected& in) {
          const auto& cache = in.state.cache();
          row("keys", fmt::format("{}{}", cache.keys_size(), cache.max_entries() ? fmt::format(" of {}", cache.max_entries()) : ""));
          row("hits / misses", fmt::format("{} / {}", cache.hits(), cache.misses()));
          row("evictions", std::to_string(cache.evictions()));
          row("expirations", std::to_string(cache.expirations()));
        },
    .tables =
        [](const Inspected& in) {
          if (!begin_grid("keys", {"key", "value", "ttl", "last used"}, in.table_height)) return;
          for (const auto& key : in.state.cache().keys())
            cells({key.key(), key.value(),
                   key.expires_ns() ? (key.expires_ns() > in.now ? seconds(key.expires_ns() - in.now) : "expired") : "none",
                   seconds(in.now - key.last_access_ns()) + " ago"});
          ImGui::EndTable();
        },
};
FLOWFRAME_KIND_VIEW(kCacheView);

}  // namespace
}  // namespace flowframe::viewer
