#include "viewer/app/sandbox.hpp"

#include "viewer/app/kind_view.hpp"

#include <fmt/format.h>
#include <imgui_stdlib.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <sstream>

#include "runtime/scenario/scenario.hpp"
#include "runtime/learn/share_link.hpp"
#include "runtime/base/text.hpp"

namespace flowframe::viewer {
namespace {

constexpr const char* kKindPayload = "flowframe-kind";  // a component dragged from the palette

std::string kind_label(v1::Node::Kind kind) {
  auto name = lowercase(v1::Node::Kind_Name(kind));
  std::replace(name.begin(), name.end(), '_', ' ');
  return name;
}

void note(Sandbox& sandbox, const std::string& error, const std::string& done) { sandbox.status = error.empty() ? done : error; }

void toolbar(Sandbox& sandbox, SandboxAction& action) {
  auto& design = sandbox.design;
  if (ui::button("\xe2\x86\x90 Scenarios")) action = SandboxAction::back;
  ImGui::SameLine();
  ImGui::BeginDisabled(!design.can_undo());
  if (ui::button("Undo")) design.undo();
  ImGui::EndDisabled();
  ImGui::SameLine();
  ImGui::BeginDisabled(!design.can_redo());
  if (ui::button("Redo")) design.redo();
  ImGui::EndDisabled();
  ImGui::SameLine();
  ImGui::BeginDisabled(sandbox.selected.empty());
  if (ui::button("Duplicate")) {
    std::string copy;
    note(sandbox, design.duplicate(sandbox.selected, &copy), "duplicated as " + copy);
    if (!copy.empty()) sandbox.selected = copy;
  }
  ImGui::SameLine();
  if (ui::button("Delete")) {
    note(sandbox, design.remove_node(sandbox.selected), "deleted " + sandbox.selected);
    sandbox.selected.clear();
  }
  ImGui::EndDisabled();
  ImGui::SameLine();
  ImGui::SetNextItemWidth(220);
  ImGui::InputText("##path", &sandbox.path);
  ui::note("path");
  ImGui::SameLine();
  if (ui::button("Save")) {
    std::ofstream out(sandbox.path);
    out << design.text();
    sandbox.status = out ? "saved " + sandbox.path + " (flowframe run " + sandbox.path + ")" : "cannot write " + sandbox.path;
  }
  ImGui::SameLine();
  if (ui::button("Open")) {
    std::ifstream in(sandbox.path);
    std::stringstream text;
    text << in.rdbuf();
    try {
      if (!in) throw std::runtime_error("cannot read " + sandbox.path);
      sandbox.design = view::Design::from_text(text.str(), sandbox.path);
      sandbox.fit_pending = true;
      sandbox.selected.clear();
      sandbox.status = "opened " + sandbox.path;
    } catch (const std::exception& error) {
      sandbox.status = error.what();
    }
  }
  ImGui::SameLine();
  if (ui::button("Share link")) {
    ImGui::SetClipboardText(encode_link(design.scenario()).c_str());
    sandbox.status = "a flowframe: link is on the clipboard (flowframe-view --open LINK)";
  }
  ImGui::SameLine();
  if (ui::button("Paste link")) {
    const char* clipboard = ImGui::GetClipboardText();
    try {
      sandbox.design = view::Design(decode_link(clipboard ? clipboard : ""));
      sandbox.fit_pending = true;
      sandbox.selected.clear();
      sandbox.status = "opened the design from the link on the clipboard";
    } catch (const std::exception& error) {
      sandbox.status = std::string("clipboard: ") + error.what();
    }
  }
  ImGui::SameLine();
  ImGui::BeginDisabled(!design.problems().empty());
  if (ui::button(fmt::format("{} Run", icon::play).c_str())) action = SandboxAction::run;
  ImGui::EndDisabled();
}

void palette(Sandbox& sandbox, const Palette& colors, ImVec2 canvas_center) {
  ImGui::TextDisabled("add a component");
  for (const auto* view : kind_views()) {
    const auto kind = view->kind;
    ImGui::PushStyleColor(ImGuiCol_Text, ImGui::ColorConvertU32ToFloat4(colors.kind(kind)));
    const bool pressed = ui::button(fmt::format("{}  {}", kind_icon(kind), kind_label(kind)).c_str(), {-1, 0});
    ImGui::PopStyleColor();
    if (ImGui::BeginDragDropSource()) {
      const v1::Node::Kind dragged = kind;
      ImGui::SetDragDropPayload(kKindPayload, &dragged, sizeof dragged);
      ImGui::Text("%s  %s", kind_icon(kind), kind_label(kind).c_str());
      ImGui::EndDragDropSource();
    }
    if (pressed) {
      std::string id;
      const float x = (canvas_center.x - sandbox.offset.x) / sandbox.scale, y = (canvas_center.y - sandbox.offset.y) / sandbox.scale;
      note(sandbox, sandbox.design.add_node(kind, x, y, &id), "added " + id + ": drag it, right-drag from it to link");
      sandbox.selected = id;
    }
  }
  ImGui::Spacing();
  ImGui::TextWrapped("Drag a component onto the canvas (or click it). Drag a node to move it. Right-drag from one node to another to link them. Select a node to edit it.");
}

void canvas(Sandbox& sandbox, const Palette& colors, ImVec2 size) {
  auto& design = sandbox.design;
  const ImVec2 corner = ImGui::GetCursorScreenPos();
  auto* draw = ImGui::GetWindowDrawList();
  draw->AddRectFilled(corner, {corner.x + size.x, corner.y + size.y}, colors.canvas, 6);
  if (sandbox.fit_pending && design.scenario().nodes_size() > 0) {
    // The whole design in view, with room for names; never larger than the default scale.
    ImVec2 low{1e9f, 1e9f}, high{-1e9f, -1e9f};
    for (const auto& node : design.scenario().nodes()) {
      const ImVec2 p{static_cast<float>(node.position().x()), static_cast<float>(node.position().y())};
      low = {std::min(low.x, p.x), std::min(low.y, p.y)};
      high = {std::max(high.x, p.x), std::max(high.y, p.y)};
    }
    const float pad = 90, span_x = std::max(high.x - low.x, 1.0f), span_y = std::max(high.y - low.y, 1.0f);
    sandbox.scale = std::clamp(std::min((size.x - 2 * pad) / span_x, (size.y - 2 * pad) / span_y), 10.0f, 70.0f);
    sandbox.offset = {(size.x - span_x * sandbox.scale) / 2 - low.x * sandbox.scale, (size.y - span_y * sandbox.scale) / 2 - low.y * sandbox.scale};
  }
  sandbox.fit_pending = false;
  ImGui::InvisibleButton("sandbox-canvas", size, ImGuiButtonFlags_MouseButtonLeft | ImGuiButtonFlags_MouseButtonRight);
  auto& io = ImGui::GetIO();
  if (ImGui::BeginDragDropTarget()) {
    if (const auto* payload = ImGui::AcceptDragDropPayload(kKindPayload)) {
      v1::Node::Kind kind;
      std::memcpy(&kind, payload->Data, sizeof kind);
      std::string id;
      note(sandbox,
           design.add_node(kind, (io.MousePos.x - corner.x - sandbox.offset.x) / sandbox.scale,
                           (io.MousePos.y - corner.y - sandbox.offset.y) / sandbox.scale, &id),
           "added " + id + ": drag it, right-drag from it to link");
      sandbox.selected = id;
    }
    ImGui::EndDragDropTarget();
  }
  auto screen = [&](const v1::Node& node) {
    return ImVec2{corner.x + sandbox.offset.x + static_cast<float>(node.position().x()) * sandbox.scale,
                  corner.y + sandbox.offset.y + static_cast<float>(node.position().y()) * sandbox.scale};
  };
  auto node_at = [&](ImVec2 at) -> std::string {
    for (const auto& node : design.scenario().nodes()) {
      const auto c = screen(node);
      if (std::abs(at.x - c.x) < 26 && std::abs(at.y - c.y) < 26) return node.id();
    }
    return "";
  };
  auto problems = design.problems_by_node();
  if (!sandbox.typing_problems.empty()) problems[sandbox.params_for] = sandbox.typing_problems;
  std::map<std::string, const v1::Node*> by_id;
  for (const auto& node : design.scenario().nodes()) by_id[node.id()] = &node;
  for (const auto& link : design.scenario().links())
    if (by_id.count(link.from()) && by_id.count(link.to()))
      draw->AddLine(screen(*by_id[link.from()]), screen(*by_id[link.to()]), colors.link, 2);
  const bool hovered = ImGui::IsItemHovered();
  if (hovered && ImGui::IsMouseClicked(ImGuiMouseButton_Left)) {
    sandbox.selected = sandbox.dragging = node_at(io.MousePos);
  }
  if (hovered && ImGui::IsMouseClicked(ImGuiMouseButton_Right)) sandbox.linking = node_at(io.MousePos);
  if (!sandbox.dragging.empty() && ImGui::IsMouseDown(ImGuiMouseButton_Left)) {
    const auto* node = by_id.count(sandbox.dragging) ? by_id[sandbox.dragging] : nullptr;
    if (node && (io.MouseDelta.x != 0 || io.MouseDelta.y != 0))
      design.move_node(sandbox.dragging, node->position().x() + io.MouseDelta.x / sandbox.scale,
                       node->position().y() + io.MouseDelta.y / sandbox.scale, /*merge=*/true);
  } else {
    sandbox.dragging.clear();
  }
  if (!sandbox.linking.empty()) {
    if (by_id.count(sandbox.linking)) draw->AddLine(screen(*by_id[sandbox.linking]), io.MousePos, colors.selection, 2);
    if (ImGui::IsMouseReleased(ImGuiMouseButton_Right)) {
      const auto to = node_at(io.MousePos);
      if (!to.empty() && to != sandbox.linking)
        note(sandbox, design.connect(sandbox.linking, to), "linked " + sandbox.linking + " and " + to);
      sandbox.linking.clear();
    }
  }
  for (const auto& node : design.scenario().nodes()) {
    const auto c = screen(node);
    const bool wrong = problems.count(node.id()) != 0;
    const bool selected = node.id() == sandbox.selected;
    draw->AddRectFilled({c.x - 24, c.y - 24}, {c.x + 24, c.y + 24}, colors.node_fill, 8);
    draw->AddRect({c.x - 24, c.y - 24}, {c.x + 24, c.y + 24}, wrong ? colors.error : colors.kind(node.kind()), 8, 0,
                  selected ? 3.5f : 2.0f);
    if (selected) draw->AddRect({c.x - 29, c.y - 29}, {c.x + 29, c.y + 29}, colors.selection, 10, 0, 2);
    const char* icon = kind_icon(node.kind());
    const auto icon_size = ImGui::CalcTextSize(icon);
    draw->AddText({c.x - icon_size.x / 2, c.y - icon_size.y / 2}, colors.kind(node.kind()), icon);
    const auto name = node.replicas() ? fmt::format("{} ×{}", node.id(), node.replicas()) : node.id();
    const auto name_size = ImGui::CalcTextSize(name.c_str());
    draw->AddText({c.x - name_size.x / 2, c.y + 28}, colors.text, name.c_str());
    if (wrong && hovered && std::abs(io.MousePos.x - c.x) < 26 && std::abs(io.MousePos.y - c.y) < 26)
      ImGui::SetTooltip("%s", problems.at(node.id()).front().c_str());
  }
}

void properties(Sandbox& sandbox) {
  auto& design = sandbox.design;
  const v1::Node* node = nullptr;
  for (const auto& candidate : design.scenario().nodes())
    if (candidate.id() == sandbox.selected) node = &candidate;
  if (node) {
    ImGui::TextDisabled("%s", kind_label(node->kind()).c_str());
    std::string id = node->id();
    if (ImGui::InputText("id", &id, ImGuiInputTextFlags_EnterReturnsTrue)) {
      note(sandbox, design.set(sandbox.selected, "id", id), "renamed to " + id);
      if (sandbox.status.rfind("renamed", 0) == 0) sandbox.selected = id;
    }
    ui::note("id");
    int replicas = static_cast<int>(node->replicas());
    if (ImGui::InputInt("replicas", &replicas) && replicas >= 0)
      note(sandbox, design.set(sandbox.selected, "replicas", std::to_string(replicas)), "");
    ui::note("replicas");
    if (sandbox.params_for != node->id()) {
      sandbox.params = design.params_text(node->id());
      sandbox.params_for = node->id();
      sandbox.typing_problems.clear();
    }
    ImGui::TextDisabled("parameters (scenario text)");
    if (ImGui::InputTextMultiline("##params", &sandbox.params, {-1, 160}))
      sandbox.typing_problems = design.check_params_text(node->id(), sandbox.params);
    ui::note("parameters");
    ImGui::BeginDisabled(sandbox.params == design.params_text(node->id()));
    if (ui::button("Apply")) {
      note(sandbox, design.set_params_text(node->id(), sandbox.params), "applied");
      sandbox.params_for.clear();
    }
    ImGui::EndDisabled();
    const auto& shown = sandbox.typing_problems.empty() ? design.problems_of(node->id()) : sandbox.typing_problems;
    for (const auto& problem : shown) ImGui::TextColored({0.95f, 0.4f, 0.4f, 1}, "%s", problem.c_str());
    ImGui::Separator();
  } else {
    ImGui::TextDisabled("select a node to edit it");
  }
  ImGui::TextDisabled("workload");
  const auto& workload = design.scenario().workload();
  std::string clients = workload.clients();
  if (ImGui::InputText("clients", &clients, ImGuiInputTextFlags_EnterReturnsTrue)) note(sandbox, design.set_workload("clients", clients), "");
  ui::note("clients");
  // A scripted workload sends what its script says, when it says: no rate to show.
  if (workload.script_size() > 0) {
    ImGui::TextDisabled("scripted: %d requests (change them in the scenario text: Save, edit, Open)", workload.script_size());
    ui::note_state("scripted workload");
    if (ImGui::BeginChild("script", {-1, std::min(120.0f, (workload.script_size() + 0.5f) * ImGui::GetTextLineHeightWithSpacing())}, true)) {
      for (const auto& item : workload.script())
        ui::clipped_text(fmt::format("{:.3f} s  {}{} {}{}{}", item.at_s(), item.client().empty() ? "" : item.client() + ": ",
                                     item.method().empty() ? "GET" : item.method(), item.path().empty() ? "/" : item.path(),
                                     item.has_valet() ? " · valet upload " + item.valet().object() : "", item.poison() ? " · poison" : ""));
    }
    ImGui::EndChild();
    return;
  }
  float rate = static_cast<float>(workload.rate());
  if (ImGui::InputFloat("rate /s", &rate, 1, 10, "%.1f", ImGuiInputTextFlags_EnterReturnsTrue))
    note(sandbox, design.set_workload("rate", fmt::format("{:g}", rate)), "");
  ui::note("rate");
  int arrival = workload.arrival();
  const char* arrivals[] = {"poisson", "steady", "on_off", "ramp", "closed"};
  if (ImGui::Combo("arrival", &arrival, arrivals, 5)) note(sandbox, design.set_workload("arrival", arrivals[arrival]), "");
  ui::note("arrival");
  // The knobs of the chosen arrival process.
  auto number = [&](const char* label, const char* field, double value) {
    float edited = static_cast<float>(value);
    if (ImGui::InputFloat(label, &edited, 1, 10, "%.1f", ImGuiInputTextFlags_EnterReturnsTrue))
      note(sandbox, design.set_workload(field, fmt::format("{:g}", edited)), "");
    ui::note(label);
  };
  if (workload.arrival() == v1::Workload::ON_OFF) {
    number("on for s", "on_s", workload.on_s());
    number("off for s", "off_s", workload.off_s());
  } else if (workload.arrival() == v1::Workload::RAMP) {
    number("ramp to /s", "ramp_to", workload.ramp_to());
    number("over s", "ramp_s", workload.ramp_s());
  } else if (workload.arrival() == v1::Workload::CLOSED) {
    number("users", "users", workload.users());
    number("think ms", "think_time.mean_ms", workload.think_time().mean_ms());
  }
  ImGui::TextDisabled("request mix, one path per line (empty: GET /)");
  ImGui::TextDisabled("GET /users/{id} 3 keys=1000 zipf=1.1");
  if (sandbox.mix_shown != design.mix_text()) sandbox.mix = sandbox.mix_shown = design.mix_text();
  ImGui::InputTextMultiline("##mix", &sandbox.mix, {-1, 70});
  ui::note("mix");
  ImGui::BeginDisabled(sandbox.mix == sandbox.mix_shown);
  if (ui::button("Apply mix")) note(sandbox, design.set_mix_text(sandbox.mix), "request mix applied");
  ImGui::EndDisabled();
  float duration = static_cast<float>(design.scenario().stop().duration_s());
  if (ImGui::InputFloat("stop after s", &duration, 1, 10, "%.1f", ImGuiInputTextFlags_EnterReturnsTrue))
    note(sandbox, design.set_scenario("stop.duration_s", fmt::format("{:g}", duration)), "");
  ui::note("stop after");
}

}  // namespace

SandboxAction draw_sandbox(Sandbox& sandbox, ImVec2 size, const Fonts& fonts, bool dark) {
  const Palette colors = palette_for(dark);
  SandboxAction action = SandboxAction::none;
  begin_panel("Build", {0, 0}, size, ImGuiWindowFlags_NoTitleBar | ImGuiWindowFlags_NoScrollbar);
  ImGui::PushFont(fonts.title);
  ImGui::TextUnformatted("Build");
  ImGui::PopFont();
  ImGui::SameLine();
  toolbar(sandbox, action);
  auto& io = ImGui::GetIO();
  if (!io.WantTextInput) {
    if (io.KeyCtrl && ImGui::IsKeyPressed(ImGui::GetKeyIndex(ImGuiKey_Z))) sandbox.design.undo();
    if (io.KeyCtrl && ImGui::IsKeyPressed(ImGui::GetKeyIndex(ImGuiKey_Y))) sandbox.design.redo();
    if (ImGui::IsKeyPressed(ImGui::GetKeyIndex(ImGuiKey_Delete)) && !sandbox.selected.empty()) {
      sandbox.design.remove_node(sandbox.selected);
      sandbox.selected.clear();
    }
  }
  const float side = 230, props = 360, height = size.y - 110;
  ImGui::BeginChild("palette", {side, height}, true);
  palette(sandbox, colors, {(size.x - side - props) / 2, height / 2});
  ImGui::EndChild();
  ImGui::SameLine();
  ImGui::BeginChild("canvas", {size.x - side - props - 40, height}, false, ImGuiWindowFlags_NoScrollbar);
  canvas(sandbox, colors, ImGui::GetContentRegionAvail());
  ImGui::EndChild();
  ImGui::SameLine();
  ImGui::BeginChild("properties", {props, height}, true);
  properties(sandbox);
  ImGui::EndChild();
  const auto problems = sandbox.design.problems();
  if (!problems.empty()) ImGui::TextColored({0.95f, 0.4f, 0.4f, 1}, "%zu problem%s: %s", problems.size(), problems.size() == 1 ? "" : "s", problems.front().c_str());
  else ImGui::TextDisabled("ready to run");
  ImGui::TextDisabled("%s", sandbox.status.c_str());
  ImGui::End();
  return action;
}

}  // namespace flowframe::viewer
