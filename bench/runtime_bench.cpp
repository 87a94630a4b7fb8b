// Simulator speed on the core workloads (sparse and dense), 1 and 2 worker threads, frames off
// and recorded to a file, against a plain single-threaded heap loop measured in the same run.
// Every configuration runs in a child process, so its peak memory is its own.
//
//   flowframe_bench [--requests N] [--dir DIR]
#include <fmt/format.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <csignal>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <vector>
#include <filesystem>
#include <iostream>
#include <string>

#include "actors/common/components.hpp"
#include "bench/plain_loop.hpp"
#include "runtime/scenario/scenario.hpp"
#include "runtime/engine/simulation.hpp"

namespace {

using namespace flowframe;
using bench::Workload;

struct Measured {
  double wall_s = 0;
  double mean_ms = 0;
  std::uint64_t hops = 0;
  std::uint64_t frames = 0;
  std::uint64_t log_bytes = 0;
  unsigned shards = 0;
  double peak_mib = 0;
};

// Runs `work` in a child process; returns what it wrote plus the child's peak resident memory.
template <class Work>
Measured once_in_child(Work work) {
  int fds[2];
  if (pipe(fds) != 0) throw std::runtime_error("pipe failed");
  const pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    Measured m = work();
    if (write(fds[1], &m, sizeof m) != static_cast<ssize_t>(sizeof m)) _exit(1);
    _exit(0);
  }
  close(fds[1]);
  Measured m{};
  const bool got = read(fds[0], &m, sizeof m) == static_cast<ssize_t>(sizeof m);
  close(fds[0]);
  int status = 0;
  rusage usage{};
  wait4(pid, &status, 0, &usage);
  if (!got || !WIFEXITED(status) || WEXITSTATUS(status) != 0) throw std::runtime_error("benchmark child failed");
  m.peak_mib = static_cast<double>(usage.ru_maxrss) / 1024.0;
  return m;
}

// The median of three runs by wall time: a 2-core machine has noisy neighbours.
template <class Work>
Measured in_child(Work work) {
  std::vector<Measured> runs;
  for (int i = 0; i < 3; ++i) runs.push_back(once_in_child(work));
  std::sort(runs.begin(), runs.end(), [](const Measured& a, const Measured& b) { return a.wall_s < b.wall_s; });
  return runs[1];
}

// One run, in the calling process (a child, so its peak memory is its own).
Measured measure_flowframe(const Workload& w, unsigned threads, const std::string& out_path) {
  const auto scenario = parse_scenario(bench::scenario_text(w), w.name);
  RunOptions options;
  options.seed = 1;
  options.threads = threads;
  options.out_path = out_path;
  Simulation simulation(scenario, options, make_component);
  const auto result = simulation.run();
  Measured m;
  m.wall_s = result.wall_s;
  m.hops = result.hops;
  m.frames = result.frames;
  m.log_bytes = result.log_bytes;
  m.shards = result.shards;
  LatencyHistogram all;
  for (NodeIndex i = 1; i < simulation.topology().size(); ++i)
    if (const auto* h = simulation.topology().component(i).latencies()) all.merge(*h);
  m.mean_ms = all.mean() / 1e6;
  if (!out_path.empty()) std::filesystem::remove(out_path);
  return m;
}

Measured run_flowframe(const Workload& w, unsigned threads, const std::string& out_path) {
  return in_child([&] { return measure_flowframe(w, threads, out_path); });
}

}  // namespace

