// Regions and the CDN as run: links between regions take half the measured round trip, users in
// each region go to their own entry point, and the cdn scenario's numbers (a hit costs its links
// and the edge's time, a miss its whole path; misses collapse; stale answers come at once and are
// refreshed once; a purge empties the edges; the shield spares the origin).
#include <gtest/gtest.h>

#include "runtime/scenario/regions.hpp"
#include "support.hpp"

namespace flowframe {
namespace {

using test::builtin_text;

const v1::Link& link_between(const v1::Scenario& s, const std::string& a, const std::string& b) {
  for (const auto& link : s.links())
    if ((link.from() == a && link.to() == b) || (link.from() == b && link.to() == a)) return link;
  throw std::logic_error("no link " + a + " - " + b);
}

TEST(Regions, ALinkBetweenTwoRegionsTakesHalfTheirRoundTrip) {
  const auto scenario = parse_scenario(builtin_text("cdn"), "cdn");
  // Ireland - N. Virginia: 80.55 and 80.52 ms measured each way.
  EXPECT_DOUBLE_EQ(*region_rtt_ms(scenario, "eu-west-1", "us-east-1"), 80.5);
  EXPECT_DOUBLE_EQ(link_between(scenario, "edge-eu", "shield").latency().mean_ms(), 40.25);
  EXPECT_DOUBLE_EQ(link_between(scenario, "edge-ap", "origin").latency().mean_ms(), 145.3 / 2);
  // A link that gives its latency keeps it; the table is symmetric.
  EXPECT_DOUBLE_EQ(link_between(scenario, "users-eu", "edge-eu").latency().mean_ms(), 10);
  for (const auto& a : builtin_regions())
    for (const auto& b : builtin_regions()) EXPECT_EQ(region_rtt_ms(scenario, a.name, b.name), region_rtt_ms(scenario, b.name, a.name));
  // The scenario's own figure wins, and may name regions the table does not have.
  const auto own = parse_scenario(builtin_text("cdn") + R"(region_latencies { a: "us-east-1" b: "eu-west-1" rtt_ms: 100 })", "own");
  EXPECT_DOUBLE_EQ(link_between(own, "edge-eu", "shield").latency().mean_ms(), 50);
}

TEST(Regions, AnUnknownRegionOrPairIsAnErrorAtItsLine) {
  const auto expect_error = [](const std::string& text, const std::string& expected) { test::expect_refused(text, "regions.textproto", expected); };
  auto typo = builtin_text("cdn");
  typo.replace(typo.find("region: \"eu-west-1\""), 19, "region: \"eu-west1\"");
  expect_error(typo, "regions.textproto:20:37: region: unknown region");
  expect_error(typo, "region: unknown region 'eu-west1' (did you mean 'eu-west-1'?)");
  // Mars is known (region_latencies names it), but not how far it is from N. Virginia.
  auto mars = builtin_text("cdn");
  mars.replace(mars.find("region: \"ap-northeast-1\" position { x: 2.5"), 24, "region: \"mars-1\"");
  expect_error(mars + R"(region_latencies { a: "mars-1" b: "eu-west-1" rtt_ms: 2000 })",
               "no round-trip time is known between mars-1 and us-east-1");
  expect_error(builtin_text("cdn") + R"(region_latencies { a: "eu-west-1" b: "us-east-1" rtt_ms: -4 })",
               "region_latencies.rtt_ms: must be above 0");
  auto twice = builtin_text("cdn");
  twice.replace(twice.find("clients: \"users-us, users-eu, users-ap\""), 39, "clients: \"users-us, users-eu, users-us\"");
  expect_error(twice, "workload.clients: 'users-us' is named twice");
}

TEST(Cdn, OriginsThatCannotWorkAreErrorsAtTheirLine) {
  const auto expect_error = [](const std::string& text, const std::string& from, const std::string& to, const std::string& expected) {
    test::expect_refused_edit(text, from, to, "cdn.textproto", expected);
  };
  const auto text = builtin_text("cdn");
  expect_error(text, "cdn_edge { origin: \"origin\"", "cdn_edge { origin: \"edge-us\"", "cdn_edge.origin: its origins lead back to 'shield'");
  expect_error(text, "kind: SERVER region", "kind: SERVER replicas: 2 region", "cdn_edge.origin: 'origin' is a replicated group");
}

TEST(Regions, EachClientSendsToItsOwnTargetAndTheRateIsShared) {
  const auto run = test::run_scenario("cdn", {"stop.duration_s=5"});
  const auto sent = [&](const char* client) { return test::handled(run, client); };
  const auto total = sent("users-us") + sent("users-eu") + sent("users-ap");
  EXPECT_NEAR(static_cast<double>(total), 300 * 5, 150);
  for (const char* client : {"users-us", "users-eu", "users-ap"}) EXPECT_NEAR(static_cast<double>(sent(client)), total / 3.0, total * 0.06) << client;
  EXPECT_EQ(test::handled(run, "edge-eu"), sent("users-eu"));
  EXPECT_EQ(test::handled(run, "edge-ap"), sent("users-ap"));
}

// The built-in cdn run, recorded once.
const test::Recorded& cdn_run() {
  static const test::Recorded recorded = test::record_builtin("cdn");
  return recorded;
}

std::string id_of(const test::Recorded& r, std::uint32_t node) { return r.header.nodes(static_cast<int>(node)).id(); }

TEST(Cdn, AHitCostsItsLinksAndTheEdgeAMissItsWholePath) {
  const auto& r = cdn_run();
  // Per request of users-eu: when it left (the edge's request frame says), how the edge and the
  // shield answered it, and when the answer came back.
  struct Seen {
    Time sent = -1, answered = -1;
    v1::Frame::Outcome at_edge = v1::Frame::NONE, at_shield = v1::Frame::NONE;
  };
  std::map<std::uint64_t, Seen> requests;
  for (const auto& view : r.frames) {
    const auto& f = view.frame;
    if (id_of(r, f.client()) != "users-eu") continue;
    auto& seen = requests[f.request()];
    const auto at = id_of(r, f.dst());
    if (f.kind() == v1::Frame::REQUEST && at == "edge-eu") {
      seen.sent = view.sent;
      seen.at_edge = f.outcome();
    }
    if (f.kind() == v1::Frame::REQUEST && at == "shield") seen.at_shield = f.outcome();
    if (f.kind() == v1::Frame::RESPONSE && at == "users-eu") seen.answered = view.time;
  }
  std::size_t hits = 0, shield_hits = 0;
  for (const auto& [request, seen] : requests) {
    if (seen.sent < 0 || seen.answered < 0) continue;
    const auto latency = seen.answered - seen.sent;
    if (seen.at_edge == v1::Frame::CACHE_HIT) {
      ++hits;
      EXPECT_EQ(latency, from_millis(2 * 10 + 0.5)) << "users-eu#" << request;  // two 10 ms links and the edge's 0.5 ms
    } else if (seen.at_edge == v1::Frame::CACHE_MISS && seen.at_shield == v1::Frame::CACHE_HIT) {
      ++shield_hits;
      // Also across the Atlantic and back (80.5 ms) and the shield's 0.5 ms.
      EXPECT_EQ(latency, from_millis(2 * 10 + 80.5 + 0.5)) << "users-eu#" << request;
    }
  }
  EXPECT_GT(hits, 1500u);
  EXPECT_GT(shield_hits, 100u);
}

TEST(Cdn, MissesCollapseStaleAnswersAreRefreshedOnceAndAPurgeEmptiesTheEdges) {
  const auto& r = cdn_run();
  const auto& nodes = r.run.summary["nodes"];
  std::uint64_t collapsed = 0, stale = 0, revalidations = 0;
  for (const char* edge : {"edge-us", "edge-eu", "edge-ap", "shield"}) {
    collapsed += nodes[edge]["collapsed"].get<std::uint64_t>();
    stale += nodes[edge]["stale_hits"].get<std::uint64_t>();
    revalidations += nodes[edge]["revalidations"].get<std::uint64_t>();
    EXPECT_GT(nodes[edge]["purged"].get<std::uint64_t>(), 100u) << edge;
  }
  EXPECT_GT(collapsed, 20u);
  EXPECT_GT(stale, 200u);
  EXPECT_LE(revalidations, stale);  // one refresh however many stale answers meanwhile
  // Hit ratio in the 2 s before the purge at 20 s and the 2 s after, at the edges.
  std::uint64_t hits_before = 0, asked_before = 0, hits_after = 0, asked_after = 0;
  for (const auto& view : r.frames) {
    const auto& f = view.frame;
    if (f.kind() != v1::Frame::REQUEST || id_of(r, f.dst()).rfind("edge-", 0) != 0) continue;
    const bool hit = f.outcome() == v1::Frame::CACHE_HIT;
    if (view.time >= from_seconds(18) && view.time < from_seconds(20)) hits_before += hit, ++asked_before;
    if (view.time >= from_seconds(20) && view.time < from_seconds(22)) hits_after += hit, ++asked_after;
  }
  ASSERT_GT(asked_before, 0u);
  ASSERT_GT(asked_after, 0u);
  EXPECT_GT(static_cast<double>(hits_before) / asked_before, 0.7);
  EXPECT_LT(static_cast<double>(hits_after) / asked_after, 0.5);
}

TEST(Cdn, TheShieldAndCollapsingSpareTheOrigin) {
  const auto with = test::run_scenario("cdn", {"stop.duration_s=10"});
  const auto without = test::run_scenario("cdn", {"stop.duration_s=10", "edge-us.origin=origin", "edge-eu.origin=origin", "edge-ap.origin=origin"});
  const auto no_collapsing = test::run_scenario("cdn", {"stop.duration_s=10", "edge-us.collapse=false", "edge-eu.collapse=false",
                                                        "edge-ap.collapse=false", "shield.collapse=false"});
  const auto origin = [](const test::Run& run) { return test::handled(run, "origin"); };
  EXPECT_LT(origin(with) * 1.3, origin(without));
  EXPECT_LT(origin(with), origin(no_collapsing));
}

}  // namespace
}  // namespace flowframe

