#pragma once
// Cloud regions and the round-trip times between them. A node names its region; a link between two
// regions that gives no latency takes half the round-trip time (one way), from the scenario's
// region_latencies first, then the built-in table (regions.cpp says where its figures come from).
#include <optional>
#include <string>
#include <vector>

#include "flowframe/v1/scenario.pb.h"

namespace flowframe {

struct Region {
  std::string name;   // "us-east-1"
  std::string place;  // "N. Virginia"
  std::string code;   // "use1", for narrow tables
};

// The regions the built-in table knows, in its order.
const std::vector<Region>& builtin_regions();

// The round-trip time between two regions in ms (0 for a region with itself), or none if neither the
// scenario nor the table has the pair.
std::optional<double> region_rtt_ms(const v1::Scenario& scenario, const std::string& a, const std::string& b);

// Every region the scenario may name: the table's and those its region_latencies add.
std::vector<std::string> known_regions(const v1::Scenario& scenario);

// Gives each link without a latency between nodes of two regions (with a known round-trip time) a
// constant latency of half that time. Links the scenario gives a latency keep it.
void fill_region_latencies(v1::Scenario& scenario);

}  // namespace flowframe
