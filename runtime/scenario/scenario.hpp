#pragma once
// Loading, validating and expanding scenario files (protobuf text format).
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "flowframe/v1/control.pb.h"
#include "flowframe/v1/scenario.pb.h"

namespace flowframe {

// Bad input: every problem found, one per line, each naming file:line:column (or the --set
// argument) and the field. The CLI exits with code 2 on it.
class ScenarioError : public std::runtime_error {
 public:
  explicit ScenarioError(const std::vector<std::string>& problems);
  const std::vector<std::string>& problems() const { return problems_; }

 private:
  std::vector<std::string> problems_;
};

struct BuiltinScenario {
  std::string name;
  std::string text;
  std::string page;  // scenarios/NAME.page: the concept explained, for the viewer's Learn panel ("" if none)
};
const std::vector<BuiltinScenario>& builtin_scenarios();

// `source` is a built-in name or a file path; `overrides` are KEY=VALUE strings as given to --set.
// Returns the scenario with replicas expanded (members carry `group`) and overrides applied.
v1::Scenario load_scenario(const std::string& source, const std::vector<std::string>& overrides = {});

// The text of a built-in or a file, unparsed, and the name messages use for it; ScenarioError
// (with a guess) for neither.
struct ScenarioSource {
  std::string text;
  std::string name;
};
ScenarioSource read_scenario(const std::string& source);

// Same as load_scenario, from text already in memory; `source_name` is used in messages.
v1::Scenario parse_scenario(const std::string& text, const std::string& source_name,
                            const std::vector<std::string>& overrides = {});

// Fields a timed event or live control may change, per node kind.
bool runtime_settable(v1::Node::Kind kind, const std::string& field);

// Whether a live control (or a page's try line) can change `node`: "" or the reason it cannot.
// Pause, resume, step and speed name no node and are not checked here.
std::string check_control(const v1::ControlRequest& request, const v1::Node& node);

// A fault's own values checked ("" or what is wrong); whether its link exists is the topology's.
std::string check_fault(const v1::Fault& fault);

// A valet-key misuse by name, any case ("tampered"); the error names the choices ("" = found).
std::pair<v1::ValetUpload::Misuse, std::string> valet_misuse(const std::string& name);

// The params message of a node for its kind (created if absent).
google::protobuf::Message& node_params(v1::Node& node);

// A request path's name as frames and settings show it: "GET /users/{id}" (no method: GET).
inline std::string request_path_name(const std::string& method, const std::string& path) {
  return (method.empty() ? std::string("GET") : method) + " " + path;
}

// A file name stem made from a scenario's name for its frame logs ("load_balancing"): only
// letters, digits, '-', '_' and '.', never a folder or a hidden file, whatever the name says.
std::string log_file_stem(const std::string& scenario_name);

// The client nodes or groups a workload names: "users-eu, users-us" is two.
std::vector<std::string> workload_clients(const v1::Workload& workload);

}  // namespace flowframe
