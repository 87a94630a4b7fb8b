#include "runtime/compare/diff.hpp"

#include <fmt/format.h>
#include <google/protobuf/util/message_differencer.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <limits>
#include <sstream>

#include "runtime/framelog/frame_text.hpp"
#include "runtime/framelog/request_tracker.hpp"

namespace flowframe {
namespace {

using F = v1::Frame;

struct Ended {
  Time latency = 0;
  std::uint32_t path = 0;
  std::uint64_t id = 0;
};

void check(const std::atomic<bool>* stop) {
  if (stop && stop->load(std::memory_order_relaxed)) throw DiffStopped();
}

LogFigures read_log(const std::string& path, std::map<RequestKey, Ended>* ended, const std::atomic<bool>* stop) {
  FrameLogReader reader(path);
  LogFigures figures;
  figures.path = path;
  figures.header = reader.header();
  const auto& header = figures.header;
  figures.nodes.resize(static_cast<std::size_t>(header.nodes_size()));
  RequestTracker<> requests(header);
  Time first_sent = std::numeric_limits<Time>::max();
  DecodedChunk chunk;
  for (std::size_t i = 0; i < reader.chunks().size(); ++i) {
    check(stop);
    if (!reader.read_chunk(i, chunk, FrameLogReader::States::skip)) continue;
    for (const auto& view : chunk.frames) {
      const auto& f = view.frame;
      ++figures.frames;
      figures.hops += is_hop(f);
      if (f.dst() < figures.nodes.size()) {
        auto& node = figures.nodes[f.dst()];
        ++node.frames;
        node.arrivals += f.kind() == F::REQUEST && f.dst() != f.client();
        node.errors += is_error(f);
        node.max_queue = std::max(node.max_queue, f.queue());
      }
      const auto seen = requests.see(view);
      figures.sent += seen.started;
      // From the earliest attempt, as the latencies run (a retry may arrive before the first attempt).
      if (seen.request) first_sent = std::min(first_sent, seen.request->sent);
      if (!seen.ends || !seen.request) continue;
      const Time latency = view.time - seen.request->sent;
      requests.end(seen.key);
      figures.latency.record(latency);
      figures.latency_ms.add(static_cast<double>(latency) / 1e6);
      ++figures.by_status[f.status()];
      (f.status() >= 200 && f.status() < 300 ? figures.completed : figures.failed) += 1;
      figures.last_ended = std::max(figures.last_ended, view.time);
      if (ended) (*ended)[seen.key] = {latency, f.path(), f.id()};
    }
  }
  figures.first_sent = figures.sent ? first_sent : 0;
  figures.problems = reader.health().problems;
  return figures;
}

double millis(Time t) { return static_cast<double>(t) / 1e6; }

// Each figure --summary-json names, as taken from a log's figures.
const std::vector<std::pair<std::string, std::function<double(const LogFigures&)>>>& figure_readers() {
  static const std::vector<std::pair<std::string, std::function<double(const LogFigures&)>>> readers = {
      {"sent", [](const LogFigures& f) { return static_cast<double>(f.sent); }},
      {"completed", [](const LogFigures& f) { return static_cast<double>(f.completed); }},
      {"failed", [](const LogFigures& f) { return static_cast<double>(f.failed); }},
      {"error_rate", [](const LogFigures& f) { return f.error_rate(); }},
      {"throughput_rps", [](const LogFigures& f) { return f.throughput_rps(); }},
      {"latency_mean_ms", [](const LogFigures& f) { return f.latency.mean() / 1e6; }},
      {"latency_p50_ms", [](const LogFigures& f) { return millis(f.latency.quantile(0.50)); }},
      {"latency_p95_ms", [](const LogFigures& f) { return millis(f.latency.quantile(0.95)); }},
      {"latency_p99_ms", [](const LogFigures& f) { return millis(f.latency.quantile(0.99)); }},
      {"latency_max_ms", [](const LogFigures& f) { return millis(f.latency.max()); }},
      {"hops", [](const LogFigures& f) { return static_cast<double>(f.hops); }},
  };
  return readers;
}

FigureDiff compare_figure(const std::string& name, const std::function<double(const LogFigures&)>& read,
                          const std::vector<LogFigures>& a, const std::vector<LogFigures>& b) {
  FigureDiff d;
  d.name = name;
  Moments ma, mb;
  for (const auto& f : a) ma.add(read(f));
  for (const auto& f : b) mb.add(read(f));
  d.a = ma.mean();
  d.b = mb.mean();
  if (a.size() >= 2 && b.size() >= 2) {
    d.beyond_noise = differ_beyond_noise(ma, mb);
    d.test = fmt::format("Welch's t over {} and {} seeds", a.size(), b.size());
  } else if (d.a == d.b) {
    d.beyond_noise = false;
    d.test = "equal";
  } else if (a.size() != 1 || b.size() != 1) {
    d.test = "unknown: a side with one log has no spread across seeds (give each side several)";
  } else if (name == "latency_mean_ms" && a[0].latency_ms.count >= 2 && b[0].latency_ms.count >= 2) {
    d.beyond_noise = differ_beyond_noise(a[0].latency_ms, b[0].latency_ms);
    d.test = "Welch's t over requests (one seed each: requests queue behind each other, so this understates the noise)";
  } else if (name == "error_rate" && a[0].ended() && b[0].ended()) {
    const double na = static_cast<double>(a[0].ended()), nb = static_cast<double>(b[0].ended());
    const double pooled = static_cast<double>(a[0].failed + b[0].failed) / (na + nb);
    const double se = std::sqrt(pooled * (1 - pooled) * (1 / na + 1 / nb));
    d.beyond_noise = std::abs(d.b - d.a) > 1.96 * se;
    d.test = "two proportions over requests (one seed each)";
  } else {
    d.test = "unknown with one seed each: compare several (flowframe bench --record)";
  }
  return d;
}

std::vector<std::string> setting_differences(const v1::Scenario& a, const v1::Scenario& b) {
  std::vector<std::string> lines;
  if (a.name() != b.name())
    lines.push_back(fmt::format("different scenarios: {} and {}; their nodes are compared by position, their frames are unlike", a.name(),
                                b.name()));
  google::protobuf::util::MessageDifferencer differencer;
  // The description notes the --set changes in words; the fields themselves say them exactly.
  differencer.IgnoreField(v1::Scenario::descriptor()->FindFieldByName("description"));
  differencer.IgnoreField(v1::Scenario::descriptor()->FindFieldByName("explanation"));  // words for learners
  // A field at its default (round robin) and one set to another value is a change, not an addition.
  differencer.set_message_field_comparison(google::protobuf::util::MessageDifferencer::EQUIVALENT);
  std::string report;
  differencer.ReportDifferencesToString(&report);
  differencer.Compare(a, b);
  std::istringstream in(report);
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line.rfind("ignored:", 0) == 0) continue;
    // nodes[4] -> nodes[4] (lb): which node, as users name it.
    const auto at = line.find("nodes[");
    const auto end = at == std::string::npos ? at : line.find(']', at);
    if (end != std::string::npos) {
      const auto index = std::strtoul(line.c_str() + at + 6, nullptr, 10);
      const auto& nodes = index < static_cast<unsigned long>(b.nodes_size()) ? b.nodes() : a.nodes();
      if (index < static_cast<unsigned long>(nodes.size())) line.insert(end + 1, " (" + nodes[static_cast<int>(index)].id() + ")");
      // A whole node added or removed: its name says it; its every field would fill the screen.
      if ((line.rfind("added: ", 0) == 0 || line.rfind("deleted: ", 0) == 0) && line.find("): {") != std::string::npos)
        line.erase(line.find("): {") + 1);
    }
    lines.push_back(line);
  }
  return lines;
}

