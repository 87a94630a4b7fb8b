// A replicated database as run: the stale-read rate the replication lag predicts, the latency
// synchronous and quorum writes add, read-your-writes as clients check it, a replica catching up
// after a crash, the multi_region_failover scenario's story, and the loader's refusals.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>

#include "tests/support.hpp"

namespace flowframe {
namespace {

// One client, an app that writes to the primary and reads from a replica `lag_ms` away from it
// (a second replica, when `far_ms` > 0), constant times everywhere else.
std::string replicated(double lag_ms, const std::string& primary_extra = "", const std::string& replica_extra = "",
                       double far_ms = 0, const std::string& workload = "", const std::string& events = "") {
  std::string text = fmt::format(R"(
name: "replicated"
seed: 11
nodes {{ id: "client" kind: CLIENT timeout_ms: 5000 }}
nodes {{ id: "app" kind: SERVER server {{ capacity: 64 service_time {{ mean_ms: 1 }}
  cache_aside {{ database: "primary" read_database: "replica" table: "rows" }} }} }}
nodes {{ id: "primary" kind: DATABASE database {{ max_connections: 64 tables {{ name: "rows" generated_rows: 20 }} {} }} }}
nodes {{ id: "replica" kind: DATABASE database {{ replica_of: "primary" max_connections: 64 {} }} }}
links {{ from: "client" to: "app" latency {{ mean_ms: 1 }} }}
links {{ from: "app" to: "primary" latency {{ mean_ms: 1 }} }}
links {{ from: "app" to: "replica" latency {{ mean_ms: 1 }} }}
links {{ from: "primary" to: "replica" latency {{ mean_ms: {} }} }}
{}
stop {{ duration_s: 30 }}
{}
)",
                                 primary_extra, replica_extra, lag_ms,
                                 workload.empty() ? R"(workload { clients: "client" rate: 400
  paths { path: "/rows/{id}" keys: 20 weight: 4 }
  paths { method: "PUT" path: "/rows/{id}" keys: 20 weight: 1 } })"
                                                  : workload,
                                 events);
  if (far_ms > 0)
    text += fmt::format(R"(
nodes {{ id: "far" kind: DATABASE database {{ replica_of: "primary" }} }}
links {{ from: "primary" to: "far" latency {{ mean_ms: {} }} }}
)",
                        far_ms);
  return text;
}

test::Run run_replication_text(const std::string& text) {
  test::TempPath scenario(".textproto");
  test::write_file(scenario.str(), text);
  return test::run_scenario(scenario.str());
}

double stale_share(const test::Run& run) {
  const auto& replica = run.summary["nodes"]["replica"];
  return static_cast<double>(replica["stale_reads"].get<std::uint64_t>()) / static_cast<double>(replica["reads"].get<std::uint64_t>());
}

TEST(Replication, StaleReadsGrowWithTheLagAsThePoissonWritesPredict) {
  // Writes to a row commit as a Poisson process of 80/s over 20 rows = 4/s. A read at the replica
  // is stale when one committed within the lag before it (the link plus the 0.2 ms apply):
  // P = 1 - exp(-4/s x lag).
  double previous = 0;
  for (const double lag_ms : {10.0, 40.0, 160.0}) {
    const auto run = run_replication_text(replicated(lag_ms));
    const double expected = 1 - std::exp(-4.0 * (lag_ms + 0.2) / 1000.0);
    const double measured = stale_share(run);
    EXPECT_NEAR(measured, expected, std::max(0.01, 0.1 * expected)) << "lag " << lag_ms << " ms";
    EXPECT_GT(measured, previous);
    previous = measured;
    EXPECT_GT(run.summary["nodes"]["replica"]["reads"].get<std::uint64_t>(), 9000u);
    // It applied every change, each one the link's latency plus its apply time after its commit.
    EXPECT_EQ(run.summary["nodes"]["replica"]["applied"], run.summary["nodes"]["primary"]["lsn"]);
    EXPECT_NEAR(run.summary["nodes"]["replica"]["mean_lag_ms"].get<double>(), lag_ms + 0.2, 0.05);
  }
}

