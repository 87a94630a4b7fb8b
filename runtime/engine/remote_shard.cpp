#include "runtime/engine/remote_shard.hpp"

#include <fmt/format.h>

#include <cstring>
#include <stdexcept>
#include <type_traits>

#include "runtime/base/version.hpp"
#include "runtime/scenario/scenario.hpp"

namespace flowframe {

// Frames travel as the engine holds them; both ends run the same build (the greeting checks the
// version, ShardOpen the record size).
static_assert(std::is_trivially_copyable_v<FrameRecord>);

namespace {

// Checks states a host sent: each a node of `shard`, once. "" or what is wrong.
std::string check_states(const v1::ShardStates& states, std::uint32_t shard, const std::vector<std::uint32_t>& shard_of) {
  std::vector<bool> seen(shard_of.size());
  for (const auto& state : states.nodes()) {
    const auto node = state.node();
    if (node == kDirector || node >= shard_of.size() || shard_of[node] != shard || seen[node])
      return fmt::format("a state for node {}, which it does not host (or twice)", node);
    seen[node] = true;
  }
  for (NodeIndex node = 1; node < shard_of.size(); ++node)
    if (shard_of[node] == shard && !seen[node]) return fmt::format("no state for node {}, which it hosts", node);
  for (const auto& [node, histogram] : states.latencies())
    if (node >= shard_of.size() || shard_of[node] != shard) return fmt::format("latencies of node {}, which it does not host", node);
  return "";
}

}  // namespace

void to_wire(const Event& event, v1::WireEvent& out) {
  out.set_deliver(event.deliver);
  out.set_sent(event.sent);
  out.set_created(event.created);
  out.set_deadline(event.deadline);
  out.set_seq(event.seq);
  out.set_request(event.request);
  out.set_id(event.id);
  out.set_arg(event.arg);
  out.set_src(event.src);
  out.set_dst(event.dst);
  out.set_client(event.client);
  out.set_path(event.path);
  out.set_call(event.call);
  out.set_partition(event.partition);
  out.set_status(event.status);
  out.set_kind(static_cast<std::uint32_t>(event.kind));
  out.set_silent(event.silent);
  out.set_background(event.background);
  out.set_fate(static_cast<std::uint32_t>(event.fate));
  out.set_via_depth(event.via_depth);
  for (std::uint16_t i = 0; i < std::min(event.via_depth, Event::kViaInline); ++i) out.add_via(event.via[i]);
  if (event.payload) *out.mutable_payload() = *event.payload;
}

std::string from_wire(const v1::WireEvent& in, const Topology& topology, Event& out) {
  const auto nodes = topology.size();
  auto node = [nodes](std::uint32_t index) { return index < nodes; };
  if (!node(in.src()) || !node(in.dst()) || in.src() == kDirector || in.dst() == kDirector)
    return "an event between nodes that do not exist";
  if (in.client() != 0 && !node(in.client())) return "an event for a client that does not exist";
  // Only what crosses a link goes between shards: timers, deadlines and control stay with their node.
  const auto kind = static_cast<EventKind>(in.kind());
  if (in.kind() > 0xFF || (kind != EventKind::request && kind != EventKind::response && kind != EventKind::message) ||
      !v1::Frame::Outcome_IsValid(static_cast<int>(in.fate())))
    return "an event of a kind that does not go between nodes";
  if (in.path() >= topology.paths().size()) return "an event for a path the scenario does not have";
  if (in.status() > 0xFFFF || in.via_depth() > 0xFFFF) return "an event with a number out of range";
  const auto inline_depth = std::min<std::uint32_t>(in.via_depth(), Event::kViaInline);
  if (static_cast<std::uint32_t>(in.via_size()) != inline_depth) return "an event whose way back does not add up";
  if (in.via_depth() > Event::kViaInline &&
      (!in.has_payload() || static_cast<std::uint32_t>(in.payload().via_spill_size()) < in.via_depth() - Event::kViaInline))
    return "an event whose way back does not add up";
  for (auto hop : in.via())
    if (!node(hop)) return "an event whose way back passes nodes that do not exist";
  if (in.has_payload())
    for (auto hop : in.payload().via_spill())
      if (!node(hop)) return "an event whose way back passes nodes that do not exist";
  out = Event{};
  out.deliver = in.deliver();
  out.sent = in.sent();
  out.created = in.created();
  out.deadline = in.deadline();
  out.seq = in.seq();
  out.request = in.request();
  out.id = in.id();
  out.arg = in.arg();
  out.src = in.src();
  out.dst = in.dst();
  out.client = in.client();
  out.path = in.path();
  out.call = in.call();
  out.partition = in.partition();
  out.status = static_cast<std::uint16_t>(in.status());
  out.kind = static_cast<EventKind>(in.kind());
  out.silent = in.silent();
  out.background = in.background();
  out.fate = static_cast<Outcome>(in.fate());
  out.via_depth = static_cast<std::uint16_t>(in.via_depth());
  for (std::uint32_t i = 0; i < inline_depth; ++i) out.via[i] = in.via(static_cast<int>(i));
  if (in.has_payload()) out.payload = std::make_shared<const v1::Payload>(in.payload());
  return "";
}

v1::ShardOpen shard_open(const std::string& scenario_name, const std::string& scenario_text,
                         const std::vector<std::string>& overrides) {
  v1::ShardOpen open;
  open.set_flowframe_version(kFlowFrameVersion);
  open.set_scenario_name(scenario_name);
  open.set_scenario_text(scenario_text);
  for (const auto& override_text : overrides) open.add_overrides(override_text);
  return open;
}

void fill_open(v1::ShardOpen& open, std::uint32_t shard, std::uint32_t shard_count, std::uint64_t seed, bool record,
               bool detailed) {
  open.set_seed(seed);
  open.set_shard(shard);
  open.set_shard_count(shard_count);
  open.set_record(record);
  open.set_detailed(detailed);
  open.set_frame_record_size(sizeof(FrameRecord));
}


// ---------------------------------------------------------------------------------------------

ShardHost::ShardHost(const v1::ShardOpen& open, const ComponentFactory& factory) {
  if (open.frame_record_size() != sizeof(FrameRecord))
    throw std::invalid_argument(fmt::format("frames of {} bytes asked for; this build's are {}: run the same build on both ends",
                                            open.frame_record_size(), sizeof(FrameRecord)));
  const std::vector<std::string> overrides(open.overrides().begin(), open.overrides().end());
  const auto scenario = parse_scenario(open.scenario_text(), open.scenario_name(), overrides);
  topology_ = std::make_unique<Topology>(scenario, open.seed(), factory);
  const auto nodes = static_cast<std::uint32_t>(topology_->size() - 1);
  if (open.shard_count() == 0 || open.shard_count() > nodes || open.shard() >= open.shard_count())
    throw std::invalid_argument(fmt::format("shard {} of {} asked for; the scenario has {} nodes", open.shard(),
                                            open.shard_count(), nodes));
  shard_of_ = assign_shards(*topology_, open.shard_count());
  shard_ = std::make_unique<Shard>(*topology_, open.shard(), open.shard_count(), shard_of_, open.record(), open.detailed());
  shard_->start();
}

ShardHost::~ShardHost() = default;

void ShardHost::started(v1::ShardOpened& opened) {
  opened.set_layout(layout(shard_of_));
  opened.set_next_time(shard_->next_time());
  opened.set_foreground(shard_->foreground());
  hand_over_mail(*opened.mutable_mail());
}

void ShardHost::hand_over_mail(google::protobuf::RepeatedPtrField<v1::WireEvent>& out) {
  for (auto& mail : shard_->outbox_[shard_->parity_]) {
    for (const auto& sent : mail) to_wire(sent, *out.Add());
    mail.clear();
  }
}

void ShardHost::run(const v1::ShardWindow& window, v1::ShardWindowDone& done) {
  done.Clear();
  Event event;
  for (const auto& wire : window.mail()) {
    if (auto error = from_wire(wire, *topology_, event); !error.empty()) {
      done.set_error("the run sent " + error);
      return;
    }
    if (shard_of_[event.dst] != shard_->id()) {
      done.set_error("the run sent an event for a node this shard does not host");
      return;
    }
    shard_->inject(std::move(event));
  }
  try {
    shard_->run(window.end(), window.window());
  } catch (const std::exception& error) {
    done.set_error(shard_->position() + ": " + error.what());
    return;
  }
  auto& frames = shard_->frames();
  done.set_frames(frames.data(), frames.size() * sizeof(FrameRecord));
  frames.clear();
  done.set_notes(std::move(shard_->notes()));
  shard_->notes().clear();
  hand_over_mail(*done.mutable_mail());
  done.set_next_time(shard_->next_time());
  done.set_foreground(shard_->foreground());
  done.set_delivered(shard_->delivered());
  done.set_hops(shard_->hops());
  done.set_last_time(shard_->last_time());
  std::uint64_t answered = 0;
  for (NodeIndex client : topology_->clients())
    if (shard_of_[client] == shard_->id())
      if (const auto* latencies = topology_->component(client).latencies()) answered += latencies->count();
  done.set_requests_done(answered);
}

void ShardHost::states(v1::ShardStates& states) const {
  states.Clear();
  for (NodeIndex node = 1; node < topology_->size(); ++node) {
    if (shard_of_[node] != shard_->id()) continue;
    auto& state = *states.add_nodes();
    state.set_node(node);
    const auto& component = topology_->component(node);
    component.snapshot_node(state);
    if (const auto* latencies = component.latencies()) latencies->save((*states.mutable_latencies())[node]);
  }
}

// ---------------------------------------------------------------------------------------------

void ShardMirror::open(std::uint32_t shard_count, std::uint64_t seed, bool record, bool detailed) {
  const auto opened = remote_.open(mirror_.id(), shard_count, seed, record, detailed);
  if (opened.layout() != layout(shard_of_))
    throw std::runtime_error(remote_.where() + " laid the scenario out differently (another build, or the scenario changed)");
  post(opened.mail(), 0, 0);  // the first window reads it, as mail sent while local shards start
  mirror_.earliest_sent_ = opened.next_time();
  mirror_.foreground_ = opened.foreground();
}

void ShardMirror::states(v1::ShardStates& states) {
  remote_.states(states);
  if (auto error = check_states(states, mirror_.id(), shard_of_); !error.empty())
    throw std::runtime_error(remote_.where() + " sent " + error);
}

void ShardMirror::post(const google::protobuf::RepeatedPtrField<v1::WireEvent>& mail, std::uint64_t window, Time end) {
  mirror_.parity_ = window & 1;
  auto& outbox = mirror_.outbox_[mirror_.parity_];
  Event event;
  for (const auto& wire : mail) {
    if (auto error = from_wire(wire, topology_, event); !error.empty())
      throw std::runtime_error(remote_.where() + " sent " + error);
    const auto to = shard_of_[event.dst];
    if (shard_of_[event.src] != mirror_.id() || to == mirror_.id())
      throw std::runtime_error(remote_.where() + " sent mail between nodes it does not host and the others");
    // Sent during the window, mail lands after it (the lookahead): earlier, the run would go back in time.
    if (event.deliver < end) throw std::runtime_error(remote_.where() + " sent mail into a window that has run");
    outbox[to].push_back(std::move(event));
  }
}

std::uint64_t layout(const std::vector<std::uint32_t>& shard_of) {
  std::uint64_t hash = 0xcbf29ce484222325ULL;  // FNV-1a over the node count and each node's shard
  auto mix = [&](std::uint64_t value) {
    for (int i = 0; i < 8; ++i, value >>= 8) hash = (hash ^ (value & 0xFF)) * 0x100000001b3ULL;
  };
  mix(shard_of.size());
  for (auto shard : shard_of) mix(shard);
  return hash;
}

void ShardMirror::run(const std::vector<std::unique_ptr<Shard>>& shards, Time end, std::uint64_t window) {
  mail_.clear();
  mirror_.take_mail(shards, window, mail_);
  window_.Clear();
  window_.set_end(end);
  window_.set_window(window);
  for (const auto& event : mail_) to_wire(event, *window_.add_mail());
  remote_.run(window_, done_);
  if (!done_.error().empty()) throw std::runtime_error(remote_.where() + ": " + done_.error());
  check_frames(done_, end);
  if (done_.next_time() < end) throw std::runtime_error(remote_.where() + " has events left in a window that has run");
  // What it sent lands in the mirror's outbox, where the other shards read it next window.
  post(done_.mail(), window, end);
  auto& frames = mirror_.frames();
  const auto count = done_.frames().size() / sizeof(FrameRecord);
  const auto first = frames.size();
  frames.resize(first + count);
  if (count) std::memcpy(static_cast<void*>(frames.data() + first), done_.frames().data(), count * sizeof(FrameRecord));
  const auto base = static_cast<std::uint32_t>(mirror_.notes().size());
  if (base)
    for (auto i = first; i < frames.size(); ++i) frames[i].note_offset += base;
  mirror_.notes() += done_.notes();
  // The counts as the host has them: the mirror holds no events of its own.
  mirror_.earliest_sent_ = done_.next_time();
  mirror_.foreground_ = done_.foreground();
  mirror_.mail_foreground_[0] = mirror_.mail_foreground_[1] = 0;
  mirror_.delivered_ = done_.delivered();
  mirror_.hops_ = done_.hops();
  mirror_.last_time_ = done_.last_time();
  requests_done_ = done_.requests_done();
}

// Frames are copied as bytes into the log: each must point inside its notes and name the
// shard's own nodes, or the writer would read past the buffer.
void ShardMirror::check_frames(const v1::ShardWindowDone& done, Time end) const {
  auto refuse = [&](const std::string& what) { throw std::runtime_error(remote_.where() + " sent " + what); };
  if (done.frames().size() % sizeof(FrameRecord) != 0) refuse("frames cut short");
  const auto count = done.frames().size() / sizeof(FrameRecord);
  const auto nodes = topology_.size();
  FrameRecord frame;
  for (std::size_t i = 0; i < count; ++i) {
    std::memcpy(static_cast<void*>(&frame), done.frames().data() + i * sizeof(FrameRecord), sizeof frame);
    const std::uint64_t notes_end = std::uint64_t{frame.note_offset} + frame.note_size + frame.previous_size +
                                    frame.change_size + frame.state_size;
    if (notes_end > done.notes().size()) refuse("a frame pointing past its notes");
    if (frame.dst == kDirector || frame.dst >= nodes || shard_of_[frame.dst] != mirror_.id() || frame.src >= nodes ||
        frame.client >= nodes || (frame.chosen != kNoNode && frame.chosen >= nodes))
      refuse("a frame about nodes it does not host");
    if (!v1::Frame::Kind_IsValid(static_cast<int>(frame.kind)) || !v1::Frame::Outcome_IsValid(static_cast<int>(frame.outcome)))
      refuse("a frame of an unknown kind");
    if (frame.key.deliver >= end) refuse("a frame from after the window");
  }
}

}  // namespace flowframe
