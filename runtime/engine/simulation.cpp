#include "runtime/engine/simulation.hpp"

#include <caf/all.hpp>
#include <sched.h>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <numeric>
#include <thread>

#include "runtime/framelog/frame_log.hpp"
#include "runtime/live/live.hpp"
#include "runtime/scenario/scenario.hpp"
#include "runtime/scenario/settings.hpp"
#include "runtime/engine/remote_shard.hpp"
#include "runtime/engine/shard.hpp"
#include "runtime/base/actor_timer.hpp"
#include "runtime/base/limits.hpp"
#include "runtime/base/text.hpp"
#include "runtime/base/version.hpp"

namespace flowframe {
namespace {

// A finished chunk on its way to the writer actor.
struct ChunkJob {
  bool has_keyframe = false;
  v1::Keyframe keyframe;
  std::vector<FrameRecord> frames;
  std::string notes;
};

}  // namespace
}  // namespace flowframe

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::shared_ptr<flowframe::ChunkJob>)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::shared_ptr<flowframe::v1::ShardStates>)

namespace flowframe {
namespace {

using run_atom = caf::atom_constant<caf::atom("run")>;
using done_atom = caf::atom_constant<caf::atom("done")>;
using chunk_atom = caf::atom_constant<caf::atom("chunk")>;
using written_atom = caf::atom_constant<caf::atom("written")>;
using finish_atom = caf::atom_constant<caf::atom("finish")>;
using failed_atom = caf::atom_constant<caf::atom("failed")>;
using tick_atom = caf::atom_constant<caf::atom("tick")>;
using states_atom = caf::atom_constant<caf::atom("states")>;

// While paused or pacing, the coordinator looks for control requests this often.
constexpr auto kControlPoll = std::chrono::milliseconds(20);
constexpr Time kLiveChunkTime = 50 * kNanosPerMilli;

// A single shard needs no windows: it runs ahead in slices of this many events.
constexpr std::uint64_t kSingleShardSlice = 1 << 16;
// Chunks handed to the writer and not yet written; past this the clock waits (bounded memory).
constexpr int kMaxChunksInFlight = 4;

// A live change as the timed event that would make it; a burst or an upload is a client setting.
v1::TimedEvent as_change(const v1::ControlRequest& request) {
  v1::TimedEvent change;
  change.set_node(request.node());
  switch (request.command_case()) {
    case v1::ControlRequest::kSet: *change.mutable_set() = request.set(); break;
    case v1::ControlRequest::kFail: change.set_fail(true); break;
    case v1::ControlRequest::kRestore: change.set_restore(true); break;
    case v1::ControlRequest::kFault: *change.mutable_fault() = request.fault(); break;
    case v1::ControlRequest::kBurst:
      change.mutable_set()->set_field("burst");
      change.mutable_set()->set_value(std::to_string(request.burst()));
      break;
    default:
      change.mutable_set()->set_field("upload");
      change.mutable_set()->set_value(request.upload());
  }
  return change;
}

// The window logic, free of CAF: which window runs next, frame merging and chunking.
class Clock {
 public:
  // The last options.remote_shards.size() of the shards are hosted elsewhere: here they are mirrors.
  Clock(Topology& topology, const RunOptions& options, unsigned shard_count)
      : topology_(topology), options_(options), record_(!options.out_path.empty()),
        local_(shard_count - static_cast<unsigned>(options.remote_shards.size())),
        chunk_time_(options.serve.empty() && !options.live_chunks ? kTimeNever : kLiveChunkTime),
        deadline_(topology.scenario().stop().duration_s() > 0
                      ? from_seconds(topology.scenario().stop().duration_s() + topology.scenario().stop().drain_s())
                      : kTimeNever) {
    shard_of_ = assign_shards(topology_, shard_count);
    active_ = shard_count;
    for (unsigned i = 0; i < shard_count; ++i)
      shards_.push_back(std::make_unique<Shard>(topology, i, shard_count, shard_of_, record_, detailed()));
    for (unsigned i = 0; i < local_; ++i) shards_[i]->start();
    for (unsigned i = local_; i < shard_count; ++i)
      mirrors_.push_back(std::make_unique<ShardMirror>(*shards_[i], *options.remote_shards[i - local_], topology, shard_of_));
    if (record_) start_chunk(0);
  }

  const std::vector<std::unique_ptr<Shard>>& shards() const { return shards_; }
  // Shards run in this process: the first ones; the others are mirrors of hosted ones.
  unsigned local_shards() const { return local_; }
  const std::vector<std::uint32_t>& shard_of() const { return shard_of_; }
  ShardMirror& mirror(unsigned shard) { return *mirrors_[shard - local_]; }
  // How many of the shards run (the first ones); the others hold no node.
  unsigned active_shards() const { return active_; }

