#include "viewer/model/queries.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <set>
#include <sstream>

#include "runtime/base/text.hpp"
#include "runtime/framelog/request_tracker.hpp"

namespace flowframe::view {

std::vector<std::pair<std::uint32_t, std::uint32_t>> linked_pairs(const v1::LogHeader& header) {
  std::map<std::string, std::vector<std::uint32_t>> named;
  for (const auto& node : header.nodes()) {
    named[node.id()].push_back(node.index());
    if (!node.group().empty()) named[node.group()].push_back(node.index());
  }
  std::set<std::pair<std::uint32_t, std::uint32_t>> links;
  for (const auto& link : header.scenario().links())
    for (auto from : named[link.from()])
      for (auto to : named[link.to()]) links.insert({from, to});
  return {links.begin(), links.end()};
}

std::vector<std::uint32_t> neighbours(const v1::LogHeader& header, std::uint32_t node) {
  std::set<std::uint32_t> found;
  for (const auto& [from, to] : linked_pairs(header)) {
    if (from == node) found.insert(to);
    if (to == node) found.insert(from);
  }
  return {found.begin(), found.end()};
}

std::string FrameFilter::parse(const std::string& query, const v1::LogHeader& header) {
  auto node_named = [&](const std::string& id) -> std::optional<std::uint32_t> {
    for (const auto& n : header.nodes())
      if (lowercase(n.id()) == id) return n.index();
    return std::nullopt;
  };
  std::vector<std::string> words;
  std::istringstream in(lowercase(query));
  for (std::string word; in >> word;) {
    const auto colon = word.find(':');
    const auto field = colon == std::string::npos ? "" : word.substr(0, colon);
    const auto value = colon == std::string::npos ? word : word.substr(colon + 1);
    if (field.empty() || (field != "status" && field != "node" && field != "from" && field != "to" && field != "kind" &&
                          field != "outcome" && field != "path")) {
      words.push_back(word);  // "10:30" or "user:7" are words, not fields
      continue;
    }
    if (value.empty()) return field + ": needs a value";
    if (field == "status") {
      const bool is_class = value.size() == 3 && value.substr(1) == "xx";
      const auto digits = is_class ? value.substr(0, 1) : value;
      if (digits.find_first_not_of("0123456789") != std::string::npos || digits.size() > 3)
        return "status: '" + value + "' is not a status (503, or 5xx)";
      status_code = static_cast<std::uint32_t>(std::stoul(digits));
      status_class = is_class;
    } else if (field == "node" || field == "from" || field == "to") {
      const auto found = node_named(value);
      if (!found) return field + ": no node '" + value + "'";
      (field == "node" ? node : field == "from" ? from : to) = found;
    } else if (field == "kind") {
      v1::Frame::Kind parsed;
      if (!v1::Frame::Kind_Parse(uppercase(value), &parsed)) return "kind: '" + value + "' (request, response, timer, message, control…)";
      kind = parsed;
    } else if (field == "outcome") {
      v1::Frame::Outcome parsed;
      if (!v1::Frame::Outcome_Parse(uppercase(value), &parsed)) return "outcome: no outcome '" + value + "' (cache_miss, not_found…)";
      outcome = parsed;
    } else {
      path = value;
    }
  }
  for (const auto& word : words) text += (text.empty() ? "" : " ") + word;
  return "";
}

bool FrameFilter::matches(const FrameView& view, const FrameText& text_of) const {
  const auto& f = view.frame;
  if (node && f.src() != *node && f.dst() != *node) return false;
  if (from && f.src() != *from) return false;
  if (to && f.dst() != *to) return false;
  if (request && (f.client() != request->first || f.request() != request->second)) return false;
  if (status == Status::ok && is_error(f)) return false;
  if (status == Status::error && !is_error(f)) return false;
  if (status_code && (status_class ? f.status() / 100 != *status_code : f.status() != *status_code)) return false;
  if (kind && f.kind() != *kind) return false;
  if (outcome && f.outcome() != *outcome) return false;
  if (!path.empty() && lowercase(text_of.path(f)).find(path) == std::string::npos) return false;
  if (!text.empty()) {
    const auto words = lowercase(fmt::format("{} {} -> {} {}", v1::Frame::Kind_Name(f.kind()), text_of.node(f.src()),
                                             text_of.node(f.dst()), text_of.summary(f)));
    if (words.find(text) == std::string::npos) return false;
  }
  return true;
}

FilterScan::FilterScan(LogModel& model, FrameFilter filter) : model_(model), filter_(std::move(filter)) {
  filter_.text = lowercase(filter_.text);
  thread_ = std::thread([this] {
    FrameText text(model_.header());
    const auto chunks = model_.chunk_count();
    for (std::size_t c = 0; c < chunks && !stop_; ++c) {
      const auto decoded = model_.chunk(c, true);
      std::vector<std::uint64_t> found;
      for (const auto& view : decoded->frames)
        if (filter_.matches(view, text)) found.push_back(view.index);
      {
        std::lock_guard lock(mutex_);
        matches_.insert(matches_.end(), found.begin(), found.end());
      }
      progress_ = static_cast<double>(c + 1) / static_cast<double>(chunks);
    }
    done_ = true;
  });
}

FilterScan::~FilterScan() {
  stop_ = true;
  thread_.join();
}

std::size_t FilterScan::size() const {
  std::lock_guard lock(mutex_);
  return matches_.size();
}

std::uint64_t FilterScan::at(std::size_t i) const {
  std::lock_guard lock(mutex_);
  return i < matches_.size() ? matches_[i] : 0;
}

std::size_t FilterScan::lower_bound(std::uint64_t frame) const {
  std::lock_guard lock(mutex_);
  return static_cast<std::size_t>(std::lower_bound(matches_.begin(), matches_.end(), frame) - matches_.begin());
}

Trace trace_request(LogModel& model, std::uint32_t client, std::uint64_t request, std::uint64_t near) {
  constexpr std::size_t kReach = 4;  // chunks either side
  Trace trace{client, request, {}};
  const auto center = model.chunk_of_frame(near);
  const auto first = center > kReach ? center - kReach : 0;
  for (std::size_t c = first; c <= center + kReach && c < model.chunk_count(); ++c) {
    const auto decoded = model.chunk(c, true);
    for (const auto& view : decoded->frames)
      if (view.frame.client() == client && view.frame.request() == request && view.frame.kind() != v1::Frame::CONTROL)
        trace.hops.push_back(view);
  }
  return trace;
}


namespace {

// Exact percentile of a bucket's latencies (nearest rank), which it reorders.
float percentile_ms(std::vector<Time>& values, double q) {
  if (values.empty()) return std::numeric_limits<float>::quiet_NaN();
  const auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(values.size()))) - 1;
  auto at = values.begin() + static_cast<std::ptrdiff_t>(std::min(rank, values.size() - 1));
  std::nth_element(values.begin(), at, values.end());
  return static_cast<float>(to_millis(*at));
}

}  // namespace

