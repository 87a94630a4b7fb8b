#include "runtime/lab/experiment.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>
#include <thread>

#include "runtime/scenario/scenario.hpp"
#include "runtime/engine/simulation.hpp"
#include "runtime/base/text.hpp"
#include "runtime/base/version.hpp"
#include "runtime/lab/summary.hpp"
#include "runtime/lab/workers.hpp"

namespace flowframe {

namespace {

bool numeric(const std::string& text) {
  char* end = nullptr;
  std::strtod(text.c_str(), &end);
  return !text.empty() && *end == '\0';
}

// Every combination of the axes' values, the last axis varying fastest.
std::vector<std::vector<std::pair<std::string, std::string>>> grid(const std::vector<SweepAxis>& axes) {
  std::vector<std::vector<std::pair<std::string, std::string>>> points{{}};
  for (const auto& axis : axes) {
    std::vector<std::vector<std::pair<std::string, std::string>>> next;
    for (const auto& point : points)
      for (const auto& value : axis.values) {
        auto extended = point;
        extended.emplace_back(axis.key, value);
        next.push_back(std::move(extended));
      }
    points = std::move(next);
  }
  return points;
}

std::string label(const std::vector<std::pair<std::string, std::string>>& settings, std::size_t skip = SIZE_MAX) {
  std::string out;
  for (std::size_t i = 0; i < settings.size(); ++i)
    if (i != skip) out += (out.empty() ? "" : " ") + settings[i].first + "=" + settings[i].second;
  return out.empty() ? "all" : out;
}

}  // namespace

SweepAxis parse_sweep(const std::string& text) {
  const auto equals = text.find('=');
  if (equals == std::string::npos || equals == 0 || equals + 1 == text.size())
    throw std::invalid_argument("--sweep " + text + ": expected KEY=v1,v2,... (e.g. lb.strategy=random,least_conn)");
  SweepAxis axis{text.substr(0, equals), {}};
  std::size_t start = equals + 1;
  while (start <= text.size()) {
    const auto comma = text.find(',', start);
    const auto value = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (value.empty()) throw std::invalid_argument("--sweep " + text + ": an empty value");
    axis.values.push_back(value);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return axis;
}

std::vector<PointResult> run_experiment(const ExperimentSpec& spec,
                                        const std::function<void(std::size_t, std::size_t)>& progress) {
  const auto points = grid(spec.axes);
  auto overrides_for = [&](const std::vector<std::pair<std::string, std::string>>& settings) {
    auto overrides = spec.overrides;
    if (spec.requests) overrides.push_back("stop.requests=" + std::to_string(spec.requests));
    for (const auto& [key, value] : settings) overrides.push_back(key + "=" + value);
    return overrides;
  };
  // Bad input shows before anything runs: every point's settings are checked, the source read once.
  const auto source = read_scenario(spec.scenario);
  std::vector<v1::Scenario> scenarios;
  for (const auto& point : points) scenarios.push_back(parse_scenario(source.text, source.name, overrides_for(point)));

  const std::size_t runs = points.size() * spec.seeds;
  std::vector<nlohmann::ordered_json> summaries(runs);
  auto run_request = [&](std::size_t run) {
    v1::PointRun request;
    request.set_flowframe_version(kFlowFrameVersion);
    request.set_scenario_name(source.name);
    request.set_scenario_text(source.text);
    for (const auto& override : overrides_for(points[run / spec.seeds])) request.add_overrides(override);
    request.set_seed(spec.first_seed + run % spec.seeds);
    return request;
  };
  if (!spec.workers.empty() && !spec.record_dir.empty())
    throw std::invalid_argument("--record cannot be used with --workers yet: runs on workers would have to send their logs back");
  std::unique_ptr<WorkerPool> pool;
  if (!spec.workers.empty()) pool = std::make_unique<WorkerPool>(spec.workers);

  // Runs to do; one given back by a worker that went away is done by whoever is free next.
  std::mutex mutex;
  std::condition_variable changed;
  std::deque<std::size_t> todo;
  for (std::size_t run = 0; run < runs; ++run) todo.push_back(run);
  std::size_t unfinished = runs, done = 0;
  std::exception_ptr failure;
  auto take = [&]() -> std::optional<std::size_t> {
    std::unique_lock lock(mutex);
    changed.wait(lock, [&] { return !todo.empty() || unfinished == 0 || failure; });
    if (todo.empty() || failure) return std::nullopt;
    const auto run = todo.front();
    todo.pop_front();
    return run;
  };
  auto finish = [&](std::size_t run, std::string summary) {
    summaries[run] = nlohmann::ordered_json::parse(summary);
    std::lock_guard lock(mutex);
    --unfinished;
    ++done;
    if (progress) progress(done, runs);
    changed.notify_all();
  };
  auto fail = [&] {
    std::lock_guard lock(mutex);
    if (!failure) failure = std::current_exception();
    changed.notify_all();
  };
  auto local = [&] {
    while (const auto run = take()) {
      try {
        const auto request = run_request(*run);
        std::string out_path;
        if (!spec.record_dir.empty())
          out_path = fmt::format("{}/{}-point{}-seed{}.ffl", spec.record_dir, log_file_stem(scenarios[*run / spec.seeds].name()),
                                 *run / spec.seeds, request.seed());
        finish(*run, run_point(request, spec.factory, out_path));
      } catch (...) {
        fail();
      }
    }
  };
  auto remote = [&](std::size_t worker) {
    while (const auto run = take()) {
      try {
        finish(*run, pool->run(worker, run_request(*run)));
      } catch (const WorkerLost& lost) {
        spdlog::warn("{}; its runs go elsewhere", lost.what());
        std::lock_guard lock(mutex);
        todo.push_front(*run);
        changed.notify_all();
        return;
      } catch (...) {
        fail();
      }
    }
  };
  std::vector<std::thread> threads;
  try {
    for (unsigned j = 0; j < std::max(1u, spec.jobs); ++j) threads.emplace_back(local);
    for (std::size_t w = 0; pool && w < pool->size(); ++w)
      for (unsigned j = 0; j < pool->jobs(w); ++j) threads.emplace_back(remote, w);
  } catch (...) {
    fail();  // no more threads: the ones started stop, then the error is reported
  }
  for (auto& thread : threads) thread.join();
  if (failure) std::rethrow_exception(failure);

  std::vector<PointResult> results;
  for (std::size_t p = 0; p < points.size(); ++p) {
    PointResult result;
    result.settings = points[p];
    result.seeds = spec.seeds;
    std::map<std::string, std::vector<double>> samples;
    std::map<std::string, std::vector<double>> statuses;
    std::set<std::string> status_names;
    for (unsigned s = 0; s < spec.seeds; ++s)
      for (const auto& [status, count] : summaries[p * spec.seeds + s]["requests"]["by_status"].items()) status_names.insert(status);
    for (unsigned s = 0; s < spec.seeds; ++s) {
      const auto& summary = summaries[p * spec.seeds + s];
      const auto& requests = summary["requests"];
      const double sent = std::max(1.0, requests["sent"].get<double>());
      samples["throughput_rps"].push_back(summary["throughput_rps"].get<double>());
      samples["goodput_rps"].push_back(summary["goodput_rps"].get<double>());
      if (requests.contains("attempts_per_request"))
        samples["attempts_per_request"].push_back(requests["attempts_per_request"].get<double>());
      for (const char* name : {"mean", "p50", "p95", "p99", "p999", "max"})
        samples[std::string("latency_") + name + "_ms"].push_back(summary["latency_ms"][name].get<double>());
      samples["error_rate"].push_back(requests["failed"].get<double>() / sent);
      for (const auto& status : status_names)
        statuses[status].push_back(requests["by_status"].value(status, 0.0) / sent);
      double sum = 0, top = 0, count = 0, hits = 0, caches = 0;
      for (const auto& [id, node] : summary["nodes"].items()) {
        if (node.contains("utilization")) {
          const double u = node["utilization"].get<double>();
          sum += u;
          top = std::max(top, u);
          ++count;
        }
        if (node.contains("hit_ratio")) {
          hits += node["hit_ratio"].get<double>();
          ++caches;
        }
      }
      if (count) {
        samples["utilization_mean"].push_back(sum / count);
        samples["utilization_spread"].push_back(sum > 0 ? top / (sum / count) : 0);
      }
      if (caches) samples["hit_ratio"].push_back(hits / caches);
    }
    for (const auto& [name, values] : samples) result.metrics[name] = summarize_samples(values);
    for (const auto& [status, values] : statuses) result.status_rates[status] = summarize_samples(values);
    results.push_back(std::move(result));
  }
  return results;
}

void write_table(const std::vector<PointResult>& points, std::ostream& out) {
  std::size_t width = 5;
  for (const auto& point : points) width = std::max(width, label(point.settings).size());
  out << fmt::format("{:<{}}  {:>11} {:>17} {:>21} {:>21} {:>21} {:>21} {:>9} {:>8} {:>7}\n", "point", width, "req/s",
                     "goodput/s", "mean ms", "p50 ms", "p99 ms", "p99.9 ms", "errors", "util", "spread");
  auto cell = [](const Stat& stat) { return fmt::format("{:.3f} ±{:.3f}", stat.mean, stat.ci95); };
  for (const auto& point : points) {
    const auto& m = point.metrics;
    auto get = [&](const char* name) { auto it = m.find(name); return it == m.end() ? Stat{} : it->second; };
    const auto goodput = get("goodput_rps");
    out << fmt::format("{:<{}}  {:>11.1f} {:>17} {:>21} {:>21} {:>21} {:>21} {:>8.2f}% {:>7.0f}% {:>7.2f}", label(point.settings),
                       width, get("throughput_rps").mean, fmt::format("{:.1f} ±{:.1f}", goodput.mean, goodput.ci95),
                       cell(get("latency_mean_ms")), cell(get("latency_p50_ms")),
                       cell(get("latency_p99_ms")), cell(get("latency_p999_ms")), get("error_rate").mean * 100,
                       get("utilization_mean").mean * 100, get("utilization_spread").mean);
    if (m.count("hit_ratio")) out << fmt::format("  hit {:.1f}%", m.at("hit_ratio").mean * 100);
    if (m.count("attempts_per_request")) out << fmt::format("  attempts/request {:.3f}", m.at("attempts_per_request").mean);
    out << '\n';
  }
}

void write_csv(const std::vector<PointResult>& points, std::ostream& out) {
  if (points.empty()) return;
  std::set<std::string> metrics, statuses;
  for (const auto& point : points) {
    for (const auto& [name, stat] : point.metrics) metrics.insert(name);
    for (const auto& [status, stat] : point.status_rates) statuses.insert(status);
  }
  for (const auto& [key, value] : points.front().settings) out << key << ',';
  out << "seeds";
  for (const auto& name : metrics) out << ',' << name << ',' << name << "_ci95";
  for (const auto& status : statuses) out << ",status_" << status << "_rate";
  out << '\n';
  for (const auto& point : points) {
    for (const auto& [key, value] : point.settings) out << value << ',';
    out << point.seeds;
    for (const auto& name : metrics) {
      const auto it = point.metrics.find(name);
      if (it == point.metrics.end()) out << ",,";
      else out << fmt::format(",{:.6g},{:.6g}", it->second.mean, it->second.ci95);
    }
    for (const auto& status : statuses) {
      const auto it = point.status_rates.find(status);
      out << ',' << (it == point.status_rates.end() ? 0.0 : it->second.mean);
    }
    out << '\n';
  }
}

void write_json(const ExperimentSpec& spec, const std::vector<PointResult>& points, std::ostream& out) {
  nlohmann::ordered_json json;
  json["scenario"] = spec.scenario;
  json["seeds"] = spec.seeds;
  json["requests"] = spec.requests;
  json["overrides"] = spec.overrides;
  json["axes"] = nlohmann::ordered_json::array();
  for (const auto& axis : spec.axes) json["axes"].push_back({{"key", axis.key}, {"values", axis.values}});
  json["points"] = nlohmann::ordered_json::array();
  for (const auto& point : points) {
    nlohmann::ordered_json p;
    for (const auto& [key, value] : point.settings) p["settings"][key] = value;
    for (const auto& [name, stat] : point.metrics) p["metrics"][name] = {{"mean", stat.mean}, {"ci95", stat.ci95}};
    for (const auto& [status, stat] : point.status_rates) p["status_rates"][status] = {{"mean", stat.mean}, {"ci95", stat.ci95}};
    json["points"].push_back(p);
  }
  out << json.dump(2) << '\n';
}

namespace {

// What every point measures (a few more appear only where their components are: hit_ratio,
// utilization_*, attempts_per_request).
const std::vector<std::string> kPlotMetrics = {
    "latency_mean_ms", "latency_p50_ms",  "latency_p95_ms",     "latency_p99_ms",     "latency_p999_ms",
    "latency_max_ms",  "throughput_rps",  "goodput_rps",        "error_rate",         "utilization_mean",
    "utilization_spread", "hit_ratio",    "attempts_per_request"};

// A round number at or above `high`, for the top of a y axis.
double round_top(double high) {
  const double magnitude = std::pow(10.0, std::floor(std::log10(std::max(high, 1e-9))));
  for (double step : {1.0, 2.0, 2.5, 5.0, 10.0})
    if (step * magnitude >= high) return step * magnitude;
  return 10 * magnitude;
}

// Text from a sweep (values, labels) inside the SVG's markup.
std::string xml(const std::string& text) {
  std::string out;
  for (const char c : text) {
    if (c == '<') out += "&lt;";
    else if (c == '>') out += "&gt;";
    else if (c == '&') out += "&amp;";
    else if (c == '"') out += "&quot;";
    else out += c;
  }
  return out;
}

// The page both plots draw on: its size, the plotting area's margins, and the y axis.
struct Page {
  static constexpr double width = 900, height = 540, left = 80, right = 250, top = 50, bottom = 70;
  double y_top;
  double sy(double y) const { return height - bottom - y / y_top * (height - top - bottom); }
};

// The SVG's opening, its title and the y axis's grid lines with their values.
void begin_svg(const Page& page, const std::string& title, std::ostream& out) {
  out << fmt::format(R"svg(<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{}" viewBox="0 0 {} {}" font-family="Inter, Helvetica, Arial, sans-serif">
<rect width="100%" height="100%" fill="white"/>
<text x="{}" y="28" font-size="18" font-weight="600">{}</text>
)svg",
                     Page::width, Page::height, Page::width, Page::height, Page::left, xml(title));
  for (int tick = 0; tick <= 5; ++tick) {
    const double y = page.y_top * tick / 5;
    out << fmt::format(R"svg(<line x1="{}" y1="{:.1f}" x2="{}" y2="{:.1f}" stroke="#e4e6eb"/><text x="{}" y="{:.1f}" font-size="12" text-anchor="end" fill="#555">{:g}</text>
)svg",
                       Page::left, page.sy(y), Page::width - Page::right, page.sy(y), Page::left - 8, page.sy(y) + 4, y);
  }
}

constexpr const char* kColours[] = {"#2f6fdb", "#e0562b", "#2aa876", "#9b51e0", "#d4a017", "#17a2b8", "#c2185b", "#555555"};

// Categorical sweeps only: a group of bars per value of the last axis, a bar per value of the others.
void write_svg_bars(const ExperimentSpec& spec, const std::vector<PointResult>& points, const std::string& metric,
                    std::ostream& out) {
  const std::size_t group_axis = spec.axes.size() - 1;
  const auto& groups = spec.axes[group_axis].values;
  std::vector<std::string> bars;  // the other axes' values, in order of first appearance
  double y_high = 0;
  bool measured = false;
  for (const auto& point : points) {
    const auto name = label(point.settings, group_axis);
    if (std::find(bars.begin(), bars.end(), name) == bars.end()) bars.push_back(name);
    if (auto it = point.metrics.find(metric); it != point.metrics.end()) {
      y_high = std::max(y_high, it->second.mean + it->second.ci95);
      measured = true;
    }
  }
  if (!measured) throw std::invalid_argument("--plot-metric " + metric + ": no point measured it (no such component in the scenario?)");
  const Page page{round_top(y_high)};
  const double width = Page::width, height = Page::height, left = Page::left, right = Page::right, top = Page::top, bottom = Page::bottom;
  const double group_width = (width - left - right) / static_cast<double>(groups.size());
  const double bar_width = group_width * 0.8 / static_cast<double>(bars.size());
  auto sy = [&](double y) { return page.sy(y); };
  begin_svg(page, spec.scenario + " — " + metric + " by " + spec.axes[group_axis].key, out);
  for (std::size_t g = 0; g < groups.size(); ++g)
    out << fmt::format(R"svg(<text x="{:.1f}" y="{}" font-size="13" text-anchor="middle">{}</text>
)svg",
                       left + group_width * (static_cast<double>(g) + 0.5), height - bottom + 20, xml(groups[g]));
  for (const auto& point : points) {
    const auto it = point.metrics.find(metric);
    if (it == point.metrics.end()) continue;
    const auto g = static_cast<std::size_t>(std::find(groups.begin(), groups.end(), point.settings[group_axis].second) - groups.begin());
    const auto b = static_cast<std::size_t>(std::find(bars.begin(), bars.end(), label(point.settings, group_axis)) - bars.begin());
    const double x = left + group_width * static_cast<double>(g) + group_width * 0.1 + bar_width * static_cast<double>(b);
    const double mean = it->second.mean, ci = it->second.ci95;
    const double whisker = x + bar_width * 0.45;
    out << fmt::format(R"svg(<rect x="{:.1f}" y="{:.1f}" width="{:.1f}" height="{:.1f}" fill="{}"><title>{} {}: {:g} ± {:g}</title></rect>
<line x1="{:.1f}" y1="{:.1f}" x2="{:.1f}" y2="{:.1f}" stroke="#222" stroke-width="1.5"/>
)svg",
                       x, sy(mean), bar_width * 0.9, sy(0) - sy(mean), kColours[b % std::size(kColours)], xml(point.settings[group_axis].second),
                       xml(bars[b]), mean, ci, whisker, sy(mean + ci), whisker, sy(std::max(0.0, mean - ci)));
  }
  out << fmt::format(R"svg(<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#333"/><line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#333"/>
<text x="20" y="{}" font-size="14" text-anchor="middle" transform="rotate(-90 20 {})">{}</text>
)svg",
                     left, height - bottom, width - right, height - bottom, left, top, left, height - bottom, (top + height - bottom) / 2,
                     (top + height - bottom) / 2, metric + " (mean ± 95 % CI over seeds)");
  for (std::size_t b = 0; b < bars.size() && bars.size() > 1; ++b)
    out << fmt::format(R"svg(<rect x="{}" y="{:.1f}" width="14" height="14" fill="{}"/><text x="{}" y="{:.1f}" font-size="13">{}</text>
)svg",
                       width - right + 20, top + 4 + static_cast<double>(b) * 24, kColours[b % std::size(kColours)], width - right + 40,
                       top + 16 + static_cast<double>(b) * 24, xml(bars[b]));
  out << "</svg>\n";
}

}  // namespace

