#include "runtime/framelog/frame_text.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <google/protobuf/util/json_util.h>

#include "runtime/base/text.hpp"

namespace flowframe {
namespace {

}  // namespace

const std::string& FrameText::node(std::uint32_t index) const {
  static const std::string unknown = "?";
  return index < static_cast<std::uint32_t>(header_.nodes_size()) ? header_.nodes(static_cast<int>(index)).id() : unknown;
}

std::string FrameText::path(const v1::Frame& frame) const {
  std::string name = frame.path() < static_cast<std::uint32_t>(header_.paths_size())
                         ? header_.paths(static_cast<int>(frame.path()))
                         : std::string("?");
  if (const auto at = name.find("{id}"); at != std::string::npos) name.replace(at, 4, std::to_string(frame.id()));
  return name;
}

std::string FrameText::summary(const v1::Frame& f) const {
  const std::string request = fmt::format("{} [{}#{}]", path(f), node(f.client()), f.request());
  const std::string chosen = f.chosen() ? node(f.chosen() - 1) : "?";
  using F = v1::Frame;
  // Components that say what they did in words (caches, databases, gateways, storage) are quoted.
  if (!f.note().empty() && f.kind() != F::CONTROL)
    return f.request() ? fmt::format("{} [{}#{}]", f.note(), node(f.client()), f.request()) : f.note();
  switch (f.kind()) {
    case F::REQUEST:
      switch (f.outcome()) {
        case F::FORWARDED: return fmt::format("{} -> {} (outstanding {})", request, chosen, f.load());
        case F::STARTED: return fmt::format("{} started (busy {}, waiting {})", request, f.load(), f.queue());
        case F::QUEUED: return fmt::format("{} queued (busy {}, waiting {})", request, f.load(), f.queue());
        case F::REJECTED_QUEUE_FULL: return fmt::format("{} 503 queue full ({} waiting)", request, f.queue());
        case F::REJECTED_DOWN: return fmt::format("{} 503 server down", request);
        case F::REJECTED_NO_BACKEND: return fmt::format("{} 503 no healthy backend", request);
        default: return request;
      }
    case F::RESPONSE:
      if (f.outcome() == F::COMPLETED) return fmt::format("{} {} received", f.status(), request);
      if (f.outcome() == F::FORWARDED) return fmt::format("{} {} -> {}", f.status(), request, chosen);
      return fmt::format("{} {}", f.status(), request);
    case F::TIMER:
      if (f.outcome() == F::SERVED)
        return fmt::format("{} served in {:.3f} ms -> {} (busy {}, waiting {})", request, f.latency() / 1e6,
                           f.status(), f.load(), f.queue());
      // A node's own housekeeping (a sweep, a heartbeat) that found nothing to do is about no request.
      if (f.request() == 0) return "its own timer: nothing to do";
      return fmt::format("{} timer", request);
    case F::MESSAGE: return f.request() == 0 ? std::string("a message") : fmt::format("{} message", request);
    case F::TIMEOUT: return fmt::format("{} timed out", request);
    case F::CONTROL:
      return fmt::format("{}{}{}", f.note(), f.previous().empty() ? "" : " (was " + f.previous() + ")",
                         f.outcome() == F::APPLIED ? "" : " REFUSED");
    default:
      return "?";
  }
}

std::string FrameText::line(const FrameView& view) const {
  const auto& f = view.frame;
  return fmt::format("{:>8}  {:>14.6f} s  {:<8} {:>12} -> {:<12} {}", view.index, view.time / 1e9,
                     lowercase(v1::Frame::Kind_Name(f.kind())), node(f.src()), node(f.dst()), summary(f));
}

nlohmann::ordered_json FrameText::json(const FrameView& view) const {
  const auto& f = view.frame;
  nlohmann::ordered_json out;
  out["index"] = view.index;
  out["time_ns"] = view.time;
  out["sent_ns"] = view.sent;
  out["kind"] = lowercase(v1::Frame::Kind_Name(f.kind()));
  out["src"] = node(f.src());
  out["dst"] = node(f.dst());
  out["client"] = node(f.client());
  out["request"] = f.request();
  out["path"] = path(f);
  out["id"] = f.id();
  out["status"] = f.status();
  out["outcome"] = lowercase(v1::Frame::Outcome_Name(f.outcome()));
  out["load"] = f.load();
  out["queue"] = f.queue();
  if (f.chosen()) out["chosen"] = node(f.chosen() - 1);
  if (f.partition()) out["partition"] = f.partition() - 1;
  if (!f.note().empty()) out["note"] = f.note();
  if (!f.previous().empty()) out["previous"] = f.previous();
  out["summary"] = summary(f);
  if (f.has_state()) {
    std::string state;
    google::protobuf::util::JsonPrintOptions options;
    options.preserve_proto_field_names = true;
    if (google::protobuf::util::MessageToJsonString(f.state(), &state, options).ok())
      out["state"] = nlohmann::ordered_json::parse(state);
  }
  return out;
}

std::optional<double> utilization(const v1::ServerState& server, std::uint32_t load, Time now) {
  const auto since = static_cast<std::uint64_t>(std::max<Time>(0, now - server.accounted_ns()));
  const auto capacity = server.capacity_ns() + std::uint64_t{server.capacity()} * since;
  if (!capacity) return std::nullopt;
  return static_cast<double>(server.busy_ns() + std::uint64_t{load} * since) / static_cast<double>(capacity);
}

bool is_error(const v1::Frame& f) {
  using F = v1::Frame;
  // A 404 its receiver answers by asking elsewhere (a cache miss sends the app to the database)
  // is not an error; other failures passed on (a saga compensating, a server's dependency) are.
  const bool handled_miss = f.status() == 404 && (f.outcome() == F::DELEGATED || f.outcome() == F::CACHE_MISS);
  if (f.status() >= 400 && !handled_miss) return true;
  switch (f.outcome()) {
    case F::REJECTED_QUEUE_FULL:
    case F::REJECTED_DOWN:
    case F::REJECTED_NO_BACKEND:
    case F::ABORTED:
    case F::NOT_FOUND:
    case F::POOL_EXHAUSTED:
    case F::RATE_LIMITED:
    case F::NO_ROUTE:
    case F::POOL_EMPTY:
    case F::TOKEN_EXPIRED:
    case F::TOKEN_BAD_SIGNATURE:
    case F::TIMED_OUT:
    case F::LATE:
    case F::CANCELLED:
    case F::REFUSED:
    case F::DROPPED:
    case F::LOST:
    case F::PARTITIONED:
    case F::PROBE_FAILED:
    case F::TOKEN_WRONG_KEY:
    case F::TOKEN_WRONG_PERMISSION:
    case F::BAD_REQUEST:
    case F::GAVE_UP:
    case F::SHORT_CIRCUITED:
    case F::BULKHEAD_FULL:
    case F::SHED:
      return true;
    default:
      return false;
  }
}

std::optional<std::uint32_t> node_named(const v1::LogHeader& header, const std::string& id) {
  for (const auto& node : header.nodes())
    if (node.id() == id) return node.index();
  return std::nullopt;
}

bool is_client(const v1::LogHeader& header, std::uint32_t node) {
  return node < static_cast<std::uint32_t>(header.nodes_size()) && header.nodes(static_cast<int>(node)).kind() == v1::Node::CLIENT;
}

bool leaves_client(const v1::Frame& f, const v1::LogHeader& header) {
  return f.kind() == v1::Frame::REQUEST && f.src() == f.client() && is_client(header, f.src());
}

bool concludes_request(const v1::Frame& f, const v1::LogHeader& header) {
  using F = v1::Frame;
  return f.dst() == f.client() && is_client(header, f.dst()) && (f.kind() == F::RESPONSE || f.kind() == F::TIMEOUT) &&
         (f.outcome() == F::COMPLETED || f.outcome() == F::GAVE_UP || f.outcome() == F::TIMED_OUT);
}

bool is_hop(const v1::Frame& f) {
  using F = v1::Frame;
  return f.src() != f.dst() && f.src() != kDirector && (f.kind() == F::REQUEST || f.kind() == F::RESPONSE || f.kind() == F::MESSAGE);
}

}  // namespace flowframe