TEST(Replication, SyncAndQuorumWritesWaitForTheirReplicasRoundTrips) {
  // Writes only, seldom: each takes 1 + 1 + 1 + 2 + 1 + 1 = 7 ms when answered at commit. A
  // synchronous write also waits for the farther replica's round trip (2 x 50 ms) and its apply;
  // a quorum of three copies needs one replica: the nearer (2 x 20 ms).
  const std::string writes = R"(workload { clients: "client" rate: 5 paths { method: "PUT" path: "/rows/{id}" keys: 20 weight: 1 } })";
  const auto mean_ms = [&](const std::string& mode) {
    const auto run = run_replication_text(replicated(20, "replication: " + mode, "", 50, writes));
    EXPECT_EQ(run.summary["requests"]["failed"].get<std::uint64_t>(), 0u);
    return run.summary["latency_ms"]["mean"].get<double>();
  };
  const double async = mean_ms("ASYNC");
  EXPECT_NEAR(async, 7.0, 0.01);
  EXPECT_NEAR(mean_ms("SYNC") - async, 100.2, 0.01);
  EXPECT_NEAR(mean_ms("QUORUM") - async, 40.2, 0.01);
}

TEST(Replication, ClientsSeeTheirOwnWritesUnlessTheReplicaFallsBehind) {
  // A read made after the write's answer reaches the replica at least 7 ms after the commit
  // (answer 2 ms, read 1 + 1 + 1 ms, query 2 ms): a replica 5 ms away that keeps up has the write by
  // then. A slow apply (20 ms on average, one at a time) puts it behind.
  const std::string slow = "apply_time { shape: EXPONENTIAL mean_ms: 20 }";
  const std::string mix = R"(workload { clients: "client" rate: 100
  paths { path: "/rows/{id}" keys: 20 weight: 4 } paths { method: "PUT" path: "/rows/{id}" keys: 20 weight: 1 } })";
  const auto broken = [](const test::Run& run) {
    const auto& client = run.summary["nodes"]["client"];
    return client.contains("read_your_writes_broken") ? client["read_your_writes_broken"].get<std::uint64_t>() : 0;
  };
  EXPECT_EQ(broken(run_replication_text(replicated(5, "", "", 0, mix))), 0u);
  const auto behind = run_replication_text(replicated(5, "", slow, 0, mix));
  EXPECT_GT(broken(behind), 20u);
  EXPECT_LT(broken(behind), behind.summary["nodes"]["replica"]["stale_reads"].get<std::uint64_t>());
  // Answered only once the replica has applied it: never.
  EXPECT_EQ(broken(run_replication_text(replicated(5, "replication: SYNC", slow, 0, mix))), 0u);
}

