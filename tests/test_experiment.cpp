// flowframe bench: sweeps, seeds, statistics and the files it writes.
#include <gtest/gtest.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <sstream>

#include "runtime/base/version.hpp"
#include "runtime/lab/experiment.hpp"
#include "runtime/lab/workers.hpp"
#include "support.hpp"

namespace flowframe {
namespace {

ExperimentSpec small_spec(unsigned jobs) {
  ExperimentSpec spec;
  spec.scenario = "load_balancing";
  spec.axes = {parse_sweep("lb.strategy=random,least_conn"), parse_sweep("workload.rate=60,120")};
  spec.seeds = 3;
  spec.requests = 600;
  spec.jobs = jobs;
  spec.factory = make_component;
  return spec;
}

TEST(Experiment, SweepParsing) {
  const auto axis = parse_sweep("workload.rate=500,700,900");
  EXPECT_EQ(axis.key, "workload.rate");
  EXPECT_EQ(axis.values, (std::vector<std::string>{"500", "700", "900"}));
  EXPECT_THROW(parse_sweep("workload.rate"), std::invalid_argument);
  EXPECT_THROW(parse_sweep("workload.rate=1,,2"), std::invalid_argument);
}

TEST(Experiment, ConfidenceIntervalUsesStudentsT) {
  const auto stat = summarize_samples({1, 2, 3, 4, 5});
  EXPECT_DOUBLE_EQ(stat.mean, 3);
  EXPECT_NEAR(stat.ci95, 2.776 * std::sqrt(2.5) / std::sqrt(5.0), 1e-9);  // t(4) = 2.776, sd = 1.581
  EXPECT_EQ(summarize_samples({7}).ci95, 0);
}

TEST(Experiment, GridOfPointsSameResultsInParallel) {
  std::size_t last_done = 0, total = 0;
  const auto serial = run_experiment(small_spec(1), [&](std::size_t done, std::size_t all) {
    EXPECT_EQ(done, last_done + 1);
    last_done = done;
    total = all;
  });
  EXPECT_EQ(total, 12u);  // 2 x 2 points, 3 seeds each
  const auto parallel = run_experiment(small_spec(2));
  ASSERT_EQ(serial.size(), 4u);
  for (std::size_t p = 0; p < serial.size(); ++p) {
    EXPECT_EQ(serial[p].settings, parallel[p].settings);
    for (const auto& [name, stat] : serial[p].metrics) {
      EXPECT_DOUBLE_EQ(stat.mean, parallel[p].metrics.at(name).mean) << name;
      EXPECT_DOUBLE_EQ(stat.ci95, parallel[p].metrics.at(name).ci95) << name;
    }
  }
  EXPECT_EQ(serial[0].settings, (std::vector<std::pair<std::string, std::string>>{{"lb.strategy", "random"}, {"workload.rate", "60"}}));
  // Seeds differ, so the interval is not zero; more load, more latency.
  EXPECT_GT(serial[1].metrics.at("latency_mean_ms").ci95, 0);
  EXPECT_GT(serial[1].metrics.at("latency_mean_ms").mean, serial[0].metrics.at("latency_mean_ms").mean);
  EXPECT_NEAR(serial[0].metrics.at("throughput_rps").mean, 60, 12);
  EXPECT_NEAR(serial[0].status_rates.at("200").mean, 1.0, 1e-12);
  EXPECT_GT(serial[0].metrics.at("utilization_spread").mean, 1.0);

  std::ostringstream csv, json, svg;
  write_csv(serial, csv);
  const std::string table = csv.str();
  EXPECT_EQ(std::count(table.begin(), table.end(), '\n'), 5);  // header and 4 points
  EXPECT_EQ(table.rfind("lb.strategy,workload.rate,seeds,", 0), 0u);
  write_json(small_spec(1), serial, json);
  const auto parsed = nlohmann::json::parse(json.str());
  EXPECT_EQ(parsed["points"].size(), 4u);
  EXPECT_EQ(parsed["points"][3]["settings"]["lb.strategy"], "least_conn");
  write_svg_plot(small_spec(1), serial, "latency_p99_ms", svg);
  const auto picture = svg.str();
  EXPECT_EQ(picture.rfind("<svg", 0), 0u);
  std::size_t lines = 0;
  for (auto at = picture.find("<polyline"); at != std::string::npos; at = picture.find("<polyline", at + 1)) ++lines;
  EXPECT_EQ(lines, 2u);  // one per strategy
  EXPECT_NE(picture.find("lb.strategy=least_conn"), std::string::npos);
}

TEST(Experiment, BadSweepIsNamedBeforeAnythingRuns) {
  auto spec = small_spec(2);
  spec.axes.push_back(parse_sweep("lb.stratgy=random"));
  try {
    run_experiment(spec);
    FAIL();
  } catch (const ScenarioError& error) {
    EXPECT_NE(std::string(error.what()).find("--set lb.stratgy=random"), std::string::npos) << error.what();
    EXPECT_NE(std::string(error.what()).find("did you mean 'strategy'"), std::string::npos) << error.what();
  }
  // A plot is checked before anything runs.
  EXPECT_THROW(check_plot_request("out.pdf", "latency_p99_ms"), std::invalid_argument);
  EXPECT_THROW(check_plot_request("out.svg", "latency_p42_ms"), std::invalid_argument);
  EXPECT_NO_THROW(check_plot_request("out.png", "goodput_rps"));
}

TEST(Experiment, ACategoricalSweepPlotsAsGroupedBars) {
  auto spec = small_spec(2);
  spec.axes = {parse_sweep("lb.strategy=random,least_conn,power_of_two")};
  const auto points = run_experiment(spec);
  std::ostringstream svg;
  write_svg_plot(spec, points, "latency_p99_ms", svg);
  const auto picture = svg.str();
  std::size_t bars = 0;
  for (auto at = picture.find("<rect x="); at != std::string::npos; at = picture.find("<rect x=", at + 1)) ++bars;
  EXPECT_EQ(bars, 3u);  // one per strategy, in one group each (no legend for a single series)
  for (const char* strategy : {"random", "least_conn", "power_of_two"}) EXPECT_NE(picture.find(strategy), std::string::npos);
  // Each bar is as tall as its point's mean.
  const auto& random = points[0].metrics.at("latency_p99_ms");
  EXPECT_NE(picture.find(fmt::format("random all: {:g} ± {:g}", random.mean, random.ci95)), std::string::npos) << picture;
}

}  // namespace
}  // namespace flowframe