  // Between windows: spreads the nodes over the first `active` shards, their waiting events with
  // them. Frames and windows do not depend on the shard count, so neither does the log.
  void reshard(unsigned active) {
    if (active == active_ || !mirrors_.empty()) return;
    std::vector<Event> waiting;
    for (auto& shard : shards_) shard->release(waiting);
    shard_of_ = assign_shards(topology_, active);
    active_ = active;
    for (auto& event : waiting) shards_[shard_of_[event.dst]]->inject(std::move(event));
  }
  bool detailed() const {
    return options_.detail == RunOptions::Detail::full ||
           (options_.detail == RunOptions::Detail::automatic && topology_.size() <= RunOptions::kFullDetailNodes);
  }
  bool recording() const { return record_; }

  // After every shard finished its window: gathers frames and plans the next window. Windows
  // depend only on the events (each starts at the earliest pending event and is one lookahead
  // wide), never on the shard count, so chunk ends and keyframes fall at the same frames for
  // any --shards and --threads. Returns false when no event is left anywhere.
  bool advance(Time& end) {
    if (record_) gather_frames();
    Time next = kTimeNever;
    std::uint64_t foreground = 0;
    for (const auto& shard : shards_) {
      next = std::min(next, shard->next_time());
      foreground += shard->foreground();
    }
    if (next == kTimeNever || foreground == 0) return false;
    // Work still under way long after the duration (it may never settle): the run ends anyway.
    if (next > deadline_) {
      cut_short_ = true;
      return false;
    }
    now_ = next;
    ++window_;
    end = next + topology_.lookahead();
    return true;
  }

  // For a lone shard: how many frames to produce before coming back to close the chunk.
  std::size_t frames_wanted() const {
    return record_ ? options_.chunk_frames - std::min(options_.chunk_frames, chunk_->frames.size()) : SIZE_MAX;
  }

  std::uint64_t window() const { return window_; }
  bool cut_short() const { return cut_short_; }
  Time deadline() const { return deadline_; }
  Time now() const { return now_; }
  Time lookahead() const { return topology_.lookahead(); }

  // A chunk ready for the writer if the current one is full (or `final`), else nullptr.
  std::shared_ptr<ChunkJob> take_chunk(bool final) {
    if (!record_) return nullptr;
    const bool due = chunk_->frames.size() >= options_.chunk_frames ||
                     (!chunk_->frames.empty() && now_ - chunk_start_ >= chunk_time_);
    if (!final && !due) return nullptr;
    if (final && chunk_->frames.empty() && !chunk_->has_keyframe) return nullptr;
    auto full = std::move(chunk_);
    frames_flushed_ += full->frames.size();
    if (!final) start_chunk(now_);
    return full;
  }

  // Whether the chunk just started needs the hosted shards' states for its keyframe (fill_keyframe
  // from each) before the next window runs.
  bool remote_states_due() const { return remote_states_due_; }
  // `states` as ShardMirror::states checked them.
  void fill_keyframe(v1::ShardStates& states) {
    for (auto& state : *states.mutable_nodes()) chunk_->keyframe.mutable_nodes(static_cast<int>(state.node() - 1))->Swap(&state);
  }
  void keyframe_filled() { remote_states_due_ = false; }

  // A chunk the writer is done with, for its buffers.
  void recycle(std::shared_ptr<ChunkJob> chunk) {
    // The writer holds it no longer (at most its finished message still counts a reference).
    if (spare_chunks_.size() < static_cast<std::size_t>(kMaxChunksInFlight)) spare_chunks_.push_back(std::move(chunk));
  }

  std::uint64_t frames() const { return frames_flushed_ + (chunk_ ? chunk_->frames.size() : 0); }
  std::uint64_t events() const {
    std::uint64_t total = 0;
    for (const auto& shard : shards_) total += shard->delivered();
    return total;
  }
  std::uint64_t hops() const {
    std::uint64_t total = 0;
    for (const auto& shard : shards_) total += shard->hops();
    return total;
  }
  std::uint64_t requests_done() const {
    std::uint64_t done = 0;
    for (NodeIndex client : topology_.clients())
      if (shard_of_[client] < local_)
        if (const auto* latencies = topology_.component(client).latencies()) done += latencies->count();
    for (const auto& mirror : mirrors_) done += mirror->requests_done();
    return done;
  }
  Time last_time() const {
    Time last = 0;
    for (const auto& shard : shards_) last = std::max(last, shard->last_time());
    return last;
  }

