// What users run: `flowframe run` (the CLI, process start to exit) on every built-in scenario scaled
// up and on the peer workload W1, with frames off and recorded in both detail modes, beside the
// plain single-threaded heap loop on W1's model measured in the same run.
//
//   flowframe_cli_bench [--requests N] [--dir DIR] [--scenarios a,b,...]
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "bench/plain_loop.hpp"
#include "bench/spawn.hpp"

namespace {

using namespace flowframe;

// How each scenario is scaled: its README variant where it has one, else its own workload with
// the request count raised and the duration lifted.
struct Scaled {
  std::string scenario;
  std::vector<std::string> sets;
};

std::vector<Scaled> scaled_scenarios(std::uint64_t requests) {
  const std::string file = std::string(FLOWFRAME_SOURCE_DIR) + "/bench/workloads/w1.textproto";
  std::vector<Scaled> all = {
      {file, {}},
      {"load_balancing", {"workload.rate=120", "server.queue_limit=100000"}},
      {"cache_aside", {"workload.rate=400"}},
      {"api_gateway", {"workload.rate=300"}},
      {"valet_key", {"workload.rate=100"}},
  };
  const auto named = all.size();  // first, in this order; the other built-ins follow by name
  for (const auto& entry : std::filesystem::directory_iterator(std::string(FLOWFRAME_SOURCE_DIR) + "/scenarios")) {
    if (entry.path().extension() != ".textproto") continue;
    const auto name = entry.path().stem().string();
    bool listed = false;
    for (const auto& s : all) listed = listed || s.scenario == name;
    if (!listed) all.push_back({name, {}});
  }
  std::sort(all.begin() + static_cast<std::ptrdiff_t>(named), all.end(), [](const Scaled& a, const Scaled& b) { return a.scenario < b.scenario; });
  for (auto& s : all) {
    s.sets.push_back(fmt::format("stop.requests={}", requests));
    s.sets.push_back("stop.duration_s=0");
  }
  return all;
}

struct CliRun {
  double wall_s = 0;
  double peak_mib = 0;
  std::uint64_t requests = 0;
  std::uint64_t hops = 0;
  std::uint64_t frames = 0;
  std::uint64_t log_bytes = 0;
};

// One `flowframe run`, timed from the outside: what a user waits for.
CliRun run_cli(const Scaled& s, const std::string& mode, const std::string& dir) {
  const std::string summary = dir + "/flowframe_cli_bench.json";
  const std::string log = dir + "/flowframe_cli_bench.ffl";
  std::vector<std::string> args = {FLOWFRAME_CLI, "run", s.scenario, "--quiet", "--summary-json", summary};
  for (const auto& set : s.sets) args.insert(args.end(), {"--set", set});
  if (mode == "off") args.push_back("--no-frames");
  else args.insert(args.end(), {"--out", log, "--detail", mode});
  const auto spawned = bench::spawn(args);
  if (spawned.exit_code != 0) throw std::runtime_error(fmt::format("`flowframe run {}` ({}) failed", s.scenario, mode));
  CliRun run;
  run.wall_s = spawned.wall_s;
  run.peak_mib = spawned.peak_mib;
  std::ifstream in(summary);
  const auto json = nlohmann::json::parse(in);
  run.requests = json.at("requests").value("sent", std::uint64_t{0});
  run.hops = json.value("hops", std::uint64_t{0});
  run.frames = json.value("frames", std::uint64_t{0});
  if (mode != "off") {
    run.log_bytes = std::filesystem::file_size(log);
    std::filesystem::remove(log);
  }
  std::filesystem::remove(summary);
  return run;
}

}  // namespace

int main(int argc, char** argv) {
  std::uint64_t requests = 1'000'000;
  std::string dir = std::filesystem::temp_directory_path();
  std::vector<std::string> only;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--requests")) requests = std::stoull(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--dir")) dir = argv[i + 1];
    else if (!std::strcmp(argv[i], "--scenarios")) {
      std::stringstream list(argv[i + 1]);
      for (std::string name; std::getline(list, name, ',');) only.push_back(name);
    }
  }
  // The reference: W1's model (one Poisson client, 16 servers) as a plain heap loop.
  bench::Workload w1{"w1", 16, 1000.0, 10.0, 0.9, requests, 1};
  const auto plain = bench::run_plain_loop(w1, 1);
  const double plain_rate = static_cast<double>(requests) / plain.wall_s;
  std::cout << fmt::format("`flowframe run` on {} requests per scenario, {} cores; plain heap loop on W1's model: "
                           "{:.2f} M requests/s\n\n",
                           requests, sysconf(_SC_NPROCESSORS_ONLN), plain_rate / 1e6);
  std::cout << "| scenario | frames off: requests/s | x plain loop | full: requests/s | x frames off | bytes/hop | "
               "light: requests/s | x frames off | bytes/hop | peak MiB (full) |\n|---|---|---|---|---|---|---|---|---|---|\n";
  for (const auto& s : scaled_scenarios(requests)) {
    const auto name = std::filesystem::path(s.scenario).stem().string();
    if (!only.empty() && std::find(only.begin(), only.end(), name) == only.end()) continue;
    const auto off = run_cli(s, "off", dir);
    const auto full = run_cli(s, "full", dir);
    const auto light = run_cli(s, "light", dir);
    auto rate = [](const CliRun& r) { return static_cast<double>(r.requests) / r.wall_s; };
    auto per_hop = [](const CliRun& r) { return r.hops ? static_cast<double>(r.log_bytes) / static_cast<double>(r.hops) : 0.0; };
    std::cout << fmt::format("| {} | {:.2f} M | {:.2f} | {:.2f} M | {:.2f} | {:.1f} | {:.2f} M | {:.2f} | {:.1f} | {:.0f} |\n",
                             name, rate(off) / 1e6, rate(off) / plain_rate, rate(full) / 1e6, rate(full) / rate(off),
                             per_hop(full), rate(light) / 1e6, rate(light) / rate(off), per_hop(light), full.peak_mib)
              << std::flush;
  }
  return 0;
}
