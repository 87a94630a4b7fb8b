// The simulator must agree with queueing theory where theory has an answer.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>

#include "support.hpp"

namespace flowframe {
namespace {

// Random balancing splits a Poisson stream into independent Poisson streams, so each of the 3
// single-slot servers is an M/M/1 queue: mean time in system 1/(mu - lambda/3). The client also
// pays the fixed link latencies: 2 x 2 ms (client-lb) + 2 x 1 ms (lb-server).
TEST(Queueing, RandomBalancingOverExponentialServersMatchesMM1) {
  const double mu = 100;       // per server, 1/s: mean service 10 ms
  const double lambda = 180;   // total; 60 per server, utilisation 0.6
  auto run = test::run_scenario("load_balancing",
                                {"lb.strategy=random", "server.capacity=1", "server.queue_limit=1000000",
                                 "server.service_time.mean_ms=10", "workload.rate=180", "stop.requests=300000"});
  const double expected_ms = 1000.0 / (mu - lambda / 3) + 6.0;  // 31 ms
  const double measured_ms = run.summary["latency_ms"]["mean"].get<double>();
  // At utilisation 0.6 an M/M/1 mean over 100k customers per server has a relative standard
  // error near 0.6 % (sojourn times are correlated); 3 % is about five standard errors.
  EXPECT_NEAR(measured_ms, expected_ms, 0.03 * expected_ms);
  EXPECT_EQ(run.summary["requests"]["failed"].get<std::uint64_t>(), 0u);
  // Utilisation = lambda / (k mu).
  for (const char* server : {"server-1", "server-2", "server-3"})
    EXPECT_NEAR(run.summary["nodes"][server]["utilization"].get<double>(), lambda / 3 / mu, 0.02);
}

}  // namespace
}  // namespace flowframe

namespace flowframe {
namespace {

double mean_ms(const test::Run& run) { return run.summary["latency_ms"]["mean"].get<double>(); }

// M/D/1 (Pollaczek-Khinchine): constant service D, W = D + rho D / (2 (1 - rho)).
TEST(Queueing, ConstantServiceMatchesMD1) {
  auto run = test::run_scenario("load_balancing",
                                {"lb.strategy=random", "server.capacity=1", "server.queue_limit=1000000",
                                 "server.service_time.shape=constant", "server.service_time.mean_ms=10",
                                 "workload.rate=180", "stop.requests=300000"});
  const double rho = 0.6, d = 10;
  const double expected = d + rho * d / (2 * (1 - rho)) + 6.0;  // 23.5 ms with the links
  // Deterministic service halves the queueing variance of M/M/1: 2 % is over five standard errors.
  EXPECT_NEAR(mean_ms(run), expected, 0.02 * expected);
}

// M/M/c: one server with c slots (the others down), Erlang C for the chance to wait.
TEST(Queueing, MultiSlotServerMatchesMMc) {
  const int c = 4;
  const double mu = 100, lambda = 300, a = lambda / mu;
  auto run = test::run_scenario(
      "load_balancing", {"server-2.capacity=0", "server-3.capacity=0", "server-1.capacity=4", "server.queue_limit=1000000",
                         "server.service_time.mean_ms=10", "workload.rate=300", "stop.requests=300000"});
  double term = 1, sum = 1;  // a^k / k!, summed for k < c
  for (int k = 1; k < c; ++k) sum += (term *= a / k);
  const double last = term * a / c * c / (c - a);  // a^c / c! * c / (c - a)
  const double erlang_c = last / (sum + last);
  const double expected = 1000 * (1 / mu + erlang_c / (c * mu - lambda)) + 6.0;
  EXPECT_NEAR(mean_ms(run), expected, 0.03 * expected) << "Erlang C " << erlang_c;
  EXPECT_NEAR(run.summary["nodes"]["server-1"]["utilization"].get<double>(), lambda / (c * mu), 0.02);
}

// Little's law on the sample path: the time-average number of requests in the system equals
// throughput times mean time in the system, measured from the frames alone.
TEST(Queueing, LittlesLawFromTheFrames) {
  test::TempPath log(".ffl");
  RunOptions options;
  options.out_path = log.str();
  test::run_scenario("load_balancing", {"workload.rate=120", "stop.requests=3000"}, options);
  std::map<std::pair<std::uint32_t, std::uint64_t>, Time> started;
  std::vector<std::pair<Time, int>> changes;  // +1 a request enters, -1 it leaves
  double total_time_in_system = 0;
  std::uint64_t completed = 0;
  for (const auto& view : test::read_frames(log.str())) {
    const auto& f = view.frame;
    const auto key = std::make_pair(f.client(), f.request());
    if (f.kind() == v1::Frame::REQUEST && f.src() == f.client() && started.emplace(key, view.sent).second)
      changes.emplace_back(view.sent, +1);
    if (f.kind() == v1::Frame::RESPONSE && f.dst() == f.client() && f.outcome() == v1::Frame::COMPLETED) {
      changes.emplace_back(view.time, -1);
      total_time_in_system += static_cast<double>(view.time - started.at(key));
      ++completed;
    }
  }
  ASSERT_EQ(completed, 3000u);
  std::sort(changes.begin(), changes.end());
  double area = 0;
  int in_system = 0;
  for (std::size_t i = 0; i + 1 < changes.size(); ++i) {
    in_system += changes[i].second;
    area += in_system * static_cast<double>(changes[i + 1].first - changes[i].first);
  }
  const double span = static_cast<double>(changes.back().first - changes.front().first);
  const double mean_in_system = area / span;
  const double throughput = completed / span;
  const double mean_time = total_time_in_system / completed;
  EXPECT_NEAR(mean_in_system, throughput * mean_time, 1e-9 * mean_in_system);
  EXPECT_GT(mean_in_system, 1.0);  // a loaded system, not an empty one
}

// Under high load: power of two choices has a far lower mean and tail than random, and
// join-the-shortest-queue (least connections) lower still (Mitzenmacher 2001).
TEST(Queueing, PowerOfTwoBeatsRandomAndShortestQueueBeatsBoth) {
  auto measure = [](const std::string& strategy) {
    auto run = test::run_scenario("load_balancing", {"lb.strategy=" + strategy, "server.capacity=1", "server.queue_limit=1000000",
                                                     "server.service_time.mean_ms=10", "workload.rate=270",  // rho 0.9
                                                     "stop.requests=200000"});
    return std::make_pair(run.summary["latency_ms"]["mean"].get<double>(), run.summary["latency_ms"]["p99"].get<double>());
  };
  const auto random = measure("random"), two = measure("power_of_two"), shortest = measure("least_conn");
  EXPECT_LT(two.first, 0.6 * random.first) << two.first << " vs " << random.first;
  EXPECT_LT(two.second, 0.6 * random.second) << two.second << " vs " << random.second;
  EXPECT_LT(shortest.first, two.first);
  EXPECT_LT(shortest.second, two.second);
}

}  // namespace
}  // namespace flowframe
