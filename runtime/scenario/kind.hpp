#pragma once
// What the scenario loader, --set, live control and the summary need to know of a component kind.
// Each kind describes itself in its own module (actors/KIND/KIND.cpp) next to its logic and
// registers there (FLOWFRAME_KIND in runtime/engine/kinds.hpp); everything here loops over the
// registry, so no list of kinds is written anywhere else.
#include <nlohmann/json.hpp>

#include <functional>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "flowframe/v1/control.pb.h"
#include "flowframe/v1/frame.pb.h"
#include "flowframe/v1/scenario.pb.h"
#include "runtime/base/text.hpp"
#include "runtime/base/time.hpp"

namespace flowframe {

// The loader's view of one written node while a kind checks it: where things are in the file,
// what other nodes exist, and where to report a problem.
class NodeChecks {
 public:
  struct Step {
    const char* field;
    int index = -1;
  };
  virtual ~NodeChecks() = default;
  virtual const v1::Node& node() const = 0;
  // "file:line:column" of a field path below the node ({"server"}, {"cache_aside"}, {"ttl_s"}).
  virtual std::string at(const std::vector<Step>& path) const = 0;
  std::string at(std::initializer_list<Step> path) const { return at(std::vector<Step>(path)); }
  // A problem with `field` (as users write it: "cache_aside.ttl_s") at `where`.
  virtual void problem(const std::string& where, const std::string& field, const std::string& message) = 0;
  // Checks a distribution's own fields; `field` names it.
  virtual void distribution(const v1::Distribution& d, const std::string& where, const std::string& field) = 0;
  // A duration in ms, when set: from 0 (above 0 with `above_zero`) to at most a day.
  void duration(bool has, double ms, const std::string& where, const std::string& field, bool above_zero = false) {
    if (has && !((above_zero ? ms > 0 : ms >= 0) && ms <= kDayMs))
      problem(where, field,
              std::string(above_zero ? "must be above 0" : "must be from 0") + " to at most a day (86400000 ms), got " +
                  fmt_number(ms));
  }
  // Other nodes: known by id or group, their kind, and whether a link joins two of them.
  virtual bool known(const std::string& id) const = 0;
  virtual v1::Node::Kind kind_of(const std::string& id) const = 0;
  virtual bool linked(const std::string& from, const std::string& to) const = 0;
  virtual const v1::Node* find(const std::string& id) const = 0;
  // Every node of the scenario (none when a node is checked by itself, during a run).
  virtual std::vector<const v1::Node*> nodes() const = 0;
  // "unknown node 'x' (did you mean 'y'?)"
  virtual std::string unknown(const std::string& id) const = 0;
  // The request paths the workload and script send ("GET /users/{id}").
  virtual std::vector<std::string> request_paths() const = 0;
};

struct KindDescription {
  v1::Node::Kind kind;
  // The kind's parameters field in Node (also its name in messages and summaries): "server".
  std::string_view name;
  // Fills unset optional parameters with their documented defaults, so every reader of the
  // scenario (components, the log header, the viewer) sees the values the run used.
  std::function<void(v1::Node&)> defaults = [](v1::Node&) {};
  // A new node of this kind as the sandbox's palette adds it: parameters present, the required
  // ones filled in with sensible values.
  std::function<void(v1::Node&)> example = [](v1::Node&) {};
  // The kind's own checks, beyond what the schema says.
  std::function<void(NodeChecks&)> check = [](NodeChecks&) {};
  // Request paths ("GET /health") a node of this kind sends besides the workload's.
  std::function<std::vector<std::string>(const v1::Node&)> paths = [](const v1::Node&) {
    return std::vector<std::string>();
  };
  // Parameter fields timed events and live control may change ("capacity"; "service_time." for
  // every field below it).
  std::vector<std::string_view> settable = {};
  // Fields below a settable prefix that still never change during a run ("node" of a dependency).
  std::vector<std::string_view> fixed = {};
  // Live control commands beyond set and fault that this kind takes (fail and restore on servers,
  // burst and upload on clients), each with a check of its argument ("" = fine).
  std::vector<std::pair<v1::ControlRequest::CommandCase, std::function<std::string(const v1::ControlRequest&)>>> commands = {};
  // Figures the run summary shows for a node of this kind, from its final state at `end`.
  std::function<void(const v1::NodeState&, Time end, nlohmann::ordered_json& node)> metrics =
      [](const v1::NodeState&, Time, nlohmann::ordered_json&) {};
  // Those figures in words for the summary table's detail column ("hit ratio 81.2%"), one part each;
  // from the summary's JSON, so a saved summary prints the same.
  std::function<void(const nlohmann::ordered_json& node, std::vector<std::string>& parts)> detail =
      [](const nlohmann::ordered_json&, std::vector<std::string>&) {};
};

// Every registered kind, in Node.Kind order.
std::vector<const KindDescription*> kind_descriptions();
// The kind's description; nullptr for KIND_UNSPECIFIED, DIRECTOR and a kind nobody registered.
const KindDescription* find_kind(v1::Node::Kind kind);
// By its name ("load_balancer"); nullptr for none.
const KindDescription* find_kind(std::string_view name);
// Called by FLOWFRAME_KIND at start-up.
void register_kind_description(const KindDescription& description);

// Lower-case kind name for messages and summaries: "load_balancer".
std::string kind_name(v1::Node::Kind kind);
// Every kind users may write, for messages: "CLIENT, LOAD_BALANCER, ... or OBJECT_STORAGE".
std::string kind_list();

}  // namespace flowframe
