// The viewer's data model: seeking gives the same state as replaying, filters, traces, damaged logs.
#include <gtest/gtest.h>

#include <map>

#include <google/protobuf/util/message_differencer.h>

#include "support.hpp"
#include "viewer/model/locked_playback.hpp"
#include "viewer/model/playback.hpp"
#include "viewer/model/queries.hpp"
#include "viewer/model/sequence.hpp"

namespace flowframe::view {
namespace {

std::string record(const std::string& scenario, const std::string& path, std::size_t chunk_frames,
                   const std::vector<std::string>& overrides = {}) {
  RunOptions options;
  options.out_path = path;
  options.chunk_frames = chunk_frames;
  test::run_scenario(scenario, overrides, options);
  return path;
}

void expect_same_world(const World& got, const World& want, const std::string& where) {
  ASSERT_EQ(got.frame, want.frame) << where;
  ASSERT_EQ(got.nodes.size(), want.nodes.size()) << where;
  for (std::size_t n = 1; n < got.nodes.size(); ++n) {
    EXPECT_EQ(got.nodes[n].load, want.nodes[n].load) << where << " node " << n;
    EXPECT_EQ(got.nodes[n].queue, want.nodes[n].queue) << where << " node " << n;
    EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(got.nodes[n].state, want.nodes[n].state))
        << where << " node " << n << "\n  got:  " << got.nodes[n].state.ShortDebugString()
        << "\n  want: " << want.nodes[n].state.ShortDebugString();
  }
}

// For every frame of every built-in scenario (in small chunks, so there are many keyframes):
// the state rebuilt from the nearest keyframe equals the state replayed from the start, seeking
// forwards and backwards.
TEST(ViewModel, SeekingEqualsReplayingForEveryFrameOfEveryBuiltinScenario) {
  for (const auto& builtin : builtin_scenarios()) {
    test::TempPath path(".ffl");
    LogModel model(record(builtin.name, path.str(), 10));
    ASSERT_GT(model.chunk_count(), 2u) << builtin.name;
    // Forward: every frame. Backward: the frames on both sides of every chunk boundary and every
    // 7th frame besides, so the test does not keep a copy of the world per frame of a long run.
    std::map<std::uint64_t, World> replayed;
    World world;
    world.start(model.chunk(0, true)->keyframe, model.node_count());
    for (std::uint64_t i = 0; i < model.frame_count(); ++i) {
      world.apply(*model.frame(i, true));
      expect_same_world(*model.world_at(i, true), world, builtin.name + " forward " + std::to_string(i));
      if (i % 7 == 0 || i % 10 == 0 || i % 10 == 9) replayed.emplace(i, world);
    }
    for (auto at = replayed.rbegin(); at != replayed.rend(); ++at)
      expect_same_world(*model.world_at(at->first, true), at->second, builtin.name + " backward " + std::to_string(at->first));
    if (HasFailure()) return;
  }
}

TEST(ViewModel, StateAtAFrameIsWhatTheNodeHadThen) {
  test::TempPath path(".ffl");
  LogModel model(record("load_balancing_failover", path.str(), 100, {"workload.rate=120"}));
  const NodeIndex server2 = 7;
  ASSERT_EQ(model.header().nodes(server2).id(), "server-2");
  const auto before = *model.frame_at_time(from_seconds(0.999), true);
  const auto during = *model.frame_at_time(from_seconds(1.5), true);
  EXPECT_EQ(model.world_at(before, true)->nodes[server2].state.server().capacity(), 2u);
  EXPECT_EQ(model.world_at(during, true)->nodes[server2].state.server().capacity(), 0u);
  EXPECT_EQ(model.world_at(during, true)->nodes[server2].load, 0u);
}

TEST(ViewModel, PlaybackRunsSimulatedTimeAndSteps) {
  test::TempPath path(".ffl");
  LogModel model(record("load_balancing", path.str(), 50));
  for (std::size_t c = 0; c < model.chunk_count(); ++c) model.chunk(c, true);  // no waiting in ticks below
  Playback playback(model);
  EXPECT_EQ(playback.frame(), 0u);
  playback.step(5);
  EXPECT_EQ(playback.frame(), 5u);
  playback.step(-2);
  EXPECT_EQ(playback.frame(), 3u);
  playback.set_rate(0.5);
  playback.play();
  const Time before = playback.time();
  playback.tick(0.1);  // 50 ms of simulated time
  EXPECT_EQ(playback.time(), before + 50 * kNanosPerMilli);
  EXPECT_EQ(playback.frame(), *model.frame_at_time(playback.time(), true));
  // Frames per second: whole frames, the fraction carried to the next tick.
  playback.set_pace(Playback::Pace::frames);
  playback.set_rate(30);
  const auto frame = playback.frame();
  playback.tick(0.02);  // 0.6 of a frame
  EXPECT_EQ(playback.frame(), frame);
  playback.tick(0.02);
  EXPECT_EQ(playback.frame(), frame + 1);
  playback.tick(0.1);  // 3 more
  EXPECT_EQ(playback.frame(), frame + 4);
  EXPECT_EQ(playback.time(), model.frame(frame + 4, true)->time);
  // Story: one hop per 1/rate wall seconds however long it took in simulated time; the clock
  // runs between the two frames meanwhile.
  playback.set_pace(Playback::Pace::story);
  playback.set_rate(2);
  const auto told = playback.frame();
  // The clock runs across the told hop: from its sending (or now, if it left earlier) to its delivery.
  const Time from = std::max(model.frame(told, true)->time, model.frame(told + 1, true)->sent), to = model.frame(told + 1, true)->time;
  playback.tick(0.25);
  EXPECT_EQ(playback.frame(), told);
  EXPECT_FLOAT_EQ(*playback.story_progress(), 0.5f);
  EXPECT_EQ(playback.time(), from + (to - from) / 2);
  playback.tick(0.25);
  EXPECT_EQ(playback.frame(), told + 1);
  EXPECT_EQ(playback.time(), to);
  EXPECT_FLOAT_EQ(*playback.story_progress(), 0.0f);
  EXPECT_EQ(playback.rate_range(), std::make_pair(0.2, 10.0));
  playback.set_pace(Playback::Pace::sim_time);
  EXPECT_EQ(playback.rate(), 0.5);  // each pace keeps its own rate
  EXPECT_FALSE(playback.story_progress());
  playback.end();
  EXPECT_FALSE(playback.playing());
  EXPECT_EQ(playback.frame(), model.frame_count() - 1);
  ASSERT_NE(playback.world(), nullptr);
  EXPECT_EQ(playback.world()->frame, model.frame_count() - 1);
  playback.set_rate(5000);
  EXPECT_EQ(playback.rate(), 1000);
  playback.set_rate(std::nan(""));
  EXPECT_EQ(playback.rate(), 1000);  // unchanged
}

// Two runs locked by simulated time: steps visit every frame of both once, in time order; playing
// keeps the follower at the lead's moment; the longer run leads.
TEST(ViewModel, LockedPlaybackStepsThroughBothRunsInTimeOrderAndFollowsTheLead) {
  test::TempPath a_path(".ffl"), b_path(".ffl");
  LogModel a_model(record("load_balancing", a_path.str(), 40, {"stop.requests=60", "workload.rate=150"}));
  LogModel b_model(record("load_balancing", b_path.str(), 40, {"stop.requests=90", "workload.rate=150", "lb.strategy=least_conn"}));
  ASSERT_GT(b_model.last_time(), a_model.last_time());
  Playback a(a_model), b(b_model);
  LockedPlayback lock(a, b);
  EXPECT_FALSE(lock.a_leads());  // B runs longer
  EXPECT_EQ(lock.last_time(), b_model.last_time());

  auto time_of = [](LogModel& model, std::uint64_t frame) { return model.frame(frame, true)->time; };
  // Forward to the end: each step moves one run or both by a frame, never back in time, and a run
  // that stays put has its next frame later than the step's moment.
  std::uint64_t steps = 0;
  Time moment = 0;
  for (;;) {
    const auto fa = a.frame(), fb = b.frame();
    lock.step(1);
    if (a.frame() == fa && b.frame() == fb) break;
    ++steps;
    ASSERT_LE(a.frame() - fa + b.frame() - fb, 2u);
    ASSERT_LE(a.frame() - fa, 1u);
    ASSERT_LE(b.frame() - fb, 1u);
    const Time now = std::max(time_of(a_model, a.frame()), time_of(b_model, b.frame()));
    ASSERT_EQ(lock.time(), now);
    ASSERT_GE(now, moment) << "step " << steps;
    moment = now;
    if (a.frame() == fa && fa + 1 < a_model.frame_count()) {
      ASSERT_GT(time_of(a_model, fa + 1), now) << "step " << steps;
    }
    if (b.frame() == fb && fb + 1 < b_model.frame_count()) {
      ASSERT_GT(time_of(b_model, fb + 1), now) << "step " << steps;
    }
  }
  EXPECT_EQ(a.frame(), a_model.frame_count() - 1);
  EXPECT_EQ(b.frame(), b_model.frame_count() - 1);
  EXPECT_GE(steps, b_model.frame_count() - 1);  // every frame of the longer run is a step of its own or shared
  EXPECT_LE(steps, a_model.frame_count() + b_model.frame_count() - 2);
  // Back to the start the same way, never forward in time.
  for (;;) {
    const auto fa = a.frame(), fb = b.frame();
    lock.step(-1);
    if (a.frame() == fa && b.frame() == fb) break;
    ASSERT_LE(fa - a.frame(), 1u);
    ASSERT_LE(fb - b.frame(), 1u);
    const Time now = std::max(time_of(a_model, a.frame()), time_of(b_model, b.frame()));
    ASSERT_LE(now, moment);
    moment = now;
  }
  EXPECT_EQ(a.frame(), 0u);
  EXPECT_EQ(b.frame(), 0u);

  // Playing in simulated time: the lead's clock runs, the follower shows the frame at that moment
  // until its run ends, then its last.
  lock.set_rate(0.5);
  EXPECT_EQ(a.rate(), 0.5);
  EXPECT_EQ(b.rate(), 0.5);
  lock.play();
  EXPECT_TRUE(lock.playing());
  while (lock.playing()) {
    const Time before = lock.time();
    lock.tick(0.05);
    ASSERT_EQ(lock.time(), b.time());  // the moment shown is the lead's clock
    ASSERT_GT(lock.time(), before);
    ASSERT_EQ(b.frame(), *b_model.frame_at_time(b.time(), true));
    ASSERT_EQ(a.time(), std::min(b.time(), a_model.last_time()));
    ASSERT_EQ(a.frame(), *a_model.frame_at_time(a.time(), true));
  }
  EXPECT_EQ(b.frame(), b_model.frame_count() - 1);
  EXPECT_EQ(a.frame(), a_model.frame_count() - 1);
  EXPECT_EQ(lock.time(), b_model.last_time());

  // Each run to a frame of its own; playing on from there starts at the later of the two.
  lock.seek_frames(30, 31);
  EXPECT_EQ(a.frame(), 30u);
  EXPECT_EQ(b.frame(), 31u);
  EXPECT_FALSE(lock.playing());
  lock.tick(0.05);  // paused: nothing moves
  EXPECT_EQ(a.frame(), 30u);
  EXPECT_EQ(b.frame(), 31u);
  lock.home();
  EXPECT_EQ(lock.time(), std::min(a_model.first_time(), b_model.first_time()));
  EXPECT_EQ(a.frame(), 0u);
  EXPECT_EQ(b.frame(), 0u);
  lock.seek_time(a_model.last_time());
  EXPECT_EQ(a.frame(), a_model.frame_count() - 1);
  EXPECT_EQ(b.frame(), *b_model.frame_at_time(a_model.last_time(), true));
  // One run moved on its own (a click on its frames): the other goes to its moment.
  a.seek_frame(25);
  lock.follow(true);
  EXPECT_EQ(b.frame(), *b_model.frame_at_time(time_of(a_model, 25), true));
  EXPECT_EQ(lock.time(), time_of(a_model, 25));
  b.seek_frame(70);
  lock.follow(false);
  EXPECT_EQ(a.frame(), *a_model.frame_at_time(time_of(b_model, 70), true));
}

TEST(ViewModel, FilterQueriesMatchFieldsNotFrameNumbersOrTimes) {
  test::TempPath path(".ffl");
  LogModel model(record("cache_aside", path.str(), 64));
  auto count = [&](const std::string& query) {
    FrameFilter filter;
    EXPECT_EQ(filter.parse(query, model.header()), "") << query;
    FilterScan running(model, std::move(filter));
    while (!running.done()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    return running.size();
  };
  std::uint32_t cache = 0, app = 0;
  for (const auto& node : model.header().nodes()) {
    if (node.id() == "cache") cache = node.index();
    if (node.id() == "app") app = node.index();
  }
  std::size_t status_404 = 0, misses = 0, with_digits = 0, cache_to_app_404 = 0, handled_misses = 0;
  for (std::uint64_t i = 0; i < model.frame_count(); ++i) {
    const auto view = model.frame(i, true);
    const auto& f = view->frame;
    status_404 += f.status() == 404;
    misses += f.outcome() == v1::Frame::CACHE_MISS;
    // A cache miss's 404, which sends the app on to the database, is not an error.
    cache_to_app_404 += f.status() == 404 && f.src() == cache && f.dst() == app;
    if (f.status() == 404 && f.outcome() == v1::Frame::DELEGATED) {
      EXPECT_FALSE(is_error(f)) << i;
      ++handled_misses;
    }
    with_digits += std::to_string(i).find("10") != std::string::npos;
  }
  ASSERT_GT(status_404, 0u);
  ASSERT_GT(handled_misses, 0u);
  ASSERT_GT(misses, 0u);
  EXPECT_EQ(count("status:404"), status_404);
  EXPECT_EQ(count("STATUS:4xx"), status_404);
  EXPECT_EQ(count("outcome:cache_miss"), misses);
  ASSERT_GT(cache_to_app_404, 0u);
  EXPECT_EQ(count("status:404 from:cache to:app"), cache_to_app_404);
  // Free words do not match frame numbers or times: no summary here holds "10" as often as the numbers do.
  EXPECT_LT(count("10"), with_digits);
  EXPECT_EQ(count("path:/users kind:response status:2xx") + count("path:/users kind:response status:4xx"),
            count("path:/users kind:response"));
  ASSERT_GT(count("user:7"), 0u);
  EXPECT_EQ(count("user:7"), count("USER:7"));  // a word with a colon that is no field is a word
  ASSERT_GT(count("path:/users kind:response status:4xx"), 0u);
  FrameFilter bad;
  EXPECT_EQ(bad.parse("status:abc", model.header()), "status: 'abc' is not a status (503, or 5xx)");
  EXPECT_EQ(bad.parse("node:nosuch", model.header()), "node: no node 'nosuch'");
  EXPECT_NE(bad.parse("kind:bogus", model.header()).find("kind: 'bogus'"), std::string::npos);
  EXPECT_EQ(bad.parse("status:", model.header()), "status: needs a value");
}

TEST(ViewModel, FiltersByTextNodeRequestAndStatus) {
  test::TempPath path(".ffl");
  LogModel model(record("api_gateway", path.str(), 30));
  auto scan = [&](FrameFilter filter) {
    FilterScan running(model, std::move(filter));
    while (!running.done()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    std::vector<std::uint64_t> matches;
    for (std::size_t i = 0; i < running.size(); ++i) matches.push_back(running.at(i));
    return matches;
  };
  FrameText text(model.header());
  FrameFilter limited;
  limited.text = "RATE LIMITED";
  const auto rate_limited = scan(limited);
  ASSERT_FALSE(rate_limited.empty());
  for (auto i : rate_limited) EXPECT_EQ(model.frame(i, true)->frame.outcome(), v1::Frame::RATE_LIMITED);
  FrameFilter errors;
  errors.status = FrameFilter::Status::error;
  const auto failed = scan(errors);
  EXPECT_GT(failed.size(), rate_limited.size());
  EXPECT_TRUE(std::is_sorted(failed.begin(), failed.end()));
  std::uint64_t first_hop = 0;
  while (model.frame(first_hop, true)->frame.kind() != v1::Frame::REQUEST) ++first_hop;
  const auto hop = model.frame(first_hop, true)->frame;  // a copy: frame() returns a temporary
  FrameFilter one_request;
  one_request.request = std::make_pair(hop.client(), hop.request());
  const auto hops = scan(one_request);
  const auto trace = trace_request(model, one_request.request->first, one_request.request->second, first_hop);
  ASSERT_EQ(hops.size(), trace.hops.size());
  for (std::size_t i = 0; i < hops.size(); ++i) EXPECT_EQ(hops[i], trace.hops[i].index);
  EXPECT_EQ(trace.hops.front().frame.src(), trace.hops.front().frame.client());  // starts at its client
  EXPECT_EQ(trace.hops.back().frame.dst(), trace.hops.back().frame.client());    // and ends there
  FrameFilter at_node;
  at_node.node = 2;  // the gateway
  for (auto i : scan(at_node)) {
    const auto f = model.frame(i, true)->frame;
    EXPECT_TRUE(f.src() == 2 || f.dst() == 2);
  }
}

TEST(ViewModel, MetricsAgreeWithTheRunSummaryOnEveryBuiltinScenario) {
  for (const auto& builtin : builtin_scenarios()) {
    test::TempPath path(".ffl");
    RunOptions options;
    options.out_path = path.str();
    const auto run = test::run_scenario(builtin.name, {}, options);
    LogModel model(path.str());
    MetricsScan scan(model, 240);
    while (!scan.done()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    const auto& m = scan.metrics();
    const auto& requests = run.summary["requests"];
    const auto& latency = run.summary["latency_ms"];
    EXPECT_EQ(m.completed, requests["completed"].get<std::uint64_t>()) << builtin.name;
    EXPECT_EQ(m.failed, requests["failed"].get<std::uint64_t>()) << builtin.name;
    if (requests["completed"].get<std::uint64_t>() + requests["failed"].get<std::uint64_t>() > 0) {
      ASSERT_GT(m.latency.count(), 0u) << builtin.name;
      EXPECT_NEAR(to_millis(m.latency.max()), latency["max"].get<double>(), 0.001) << builtin.name;
      EXPECT_NEAR(to_millis(m.latency.quantile(0.5)), latency["p50"].get<double>(), 0.001) << builtin.name;
    }
    // The series add up to the totals, and a bucket holds about eight ended requests, not one.
    double completed = 0, failed = 0;
    for (std::size_t b = 0; b < m.size(); ++b) {
      completed += m.completed_per_s[b] * to_seconds(m.bucket);
      failed += m.errors_per_s[b] * to_seconds(m.bucket);
    }
    EXPECT_NEAR(completed, static_cast<double>(m.completed), 0.01 * static_cast<double>(m.completed) + 0.5) << builtin.name;
    EXPECT_NEAR(failed, static_cast<double>(m.failed), 0.01 * static_cast<double>(m.failed) + 0.5) << builtin.name;
    // 40 requests in 1.3 s once read as a peak of 377 requests/s: one request in a 5 ms bucket.
    if (builtin.name == "load_balancing") {
      EXPECT_LT(*std::max_element(m.completed_per_s.begin(), m.completed_per_s.end()), 100.0f);
    }
    // A bucket where no request ended has no latency, rather than a latency of 0.
    for (std::size_t b = 0; b < m.size(); ++b) {
      if (m.completed_per_s[b] == 0 && m.errors_per_s[b] == 0) {
        EXPECT_TRUE(std::isnan(m.p50_ms[b])) << builtin.name;
      }
    }
  }
}

TEST(ViewModel, DamagedLogsShowEverythingReadable) {
  test::TempPath path(".ffl"), cut(".ffl");
  record("load_balancing", path.str(), 40, {"stop.requests=200"});
  auto bytes = test::read_file(path.str());
  FrameLogReader intact(path.str());
  const auto chunks = intact.chunks();
  // Corrupt chunk 2 and cut the log inside its last chunk.
  bytes[chunks[2].offset() + 100] ^= 0x5A;
  test::write_file(cut.str(), bytes.substr(0, chunks.back().offset() + 30));
  LogModel model(cut.str());
  EXPECT_FALSE(model.health().ok());
  EXPECT_EQ(model.chunk_count(), chunks.size() - 1);
  EXPECT_TRUE(model.chunk(2, true)->frames.empty());
  EXPECT_FALSE(model.chunk(3, true)->frames.empty());
  EXPECT_EQ(model.health().problems.size(), 2u);  // cut short + chunk 2's checksum
  // State past the damaged chunk still rebuilds (from a later keyframe).
  EXPECT_TRUE(model.world_at(chunks[3].first_frame() + 1, true).has_value());
  // Two runs locked: steps pass the damaged chunk (its frames at its first time) to both ends.
  LogModel other(path.str());
  Playback damaged(model), intact_playback(other);
  LockedPlayback lock(damaged, intact_playback);
  std::uint64_t steps = 0;
  for (; steps < 10 * other.frame_count(); ++steps) {
    const auto before = std::make_pair(damaged.frame(), intact_playback.frame());
    lock.step(1);
    if (std::make_pair(damaged.frame(), intact_playback.frame()) == before) break;
  }
  EXPECT_EQ(damaged.frame(), model.frame_count() - 1);
  EXPECT_EQ(intact_playback.frame(), other.frame_count() - 1);
  lock.step(-static_cast<std::int64_t>(10 * other.frame_count()));
  EXPECT_EQ(damaged.frame(), 0u);
  EXPECT_EQ(intact_playback.frame(), 0u);
  test::TempPath text(".ffl");
  test::write_file(text.str(), "this is not a frame log");
  EXPECT_THROW(LogModel{text.str()}, LogError);
}

TEST(ViewModel, NeighboursFollowLinksThroughGroups) {
  test::TempPath log(".ffl");
  RunOptions options;
  options.out_path = log.str();
  test::run_scenario("load_balancing", {}, options);
  const auto header = FrameLogReader(log.str()).header();
  auto id = [&](std::uint32_t n) { return header.nodes(static_cast<int>(n)).id(); };
  auto ids = [&](const std::string& node) {
    std::vector<std::string> out;
    for (const auto& info : header.nodes())
      if (info.id() == node)
        for (auto n : view::neighbours(header, info.index())) out.push_back(id(n));
    return out;
  };
  EXPECT_EQ(ids("server-2"), (std::vector<std::string>{"lb"}));
  EXPECT_EQ(ids("lb"), (std::vector<std::string>{"client-1", "client-2", "client-3", "client-4", "server-1", "server-2", "server-3"}));
  EXPECT_EQ(view::linked_pairs(header).size(), 7u);
}

// A request's hops as a sequence chart: lifelines in the order nodes take part, an arrow per hop
// at its times, the node's own work a bar; the layout finds each arrow under its midpoint.
TEST(Sequence, ARequestsHopsAreArrowsBetweenLifelinesInTheOrderTheyHappened) {
  test::TempPath log(".ffl");
  LogModel model(record("load_balancing", log.str(), 64));
  // A request that queued at its server (so its work is a timer there) is the most telling.
  std::optional<FrameView> first;
  for (std::uint64_t i = 0; i < model.frame_count() && !first; ++i) {
    const auto view = model.frame(i, true);
    if (view->frame.kind() == v1::Frame::REQUEST && view->frame.src() == view->frame.client()) first = view;
  }
  ASSERT_TRUE(first);
  const auto trace = trace_request(model, first->frame.client(), first->frame.request(), first->index);
  const auto chart = build_sequence(trace.hops, model.header(), false);
  ASSERT_EQ(chart.arrows.size(), trace.hops.size());
  ASSERT_EQ(chart.lifelines.size(), 3u);  // client, balancer, one server
  EXPECT_EQ(chart.lifelines[0].name, model.header().nodes(static_cast<int>(first->frame.client())).id());
  EXPECT_EQ(chart.lifelines[1].name, "lb");
  EXPECT_EQ(chart.lifelines[2].name.rfind("server-", 0), 0u);
  EXPECT_EQ(chart.start, trace.start());
  EXPECT_EQ(chart.end, trace.end());
  const auto& out = chart.arrows.front();
  EXPECT_EQ(out.from, 0u);
  EXPECT_EQ(out.to, 1u);
  EXPECT_EQ(out.label, "GET " + std::string(first->frame.path() ? "/orders" : "/users"));
  EXPECT_EQ(chart.arrows.back().to, 0u);
  EXPECT_EQ(chart.arrows.back().label, "200");
  for (std::size_t i = 0; i < chart.arrows.size(); ++i) {
    EXPECT_EQ(chart.arrows[i].frame, trace.hops[i].index);
    EXPECT_LE(chart.arrows[i].sent, chart.arrows[i].time);
    if (trace.hops[i].frame.src() == trace.hops[i].frame.dst()) {
      EXPECT_EQ(chart.arrows[i].from, chart.arrows[i].to);
    }
  }

  const SequenceLayout layout(chart, 100, 50, 600, 400);
  EXPECT_FLOAT_EQ(layout.y(chart.start), 50);
  EXPECT_FLOAT_EQ(layout.y(chart.end), 450);
  EXPECT_LT(layout.x(0), layout.x(1));
  for (std::size_t i = 0; i < chart.arrows.size(); ++i) {
    const auto& a = chart.arrows[i];
    float px, py;
    if (a.from == a.to) {
      const auto box = layout.bar(a);
      px = (box.x0 + box.x1) / 2, py = (box.y0 + box.y1) / 2;
    } else {
      px = (layout.x(a.from) + layout.x(a.to)) / 2, py = (layout.y(a.sent) + layout.y(a.time)) / 2;
    }
    const auto hit = layout.arrow_at(px, py);
    ASSERT_TRUE(hit) << i;
    EXPECT_EQ(chart.arrows[*hit].frame, a.frame) << i;
  }
  EXPECT_FALSE(layout.arrow_at(90, 40));  // outside, above and left of every arrow

  // Collapsed, the three servers of a stretch of frames are one lifeline, "server".
  std::vector<FrameView> frames;
  for (std::uint64_t i = 0; i < 60; ++i) frames.push_back(*model.frame(i, true));
  const auto collapsed = build_sequence(frames, model.header(), true);
  std::vector<std::string> names;
  for (const auto& lifeline : collapsed.lifelines) names.push_back(lifeline.name);
  EXPECT_NE(std::find(names.begin(), names.end(), "server"), names.end());
  EXPECT_EQ(std::find(names.begin(), names.end(), "server-1"), names.end());
}

}  // namespace
}  // namespace flowframe::view