namespace flowframe {
namespace {

// Two regions behind a traffic manager with a 10 s TTL; Ireland's entry point dies at 5 s.
constexpr const char* kTwoRegions = R"(
name: "two_regions"
seed: 3
nodes { id: "users-us" kind: CLIENT region: "us-east-1" timeout_ms: 2000 client { resolver: "dns" } }
nodes { id: "users-eu" kind: CLIENT region: "eu-west-1" timeout_ms: 2000 client { resolver: "dns" } }
nodes { id: "dns" kind: TRAFFIC_MANAGER region: "us-east-1" traffic_manager { endpoints: "lb-us" endpoints: "lb-eu" ttl_s: 10 } }
nodes { id: "lb-us" kind: LOAD_BALANCER region: "us-east-1" load_balancer { strategy: ROUND_ROBIN } }
nodes { id: "lb-eu" kind: LOAD_BALANCER region: "eu-west-1" load_balancer { strategy: ROUND_ROBIN } }
nodes { id: "app-us" kind: SERVER region: "us-east-1" server { capacity: 4 service_time { mean_ms: 5 } } }
nodes { id: "app-eu" kind: SERVER region: "eu-west-1" server { capacity: 4 service_time { mean_ms: 5 } } }
links { from: "users-us" to: "dns" latency { mean_ms: 5 } }
links { from: "users-eu" to: "dns" }
links { from: "users-us" to: "lb-us" latency { mean_ms: 5 } }
links { from: "users-us" to: "lb-eu" }
links { from: "users-eu" to: "lb-eu" latency { mean_ms: 5 } }
links { from: "users-eu" to: "lb-us" }
links { from: "dns" to: "lb-us" latency { mean_ms: 1 } }
links { from: "dns" to: "lb-eu" }
links { from: "lb-us" to: "app-us" latency { mean_ms: 1 } }
links { from: "lb-eu" to: "app-eu" latency { mean_ms: 1 } }
workload { clients: "users-us, users-eu" rate: 100 }
stop { duration_s: 30 }
events { at_s: 5 node: "lb-eu" fault { crash: true } }
)";

TEST(TrafficManager, EachRegionGoesToItsNearestEndpointAndADeadOneDrainsWithinTheTtl) {
  test::TempPath scenario(".textproto"), log(".ffl");
  test::write_file(scenario.str(), kTwoRegions);
  RunOptions options;
  options.out_path = log.str();
  const auto run = test::run_scenario(scenario.str(), {}, options);
  FrameLogReader reader(log.str());
  const auto header = reader.header();
  const auto frames = test::read_frames(log.str());
  const auto id = [&](std::uint32_t node) { return header.nodes(static_cast<int>(node)).id(); };
  Time detected = -1;
  Time last_to_dead = -1;
  std::uint64_t good_probes = 0;  // of lb-us, answered through the balancer by its server
  std::uint64_t eu_before = 0, eu_to_eu_before = 0, eu_after = 0, eu_to_us_after = 0;
  for (const auto& view : frames) {
    const auto& f = view.frame;
    if (id(f.dst()) == "dns" && f.outcome() == v1::Frame::HEALTH_CHANGED && detected < 0) detected = view.time;
    good_probes += id(f.dst()) == "dns" && id(f.src()) == "lb-us" && f.outcome() == v1::Frame::PROBE_OK;
    // A request of users-eu arriving at an entry point (sent when the frame says).
    if (f.kind() != v1::Frame::REQUEST || id(f.client()) != "users-eu" || id(f.src()) != "users-eu") continue;
    if (id(f.dst()) != "lb-eu" && id(f.dst()) != "lb-us") continue;
    if (id(f.dst()) == "lb-eu" && view.sent >= from_seconds(5)) last_to_dead = view.sent;
    if (view.sent < from_seconds(5)) ++eu_before, eu_to_eu_before += id(f.dst()) == "lb-eu";
    if (detected >= 0 && view.sent > detected + from_seconds(10)) ++eu_after, eu_to_us_after += id(f.dst()) == "lb-us";
  }
  // Latency routing: Ireland's users go to Ireland while it is up.
  EXPECT_GT(eu_before, 150u);
  EXPECT_EQ(eu_to_eu_before, eu_before);
  // Three failed probes a second apart find it down within about 3 s of the crash.
  ASSERT_GT(detected, from_seconds(5));
  EXPECT_LT(detected, from_seconds(9));
  // Cached answers keep sending there until they expire: some requests went to the dead region,
  // none later than the TTL after the traffic manager knew.
  EXPECT_GT(last_to_dead, from_seconds(5));
  EXPECT_LE(last_to_dead, detected + from_seconds(10));
  EXPECT_GT(eu_after, 300u);
  EXPECT_EQ(eu_to_us_after, eu_after);
  EXPECT_GT(run.summary["requests"]["failed"].get<std::uint64_t>(), 0u);  // what went to the dead region meanwhile
  EXPECT_GE(good_probes, 28u);  // one a second for 30 s
  EXPECT_EQ(run.summary["nodes"]["dns"]["endpoints_down"].get<std::uint64_t>(), 1u);
}

}  // namespace
}  // namespace flowframe