// What happened, not the state it left: states differ from the first frame wherever a setting
// does (a balancer's strategy), before anything behaves differently.
bool same_frame(const FrameView& a, const FrameView& b) {
  static const auto* state = v1::Frame::descriptor()->FindFieldByName("state");
  google::protobuf::util::MessageDifferencer differencer;
  differencer.IgnoreField(state);
  return a.time == b.time && a.sent == b.sent && differencer.Compare(a.frame, b.frame);
}

// Reads a log's frames in order, a chunk at a time.
class FrameCursor {
 public:
  FrameCursor(const std::string& path, const std::atomic<bool>* stop) : reader_(path), stop_(stop) {}
  const FrameView* next() {
    while (at_ >= chunk_.frames.size()) {
      if (next_chunk_ >= reader_.chunks().size()) return nullptr;
      check(stop_);
      if (!reader_.read_chunk(next_chunk_++, chunk_, FrameLogReader::States::skip)) chunk_.frames.clear();
      at_ = 0;
    }
    return &chunk_.frames[at_++];
  }
  const v1::LogHeader& header() const { return reader_.header(); }

 private:
  FrameLogReader reader_;
  const std::atomic<bool>* stop_;
  DecodedChunk chunk_;
  std::size_t next_chunk_ = 0, at_ = 0;
};

