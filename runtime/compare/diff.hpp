#pragma once
// `flowframe diff`: two runs of a workload under two designs, compared from their frame logs: the
// settings that differ, the summary figures side by side and whether each difference is beyond the
// runs' noise, per-node counts, the first frame where the runs part, and the requests whose latency
// changed most.
#include <nlohmann/json.hpp>

#include <atomic>
#include <map>
#include <stdexcept>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "runtime/base/histogram.hpp"
#include "runtime/base/stats.hpp"
#include "runtime/framelog/frame_log.hpp"

namespace flowframe {

// One log's figures, counted from its frames as the run summary counts them: a request ends at its
// client (answered, given up, timed out); its latency runs from its first attempt leaving.
struct LogFigures {
  std::string path;
  v1::LogHeader header;
  std::uint64_t frames = 0;
  std::uint64_t hops = 0;
  std::uint64_t sent = 0;
  std::uint64_t completed = 0;  // answered 2xx
  std::uint64_t failed = 0;     // ended otherwise
  std::map<std::uint32_t, std::uint64_t> by_status;
  Time first_sent = 0, last_ended = 0;
  LatencyHistogram latency;
  Moments latency_ms;  // of every ended request, for the test across requests
  struct Node {
    std::uint64_t frames = 0, arrivals = 0, errors = 0;
    std::uint32_t max_queue = 0;
  };
  std::vector<Node> nodes;
  std::vector<std::string> problems;  // what the reader could not read

  std::uint64_t ended() const { return completed + failed; }
  double error_rate() const { return ended() ? static_cast<double>(failed) / static_cast<double>(ended()) : 0; }
  // Ended requests per second from the first request to the last end.
  double throughput_rps() const;
};

// Reads a whole log (damaged chunks skipped, listed in `problems`). Throws LogError if it is not one.
LogFigures read_figures(const std::string& path);

struct FigureDiff {
  std::string name;  // as in --summary-json: latency_p99_ms, error_rate, ...
  double a = 0, b = 0;
  // Beyond the runs' noise at 95 %: across seeds (Welch) with two or more logs per side; with one,
  // across requests for the mean latency (Welch) and the error rate (two proportions); otherwise
  // unknown.
  std::optional<bool> beyond_noise;
  std::string test;  // how that was decided
};

// A figure as print_diff writes it: whole numbers without decimals, others to three places.
std::string figure_text(double value);
// Whether the difference is beyond noise: "yes", "no", or "?" when unknown.
std::string noise_text(const FigureDiff& d);
// B against A in percent ("+12.5%"); "" when A is 0.
std::string change_text(const FigureDiff& d);

struct NodeDiff {
  std::string node;
  LogFigures::Node a, b;
};

struct LatencyChange {
  std::string request;  // client#n
  std::string path;
  Time a = 0, b = 0;
};

struct RunDiff {
  std::vector<std::string> a_paths, b_paths;
  std::vector<std::string> settings;  // how B's scenario differs from A's, one line each
  std::uint64_t a_seed = 0, b_seed = 0;
  std::vector<FigureDiff> figures;
  std::vector<NodeDiff> nodes;  // by node id, of the first log on each side
  // The first frame where the first logs differ in what happened (states aside): its number and
  // each side's frame in words ("" where a log had ended); nullopt if they hold the same frames.
  struct Divergence {
    std::uint64_t frame = 0;    // A's frame number (B's if A had ended)
    std::uint64_t b_frame = 0;  // B's: the same unless a damaged chunk was skipped in one log only
    std::string a, b;
  };
  std::optional<Divergence> divergence;
  std::vector<LatencyChange> latency_changes;  // most changed first
  std::uint64_t requests_in_one_only = 0;
  std::vector<std::string> problems;  // damaged or cut logs, by path
};

// Thrown by diff_runs when its `stop` was set.
struct DiffStopped : std::runtime_error {
  DiffStopped() : std::runtime_error("the comparison was stopped") {}
};

// Compares side A's logs with side B's (one each, or several seeds each, such as `flowframe bench
// --record` writes per point). Throws LogError if a file is not a frame log. `stop`, set from
// another thread, ends it within a chunk's reading.
RunDiff diff_runs(const std::vector<std::string>& a, const std::vector<std::string>& b, std::size_t top_requests = 10,
                  const std::atomic<bool>* stop = nullptr);

void print_diff(const RunDiff& diff, std::ostream& out);
nlohmann::ordered_json diff_json(const RunDiff& diff);

}  // namespace flowframe
