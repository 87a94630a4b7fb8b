// `flowframe export`: traces read back with Perfetto's packet schema and a JSON parser, CSV rows
// against the run's own summary and frames.
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <sstream>

#include "perfetto/trace.pb.h"
#include "runtime/export/export.hpp"
#include "support.hpp"

namespace flowframe {
namespace {

using perfetto::protos::TrackEvent;

struct Exported {
  std::string bytes;
  ExportCounts counts;
};

Exported export_to_string(const std::string& log, ExportFormat format) {
  FrameLogReader reader(log);
  std::ostringstream out;
  Exported e;
  e.counts = export_log(reader, format, out);
  e.bytes = out.str();
  return e;
}

struct ExportRun {
  test::TempPath log{".ffl"};
  test::Run run;
  std::vector<FrameView> frames;
  v1::LogHeader header;
};

std::unique_ptr<ExportRun> record_run(const std::string& name, const std::vector<std::string>& overrides = {},
                                    std::size_t chunk_frames = RunOptions{}.chunk_frames) {
  auto r = std::make_unique<ExportRun>();
  RunOptions options;
  options.out_path = r->log.str();
  options.chunk_frames = chunk_frames;
  r->run = test::run_scenario(name, overrides, options);
  r->frames = test::read_frames(r->log.str());
  r->header = FrameLogReader(r->log.str()).header();
  return r;
}

bool is_hop(const v1::Frame& f) {
  return f.src() != f.dst() && f.src() != kDirector &&
         (f.kind() == v1::Frame::REQUEST || f.kind() == v1::Frame::RESPONSE || f.kind() == v1::Frame::MESSAGE);
}

// What any trace must hold whatever the scenario: tracks declared before use under a declared
// process, slices that begin and end on one track without overlapping, every hop's arrow
// starting once and ending once.
struct TraceShape {
  std::map<std::uint64_t, std::string> process_names;  // uuid -> node
  std::map<std::uint64_t, std::uint64_t> parent;       // track -> process
  std::map<std::uint64_t, std::string> track_names;
  std::map<std::string, std::uint64_t> slices_by_node;
  std::map<std::string, std::vector<std::int64_t>> client_durations;
  std::map<std::pair<std::string, std::string>, std::int64_t> last_counter;  // (node, counter) -> value
  std::uint64_t slices = 0, flows_started = 0, flows_ended = 0;
  std::set<std::string> event_names, annotation_names;  // as used by events, interned names resolved
};

TraceShape check_perfetto(const std::string& bytes, const v1::LogHeader& header) {
  perfetto::protos::Trace trace;
  EXPECT_TRUE(trace.ParseFromString(bytes));
  TraceShape shape;
  std::map<std::uint64_t, std::pair<std::uint64_t, std::uint64_t>> open;  // track -> (begin, last end)
  std::map<std::uint64_t, std::uint64_t> last_end;
  std::set<std::uint64_t> started, ended;
  EXPECT_GT(trace.packet_size(), 0);
  // Interned names: numbered in the order they first appear, defined before (or in) the packet
  // that first uses them, on a sequence whose first packet cleared its state.
  std::map<std::uint64_t, std::string> event_names, annotation_names;
  bool first = true;
  for (const auto& packet : trace.packet()) {
    EXPECT_EQ(packet.trusted_packet_sequence_id(), 1u);
    if (first) {
      EXPECT_TRUE(packet.sequence_flags() & 1) << "the first packet clears the sequence's state";
    }
    first = false;
    for (const auto& name : packet.interned_data().event_names()) {
      EXPECT_EQ(name.iid(), event_names.size() + 1);
      event_names[name.iid()] = name.name();
    }
    for (const auto& name : packet.interned_data().debug_annotation_names()) {
      EXPECT_EQ(name.iid(), annotation_names.size() + 1);
      annotation_names[name.iid()] = name.name();
    }
    if (packet.has_track_descriptor()) {
      const auto& d = packet.track_descriptor();
      EXPECT_FALSE(shape.track_names.count(d.uuid()) || shape.process_names.count(d.uuid())) << "declared twice";
      if (d.has_process()) {
        EXPECT_GT(d.process().pid(), 0);
        EXPECT_LE(d.process().pid(), header.nodes_size());
        EXPECT_EQ(d.process().process_name(), header.nodes(d.process().pid() - 1).id());
        shape.process_names[d.uuid()] = d.process().process_name();
      } else {
        EXPECT_TRUE(shape.process_names.count(d.parent_uuid())) << d.name() << " before its process";
        shape.parent[d.uuid()] = d.parent_uuid();
        shape.track_names[d.uuid()] = d.name();
      }
      continue;
    }
    EXPECT_TRUE(packet.has_track_event());
    const auto& e = packet.track_event();
    EXPECT_TRUE(packet.sequence_flags() & 2) << "an event uses the interned names";
    if (e.type() != TrackEvent::TYPE_SLICE_END && e.type() != TrackEvent::TYPE_COUNTER) {
      EXPECT_TRUE(event_names.count(e.name_iid())) << "an event named by an undefined number " << e.name_iid();
      shape.event_names.insert(event_names[e.name_iid()]);
    }
    for (const auto& annotation : e.debug_annotations()) {
      EXPECT_TRUE(annotation_names.count(annotation.name_iid())) << "an argument named by an undefined number";
      shape.annotation_names.insert(annotation_names[annotation.name_iid()]);
    }
    EXPECT_TRUE(shape.track_names.count(e.track_uuid())) << "an event on an undeclared track";
    const auto& node = shape.process_names[shape.parent[e.track_uuid()]];
    const auto time = packet.timestamp();
    switch (e.type()) {
      case TrackEvent::TYPE_SLICE_BEGIN:
        EXPECT_EQ(shape.track_names[e.track_uuid()].rfind("lane ", 0), 0u);
        EXPECT_FALSE(open.count(e.track_uuid())) << "slices overlap on a lane of " << node;
        EXPECT_GE(time, last_end[e.track_uuid()]) << "slices overlap on a lane of " << node;
        open[e.track_uuid()] = {time, 0};
        ++shape.slices;
        ++shape.slices_by_node[node];
        break;
      case TrackEvent::TYPE_SLICE_END: {
        const auto found = open.find(e.track_uuid());
        EXPECT_NE(found, open.end()) << "an end without a begin";
        if (found == open.end()) break;
        EXPECT_GE(time, found->second.first);
        if (header.nodes(static_cast<int>(shape.parent[e.track_uuid()] >> 32) - 1).kind() == v1::Node::CLIENT)
          shape.client_durations[node].push_back(static_cast<std::int64_t>(time - found->second.first));
        last_end[e.track_uuid()] = time;
        open.erase(found);
        break;
      }
      case TrackEvent::TYPE_INSTANT:
        EXPECT_EQ(shape.track_names[e.track_uuid()], "events");
        for (const auto id : e.flow_ids()) EXPECT_TRUE(started.insert(id).second) << "a hop started twice";
        for (const auto id : e.terminating_flow_ids()) EXPECT_TRUE(ended.insert(id).second) << "a hop ended twice";
        break;
      case TrackEvent::TYPE_COUNTER:
        shape.last_counter[{node, shape.track_names[e.track_uuid()]}] = e.counter_value();
        break;
      default:
        ADD_FAILURE() << "an event of type " << e.type();
    }
  }
  EXPECT_TRUE(open.empty()) << "slices never ended";
  EXPECT_EQ(started, ended) << "every hop's arrow starts and ends";
  shape.flows_started = started.size();
  shape.flows_ended = ended.size();
  return shape;
}

TEST(Export, PerfettoTraceHoldsEveryRequestsWorkAndHopAsTheFramesSay) {
  const auto r = record_run("load_balancing", {"stop.requests=400"});
  const auto exported = export_to_string(r->log.str(), ExportFormat::perfetto);
  const auto shape = check_perfetto(exported.bytes, r->header);

  // A slice per request a node worked on, from the frames: each arrival (none was lost here) and,
  // at a client, each request it sent.
  std::map<std::string, std::uint64_t> arrivals;
  for (const auto& [node, figures] : r->run.summary["nodes"].items())
    if (figures["kind"] == "client") arrivals[node] = figures["handled"].get<std::uint64_t>();
  std::uint64_t hops = 0;
  std::map<std::string, std::uint32_t> last_queue, last_load;
  for (const auto& view : r->frames) {
    const auto& f = view.frame;
    const auto& dst = r->header.nodes(static_cast<int>(f.dst())).id();
    if (f.kind() == v1::Frame::REQUEST && f.dst() != f.client()) ++arrivals[dst];
    if (is_hop(f)) ++hops;
    last_queue[dst] = f.queue();
    last_load[dst] = f.load();
  }
  EXPECT_EQ(shape.slices_by_node, arrivals);
  EXPECT_EQ(exported.counts.slices, shape.slices);
  EXPECT_EQ(shape.flows_started, hops);
  EXPECT_EQ(exported.counts.flows, hops);
  EXPECT_EQ(exported.counts.frames, r->frames.size());
  // Counters end where each node's last frame left them.
  for (const auto& [node, queue] : last_queue) {
    const auto found = shape.last_counter.find({node, "waiting"});
    EXPECT_EQ(found == shape.last_counter.end() ? 0 : found->second, queue) << node;
    const auto load = shape.last_counter.find({node, "in flight"});
    EXPECT_EQ(load == shape.last_counter.end() ? 0 : load->second, last_load[node]) << node;
  }
  // The clients' slices last as long as their requests took: their mean is the summary's.
  std::int64_t total = 0, count = 0;
  for (const auto& [client, durations] : shape.client_durations)
    for (const auto d : durations) total += d, ++count;
  const double mean_ms = static_cast<double>(total) / static_cast<double>(count) / 1e6;
  EXPECT_NEAR(mean_ms, r->run.summary["latency_ms"]["mean"].get<double>(), 0.01);
  // Names read back through the interned data: outcomes, departures, paths, arguments.
  std::string names;
  for (const auto& name : shape.event_names) names += " '" + name + "'";
  for (const char* name : {"completed", "to lb", "to server-1", "GET /users"}) EXPECT_TRUE(shape.event_names.count(name)) << name << " among" << names;
  EXPECT_EQ(shape.annotation_names, (std::set<std::string>{"frame", "what", "status", "request", "first_frame"}));
}

TEST(Export, EveryBuiltinScenarioExportsAWellFormedTraceAndOneRowPerRequest) {
  for (const auto& builtin : builtin_scenarios()) {
    SCOPED_TRACE(builtin.name);
    const auto r = record_run(builtin.name);
    const auto trace = export_to_string(r->log.str(), ExportFormat::perfetto);
    const auto shape = check_perfetto(trace.bytes, r->header);
    std::uint64_t hops = 0;
    for (const auto& view : r->frames) hops += is_hop(view.frame);
    EXPECT_EQ(shape.flows_started, hops);

    const auto csv = export_to_string(r->log.str(), ExportFormat::csv);
    const auto& requests = r->run.summary["requests"];
    EXPECT_EQ(csv.counts.rows, requests["sent"].get<std::uint64_t>());
  }
}

TEST(Export, ChromeJsonParsesWithSlicesHopsAndCounters) {
  const auto r = record_run("cache_aside", {"stop.requests=200"});
  const auto exported = export_to_string(r->log.str(), ExportFormat::chrome_json);
  const auto json = nlohmann::json::parse(exported.bytes);
  EXPECT_EQ(json["displayTimeUnit"], "ns");
  std::set<std::string> processes;
  std::map<std::uint64_t, int> flow_starts, flow_ends;
  std::uint64_t slices = 0, counters = 0, zero_length = 0;
  for (const auto& event : json["traceEvents"]) {
    const auto phase = event["ph"].get<std::string>();
    ASSERT_TRUE(event.contains("pid"));
    if (phase == "M" && event["name"] == "process_name") processes.insert(event["args"]["name"].get<std::string>());
    if (phase == "X") {
      EXPECT_GE(event["dur"].get<double>(), 0);
      EXPECT_GE(event["ts"].get<double>(), 0);
      if (event["tid"] == 0) ++zero_length;  // marks are on the events thread, slices on lanes
      else ++slices;
    }
    if (phase == "s") ++flow_starts[event["id"].get<std::uint64_t>()];
    if (phase == "f") {
      EXPECT_EQ(event["bp"], "e");
      ++flow_ends[event["id"].get<std::uint64_t>()];
    }
    if (phase == "C") ++counters;
  }
  std::set<std::string> nodes;
  for (const auto& view : r->frames) nodes.insert(r->header.nodes(static_cast<int>(view.frame.dst())).id());
  for (const auto& node : nodes) EXPECT_TRUE(processes.count(node)) << node;
  EXPECT_EQ(flow_starts.size(), exported.counts.flows);
  for (const auto& [id, count] : flow_starts) EXPECT_EQ(count, 1);
  for (const auto& [id, count] : flow_ends) EXPECT_EQ(count, 1);
  std::set<std::uint64_t> started, ended;
  for (const auto& [id, count] : flow_starts) started.insert(id);
  for (const auto& [id, count] : flow_ends) ended.insert(id);
  EXPECT_EQ(started, ended);
  EXPECT_EQ(counters, exported.counts.counter_values);
  // Each frame is a mark where it arrived and each hop one where it left; slices are the rest.
  EXPECT_EQ(zero_length, r->frames.size() + exported.counts.flows);
  EXPECT_EQ(slices, exported.counts.slices);
}

TEST(Export, CsvHasOneRowPerRequestWithItsTimesAndStatus) {
  const auto r = record_run("load_balancing", {"stop.requests=300", "workload.rate=300", "server.queue_limit=1"});
  const auto exported = export_to_string(r->log.str(), ExportFormat::csv);
  std::istringstream in(exported.bytes);
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line, "client,request,path,sent_ns,ended_ns,latency_ms,status,outcome,hops");
  std::map<std::string, std::uint64_t> by_status;
  std::set<std::pair<std::string, std::uint64_t>> numbers;
  std::uint64_t rows = 0;
  while (std::getline(in, line)) {
    std::vector<std::string> cells;
    std::stringstream fields(line);
    for (std::string cell; std::getline(fields, cell, ',');) cells.push_back(cell);
    ASSERT_EQ(cells.size(), 9u) << line;
    EXPECT_EQ(cells[0].rfind("client-", 0), 0u) << line;
    EXPECT_TRUE(numbers.insert({cells[0], std::stoull(cells[1])}).second) << line << ": twice";
    const auto sent = std::stoll(cells[3]), ended = std::stoll(cells[4]);
    EXPECT_NEAR(std::stod(cells[5]), static_cast<double>(ended - sent) / 1e6, 1e-6);
    EXPECT_GE(std::stoull(cells[8]), 2u) << "a request and its answer at least";
    ++by_status[cells[6]];
    ++rows;
  }
  const auto& requests = r->run.summary["requests"];
  EXPECT_EQ(rows, requests["sent"].get<std::uint64_t>());
  EXPECT_EQ(exported.counts.rows, rows);
  std::map<std::string, std::uint64_t> expected;
  for (const auto& [status, count] : requests["by_status"].items()) expected[status] = count.get<std::uint64_t>();
  EXPECT_EQ(by_status, expected);
  EXPECT_GT(by_status["503"], 0u) << "the queue limit should have turned some away";
}

TEST(Export, TheCliRefusesAWrongFormatAndWritingOverItsLog) {
  const auto r = record_run("load_balancing", {"stop.requests=50"});
  const std::string cli = std::string(FLOWFRAME_BIN) + " export " + r->log.str();
  auto [code, said] = test::shell(cli + " --format svg");
  EXPECT_EQ(code, 2);
  EXPECT_NE(said.find("--format: svg not in {perfetto,chrome-json,csv}"), std::string::npos) << said;
  std::tie(code, said) = test::shell(cli + " --format csv -o " + r->log.str());
  EXPECT_EQ(code, 2);
  EXPECT_NE(said.find("is the log being exported"), std::string::npos) << said;
  EXPECT_NO_THROW(FrameLogReader{r->log.str()});  // untouched

  test::TempPath out(".csv");
  std::tie(code, said) = test::shell(cli + " --format csv -o " + out.str());
  EXPECT_EQ(code, 0) << said;
  EXPECT_NE(said.find("50 requests"), std::string::npos) << said;
  EXPECT_EQ(test::read_file(out.str()), export_to_string(r->log.str(), ExportFormat::csv).bytes);
  EXPECT_FALSE(std::filesystem::exists(out.str() + ".partial"));
}

TEST(Export, ACutLogExportsWhatItHoldsAndSaysWhatIsMissing) {
  const auto r = record_run("load_balancing", {"stop.requests=600"}, 500);
  auto bytes = test::read_file(r->log.str());
  test::TempPath cut(".ffl"), out(".json");
  test::write_file(cut.str(), bytes.substr(0, bytes.size() * 2 / 3));
  const auto [code, said] =
      test::shell(std::string(FLOWFRAME_BIN) + " export " + cut.str() + " --format chrome-json -o " + out.str());
  EXPECT_EQ(code, 1) << said;
  EXPECT_NE(said.find(cut.str() + ": "), std::string::npos) << said;
  const auto json = nlohmann::json::parse(test::read_file(out.str()));  // whole, parseable
  EXPECT_GT(json["traceEvents"].size(), 0u);
}

}  // namespace
}  // namespace flowframe
