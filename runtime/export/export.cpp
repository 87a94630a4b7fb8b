#include "runtime/export/export.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <deque>
#include <map>
#include <set>
#include <memory>
#include <tuple>
#include <variant>
#include <vector>

#include "perfetto/trace.pb.h"
#include "runtime/framelog/frame_text.hpp"
#include "runtime/framelog/request_tracker.hpp"

namespace flowframe {
namespace {

using F = v1::Frame;

// A request that never reached the node, or that the node threw away unanswered.
bool never_worked_on(const F& f) {
  return f.outcome() == F::LOST || f.outcome() == F::PARTITIONED || f.outcome() == F::DROPPED;
}

std::string lowercase(std::string text) {
  for (auto& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

std::string outcome_name(const F& f) {
  return lowercase(f.outcome() == F::NONE ? F::Kind_Name(f.kind()) : F::Outcome_Name(f.outcome()));
}

struct Arg {
  std::string name;
  std::variant<std::int64_t, std::string> value;
};

struct Track {
  enum class Kind { process, events, lane, counter } kind;
  std::uint64_t uuid = 0;
  std::uint64_t parent = 0;
  std::uint32_t pid = 0;
  std::uint32_t tid = 0;
  std::string name;
};

// A slice (end >= begin) or an instant (end == begin, `instant`), with the flow it starts or ends.
struct Mark {
  Time begin = 0;
  Time end = 0;
  std::string name{};
  std::vector<Arg> args{};
  std::uint64_t flow_out = 0;
  std::uint64_t flow_in = 0;
};

// Where the trace goes: Perfetto packets or Chrome JSON events. The walk below decides what the
// trace holds; a sink only writes it down.
class TraceSink {
 public:
  virtual ~TraceSink() = default;
  virtual void track(const Track& track) = 0;
  virtual void slice(const Track& track, const Mark& mark) = 0;
  virtual void instant(const Track& track, const Mark& mark) = 0;
  virtual void counter(const Track& track, Time time, std::int64_t value) = 0;
  virtual void finish() = 0;
};

class PerfettoSink final : public TraceSink {
 public:
  explicit PerfettoSink(std::ostream& out) : out_(out) {}

  void track(const Track& track) override {
    perfetto::protos::TracePacket packet;
    auto& descriptor = *packet.mutable_track_descriptor();
    descriptor.set_uuid(track.uuid);
    if (track.kind == Track::Kind::process) {
      descriptor.mutable_process()->set_pid(static_cast<std::int32_t>(track.pid));
      descriptor.mutable_process()->set_process_name(track.name);
    } else {
      descriptor.set_parent_uuid(track.parent);
      descriptor.set_name(track.name);
      if (track.kind == Track::Kind::counter) descriptor.mutable_counter();
    }
    write(std::move(packet));
  }
  void slice(const Track& track, const Mark& mark) override {
    auto begin = event(track, mark.begin, perfetto::protos::TrackEvent::TYPE_SLICE_BEGIN);
    describe(begin, mark);
    write(std::move(begin));
    write(event(track, mark.end, perfetto::protos::TrackEvent::TYPE_SLICE_END));
  }
  void instant(const Track& track, const Mark& mark) override {
    auto packet = event(track, mark.begin, perfetto::protos::TrackEvent::TYPE_INSTANT);
    describe(packet, mark);
    write(std::move(packet));
  }
  void counter(const Track& track, Time time, std::int64_t value) override {
    auto packet = event(track, time, perfetto::protos::TrackEvent::TYPE_COUNTER);
    packet.mutable_track_event()->set_counter_value(value);
    write(std::move(packet));
  }
  void finish() override {}

 private:
  perfetto::protos::TracePacket event(const Track& track, Time time, perfetto::protos::TrackEvent::Type type) {
    perfetto::protos::TracePacket packet;
    packet.set_timestamp(static_cast<std::uint64_t>(time));
    packet.mutable_track_event()->set_type(type);
    packet.mutable_track_event()->set_track_uuid(track.uuid);
    return packet;
  }
  // Names are interned: said once in the sequence's interned data, referred to by number after.
  void describe(perfetto::protos::TracePacket& packet, const Mark& mark) {
    auto& event = *packet.mutable_track_event();
    event.set_name_iid(intern(event_names_, mark.name, [&] { return packet.mutable_interned_data()->add_event_names(); }));
    for (const auto& arg : mark.args) {
      auto& annotation = *event.add_debug_annotations();
      annotation.set_name_iid(intern(annotation_names_, arg.name, [&] { return packet.mutable_interned_data()->add_debug_annotation_names(); }));
      if (const auto* number = std::get_if<std::int64_t>(&arg.value)) annotation.set_int_value(*number);
      else annotation.set_string_value(std::get<std::string>(arg.value));
    }
    if (mark.flow_out) event.add_flow_ids(mark.flow_out);
    if (mark.flow_in) event.add_terminating_flow_ids(mark.flow_in);
  }
  // A name's number, adding it to the packet's interned data the first time it is used.
  template <class AddEntry>
  static std::uint64_t intern(std::map<std::string, std::uint64_t>& names, const std::string& name, AddEntry add_entry) {
    const auto [at, added] = names.emplace(name, names.size() + 1);
    if (added) {
      auto* entry = add_entry();
      entry->set_iid(at->second);
      entry->set_name(name);
    }
    return at->second;
  }
  // Each packet as one `packet` field of a Trace message: the file is a Trace.
  void write(perfetto::protos::TracePacket packet) {
    packet.set_trusted_packet_sequence_id(1);
    // The first packet starts the interned names afresh; events use them.
    std::uint32_t flags = first_ ? 1 : 0;  // SEQ_INCREMENTAL_STATE_CLEARED
    if (packet.has_track_event()) flags |= 2;  // SEQ_NEEDS_INCREMENTAL_STATE
    if (flags) packet.set_sequence_flags(flags);
    first_ = false;
    bytes_.clear();
    packet.SerializeToString(&bytes_);
    std::string field(1, '\x0A');  // field 1, length-delimited
    for (auto size = bytes_.size(); ; size >>= 7) {
      if (size < 0x80) {
        field.push_back(static_cast<char>(size));
        break;
      }
      field.push_back(static_cast<char>((size & 0x7F) | 0x80));
    }
    out_ << field << bytes_;
  }

  std::ostream& out_;
  std::string bytes_;
  bool first_ = true;
  std::map<std::string, std::uint64_t> event_names_, annotation_names_;  // name -> iid
};

// Chrome's JSON trace event format: a process per node (pid), a thread per track (tid).
class ChromeJsonSink final : public TraceSink {
 public:
  explicit ChromeJsonSink(std::ostream& out) : out_(out) { out_ << "{\"displayTimeUnit\":\"ns\",\"traceEvents\":[\n"; }

  void track(const Track& track) override {
    if (track.kind == Track::Kind::counter) return;  // a counter is named by its events
    nlohmann::ordered_json event = {{"ph", "M"}, {"pid", track.pid}};
    if (track.kind == Track::Kind::process) {
      event["name"] = "process_name";
    } else {
      event["name"] = "thread_name";
      event["tid"] = track.tid;
    }
    event["args"] = {{"name", track.name}};
    write(event);
  }
  void slice(const Track& track, const Mark& mark) override { complete(track, mark, mark.end - mark.begin); }
  // A zero-length complete event, so flow arrows (which bind to slices) have an end to bind to.
  void instant(const Track& track, const Mark& mark) override { complete(track, mark, 0); }
  void counter(const Track& track, Time time, std::int64_t value) override {
    write({{"ph", "C"}, {"name", track.name}, {"pid", track.pid}, {"ts", micros(time)}, {"args", {{"value", value}}}});
  }
  void finish() override { out_ << "\n]}\n"; }

 private:
  static double micros(Time time) { return static_cast<double>(time) / 1000.0; }
  void complete(const Track& track, const Mark& mark, Time duration) {
    nlohmann::ordered_json args = nlohmann::ordered_json::object();
    for (const auto& arg : mark.args) std::visit([&](const auto& value) { args[arg.name] = value; }, arg.value);
    write({{"ph", "X"}, {"name", mark.name}, {"pid", track.pid}, {"tid", track.tid}, {"ts", micros(mark.begin)},
           {"dur", micros(duration)}, {"args", std::move(args)}});
    if (mark.flow_out)
      write({{"ph", "s"}, {"name", "hop"}, {"cat", "hop"}, {"id", mark.flow_out}, {"pid", track.pid}, {"tid", track.tid},
             {"ts", micros(mark.begin)}});
    if (mark.flow_in)
      write({{"ph", "f"}, {"bp", "e"}, {"name", "hop"}, {"cat", "hop"}, {"id", mark.flow_in}, {"pid", track.pid},
             {"tid", track.tid}, {"ts", micros(mark.begin)}});
  }
  void write(const nlohmann::ordered_json& event) {
    if (!first_) out_ << ",\n";
    first_ = false;
    out_ << event.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }

  std::ostream& out_;
  bool first_ = true;
};

// Turns frames into tracks, slices, hops and counters, in log order.
class TraceWalk {
 public:
  TraceWalk(const v1::LogHeader& header, TraceSink& sink) : header_(header), text_(header), sink_(sink) {
    nodes_.resize(static_cast<std::size_t>(header.nodes_size()));
  }

  void frame(const FrameView& view, ExportCounts& counts) {
    const auto& f = view.frame;
    const auto src = f.src(), dst = f.dst();
    if (dst >= nodes_.size() || src >= nodes_.size()) return;  // a reader checks this; never trust it here
    last_time_ = std::max(last_time_, view.time);
    const bool hop = is_hop(f);
    const std::string what = text_.summary(f);
    Mark arrival{.begin = view.time, .end = view.time, .name = outcome_name(f)};
    arrival.args = {{"frame", static_cast<std::int64_t>(view.index)}, {"what", what}};
    if (f.status()) arrival.args.push_back({"status", static_cast<std::int64_t>(f.status())});
    if (hop) {
      const auto flow = view.index + 1;
      Mark departure{.begin = view.sent, .end = view.sent, .name = "to " + text_.node(dst)};
      departure.args = {{"frame", static_cast<std::int64_t>(view.index)}};  // the words are on the arrival it points to
      departure.flow_out = flow;
      arrival.flow_in = flow;
      sink_.instant(tracks(src).events, departure);
      ++counts.flows;
    }
    sink_.instant(tracks(dst).events, arrival);

    const Key key{0, f.client(), f.request()};
    // A request's stay at its client: from the first attempt leaving to the request's end.
    if (leaves_client(f, header_)) open(with_node(key, src), view.sent, view.index, f);
    if (f.kind() == F::REQUEST && dst != f.client() && !never_worked_on(f)) open(with_node(key, dst), view.time, view.index, f);
    if (f.kind() == F::RESPONSE && src != dst) close(with_node(key, src), view.sent, f.status(), counts, false);
    if (concludes_request(f, header_)) close(with_node(key, dst), view.time, f.status(), counts, false);

    if (dst != kDirector) {
      auto& node = tracks(dst);
      count(node.in_flight, node.load, f.load(), view.time, counts);
      count(node.waiting, node.queue, f.queue(), view.time, counts);
    }
  }

  // Work still open when the log ends: closed at its last time, marked unfinished. A log without a
  // frame still names its nodes (an empty trace is not one Perfetto opens).
  void finish(ExportCounts& counts) {
    if (counts.frames == 0)
      for (std::uint32_t node = 1; node < nodes_.size(); ++node) tracks(node);
    while (!open_.empty()) {
      const auto key = open_.begin()->first;
      close(key, last_time_, 0, counts, true);
    }
    sink_.finish();
  }

 private:
  using Key = std::tuple<std::uint32_t, std::uint32_t, std::uint64_t>;  // node, client, request
  static Key with_node(Key key, std::uint32_t node) {
    std::get<0>(key) = node;
    return key;
  }
  struct Open {
    std::uint32_t lane;
    Time begin;
    std::uint64_t frame;
    std::string name;
  };
  struct NodeTracks {
    bool declared = false;
    Track process, events, in_flight, waiting;
    std::vector<Track> lanes;
    // Lanes with no slice open, by when their last slice ended: frames come in delivery order but
    // a client's slice begins when its request left, earlier.
    std::set<std::pair<Time, std::uint32_t>> idle_lanes;
    std::uint32_t load = 0, queue = 0;
  };

  // A counter's value where it changed.
  void count(const Track& track, std::uint32_t& last, std::uint32_t value, Time time, ExportCounts& counts) {
    if (value == last) return;
    last = value;
    sink_.counter(track, time, value);
    ++counts.counter_values;
  }

  // The node's tracks, declared the first time it appears.
  NodeTracks& tracks(std::uint32_t node) {
    auto& n = nodes_[node];
    if (n.declared) return n;
    n.declared = true;
    const std::uint64_t base = static_cast<std::uint64_t>(node + 1) << 32;
    const std::uint32_t pid = node + 1;
    const auto& name = text_.node(node);
    n.process = {Track::Kind::process, base, 0, pid, 0, name};
    n.events = {Track::Kind::events, base + 1, base, pid, 0, "events"};
    n.in_flight = {Track::Kind::counter, base + 2, base, pid, 0, "in flight"};
    n.waiting = {Track::Kind::counter, base + 3, base, pid, 0, "waiting"};
    for (const auto* track : {&n.process, &n.events, &n.in_flight, &n.waiting}) sink_.track(*track);
    return n;
  }

  void open(const Key& key, Time begin, std::uint64_t frame, const F& f) {
    auto& queue = open_[key];
    // A client's retries are one stay; any other node works on each arrival.
    if (std::get<0>(key) == f.client() && !queue.empty()) return;
    auto& node = tracks(std::get<0>(key));
    std::uint32_t lane = 0;
    if (node.idle_lanes.empty() || node.idle_lanes.begin()->first > begin) {
      lane = static_cast<std::uint32_t>(node.lanes.size());
      node.lanes.push_back({Track::Kind::lane, node.process.uuid + 4 + lane, node.process.uuid, node.process.pid, lane + 1,
                            fmt::format("lane {}", lane + 1)});
      sink_.track(node.lanes.back());
    } else {
      lane = node.idle_lanes.begin()->second;
      node.idle_lanes.erase(node.idle_lanes.begin());
    }
    queue.push_back({lane, begin, frame, text_.path(f)});
  }

  void close(const Key& key, Time end, std::uint32_t status, ExportCounts& counts, bool unfinished) {
    const auto found = open_.find(key);
    if (found == open_.end()) return;
    auto& queue = found->second;
    const auto work = std::move(queue.front());
    queue.pop_front();
    if (queue.empty()) open_.erase(found);
    auto& node = nodes_[std::get<0>(key)];
    Mark slice{.begin = work.begin, .end = std::max(end, work.begin), .name = work.name};
    node.idle_lanes.insert({slice.end, work.lane});
    slice.args = {{"request", fmt::format("{}#{}", text_.node(std::get<1>(key)), std::get<2>(key))},
                  {"first_frame", static_cast<std::int64_t>(work.frame)}};
    if (status) slice.args.push_back({"status", static_cast<std::int64_t>(status)});
    if (unfinished) slice.args.push_back({"unfinished", std::int64_t{1}});
    sink_.slice(node.lanes[work.lane], slice);
    ++counts.slices;
  }

  const v1::LogHeader& header_;
  FrameText text_;
  TraceSink& sink_;
  std::vector<NodeTracks> nodes_;
  std::map<Key, std::deque<Open>> open_;
  Time last_time_ = 0;
};

// RFC 4180: quoted when it holds a comma, quote or line break.
std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\"\r\n") == std::string::npos) return text;
  std::string quoted = "\"";
  for (const char c : text) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
  return quoted + '"';
}

// One row per workload request: written when it ends; those that never did follow at the end.
class CsvWalk {
 public:
  CsvWalk(const v1::LogHeader& header, std::ostream& out) : text_(header), out_(out), requests_(header) {
    out_ << "client,request,path,sent_ns,ended_ns,latency_ms,status,outcome,hops\n";
  }

