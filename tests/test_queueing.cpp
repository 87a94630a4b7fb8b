// The simulator must agree with queueing theory where theory has an answer.
#include <gtest/gtest.h>

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
