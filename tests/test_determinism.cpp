// Invariant: same scenario, seed and overrides give a byte-identical log for any thread count,
// any shard count and on every run.
#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <sstream>

#include "runtime/framelog/frame_text.hpp"
#include "support.hpp"

namespace flowframe {
namespace {

// The log's bytes, plus its frames and keyframes as text so a mismatch shows where it starts.
struct Log {
  std::string bytes;
  std::vector<std::string> records;
};

Log log_of(const std::string& scenario, unsigned threads, unsigned shards, const std::vector<std::string>& overrides,
           RunOptions::Detail detail = RunOptions::Detail::automatic,
           std::function<unsigned(std::uint64_t)> shard_plan = {}) {
  test::TempPath log(".ffl");
  RunOptions options;
  options.detail = detail;
  options.shard_plan = std::move(shard_plan);
  options.threads = threads;
  options.shards = shards;
  options.out_path = log.str();
  options.chunk_frames = 500;  // many chunks and keyframes
  test::run_scenario(scenario, overrides, options);
  Log out{test::read_file(log.str()), {}};
  FrameLogReader reader(log.str());
  DecodedChunk chunk;
  for (std::size_t i = 0; i < reader.chunks().size(); ++i) {
    if (!reader.read_chunk(i, chunk)) continue;
    if (chunk.has_keyframe) out.records.push_back("keyframe " + chunk.keyframe.ShortDebugString());
    for (const auto& view : chunk.frames)
      out.records.push_back(std::to_string(view.index) + " " + view.frame.ShortDebugString());
  }
  return out;
}

void expect_same(const Log& got, const Log& want, const std::string& what) {
  if (got.bytes == want.bytes) return;
  ADD_FAILURE() << what << ": logs differ";
  for (std::size_t i = 0; i < std::min(got.records.size(), want.records.size()); ++i) {
    if (got.records[i] != want.records[i]) {
      ADD_FAILURE() << "first difference at record " << i << ":\n  got  " << got.records[i] << "\n  want "
                    << want.records[i];
      return;
    }
  }
  ADD_FAILURE() << "record counts " << got.records.size() << " vs " << want.records.size();
}

TEST(Determinism, ByteIdenticalLogsForAnyThreadsAndShards) {
  for (const std::string scenario : {"load_balancing", "load_balancing_failover"}) {
    const std::vector<std::string> overrides{"workload.rate=150", "stop.requests=400", "lb.strategy=power_of_two"};
    const auto reference = log_of(scenario, 1, 1, overrides);
    ASSERT_GT(reference.records.size(), 1000u);
    for (unsigned threads : {1u, 2u, 4u})
      for (unsigned shards : {0u, 2u, 4u, 8u})
        expect_same(log_of(scenario, threads, shards, overrides), reference,
                    scenario + " threads " + std::to_string(threads) + " shards " + std::to_string(shards));
    expect_same(log_of(scenario, 2, 3, overrides), reference, scenario + " repeated run");
  }
}

TEST(Determinism, NodesMovingBetweenShardsMidRunChangeNothing) {
  // What the measuring coordinator does when windows stop paying (or start to), here every few
  // windows and through every count, with faults and a health checker in play.
  for (const std::string scenario : {"load_balancing_failover", "health_checks", "event_log"}) {
    const std::vector<std::string> overrides{"stop.requests=300"};
    const auto reference = log_of(scenario, 1, 1, overrides);
    for (unsigned every : {1u, 7u})
      expect_same(log_of(scenario, 2, 4, overrides, RunOptions::Detail::automatic,
                         [every](std::uint64_t window) { return static_cast<unsigned>(window / every % 4 + 1); }),
                  reference, scenario + " resharded every " + std::to_string(every) + " windows");
  }
}

TEST(Determinism, LightDetailIsTheFullLogLessTicksAndMostStatesForAnyThreadsAndShards) {
  const std::vector<std::string> overrides{"workload.rate=150", "stop.requests=400"};
  const auto light = log_of("load_balancing", 1, 1, overrides, RunOptions::Detail::light);
  for (unsigned threads : {1u, 2u})
    for (unsigned shards : {0u, 3u})
      expect_same(log_of("load_balancing", threads, shards, overrides, RunOptions::Detail::light), light,
                  "light, threads " + std::to_string(threads) + " shards " + std::to_string(shards));

  auto frames_of = [&](RunOptions::Detail detail) {
    test::TempPath log(".ffl");
    RunOptions options;
    options.detail = detail;
    options.out_path = log.str();
    test::run_scenario("load_balancing", overrides, options);
    return test::read_frames(log.str());
  };
  const auto full = frames_of(RunOptions::Detail::automatic);  // 8 nodes: full
  const auto hops = frames_of(RunOptions::Detail::light);
  auto is_tick = [](const FrameView& view) {
    return view.frame.kind() == v1::Frame::TIMER && view.frame.src() == view.frame.dst() && view.frame.src() <= 4;
  };
  std::size_t ticks = 0, next = 0;
  for (const auto& view : full) {
    EXPECT_TRUE(view.frame.has_state()) << "full: frame " << view.index << " has no state";
    if (is_tick(view)) {
      ++ticks;
      continue;
    }
    // Every other frame is in the light log, in the same order, without the state.
    ASSERT_LT(next, hops.size());
    const auto& light_view = hops[next++];
    EXPECT_EQ(light_view.time, view.time);
    EXPECT_EQ(light_view.frame.dst(), view.frame.dst());
    EXPECT_EQ(light_view.frame.request(), view.frame.request());
    EXPECT_EQ(light_view.frame.outcome(), view.frame.outcome());
    EXPECT_FALSE(light_view.frame.has_state()) << "light: frame " << light_view.index;
  }
  EXPECT_EQ(ticks, 400u);  // a tick per request sent
  EXPECT_EQ(next, hops.size());
}

TEST(Determinism, EveryBuiltinScenarioAnyThreadsAndShards) {
  for (const auto& builtin : builtin_scenarios()) {
    const auto reference = log_of(builtin.name, 1, 1, {});
    for (unsigned threads : {2u, 4u})
      for (unsigned shards : {0u, 3u, 64u})
        expect_same(log_of(builtin.name, threads, shards, {}), reference,
                    builtin.name + " threads " + std::to_string(threads) + " shards " + std::to_string(shards));
  }
}

TEST(Determinism, FaultsAndTimeoutsAnyThreadsAndShards) {
  test::TempPath scenario(".textproto");
  test::write_file(scenario.str(), read_scenario("load_balancing").text + R"(
events { at_s: 0.2 node: "server-1" fault { pause_s: 0.15 } }
events { at_s: 0.3 node: "server-2" fault { crash: true } }
events { at_s: 0.6 node: "server-2" fault { restart: true } }
events { at_s: 0.1 node: "lb" fault { link { to: "server-3" loss: 0.1 } } }
events { at_s: 0.4 node: "server" fault { slow: 2.5 } }
)");
  const std::vector<std::string> overrides{"workload.rate=300", "stop.requests=300", "client.timeout_ms=40"};
  const auto reference = log_of(scenario.str(), 1, 1, overrides);
  ASSERT_GT(reference.records.size(), 1000u);
  for (unsigned threads : {1u, 2u})
    for (unsigned shards : {0u, 2u, 3u, 6u})
      expect_same(log_of(scenario.str(), threads, shards, overrides), reference,
                  "faults threads " + std::to_string(threads) + " shards " + std::to_string(shards));
}

TEST(Determinism, DifferentSeedsDiffer) {
  test::TempPath a(".ffl"), b(".ffl");
  RunOptions options;
  options.out_path = a.str();
  test::run_scenario("load_balancing", {}, options);
  options.out_path = b.str();
  options.seed = 99;
  test::run_scenario("load_balancing", {}, options);
  EXPECT_NE(test::read_file(a.str()), test::read_file(b.str()));
}

// A readable hop log per built-in scenario (tests/golden/), its first kGoldenLines hops: a change
// in behaviour shows up as a diff anyone can review. FLOWFRAME_UPDATE_GOLDEN=1 rewrites the files.
TEST(Golden, BuiltinScenarioHopLogs) {
  for (const auto& builtin : builtin_scenarios()) {
    test::TempPath log(".ffl");
    RunOptions options;
    options.out_path = log.str();
    test::run_scenario(builtin.name, {}, options);
    FrameLogReader reader(log.str());
    FrameText text(reader.header());
    std::string lines;
    constexpr std::size_t kGoldenLines = 1000;  // long scenarios: the start tells enough, the files stay small
    const auto frames = test::read_frames(log.str());
    for (std::size_t i = 0; i < std::min(frames.size(), kGoldenLines); ++i) lines += text.line(frames[i]) + "\n";
    const auto golden = (std::filesystem::path(FLOWFRAME_SOURCE_DIR) / "tests" / "golden" / (builtin.name + ".txt")).string();
    if (std::getenv("FLOWFRAME_UPDATE_GOLDEN")) test::write_file(golden, lines);
    const auto want = test::read_file(golden);
    if (lines == want) continue;
    // Report the first line that differs, not two whole logs.
    std::istringstream got_lines(lines), want_lines(want);
    std::string got_line, want_line;
    int number = 1;
    while (std::getline(got_lines, got_line) && std::getline(want_lines, want_line) && got_line == want_line) ++number;
    ADD_FAILURE() << "hop log of " << builtin.name << " changed at line " << number << ":\n  got:  " << got_line
                  << "\n  want: " << want_line << "\nreview `git diff tests/golden` after rerunning with "
                  << "FLOWFRAME_UPDATE_GOLDEN=1 if the change is intended";
  }
}

}  // namespace
}  // namespace flowframe
