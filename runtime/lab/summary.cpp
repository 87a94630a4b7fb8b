#include "runtime/lab/summary.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "runtime/base/text.hpp"
#include "runtime/scenario/kind.hpp"

namespace flowframe {
namespace {

double round3(double value) { return std::round(value * 1000.0) / 1000.0; }

// What any caller's breakers, retries and bulkheads did, for its row in the summary.
void resilience_metrics(const v1::NodeState& state, const Topology& topology, nlohmann::ordered_json& node) {
  // Lists, not maps by target: a node may guard one target twice (two dependencies, two pools).
  for (const auto& breaker : state.breakers())
    node["breakers"].push_back({{"to", topology.spec(breaker.target()).id()},
                                {"state", v1::BreakerState::State_Name(breaker.state())},
                                {"transitions", breaker.transitions()},
                                {"short_circuited", breaker.short_circuited()}});
  if (state.has_retries()) {
    node["retries"] = state.retries().retries();
    node["gave_up"] = state.retries().gave_up();
    if (state.retries().budget_denied()) node["budget_denied"] = state.retries().budget_denied();
  }
  for (const auto& bulkhead : state.bulkheads())
    node["bulkheads"].push_back({{"to", topology.spec(bulkhead.target()).id()},
                                 {"max_concurrent", bulkhead.max_concurrent()},
                                 {"refused", bulkhead.refused()}});
}

}  // namespace

nlohmann::ordered_json summarize(const Topology& topology, const RunResult& result) {
  nlohmann::ordered_json summary;
  const double sim_s = to_seconds(result.sim_end);
  summary["scenario"] = topology.scenario().name();
  summary["seed"] = topology.seed();
  summary["sim_time_s"] = round3(sim_s);
  summary["wall_s"] = round3(result.wall_s);
  summary["frames"] = result.frames;
  summary["hops"] = result.hops;
  summary["hops_per_s"] = result.wall_s > 0 ? std::round(static_cast<double>(result.hops) / result.wall_s) : 0.0;
  summary["threads"] = result.threads;
  summary["shards"] = result.shards;
  summary["windows"] = result.windows;  // synchronisation rounds between shards
  if (result.cut_short) summary["cut_short"] = true;  // ended stop.drain_s after the duration, work still under way

  LatencyHistogram latencies;
  std::uint64_t sent = 0, completed = 0, failed = 0;
  std::uint64_t first_attempts = 0, retries = 0, gave_up = 0, short_circuited = 0;
  std::map<std::uint32_t, std::uint64_t> by_status;
  Time first_sent = kTimeNever, last_answer = 0;
  nlohmann::ordered_json nodes = nlohmann::ordered_json::object();
  for (NodeIndex i = 1; i < topology.size(); ++i) {
    const auto& component = topology.component(i);
    v1::NodeState state;
    state.set_node(i);
    // A node run by another process (run --workers) as it ended there; the one here never ran.
    if (const auto remote = result.remote_nodes.find(i); remote != result.remote_nodes.end()) {
      state = remote->second.state;
      if (remote->second.latencies) latencies.merge(*remote->second.latencies);
    } else {
      component.snapshot(state);
      if (const auto* measured = component.latencies()) latencies.merge(*measured);
    }
    if (state.has_client()) {
      sent += state.client().sent();
      completed += state.client().completed();
      failed += state.client().failed();
      for (const auto& [status, count] : state.client().by_status()) by_status[status] += count;
      if (state.client().sent()) first_sent = std::min(first_sent, state.client().first_sent_ns());
      last_answer = std::max(last_answer, state.client().last_answer_ns());
      first_attempts += state.retries().first_attempts();
      retries += state.retries().retries();
      gave_up += state.retries().gave_up();
      for (const auto& breaker : state.breakers()) short_circuited += breaker.short_circuited();
    }
    nlohmann::ordered_json node;
    node["kind"] = kind_name(component.spec().kind());
    node["handled"] = state.handled();
    node["rejected"] = state.rejected();
    if (const auto* kind = find_kind(component.spec().kind())) kind->metrics(state, result.sim_end, node);
    resilience_metrics(state, topology, node);
    // Ids are unique: appended without ordered_json's linear search for the key (quadratic with
    // 100,000 nodes).
    nodes.get_ref<nlohmann::ordered_json::object_t&>().emplace_back(component.id(), std::move(node));
  }
  nlohmann::ordered_json requests;
  requests["sent"] = sent;
  requests["completed"] = completed;
  requests["failed"] = failed;
  // Sent but never answered by the end (still waiting, or lost without a timeout to notice).
  requests["unanswered"] = sent - std::min(sent, completed + failed);
  if (first_attempts) {
    requests["retries"] = retries;
    requests["attempts_per_request"] = round3(static_cast<double>(first_attempts + retries) / first_attempts);
    requests["gave_up"] = gave_up;
  }
  if (short_circuited) requests["short_circuited"] = short_circuited;
  requests["by_status"] = nlohmann::ordered_json::object();
  for (const auto& [status, count] : by_status) requests["by_status"][std::to_string(status)] = count;
  summary["requests"] = requests;
  // Answers per second while the clients were at it (not counting a cache's sweeps afterwards).
  const double busy_s = last_answer > first_sent && first_sent != kTimeNever ? to_seconds(last_answer - first_sent) : 0;
  summary["throughput_rps"] = busy_s > 0 ? round3(static_cast<double>(completed + failed) / busy_s) : 0.0;
  // Only the successful answers (2xx): what users got out of it.
  summary["goodput_rps"] = busy_s > 0 ? round3(static_cast<double>(completed) / busy_s) : 0.0;
  auto ms = [](Time t) { return round3(to_millis(t)); };
  summary["latency_ms"] = {
      {"mean", round3(latencies.mean() / kNanosPerMilli)},
      {"p50", ms(latencies.quantile(0.5))},
      {"p95", ms(latencies.quantile(0.95))},
      {"p99", ms(latencies.quantile(0.99))},
      {"p999", ms(latencies.quantile(0.999))},
      {"max", ms(latencies.max())},
  };
  summary["nodes"] = nodes;
  return summary;
}

void print_summary(const nlohmann::ordered_json& s, std::ostream& out) {
  out << fmt::format("{}  seed {}  simulated {:.3f} s in {:.3f} s wall  ({} frames, {} hops, {:.0f} hops/s, {} thread{}, {} shard{})\n",
                     s["scenario"].get<std::string>(), s["seed"].get<std::uint64_t>(), s["sim_time_s"].get<double>(),
                     s["wall_s"].get<double>(), s["frames"].get<std::uint64_t>(), s["hops"].get<std::uint64_t>(),
                     s["hops_per_s"].get<double>(), s["threads"].get<unsigned>(),
                     s["threads"].get<unsigned>() == 1 ? "" : "s", s["shards"].get<unsigned>(),
                     s["shards"].get<unsigned>() == 1 ? "" : "s");
  if (s.contains("cut_short"))
    out << "note      ended stop.drain_s after its duration with work still under way (something never settles)\n";
  const auto& r = s["requests"];
  std::string statuses;
  for (const auto& [status, count] : r["by_status"].items())
    statuses += fmt::format("  {}: {}", status, count.get<std::uint64_t>());
  out << fmt::format("requests  sent {}  completed {}  failed {}{}   by status:{}\n", r["sent"].get<std::uint64_t>(),
                     r["completed"].get<std::uint64_t>(), r["failed"].get<std::uint64_t>(),
                     r["unanswered"].get<std::uint64_t>() ? fmt::format("  unanswered {}", r["unanswered"].get<std::uint64_t>()) : "",
                     statuses.empty() ? " none" : statuses);
  out << fmt::format("rates     throughput {:.1f}/s  goodput {:.1f}/s (2xx)", s["throughput_rps"].get<double>(),
                     s["goodput_rps"].get<double>());
  if (r.contains("retries"))
    out << fmt::format("   retries {}  ({:.3f} attempts per request, {} gave up)", r["retries"].get<std::uint64_t>(),
                       r["attempts_per_request"].get<double>(), r["gave_up"].get<std::uint64_t>());
  if (r.contains("short_circuited")) out << fmt::format("   short-circuited {}", r["short_circuited"].get<std::uint64_t>());
  out << '\n';
  const auto& l = s["latency_ms"];
  out << fmt::format("latency   mean {:.3f} ms  p50 {:.3f}  p95 {:.3f}  p99 {:.3f}  p99.9 {:.3f}  max {:.3f}\n",
                     l["mean"].get<double>(), l["p50"].get<double>(), l["p95"].get<double>(), l["p99"].get<double>(),
                     l["p999"].get<double>(), l["max"].get<double>());
  std::size_t width = 4;
  for (const auto& [id, node] : s["nodes"].items()) width = std::max(width, id.size());
  out << fmt::format("\n{:<{}}  {:<14} {:>10} {:>9} {:>6} {:>9}  {}\n", "node", width, "kind", "handled", "rejected",
                     "util", "max queue", "detail");
  constexpr std::size_t kMaxRows = 40;  // the JSON summary has every node
  std::size_t rows = 0;
  for (const auto& [id, node] : s["nodes"].items()) {
    if (++rows > kMaxRows) {
      out << fmt::format("… and {} more nodes (see --summary-json)\n", s["nodes"].size() - kMaxRows);
      break;
    }
    const bool server = node.contains("utilization");
    std::string detail;
    auto add = [&](const std::string& part) { detail += (detail.empty() ? "" : ", ") + part; };
    if (node.contains("retries"))
      add(fmt::format("{} retries, {} gave up", node["retries"].get<std::uint64_t>(), node["gave_up"].get<std::uint64_t>()));
    if (node.contains("breakers"))
      for (const auto& breaker : node["breakers"])
        add(fmt::format("breaker to {} {} ({} changes, {} short-circuited)", breaker["to"].get<std::string>(),
                        breaker["state"].get<std::string>(), breaker["transitions"].get<std::uint32_t>(),
                        breaker["short_circuited"].get<std::uint64_t>()));
    if (node.contains("bulkheads"))
      for (const auto& bulkhead : node["bulkheads"])
        add(fmt::format("bulkhead to {}: {} refused", bulkhead["to"].get<std::string>(), bulkhead["refused"].get<std::uint64_t>()));
    if (const auto* kind = find_kind(node["kind"].get<std::string>())) {
      std::vector<std::string> parts;
      kind->detail(node, parts);
      for (const auto& part : parts) add(part);
    }
    auto row = fmt::format("{:<{}}  {:<14} {:>10} {:>9} {:>6} {:>9}  {}", id, width, node["kind"].get<std::string>(),
                           node["handled"].get<std::uint64_t>(), node["rejected"].get<std::uint64_t>(),
                           server ? fmt::format("{:.0f}%", node["utilization"].get<double>() * 100) : "-",
                           node.contains("max_queue") ? std::to_string(node["max_queue"].get<std::uint32_t>()) : "-",
                           detail);
    row.erase(row.find_last_not_of(' ') + 1);
    out << row << '\n';
  }
}

}  // namespace flowframe
