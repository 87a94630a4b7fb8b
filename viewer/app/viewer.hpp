#pragma once
// The viewer's state shared by its panels: the model, the playback cursor and what the user
// picked (node, request, filter, theme). Panels (panel_*.cpp) only read the model and draw.
#include <future>
#include <memory>
#include <optional>
#include <string>

#include <imgui.h>

#include "runtime/framelog/frame_text.hpp"
#include "runtime/live/live.hpp"
#include "runtime/learn/page.hpp"
#include "viewer/model/playback.hpp"
#include "viewer/model/queries.hpp"
#include "viewer/app/ui.hpp"

namespace flowframe::viewer {

struct Fonts {
  ImFont* text = nullptr;
  ImFont* mono = nullptr;
  ImFont* title = nullptr;
};

struct CanvasLayout;  // the canvas's node places, pan and zoom (panel_canvas.cpp)

struct Palette {
  ImU32 canvas, grid, link, link_hot, node_fill, selection, text, text_dim;
  ImU32 ok, request, error, warning;
  ImU32 region;  // the area behind a cloud region's nodes
  bool dark = true;
  // A kind's colour, darkened on the light theme's white so pale kinds stay readable.
  ImU32 kind(v1::Node::Kind kind) const;
};

class Viewer {
 public:
  // `live`: the connection the log arrives on, for a running simulation (nullptr: a file).
  Viewer(std::unique_ptr<view::LogModel> model, Fonts fonts, bool dark, std::unique_ptr<LiveClient> live = nullptr);
  // What a viewer of a restarted run takes over from the one before: the way back, the
  // selection, and controls to send to the new run once it is connected.
  struct Carried {
    bool from_gallery = false, collapse_groups = false;
    std::optional<std::uint32_t> selected_node;
    std::vector<v1::ControlRequest> controls;
  };
  Carried carry();
  void continue_from(Carried carried);

  // One UI frame: input, then every panel.
  void frame(double wall_seconds, ImVec2 size);
  // True once every panel has what it needs (for screenshots).
  bool settled();

  view::LogModel& model() { return *model_; }
  view::Playback& playback() { return playback_; }
  const FrameText& text() const { return text_; }
  const Palette& palette() const { return palette_; }
  const Fonts& fonts() const { return fonts_; }

  // Selection.
  std::optional<std::uint32_t> selected_node;
  void select_request(std::uint32_t client, std::uint64_t request, std::uint64_t near);
  void clear_request();
  const view::Trace* trace();  // the selected request's hops, once found
  const std::optional<std::pair<std::uint32_t, std::uint64_t>>& selected_request() const { return selected_request_; }
  bool collapse_groups = false;
  // The sequence chart in the canvas's place.
  bool show_sequence = false;
  // With a request followed: the chart shows the frames up to the cursor instead of its hops.
  bool sequence_recent = false;
  // How many frames up to the cursor it shows then, or with no request followed.
  std::uint64_t sequence_frames = 24;
  // Where the canvas (or the sequence chart in its place) was last drawn: what --record captures.
  ImVec2 canvas_min, canvas_max;
  std::shared_ptr<CanvasLayout> canvas_layout;  // made by the canvas when it first draws

  // In a comparison: "A" or "B", and what the panels' titles say of the run ("A: rr.ffl").
  std::string side, side_title;
  // A panel's window: its name, or in a comparison the name with the run's title (one window per side).
  std::string window(const char* name) const;

  void set_dark(bool dark);
  bool dark() const { return dark_; }
  bool show_help = false;
  // Opened from the scenario gallery: offer the way back.
  bool from_gallery = false;
  bool wants_home = false;

  // The frame list's filter and its background scan.
  char filter_text[128] = "";
  int filter_status = 0;  // 0 any, 1 ok, 2 errors
  bool filter_selected_node = false;
  bool filter_selected_request = false;
  std::string filter_error;  // what is wrong with the typed query
  void refilter();
  view::FilterScan* filter_scan() { return filter_.get(); }
  view::MetricsScan& metrics() { return *metrics_; }

