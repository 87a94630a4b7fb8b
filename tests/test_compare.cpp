// `flowframe diff`: two runs compared from their logs, checked against the runs' own summaries and
// frames.
#include <gtest/gtest.h>

#include "runtime/compare/diff.hpp"
#include "runtime/framelog/frame_text.hpp"
#include "support.hpp"

namespace flowframe {
namespace {

struct Arm {
  std::vector<std::unique_ptr<test::TempPath>> logs;
  std::vector<test::Run> runs;
  std::vector<std::string> paths() const {
    std::vector<std::string> out;
    for (const auto& log : logs) out.push_back(log->str());
    return out;
  }
};

Arm record_arm(const std::string& name, const std::vector<std::string>& overrides, std::vector<std::uint64_t> seeds = {1}) {
  Arm arm;
  for (const auto seed : seeds) {
    arm.logs.push_back(std::make_unique<test::TempPath>(".ffl"));
    RunOptions options;
    options.out_path = arm.logs.back()->str();
    options.seed = seed;
    arm.runs.push_back(test::run_scenario(name, overrides, options));
  }
  return arm;
}

const FigureDiff& diff_figure(const RunDiff& diff, const std::string& name) {
  for (const auto& f : diff.figures)
    if (f.name == name) return f;
  throw std::out_of_range(name);
}

const std::vector<std::string> kBusy = {"stop.requests=400", "workload.rate=150"};

TEST(Diff, TheSameRunHoldsTheSameFramesAndDiffersInNothing) {
  const auto a = record_arm("load_balancing", kBusy), b = record_arm("load_balancing", kBusy);
  const auto diff = diff_runs(a.paths(), b.paths());
  EXPECT_TRUE(diff.settings.empty());
  EXPECT_FALSE(diff.divergence);
  for (const auto& f : diff.figures) {
    EXPECT_EQ(f.a, f.b) << f.name;
    EXPECT_EQ(f.beyond_noise, false) << f.name;
  }
  for (const auto& change : diff.latency_changes) EXPECT_EQ(change.a, change.b);
  EXPECT_EQ(diff.requests_in_one_only, 0u);
  EXPECT_TRUE(diff.problems.empty());
}

TEST(Diff, TwoStrategiesShowTheSettingTheFiguresTheFirstDifferenceAndTheRequestsThatChanged) {
  const auto a = record_arm("load_balancing", kBusy);
  auto b_settings = kBusy;
  b_settings.push_back("lb.strategy=least_conn");
  const auto b = record_arm("load_balancing", b_settings);
  const auto diff = diff_runs(a.paths(), b.paths(), 5);

  ASSERT_EQ(diff.settings.size(), 1u);
  // Round robin is the default: a change from it reads as one, not as an addition.
  EXPECT_EQ(diff.settings[0], "modified: nodes[4] (lb).load_balancer.strategy: ROUND_ROBIN -> LEAST_CONN");

  // The figures are the runs' own.
  for (const auto* side : {&a, &b}) {
    const auto& summary = side->runs[0].summary;
    const bool is_a = side == &a;
    auto value = [&](const std::string& name) { return is_a ? diff_figure(diff, name).a : diff_figure(diff, name).b; };
    EXPECT_EQ(value("sent"), summary["requests"]["sent"].get<double>());
    EXPECT_EQ(value("completed"), summary["requests"]["completed"].get<double>());
    EXPECT_EQ(value("failed"), summary["requests"]["failed"].get<double>());
    EXPECT_NEAR(value("latency_mean_ms"), summary["latency_ms"]["mean"].get<double>(), 0.001);
    EXPECT_NEAR(value("latency_p99_ms"), summary["latency_ms"]["p99"].get<double>(), 0.001);
    EXPECT_EQ(value("hops"), summary["hops"].get<double>());
  }
  EXPECT_TRUE(diff_figure(diff, "latency_mean_ms").beyond_noise.has_value());
  EXPECT_FALSE(diff_figure(diff, "latency_p99_ms").beyond_noise.has_value()) << "one seed each: unknown";

  // Frames agree (states aside: the balancer's differ from the start) up to the first difference,
  // which is where they part.
  ASSERT_TRUE(diff.divergence);
  auto fa = test::read_frames(a.paths()[0]), fb = test::read_frames(b.paths()[0]);
  for (auto* frames : {&fa, &fb})
    for (auto& view : *frames) view.frame.clear_state();
  const auto at = diff.divergence->frame;
  ASSERT_LT(at, std::min(fa.size(), fb.size()));
  EXPECT_GT(at, 0u);
  for (std::uint64_t i = 0; i < at; ++i) EXPECT_EQ(fa[i].frame.SerializeAsString(), fb[i].frame.SerializeAsString()) << i;
  EXPECT_NE(fa[at].frame.SerializeAsString(), fb[at].frame.SerializeAsString());
  FrameLogReader reader(a.paths()[0]);
  EXPECT_EQ(diff.divergence->a, FrameText(reader.header()).line(fa[at]));

  // The requests that changed most, most first, with the latencies each run measured.
  ASSERT_EQ(diff.latency_changes.size(), 5u);
  for (std::size_t i = 1; i < diff.latency_changes.size(); ++i)
    EXPECT_GE(std::abs(diff.latency_changes[i - 1].b - diff.latency_changes[i - 1].a),
              std::abs(diff.latency_changes[i].b - diff.latency_changes[i].a));
  const auto& top = diff.latency_changes[0];
  EXPECT_NE(top.a, top.b);
  EXPECT_EQ(top.path, "GET /users");
  EXPECT_LE(std::max(top.a, top.b) / 1e6, std::max(diff_figure(diff, "latency_max_ms").a, diff_figure(diff, "latency_max_ms").b) + 0.01);
}

TEST(Diff, SeveralSeedsASideDecideNoiseAcrossSeeds) {
  // One slot per server instead of two, at a load two slots take easily: clearly slower.
  const auto two_slots = record_arm("load_balancing", kBusy, {1, 2, 3});
  auto one_slot_settings = kBusy;
  one_slot_settings.push_back("server.capacity=1");
  const auto one_slot = record_arm("load_balancing", one_slot_settings, {1, 2, 3});
  const auto slower = diff_runs(two_slots.paths(), one_slot.paths());
  const auto& mean = diff_figure(slower, "latency_mean_ms");
  EXPECT_GT(mean.b, mean.a);
  EXPECT_EQ(mean.beyond_noise, true);
  EXPECT_EQ(mean.test, "Welch's t over 3 and 3 seeds");
  // The figures on each side are the mean over its seeds.
  double sum = 0;
  for (const auto& run : one_slot.runs) sum += run.summary["latency_ms"]["mean"].get<double>();
  EXPECT_NEAR(mean.b, sum / 3, 0.001);

  // The same design under other seeds: no difference beyond noise in the latency.
  const auto other_seeds = record_arm("load_balancing", kBusy, {4, 5, 6});
  const auto same = diff_runs(two_slots.paths(), other_seeds.paths());
  EXPECT_TRUE(same.settings.empty());
  EXPECT_EQ(diff_figure(same, "latency_mean_ms").beyond_noise, false);
  EXPECT_EQ(diff_figure(same, "sent").beyond_noise, false);  // every seed sends 400
}

TEST(Diff, TheCliExitsLikeDiffAndWritesJson) {
  const auto a = record_arm("load_balancing", kBusy), same = record_arm("load_balancing", kBusy);
  auto other = kBusy;
  other.push_back("lb.strategy=random");
  const auto b = record_arm("load_balancing", other);
  const std::string cli = std::string(FLOWFRAME_BIN) + " diff ";
  auto [code, said] = test::shell(cli + a.paths()[0] + " " + same.paths()[0]);
  EXPECT_EQ(code, 0) << said;
  EXPECT_NE(said.find("the runs hold the same frames"), std::string::npos) << said;
  EXPECT_NE(said.find("side by side, locked by simulated time: flowframe-view " + a.paths()[0] + " " + same.paths()[0]), std::string::npos)
      << said;
  std::tie(code, said) = test::shell(cli + a.paths()[0] + " " + b.paths()[0] + " --json");
  EXPECT_EQ(code, 1) << said;
  const auto json = nlohmann::json::parse(said);
  EXPECT_EQ(json["settings"].size(), 1u);
  EXPECT_EQ(json["figures"][0]["name"], "sent");
  EXPECT_TRUE(json["first_difference"].is_object());
  std::tie(code, said) = test::shell(cli + a.paths()[0] + " /nonexistent/b.ffl");
  EXPECT_EQ(code, 2);
  EXPECT_NE(said.find("/nonexistent/b.ffl: no such file"), std::string::npos) << said;
}

// What a reader must be told: a node added is named, not dumped; unlike scenarios are called
// that; logs pooled on one side whose settings differ are a problem; small rates keep their digits.
TEST(Diff, SaysWhatIsAddedWhatIsUnlikeAndWhatWasPooled) {
  const auto a = record_arm("load_balancing", kBusy);
  auto more = kBusy;
  more.push_back("server.replicas=4");
  const auto four = record_arm("load_balancing", more);
  auto diff = diff_runs(a.paths(), four.paths());
  ASSERT_EQ(diff.settings.size(), 1u);
  EXPECT_EQ(diff.settings[0], "added: nodes[8] (server-4)");

  const auto cache = record_arm("cache_aside", {});
  diff = diff_runs(a.paths(), cache.paths());
  ASSERT_FALSE(diff.settings.empty());
  EXPECT_EQ(diff.settings[0].rfind("different scenarios: load_balancing and cache_aside", 0), 0u) << diff.settings[0];

  diff = diff_runs({a.paths()[0], four.paths()[0]}, a.paths());
  ASSERT_EQ(diff.problems.size(), 1u);
  EXPECT_NE(diff.problems[0].find("pooled with " + a.paths()[0] + " as another seed, but its settings differ (added: nodes[8] (server-4))"),
            std::string::npos)
      << diff.problems[0];

  EXPECT_EQ(figure_text(0.0005), "0.0005");
  EXPECT_EQ(figure_text(0.048), "0.048");
  EXPECT_EQ(figure_text(117.2334), "117.233");
  EXPECT_EQ(figure_text(400), "400");
}

}  // namespace
}  // namespace flowframe