  // A control request from a live client, taking effect at the start of the next window.
  v1::ControlReply apply(const v1::ControlRequest& request) {
    v1::ControlReply reply;
    reply.set_id(request.id());
    reply.set_at_ns(now_);
    auto refuse = [&](const std::string& why) {
      reply.set_ok(false);
      reply.set_error(why);
      return reply;
    };
    const auto targets = topology_.resolve(request.node());
    if (targets.empty()) return refuse("unknown node '" + printable(request.node()) + "'");
    // Bursts asked for at one moment (while paused, or between two windows) add up: however
    // many requests a peer sends, at most limits::kBurst extra requests start at once.
    const std::uint64_t burst = static_cast<std::uint64_t>(request.burst()) * targets.size();
    if (burst_at_ != now_) burst_at_ = now_, burst_asked_ = 0;
    if (burst > 0 && burst_asked_ + burst > limits::kBurst)
      return refuse(fmt::format("a burst of {} from each of {} client{} is more than {} requests at once{}", request.burst(),
                                targets.size(), targets.size() == 1 ? "" : "s", limits::kBurst,
                                burst_asked_ ? fmt::format(" with the {} asked for already at this moment; let the run move on", burst_asked_)
                                             : ""));
    // Its record in a control frame has 16 bits of size; no real change comes near.
    if (request.ByteSizeLong() > 0xFFF0) return refuse("a change this large (over 64 KiB) cannot be recorded");
    const auto change = as_change(request);
    std::vector<ControlAction> actions;
    for (NodeIndex target : targets) {
      if (auto error = check_control(request, topology_.component(target).spec()); !error.empty()) return refuse(error);
      const auto planned = actions.size();
      if (auto error = topology_.plan(change, target, now_, actions); !error.empty())
        return refuse(topology_.spec(target).id() + ": " + error);
      // Each change at a node records the request as that node takes it; the notices it causes
      // follow from it again on replay.
      for (auto i = planned; i < actions.size(); ++i) {
        auto& action = actions[i];
        if (action.type == ControlAction::Type::health) continue;
        auto& typed = action.change.emplace(request);
        typed.clear_id();
        typed.set_node(topology_.spec(action.target).id());
        if (action.type == ControlAction::Type::link) {
          typed.mutable_fault()->mutable_link()->set_to(topology_.spec(action.subject).id());
          typed.mutable_fault()->mutable_link()->set_direction(v1::LinkFault::OUTBOUND);
        }
      }
    }
    for (auto& action : actions) {
      const auto index = topology_.actions().size();
      topology_.actions().push_back(action);
      Event control;
      control.kind = EventKind::control;
      control.src = kDirector;
      control.dst = action.target;
      control.seq = index;
      control.sent = control.deliver = action.at;
      control.arg = static_cast<std::int64_t>(index);
      shards_[shard_of_[action.target]]->inject(control);
    }
    burst_asked_ += burst;
    reply.set_ok(true);
    return reply;
  }

 private:
  void start_chunk(Time now) {
    chunk_start_ = now;
    // A written chunk's buffers are used again: fresh ones cost a page fault per 4 KiB.
    if (!spare_chunks_.empty()) {
      chunk_ = std::move(spare_chunks_.back());
      spare_chunks_.pop_back();
      chunk_->has_keyframe = false;
      chunk_->keyframe.Clear();
      chunk_->frames.clear();
      chunk_->notes.clear();
    } else {
      chunk_ = std::make_shared<ChunkJob>();
      chunk_->frames.reserve(options_.chunk_frames + options_.chunk_frames / 4);
    }
    // Every node's state as of the chunk start. Frequent enough to seek fast, rare enough that
    // keyframes stay a small part of the log in scenarios with many nodes.
    if (frames_flushed_ >= next_keyframe_at_) {
      chunk_->has_keyframe = true;
      auto& keyframe = chunk_->keyframe;
      keyframe.set_frame(frames_flushed_);
      keyframe.set_time(now);
      for (NodeIndex i = 1; i < topology_.size(); ++i) {
        auto& state = *keyframe.add_nodes();
        state.set_node(i);
        if (shard_of_[i] < local_) topology_.component(i).snapshot_node(state);
      }
      remote_states_due_ = !mirrors_.empty();
      next_keyframe_at_ = frames_flushed_ + std::max<std::uint64_t>(options_.chunk_frames, 4 * topology_.size());
    }
  }