  // Live: follow the newest frame, steer the run.
  bool live() const { return live_ != nullptr; }
  bool run_ended() const { return live_ && live_->closed(); }
  bool following = true;
  void send(v1::ControlRequest request);
  const std::string& live_status() const { return live_status_; }
  void set_live_status(std::string status) { live_status_ = std::move(status); }
  // A run this viewer started (gallery, --scenario, sandbox) can be started again, after it ended
  // too; controls in `after_restart` go to the new run once it is connected.
  bool can_restart = false;
  bool wants_restart = false;
  std::vector<v1::ControlRequest> after_restart;

  // Node index for an id ("" or unknown: nullopt).
  std::optional<std::uint32_t> node_named(const std::string& id) const;

 private:
  void keyboard();
  void follow_live();
  std::vector<v1::ControlRequest> queued_;  // for a restarted run, sent once it is connected

  std::unique_ptr<view::LogModel> model_;
  view::Playback playback_;
  FrameText text_;
  Fonts fonts_;
  Palette palette_;
  bool dark_ = true;
  std::unique_ptr<view::FilterScan> filter_;
  std::unique_ptr<view::MetricsScan> metrics_;
  std::optional<std::pair<std::uint32_t, std::uint64_t>> selected_request_;
  std::future<view::Trace> trace_job_;
  std::optional<view::Trace> trace_;
  std::unique_ptr<LiveClient> live_;
  std::optional<Page> page_;  // the concept page of the scenario, if it has one
  std::uint64_t next_request_id_ = 1;
  std::string live_status_;
  std::chrono::steady_clock::time_point metrics_at_;
  bool metrics_final_ = false;
};

// Panels, each in its own file, drawn into the rectangle given.
void draw_canvas(Viewer& viewer, ImVec2 pos, ImVec2 size);
void draw_sequence(Viewer& viewer, ImVec2 pos, ImVec2 size);
void draw_transport(Viewer& viewer, ImVec2 pos, ImVec2 size);
void draw_frame_list(Viewer& viewer, ImVec2 pos, ImVec2 size);
void draw_inspector(Viewer& viewer, ImVec2 pos, ImVec2 size);
void draw_trace(Viewer& viewer, ImVec2 pos, ImVec2 size);
void draw_metrics(Viewer& viewer, ImVec2 pos, ImVec2 size);
// Two runs' metrics in the same plots over one time axis, the cursor at `cursor`.
void draw_metrics_overlay(Viewer& a, Viewer& b, Time cursor, ImVec2 pos, ImVec2 size);
void draw_help(Viewer& viewer);
void draw_learn(Viewer& viewer, const Page& page, ImVec2 pos, ImVec2 size);

// Shared drawing helpers.
void apply_style(bool dark);
Palette palette_for(bool dark);
void begin_panel(const char* name, ImVec2 pos, ImVec2 size, ImGuiWindowFlags extra = 0);
std::string format_time(Time t);
const char* kind_icon(v1::Node::Kind kind);

// Font Awesome 4.7 glyphs (merged into the text font).
namespace icon {
inline constexpr const char* play = "\xef\x81\x8b";
inline constexpr const char* pause = "\xef\x81\x8c";
inline constexpr const char* step_back = "\xef\x81\x88";
inline constexpr const char* step_forward = "\xef\x81\x91";
inline constexpr const char* to_start = "\xef\x81\x89";
inline constexpr const char* to_end = "\xef\x81\x90";
inline constexpr const char* sun = "\xef\x86\x85";
inline constexpr const char* moon = "\xef\x86\x86";
inline constexpr const char* question = "\xef\x84\xa8";
inline constexpr const char* search = "\xef\x80\x82";
inline constexpr const char* warning = "\xef\x81\xb1";
inline constexpr const char* expand = "\xef\x81\xa5";
inline constexpr const char* restart = "\xef\x80\xa1";
}  // namespace icon

}  // namespace flowframe::viewer
