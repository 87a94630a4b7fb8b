#include "bench/plain_loop.hpp"

#include <fmt/format.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <cmath>
#include <deque>
#include <queue>
#include <vector>

#include "runtime/engine/random.hpp"

namespace flowframe::bench {
namespace {

enum Type : std::uint8_t { kArrive, kAtBalancer, kAtServer, kServed, kBackAtBalancer, kBackAtClient };

struct Event {
  std::int64_t time;
  std::uint64_t order;
  std::uint32_t request;
  std::uint32_t where;
  Type type;
  bool operator>(const Event& other) const {
    return time != other.time ? time > other.time : order > other.order;
  }
};

}  // namespace

std::string scenario_text(const Workload& w) {
  return fmt::format(R"(name: "{0}"
nodes {{ id: "client" kind: CLIENT replicas: {1} }}
nodes {{ id: "lb" kind: LOAD_BALANCER }}
nodes {{ id: "server" kind: SERVER replicas: {2}
        server {{ capacity: 1 queue_limit: 100000000 service_time {{ shape: EXPONENTIAL mean_ms: {3} }} }} }}
links {{ from: "client" to: "lb" latency {{ mean_ms: {4} }} }}
links {{ from: "lb" to: "server" latency {{ mean_ms: {4} }} }}
workload {{ clients: "client" rate: {5} }}
stop {{ requests: {6} }}
)",
                     w.name, w.clients, w.servers, w.service_ms, w.link_ms, w.rate(), w.requests);
}

BenchArgs parse_bench_args(int argc, char** argv) {
  BenchArgs args;
  args.dir = std::filesystem::temp_directory_path();
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--requests")) args.requests = std::stoull(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--dir")) args.dir = argv[i + 1];
  }
  return args;
}

PlainResult run_plain_loop(const Workload& w, std::uint64_t seed) {
  const auto start = std::chrono::steady_clock::now();
  Rng rng(seed);
  const double gap_ns = 1e9 / w.rate();
  const double service_ns = w.service_ms * 1e6;
  const auto link = static_cast<std::int64_t>(std::llround(w.link_ms * 1e6));
  std::priority_queue<Event, std::vector<Event>, std::greater<>> heap;
  std::vector<std::int64_t> created(w.requests);
  std::vector<bool> busy(static_cast<std::size_t>(w.servers), false);
  std::vector<std::deque<std::uint32_t>> waiting(static_cast<std::size_t>(w.servers));
  std::uint64_t order = 0, events = 0, next_request = 0;
  std::uint32_t cursor = 0;
  double latency_sum = 0;
  auto push = [&](std::int64_t t, Type type, std::uint32_t request, std::uint32_t where) {
    heap.push({t, order++, request, where, type});
  };
  auto begin_service = [&](std::int64_t now, std::uint32_t request, std::uint32_t server) {
    busy[server] = true;
    push(now + static_cast<std::int64_t>(std::llround(rng.exponential(service_ns))), kServed, request, server);
  };
  push(static_cast<std::int64_t>(rng.exponential(gap_ns)), kArrive, 0, 0);
  while (!heap.empty()) {
    const Event e = heap.top();
    heap.pop();
    ++events;
    switch (e.type) {
      case kArrive: {
        const auto request = static_cast<std::uint32_t>(next_request++);
        created[request] = e.time;
        push(e.time + link, kAtBalancer, request, 0);
        if (next_request < w.requests) push(e.time + static_cast<std::int64_t>(rng.exponential(gap_ns)), kArrive, 0, 0);
        break;
      }
      case kAtBalancer:
        push(e.time + link, kAtServer, e.request, cursor);
        cursor = (cursor + 1) % static_cast<std::uint32_t>(w.servers);
        break;
      case kAtServer:
        if (busy[e.where]) waiting[e.where].push_back(e.request);
        else begin_service(e.time, e.request, e.where);
        break;
      case kServed:
        busy[e.where] = false;
        push(e.time + link, kBackAtBalancer, e.request, 0);
        if (!waiting[e.where].empty()) {
          begin_service(e.time, waiting[e.where].front(), e.where);
          waiting[e.where].pop_front();
        }
        break;
      case kBackAtBalancer:
        push(e.time + link, kBackAtClient, e.request, 0);
        break;
      case kBackAtClient:
        latency_sum += static_cast<double>(e.time - created[e.request]);
        break;
    }
  }
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return {wall, latency_sum / static_cast<double>(w.requests) / 1e6, events};
}

}  // namespace flowframe::bench