  void frame(const FrameView& view, ExportCounts& counts) {
    const auto& f = view.frame;
    const auto seen = requests_.see(view);
    if (!seen.request) return;
    auto& request = *seen.request;
    if (seen.started) request.extra.path = text_.path(f);
    if (is_hop(f)) ++request.extra.hops;
    if (!seen.ends) return;
    row(seen.key, request, std::to_string(view.time), fmt::format("{:.6f}", static_cast<double>(view.time - request.sent) / 1e6),
        std::to_string(f.status()), outcome_name(f));
    requests_.end(seen.key);
    ++counts.rows;
  }

  void finish(ExportCounts& counts) {
    for (const auto& [key, request] : requests_.under_way()) {
      row(key, request, "", "", "", "unfinished");
      ++counts.rows;
    }
  }

 private:
  struct Row {
    std::string path;
    std::uint64_t hops = 0;
  };
  using Request = RequestTracker<Row>::Request;
  void row(const RequestKey& key, const Request& request, const std::string& ended,
           const std::string& latency, const std::string& status, const std::string& outcome) {
    out_ << csv_field(text_.node(key.first)) << ',' << key.second << ',' << csv_field(request.extra.path) << ',' << request.sent
         << ',' << ended << ',' << latency << ',' << status << ',' << outcome << ',' << request.extra.hops << '\n';
  }