TEST(Replication, ARestartedReplicaCatchesUpWithWhatItMissed) {
  const auto run = run_replication_text(replicated(10, "", "", 0, "",
                                       R"(events { at_s: 5 node: "replica" fault { crash: true } }
events { at_s: 12 node: "replica" fault { restart: true } })"));
  const auto& nodes = run.summary["nodes"];
  // Reads failed meanwhile (refused), and afterwards it has every change the primary made.
  EXPECT_GT(run.summary["requests"]["failed"].get<std::uint64_t>(), 1000u);
  EXPECT_EQ(nodes["replica"]["applied"], nodes["primary"]["lsn"]);
  EXPECT_EQ(nodes["primary"]["replicas_behind"][0].get<std::uint64_t>(), 0u);
  // The 7 s of changes it missed arrived after its restart, seconds after their commit.
  EXPECT_GT(nodes["replica"]["mean_lag_ms"].get<double>(), 500.0);
}

TEST(Replication, ARestartedPrimarySendsOnFromItsLog) {
  // Changes in flight when the primary crashes are sent again from its log after its restart.
  const auto run = run_replication_text(replicated(30, "", "", 0, "",
                                       R"(events { at_s: 5 node: "primary" fault { crash: true } }
events { at_s: 6 node: "primary" fault { restart: true } })"));
  const auto& nodes = run.summary["nodes"];
  EXPECT_GT(nodes["primary"]["lsn"].get<std::uint64_t>(), 2000u);
  EXPECT_EQ(nodes["replica"]["applied"], nodes["primary"]["lsn"]);
  EXPECT_EQ(nodes["primary"]["replicas_behind"][0].get<std::uint64_t>(), 0u);
}

TEST(Replication, TheLoaderRefusesReplicasThatCannotWork) {
  const auto text = replicated(10);
  test::expect_refused_edit(text, R"(replica_of: "primary")", R"(replica_of: "primery")", "r.textproto", "unknown node 'primery'");
  test::expect_refused_edit(text, R"(replica_of: "primary")", R"(replica_of: "replica")", "r.textproto", "cannot replicate itself");
  test::expect_refused_edit(text, R"(replica_of: "primary")", R"(replica_of: "app")", "r.textproto", "is not a DATABASE");
  test::expect_refused_edit(text, R"(replica_of: "primary" max_connections: 64)",
                            R"(replica_of: "primary" tables { name: "rows" })", "r.textproto", "give it none");
  test::expect_refused_edit(text, R"(links { from: "primary" to: "replica" latency { mean_ms: 10 } })", "", "r.textproto",
                            "no link between 'replica' and 'primary'");
  test::expect_refused_edit(text, R"(database: "primary" read_database: "replica")", R"(database: "replica")", "r.textproto",
                            "read-only replica of 'primary'");
  test::expect_refused_edit(text, R"(read_database: "replica")", R"(read_database: "app")", "r.textproto", "is not a DATABASE");
  test::expect_refused_edit(text, R"(replica_of: "primary" max_connections: 64)",
                            R"(replica_of: "primary" max_connections: 64 replication: SYNC)", "r.textproto", "set on the primary");
  // A primary waiting for replicas it does not have.
  auto unreplicated = replicated(10, "replication: SYNC");
  unreplicated.erase(unreplicated.find(R"(read_database: "replica" )"), std::string(R"(read_database: "replica" )").size());
  test::expect_refused_edit(unreplicated, R"(replica_of: "primary")", R"(replica_of: "")", "r.textproto", "has no replicas");
}

TEST(MultiRegionFailover, TrafficDrainsWithinTheTtlAndTheReturningReplicaServesStaleRows) {
  const auto recorded = test::record_builtin("multi_region_failover");
  const auto id = [&](std::uint32_t node) { return recorded.header.nodes(static_cast<int>(node)).id(); };
  Time us_down_noticed = -1, last_us_to_dead = -1;
  std::uint64_t us_to_eu = 0, eu_broken_before_return = 0, eu_broken_after_return = 0, stale = 0;
  for (const auto& view : recorded.frames) {
    const auto& f = view.frame;
    if (id(f.dst()) == "dns" && f.outcome() == v1::Frame::HEALTH_CHANGED && us_down_noticed < 0) us_down_noticed = view.time;
    stale += f.outcome() == v1::Frame::STALE_READ;
    if (f.kind() == v1::Frame::REQUEST && id(f.src()) == "users-us" && id(f.client()) == "users-us") {
      if (id(f.dst()) == "app-us" && view.sent >= from_seconds(6) && view.sent < from_seconds(12)) last_us_to_dead = view.sent;
      us_to_eu += id(f.dst()) == "app-eu";
    }
    if (id(f.dst()) == "users-eu" && f.note().find("read-your-writes broken") != std::string::npos)
      ++(view.time < from_seconds(22) ? eu_broken_before_return : eu_broken_after_return);
  }
  // The app tier of N. Virginia dies at 6 s: three failed probes find it, and the users' cached
  // answers (5 s) keep them going there at most that long after.
  ASSERT_GT(us_down_noticed, from_seconds(6));
  EXPECT_LT(us_down_noticed, from_seconds(10));
  EXPECT_GT(last_us_to_dead, from_seconds(6));
  EXPECT_LE(last_us_to_dead, us_down_noticed + from_seconds(5));
  EXPECT_GT(us_to_eu, 300u);  // they went to Ireland meanwhile
  // Replicas answer stale rows all along. Ireland's users mostly read their own writes (a write's
  // answer travels as far as its change), except when a burst of changes queues at the replica, and
  // once it comes back 6 s behind.
  EXPECT_GT(stale, 100u);
  EXPECT_GT(eu_broken_after_return, 3 * eu_broken_before_return) << eu_broken_before_return;
  EXPECT_GT(eu_broken_after_return, 10u);
  const auto& nodes = recorded.run.summary["nodes"];
  EXPECT_EQ(nodes["db-eu"]["applied"], nodes["db-us"]["lsn"]);
  EXPECT_EQ(nodes["db-ap"]["applied"], nodes["db-us"]["lsn"]);
}

}  // namespace
}  // namespace flowframe
