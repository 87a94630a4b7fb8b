#pragma once
// A sequence chart (as OMNeT++ draws one): a lifeline per node, or per replicated group when groups
// are collapsed, in the order they first take part; each hop an arrow from its sender's lifeline at
// its send time to its receiver's at its delivery; a node's own events (timers, work, control) a
// bar on its lifeline. The layout maps it into a box and finds the arrow under a point, so the UI
// only draws and the tests can click without a window.
#include <optional>
#include <string>
#include <vector>

#include "runtime/framelog/frame_log.hpp"

namespace flowframe::view {

struct SequenceChart {
  struct Lifeline {
    std::string name;                   // the node's id, or its group's name
    std::vector<std::uint32_t> nodes;   // the node, or the group's members that took part
  };
  struct Arrow {
    std::uint64_t frame = 0;
    std::size_t from = 0, to = 0;  // lifelines; equal for a node's own event
    Time sent = 0, time = 0;
    v1::Frame::Kind kind = v1::Frame::REQUEST;
    bool error = false;
    std::string label;  // the path for a request, the status for a response, the outcome otherwise
  };
  std::vector<Lifeline> lifelines;
  std::vector<Arrow> arrows;  // in frame order
  Time start = 0, end = 0;
};

// From frames in log order (a request's hops, or the frames around the cursor). The director's
// frames (scripted and live changes) are their node's own events.
SequenceChart build_sequence(const std::vector<FrameView>& frames, const v1::LogHeader& header, bool collapse_groups);

// Where the chart goes on screen: lifelines spread evenly across, time running down in event order
// (each distinct moment a step, as OMNeT++'s non-linear axis: a 1 ms hop beside a 300 ms wait stays
// readable; the times are in the tooltips and at the ends).
class SequenceLayout {
 public:
  SequenceLayout(const SequenceChart& chart, float left, float top, float width, float height);
  float x(std::size_t lifeline) const;
  float y(Time time) const;
  // An own event's bar beside its lifeline, from `sent` to `time` (a wait begun before the chart
  // starts: a mark a few pixels tall).
  struct Box {
    float x0, y0, x1, y1;
  };
  Box bar(const SequenceChart::Arrow& arrow) const;
  // The arrow (index into chart.arrows) nearest the point within `reach` pixels, or nullopt.
  std::optional<std::size_t> arrow_at(float px, float py, float reach = 6) const;

 private:
  const SequenceChart& chart_;
  float left_, top_, width_, height_;
  std::vector<Time> times_;  // every distinct moment an arrow starts or ends, in order
};

}  // namespace flowframe::view
