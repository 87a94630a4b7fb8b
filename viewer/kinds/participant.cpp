// How the viewer shows a saga participant: the effects in place and each idempotency key's fate.
#include <fmt/format.h>

#include "viewer/app/kind_view.hpp"

namespace flowframe::viewer {
namespace {

std::string status_name(v1::Effect::Status status) {
  switch (status) {
    case v1::Effect::APPLIED: return "in effect";
    case v1::Effect::UNDONE: return "undone";
    case v1::Effect::VOIDED: return "compensated first";
    case v1::Effect::REFUSED: return "refused";
    default: return "?";
  }
}

const KindView kParticipantView{
    .kind = v1::Node::PARTICIPANT,
    .colour = IM_COL32(150, 190, 120, 255),
    .icon = "\xef\x86\xb2",  // cube
    .badge = [](const view::NodeView& node) { return fmt::format("{} in effect", node.state.participant().applied()); },
    .rows =
        [](const Inspected& in) {
          const auto& p = in.state.participant();
          row("effects in place", std::to_string(p.applied()));
          row("undone by compensations", std::to_string(p.undone()));
          row("refused", std::to_string(p.refused()));
          row("repeated calls (no new effect)", std::to_string(p.repeated()));
        },
    .tables =
        [](const Inspected& in) {
          if (!begin_grid("effects", {"idempotency key", "action", "status", "calls"}, in.table_height)) return;
          for (const auto& effect : in.state.participant().effects())
            cells({effect.key(), effect.action(), status_name(effect.status()), std::to_string(effect.calls())});
          ImGui::EndTable();
        },
};
FLOWFRAME_KIND_VIEW(kParticipantView);

}  // namespace
}  // namespace flowframe::viewer
