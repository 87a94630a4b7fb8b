// Where `flowframe run --workers` pays: one run spread over worker processes on this machine,
// against the same run in one process. A window costs a round trip to every worker; it pays when a
// window holds enough work to outweigh it. The work per window is varied through the links'
// latency (the lookahead, the width of a window) on the 100,000-server cells scenario, and the
// bare round trip is measured on a run whose windows hold one event or two.
//
//   flowframe_workers_bench [--requests N] [--workers N] [--dir DIR]
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "bench/spawn.hpp"

namespace {

const std::string kCells = std::string(FLOWFRAME_SOURCE_DIR) + "/bench/workloads/cells_100k.textproto";

struct Worker {
  pid_t pid;
  std::string address;
};

Worker start_worker() {
  int out[2];
  if (pipe(out) != 0) throw std::runtime_error("pipe");
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(out[1], STDOUT_FILENO);
    close(out[0]);
    execl(FLOWFRAME_CLI, FLOWFRAME_CLI, "worker", "--listen", "127.0.0.1:0", "--jobs", "1", nullptr);
    _exit(127);
  }
  close(out[1]);
  std::string line;
  for (char c; line.find('\n') == std::string::npos && read(out[0], &c, 1) == 1;) line += c;
  close(out[0]);
  const auto at = line.find("127.0.0.1:");
  if (at == std::string::npos) throw std::runtime_error("a worker did not start: " + line);
  return {pid, line.substr(at, line.find(' ', at) - at)};
}

struct Result {
  double wall_s = 0;  // the run as the summary times it (hosted shards build their topology in it)
  std::uint64_t windows = 0;
  std::uint64_t hops = 0;
};

Result run(const std::string& scenario, const std::vector<std::string>& sets, const std::vector<Worker>& workers,
           std::size_t use, const std::string& dir) {
  const std::string summary = dir + "/flowframe_workers_bench.json";
  std::vector<std::string> args = {FLOWFRAME_CLI, "run", scenario, "--quiet", "--no-frames", "--summary-json", summary};
  for (const auto& set : sets) args.insert(args.end(), {"--set", set});
  if (use > 0) {
    std::string list;
    for (std::size_t i = 0; i < use; ++i) list += (i ? "," : "") + workers[i].address;
    args.insert(args.end(), {"--workers", list});
  }
  if (flowframe::bench::spawn(args).exit_code != 0) throw std::runtime_error("`flowframe run " + scenario + "` failed");
  std::ifstream in(summary);
  const auto json = nlohmann::json::parse(in);
  std::filesystem::remove(summary);
  return {json.at("wall_s").get<double>(), json.at("windows").get<std::uint64_t>(), json.at("hops").get<std::uint64_t>()};
}

// The cells scenario with every link `latency_ms` long.
std::string cells_with_latency(double latency_ms, const std::string& dir) {
  std::ifstream in(kCells);
  std::stringstream text;
  text << in.rdbuf();
  std::string scenario = text.str();
  const std::string from = "mean_ms: 1 }";
  const std::string to = fmt::format("mean_ms: {} }}", latency_ms);
  for (auto at = scenario.find(from); at != std::string::npos; at = scenario.find(from, at + to.size()))
    scenario.replace(at, from.size(), to);
  const auto path = fmt::format("{}/flowframe_cells_{}ms.textproto", dir, latency_ms);
  std::ofstream(path) << scenario;
  return path;
}

}  // namespace

int main(int argc, char** argv) {
  std::uint64_t requests = 1'000'000;
  std::size_t worker_count = 2;
  std::string dir = std::filesystem::temp_directory_path();
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--requests")) requests = std::stoull(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--workers")) worker_count = std::stoul(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--dir")) dir = argv[i + 1];
  }
  std::vector<Worker> workers;
  int code = 0;
  try {
    for (std::size_t i = 0; i < worker_count; ++i) workers.push_back(start_worker());
    // The bare round trip: windows of one event or two, so a window is all messaging.
    const auto bare = run("load_balancing", {"stop.requests=3000"}, workers, 1, dir);
    std::cout << fmt::format("Round trip of a window to one worker (load_balancing, {} windows of ~1 event): {:.0f} us\n\n",
                             bare.windows, bare.wall_s / static_cast<double>(bare.windows) * 1e6);
    std::cout << fmt::format("cells_100k (100,200 nodes), {} requests, frames off, {} cores; time includes each worker "
                             "building the topology (~2 s)\n\n",
                             requests, sysconf(_SC_NPROCESSORS_ONLN));
    std::cout << "| link latency | processes | windows | hops per window | wall s | us per window | x one process |\n"
                 "|---|---|---|---|---|---|---|\n";
    for (double latency : {1.0, 5.0, 20.0}) {
      const auto scenario = cells_with_latency(latency, dir);
      const std::vector<std::string> sets = {fmt::format("stop.requests={}", requests)};
      double alone = 0;
      for (std::size_t use = 0; use <= workers.size(); ++use) {
        const auto r = run(scenario, sets, workers, use, dir);
        if (use == 0) {
          // One shard runs ahead without windows: nothing to wait for.
          alone = r.wall_s;
          std::cout << fmt::format("| {} ms | 1 | none | - | {:.2f} | - | 1.00 |\n", latency, r.wall_s) << std::flush;
          continue;
        }
        std::cout << fmt::format("| {} ms | {} | {} | {:.0f} | {:.2f} | {:.0f} | {:.2f} |\n", latency, use + 1, r.windows,
                                 static_cast<double>(r.hops) / static_cast<double>(std::max<std::uint64_t>(r.windows, 1)),
                                 r.wall_s, r.wall_s / static_cast<double>(std::max<std::uint64_t>(r.windows, 1)) * 1e6,
                                 alone / r.wall_s)
                  << std::flush;
      }
      std::filesystem::remove(scenario);
    }
  } catch (const std::exception& error) {
    std::cerr << "flowframe_workers_bench: " << error.what() << "\n";
    code = 1;
  }
  for (const auto& worker : workers) {
    kill(worker.pid, SIGKILL);
    waitpid(worker.pid, nullptr, 0);
  }
  return code;
}
