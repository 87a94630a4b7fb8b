// Scenario loading: every kind of bad input names file, line, column and field; overrides.
#include <gtest/gtest.h>

#include <cstdio>
#include <sys/wait.h>

#include "support.hpp"

namespace flowframe {
namespace {

const std::string kGood = R"(name: "t"
nodes { id: "c" kind: CLIENT }
nodes { id: "lb" kind: LOAD_BALANCER }
nodes { id: "s" kind: SERVER replicas: 2 server { service_time { mean_ms: 5 } } }
links { from: "c" to: "lb" latency { mean_ms: 1 } }
links { from: "lb" to: "s" latency { mean_ms: 1 } }
workload { clients: "c" rate: 10 }
stop { requests: 5 }
)";

// The problems reported for `text`, or a failure if it loads.
std::vector<std::string> problems_of(const std::string& text, const std::vector<std::string>& overrides = {}) {
  try {
    parse_scenario(text, "bad.textproto", overrides);
  } catch (const ScenarioError& error) {
    return error.problems();
  }
  ADD_FAILURE() << "scenario loaded without error";
  return {};
}

std::string replace(std::string text, const std::string& from, const std::string& to) {
  const auto at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  return text.replace(at, from.size(), to);
}

TEST(Scenario, GoodOneLoadsAndExpandsReplicas) {
  const auto scenario = parse_scenario(kGood, "good.textproto");
  ASSERT_EQ(scenario.nodes_size(), 4);
  EXPECT_EQ(scenario.nodes(2).id(), "s-1");
  EXPECT_EQ(scenario.nodes(3).id(), "s-2");
  EXPECT_EQ(scenario.nodes(3).group(), "s");
}

TEST(Scenario, UnknownNodeInLinkNamesLineColumnAndField) {
  const auto problems = problems_of(replace(kGood, R"(to: "s" latency)", R"(to: "srv" latency)"));
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0], "bad.textproto:6:20: links.to: unknown node 'srv' (did you mean 's'?)");
}

TEST(Scenario, NegativeLatency) {
  const auto problems = problems_of(replace(kGood, "latency { mean_ms: 1 } }\nlinks", "latency { mean_ms: -3 } }\nlinks"));
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0], "bad.textproto:5:38: latency.mean_ms: negative latency -3 ms");
}

TEST(Scenario, ZeroLatencyLink) {
  const auto problems = problems_of(replace(kGood, R"(to: "s" latency { mean_ms: 1 })", R"(to: "s" latency { mean_ms: 0 })"));
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0].find("bad.textproto:6:"), std::string::npos) << problems[0];
  EXPECT_NE(problems[0].find("latency.mean_ms: zero-latency link"), std::string::npos) << problems[0];
}

TEST(Scenario, MissingWorkload) {
  const auto problems = problems_of(replace(kGood, R"(workload { clients: "c" rate: 10 })", ""));
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0], "bad.textproto: workload: missing workload (which clients send what, at what rate)");
}

TEST(Scenario, UnknownFieldIsATypoWithSuggestion) {
  const auto problems = problems_of(replace(kGood, "server { service_time", "server { capasity: 3 service_time"));
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0].find("bad.textproto:4:59:"), std::string::npos) << problems[0];
  EXPECT_NE(problems[0].find("no field named \"capasity\""), std::string::npos) << problems[0];
  EXPECT_NE(problems[0].find("Did you mean \"capacity\"?"), std::string::npos) << problems[0];
}

TEST(Scenario, SyntaxErrorHasPosition) {
  const auto problems = problems_of(replace(kGood, "stop { requests: 5 }", "stop { requests: 5 "));
  ASSERT_FALSE(problems.empty());
  EXPECT_EQ(problems[0].rfind("bad.textproto:9:1:", 0), 0u) << problems[0];
}

TEST(Scenario, SeveralProblemsAreAllReported) {
  auto text = replace(kGood, R"(from: "c" to: "lb")", R"(from: "cc" to: "lb")");
  text = replace(text, "rate: 10", "rate: 0");
  const auto problems = problems_of(text);
  ASSERT_EQ(problems.size(), 3u);
  EXPECT_NE(problems[0].find("links.from: unknown node 'cc'"), std::string::npos) << problems[0];
  EXPECT_NE(problems[1].find("workload.clients: 'c' has no link"), std::string::npos) << problems[1];
  EXPECT_NE(problems[2].find("workload.rate: must be > 0"), std::string::npos) << problems[2];
}