std::optional<RunDiff::Divergence> first_divergence(const std::string& a_path, const std::string& b_path, const std::atomic<bool>* stop) {
  FrameCursor a(a_path, stop), b(b_path, stop);
  const FrameText a_text(a.header()), b_text(b.header());
  while (true) {
    const auto* fa = a.next();
    const auto* fb = b.next();
    if (!fa && !fb) return std::nullopt;
    if (fa && fb && same_frame(*fa, *fb)) continue;
    // The log's own frame number (a damaged chunk skipped before it does not shift it).
    const auto frame = fa ? fa->index : fb->index;
    return RunDiff::Divergence{frame, fb ? fb->index : frame, fa ? a_text.line(*fa) : "", fb ? b_text.line(*fb) : ""};
  }
}

}  // namespace

std::string figure_text(double value) {
  if (value == std::floor(value) && std::abs(value) < 1e15) return fmt::format("{:.0f}", value);
  // A small rate keeps three significant digits: one failure in 2,000 is 0.0005, not 0.000.
  if (std::abs(value) < 0.1) return fmt::format("{:.3g}", value);
  return fmt::format("{:.3f}", value);
}

std::string noise_text(const FigureDiff& d) {
  if (!d.beyond_noise) return "?";
  return *d.beyond_noise ? "yes" : "no";
}

std::string change_text(const FigureDiff& d) { return d.a != 0 ? fmt::format("{:+.1f}%", 100 * (d.b - d.a) / std::abs(d.a)) : ""; }

double LogFigures::throughput_rps() const {
  const Time span = last_ended - first_sent;
  return span > 0 ? static_cast<double>(ended()) / (static_cast<double>(span) / 1e9) : 0;
}

LogFigures read_figures(const std::string& path) { return read_log(path, nullptr, nullptr); }