// How time and memory grow with the run's length and with the number of servers.
int scaling() {
  std::cout << "| what | requests | servers | wall s | requests/s | peak MiB | KiB per extra server |\n|---|---|---|---|---|---|---|\n";
  double base_mib = 0;  // the 16-server run's peak: what every run needs anyway
  for (std::uint64_t requests : {100'000ULL, 1'000'000ULL, 10'000'000ULL}) {
    const auto w = bench::dense_workload(requests);
    const auto m = once_in_child([&] { return measure_flowframe(w, 2, ""); });
    std::cout << fmt::format("| run length | {} | 64 | {:.2f} | {:.2f} M | {:.0f} | - |\n", requests, m.wall_s,
                             static_cast<double>(requests) / m.wall_s / 1e6, m.peak_mib);
  }
  for (int servers : {16, 100, 1000, 10000}) {
    auto w = bench::dense_workload(1'000'000);
    w.servers = servers;
    const auto m = once_in_child([&] { return measure_flowframe(w, 2, ""); });
    if (servers == 16) base_mib = m.peak_mib;
    std::cout << fmt::format("| servers | 1000000 | {} | {:.2f} | {:.2f} M | {:.0f} | {} |\n", servers, m.wall_s,
                             1e6 / m.wall_s / 1e6, m.peak_mib,
                             servers == 16 ? std::string("-") : fmt::format("{:.1f}", (m.peak_mib - base_mib) * 1024 / (servers - 16)));
  }
  return 0;
}

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i)
    if (!std::strcmp(argv[i], "--scaling")) return scaling();
  const auto [requests, dir] = bench::parse_bench_args(argc, argv);
  const Workload workloads[] = {bench::sparse_workload(requests), bench::dense_workload(requests)};
  std::cout << fmt::format("{} requests per run, {} cores\n\n", requests, sysconf(_SC_NPROCESSORS_ONLN));
  std::cout << "| workload | engine | threads | shards | frames | requests/s | hops/s | x plain loop | "
               "bytes/hop | peak MiB | mean latency ms |\n";
  std::cout << "|---|---|---|---|---|---|---|---|---|---|---|\n";
  for (const auto& w : workloads) {
    const auto plain = in_child([&] {
      const auto r = bench::run_plain_loop(w, 1);
      Measured m;
      m.wall_s = r.wall_s;
      m.mean_ms = r.mean_latency_ms;
      m.hops = w.requests * 4;
      return m;
    });
    const double plain_rate = static_cast<double>(w.requests) / plain.wall_s;
    std::cout << fmt::format("| {} | plain heap loop | 1 | - | off | {:.2f} M | {:.2f} M | 1.00 | - | {:.0f} | {:.2f} |\n",
                             w.name, plain_rate / 1e6, static_cast<double>(plain.hops) / plain.wall_s / 1e6,
                             plain.peak_mib, plain.mean_ms);
    for (bool record : {false, true}) {
      for (unsigned threads : {1u, 2u}) {
        const std::string out = record ? dir + "/flowframe_bench_" + w.name + ".ffl" : "";
        const auto m = run_flowframe(w, threads, out);
        const double rate = static_cast<double>(w.requests) / m.wall_s;
        std::cout << fmt::format(
            "| {} | FlowFrame | {} | {} | {} | {:.2f} M | {:.2f} M | {:.2f} | {} | {:.0f} | {:.2f} |\n", w.name, threads,
            m.shards, record ? "file" : "off", rate / 1e6, static_cast<double>(m.hops) / m.wall_s / 1e6,
            rate / plain_rate, record ? fmt::format("{:.2f}", static_cast<double>(m.log_bytes) / m.hops) : "-",
            m.peak_mib, m.mean_ms);
      }
    }
  }
  // Two threads must never be slower than one: idle, and with a second process burning a core
  // (the run then falls back to one shard instead of waiting on a descheduled thread).
  std::cout << "\n| workload | frames | machine | 1 thread requests/s | 2 threads requests/s | 2 threads / 1 |\n"
               "|---|---|---|---|---|---|\n";
  for (const bool loaded : {false, true}) {
    pid_t burner = 0;
    if (loaded && (burner = fork()) == 0)
      for (std::atomic<std::uint64_t> spin{0};; spin.fetch_add(1, std::memory_order_relaxed)) {
      }
    for (const auto& w : workloads)
      for (const bool record : {false, true}) {
        const std::string out = record ? dir + "/flowframe_bench_" + w.name + ".ffl" : "";
        const auto one = run_flowframe(w, 1, out), two = run_flowframe(w, 2, out);
        std::cout << fmt::format("| {} | {} | {} | {:.2f} M | {:.2f} M | {:.2f} |\n", w.name, record ? "file" : "off",
                                 loaded ? "a core busy" : "idle", static_cast<double>(w.requests) / one.wall_s / 1e6,
                                 static_cast<double>(w.requests) / two.wall_s / 1e6, one.wall_s / two.wall_s)
                  << std::flush;
      }
    if (burner > 0) {
      kill(burner, SIGKILL);
      waitpid(burner, nullptr, 0);
    }
  }
  return 0;
}