TEST(Scenario, EventsAreChecked) {
  const auto problems = problems_of(kGood + R"(events { at_s: 1 node: "s-3" fail: true }
events { at_s: 1 node: "lb" set { field: "strategy" value: "fastest" } }
events { at_s: 1 node: "lb" fail: true }
)");
  ASSERT_EQ(problems.size(), 3u);
  EXPECT_NE(problems[0].find("bad.textproto:9:18: events.node: unknown node 's-3'"), std::string::npos) << problems[0];
  EXPECT_NE(problems[1].find("bad.textproto:10:"), std::string::npos) << problems[1];
  EXPECT_NE(problems[1].find("round_robin"), std::string::npos) << problems[1];
  EXPECT_NE(problems[2].find("fail applies to servers"), std::string::npos) << problems[2];
}

TEST(Overrides, GroupMemberWorkloadAndEnum) {
  const auto scenario = parse_scenario(
      kGood, "good.textproto",
      {"s.capacity=3", "s-2.capacity=0", "workload.rate=900", "lb.strategy=ip_hash", "s.service_time.mean_ms=2"});
  EXPECT_EQ(scenario.nodes(2).server().capacity(), 3u);
  EXPECT_EQ(scenario.nodes(3).server().capacity(), 0u);
  EXPECT_TRUE(scenario.nodes(3).server().has_capacity());
  EXPECT_DOUBLE_EQ(scenario.nodes(3).server().service_time().mean_ms(), 2.0);
  EXPECT_DOUBLE_EQ(scenario.workload().rate(), 900.0);
  EXPECT_EQ(scenario.nodes(1).load_balancer().strategy(), v1::LoadBalancerParams::IP_HASH);
}

TEST(Overrides, ReplicasScaleAWrittenNodeAndTheDescriptionSaysSo) {
  const auto scenario = parse_scenario(kGood, "good.textproto", {"s.replicas=64", "s-64.capacity=0"});
  int members = 0;
  for (const auto& node : scenario.nodes()) members += node.group() == "s";
  EXPECT_EQ(members, 64);
  EXPECT_EQ(scenario.nodes(scenario.nodes_size() - 1).id(), "s-64");
  EXPECT_EQ(scenario.nodes(scenario.nodes_size() - 1).server().capacity(), 0u);
  // A big group is a grid: 8 x 8, not one column 64 units tall.
  double lowest = 0, rightmost = 0;
  for (const auto& node : scenario.nodes()) {
    if (node.group() != "s") continue;
    lowest = std::max(lowest, node.position().y());
    rightmost = std::max(rightmost, node.position().x());
  }
  EXPECT_DOUBLE_EQ(lowest, 7.0);
  EXPECT_DOUBLE_EQ(rightmost, 7 * 1.2);
  EXPECT_NE(scenario.description().find("(changed: --set s.replicas=64, --set s-64.capacity=0)"), std::string::npos);
  EXPECT_EQ(problems_of(kGood, {"s-1.replicas=3"}).at(0),
            "--set s-1.replicas=3: replicas is set on a written node (e.g. server.replicas=64), not on one member");
  EXPECT_EQ(problems_of(kGood, {"s.replicas=1e9"}).at(0), "--set s.replicas=1e9: replicas must be a whole number from 0 to 100000");
  EXPECT_EQ(problems_of(kGood, {"s.replicas=-1"}).at(0), "--set s.replicas=-1: replicas must be a whole number from 0 to 100000");
}

TEST(Overrides, BadOnesAreNamed) {
  auto problems = problems_of(kGood, {"s-9.capacity=0"});
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0], "--set s-9.capacity=0: unknown node 's-9' (did you mean 's-1'?)");
  problems = problems_of(kGood, {"s.capacity=-1"});
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0], "--set s.capacity=-1: field 'capacity' expects a whole number >= 0, got '-1'");
  problems = problems_of(kGood, {"lb.strategy=fastest"});
  EXPECT_NE(problems.at(0).find("one of round_robin"), std::string::npos) << problems[0];
  problems = problems_of(kGood, {"s.capacty=1"});
  EXPECT_NE(problems.at(0).find("(did you mean 'capacity'?)"), std::string::npos) << problems[0];
  problems = problems_of(kGood, {"capacity"});
  EXPECT_NE(problems.at(0).find("expected NODE.FIELD=VALUE"), std::string::npos) << problems[0];
  // A value that parses but breaks a rule is caught by validation after the overrides.
  problems = problems_of(kGood, {"workload.rate=-5"});
  EXPECT_NE(problems.at(0).find("workload.rate: must be > 0"), std::string::npos) << problems[0];
}

// The CLI's contract: bad input exits with code 2 and says where.
TEST(Cli, BadScenarioExitsTwoWithLocation) {
  test::TempPath file(".textproto");
  test::write_file(file.str(), replace(kGood, R"(to: "s" latency)", R"(to: "srv" latency)"));
  const std::string command = std::string(FLOWFRAME_BIN) + " validate " + file.str() + " 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string output;
  char buffer[512];
  while (fgets(buffer, sizeof buffer, pipe)) output += buffer;
  const int status = pclose(pipe);
  EXPECT_EQ(WEXITSTATUS(status), 2);
  EXPECT_NE(output.find(file.str() + ":6:20: links.to: unknown node 'srv'"), std::string::npos) << output;
}

