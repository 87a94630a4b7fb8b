#include "viewer/app/viewer.hpp"

#include "viewer/app/kind_view.hpp"
#include "viewer/app/transport.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "runtime/scenario/scenario.hpp"

namespace flowframe::viewer {
namespace {

constexpr std::size_t kMetricBuckets = 240;
constexpr int kCollapsedAbove = 16;  // members

}  // namespace

Palette palette_for(bool dark) {
  if (dark)
    return {IM_COL32(24, 26, 31, 255),   IM_COL32(38, 41, 48, 255),   IM_COL32(86, 92, 106, 255),
            IM_COL32(250, 200, 80, 255), IM_COL32(40, 44, 53, 255),
            IM_COL32(250, 200, 80, 255), IM_COL32(230, 232, 236, 255), IM_COL32(150, 156, 168, 255),
            IM_COL32(80, 200, 120, 255), IM_COL32(90, 160, 250, 255), IM_COL32(240, 90, 90, 255),
            IM_COL32(245, 170, 60, 255),  IM_COL32(33, 40, 54, 255)};
  return {IM_COL32(246, 247, 250, 255), IM_COL32(228, 231, 237, 255), IM_COL32(160, 166, 178, 255),
          IM_COL32(214, 140, 0, 255),   IM_COL32(255, 255, 255, 255),
          IM_COL32(214, 140, 0, 255),   IM_COL32(30, 33, 40, 255),    IM_COL32(100, 106, 118, 255),
          IM_COL32(30, 150, 80, 255),   IM_COL32(40, 110, 220, 255),  IM_COL32(210, 50, 50, 255),
          IM_COL32(210, 130, 20, 255),  IM_COL32(232, 239, 250, 255), false};
}

ImU32 Palette::kind(v1::Node::Kind kind) const {
  const ImU32 colour = kind_view(kind).colour;
  if (dark) return colour;
  auto darker = [&](int shift) { return static_cast<ImU32>(((colour >> shift) & 0xFF) * 0.62f) << shift; };
  return darker(IM_COL32_R_SHIFT) | darker(IM_COL32_G_SHIFT) | darker(IM_COL32_B_SHIFT) | (colour & IM_COL32_A_MASK);
}

const char* kind_icon(v1::Node::Kind kind) { return kind_view(kind).icon; }

std::string format_time(Time t) {
  if (t < kNanosPerSecond) return fmt::format("{:.3f} ms", to_millis(t));
  return fmt::format("{:.6f} s", to_seconds(t));
}

void begin_panel(const char* name, ImVec2 pos, ImVec2 size, ImGuiWindowFlags extra) {
  ImGui::SetNextWindowPos(pos);
  ImGui::SetNextWindowSize(size);
  ImGui::Begin(name, nullptr,
               ImGuiWindowFlags_NoMove | ImGuiWindowFlags_NoResize | ImGuiWindowFlags_NoCollapse |
                   ImGuiWindowFlags_NoSavedSettings | ImGuiWindowFlags_NoBringToFrontOnFocus | extra);
}

Viewer::Viewer(std::unique_ptr<view::LogModel> model, Fonts fonts, bool dark, std::unique_ptr<LiveClient> live)
    : model_(std::move(model)), playback_(*model_), text_(model_->header()), fonts_(fonts),
      live_(std::move(live)) {
  set_dark(dark);
  metrics_ = std::make_unique<view::MetricsScan>(*model_, kMetricBuckets);
  metrics_at_ = std::chrono::steady_clock::now();
  // The concept page fits the built-in scenario as written, not one changed with --set.
  const auto& scenario = model_->header().scenario();
  for (const auto& builtin : builtin_scenarios())
    if (builtin.name == scenario.name() && !builtin.page.empty() &&
        parse_scenario(builtin.text, builtin.name).description() == scenario.description())
      page_ = parse_page(builtin.page);
  // Large groups start collapsed: 64 servers are one node with their aggregate state.
  std::map<std::string, int> members;
  for (const auto& node : model_->header().nodes())
    if (!node.group().empty() && ++members[node.group()] > kCollapsedAbove) collapse_groups = true;
}

Viewer::Carried Viewer::carry() { return {from_gallery, collapse_groups, selected_node, std::move(after_restart)}; }

void Viewer::continue_from(Carried carried) {
  from_gallery = carried.from_gallery;
  collapse_groups = carried.collapse_groups;
  if (carried.selected_node && *carried.selected_node < static_cast<std::uint32_t>(model_->header().nodes_size()))
    selected_node = carried.selected_node;
  queued_ = std::move(carried.controls);
  live_status_ = queued_.empty() ? "restarted" : "restarted: trying it";
}

void Viewer::send(v1::ControlRequest request) {
  if (!live_ || live_->closed()) return;
  request.set_id(next_request_id_++);
  live_->send(request);
}

// Takes in what arrived, answers from the run, and keeps the cursor on the newest frame.
void Viewer::follow_live() {
  if (!live_) return;
  const bool ended = live_->closed();
  const bool grew = model_->refresh(ended);
  if (!queued_.empty() && model_->frame_count() > 0) {
    for (auto& request : queued_) send(std::move(request));
    queued_.clear();
  }
  for (const auto& reply : live_->take_replies()) {
    if (reply.id() == 0 && reply.ok()) continue;
    live_status_ = reply.ok() ? fmt::format("done at {}", format_time(reply.at_ns())) : "refused: " + reply.error();
  }
  if (!live_->error().empty()) live_status_ = live_->error();
  if (following && model_->frame_count()) {
    playback_.pause();
    playback_.seek_frame(model_->frame_count() - 1);
  }
  const auto now = std::chrono::steady_clock::now();
  // Metrics over everything received, twice a second, and once more over the whole of an ended run.
  if ((grew || (ended && !metrics_final_)) && metrics_->done() && now - metrics_at_ > std::chrono::milliseconds(500)) {
    metrics_final_ = ended;
    metrics_ = std::make_unique<view::MetricsScan>(*model_, kMetricBuckets);
    metrics_at_ = now;
  }
}

void Viewer::set_dark(bool dark) {
  dark_ = dark;
  palette_ = palette_for(dark);
  apply_style(dark);
}

void apply_style(bool dark) {
  auto& style = ImGui::GetStyle();
  if (dark) ImGui::StyleColorsDark();
  else ImGui::StyleColorsLight();
  style.WindowRounding = 6;
  style.FrameRounding = 4;
  style.GrabRounding = 4;
  style.ScrollbarRounding = 6;
  style.TabRounding = 4;
  style.WindowPadding = ImVec2(10, 8);
  style.FramePadding = ImVec2(8, 4);
  style.ItemSpacing = ImVec2(8, 6);
  style.WindowBorderSize = 1;
  auto* colors = style.Colors;
  const ImVec4 accent = dark ? ImVec4(0.98f, 0.78f, 0.31f, 1) : ImVec4(0.84f, 0.55f, 0.0f, 1);
  colors[ImGuiCol_WindowBg] = dark ? ImVec4(0.11f, 0.12f, 0.14f, 1) : ImVec4(0.98f, 0.98f, 0.99f, 1);
  colors[ImGuiCol_TitleBgActive] = colors[ImGuiCol_TitleBg] = dark ? ImVec4(0.15f, 0.16f, 0.19f, 1) : ImVec4(0.90f, 0.91f, 0.94f, 1);
  colors[ImGuiCol_SliderGrab] = colors[ImGuiCol_SliderGrabActive] = colors[ImGuiCol_CheckMark] = accent;
  colors[ImGuiCol_Header] = dark ? ImVec4(0.98f, 0.78f, 0.31f, 0.25f) : ImVec4(0.84f, 0.55f, 0.0f, 0.22f);
  colors[ImGuiCol_HeaderHovered] = dark ? ImVec4(0.98f, 0.78f, 0.31f, 0.15f) : ImVec4(0.84f, 0.55f, 0.0f, 0.12f);
  colors[ImGuiCol_ChildBg] = dark ? ImVec4(0.14f, 0.15f, 0.18f, 1) : ImVec4(1, 1, 1, 1);
  if (!dark) {
    // Checkboxes, slider tracks and inputs stand out from the white panels, with an edge.
    colors[ImGuiCol_FrameBg] = ImVec4(0.86f, 0.87f, 0.90f, 1);
    colors[ImGuiCol_FrameBgHovered] = ImVec4(0.80f, 0.82f, 0.87f, 1);
    colors[ImGuiCol_FrameBgActive] = ImVec4(0.74f, 0.77f, 0.84f, 1);
    colors[ImGuiCol_Border] = ImVec4(0.62f, 0.64f, 0.70f, 0.55f);
  }
  style.FrameBorderSize = dark ? 0 : 1;
}

std::string Viewer::window(const char* name) const {
  if (side.empty()) return name;
  return fmt::format("{} \xe2\x80\x94 {}###{} {}", name, side_title, name, side);
}

std::optional<std::uint32_t> Viewer::node_named(const std::string& id) const { return flowframe::node_named(model_->header(), id); }

void Viewer::select_request(std::uint32_t client, std::uint64_t request, std::uint64_t near) {
  if (request == 0) return;
  if (selected_request_ && selected_request_->first == client && selected_request_->second == request) return;
  selected_request_ = std::make_pair(client, request);
  sequence_recent = false;  // a newly followed request's hops show in the sequence chart
  trace_.reset();
  auto* model = model_.get();
  trace_job_ = std::async(std::launch::async, [model, client, request, near] {
    return view::trace_request(*model, client, request, near);
  });
}

void Viewer::clear_request() {
  selected_request_.reset();
  trace_job_ = {};  // waits for a trace being looked for: a few chunks at most
  trace_.reset();
}

const view::Trace* Viewer::trace() {
  if (trace_job_.valid() && trace_job_.wait_for(std::chrono::seconds(0)) == std::future_status::ready)
    trace_ = trace_job_.get();
  return trace_ ? &*trace_ : nullptr;
}

void Viewer::refilter() {
  view::FrameFilter filter;
  filter_error = filter.parse(filter_text, model_->header());
  if (!filter_error.empty()) filter = {};
  filter.status = static_cast<view::FrameFilter::Status>(filter_status);
  if (filter_selected_node && selected_node) filter.node = *selected_node;
  if (filter_selected_request && selected_request_) filter.request = selected_request_;
  filter_.reset();
  if (!filter.empty()) filter_ = std::make_unique<view::FilterScan>(*model_, std::move(filter));
}

bool Viewer::settled() {
  return playback_.settled() && playback_.world() != nullptr && metrics_->done() && (!filter_ || filter_->done()) &&
         (!trace_job_.valid() || trace() != nullptr) && model_->frame(playback_.frame(), false).has_value();
}

void Viewer::keyboard() {
  const std::uint64_t before = playback_.frame();
  TransportAsks asks;
  transport_keys(playback_, asks);
  if (playback_.frame() != before || playback_.playing()) following = false;  // the user took the cursor
  if (asks.close_help) show_help = false;
  if (asks.toggle_help) show_help = !show_help;
  if (asks.toggle_theme) set_dark(!dark_);
}

void Viewer::frame(double wall_seconds, ImVec2 size) {
  follow_live();
  keyboard();
  playback_.tick(wall_seconds);
  // Layout: canvas and transport on the left; inspector and trace on the right; frame list and
  // metrics along the bottom.
  // With a concept page: the page on the left, the rest beside it.
  const float page_width = page_ ? std::max(320.0f, size.x * 0.25f) : 0;
  if (page_) draw_learn(*this, *page_, {6, 6}, {page_width, size.y - 12});
  const float x0 = page_ ? page_width + 6 : 0;
  size.x -= x0;
  const float margin = 6, right_width = std::max(360.0f, size.x * 0.3f);
  // Live steering wraps onto a second row on a narrow canvas.
  const float left_width = size.x - right_width - 3 * margin;
  const float transport_height = live_ ? (left_width < 820 ? 160 : 128) : 92;
  const float bottom_height = std::max(230.0f, size.y * 0.34f), metrics_width = std::max(300.0f, size.x * 0.28f);
  const float canvas_height = size.y - bottom_height - transport_height - 4 * margin;
  canvas_min = {x0 + margin, margin};
  canvas_max = {x0 + margin + left_width, margin + canvas_height};
  if (show_sequence) draw_sequence(*this, {x0 + margin, margin}, {left_width, canvas_height});
  else draw_canvas(*this, {x0 + margin, margin}, {left_width, canvas_height});
  draw_transport(*this, {x0 + margin, 2 * margin + canvas_height}, {left_width, transport_height});
  const float bottom_y = 3 * margin + canvas_height + transport_height;
  draw_frame_list(*this, {x0 + margin, bottom_y}, {size.x - metrics_width - 3 * margin, bottom_height});
  draw_metrics(*this, {x0 + size.x - metrics_width - margin, bottom_y}, {metrics_width, bottom_height});
  const float inspector_height = (bottom_y - 2 * margin) * 0.62f;
  draw_inspector(*this, {x0 + 2 * margin + left_width, margin}, {right_width, inspector_height});
  draw_trace(*this, {x0 + 2 * margin + left_width, 2 * margin + inspector_height},
             {right_width, bottom_y - 3 * margin - inspector_height});
  if (show_help) draw_help(*this);
  if (settled()) ui::note_region("settled", {0, 0}, {0, 0});  // for scripts: every panel has what it needs
}

}  // namespace flowframe::viewer