  FrameText text_;
  std::ostream& out_;
  RequestTracker<Row> requests_;
};

template <class Walk>
void walk_log(FrameLogReader& reader, Walk& walk, ExportCounts& counts) {
  DecodedChunk chunk;
  for (std::size_t i = 0; i < reader.chunks().size(); ++i) {
    if (!reader.read_chunk(i, chunk, FrameLogReader::States::skip)) continue;
    for (const auto& view : chunk.frames) {
      walk.frame(view, counts);
      ++counts.frames;
    }
  }
  walk.finish(counts);
}

}  // namespace

std::optional<ExportFormat> parse_export_format(std::string_view name) {
  if (name == "perfetto") return ExportFormat::perfetto;
  if (name == "chrome-json") return ExportFormat::chrome_json;
  if (name == "csv") return ExportFormat::csv;
  return std::nullopt;
}

std::string_view export_extension(ExportFormat format) {
  switch (format) {
    case ExportFormat::perfetto: return ".perfetto-trace";
    case ExportFormat::chrome_json: return ".json";
    case ExportFormat::csv: return ".csv";
  }
  return "";
}

ExportCounts export_log(FrameLogReader& reader, ExportFormat format, std::ostream& out) {
  ExportCounts counts;
  if (format == ExportFormat::csv) {
    CsvWalk walk(reader.header(), out);
    walk_log(reader, walk, counts);
    return counts;
  }
  std::unique_ptr<TraceSink> sink;
  if (format == ExportFormat::perfetto) sink = std::make_unique<PerfettoSink>(out);
  else sink = std::make_unique<ChromeJsonSink>(out);
  TraceWalk walk(reader.header(), *sink);
  walk_log(reader, walk, counts);
  return counts;
}

}  // namespace flowframe
