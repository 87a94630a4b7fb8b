#pragma once
// The ceiling FlowFrame is measured against: the same workload (Poisson clients -> round-robin
// balancer -> single-slot FIFO servers with exponential service -> back) as one plain
// single-threaded loop over a binary heap, with no actors, no frames and no generality.
#include <cstdint>
#include <string>

namespace flowframe::bench {

struct Workload {
  const char* name;
  int servers;
  double service_ms;
  double link_ms;
  double load;  // utilisation: rate = load * servers / service time
  std::uint64_t requests;
  int clients = 16;
  double rate() const { return load * servers / (service_ms / 1000.0); }
};

// The core issue's workloads: round robin, Poisson arrivals at 90 % load, exponential service.
inline Workload sparse_workload(std::uint64_t requests) { return {"sparse", 16, 1000.0, 10.0, 0.9, requests}; }
inline Workload dense_workload(std::uint64_t requests) { return {"dense", 64, 1.0, 1.0, 0.9, requests}; }
// The same workload as a FlowFrame scenario.
std::string scenario_text(const Workload& workload);

// Command line of the benchmarks: [--requests N] [--dir DIR].
struct BenchArgs {
  std::uint64_t requests = 2'000'000;
  std::string dir;
};
BenchArgs parse_bench_args(int argc, char** argv);

struct PlainResult {
  double wall_s;
  double mean_latency_ms;
  std::uint64_t events;
};

PlainResult run_plain_loop(const Workload& workload, std::uint64_t seed);

}  // namespace flowframe::bench
