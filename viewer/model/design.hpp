#pragma once
// The sandbox's editable scenario, without UI: edits with undo / redo, validation by the same
// loader `flowframe run` uses, text and link round trips.
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "flowframe/v1/scenario.pb.h"

namespace flowframe::view {

class Design {
 public:
  // A scenario as written (replicas not expanded).
  explicit Design(v1::Scenario scenario = starter());
  // The text of a scenario file; throws ScenarioError for text that does not parse.
  static Design from_text(const std::string& text, const std::string& name);
  // A small working design to start from.
  static v1::Scenario starter();

  const v1::Scenario& scenario() const { return scenario_; }
  std::string text() const;  // as a scenario file

  // Edits. Each is one undo step; a failed edit changes nothing and says why ("" = done).
  std::string add_node(v1::Node::Kind kind, double x, double y, std::string* id = nullptr);
  std::string remove_node(const std::string& id);
  // `merge`: part of a drag, folded into the previous move of the same node.
  std::string move_node(const std::string& id, double x, double y, bool merge = false);
  std::string connect(const std::string& from, const std::string& to, double latency_ms = 1);
  std::string disconnect(const std::string& from, const std::string& to);
  // FIELD of the node's parameters (capacity, strategy, service_time.mean_ms) or the node itself
  // (replicas, position.x); "id" renames it everywhere.
  std::string set(const std::string& id, const std::string& field, const std::string& value);
  std::string set_workload(const std::string& field, const std::string& value);
  // Any field of the scenario by its path (stop.requests, workload.rate, name).
  std::string set_scenario(const std::string& path, const std::string& value);
  // The node's whole parameters as text (e.g. "capacity: 2 service_time { mean_ms: 5 }").
  std::string params_text(const std::string& id) const;
  std::string set_params_text(const std::string& id, const std::string& text);
  // What set_params_text would leave wrong with the node, without changing anything: the
  // errors shown as the user types.
  std::vector<std::string> check_params_text(const std::string& id, const std::string& text) const;
  // The workload's request mix, one "METHOD PATH WEIGHT [keys=N] [zipf=S]" line per path.
  std::string mix_text() const;
  std::string set_mix_text(const std::string& text);
  std::string duplicate(const std::string& id, std::string* copy = nullptr);

  bool undo();
  bool redo();
  bool can_undo() const { return !undo_.empty(); }
  bool can_redo() const { return !redo_.empty(); }

  // What the loader says about the design now (empty: it runs), and the problems that belong to a
  // node. Checked once per change, however often the UI asks.
  const std::vector<std::string>& problems() const { return checked().problems; }
  const std::map<std::string, std::vector<std::string>>& problems_by_node() const { return checked().by_node; }
  std::vector<std::string> problems_of(const std::string& id) const;

 private:
  std::string edit(const std::function<std::string(v1::Scenario&)>& change);
  // Undo or redo: the design goes to `to`, the newest of `from` becomes the design.
  bool step(std::vector<v1::Scenario>& from, std::vector<v1::Scenario>& to);
  v1::Node* find(const std::string& id);
  std::string fresh_id(const std::string& base) const;

  struct Checked {
    std::vector<std::string> problems;
    std::map<std::string, std::vector<std::string>> by_node;
  };
  const Checked& checked() const;

  v1::Scenario scenario_;
  std::vector<v1::Scenario> undo_, redo_;
  std::string last_moved_;
  mutable std::optional<Checked> checked_;  // reset by every change
};

}  // namespace flowframe::view
