#pragma once
// Questions asked of a whole log, answered off the UI thread: which frames match a filter, all
// hops of one request, and throughput / latency / errors over time.
#include <atomic>
#include <future>

#include "runtime/framelog/frame_text.hpp"
#include "runtime/base/histogram.hpp"
#include "viewer/model/log_model.hpp"

namespace flowframe::view {

struct FrameFilter {
  enum class Status { any, ok, error };
  std::string text;                    // in the frame's kind, nodes and summary, any case (not its number or time)
  std::optional<std::uint32_t> node;   // sender or receiver
  std::optional<std::uint32_t> from, to;
  std::optional<std::pair<std::uint32_t, std::uint64_t>> request;  // (client, request number)
  Status status = Status::any;
  std::optional<std::uint32_t> status_code;  // 503; or a class: 5 for 5xx
  bool status_class = false;
  std::optional<v1::Frame::Kind> kind;
  std::optional<v1::Frame::Outcome> outcome;
  std::string path;  // part of the request's path

  // Fills the filter from what a user types: free words, and fields such as `status:503`,
  // `status:5xx`, `node:server-1`, `from:lb`, `to:db`, `kind:response`, `outcome:cache_miss`,
  // `path:/users`. Returns "" or what is wrong with the query, naming the field.
  std::string parse(const std::string& query, const v1::LogHeader& header);
  bool empty() const {
    return text.empty() && !node && !from && !to && !request && status == Status::any && !status_code && !kind && !outcome &&
           path.empty();
  }
  bool matches(const FrameView& view, const FrameText& text) const;  // `text` must be lowercase
};

// Every pair of nodes a link joins (a link naming a group joins each member), as written (from, to).
std::vector<std::pair<std::uint32_t, std::uint32_t>> linked_pairs(const v1::LogHeader& header);
// The nodes at the other end of `node`'s links, in node order.
std::vector<std::uint32_t> neighbours(const v1::LogHeader& header, std::uint32_t node);

// Runs a filter over every chunk on its own thread; matches grow while it runs.
class FilterScan {
 public:
  FilterScan(LogModel& model, FrameFilter filter);
  ~FilterScan();
  std::size_t size() const;
  std::uint64_t at(std::size_t i) const;
  // Position of the first match at or after `frame`.
  std::size_t lower_bound(std::uint64_t frame) const;
  double progress() const { return progress_.load(); }
  bool done() const { return done_.load(); }

 private:
  LogModel& model_;
  FrameFilter filter_;
  mutable std::mutex mutex_;
  std::vector<std::uint64_t> matches_;
  std::atomic<double> progress_{0};
  std::atomic<bool> done_{false};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// Every hop of one request, in order.
struct Trace {
  std::uint32_t client = 0;
  std::uint64_t request = 0;
  std::vector<FrameView> hops;
  Time start() const { return hops.empty() ? 0 : hops.front().sent; }
  Time end() const { return hops.empty() ? 0 : hops.back().time; }
};
// Looks for the request's hops in the chunks around `near` (a request's hops lie close together).
Trace trace_request(LogModel& model, std::uint32_t client, std::uint64_t request, std::uint64_t near);

// Throughput, errors and client latency percentiles per time bucket, over the whole log; with
// message brokers, what waits (queue brokers: ready messages; log brokers: the groups' lag) and what
// is out (unacknowledged messages; records not yet replicated), the most in each bucket over all
// brokers.
// The run over time, counted as the run summary counts: a request completes when its client
// gets a 2xx answer and fails on any other end; its latency runs from when it was first sent.
struct Metrics {
  Time start = 0, end = 0;
  Time bucket = 1;  // of the request series: wide enough that a bucket holds several requests
  std::vector<float> completed_per_s, errors_per_s;
  std::vector<float> p50_ms, p95_ms, p99_ms;  // NaN where no request ended
  Time broker_bucket = 1;
  std::vector<float> ready, unacked;  // empty without brokers
  bool logs = false;  // the brokers are log brokers: ready is lag, unacked is unreplicated
  // Over the whole run, as the summary prints them.
  std::uint64_t completed = 0, failed = 0;
  LatencyHistogram latency;
  std::size_t size() const { return completed_per_s.size(); }
};
class MetricsScan {
 public:
  // At most `buckets` buckets; fewer when few requests ended.
  MetricsScan(LogModel& model, std::size_t buckets);
  ~MetricsScan();
  bool done() const { return done_.load(); }
  // Valid once done().
  const Metrics& metrics() const { return metrics_; }

 private:
  LogModel& model_;
  Metrics metrics_;
  std::atomic<bool> done_{false};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace flowframe::view
