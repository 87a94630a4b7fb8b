#include "viewer/app/kind_view.hpp"

#include <fmt/format.h>

#include <map>
#include <stdexcept>

#include "viewer/app/viewer.hpp"

namespace flowframe::viewer {
namespace {

std::map<v1::Node::Kind, const KindView*>& registry() {
  static std::map<v1::Node::Kind, const KindView*> views;
  return views;
}

}  // namespace

KindViewRegistration::KindViewRegistration(const KindView& view) {
  if (!registry().emplace(view.kind, &view).second)
    throw std::logic_error("view of kind " + v1::Node::Kind_Name(view.kind) + " registered twice");
}

const KindView& kind_view(v1::Node::Kind kind) {
  static const KindView unknown{.kind = v1::Node::KIND_UNSPECIFIED, .colour = IM_COL32(160, 160, 160, 255), .icon = "\xef\x80\x93"};
  const auto found = registry().find(kind);
  return found == registry().end() ? unknown : *found->second;
}

bool has_kind_view(v1::Node::Kind kind) { return registry().count(kind) != 0; }

std::vector<const KindView*> kind_views() {
  std::vector<const KindView*> all;
  for (const auto& [kind, view] : registry()) all.push_back(view);
  return all;
}

std::string Inspected::node_name(std::uint32_t index) const { return viewer.text().node(index); }

void Inspected::send(v1::ControlRequest request) const {
  request.set_node(info.id());
  viewer.send(request);
}

void Inspected::set(const std::string& field, const std::string& value) const {
  v1::ControlRequest request;
  request.mutable_set()->set_field(field);
  request.mutable_set()->set_value(value);
  send(std::move(request));
}

void row(const char* name, const std::string& value) {
  ImGui::TableNextRow();
  ImGui::TableNextColumn();
  ImGui::TextDisabled("%s", name);
  ImGui::TableNextColumn();
  ui::clipped_text(value);
}

bool begin_grid(const char* id, std::initializer_list<const char*> columns, float height) {
  if (!ImGui::BeginTable(id, static_cast<int>(columns.size()),
                         ImGuiTableFlags_RowBg | ImGuiTableFlags_BordersInnerV | ImGuiTableFlags_ScrollY |
                             ImGuiTableFlags_SizingStretchProp,
                         {0, height}))
    return false;
  ImGui::TableSetupScrollFreeze(0, 1);
  for (const char* column : columns) ImGui::TableSetupColumn(column);
  ImGui::TableHeadersRow();
  return true;
}

void cells(std::initializer_list<std::string> values) {
  ImGui::TableNextRow();
  for (const auto& value : values) {
    ImGui::TableNextColumn();
    ui::clipped_text(value);
  }
}

std::string seconds(Time t) { return fmt::format("{:.2f}s", to_seconds(t)); }

}  // namespace flowframe::viewer
