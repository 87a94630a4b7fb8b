#include "viewer/model/design.hpp"

#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/text_format.h>

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <optional>
#include <set>
#include <sstream>

#include "runtime/scenario/kind.hpp"
#include "runtime/scenario/scenario.hpp"
#include "runtime/scenario/settings.hpp"
#include "runtime/base/text.hpp"

namespace flowframe::view {
namespace {

// The line a problem names ("file:12:5: ..." -> 12), if it names one.
std::optional<std::size_t> problem_line(const std::string& problem) {
  for (auto colon = problem.find(':'); colon != std::string::npos; colon = problem.find(':', colon + 1)) {
    std::size_t line = 0;
    const char* start = problem.data() + colon + 1;
    const char* end = problem.data() + problem.size();
    const auto [after_line, error] = std::from_chars(start, end, line);
    if (error != std::errc() || after_line == start || after_line == end || *after_line != ':') continue;
    std::size_t column = 0;
    const auto [after_column, column_error] = std::from_chars(after_line + 1, end, column);
    if (column_error == std::errc() && after_column != after_line + 1 && std::string_view(after_column, end - after_column).rfind(": ", 0) == 0)
      return line;
  }
  return std::nullopt;
}

}  // namespace

Design::Design(v1::Scenario scenario) : scenario_(std::move(scenario)) {}

v1::Scenario Design::starter() {
  v1::Scenario scenario;
  google::protobuf::TextFormat::ParseFromString(R"(name: "my_design"
description: "My design"
nodes { id: "client" kind: CLIENT replicas: 2 position { x: 0 y: 0 } }
nodes { id: "lb" kind: LOAD_BALANCER position { x: 4 y: 0.5 } }
nodes { id: "server" kind: SERVER replicas: 2 position { x: 8 y: 0 } server { capacity: 2 service_time { shape: EXPONENTIAL mean_ms: 20 } } }
links { from: "client" to: "lb" latency { mean_ms: 2 } }
links { from: "lb" to: "server" latency { mean_ms: 1 } }
workload { clients: "client" rate: 20 }
stop { duration_s: 10 })",
                                                &scenario);
  return scenario;
}

Design Design::from_text(const std::string& text, const std::string& name) {
  // Errors come from the loader, with line and column; this parser only has to stay quiet.
  struct Quiet : google::protobuf::io::ErrorCollector {
    void AddError(int, google::protobuf::io::ColumnNumber, const std::string&) override {}
  } quiet;
  v1::Scenario scenario;
  google::protobuf::TextFormat::Parser parser;
  parser.RecordErrorsTo(&quiet);
  if (!parser.ParseFromString(text, &scenario)) parse_scenario(text, name);  // throws with line:column
  return Design(std::move(scenario));
}

std::string Design::text() const {
  std::string out;
  google::protobuf::TextFormat::Printer printer;
  printer.PrintToString(scenario_, &out);
  return out;
}

std::string Design::edit(const std::function<std::string(v1::Scenario&)>& change) {
  v1::Scenario next = scenario_;
  if (auto error = change(next); !error.empty()) return error;
  undo_.push_back(std::move(scenario_));
  redo_.clear();
  scenario_ = std::move(next);
  checked_.reset();
  last_moved_.clear();
  return "";
}

v1::Node* Design::find(const std::string& id) {
  for (auto& node : *scenario_.mutable_nodes())
    if (node.id() == id) return &node;
  return nullptr;
}

std::string Design::fresh_id(const std::string& base) const {
  for (int n = 1;; ++n) {
    const auto id = base + (n == 1 ? "" : std::to_string(n));
    const bool taken = std::any_of(scenario_.nodes().begin(), scenario_.nodes().end(), [&](const v1::Node& node) {
      if (node.id() == id) return true;
      for (std::uint32_t r = 1; r <= node.replicas(); ++r)  // a replicated group's members
        if (id == node.id() + "-" + std::to_string(r)) return true;
      return false;
    });
    if (!taken) return id;
  }
}

std::string Design::add_node(v1::Node::Kind kind, double x, double y, std::string* id) {
  if (find_kind(kind) == nullptr) return "pick a kind of component";
  const auto name = fresh_id(lowercase(v1::Node::Kind_Name(kind)));
  return edit([&](v1::Scenario& s) {
    auto& node = *s.add_nodes();
    node.set_id(name);
    node.set_kind(kind);
    node.mutable_position()->set_x(x);
    node.mutable_position()->set_y(y);
    find_kind(kind)->example(node);  // its kind's parameters, the required ones filled in
    if (id) *id = name;
    return std::string();
  });
}

