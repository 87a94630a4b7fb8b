#pragma once
// The ceiling FlowFrame is measured against: the same workload (Poisson clients -> round-robin
// balancer -> single-slot FIFO servers with exponential service -> back) as one plain
// single-threaded loop over a binary heap, with no actors, no frames and no generality.
#include <cstdint>

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

struct PlainResult {
  double wall_s;
  double mean_latency_ms;
  std::uint64_t events;
};

PlainResult run_plain_loop(const Workload& workload, std::uint64_t seed);

}  // namespace flowframe::bench
