// The topology canvas: nodes at their scenario positions, links, requests in flight as moving
// dots, live badges; pan (drag), zoom (wheel), fit; replica groups can collapse into one node.
#include <fmt/format.h>
#include <imgui_internal.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "runtime/framelog/frame_record.hpp"
#include "runtime/scenario/regions.hpp"
#include "viewer/app/kind_view.hpp"
#include "viewer/app/viewer.hpp"

namespace flowframe::viewer {

struct CanvasLayout {
  bool ready = false;
  std::vector<ImVec2> position;  // world units, by node index
  std::vector<std::pair<std::uint32_t, std::uint32_t>> links;
  Time max_link_latency = 0;
  std::map<std::string, std::vector<std::uint32_t>> regions;  // a cloud region's nodes
  std::map<std::string, std::size_t> group_size;
  float middle_x = 0;  // of all nodes, in world units
  // View transform: screen = offset + world * scale, relative to the canvas's corner.
  float scale = 1;
  ImVec2 offset{0, 0};
  bool fit_pending = true;
};

namespace {

// Pixels per world unit; replica members sit one unit apart.
constexpr float kMinScale = 0.5f, kMaxScale = 5000.0f;

CanvasLayout& layout_for(Viewer& viewer) {
  if (!viewer.canvas_layout) viewer.canvas_layout = std::make_shared<CanvasLayout>();
  auto& layout = *viewer.canvas_layout;
  if (layout.ready) return layout;
  const auto& header = viewer.model().header();
  for (const auto& node : header.nodes())
    layout.position.push_back({static_cast<float>(node.position().x()), static_cast<float>(node.position().y())});
  for (const auto& link : header.scenario().links()) {
    const auto& latency = link.latency();
    layout.max_link_latency =
        std::max(layout.max_link_latency, from_millis(std::max(latency.mean_ms(), latency.max_ms())));
  }
  layout.links = view::linked_pairs(header);
  for (const auto& node : header.nodes())
    if (!node.group().empty()) ++layout.group_size[node.group()];
  for (std::size_t n = 1; n < layout.position.size(); ++n)
    layout.middle_x += layout.position[n].x / static_cast<float>(layout.position.size() - 1);
  for (const auto& spec : header.scenario().nodes())
    if (!spec.region().empty())
      for (const auto& node : header.nodes())
        if (node.id() == spec.id()) layout.regions[spec.region()].push_back(node.index());
  layout.ready = true;
  return layout;
}

// Where a node is drawn: itself, or (groups collapsed) its group's first member.
std::uint32_t shown_as(const Viewer& viewer, const v1::LogHeader& header, std::uint32_t node) {
  if (!viewer.collapse_groups || node >= static_cast<std::uint32_t>(header.nodes_size())) return node;
  const auto& group = header.nodes(static_cast<int>(node)).group();
  if (group.empty()) return node;
  for (const auto& other : header.nodes())
    if (other.group() == group) return other.index();
  return node;
}

void fit(CanvasLayout& layout, const std::vector<std::uint32_t>& shown, ImVec2 size) {
  ImVec2 low{1e9f, 1e9f}, high{-1e9f, -1e9f};
  for (auto node : shown) {
    low = {std::min(low.x, layout.position[node].x), std::min(low.y, layout.position[node].y)};
    high = {std::max(high.x, layout.position[node].x), std::max(high.y, layout.position[node].y)};
  }
  if (shown.empty()) return;
  // Room around the nodes for names and badges: below them, or beside a crowded column.
  const float pad_x = 190, pad_y = 80;
  const float span_x = std::max(high.x - low.x, 1.0f), span_y = std::max(high.y - low.y, 1.0f);
  layout.scale = std::min((size.x - 2 * pad_x) / span_x, (size.y - 2 * pad_y) / span_y);
  layout.scale = std::clamp(layout.scale, kMinScale, 400.0f);
  layout.offset = {(size.x - span_x * layout.scale) / 2 - low.x * layout.scale,
                   (size.y - span_y * layout.scale) / 2 - low.y * layout.scale};
}

// A hop's colour: what it carries and how it ended.
ImU32 hop_colour(const Palette& palette, const v1::Frame& frame) {
  return is_error(frame)                   ? palette.error
         : frame.kind() == v1::Frame::RESPONSE ? palette.ok
         : frame.kind() == v1::Frame::MESSAGE  ? palette.warning
                                               : palette.request;
}

// "eu-west-1 · Ireland" for the built-in regions, the name alone for a scenario's own.
std::string region_label(const std::string& region) {
  for (const auto& known : builtin_regions())
    if (known.name == region) return region + " · " + known.place;
  return region;
}

}  // namespace

void draw_canvas(Viewer& viewer, ImVec2 pos, ImVec2 size) {
  const auto& header = viewer.model().header();
  const auto& palette = viewer.palette();
  auto& layout = layout_for(viewer);
  ImGui::PushStyleVar(ImGuiStyleVar_WindowPadding, ImVec2(0, 0));
  begin_panel(viewer.window("Topology").c_str(), pos, size, ImGuiWindowFlags_NoScrollbar | ImGuiWindowFlags_NoScrollWithMouse);
  ImGui::PopStyleVar();
  const ImVec2 corner = ImGui::GetCursorScreenPos();
  const ImVec2 area = ImGui::GetContentRegionAvail();
  auto* draw = ImGui::GetWindowDrawList();
  draw->AddRectFilled(corner, {corner.x + area.x, corner.y + area.y}, palette.canvas);
  for (float x = std::fmod(layout.offset.x, 40.0f); x < area.x; x += 40)
    draw->AddLine({corner.x + x, corner.y}, {corner.x + x, corner.y + area.y}, palette.grid);
  for (float y = std::fmod(layout.offset.y, 40.0f); y < area.y; y += 40)
    draw->AddLine({corner.x, corner.y + y}, {corner.x + area.x, corner.y + y}, palette.grid);

  std::vector<std::uint32_t> shown;
  for (std::uint32_t n = 1; n < static_cast<std::uint32_t>(header.nodes_size()); ++n)
    if (shown_as(viewer, header, n) == n) shown.push_back(n);
  if (layout.fit_pending) {
    fit(layout, shown, area);
    layout.fit_pending = false;
  }
  // Pan with any drag on empty canvas, zoom about the mouse with the wheel.
  // The overlay's buttons are drawn over it later: they must get the clicks on them.
  ImGui::InvisibleButton("canvas", area,
                         ImGuiButtonFlags_MouseButtonLeft | ImGuiButtonFlags_MouseButtonRight | ImGuiButtonFlags_AllowItemOverlap);
  ImGui::SetItemAllowOverlap();
  ui::note_region("canvas", corner, {corner.x + area.x, corner.y + area.y});
  const bool hovered = ImGui::IsItemHovered();
  auto& io = ImGui::GetIO();
  if (ImGui::IsItemActive() && (ImGui::IsMouseDragging(ImGuiMouseButton_Left) || ImGui::IsMouseDragging(ImGuiMouseButton_Right)))
    layout.offset = {layout.offset.x + io.MouseDelta.x, layout.offset.y + io.MouseDelta.y};
  if (hovered && io.MouseWheel != 0) {
    const float factor = std::pow(1.15f, io.MouseWheel);
    const ImVec2 mouse{io.MousePos.x - corner.x, io.MousePos.y - corner.y};
    layout.offset = {mouse.x - (mouse.x - layout.offset.x) * factor, mouse.y - (mouse.y - layout.offset.y) * factor};
    layout.scale = std::clamp(layout.scale * factor, kMinScale, kMaxScale);
  }
  auto screen = [&](std::uint32_t node) {
    const auto& p = layout.position[shown_as(viewer, header, node)];
    return ImVec2{corner.x + layout.offset.x + p.x * layout.scale, corner.y + layout.offset.y + p.y * layout.scale};
  };
  // Nodes keep a readable size (an icon inside) while members one unit apart still fit; only a
  // zoom far out shrinks them.
  const float radius = std::clamp(std::max(layout.scale * 0.22f, layout.scale >= 32 ? 14.0f : 0.0f), 5.0f, 30.0f);
  // Members of a group too close for a name and a badge below each: beside each in a short
  // column, none in a grid (a hover names them).
  const bool crowded = layout.scale < 2 * radius + 2 * ImGui::GetTextLineHeight() + 8;

  // Cloud regions: an area behind each region's nodes, named at its top left (names drawn last, so
  // an area never hides another's name).
  std::vector<std::pair<ImVec2, const std::string*>> region_names;
  for (const auto& [region, nodes] : layout.regions) {
    ImVec2 low{1e9f, 1e9f}, high{-1e9f, -1e9f};
    for (const auto node : nodes) {
      const auto p = screen(node);
      low = {std::min(low.x, p.x), std::min(low.y, p.y)};
      high = {std::max(high.x, p.x), std::max(high.y, p.y)};
    }
    low = {low.x - radius - 40, low.y - radius - 26};
    high = {high.x + radius + 40, high.y + radius + 40};
    draw->AddRectFilled(low, high, palette.region, 12);
    draw->AddRect(low, high, palette.grid, 12, 0, 1.5f);
    region_names.emplace_back(ImVec2{low.x + 10, low.y + 5}, &region);
  }
  for (const auto& [at, region] : region_names) draw->AddText(at, palette.text_dim, region_label(*region).c_str());

  const view::World* world = viewer.playback().world();
  const view::Trace* trace = viewer.trace();
  std::set<std::pair<std::uint32_t, std::uint32_t>> traced;
  if (trace)
    for (const auto& hop : trace->hops) traced.insert({hop.frame.src(), hop.frame.dst()});

  // Links.
  std::set<std::pair<std::uint32_t, std::uint32_t>> drawn;
  for (auto [from, to] : layout.links) {
    const auto a = shown_as(viewer, header, from), b = shown_as(viewer, header, to);
    if (!drawn.insert({a, b}).second) continue;
    const bool hot = traced.count({from, to}) || traced.count({to, from});
    draw->AddLine(screen(a), screen(b), hot ? palette.link_hot : palette.link, hot ? 3.5f : 1.5f);
  }

  // Circuit breakers: a mark on the link a third of the way from the caller; open is red and says so.
  if (world)
    for (auto n : shown)
      for (const auto& breaker : world->nodes[n].state.breakers()) {
        const ImVec2 a = screen(n), b = screen(shown_as(viewer, header, breaker.target()));
        const ImVec2 mark{a.x + (b.x - a.x) * 0.33f, a.y + (b.y - a.y) * 0.33f};
        const bool open = breaker.state() == v1::BreakerState::OPEN;
        const bool half = breaker.state() == v1::BreakerState::HALF_OPEN;
        const ImU32 colour = open ? palette.error : half ? palette.warning : palette.ok;
        draw->AddCircleFilled(mark, open || half ? 7.0f : 4.5f, colour);
        draw->AddCircle(mark, open || half ? 7.0f : 4.5f, palette.canvas, 0, 1.5f);
        if (open || half)
          draw->AddText({mark.x + 9, mark.y - 8}, colour, open ? "OPEN" : "HALF-OPEN");
      }

  // Requests in flight: frames sent at or before now and delivered after it.
  const Time now = viewer.playback().time();
  auto& model = viewer.model();
  std::optional<std::pair<std::uint32_t, std::uint64_t>> clicked_request;
  std::uint64_t clicked_frame = 0;
  for (std::uint64_t i = viewer.playback().frame() + 1, scanned = 0; i < model.frame_count() && scanned < view::LogModel::kInFlightScan; ++i, ++scanned) {
    const auto view = model.frame(i, false);
    // In story pace the hop being told crosses its whole link, however short it was or however
    // long before it left.
    const auto story = viewer.playback().story_progress();
    const bool told = story && i == viewer.playback().frame() + 1;
    if (!view || (!told && view->time > now + layout.max_link_latency)) break;
    const auto& f = view->frame;
    if ((!told && view->sent > now) || f.src() == f.dst() || f.kind() == v1::Frame::CONTROL) continue;
    const float progress = told
                               ? *story
                               : std::clamp(static_cast<float>(now - view->sent) / static_cast<float>(std::max<Time>(1, view->time - view->sent)), 0.0f, 1.0f);
    const ImVec2 a = screen(f.src()), b = screen(f.dst());
    // A message lost on its link or cut by a partition gets halfway, then a cross marks where it went.
    if ((f.outcome() == v1::Frame::LOST || f.outcome() == v1::Frame::PARTITIONED) && progress > 0.5f) {
      const ImVec2 mid{(a.x + b.x) / 2, (a.y + b.y) / 2};
      draw->AddLine({mid.x - 6, mid.y - 6}, {mid.x + 6, mid.y + 6}, palette.error, 3.0f);
      draw->AddLine({mid.x - 6, mid.y + 6}, {mid.x + 6, mid.y - 6}, palette.error, 3.0f);
      continue;
    }
    const ImVec2 dot{a.x + (b.x - a.x) * progress, a.y + (b.y - a.y) * progress};
    draw->AddCircleFilled(dot, 5.5f, hop_colour(palette, f));
    draw->AddCircle(dot, 5.5f, palette.canvas, 0, 1.5f);
    if (ImGui::IsMouseClicked(ImGuiMouseButton_Left) && hovered) {
      const float dx = io.MousePos.x - dot.x, dy = io.MousePos.y - dot.y;
      if (dx * dx + dy * dy < 64) {
        clicked_request = std::make_pair(f.client(), f.request());
        clicked_frame = view->index;
      }
    }
  }
  // The frame just delivered: its hop glows in its colour. A timed event or a live control comes
  // from no node: its target gets a ring and what happened.
  if (auto current = model.frame(viewer.playback().frame(), false)) {
    const auto& f = current->frame;
    if (f.src() == kDirector && f.dst() != kDirector) {
      const ImVec2 c = screen(f.dst());
      draw->AddCircle(c, radius * 1.9f, palette.warning, 0, 3.0f);
      const std::string what = fmt::format("{} {}", icon::warning, f.note().empty() ? "event" : f.note());
      draw->AddText({c.x + radius * 1.9f + 4, c.y - radius * 1.9f}, palette.warning, what.c_str());
    } else if (f.src() != f.dst() && f.src() != kDirector) {
      draw->AddLine(screen(f.src()), screen(f.dst()), hop_colour(palette, f), 4.0f);
    }
  }

  // Nodes.
  std::optional<std::uint32_t> clicked_node;
  ImGui::PushFont(viewer.fonts().text);
  for (auto n : shown) {
    const auto& info = header.nodes(static_cast<int>(n));
    const ImVec2 c = screen(n);
    const bool group = viewer.collapse_groups && !info.group().empty();
    view::NodeView node;
    int members = 1, down = 0;
    if (world && n < world->nodes.size()) {
      node = world->nodes[n];
      down = node.state.crashed() || kind_view(info.kind()).down(node);
      if (group) {
        members = 0;
        node.load = node.queue = 0;
        for (const auto& other : header.nodes()) {
          if (other.group() != info.group()) continue;
          const auto& member = world->nodes[other.index()];
          ++members;
          node.load += member.load;
          node.queue += member.queue;
          down += member.state.crashed() || kind_view(info.kind()).down(member);
        }
      }
    }
    const ImU32 kind_color = palette.kind(info.kind());
    const bool selected = viewer.selected_node == n;
    const ImVec2 low{c.x - radius, c.y - radius}, high{c.x + radius, c.y + radius};
    if (group) draw->AddRectFilled({low.x + 5, low.y - 5}, {high.x + 5, high.y - 5}, palette.node_fill, 8);
    draw->AddRectFilled(low, high, palette.node_fill, 8);
    draw->AddRect(low, high, down == members && down ? palette.error : kind_color, 8, 0, selected ? 3.5f : 2.0f);
    if (selected) draw->AddRect({low.x - 5, low.y - 5}, {high.x + 5, high.y + 5}, palette.selection, 10, 0, 2.0f);
    const char* icon = kind_icon(info.kind());
    if (radius >= 10) {
      const ImVec2 icon_size = ImGui::CalcTextSize(icon);
      draw->AddText({c.x - icon_size.x / 2, c.y - icon_size.y / 2}, kind_color, icon);
    }
    const std::string name = group ? fmt::format("{} ×{}", info.group(), members) : info.id();
    ui::note_region("node:" + (group ? info.group() : info.id()), low, high);
    std::string figure = group ? fmt::format("{} busy{}", node.load, down ? fmt::format(" · {} down", down) : "")
                               : node.state.crashed()                             ? std::string("CRASHED")
                               : node.state.paused_until_ns() > now ? std::string("PAUSED")
                                                                    : kind_view(info.kind()).badge(node);
    const bool alarm = figure == "DOWN" || figure == "CRASHED" || (group && down);
    const bool member = !group && !info.group().empty();
    const std::size_t group_size = member ? layout.group_size.at(info.group()) : 1;
    const bool over = io.MousePos.x >= low.x && io.MousePos.x <= high.x && io.MousePos.y >= low.y && io.MousePos.y <= high.y;
    if (hovered && over) ImGui::SetTooltip("%s%s%s", name.c_str(), figure.empty() ? "" : " · ", figure.c_str());
    auto badge = [&](ImVec2 at, const ImVec2& size) {
      draw->AddRectFilled({at.x - 5, at.y - 1}, {at.x + size.x + 5, at.y + size.y + 1}, alarm ? palette.error : palette.grid, 6);
      draw->AddText(at, alarm ? IM_COL32(255, 255, 255, 255) : palette.text_dim, figure.c_str());
    };
    if (member && crowded) {
      if (group_size <= 8) {  // a short column: name and badge beside it, on the side away from the middle
        const ImVec2 name_size = ImGui::CalcTextSize(name.c_str());
        const ImVec2 figure_size = figure.empty() ? ImVec2{0, 0} : ImGui::CalcTextSize(figure.c_str());
        const float width = name_size.x + (figure.empty() ? 0 : figure_size.x + 10);
        const bool left = layout.position[n].x < layout.middle_x;
        const ImVec2 at{left ? low.x - 8 - width : high.x + 6, c.y - name_size.y / 2};
        draw->AddText(at, palette.text, name.c_str());
        if (!figure.empty()) badge({at.x + name_size.x + 10, at.y}, figure_size);
      } else if (alarm) {
        draw->AddRect({low.x - 2, low.y - 2}, {high.x + 2, high.y + 2}, palette.error, 8, 0, 2.5f);
      }
    } else {
      const ImVec2 name_size = ImGui::CalcTextSize(name.c_str());
      draw->AddText({c.x - name_size.x / 2, high.y + 4}, palette.text, name.c_str());
      if (!figure.empty()) {
        const ImVec2 figure_size = ImGui::CalcTextSize(figure.c_str());
        badge({c.x - figure_size.x / 2, high.y + 6 + name_size.y}, figure_size);
      }
    }
    if (hovered && ImGui::IsMouseClicked(ImGuiMouseButton_Left) && io.MousePos.x >= low.x && io.MousePos.x <= high.x &&
        io.MousePos.y >= low.y && io.MousePos.y <= high.y)
      clicked_node = n;
  }
  ImGui::PopFont();
  if (clicked_node) viewer.selected_node = clicked_node;
  else if (clicked_request) viewer.select_request(clicked_request->first, clicked_request->second, clicked_frame);

  // Overlay: controls and legend.
  ImGui::SetCursorScreenPos({corner.x + 10, corner.y + 10});
  if (ui::button(fmt::format("{} Fit", icon::expand).c_str())) layout.fit_pending = true;
  ImGui::SameLine();
  if (ui::checkbox("Collapse groups", &viewer.collapse_groups)) layout.fit_pending = true;
  ImGui::SameLine();
  if (ui::button("Sequence chart")) viewer.show_sequence = true;
  if (viewer.from_gallery) {
    ImGui::SameLine();
    if (ui::button("\xe2\x86\x90 Scenarios")) viewer.wants_home = true;
  }
  const char* legend[] = {"request", "response", "one-way", "error / lost"};
  const ImU32 colors[] = {palette.request, palette.ok, palette.warning, palette.error};
  // Right-aligned beside the buttons, or below them when the canvas is too narrow for both.
  const float buttons_end = ImGui::GetItemRectMax().x + 16;
  float legend_width = 0;
  for (const char* label : legend) legend_width += ImGui::CalcTextSize(label).x + 28;
  const float legend_y = corner.x + area.x - 10 - legend_width < buttons_end ? corner.y + 44 : corner.y + 14;
  float x = corner.x + area.x - 10;
  for (int k = 3; k >= 0; --k) {
    const ImVec2 label = ImGui::CalcTextSize(legend[k]);
    x -= label.x;
    draw->AddText({x, legend_y}, palette.text_dim, legend[k]);
    x -= 14;
    draw->AddCircleFilled({x + 5, legend_y + label.y / 2}, 5, colors[k]);
    x -= 14;
  }
  // The title, cut to the canvas with an ellipsis; the whole of it on hover. What --set changed
  // comes before the description, so a narrow canvas (one side of a comparison) still says it.
  std::string description = header.scenario().description(), changed;
  if (const auto at = description.rfind(" (changed: "); at != std::string::npos && description.back() == ')') {
    changed = description.substr(at);
    description.erase(at);
  }
  const std::string title = header.scenario().name() + changed + (description.empty() ? "" : " — " + description);
  ImGui::PushFont(viewer.fonts().title);
  const ImVec2 title_at{corner.x + 12, corner.y + area.y - ImGui::GetFontSize() - 10};
  const float room = area.x - 24;
  const std::string shown_title = ui::ellipsize(title, room);
  draw->AddText(title_at, palette.text_dim, shown_title.c_str());
  const bool over_title = io.MousePos.x >= title_at.x && io.MousePos.x <= title_at.x + room && io.MousePos.y >= title_at.y &&
                          io.MousePos.y <= title_at.y + ImGui::GetFontSize();
  ImGui::PopFont();
  if (shown_title != title && over_title && ImGui::IsWindowHovered()) ImGui::SetTooltip("%s", title.c_str());
  ImGui::End();
}

}  // namespace flowframe::viewer