std::string Design::remove_node(const std::string& id) {
  if (!find(id)) return "no node '" + id + "'";
  return edit([&](v1::Scenario& s) {
    auto* nodes = s.mutable_nodes();
    nodes->erase(std::remove_if(nodes->begin(), nodes->end(), [&](const v1::Node& n) { return n.id() == id; }), nodes->end());
    auto* links = s.mutable_links();
    links->erase(std::remove_if(links->begin(), links->end(), [&](const v1::Link& l) { return l.from() == id || l.to() == id; }),
                 links->end());
    return std::string();
  });
}

std::string Design::move_node(const std::string& id, double x, double y, bool merge) {
  auto* node = find(id);
  if (!node) return "no node '" + id + "'";
  if (merge && last_moved_ == id) {  // the rest of a drag: one undo step for the whole drag
    node->mutable_position()->set_x(x);
    node->mutable_position()->set_y(y);
    checked_.reset();
    return "";
  }
  const auto error = edit([&](v1::Scenario& s) {
    for (auto& n : *s.mutable_nodes())
      if (n.id() == id) {
        n.mutable_position()->set_x(x);
        n.mutable_position()->set_y(y);
      }
    return std::string();
  });
  last_moved_ = id;
  return error;
}

std::string Design::connect(const std::string& from, const std::string& to, double latency_ms) {
  if (!find(from) || !find(to)) return "connect two nodes of the design";
  if (from == to) return "a link needs two different nodes";
  for (const auto& link : scenario_.links())
    if ((link.from() == from && link.to() == to) || (link.from() == to && link.to() == from))
      return "'" + from + "' and '" + to + "' are linked already";
  return edit([&](v1::Scenario& s) {
    auto& link = *s.add_links();
    link.set_from(from);
    link.set_to(to);
    link.mutable_latency()->set_mean_ms(latency_ms);
    return std::string();
  });
}

std::string Design::disconnect(const std::string& from, const std::string& to) {
  return edit([&](v1::Scenario& s) {
    auto* links = s.mutable_links();
    const auto before = links->size();
    links->erase(std::remove_if(links->begin(), links->end(), [&](const v1::Link& l) {
                   return (l.from() == from && l.to() == to) || (l.from() == to && l.to() == from);
                 }),
                 links->end());
    return links->size() == before ? "no link between '" + from + "' and '" + to + "'" : std::string();
  });
}

std::string Design::set(const std::string& id, const std::string& field, const std::string& value) {
  if (!find(id)) return "no node '" + id + "'";
  return edit([&](v1::Scenario& s) -> std::string {
    for (auto& node : *s.mutable_nodes()) {
      if (node.id() != id) continue;
      if (field == "id") {  // a rename reaches every reference
        if (value.empty() || std::any_of(s.nodes().begin(), s.nodes().end(), [&](const v1::Node& n) { return n.id() == value; }))
          return "'" + value + "' is taken or empty";
        node.set_id(value);
        for (auto& link : *s.mutable_links()) {
          if (link.from() == id) link.set_from(value);
          if (link.to() == id) link.set_to(value);
        }
        if (s.workload().clients() == id) s.mutable_workload()->set_clients(value);
        if (s.workload().target() == id) s.mutable_workload()->set_target(value);
        return "";
      }
      auto error = apply_setting(node_params(node), field, value);
      if (!error.empty() && apply_setting(node, field, value).empty()) error.clear();
      return error;
    }
    return "no node '" + id + "'";
  });
}

std::string Design::set_workload(const std::string& field, const std::string& value) {
  return edit([&](v1::Scenario& s) { return apply_setting(*s.mutable_workload(), field, value); });
}

std::string Design::set_scenario(const std::string& path, const std::string& value) {
  return edit([&](v1::Scenario& s) { return apply_setting(s, path, value); });
}

std::string Design::params_text(const std::string& id) const {
  for (const auto& node : scenario_.nodes()) {
    if (node.id() != id) continue;
    v1::Node copy = node;
    std::string out;
    google::protobuf::TextFormat::PrintToString(node_params(copy), &out);
    return out;
  }
  return "";
}

std::string Design::set_params_text(const std::string& id, const std::string& text) {
  if (!find(id)) return "no node '" + id + "'";
  return edit([&](v1::Scenario& s) -> std::string {
    for (auto& node : *s.mutable_nodes()) {
      if (node.id() != id) continue;
      std::string problem;
      struct Collect : google::protobuf::io::ErrorCollector {
        std::string* out;
        void AddError(int line, google::protobuf::io::ColumnNumber column, const std::string& message) override {
          if (out->empty()) *out = "line " + std::to_string(line + 1) + ":" + std::to_string(column + 1) + ": " + message;
        }
      } collect;
      collect.out = &problem;
      google::protobuf::TextFormat::Parser parser;
      parser.RecordErrorsTo(&collect);
      auto& params = node_params(node);
      params.Clear();
      if (!parser.ParseFromString(text, &params)) return problem.empty() ? "not valid parameters" : problem;
      return "";
    }
    return "no node '" + id + "'";
  });
}

