#include "runtime/scenario/regions.hpp"

#include <algorithm>
#include <array>
#include <map>

namespace flowframe {
namespace {

// Average round-trip times (ms) measured by ping between ten AWS regions, from "Latency Between AWS
// Global Regions" (2017), as tabulated in "AWS Regions", A Computer Scientist Learns AWS, April 2017:
// https://acomputerscientistlearnsaws.blogspot.com/2017/04/aws-regions.html
// The source gives each direction; the two agree within 2 ms, and this table keeps their mean. They
// are averages of pings, not medians, and a few years old: real figures drift as routes change, so a
// scenario may give its own (region_latencies).
constexpr std::size_t kRegions = 10;
const std::array<Region, kRegions> kTable{{
    {"us-east-1", "N. Virginia", "use1"},
    {"us-west-1", "N. California", "usw1"},
    {"us-west-2", "Oregon", "usw2"},
    {"eu-west-1", "Ireland", "euw1"},
    {"eu-central-1", "Frankfurt", "euc1"},
    {"ap-northeast-1", "Tokyo", "apne1"},
    {"ap-northeast-2", "Seoul", "apne2"},
    {"ap-southeast-1", "Singapore", "apse1"},
    {"ap-southeast-2", "Sydney", "apse2"},
    {"sa-east-1", "Sao Paulo", "sae1"},
}};
// The upper triangle: kRtt[i][j] for i < j, in kTable's order (Sao Paulo's own row is not in the
// source; its column is).
constexpr double kRtt[kRegions][kRegions] = {
    {0, 72.2, 87.8, 80.5, 88.6, 145.3, 177.5, 216.7, 229.8, 119.5},
    {0, 0, 19.3, 153.2, 166.6, 102.5, 132.1, 173.9, 157.7, 192.7},
    {0, 0, 0, 137.0, 159.5, 89.1, 118.2, 161.4, 162.1, 182.7},
    {0, 0, 0, 0, 19.6, 212.4, 242.4, 238.6, 309.6, 191.3},
    {0, 0, 0, 0, 0, 236.6, 265.8, 325.9, 323.4, 194.9},
    {0, 0, 0, 0, 0, 0, 31.4, 73.8, 103.9, 256.8},
    {0, 0, 0, 0, 0, 0, 0, 71.6, 134.0, 286.3},
    {0, 0, 0, 0, 0, 0, 0, 0, 175.4, 328.1},
    {0, 0, 0, 0, 0, 0, 0, 0, 0, 322.5},
    {0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
};

std::optional<std::size_t> table_index(const std::string& name) {
  for (std::size_t i = 0; i < kRegions; ++i)
    if (kTable[i].name == name) return i;
  return std::nullopt;
}

// A link end's region: the node's, or (the end names a replicated group) the group's.
std::string region_of(const v1::Scenario& scenario, const std::string& id) {
  for (const auto& node : scenario.nodes()) {
    if (node.id() == id || node.group() == id) return node.region();
    // A member of a group not expanded yet: "server-2" of "server".
    const auto prefix = node.id() + "-";
    if (node.replicas() > 0 && id.rfind(prefix, 0) == 0 && id.size() > prefix.size() &&
        std::all_of(id.begin() + static_cast<long>(prefix.size()), id.end(), [](char c) { return c >= '0' && c <= '9'; }))
      return node.region();
  }
  return "";
}

}  // namespace

const std::vector<Region>& builtin_regions() {
  static const std::vector<Region> regions(kTable.begin(), kTable.end());
  return regions;
}

std::optional<double> region_rtt_ms(const v1::Scenario& scenario, const std::string& a, const std::string& b) {
  for (const auto& given : scenario.region_latencies())
    if ((given.a() == a && given.b() == b) || (given.a() == b && given.b() == a)) return given.rtt_ms();
  if (a == b && !a.empty()) return 0.0;
  const auto i = table_index(a), j = table_index(b);
  if (!i || !j) return std::nullopt;
  return kRtt[std::min(*i, *j)][std::max(*i, *j)];
}

std::vector<std::string> known_regions(const v1::Scenario& scenario) {
  std::vector<std::string> names;
  for (const auto& region : kTable) names.push_back(region.name);
  for (const auto& given : scenario.region_latencies())
    for (const auto& name : {given.a(), given.b()})
      if (!name.empty() && std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
  return names;
}

void fill_region_latencies(v1::Scenario& scenario) {
  for (auto& link : *scenario.mutable_links()) {
    if (link.has_latency()) continue;
    const auto a = region_of(scenario, link.from()), b = region_of(scenario, link.to());
    if (a.empty() || b.empty() || a == b) continue;
    if (const auto rtt = region_rtt_ms(scenario, a, b); rtt && *rtt > 0) link.mutable_latency()->set_mean_ms(*rtt / 2);
  }
}

}  // namespace flowframe
