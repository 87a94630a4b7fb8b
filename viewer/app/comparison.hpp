#pragma once
// Two runs side by side (`flowframe-view A.ffl B.ffl`): both canvases, playback locked by simulated
// time, the same node inspected and the same request followed in both, metrics overlaid, and how
// the runs differ (settings, figures with whether each difference is beyond noise, the first frame
// where they part), as `flowframe diff` finds it.
#include <atomic>
#include <future>
#include <memory>
#include <optional>
#include <string>

#include "runtime/compare/diff.hpp"
#include "viewer/app/transport.hpp"
#include "viewer/model/locked_playback.hpp"

namespace flowframe::viewer {

class Comparison {
 public:
  Comparison(std::unique_ptr<Viewer> a, std::unique_ptr<Viewer> b, const std::string& a_path, const std::string& b_path);
  ~Comparison();

  // One UI frame: input, then every panel.
  void frame(double wall_seconds, ImVec2 size);
  // True once both sides and the comparison have what they show (for screenshots).
  bool settled();

  Viewer& a() { return *a_; }
  Viewer& b() { return *b_; }
  view::LockedPlayback& lock() { return lock_; }
  bool dark() const { return a_->dark(); }
  // Where the two canvases were last drawn: what --record captures.
  ImVec2 canvas_min, canvas_max;

 private:
  void keep_selections_alike();
  void draw_transport(ImVec2 pos, ImVec2 size, TransportAsks& asks);
  void draw_differences(ImVec2 pos, ImVec2 size);
  void draw_inspector(Viewer& side, ImVec2 pos, ImVec2 size);
  const RunDiff* diff();

  std::unique_ptr<Viewer> a_, b_;
  view::LockedPlayback lock_;
  std::atomic<bool> stop_diff_{false};  // outlives the job: declared before it
  std::future<RunDiff> diff_job_;
  std::optional<RunDiff> diff_;
  std::string diff_error_;
  // The node inspected in both, by id (the runs' nodes need not have the same indices); a side
  // without it says so.
  std::optional<std::string> selected_id_;
  // Each side's selection as of the last frame, by ids: the node, and the request followed.
  struct Seen {
    std::optional<std::string> node;
    std::optional<std::pair<std::string, std::uint64_t>> request;
  };
  Seen seen_[2];
};

}  // namespace flowframe::viewer