RunDiff diff_runs(const std::vector<std::string>& a_paths, const std::vector<std::string>& b_paths, std::size_t top_requests,
                  const std::atomic<bool>* stop) {
  if (a_paths.empty() || b_paths.empty()) throw std::invalid_argument("diff needs a log on each side");
  RunDiff diff;
  diff.a_paths = a_paths;
  diff.b_paths = b_paths;
  std::map<RequestKey, Ended> a_ended, b_ended;
  std::vector<LogFigures> a, b;
  for (std::size_t i = 0; i < a_paths.size(); ++i) a.push_back(read_log(a_paths[i], i == 0 ? &a_ended : nullptr, stop));
  for (std::size_t i = 0; i < b_paths.size(); ++i) b.push_back(read_log(b_paths[i], i == 0 ? &b_ended : nullptr, stop));
  for (const auto* side : {&a, &b})
    for (const auto& f : *side)
      for (const auto& problem : f.problems) diff.problems.push_back(f.path + ": " + problem);
  // A side's logs are pooled as seeds of one design: say so when their settings are not the same.
  for (const auto* side : {&a, &b})
    for (std::size_t i = 1; i < side->size(); ++i) {
      auto first = (*side)[0].header.scenario(), other = (*side)[i].header.scenario();
      first.clear_seed(), other.clear_seed();
      if (const auto differ = setting_differences(first, other); !differ.empty())
        diff.problems.push_back(fmt::format("{}: pooled with {} as another seed, but its settings differ ({})", (*side)[i].path,
                                            (*side)[0].path, differ.front()));
    }

  diff.settings = setting_differences(a[0].header.scenario(), b[0].header.scenario());
  diff.a_seed = a[0].header.seed();
  diff.b_seed = b[0].header.seed();
  for (const auto& [name, read] : figure_readers()) diff.figures.push_back(compare_figure(name, read, a, b));

  // Nodes by id: A's in its order, then any only B has.
  std::map<std::string, std::size_t> row_of;
  auto add_nodes = [&](const LogFigures& figures, bool side_b) {
    for (int i = 1; i < figures.header.nodes_size(); ++i) {
      const auto& id = figures.header.nodes(i).id();
      auto [at, added] = row_of.emplace(id, diff.nodes.size());
      if (added) diff.nodes.push_back({id, {}, {}});
      (side_b ? diff.nodes[at->second].b : diff.nodes[at->second].a) = figures.nodes[static_cast<std::size_t>(i)];
    }
  };
  add_nodes(a[0], false);
  add_nodes(b[0], true);

  diff.divergence = first_divergence(a_paths[0], b_paths[0], stop);

  const FrameText text(a[0].header);
  for (const auto& [key, in_a] : a_ended) {
    const auto in_b = b_ended.find(key);
    if (in_b == b_ended.end()) {
      ++diff.requests_in_one_only;
      continue;
    }
    if (in_a.latency == in_b->second.latency) continue;
    v1::Frame frame;
    frame.set_path(in_a.path);
    frame.set_id(in_a.id);
    diff.latency_changes.push_back({fmt::format("{}#{}", text.node(key.first), key.second), text.path(frame), in_a.latency,
                                    in_b->second.latency});
  }
  for (const auto& [key, in_b] : b_ended) diff.requests_in_one_only += !a_ended.count(key);
  const auto by_change = [](const LatencyChange& x, const LatencyChange& y) {
    const auto dx = std::abs(x.b - x.a), dy = std::abs(y.b - y.a);
    return dx != dy ? dx > dy : x.request < y.request;
  };
  const auto keep = std::min(top_requests, diff.latency_changes.size());
  std::partial_sort(diff.latency_changes.begin(), diff.latency_changes.begin() + static_cast<std::ptrdiff_t>(keep),
                    diff.latency_changes.end(), by_change);
  diff.latency_changes.resize(keep);
  return diff;
}

