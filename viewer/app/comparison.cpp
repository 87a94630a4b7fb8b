#include "viewer/app/comparison.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>

#include "viewer/app/transport.hpp"

namespace flowframe::viewer {
namespace {

std::optional<std::string> node_id(const Viewer& side, std::optional<std::uint32_t> node) {
  if (!node) return std::nullopt;
  return side.text().node(*node);
}

// A figure's name as --summary-json spells it, said shortly: "latency_p99_ms" is "p99 ms".
std::string figure_label(std::string name) {
  if (name == "throughput_rps") return "throughput/s";
  if (name.rfind("latency_", 0) == 0) name.erase(0, 8);
  if (name.size() > 3 && name.compare(name.size() - 3, 3, "_ms") == 0) name.replace(name.size() - 3, 3, " ms");
  std::replace(name.begin(), name.end(), '_', ' ');
  return name;
}

void name_side(Viewer& side, const char* letter, const std::string& path) {
  side.side = letter;
  side.side_title = fmt::format("{}: {}", letter, std::filesystem::path(path).filename().string());
}

}  // namespace

Comparison::Comparison(std::unique_ptr<Viewer> a, std::unique_ptr<Viewer> b, const std::string& a_path, const std::string& b_path)
    : a_(std::move(a)), b_(std::move(b)), lock_(a_->playback(), b_->playback()) {
  name_side(*a_, "A", a_path);
  name_side(*b_, "B", b_path);
  // The whole of both logs is read once more, off the UI thread: the figures and the first difference.
  diff_job_ = std::async(std::launch::async, [a_path, b_path, stop = &stop_diff_] { return diff_runs({a_path}, {b_path}, 10, stop); });
}

// Closing the window does not wait for the comparison of two big logs to finish.
Comparison::~Comparison() { stop_diff_ = true; }

const RunDiff* Comparison::diff() {
  if (diff_job_.valid() && diff_job_.wait_for(std::chrono::seconds(0)) == std::future_status::ready) {
    try {
      diff_ = diff_job_.get();
    } catch (const std::exception& error) {
      diff_error_ = error.what();
    }
  }
  return diff_ ? &*diff_ : nullptr;
}

bool Comparison::settled() { return lock_.settled() && a_->settled() && b_->settled() && (diff() || !diff_error_.empty()); }

// A node clicked on one side is inspected on both; a request followed on one is followed on both.
// A side whose selection changed since the last frame was changed by the user there.
void Comparison::keep_selections_alike() {
  auto request_of = [](const Viewer& side) -> std::optional<std::pair<std::string, std::uint64_t>> {
    const auto& request = side.selected_request();
    if (!request) return std::nullopt;
    return std::pair{side.text().node(request->first), request->second};
  };
  Viewer* sides[2] = {a_.get(), b_.get()};
  for (int k = 0; k < 2; ++k) {
    Viewer& from = *sides[k];
    Viewer& to = *sides[1 - k];
    if (const auto id = node_id(from, from.selected_node); id != seen_[k].node) {
      selected_id_ = id;
      to.selected_node = id ? to.node_named(*id) : std::nullopt;
      break;  // the other side's change is this one's copy
    }
  }
  for (int k = 0; k < 2; ++k) {
    Viewer& to = *sides[1 - k];
    if (const auto request = request_of(*sides[k]); request && request != seen_[k].request) {
      // A run without that client follows none rather than a request of its own.
      if (const auto client = to.node_named(request->first)) to.select_request(*client, request->second, to.playback().frame());
      else to.clear_request();
      break;
    }
  }
  for (int k = 0; k < 2; ++k) seen_[k] = {node_id(*sides[k], sides[k]->selected_node), request_of(*sides[k])};
}

void Comparison::frame(double wall_seconds, ImVec2 size) {
  TransportAsks asks;  // from the keys and the transport's buttons
  transport_keys(lock_, asks);
  lock_.tick(wall_seconds);
  // Canvases side by side on top; the transport under them; along the bottom each side's
  // inspector, how the runs differ, and the metrics of both.
  const float margin = 6, transport_height = 92;
  const float bottom_height = std::max(250.0f, size.y * 0.38f);
  const float canvas_height = size.y - bottom_height - transport_height - 4 * margin;
  const float canvas_width = (size.x - 3 * margin) / 2;
  canvas_min = {margin, margin};
  canvas_max = {size.x - margin, margin + canvas_height};
  // A click in a side's panels (an arrow of its sequence chart) moves that side; the other follows.
  const std::uint64_t a_before = a_->playback().frame(), b_before = b_->playback().frame();
  for (auto* side : {a_.get(), b_.get()}) {
    ui::Scope scope(side->side + "/");
    const ImVec2 at{side == a_.get() ? margin : 2 * margin + canvas_width, margin};
    if (side->show_sequence) draw_sequence(*side, at, {canvas_width, canvas_height});
    else draw_canvas(*side, at, {canvas_width, canvas_height});
  }
  if (a_->playback().frame() != a_before) lock_.follow(true);
  else if (b_->playback().frame() != b_before) lock_.follow(false);
  draw_transport({margin, 2 * margin + canvas_height}, {size.x - 2 * margin, transport_height}, asks);
  const float bottom_y = 3 * margin + canvas_height + transport_height;
  const float column = (size.x - 5 * margin) / 4;
  draw_inspector(*a_, {margin, bottom_y}, {column, bottom_height});
  draw_inspector(*b_, {2 * margin + column, bottom_y}, {column, bottom_height});
  draw_differences({3 * margin + 2 * column, bottom_y}, {column, bottom_height});
  draw_metrics_overlay(*a_, *b_, lock_.time(), {4 * margin + 3 * column, bottom_y}, {column, bottom_height});
  keep_selections_alike();
  if (asks.toggle_theme) {
    a_->set_dark(!a_->dark());
    b_->set_dark(a_->dark());
  }
  if (asks.close_help) a_->show_help = false;
  if (asks.toggle_help) a_->show_help = !a_->show_help;
  if (a_->show_help) draw_help(*a_);
  if (settled()) ui::note_region("settled", {0, 0}, {0, 0});
}

void Comparison::draw_transport(ImVec2 pos, ImVec2 size, TransportAsks& asks) {
  begin_panel("Playback", pos, size, ImGuiWindowFlags_NoTitleBar | ImGuiWindowFlags_NoScrollbar);
  transport_row(lock_, dark(), asks);
  auto& a = a_->playback();
  auto& b = b_->playback();
  // The slider's label has room for 63 bytes: the time there, the frames under it.
  transport_timeline(lock_, lock_.first_time(), lock_.last_time(), fmt::format("{} of {}", format_time(lock_.time()), format_time(lock_.last_time())));
  ImGui::TextDisabled("A at frame %llu of %llu, B at frame %llu of %llu; %s runs longer and leads, steps go through both in time order",
                      static_cast<unsigned long long>(a.frame()), static_cast<unsigned long long>(a_->model().frame_count()),
                      static_cast<unsigned long long>(b.frame()), static_cast<unsigned long long>(b_->model().frame_count()),
                      lock_.a_leads() ? "A" : "B");
  ui::note_state(fmt::format("at A frame {}, B frame {}", a.frame(), b.frame()));
  ImGui::End();
}

void Comparison::draw_inspector(Viewer& side, ImVec2 pos, ImVec2 size) {
  ui::Scope scope(side.side + "/");
  if (!selected_id_ || side.selected_node) return viewer::draw_inspector(side, pos, size);
  begin_panel(side.window("Inspector").c_str(), pos, size);
  ImGui::TextWrapped("This run has no node '%s'.", selected_id_->c_str());
  ui::note_state("no node " + *selected_id_);
  ImGui::End();
}

void Comparison::draw_differences(ImVec2 pos, ImVec2 size) {
  begin_panel("A and B", pos, size);
  const auto* d = diff();
  if (!d) {
    if (diff_error_.empty()) ImGui::TextDisabled("comparing the two logs…");
    else ImGui::TextWrapped("cannot compare: %s", diff_error_.c_str());
    ImGui::End();
    return;
  }
  const auto& palette = a_->palette();
  const ImVec4 warning = ImGui::ColorConvertU32ToFloat4(palette.warning);
  if (d->divergence) {
    const auto frame = d->divergence->frame;
    if (ui::button(fmt::format("First difference: frame {}", frame).c_str())) lock_.seek_frames(frame, d->divergence->b_frame);
    if (ImGui::IsItemHovered())
      ImGui::SetTooltip("A: %s\nB: %s", d->divergence->a.empty() ? "(the log ended)" : d->divergence->a.c_str(),
                        d->divergence->b.empty() ? "(the log ended)" : d->divergence->b.c_str());
  } else {
    ImGui::TextUnformatted("The runs hold the same frames.");
    ui::note_state("same frames");
  }
  if (d->a_seed != d->b_seed) ImGui::TextWrapped("Seeds differ: %llu and %llu.", static_cast<unsigned long long>(d->a_seed),
                                                 static_cast<unsigned long long>(d->b_seed));
  if (d->settings.empty()) {
    ImGui::TextDisabled("Same settings.");
  } else {
    ImGui::TextDisabled("B's settings against A's:");
    ImGui::PushFont(a_->fonts().mono);
    for (const auto& line : d->settings) ImGui::TextWrapped("%s", line.c_str());
    ImGui::PopFont();
  }
  for (const auto& problem : d->problems) ImGui::TextColored(warning, "%s", problem.c_str());
  ImGui::Spacing();
  constexpr auto flags = ImGuiTableFlags_RowBg | ImGuiTableFlags_SizingStretchProp | ImGuiTableFlags_BordersInnerH;
  if (ImGui::BeginTable("figures", 4, flags)) {
    ImGui::TableSetupColumn("figure", ImGuiTableColumnFlags_WidthStretch, 1.2f);
    ImGui::TableSetupColumn("A", ImGuiTableColumnFlags_WidthStretch, 1.0f);
    ImGui::TableSetupColumn("B", ImGuiTableColumnFlags_WidthStretch, 1.0f);
    ImGui::TableSetupColumn("change", ImGuiTableColumnFlags_WidthStretch, 1.1f);
    ImGui::TableHeadersRow();
    for (const auto& f : d->figures) {
      ImGui::TableNextRow();
      ImGui::TableNextColumn();
      ui::clipped_text(figure_label(f.name));
      ImGui::TableNextColumn();
      ui::clipped_text(figure_text(f.a));
      ImGui::TableNextColumn();
      ui::clipped_text(figure_text(f.b));
      ImGui::TableNextColumn();
      // Beyond noise: in the warning colour; unknown: dimmed with a question mark.
      const std::string change = f.a == f.b ? "same" : change_text(f).empty() ? "new" : change_text(f);
      if (f.beyond_noise == true) ui::clipped_text(change, &warning);
      else ImGui::TextDisabled("%s%s", change.c_str(), f.beyond_noise ? "" : " ?");
      ui::note_state(fmt::format("{}: {} -> {} {}", f.name, figure_text(f.a), figure_text(f.b), noise_text(f)));
      if (ImGui::IsItemHovered() && !f.test.empty() && f.test != "equal")
        ImGui::SetTooltip("beyond noise: %s\n%s", noise_text(f).c_str(), f.test.c_str());
    }
    ImGui::EndTable();
  }
  ImGui::TextColored(warning, "beyond noise");
  ImGui::SameLine();
  ImGui::TextDisabled("· plain: within · ? unknown");
  ImGui::End();
}

}  // namespace flowframe::viewer