MetricsScan::MetricsScan(LogModel& model, std::size_t buckets) : model_(model) {
  thread_ = std::thread([this, buckets] {
    Metrics m;
    m.start = model_.first_time();
    m.end = std::max(m.start + 1, model_.last_time());
    const Time span = m.end - m.start;
    m.broker_bucket = std::max<Time>(1, (span + static_cast<Time>(buckets) - 1) / static_cast<Time>(buckets));
    struct Ended {
      Time at, latency;
      bool ok;
    };
    std::vector<Ended> ended;
    RequestTracker<> requests(model_.header());
    // Each broker's most ready and unacknowledged messages per bucket (-1: no frame there).
    std::map<std::uint32_t, std::pair<std::vector<float>, std::vector<float>>> brokers;
    const auto& nodes = model_.header().nodes();
    for (const auto& node : nodes)
      if (node.kind() == v1::Node::QUEUE_BROKER || node.kind() == v1::Node::LOG_BROKER) {
        brokers[node.index()] = {std::vector<float>(buckets, -1), std::vector<float>(buckets, -1)};
        m.logs |= node.kind() == v1::Node::LOG_BROKER;
      }
    for (std::size_t c = 0; c < model_.chunk_count() && !stop_; ++c) {
      const auto decoded = model_.chunk(c, true);
      for (const auto& view : decoded->frames) {
        const auto& f = view.frame;
        if (auto broker = brokers.find(f.dst()); broker != brokers.end()) {
          const auto b = std::min<std::size_t>(buckets - 1, static_cast<std::size_t>((view.time - m.start) / m.broker_bucket));
          auto& [ready, unacked] = broker->second;
          ready[b] = std::max(ready[b], static_cast<float>(f.queue()));
          unacked[b] = std::max(unacked[b], static_cast<float>(f.load()));
        }
        const auto seen = requests.see(view);
        if (!seen.ends) continue;
        const bool ok = f.kind() == v1::Frame::RESPONSE && f.outcome() != v1::Frame::TIMED_OUT && f.status() >= 200 && f.status() < 300;
        (ok ? m.completed : m.failed) += 1;
        const Time latency = seen.request ? view.time - seen.request->sent : -1;  // -1: its start is not in the log
        ended.push_back({view.time, latency, ok});
        if (seen.request) {
          m.latency.record(latency);
          requests.end(seen.key);
        }
      }
    }
    // Request series: about eight ended requests per bucket on average, so a rate is not one
    // request over a sliver of time.
    const std::size_t count = std::clamp<std::size_t>(ended.size() / 8, 1, buckets);
    m.bucket = std::max<Time>(1, (span + static_cast<Time>(count) - 1) / static_cast<Time>(count));
    std::vector<std::vector<Time>> latencies(count);
    std::vector<std::uint64_t> completed(count, 0), errors(count, 0);
    for (const auto& request : ended) {
      const auto b = std::min<std::size_t>(count - 1, static_cast<std::size_t>((request.at - m.start) / m.bucket));
      ++(request.ok ? completed : errors)[b];
      if (request.latency >= 0) latencies[b].push_back(request.latency);
    }
    const double seconds = to_seconds(m.bucket);
    for (std::size_t b = 0; b < count; ++b) {
      m.completed_per_s.push_back(static_cast<float>(completed[b] / seconds));
      m.errors_per_s.push_back(static_cast<float>(errors[b] / seconds));
      m.p50_ms.push_back(percentile_ms(latencies[b], 0.5));
      m.p95_ms.push_back(percentile_ms(latencies[b], 0.95));
      m.p99_ms.push_back(percentile_ms(latencies[b], 0.99));
    }
    if (!brokers.empty()) {
      m.ready.assign(buckets, 0);
      m.unacked.assign(buckets, 0);
    }
    for (auto& [node, series] : brokers) {
      float last_ready = 0, last_unacked = 0;  // a bucket without frames keeps the level before it
      for (std::size_t b = 0; b < buckets; ++b) {
        if (series.first[b] >= 0) last_ready = series.first[b], last_unacked = series.second[b];
        m.ready[b] += last_ready;
        m.unacked[b] += last_unacked;
      }
    }
    metrics_ = std::move(m);
    done_ = true;
  });
}

MetricsScan::~MetricsScan() {
  stop_ = true;
  thread_.join();
}

}  // namespace flowframe::view
