#pragma once
// Benchmarking strategies: a scenario run over a grid of settings and several seeds, points in
// parallel, summarised with 95 % confidence intervals, written as a table, CSV, JSON or a plot.
#include <functional>
#include <map>
#include <ostream>
#include <string>
#include <vector>

#include "runtime/base/stats.hpp"
#include "runtime/engine/topology.hpp"

namespace flowframe {

struct SweepAxis {
  std::string key;  // a --set key, e.g. lb.strategy or workload.rate
  std::vector<std::string> values;
};

struct ExperimentSpec {
  std::string scenario;
  std::vector<std::string> overrides;  // applied to every point
  std::vector<SweepAxis> axes;
  unsigned seeds = 1;
  std::uint64_t first_seed = 1;
  std::uint64_t requests = 0;  // 0: as the scenario says
  unsigned jobs = 2;           // points run at once
  std::string record_dir;      // "" = no frames; else one log per point and seed
  // HOST:PORT of `flowframe worker`s that run points too, beside the `jobs` local ones; a worker
  // that goes away has its runs done elsewhere. Results are the same wherever a run runs.
  std::vector<std::string> workers;
  ComponentFactory factory;    // builds the components (actors::make_component)
};

struct PointResult {
  std::vector<std::pair<std::string, std::string>> settings;  // one value per axis, in axis order
  unsigned seeds = 0;
  std::map<std::string, Stat> metrics;  // throughput_rps, latency_*_ms, error_rate, utilization_*, hit_ratio
  std::map<std::string, Stat> status_rates;  // share of requests answered with each status
};

// Parses "KEY=v1,v2,..." (throws std::invalid_argument).
SweepAxis parse_sweep(const std::string& text);

// Runs every point and seed; `progress(done, total)` after each run. Throws ScenarioError for bad
// input (checked on the first point before anything runs).
std::vector<PointResult> run_experiment(const ExperimentSpec& spec,
                                        const std::function<void(std::size_t, std::size_t)>& progress = {});

void write_table(const std::vector<PointResult>& points, std::ostream& out);
void write_csv(const std::vector<PointResult>& points, std::ostream& out);
void write_json(const ExperimentSpec& spec, const std::vector<PointResult>& points, std::ostream& out);
// Whether `--plot PATH --plot-metric METRIC` can be drawn, checked before any point runs: the
// file is .svg or .png and the metric is one a point measures. Throws std::invalid_argument.
void check_plot_request(const std::string& path, const std::string& metric);

// `metric` (e.g. latency_p99_ms) with its 95 % confidence interval over seeds: against the last
// numeric axis, one line per value of the other axes; with no numeric axis, grouped bars (a group
// per value of the last axis, a bar per value of the others).
void write_svg_plot(const ExperimentSpec& spec, const std::vector<PointResult>& points, const std::string& metric,
                    std::ostream& out);

}  // namespace flowframe
