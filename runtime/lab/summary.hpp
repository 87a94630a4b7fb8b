#pragma once
// What happened in a run: the table `flowframe run` prints and the --summary-json document.
#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>

#include "runtime/engine/simulation.hpp"
#include "runtime/framelog/frame_text.hpp"

namespace flowframe {

nlohmann::ordered_json summarize(const Topology& topology, const RunResult& result);
void print_summary(const nlohmann::ordered_json& summary, std::ostream& out);

}  // namespace flowframe
