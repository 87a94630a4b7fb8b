// Workload models beyond a steady Poisson stream, and heterogeneous servers.
#include <gtest/gtest.h>

#include "support.hpp"

namespace flowframe {
namespace {

// Request frames from clients to the balancer, by time.
std::vector<Time> arrivals(const std::string& log, const Topology& topology) {
  std::vector<Time> times;
  const NodeIndex lb = topology.index_of("lb");
  for (const auto& view : test::read_frames(log))
    if (view.frame.kind() == v1::Frame::REQUEST && view.frame.dst() == lb) times.push_back(view.sent);
  return times;
}

test::Run recorded(const std::vector<std::string>& overrides, const std::string& log) {
  RunOptions options;
  options.out_path = log;
  return test::run_scenario("load_balancing", overrides, options);
}

TEST(Workloads, OnOffSendsOnlyDuringOnPeriods) {
  test::TempPath log(".ffl");
  auto run = recorded({"workload.arrival=on_off", "workload.on_s=0.5", "workload.off_s=1", "workload.rate=200",
                       "stop.requests=0", "stop.duration_s=6", "server.capacity=64"}, log.str());
  const auto times = arrivals(log.str(), run.simulation->topology());
  ASSERT_GT(times.size(), 300u);  // about 2 s of "on" at 200/s
  for (Time t : times) EXPECT_LT(t % from_seconds(1.5), from_seconds(0.5)) << "a request during an off period at " << t;
  EXPECT_NEAR(static_cast<double>(times.size()), 200 * 2.0, 60);  // 4 on periods of 0.5 s
}

TEST(Workloads, RampRaisesTheRate) {
  test::TempPath log(".ffl");
  auto run = recorded({"workload.arrival=ramp", "workload.rate=20", "workload.ramp_to=200", "workload.ramp_s=4",
                       "stop.requests=0", "stop.duration_s=4", "server.capacity=64"}, log.str());
  const auto times = arrivals(log.str(), run.simulation->topology());
  const auto first_second = std::count_if(times.begin(), times.end(), [](Time t) { return t < from_seconds(1); });
  const auto last_second = std::count_if(times.begin(), times.end(), [](Time t) { return t >= from_seconds(3); });
  // Expected: integral of the rate over each second: 42.5 and 177.5.
  EXPECT_NEAR(first_second, 42.5, 20);
  EXPECT_NEAR(last_second, 177.5, 45);
}

TEST(Workloads, ClosedLoopKeepsAtMostItsUsersInFlightAndFollowsTheInteractiveLaw) {
  test::TempPath log(".ffl");
  auto run = recorded({"workload.arrival=closed", "workload.users=8", "workload.think_time.shape=exponential",
                       "workload.think_time.mean_ms=100", "stop.requests=4000", "server.capacity=1",
                       "server.queue_limit=100", "server.service_time.mean_ms=20"}, log.str());
  int in_flight = 0, most = 0;
  std::vector<std::pair<Time, int>> changes;
  const NodeIndex lb = run.simulation->topology().index_of("lb");
  for (const auto& view : test::read_frames(log.str())) {
    if (view.frame.kind() == v1::Frame::REQUEST && view.frame.dst() == lb) changes.emplace_back(view.sent, +1);
    if (view.frame.kind() == v1::Frame::RESPONSE && view.frame.outcome() == v1::Frame::COMPLETED) changes.emplace_back(view.time, -1);
  }
  std::sort(changes.begin(), changes.end());
  for (const auto& change : changes) most = std::max(most, in_flight += change.second);
  EXPECT_LE(most, 8);
  EXPECT_EQ(run.summary["requests"]["sent"].get<int>(), 4000);
  // Interactive response time law: throughput X = N / (R + Z).
  const double response_s = run.summary["latency_ms"]["mean"].get<double>() / 1000;
  const double throughput = 4000 / run.summary["sim_time_s"].get<double>();
  EXPECT_NEAR(throughput, 8 / (response_s + 0.1), 0.03 * throughput);
}

TEST(Workloads, FasterServersServeFaster) {
  auto run = test::run_scenario("load_balancing", {"server-1.speed=4", "stop.requests=3000", "workload.rate=60",
                                                   "server.queue_limit=10000"});
  const auto& nodes = run.summary["nodes"];
  // Round robin gives each the same share; the fast one is busy a quarter as long.
  EXPECT_NEAR(nodes["server-1"]["utilization"].get<double>() * 4, nodes["server-2"]["utilization"].get<double>(), 0.05);
}

}  // namespace
}  // namespace flowframe
