#pragma once
// What happened in a run: the table `flowframe run` prints and the --summary-json document.
#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>

#include "runtime/simulation.hpp"

namespace flowframe {

// A server's busy time over its capacity time from the start to `now`, with `load` requests in
// service since its last accounting; nullopt before it had any capacity.
std::optional<double> utilization(const v1::ServerState& server, std::uint32_t load, Time now);

nlohmann::ordered_json summarize(const Topology& topology, const RunResult& result);
void print_summary(const nlohmann::ordered_json& summary, std::ostream& out);

}  // namespace flowframe