void print_diff(const RunDiff& d, std::ostream& out) {
  const auto side = [](const std::vector<std::string>& paths) {
    return paths.size() == 1 ? paths[0] : fmt::format("{} logs ({}, …)", paths.size(), paths[0]);
  };
  out << "A: " << side(d.a_paths) << "\nB: " << side(d.b_paths) << "\n";
  if (d.a_seed != d.b_seed) out << fmt::format("seeds differ: {} and {}\n", d.a_seed, d.b_seed);
  if (d.settings.empty()) {
    out << "settings: the same\n";
  } else {
    out << "settings that differ (B against A):\n";
    for (const auto& line : d.settings) out << "  " << line << "\n";
  }
  out << fmt::format("\n{:<18} {:>14} {:>14} {:>14} {:>9}  {}\n", "figure", "A", "B", "B - A", "change", "beyond noise");
  for (const auto& f : d.figures) {
    out << fmt::format("{:<18} {:>14} {:>14} {:>14} {:>9}  {}\n", f.name, figure_text(f.a), figure_text(f.b), figure_text(f.b - f.a),
                       change_text(f), noise_text(f));
  }
  std::vector<std::string> tests;
  for (const auto& f : d.figures)
    if (std::find(tests.begin(), tests.end(), f.test) == tests.end() && f.test != "equal") tests.push_back(f.test);
  for (const auto& test : tests) out << "  noise: " << test << "\n";

  out << fmt::format("\n{:<16} {:>9} {:>9} {:>10} {:>10} {:>8} {:>8} {:>9} {:>9}\n", "node", "frames A", "frames B",
                     "arrivals A", "arrivals B", "errors A", "errors B", "max q A", "max q B");
  for (const auto& n : d.nodes)
    out << fmt::format("{:<16} {:>9} {:>9} {:>10} {:>10} {:>8} {:>8} {:>9} {:>9}\n", n.node, n.a.frames, n.b.frames,
                       n.a.arrivals, n.b.arrivals, n.a.errors, n.b.errors, n.a.max_queue, n.b.max_queue);

  if (!d.divergence) {
    out << "\nthe runs hold the same frames\n";
  } else {
    const auto& at = *d.divergence;
    out << fmt::format("\nfirst difference at frame {}{}:\n  A: {}\n  B: {}\n", at.frame,
                       at.b_frame != at.frame ? fmt::format(" (B's frame {})", at.b_frame) : "",
                       d.divergence->a.empty() ? "(the log ended)" : d.divergence->a,
                       d.divergence->b.empty() ? "(the log ended)" : d.divergence->b);
  }
  if (!d.latency_changes.empty()) {
    out << "\nlatency changed most (requests that ended in both, changed):\n";
    for (const auto& c : d.latency_changes)
      out << fmt::format("  {:<16} {:<20} {:>10.3f} ms -> {:>10.3f} ms ({:+.3f})\n", c.request, c.path, millis(c.a),
                         millis(c.b), millis(c.b - c.a));
  }
  if (d.requests_in_one_only) out << fmt::format("{} requests ended in one run only\n", d.requests_in_one_only);
  if (d.a_paths.size() == 1 && d.b_paths.size() == 1)
    out << fmt::format("\nside by side, locked by simulated time: flowframe-view {} {}\n", d.a_paths[0], d.b_paths[0]);
}

nlohmann::ordered_json diff_json(const RunDiff& d) {
  nlohmann::ordered_json out;
  out["a"] = d.a_paths;
  out["b"] = d.b_paths;
  out["seeds"] = {d.a_seed, d.b_seed};
  out["settings"] = d.settings;
  out["figures"] = nlohmann::ordered_json::array();
  for (const auto& f : d.figures) {
    nlohmann::ordered_json figure = {{"name", f.name}, {"a", f.a}, {"b", f.b}, {"difference", f.b - f.a}};
    figure["beyond_noise"] = f.beyond_noise ? nlohmann::ordered_json(*f.beyond_noise) : nlohmann::ordered_json();
    figure["test"] = f.test;
    out["figures"].push_back(std::move(figure));
  }
  out["nodes"] = nlohmann::ordered_json::array();
  for (const auto& n : d.nodes) {
    auto side = [](const LogFigures::Node& s) {
      return nlohmann::ordered_json{{"frames", s.frames}, {"arrivals", s.arrivals}, {"errors", s.errors}, {"max_queue", s.max_queue}};
    };
    out["nodes"].push_back({{"node", n.node}, {"a", side(n.a)}, {"b", side(n.b)}});
  }
  if (d.divergence)
    out["first_difference"] = {
        {"frame", d.divergence->frame}, {"b_frame", d.divergence->b_frame}, {"a", d.divergence->a}, {"b", d.divergence->b}};
  else
    out["first_difference"] = nullptr;
  out["latency_changes"] = nlohmann::ordered_json::array();
  for (const auto& c : d.latency_changes)
    out["latency_changes"].push_back(
        {{"request", c.request}, {"path", c.path}, {"a_ms", millis(c.a)}, {"b_ms", millis(c.b)}, {"difference_ms", millis(c.b - c.a)}});
  out["requests_in_one_only"] = d.requests_in_one_only;
  out["problems"] = d.problems;
  return out;
}

}  // namespace flowframe