TEST(Cli, WrongFlagAndMissingFileExitTwo) {
  for (const std::string args : {" run load_balancing --bogus", " run no_such_scenario", " inspect /nonexistent.ffl",
                                 " run load_balancing --set nowhere.capacity=1"}) {
    const int status = std::system((std::string(FLOWFRAME_BIN) + args + " >/dev/null 2>&1").c_str());
    EXPECT_EQ(WEXITSTATUS(status), 2) << args;
  }
}

}  // namespace
}  // namespace flowframe

namespace flowframe {
namespace {

const std::string kComponents = R"(name: "c"
nodes { id: "c" kind: CLIENT }
nodes { id: "app" kind: SERVER server { service_time { mean_ms: 1 }
  cache_aside { cache: "cache" database: "db" table: "users" key_prefix: "user:" ttl_s: 30 } } }
nodes { id: "cache" kind: CACHE }
nodes { id: "db" kind: DATABASE database { tables { name: "users" } } }
nodes { id: "gw" kind: API_GATEWAY api_gateway { routes { prefix: "/u" pool: "users" } pools { name: "users" servers: "app" } } }
nodes { id: "tokens" kind: TOKEN_SERVICE token_service { secret: "s" bucket: "b" token_ttl_s: 5 } }
links { from: "c" to: "gw" latency { mean_ms: 1 } }
links { from: "gw" to: "app" latency { mean_ms: 1 } }
links { from: "app" to: "cache" latency { mean_ms: 1 } }
links { from: "app" to: "db" latency { mean_ms: 1 } }
links { from: "c" to: "tokens" latency { mean_ms: 1 } }
workload { clients: "c" target: "gw" rate: 10 }
stop { requests: 5 }
)";

TEST(Scenario, ComponentsLoad) { EXPECT_EQ(parse_scenario(kComponents, "c.textproto").nodes_size(), 6); }

TEST(Scenario, UnknownTable) {
  const auto problems = problems_of(replace(kComponents, R"(table: "users")", R"(table: "user")"));
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0], "bad.textproto:4:47: cache_aside.table: unknown table 'user' in database 'db'");
}

TEST(Scenario, RouteToUnknownPool) {
  const auto problems = problems_of(replace(kComponents, R"(pool: "users" })", R"(pool: "user" })"));
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0],
            "bad.textproto:7:72: api_gateway.routes.pool: route to unknown pool 'user' (did you mean 'users'?)");
}

TEST(Scenario, NegativeTtl) {
  const auto problems = problems_of(replace(kComponents, "ttl_s: 30", "ttl_s: -30"));
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0], "bad.textproto:4:82: cache_aside.ttl_s: negative TTL -30 s (0 means no expiry)");
}

TEST(Scenario, EmptySecret) {
  const auto problems = problems_of(replace(kComponents, R"(secret: "s")", R"(secret: "")"));
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0], "bad.textproto:8:58: token_service.secret: empty secret: tokens could be forged");
}

TEST(Scenario, CacheAsideNeedsLinksAndKinds) {
  auto problems = problems_of(replace(kComponents, R"(links { from: "app" to: "cache" latency { mean_ms: 1 } })", ""));
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0].find("cache_aside.cache: 'app' has no link to 'cache'"), std::string::npos) << problems[0];
  problems = problems_of(replace(kComponents, R"(cache: "cache")", R"(cache: "db")"));
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0].find("cache_aside.cache: 'db' is not a CACHE"), std::string::npos) << problems[0];
}


// A valet script without a client of its own runs on the workload's first client, which must
// reach the storage, whichever of several groups it is (the check once read the whole list as one id).
TEST(Scenario, ValetScriptNeedsTheClientItRunsOnLinkedToTheStorage) {
  std::string text;
  for (const auto& builtin : builtin_scenarios())
    if (builtin.name == "valet_key") text = builtin.text;
  ASSERT_FALSE(text.empty());
  text = replace(text, R"(clients: "client")", R"(clients: "mobile, client")") +
         R"(nodes { id: "mobile" kind: CLIENT }
links { from: "mobile" to: "app" latency { mean_ms: 5 } })";
  const auto problems = problems_of(text);
  ASSERT_FALSE(problems.empty());
  for (const auto& problem : problems)  // once per scripted upload
    EXPECT_NE(problem.find("workload.script.valet.storage: 'mobile' has no link to 'storage'"), std::string::npos) << problem;
  EXPECT_NO_THROW(parse_scenario(text + R"(
links { from: "mobile" to: "storage" latency { mean_ms: 20 } })", "good.textproto", {}));
}

}  // namespace
}  // namespace flowframe
