// How the viewer shows a saga participant: the effects in place and each idempotency key's fate.
#include <fmt/format.h>

#include "viewer/kinds/saga_parts.hpp"

namespace flowframe::viewer {
namespace {

const KindView kParticipantView{
    .kind = v1::Node::PARTICIPANT,
    .colour = IM_COL32(150, 190, 120, 255),
    .icon = "\xef\x86\xb2",  // cube
    .badge = [](const view::NodeView& node) { return fmt::format("{} in effect", node.state.participant().applied()); },
    .rows = [](const Inspected& in) { effect_rows(in.state.participant()); },
    .tables = [](const Inspected& in) { effects_table(in, in.table_height); },
};
FLOWFRAME_KIND_VIEW(kParticipantView);

}  // namespace
}  // namespace flowframe::viewer