std::vector<std::string> Design::check_params_text(const std::string& id, const std::string& text) const {
  Design trial(scenario_);
  if (auto error = trial.set_params_text(id, text); !error.empty()) return {error};
  return trial.problems_of(id);
}

std::string Design::mix_text() const {
  std::string out;
  for (const auto& path : scenario_.workload().paths()) {
    out += (path.method().empty() ? "GET" : path.method()) + " " + path.path() + " " + std::to_string(path.weight());
    if (path.keys()) out += " keys=" + std::to_string(path.keys());
    if (path.zipf_s() > 0) out += " zipf=" + fmt::format("{:g}", path.zipf_s());
    out += '\n';
  }
  return out;
}

std::string Design::set_mix_text(const std::string& text) {
  google::protobuf::RepeatedPtrField<v1::PathWeight> paths;
  std::istringstream lines(text);
  std::string line;
  for (int number = 1; std::getline(lines, line); ++number) {
    std::istringstream words(line);
    std::string method, path, weight, option;
    if (!(words >> method)) continue;
    const auto where = "request mix line " + std::to_string(number) + ": ";
    if (!(words >> path >> weight)) return where + "expected METHOD PATH WEIGHT, e.g. GET /users/{id} 3";
    auto& entry = *paths.Add();
    entry.set_method(method == "GET" ? "" : method);
    entry.set_path(path);
    // The same parser as --set: negative or partly numeric values are refused, not wrapped.
    if (auto error = apply_setting(entry, "weight", weight); !error.empty()) return where + error;
    while (words >> option) {
      const auto equals = option.find('=');
      const auto name = option.substr(0, equals);
      if (equals == std::string::npos || (name != "keys" && name != "zipf"))
        return where + "unknown option '" + printable(option) + "' (keys=N or zipf=S)";
      if (auto error = apply_setting(entry, name == "keys" ? "keys" : "zipf_s", option.substr(equals + 1)); !error.empty())
        return where + error;
    }
  }
  return edit([&](v1::Scenario& s) {
    *s.mutable_workload()->mutable_paths() = paths;
    return std::string();
  });
}

std::string Design::duplicate(const std::string& id, std::string* copy) {
  auto* node = find(id);
  if (!node) return "no node '" + id + "'";
  const auto name = fresh_id(id + "-copy");
  v1::Node twin = *node;
  return edit([&](v1::Scenario& s) {
    twin.set_id(name);
    twin.mutable_position()->set_y(twin.position().y() + 1);
    *s.add_nodes() = twin;
    // The same neighbours, so a duplicated server joins its balancer's pool.
    std::vector<v1::Link> added;
    for (const auto& link : s.links()) {
      if (link.from() == id) added.push_back(link), added.back().set_from(name);
      if (link.to() == id) added.push_back(link), added.back().set_to(name);
    }
    for (auto& link : added) *s.add_links() = link;
    if (copy) *copy = name;
    return std::string();
  });
}

bool Design::undo() { return step(undo_, redo_); }
bool Design::redo() { return step(redo_, undo_); }

bool Design::step(std::vector<v1::Scenario>& from, std::vector<v1::Scenario>& to) {
  if (from.empty()) return false;
  to.push_back(std::move(scenario_));
  scenario_ = std::move(from.back());
  from.pop_back();
  checked_.reset();
  last_moved_.clear();
  return true;
}

std::vector<std::string> Design::problems_of(const std::string& id) const {
  const auto found = problems_by_node().find(id);
  return found == problems_by_node().end() ? std::vector<std::string>{} : found->second;
}

const Design::Checked& Design::checked() const {
  if (checked_) return *checked_;
  auto& checked = checked_.emplace();
  const auto text_now = text();
  try {
    parse_scenario(text_now, scenario_.name().empty() ? "design" : scenario_.name());
  } catch (const ScenarioError& error) {
    checked.problems = error.problems();
  }
  // A problem belongs to the node it names, or to the node whose block holds the line it points at.
  std::vector<int> node_of_line{-1};  // 1-based lines of text()
  int nodes_seen = 0, current = -1;
  std::istringstream lines(text_now);
  for (std::string line; std::getline(lines, line);) {
    if (line == "nodes {") current = nodes_seen++;
    else if (!line.empty() && line[0] != ' ' && line != "}") current = -1;
    node_of_line.push_back(current);
  }
  for (const auto& problem : checked.problems) {
    std::set<std::string> owners;
    for (const auto& node : scenario_.nodes())
      if (problem.find("'" + node.id() + "'") != std::string::npos || problem.find("\"" + node.id() + "\"") != std::string::npos)
        owners.insert(node.id());
    if (const auto line = problem_line(problem); line && *line < node_of_line.size() && node_of_line[*line] >= 0)
      owners.insert(scenario_.nodes(node_of_line[*line]).id());
    for (const auto& owner : owners) checked.by_node[owner].push_back(problem);
  }
  return checked;
}

}  // namespace flowframe::view