  void gather_frames() {
    auto& out = chunk_->frames;
    const std::size_t before = out.size();
    if (active_ == 1 && out.empty()) {
      // The lone shard's buffers become the chunk's, and the chunk's empty ones its next.
      std::swap(out, shards_[0]->frames());
      std::swap(chunk_->notes, shards_[0]->notes());
      return;
    }
    for (auto& shard : shards_) {
      auto& frames = shard->frames();
      const auto base = static_cast<std::uint32_t>(chunk_->notes.size());
      chunk_->notes += shard->notes();
      shard->notes().clear();
      const std::size_t first = out.size();
      out.insert(out.end(), frames.begin(), frames.end());
      if (base) for (std::size_t i = first; i < out.size(); ++i) out[i].note_offset += base;
      frames.clear();
    }
    // Each shard's frames are in key order; across shards they interleave within the window.
    if (active_ > 1)
      std::sort(out.begin() + static_cast<std::ptrdiff_t>(before), out.end(),
                [](const FrameRecord& a, const FrameRecord& b) { return a.key < b.key; });
  }

  Topology& topology_;
  const RunOptions& options_;
  bool record_;
  unsigned local_;
  std::vector<std::uint32_t> shard_of_;
  std::vector<std::unique_ptr<Shard>> shards_;
  unsigned active_ = 1;
  std::shared_ptr<ChunkJob> chunk_;
  std::vector<std::shared_ptr<ChunkJob>> spare_chunks_;
  Time chunk_time_;
  Time deadline_;  // stop.duration_s + stop.drain_s (kTimeNever without a duration)
  bool cut_short_ = false;
  std::vector<std::unique_ptr<ShardMirror>> mirrors_;
  bool remote_states_due_ = false;  // the new chunk's keyframe lacks the hosted shards' nodes
  Time chunk_start_ = 0;
  Time burst_at_ = 0;             // the moment the bursts in burst_asked_ were asked for
  std::uint64_t burst_asked_ = 0;
  std::uint64_t frames_flushed_ = 0;
  std::uint64_t next_keyframe_at_ = 0;
  std::uint64_t window_ = 0;
  Time now_ = 0;
};

// A component (or a shard's host) that throws ends the run with the error and where it happened
// (`where`, asked only then); the frames written so far stay readable (the log lacks only its index).
template <class Work, class Where>
caf::message guarded(Work&& work, Where&& where) {
  try {
    return work();
  } catch (const std::exception& error) {
    return caf::make_message(failed_atom::value, "the run stopped: " + where() + error.what());
  }
}

caf::behavior shard_actor(caf::event_based_actor*, Shard* shard, const std::vector<std::unique_ptr<Shard>>* all,
                          Time lookahead, Time deadline) {
  return {
      [=](run_atom, Time end, std::uint64_t window) {
        return guarded(
            [&] {
              shard->take_mail(*all, window);
              shard->run(end, window);
              return caf::make_message(done_atom::value);
            },
            [&] { return shard->position() + ": "; });
      },
      [=](run_atom, std::size_t frames) {
        return guarded(
            [&] {
              shard->run_alone(lookahead, std::max<std::size_t>(frames, 1), kSingleShardSlice, deadline);
              return caf::make_message(done_atom::value);
            },
            [&] { return shard->position() + ": "; });
      },
  };
}

// A shard hosted elsewhere: each window waits on the network, so the actor has a thread of its own.
caf::behavior mirror_actor(caf::event_based_actor*, ShardMirror* mirror, const std::vector<std::unique_ptr<Shard>>* all,
                           std::uint32_t shard) {
  // Its errors name the host already.
  auto nowhere = [] { return std::string(); };
  return {
      [=](run_atom, Time end, std::uint64_t window) {
        return guarded(
            [&] {
              mirror->run(*all, end, window);
              return caf::make_message(done_atom::value);
            },
            nowhere);
      },
      [=](states_atom) {
        return guarded(
            [&] {
              auto states = std::make_shared<v1::ShardStates>();
              mirror->states(*states);
              return caf::make_message(states_atom::value, shard, std::move(states));
            },
            nowhere);
      },
  };
}

caf::behavior writer_actor(caf::event_based_actor*, FrameLogWriter* writer) {
  return {
      [=](chunk_atom, const std::shared_ptr<ChunkJob>& job) -> caf::message {
        try {
          writer->write_chunk(job->has_keyframe ? &job->keyframe : nullptr, job->frames.data(), job->frames.size(),
                              job->notes);
          return caf::make_message(written_atom::value, job);
        } catch (const std::exception& error) {
          return caf::make_message(failed_atom::value, std::string(error.what()));
        }
      },
      [=](finish_atom) -> caf::message {
        try {
          writer->finish();
          return caf::make_message(finish_atom::value);
        } catch (const std::exception& error) {
          return caf::make_message(failed_atom::value, std::string(error.what()));
        }
      },
  };
}

struct CoordinatorState {
  std::vector<caf::actor> shards;
  caf::actor writer;
  std::size_t waiting = 0;  // shards still running the current window
  std::size_t states_waiting = 0;  // hosted shards yet to send their states for a keyframe
  bool planning = false;  // windows are being planned (the first keyframe's states came in)
  int chunks_in_flight = 0;
  bool window_pending = false;  // a window is planned but held back
  bool tick_pending = false;    // a delayed look at controls and pacing is on its way
  bool finishing = false;
  Time end = 0;
  std::chrono::steady_clock::time_point started;
  std::chrono::steady_clock::time_point last_progress;
  // Live runs.
  LiveServer* live = nullptr;
  bool stepwise = false;  // one window per round even with one shard, so controls and pacing act often
  bool paused = false;
  double speed = 0;
  std::uint64_t step_until = 0;  // while stepping: pause once this many frames exist
  std::chrono::steady_clock::time_point pace_wall;
  Time pace_sim = 0;
  std::size_t next_scheduled = 0;  // in RunOptions::scheduled_controls
  // Choosing between one shard and all of them by measuring (adapt_shards).
  bool adaptive = false;
  enum class Trial { none, measuring, trying } trial = Trial::measuring;
  std::chrono::steady_clock::time_point trial_started;
  std::uint64_t trial_events = 0;
  double measured_rate = 0;  // events per second of the shard count in use before the trial
  std::chrono::steady_clock::time_point next_trial;
};

// Several shards pay only when a window's work outweighs the round trip that starts and ends it,
// and only while every thread gets a core. So the coordinator measures: now and then it runs a
// short trial of the other choice (one shard, or all) and keeps whichever delivered more events
// per second; ties go to one shard. Windows and frames do not depend on it.
constexpr auto kTrialTime = std::chrono::milliseconds(100);
constexpr auto kTrialEvery = std::chrono::seconds(2);
constexpr double kTrialMargin = 1.1;

void adapt_shards(CoordinatorState& st, Clock& clock, const RunOptions& options) {
  if (options.shard_plan) {
    if (const unsigned planned = options.shard_plan(clock.window()))
      clock.reshard(std::min<unsigned>(planned, static_cast<unsigned>(clock.shards().size())));
    return;
  }
  if (!st.adaptive) return;
  const auto now = std::chrono::steady_clock::now();
  const auto all = static_cast<unsigned>(clock.shards().size());
  auto rate = [&] {
    const double seconds = std::chrono::duration<double>(now - st.trial_started).count();
    return static_cast<double>(clock.events() - st.trial_events) / std::max(seconds, 1e-9);
  };
  auto start = [&](CoordinatorState::Trial trial) {
    st.trial = trial;
    st.trial_started = now;
    st.trial_events = clock.events();
  };
  switch (st.trial) {
    case CoordinatorState::Trial::none:
      if (now >= st.next_trial) start(CoordinatorState::Trial::measuring);
      return;
    case CoordinatorState::Trial::measuring:
      if (now - st.trial_started < kTrialTime) return;
      st.measured_rate = rate();
      clock.reshard(clock.active_shards() == 1 ? all : 1);
      start(CoordinatorState::Trial::trying);
      return;
    case CoordinatorState::Trial::trying: {
      if (now - st.trial_started < kTrialTime) return;
      const double tried = rate();
      const bool trying_one = clock.active_shards() == 1;
      const bool keep = trying_one ? tried * kTrialMargin >= st.measured_rate : tried >= st.measured_rate * kTrialMargin;
      if (!keep) clock.reshard(trying_one ? all : 1);
      st.trial = CoordinatorState::Trial::none;
      st.next_trial = now + kTrialEvery;
      return;
    }
  }
}

caf::behavior coordinator_actor(caf::stateful_actor<CoordinatorState>* self, Clock* clock,
                                FrameLogWriter* log, LiveServer* live, const RunOptions* options, caf::actor waiter) {
  auto& st = self->state;
  self->set_exception_handler([self, waiter](caf::scheduled_actor*, std::exception_ptr& thrown) -> caf::error {
    std::string what = "unknown error";
    try {
      std::rethrow_exception(thrown);
    } catch (const std::exception& error) {
      what = error.what();
    } catch (...) {
    }
    self->send(waiter, failed_atom::value, "the run stopped: " + what);
    return caf::sec::runtime_error;
  });
  for (std::uint32_t i = 0; i < clock->shards().size(); ++i)
    st.shards.push_back(i < clock->local_shards()
                            ? self->spawn<caf::linked>(shard_actor, clock->shards()[i].get(), &clock->shards(),
                                                       clock->lookahead(), clock->deadline())
                            : self->spawn<caf::linked + caf::detached>(mirror_actor, &clock->mirror(i), &clock->shards(), i));
  // The writer has a thread of its own: compressing and writing overlap the simulation even
  // with one scheduler thread, and never change what is written.
  if (log != nullptr) st.writer = self->spawn<caf::linked + caf::detached>(writer_actor, log);
  st.started = st.last_progress = st.trial_started = std::chrono::steady_clock::now();
  st.live = live;
  st.paused = options->start_paused;
  st.speed = options->speed;
  // A replay of a steered run cuts chunks by simulated time as the run did: window by window.
  st.stepwise = live != nullptr || options->speed > 0 || options->start_paused || !options->scheduled_controls.empty() ||
                options->live_chunks;
  st.adaptive = !st.stepwise && options->shards == 0 && options->remote_shards.empty() && clock->shards().size() > 1;

  auto start_window = [self, clock] {
    auto& st = self->state;
    st.window_pending = false;
    st.waiting = clock->active_shards();
    if (st.waiting == 1 && !st.stepwise) {
      self->send(st.shards[0], run_atom::value, clock->frames_wanted());
      return;
    }
    for (std::size_t i = 0; i < st.waiting; ++i) self->send(st.shards[i], run_atom::value, st.end, clock->window());
  };
  auto send_chunk = [self](std::shared_ptr<ChunkJob> job) {
    ++self->state.chunks_in_flight;
    self->send(self->state.writer, chunk_atom::value, std::move(job));
  };
  auto finish = [self, clock, send_chunk, waiter] {
    auto& st = self->state;
    st.finishing = true;
    if (!st.writer) {
      self->send(waiter, done_atom::value);
      self->quit();
      return;
    }
    if (auto job = clock->take_chunk(true)) send_chunk(std::move(job));
    self->send(st.writer, finish_atom::value);
  };
  // Live control requests: pacing ones act here, changes to nodes become control events.
  auto handle_controls = [self, clock, options] {
    auto& st = self->state;
    for (; st.next_scheduled < options->scheduled_controls.size() &&
           options->scheduled_controls[st.next_scheduled].first <= clock->now();
         ++st.next_scheduled)
      clock->apply(options->scheduled_controls[st.next_scheduled].second);
    if (!st.live) return;
    for (auto& [client, request] : st.live->take_requests()) {
      v1::ControlReply reply;
      reply.set_id(request.id());
      reply.set_ok(true);
      reply.set_at_ns(clock->now());
      // Whatever a peer sends is checked as a scenario file's values are.
      if (auto error = control_problem(request); !error.empty()) {
        reply.set_ok(false);
        reply.set_error(error);
        st.live->reply(client, reply);
        continue;
      }
      switch (request.command_case()) {
        case v1::ControlRequest::kPause: st.paused = true; break;
        case v1::ControlRequest::kResume: st.paused = false; st.step_until = 0; break;
        case v1::ControlRequest::kStep:
          st.paused = false;
          st.step_until = clock->frames() + std::max<std::uint64_t>(1, request.step());
          break;
        case v1::ControlRequest::kSpeed:
          if (request.speed() < 0) {
            reply.set_ok(false);
            reply.set_error("speed must be >= 0 (0: as fast as possible)");
          } else {
            st.speed = request.speed();
            st.pace_wall = std::chrono::steady_clock::now();
            st.pace_sim = clock->now();
          }
          break;
        default:
          reply = clock->apply(request);
      }
      st.live->reply(client, reply);
    }
  };
  // Starts the planned window unless paused, ahead of the wall clock, or the writer is behind;
  // then looks again a little later.
  auto maybe_start = [self, clock, handle_controls, start_window] {
    auto& st = self->state;
    handle_controls();
    if (st.step_until && clock->frames() >= st.step_until) {
      st.paused = true;
      st.step_until = 0;
    }
    auto wait = std::chrono::steady_clock::duration::zero();
    if (st.speed > 0 && !st.paused) {
      // At most an hour ahead: a tiny speed must not overflow the wall-clock arithmetic.
      const double ahead_ns = std::min(static_cast<double>(clock->now() - st.pace_sim) / st.speed, 3.6e12);
      const auto due = st.pace_wall + std::chrono::nanoseconds(static_cast<std::int64_t>(ahead_ns));
      wait = due - std::chrono::steady_clock::now();
    }
    // A timer cannot wake us much more precisely than this; run slightly early instead.
    constexpr auto kPaceSlack = std::chrono::milliseconds(2);
    if (st.paused || wait > kPaceSlack || st.chunks_in_flight >= kMaxChunksInFlight) {
      st.window_pending = true;
      if (st.chunks_in_flight < kMaxChunksInFlight && !st.tick_pending) {
        st.tick_pending = true;
        const auto delay = st.paused ? kControlPoll : std::min<std::chrono::steady_clock::duration>(wait, kControlPoll);
        remind_self(self, delay, tick_atom::value);
      }
      return;
    }
    start_window();
  };
  // A keyframe waits for the hosted shards' nodes before the run moves on.
  auto ask_states = [self, clock] {
    auto& st = self->state;
    st.states_waiting = clock->shards().size() - clock->local_shards();
    for (auto i = clock->local_shards(); i < clock->shards().size(); ++i) self->send(st.shards[i], states_atom::value);
  };
  auto next = [self, clock, options, send_chunk, finish, maybe_start, ask_states] {
    auto& st = self->state;
    st.planning = true;
    if (!clock->advance(st.end)) {
      finish();
      return;
    }
    if (auto job = clock->take_chunk(false)) send_chunk(std::move(job));
    adapt_shards(self->state, *clock, *options);
    if (options->progress) {
      const auto now = std::chrono::steady_clock::now();
      if (now - st.last_progress > std::chrono::milliseconds(500)) {
        st.last_progress = now;
        options->progress({clock->now(), clock->events(), clock->requests_done(),
                           std::chrono::duration<double>(now - st.started).count()});
      }
    }
    if (clock->remote_states_due()) return ask_states();
    maybe_start();
  };
  st.pace_wall = std::chrono::steady_clock::now();
  // The first chunk's keyframe waits for the hosted shards' nodes, even if no window ever runs.
  if (clock->remote_states_due()) ask_states();
  else next();
  st.pace_sim = clock->now();

  return {
      [=](done_atom) {
        if (--self->state.waiting == 0) next();
      },
      [=](states_atom, std::uint32_t, std::shared_ptr<v1::ShardStates>& states) {
        clock->fill_keyframe(*states);
        if (--self->state.states_waiting > 0) return;
        clock->keyframe_filled();
        if (self->state.planning) maybe_start();
        else next();
      },
      [=](tick_atom) {
        self->state.tick_pending = false;
        if (self->state.window_pending) maybe_start();
      },
      [=](written_atom, std::shared_ptr<ChunkJob>& job) {
        auto& st = self->state;
        clock->recycle(std::move(job));
        --st.chunks_in_flight;
        if (st.window_pending && st.chunks_in_flight < kMaxChunksInFlight) maybe_start();
      },
      [=](finish_atom) {
        self->send(waiter, done_atom::value);
        self->quit();
      },
      [=](failed_atom, const std::string& error) {
        self->send(waiter, failed_atom::value, error);
        self->quit();
      },
  };
}

}  // namespace

std::vector<std::pair<Time, v1::ControlRequest>> controls_from_log(const std::string& path) {
  FrameLogReader reader(path);
  if (reader.minor_version() < 1)
    throw LogError(path + ": recorded by an older FlowFrame (format 1." + std::to_string(reader.minor_version()) +
                   "), whose live changes cannot be read back; record the steered run again");
  // Only changes made live carry their request: the scenario's own changes and the health notices
  // any change causes happen again by themselves. A change the node refused is replayed too: it is
  // refused again and leaves the same frame.
  std::vector<std::pair<Time, v1::ControlRequest>> controls;
  DecodedChunk chunk;
  for (std::size_t i = 0; i < reader.chunks().size(); ++i) {
    if (!reader.read_chunk(i, chunk, FrameLogReader::States::skip))
      throw LogError(path + ": a damaged chunk; its changes cannot be replayed");
    for (const auto& view : chunk.frames)
      if (view.frame.kind() == v1::Frame::CONTROL && view.frame.has_change())
        controls.emplace_back(view.time, view.frame.change());
  }
  return controls;
}

Simulation::Simulation(const v1::Scenario& scenario, RunOptions options, const ComponentFactory& factory)
    : options_(std::move(options)), topology_(std::make_unique<Topology>(scenario, options_.seed, factory)) {}

Simulation::~Simulation() = default;

v1::LogHeader Simulation::header() const {
  v1::LogHeader header;
  header.set_flowframe_version(kFlowFrameVersion);
  *header.mutable_scenario() = topology_->scenario();
  header.set_seed(options_.seed);
  topology_->describe(header);
  return header;
}

unsigned Simulation::simulation_threads() const {
  // The log's writer is a thread of its own: with no core to spare for it, the simulation takes
  // one thread fewer (three busy threads on two cores ran slower than two). Shards asked for by
  // number get the threads asked for.
  // The cores this process may use (its affinity), not the machine's.
  cpu_set_t usable;
  const unsigned cores = sched_getaffinity(0, sizeof usable, &usable) == 0
                             ? static_cast<unsigned>(std::max(1, CPU_COUNT(&usable)))
                             : std::max(1u, std::thread::hardware_concurrency());
  if (options_.shards == 0 && !options_.out_path.empty() && options_.threads >= cores) return std::max(1u, cores - 1);
  return std::max(1u, options_.threads);
}

unsigned Simulation::choose_shards() const {
  const auto nodes = static_cast<unsigned>(topology_->size() - 1);
  // One here, one per host.
  if (!options_.remote_shards.empty()) return 1 + static_cast<unsigned>(options_.remote_shards.size());
  if (options_.shards > 0) return std::min(options_.shards, nodes);
  if (simulation_threads() <= 1) return 1;
  // Windows pay off only when each holds enough events to share out; a sparse workload runs
  // fastest as one shard with no windows at all. Each request makes about six events.
  const double events_per_window =
      topology_->scenario().workload().rate() * 6.0 * to_seconds(topology_->lookahead());
  if (events_per_window < 64) return 1;
  return std::min(simulation_threads(), nodes);
}

RunResult Simulation::run() {
  RunResult result;
  const auto& remote = options_.remote_shards;
  if (!remote.empty()) {
    if (!options_.serve.empty() || options_.speed > 0 || options_.start_paused || !options_.scheduled_controls.empty())
      throw std::invalid_argument("a run on workers cannot be served, paced, paused or steered: those act from one process");
    if (remote.size() + 1 > topology_->size() - 1)
      throw std::invalid_argument(fmt::format("{} workers and this process make {} shards, more than the scenario's {} nodes",
                                              remote.size(), remote.size() + 1, topology_->size() - 1));
  }
  result.shards = choose_shards();
  result.threads = std::max(1u, options_.threads);
  const auto wall_start = std::chrono::steady_clock::now();

  std::unique_ptr<FrameLogWriter> log;
  if (!options_.out_path.empty())
    log = std::make_unique<FrameLogWriter>(options_.out_path, header(), options_.compression_level);
  std::unique_ptr<LiveServer> live;
  if (!options_.serve.empty()) {
    if (!log) throw std::invalid_argument("--serve streams the frame log: it cannot be used with --no-frames");
    live = std::make_unique<LiveServer>(options_.serve, options_.allow_remote, options_.out_path, *log);
    if (options_.on_serving) options_.on_serving(live->address());
  }
  Clock clock(*topology_, options_, result.shards);
  for (unsigned i = clock.local_shards(); i < result.shards; ++i)
    clock.mirror(i).open(result.shards, options_.seed, clock.recording(), clock.detailed());

  caf::actor_system_config config;
  // A run that starts with one shard keeps it (only a run of several measures whether they pay):
  // a second scheduler thread would only idle on the core the writer needs.
  const unsigned scheduler_threads = std::min(simulation_threads(), clock.local_shards());
  result.threads = scheduler_threads;  // what runs, which may be fewer than asked for
  config.set("scheduler.max-threads", static_cast<std::size_t>(scheduler_threads));
  // Windows are short (tens of microseconds of work): idle workers poll a while before they sleep,
  // or the second thread never gets to help; but only a while, then they back off to short sleeps,
  // as a spinning worker takes the core a descheduled one needs (10,000 attempts doubled the CPU
  // time for nothing). One thread has no one to wait for: polling would take the writer's core.
  if (scheduler_threads > 1) config.set("work-stealing.aggressive-poll-attempts", std::size_t{1000});
  // With shards elsewhere, the coordinator mostly waits on the network: woken as answers come,
  // not by polling with sleeps in between (network_config in runtime/lab/workers.cpp).
  if (!remote.empty()) config.set("scheduler.policy", caf::atom("sharing"));
  std::string failure;
  {
    caf::actor_system system{config};
    caf::scoped_actor waiter{system};
    auto coordinator =
        system.spawn(coordinator_actor, &clock, log.get(), live.get(), &options_, caf::actor_cast<caf::actor>(waiter));
    waiter->monitor(coordinator);  // never wait for a coordinator that is gone
    waiter->receive([](done_atom) {}, [&](failed_atom, const std::string& error) { failure = error; },
                    [&](caf::down_msg& down) { failure = "the run stopped: " + caf::to_string(down.reason); });
  }
  if (!failure.empty()) throw LogError(failure);
  if (live) live->finish(options_.linger_ms);

  for (unsigned i = clock.local_shards(); i < result.shards; ++i) {
    v1::ShardStates states;
    clock.mirror(i).states(states);
    for (auto& state : *states.mutable_nodes()) result.remote_nodes[state.node()].state.Swap(&state);
    for (const auto& [node, saved] : states.latencies())
      if (!result.remote_nodes[node].latencies.emplace().load(saved))
        throw std::runtime_error(clock.mirror(i).where() + " sent latencies that do not add up");
  }
  result.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
  result.sim_end = clock.last_time();
  result.events = clock.events();
  result.hops = clock.hops();
  result.windows = clock.window();
  result.cut_short = clock.cut_short();
  result.frames = clock.frames();
  if (log) result.log_bytes = log->bytes_written();
  return result;
}

}  // namespace flowframe