void check_plot_request(const std::string& path, const std::string& metric) {
  const bool svg = path.size() > 4 && path.substr(path.size() - 4) == ".svg";
  const bool png = path.size() > 4 && path.substr(path.size() - 4) == ".png";
  if (!svg && !png) throw std::invalid_argument("--plot " + path + ": the file must end in .svg or .png");
  if (std::find(kPlotMetrics.begin(), kPlotMetrics.end(), metric) == kPlotMetrics.end())
    throw std::invalid_argument("--plot-metric " + metric + ": no such metric (" + join(kPlotMetrics, ", ") + ")");
}

void write_svg_plot(const ExperimentSpec& spec, const std::vector<PointResult>& points, const std::string& metric,
                    std::ostream& out) {
  // The x axis: the last axis whose values are all numbers.
  std::size_t x_axis = SIZE_MAX;
  for (std::size_t a = 0; a < spec.axes.size(); ++a)
    if (std::all_of(spec.axes[a].values.begin(), spec.axes[a].values.end(), numeric)) x_axis = a;
  if (spec.axes.empty()) throw std::invalid_argument("--plot needs a --sweep to draw against");
  if (x_axis == SIZE_MAX) return write_svg_bars(spec, points, metric, out);
  struct Sample {
    double x, y, ci;
  };
  std::map<std::string, std::vector<Sample>> series;
  double x_low = 1e300, x_high = -1e300, y_high = 0;
  for (const auto& point : points) {
    const auto it = point.metrics.find(metric);
    if (it == point.metrics.end()) continue;
    const double x = std::stod(point.settings[x_axis].second);
    series[label(point.settings, x_axis)].push_back({x, it->second.mean, it->second.ci95});
    x_low = std::min(x_low, x);
    x_high = std::max(x_high, x);
    y_high = std::max(y_high, it->second.mean + it->second.ci95);
  }
  if (series.empty()) throw std::invalid_argument("--plot-metric " + metric + ": no such metric");
  if (x_high == x_low) x_high = x_low + 1;
  const Page page{round_top(y_high)};
  const double width = Page::width, height = Page::height, left = Page::left, right = Page::right, top = Page::top, bottom = Page::bottom;
  auto sx = [&](double x) { return left + (x - x_low) / (x_high - x_low) * (width - left - right); };
  auto sy = [&](double y) { return page.sy(y); };
  begin_svg(page, spec.scenario + " — " + metric + " against " + spec.axes[x_axis].key, out);
  for (const auto& value : spec.axes[x_axis].values) {
    const double x = std::stod(value);
    out << fmt::format(R"svg(<line x1="{:.1f}" y1="{}" x2="{:.1f}" y2="{}" stroke="#e4e6eb"/><text x="{:.1f}" y="{}" font-size="12" text-anchor="middle" fill="#555">{}</text>
)svg",
                       sx(x), top, sx(x), height - bottom, sx(x), height - bottom + 18, value);
  }
  out << fmt::format(R"svg(<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#333"/><line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#333"/>
<text x="{}" y="{}" font-size="14" text-anchor="middle">{}</text>
<text x="20" y="{}" font-size="14" text-anchor="middle" transform="rotate(-90 20 {})">{}</text>
)svg",
                     left, height - bottom, width - right, height - bottom, left, top, left, height - bottom,
                     (left + width - right) / 2, height - 24, spec.axes[x_axis].key, (top + height - bottom) / 2,
                     (top + height - bottom) / 2, metric + " (mean ± 95 % CI over seeds)");
  int index = 0;
  for (auto& [name, samples] : series) {
    std::sort(samples.begin(), samples.end(), [](const Sample& a, const Sample& b) { return a.x < b.x; });
    const char* color = kColours[index % std::size(kColours)];
    std::string band, line;
    for (const auto& s : samples) band += fmt::format("{:.1f},{:.1f} ", sx(s.x), sy(s.y + s.ci));
    for (auto s = samples.rbegin(); s != samples.rend(); ++s) band += fmt::format("{:.1f},{:.1f} ", sx(s->x), sy(std::max(0.0, s->y - s->ci)));
    for (const auto& s : samples) line += fmt::format("{:.1f},{:.1f} ", sx(s.x), sy(s.y));
    out << fmt::format(R"svg(<polygon points="{}" fill="{}" fill-opacity="0.18" stroke="none"/>
<polyline points="{}" fill="none" stroke="{}" stroke-width="2.5"/>
)svg",
                       band, color, line, color);
    for (const auto& s : samples) out << fmt::format(R"svg(<circle cx="{:.1f}" cy="{:.1f}" r="3.5" fill="{}"/>)svg", sx(s.x), sy(s.y), color) << '\n';
    const double legend_y = top + 10 + index * 24;
    out << fmt::format(R"svg(<rect x="{}" y="{:.1f}" width="18" height="4" fill="{}"/><text x="{}" y="{:.1f}" font-size="13">{}</text>
)svg",
                       width - right + 20, legend_y, color, width - right + 44, legend_y + 6, name);
    ++index;
  }
  out << "</svg>\n";
}

}  // namespace flowframe
