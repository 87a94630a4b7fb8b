#pragma once
// How the viewer shows one component kind: colour, icon, the badge under it on the canvas, its
// inspector rows and tables, and its live controls. Each kind's view lives in viewer/kinds/KIND.cpp
// and registers with FLOWFRAME_KIND_VIEW; the canvas, inspector and sandbox palette loop over them.
#include <imgui.h>

#include <functional>
#include <string>
#include <vector>

#include "flowframe/v1/control.pb.h"
#include "flowframe/v1/frame.pb.h"
#include "viewer/model/log_model.hpp"

namespace flowframe::viewer {

class Viewer;

// The selected node as the inspector shows it.
struct Inspected {
  Viewer& viewer;
  const v1::NodeInfo& info;
  const view::NodeView& node;
  const v1::NodeState& state;
  Time now;
  float table_height;  // room left for a table
  std::string node_name(std::uint32_t index) const;
  // Sends a change of one of this node's settings to the running simulation.
  void set(const std::string& field, const std::string& value) const;
  void send(v1::ControlRequest request) const;  // with the node filled in
};

struct KindView {
  v1::Node::Kind kind;
  ImU32 colour;
  const char* icon;  // a Font Awesome glyph
  // The small live figure under the node's name.
  std::function<std::string(const view::NodeView&)> badge = [](const view::NodeView&) { return std::string(); };
  // Rows in the inspector's field table (row(name, value)), then tables below it.
  std::function<void(const Inspected&)> rows = [](const Inspected&) {};
  std::function<void(const Inspected&)> tables = [](const Inspected&) {};
  // Controls that change the node in a live run (every kind also gets the fault controls).
  std::function<void(const Inspected&)> steer = [](const Inspected&) {};
  // Whether it shows as down on the canvas.
  std::function<bool(const view::NodeView&)> down = [](const view::NodeView&) { return false; };
};

struct KindViewRegistration {
  explicit KindViewRegistration(const KindView& view);
};
#define FLOWFRAME_KIND_VIEW(view) const ::flowframe::viewer::KindViewRegistration kFlowframeKindView_##view{view}

// The registered view of a kind; a plain grey one for a kind without (the registry test fails then).
const KindView& kind_view(v1::Node::Kind kind);
bool has_kind_view(v1::Node::Kind kind);
std::vector<const KindView*> kind_views();

// Inspector building blocks the kind views share.
void row(const char* name, const std::string& value);
bool begin_grid(const char* id, std::initializer_list<const char*> columns, float height = 0);
void cells(std::initializer_list<std::string> values);
std::string seconds(Time t);

}  // namespace flowframe::viewer
