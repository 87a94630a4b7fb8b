// How the viewer shows a log broker: each partition as a strip of offsets (deleted by retention,
// committed by each group, below the high watermark, not yet replicated), with the groups'
// positions and lag, the in-sync replicas and the newest records.
#include <fmt/format.h>

#include "viewer/app/kind_view.hpp"
#include "viewer/app/ui.hpp"
#include "viewer/app/viewer.hpp"

namespace flowframe::viewer {
namespace {

// One partition's log as a strip: the window [first, end) of offsets scaled to the width.
void partition_strip(const Inspected& in, const v1::PartitionState& p, const v1::LogBrokerState& broker) {
  const auto& palette = in.viewer.palette();
  ImGui::TextUnformatted(fmt::format("{}/{}  offsets {}..{}  high watermark {}  in sync {}", p.topic(), p.partition(),
                                     p.log_start(), p.log_end(), p.high_watermark(), p.isr_size())
                             .c_str());
  const float width = ImGui::GetContentRegionAvail().x, height = 14;
  const ImVec2 at = ImGui::GetCursorScreenPos();
  auto* draw = ImGui::GetWindowDrawList();
  const double span = static_cast<double>(std::max<std::uint64_t>(1, p.log_end()));
  auto x = [&](std::uint64_t offset) { return at.x + static_cast<float>(static_cast<double>(offset) / span) * width; };
  draw->AddRectFilled(at, {at.x + width, at.y + height}, palette.canvas, 3);
  // Deleted by retention, readable (below the high watermark), written but not yet replicated.
  draw->AddRectFilled(at, {x(p.log_start()), at.y + height}, palette.grid, 3);
  draw->AddRectFilled({x(p.log_start()), at.y}, {x(p.high_watermark()), at.y + height}, palette.ok, 0);
  draw->AddRectFilled({x(p.high_watermark()), at.y}, {x(p.log_end()), at.y + height}, palette.warning, 0);
  std::string marks;
  for (const auto& group : broker.groups()) {
    if (group.topic() != p.topic()) continue;
    const auto committed = group.committed().count(p.partition()) ? group.committed().at(p.partition()) : 0;
    // The committed offset: a tick across the strip.
    draw->AddLine({x(committed), at.y - 3}, {x(committed), at.y + height + 3}, palette.error, 2.5f);
    marks += fmt::format("  {} committed {} (lag {})", group.name(), committed, p.log_end() - std::min(p.log_end(), committed));
    for (const auto& member : group.members())
      if (member.fetch_offsets().count(p.partition())) {
        const auto position = member.fetch_offsets().at(p.partition());
        // Where the member is fetching: a small triangle under the strip.
        const float px = x(position);
        draw->AddTriangleFilled({px, at.y + height}, {px - 5, at.y + height + 8}, {px + 5, at.y + height + 8}, palette.text);
        marks += fmt::format(", {} at {}", in.node_name(member.node()), position);
      }
  }
  ImGui::Dummy({width, height + 10});
  if (!marks.empty()) ImGui::TextDisabled("%s", marks.substr(2).c_str());
}

const KindView kLogBrokerView{
    .kind = v1::Node::LOG_BROKER,
    .colour = IM_COL32(200, 130, 230, 255),
    .icon = "\xef\x83\x8a",  // list-ul
    .badge =
        [](const view::NodeView& node) {
          const auto& broker = node.state.log_broker();
          std::uint64_t end = 0;
          for (const auto& p : broker.partitions()) end += p.log_end();
          if (broker.electing()) return fmt::format("electing, {} records", end);
          if (broker.leader() != node.state.node() && node.state.node() != 0) return fmt::format("{} copied", end);
          return fmt::format("{}{} records, lag {}", broker.epoch() ? fmt::format("epoch {}: ", broker.epoch()) : "", end, node.queue);
        },
    .rows =
        [](const Inspected& in) {
          const auto& broker = in.state.log_broker();
          row("role", broker.electing()                     ? "electing a leader (its own went silent)"
                      : broker.leader() == in.info.index() ? "leader"
                                                           : "follower of " + in.node_name(broker.leader()));
          row("leader epoch", std::to_string(broker.epoch()));
          row("records appended", std::to_string(broker.appended()));
          row("not yet replicated", std::to_string(in.state.load()));
          const bool leads = broker.leader() == in.info.index() && !broker.electing();
          for (const auto& group : broker.groups())
            row(("group " + group.name()).c_str(),
                leads ? fmt::format("generation {}{}, {} members, lag {}", group.generation(), group.rebalancing() ? " (rebalancing)" : "",
                                    group.members_size(), group.lag())
                      : fmt::format("its leader's commits, copied: generation {}, lag {}", group.generation(), group.lag()));
        },
    .tables =
        [](const Inspected& in) {
          const auto& broker = in.state.log_broker();
          for (const auto& p : broker.partitions()) partition_strip(in, p, broker);
          if (begin_grid("members", {"group", "member", "partitions", "last heartbeat"}, in.table_height * 0.4f)) {
            for (const auto& group : broker.groups())
              for (const auto& member : group.members()) {
                std::string parts;
                for (const auto p : member.partitions()) parts += (parts.empty() ? "" : ",") + std::to_string(p);
                cells({group.name(), in.node_name(member.node()), parts.empty() ? "-" : parts,
                       seconds(in.now - member.last_heartbeat_ns()) + " ago"});
              }
            ImGui::EndTable();
          }
          if (begin_grid("records", {"partition", "offset", "key", "from"}, in.table_height * 0.5f)) {
            for (const auto& p : broker.partitions())
              for (const auto& record : p.tail())
                cells({fmt::format("{}/{}", p.topic(), p.partition()), std::to_string(record.offset()), record.key(),
                       fmt::format("{} #{}", in.node_name(record.publisher()), record.request())});
            ImGui::EndTable();
          }
        },
};
FLOWFRAME_KIND_VIEW(kLogBrokerView);

}  // namespace
}  // namespace flowframe::viewer