namespace flowframe {
namespace {

std::string csv_of(const std::vector<PointResult>& points) {
  std::ostringstream out;
  write_csv(points, out);
  return out.str();
}

TEST(Workers, RunsOnWorkersGiveTheSameResultsAsLocalRuns) {
  WorkerServer worker("127.0.0.1:0", false, 2, make_component);
  auto spec = small_spec(1);
  const auto local = run_experiment(spec);
  spec.workers = {worker.address()};
  std::size_t last = 0;
  const auto spread = run_experiment(spec, [&](std::size_t done, std::size_t) { last = done; });
  EXPECT_EQ(last, 12u);  // progress counts runs wherever they ran
  EXPECT_GT(worker.runs_served(), 0u);
  EXPECT_EQ(csv_of(spread), csv_of(local));
}

TEST(Workers, AWorkerKilledMidRunHasItsRunsDoneElsewhere) {
  // A real worker process, killed without warning once the first run anywhere is done.
  test::WorkerProcess worker;
  ASSERT_FALSE(worker.address().empty());
  auto spec = small_spec(1);
  spec.requests = 20000;  // runs long enough to be killed in the middle of
  const auto local = run_experiment(spec);
  spec.workers = {worker.address()};
  bool killed = false;
  const auto spread = run_experiment(spec, [&](std::size_t, std::size_t) {
    if (!killed) worker.kill_now();
    killed = true;
  });
  EXPECT_EQ(csv_of(spread), csv_of(local));
}

TEST(Workers, AWorkerRefusesARunItCannotDoWithTheReason) {
  WorkerServer worker("127.0.0.1:0", false, 1, make_component);
  WorkerPool pool({worker.address()});
  ASSERT_EQ(pool.size(), 1u);
  v1::PointRun run;
  run.set_flowframe_version(kFlowFrameVersion);
  run.set_scenario_name("typo.textproto");
  run.set_scenario_text("name: \"x\"\nnodes { id: \"a\" kind: CLIENTT }\n");
  run.set_seed(1);
  try {
    pool.run(0, run);
    ADD_FAILURE() << "a scenario with a typo ran";
  } catch (const WorkerLost&) {
    ADD_FAILURE() << "a refusal taken for a lost worker";
  } catch (const std::runtime_error& error) {
    EXPECT_NE(std::string(error.what()).find("typo.textproto:2"), std::string::npos) << error.what();
  }
  run.set_flowframe_version("0.0.1-other");
  try {
    pool.run(0, run);
    ADD_FAILURE() << "a run for another version ran";
  } catch (const std::runtime_error& error) {
    EXPECT_NE(std::string(error.what()).find("the run is for 0.0.1-other"), std::string::npos) << error.what();
  }
  EXPECT_THROW(WorkerServer("10.1.2.3:0", false, 1, make_component), std::runtime_error);  // not loopback
  try {
    WorkerPool nobody({"127.0.0.1:1"});
    ADD_FAILURE() << "connected to nothing";
  } catch (const std::runtime_error& error) {
    EXPECT_NE(std::string(error.what()).find("worker 127.0.0.1:1: nothing accepts connections there"), std::string::npos)
        << error.what();
  }
}

}  // namespace
}  // namespace flowframe
