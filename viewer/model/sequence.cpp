#include "viewer/model/sequence.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>

#include "runtime/framelog/frame_text.hpp"

namespace flowframe::view {

SequenceChart build_sequence(const std::vector<FrameView>& frames, const v1::LogHeader& header, bool collapse_groups) {
  SequenceChart chart;
  std::map<std::string, std::size_t> lifeline_of;  // by name
  auto lifeline = [&](std::uint32_t node) {
    const bool known = node < static_cast<std::uint32_t>(header.nodes_size());
    const auto& info = known ? header.nodes(static_cast<int>(node)) : v1::NodeInfo::default_instance();
    const std::string name = !known ? "node " + std::to_string(node)
                             : collapse_groups && !info.group().empty() ? info.group()
                                                                         : info.id();
    auto [at, added] = lifeline_of.emplace(name, chart.lifelines.size());
    if (added) chart.lifelines.push_back({name, {}});
    auto& members = chart.lifelines[at->second].nodes;
    if (std::find(members.begin(), members.end(), node) == members.end()) members.push_back(node);
    return at->second;
  };
  const FrameText text(header);
  for (const auto& view : frames) {
    const auto& f = view.frame;
    const bool own = f.src() == f.dst() || f.src() == kDirector;
    SequenceChart::Arrow arrow;
    arrow.frame = view.index;
    arrow.from = lifeline(own ? f.dst() : f.src());
    arrow.to = lifeline(f.dst());
    arrow.sent = own && f.kind() == v1::Frame::CONTROL ? view.time : view.sent;
    arrow.time = view.time;
    arrow.kind = f.kind();
    arrow.error = is_error(f);
    if (f.kind() == v1::Frame::REQUEST) {
      arrow.label = text.path(f);
    } else if (f.kind() == v1::Frame::RESPONSE) {
      arrow.label = std::to_string(f.status());
    } else {
      arrow.label = f.outcome() == v1::Frame::NONE ? v1::Frame::Kind_Name(f.kind()) : v1::Frame::Outcome_Name(f.outcome());
      std::transform(arrow.label.begin(), arrow.label.end(), arrow.label.begin(), [](unsigned char c) {
        return c == '_' ? ' ' : static_cast<char>(std::tolower(c));
      });
    }
    // A node's own event (a timer) may have been set long before: its bar is cut at the top
    // rather than stretching the chart over the wait.
    const Time from = own ? arrow.time : arrow.sent;
    chart.start = chart.arrows.empty() ? from : std::min(chart.start, from);
    chart.end = std::max(chart.end, arrow.time);
    chart.arrows.push_back(std::move(arrow));
  }
  return chart;
}

SequenceLayout::SequenceLayout(const SequenceChart& chart, float left, float top, float width, float height)
    : chart_(chart), left_(left), top_(top), width_(width), height_(height) {
  for (const auto& arrow : chart.arrows) {
    times_.push_back(arrow.time);
    if (arrow.from != arrow.to) times_.push_back(arrow.sent);
  }
  std::sort(times_.begin(), times_.end());
  times_.erase(std::unique(times_.begin(), times_.end()), times_.end());
}

float SequenceLayout::x(std::size_t lifeline) const {
  const auto count = std::max<std::size_t>(chart_.lifelines.size(), 1);
  return left_ + width_ * (static_cast<float>(lifeline) + 0.5f) / static_cast<float>(count);
}

float SequenceLayout::y(Time time) const {
  if (times_.size() < 2) return top_;
  if (time <= times_.front()) return top_;
  if (time >= times_.back()) return top_ + height_;
  // Between the k-th and (k+1)-th distinct time, in proportion.
  const auto next = std::upper_bound(times_.begin(), times_.end(), time);
  const auto k = static_cast<double>(next - times_.begin() - 1);
  const double within = static_cast<double>(time - next[-1]) / static_cast<double>(next[0] - next[-1]);
  return top_ + height_ * static_cast<float>((k + within) / static_cast<double>(times_.size() - 1));
}

SequenceLayout::Box SequenceLayout::bar(const SequenceChart::Arrow& arrow) const {
  const float cx = x(arrow.to), y1 = y(arrow.time);
  // A wait that began before the chart does (a client's next tick) is only a mark.
  const float y0 = arrow.sent < chart_.start ? y1 - 6 : std::min(y(arrow.sent), y1 - 6);
  return {cx + 3, y0, cx + 11, y1};
}

std::optional<std::size_t> SequenceLayout::arrow_at(float px, float py, float reach) const {
  std::optional<std::size_t> best;
  float best_distance = reach;
  for (std::size_t i = 0; i < chart_.arrows.size(); ++i) {
    const auto& arrow = chart_.arrows[i];
    float distance = 0;
    if (arrow.from == arrow.to) {
      const auto box = bar(arrow);
      const float dx = std::max({box.x0 - px, 0.0f, px - box.x1}), dy = std::max({box.y0 - py, 0.0f, py - box.y1});
      distance = std::hypot(dx, dy);
    } else {
      // Distance to the segment from (x0, y0) to (x1, y1).
      const float x0 = x(arrow.from), y0 = y(arrow.sent), x1 = x(arrow.to), y1 = y(arrow.time);
      const float vx = x1 - x0, vy = y1 - y0, length = vx * vx + vy * vy;
      const float t = length > 0 ? std::clamp(((px - x0) * vx + (py - y0) * vy) / length, 0.0f, 1.0f) : 0;
      distance = std::hypot(px - (x0 + t * vx), py - (y0 + t * vy));
    }
    if (distance <= best_distance) {  // later arrows are drawn on top: they win ties
      best_distance = distance;
      best = i;
    }
  }
  return best;
}

}  // namespace flowframe::view
