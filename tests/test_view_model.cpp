// The viewer's data model: seeking gives the same state as replaying, filters, traces, damaged logs.
#include <gtest/gtest.h>

#include <map>

#include <google/protobuf/util/message_differencer.h>

#include "support.hpp"
#include "viewer/model/playback.hpp"
#include "viewer/model/queries.hpp"

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
  playback.set_speed(0.5);
  playback.play();
  const Time before = playback.time();
  playback.tick(0.1);  // 50 ms of simulated time
  EXPECT_EQ(playback.time(), before + 50 * kNanosPerMilli);
  EXPECT_EQ(playback.frame(), *model.frame_at_time(playback.time(), true));
  playback.set_frame_per_tick(true);
  const auto frame = playback.frame();
  playback.tick(0.016);
  EXPECT_EQ(playback.frame(), frame + 1);
  playback.end();
  EXPECT_FALSE(playback.playing());
  EXPECT_EQ(playback.frame(), model.frame_count() - 1);
  ASSERT_NE(playback.world(), nullptr);
  EXPECT_EQ(playback.world()->frame, model.frame_count() - 1);
  playback.set_speed(5000);
  EXPECT_EQ(playback.speed(), 1000);
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

TEST(ViewModel, MetricsCountCompletedRequests) {
  test::TempPath path(".ffl");
  LogModel model(record("load_balancing", path.str(), 50, {"stop.requests=400"}));
  MetricsScan scan(model, 20);
  while (!scan.done()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  const auto& m = scan.metrics();
  ASSERT_EQ(m.size(), 20u);
  double completed = 0;
  for (float per_s : m.completed_per_s) completed += per_s * to_seconds(m.bucket);
  EXPECT_NEAR(completed, 400, 0.5);
  EXPECT_GT(*std::max_element(m.p99_ms.begin(), m.p99_ms.end()), 6.0f);  // at least the 6 ms of links
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

}  // namespace
}  // namespace flowframe::view
