// Hostile and careless input (issue 15's reproducers): every number finite and in its documented
// range, text UTF-8, sizes within stated limits, outputs inside their folders, a failing component
// ending the run with a reason.
#include <gtest/gtest.h>

#include <google/protobuf/text_format.h>

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>

#include "flowframe/v1/limits.pb.h"
#include "runtime/base/limits.hpp"
#include "runtime/scenario/kind.hpp"
#include "runtime/scenario/limits_text.hpp"
#include "runtime/learn/share_link.hpp"
#include "runtime/scenario/settings.hpp"
#include "support.hpp"

namespace flowframe {
namespace {

const std::string kSmall = R"(name: "t"
nodes { id: "c" kind: CLIENT }
nodes { id: "s" kind: SERVER server { service_time { mean_ms: 5 } } }
links { from: "c" to: "s" latency { mean_ms: 1 } }
workload { clients: "c" rate: 10 }
stop { requests: 5 }
)";

TEST(Hardening, NumbersOutsideTheirRangeAreRefusedAtTheirPlace) {
  struct Case {
    std::string from, to, expected;
  };
  for (const auto& [from, to, expected] : std::vector<Case>{
           {"latency { mean_ms: 1 }", "latency { mean_ms: inf }", "bad.textproto:4:37: links[0].latency.mean_ms: must be from 0 to 86400000 (got inf)"},
           {"latency { mean_ms: 1 }", "latency { mean_ms: nan }", "links[0].latency.mean_ms: must be from 0 to 86400000 (got nan)"},
           {"service_time { mean_ms: 5 }", "service_time { mean_ms: inf }", "service_time.mean_ms: must be from 0 to 86400000 (got inf)"},
           {"rate: 10 }", "rate: 10 arrival: ON_OFF on_s: 1e-9 off_s: 1 }", "workload.on_s: must be from 0.001 to 10000000 (got 1e-09)"},
           {"requests: 5", "duration_s: 1e10", "stop.duration_s: must be from 0 to 10000000 (got 10000000000)"},
           {"rate: 10 }", "rate: 1e-300 }", "workload.rate: below one request in 11 days"},
           {"rate: 10 }", "rate: inf }", "workload.rate: must be from 0 to 1000000000 (got inf)"},
           {"rate: 10 }", "arrival: CLOSED users: 100000000 }", "workload.users: must be at most 1000000 (got 100000000)"},
           {"kind: SERVER server", "kind: SERVER replicas: 1000000000 server", "nodes[1].replicas: must be at most 100000 (got 1000000000)"},
           {"requests: 5", "requests: 5 } events { at_s: nan node: \"s\" fail: true", "events[0].at_s: must be from 0 to 10000000 (got nan)"},
       }) {
    test::expect_refused_edit(kSmall, from, to, "bad.textproto", expected);
  }
}

TEST(Hardening, TheSameChecksGuardSetEventsAndControls) {
  for (const auto& [setting, expected] : std::vector<std::pair<std::string, std::string>>{
           {"s.service_time.mean_ms=1e300", "must be from 0 to 86400000"},
           {"workload.rate=1e-300", "below one request in 11 days"},
           {"stop.duration_s=1e10", "stop.duration_s: must be from 0 to 10000000"},
           {"s.replicas=1000000000", "replicas must be a whole number from 0 to 100000"}}) {
    try {
      parse_scenario(kSmall, "t.textproto", {setting});
      ADD_FAILURE() << "accepted " << setting;
    } catch (const ScenarioError& error) {
      EXPECT_NE(std::string(error.what()).find(expected), std::string::npos) << error.what();
    }
  }
  // A timed event that would set a value out of range.
  test::expect_refused(kSmall + R"(events { at_s: 1 node: "s" set { field: "service_time.mean_ms" value: "inf" } })", "e.textproto",
                       "e.textproto:7:");
  // A change during a run is judged by the same ranges.
  const auto scenario = parse_scenario(kSmall, "t.textproto");
  v1::ControlRequest request;
  request.mutable_set()->set_field("service_time.mean_ms");
  request.mutable_set()->set_value("1e300");
  EXPECT_NE(check_control(request, scenario.nodes(1)).find("must be from 0 to 86400000"), std::string::npos)
      << check_control(request, scenario.nodes(1));
}

TEST(Hardening, ARampDownToNothingEndsInsteadOfSpinning) {
  test::TempPath file(".textproto");
  auto text = kSmall;
  text.replace(text.find("rate: 10 }"), 10, "rate: 10 arrival: RAMP ramp_to: 0 ramp_s: 4 }");
  text.replace(text.find("requests: 5"), 11, "requests: 1000");
  test::write_file(file.str(), text);
  const auto run = test::run_scenario(file.str());  // once drew candidates for ever after the ramp
  const auto sent = run.summary["requests"]["sent"].get<std::uint64_t>();
  EXPECT_GT(sent, 10u);
  EXPECT_LT(sent, 40u);  // 10/s falling to 0 over 4 s: about 20
  EXPECT_LE(run.result.sim_end, from_seconds(4.1));
}

TEST(Hardening, ARateTooSmallForEachOfManyClientsSendsNothingInsteadOfAStorm) {
  // 1e-6 requests/s shared by 1,000 clients: each one's gap is 10^18 ns, beyond nanoseconds.
  test::TempPath file(".textproto");
  auto text = kSmall;
  text.replace(text.find("nodes { id: \"c\" kind: CLIENT }"), 31, "nodes { id: \"c\" kind: CLIENT replicas: 1000 }");
  text.replace(text.find("rate: 10 }"), 10, "rate: 0.000001 }");
  text.replace(text.find("requests: 5"), 11, "duration_s: 60");
  for (const char* arrival : {"POISSON", "STEADY"}) {
    auto variant = text;
    variant.replace(variant.find("rate: 0.000001 }"), 16, std::string("rate: 0.000001 arrival: ") + arrival + " }");
    test::write_file(file.str(), variant);
    const auto run = test::run_scenario(file.str());
    // Steady clients are spread over one gap, so the first starts at 0; none sends a second.
    EXPECT_LE(run.summary["requests"]["sent"].get<std::uint64_t>(), std::string(arrival) == "STEADY" ? 1u : 0u) << arrival;
  }
}

TEST(Hardening, TooManyNodesInAllAreRefusedBeforeAnyIsMade) {
  auto text = kSmall;
  text += R"(nodes { id: "a" kind: SERVER replicas: 100000 server { service_time { mean_ms: 5 } } }
nodes { id: "b" kind: SERVER replicas: 100000 server { service_time { mean_ms: 5 } } })";
  test::expect_refused(text, "big.textproto", "more than 200000 nodes with replicas counted");
  // The same through --set, counted before any member is made.
  try {
    parse_scenario(kSmall, "t.textproto", {"s.replicas=100000", "c.replicas=100000", "workload.rate=20"});
  } catch (const ScenarioError&) {
    ADD_FAILURE() << "200,000 nodes are allowed";
  }
  try {
    parse_scenario(kSmall + R"(nodes { id: "x" kind: SERVER server { service_time { mean_ms: 5 } } })", "t.textproto",
                   {"s.replicas=100000", "c.replicas=100000"});
    ADD_FAILURE() << "200,001 nodes were made";
  } catch (const ScenarioError& error) {
    EXPECT_NE(std::string(error.what()).find("more than 200000"), std::string::npos) << error.what();
  }
}

TEST(Hardening, TextThatIsNotUtf8AndHugeIdentifiersAreRefusedWithoutACrash) {
  test::expect_refused_edit(kSmall, "name: \"t\"", "name: \"t\\xff\\xfe\"", "bad.textproto", "name: is not UTF-8 text");
  test::expect_refused_edit(kSmall, "rate: 10 }", "rate: 10 paths { path: \"/a\\xc3\" } }", "bad.textproto", "is not UTF-8 text");
  // Once overflowed the stack in std::regex while suggesting a field name.
  const std::string huge(40000, 'x');
  test::expect_refused_edit(kSmall, "name: \"t\"", huge + ": 1", "bad.textproto", "has no field named");
  test::expect_refused_edit(kSmall, "id: \"c\" kind", "id: \"" + huge + "\" kind", "bad.textproto", "is not a valid id (1 to 256");
}

TEST(Hardening, EveryRangeIsStatedWhereTheLimitsAreKept) {
  const auto* node = v1::Node::descriptor();
  EXPECT_EQ(node->FindFieldByName("replicas")->options().GetExtension(v1::at_most), limits::kReplicas);
  EXPECT_EQ(v1::ControlRequest::descriptor()->FindFieldByName("burst")->options().GetExtension(v1::at_most),
            limits::kBurstPerClient);
  EXPECT_EQ(range_text(*v1::Distribution::descriptor()->FindFieldByName("mean_ms")), "from 0 to 86400000");
}

// docs/LIMITS.md ends with `flowframe limits`; FLOWFRAME_UPDATE_GOLDEN=1 rewrites that part.
TEST(Hardening, TheLimitsPageSaysWhatTheCodeEnforces) {
  const std::string page = std::string(FLOWFRAME_SOURCE_DIR) + "/docs/LIMITS.md";
  auto text = test::read_file(page);
  const auto generated = text.find("## Sizes");
  ASSERT_NE(generated, std::string::npos);
  if (std::getenv("FLOWFRAME_UPDATE_GOLDEN")) test::write_file(page, text = text.substr(0, generated) + limits_markdown());
  EXPECT_EQ(text.substr(generated), limits_markdown()) << "docs/LIMITS.md is stale: FLOWFRAME_UPDATE_GOLDEN=1 rewrites it";
}

TEST(Hardening, ACraftedShareLinkIsRefusedBeforeItsReplicasAreLaidOut) {
  v1::Scenario scenario;
  ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(kSmall, &scenario));
  scenario.mutable_nodes(1)->set_replicas(1'000'000'000);
  try {
    decode_link(encode_link(scenario));
    ADD_FAILURE() << "a link with a billion replicas opened";
  } catch (const std::invalid_argument& error) {
    EXPECT_NE(std::string(error.what()).find("nodes[1].replicas must be at most 100000"), std::string::npos) << error.what();
  }
}

TEST(Hardening, DefaultLogNamesStayInTheWorkingFolder) {
  EXPECT_EQ(log_file_stem("load_balancing"), "load_balancing");
  EXPECT_EQ(log_file_stem("../../x"), "_.._x");
  EXPECT_EQ(log_file_stem("/etc/passwd"), "_etc_passwd");
  EXPECT_EQ(log_file_stem(".hidden"), "hidden");
  EXPECT_EQ(log_file_stem(""), "run");
  EXPECT_EQ(log_file_stem(std::string(1000, 'a')).size(), limits::kIdentifierChars);
}

TEST(Hardening, ALogNeverReplacesAFileThatIsNotALog) {
  test::TempPath scenario(".textproto");
  test::write_file(scenario.str(), kSmall);
  RunOptions options;
  options.out_path = scenario.str();
  EXPECT_THROW(test::run_scenario(scenario.str(), {}, options), LogError);
  EXPECT_EQ(test::read_file(scenario.str()), kSmall);
  // An older log is replaced.
  test::TempPath log(".ffl");
  options.out_path = log.str();
  test::run_scenario(scenario.str(), {}, options);
  EXPECT_NO_THROW(test::run_scenario(scenario.str(), {}, options));
}

TEST(Hardening, ScenarioFilesLargerThanTheLimitAreRefusedNotReadForever) {
  try {
    load_scenario("/dev/zero");
    ADD_FAILURE() << "read /dev/zero as a scenario";
  } catch (const ScenarioError& error) {
    EXPECT_NE(std::string(error.what()).find("larger than 16 MiB"), std::string::npos) << error.what();
  }
}

TEST(Hardening, FlagsTakeTheSchemasRangesAndSayThemInDigits) {
  const std::string command = std::string(FLOWFRAME_BIN) + " run load_balancing --no-frames --speed inf 2>&1";
  std::string said;
  FILE* pipe = ::popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  for (char buffer[256]; std::fgets(buffer, sizeof buffer, pipe);) said += buffer;
  EXPECT_EQ(WEXITSTATUS(::pclose(pipe)), 2);
  EXPECT_NE(said.find("--speed: must be a number from 0 to 1000000, got 'inf'"), std::string::npos) << said;
}

// A plot's file name is a name, never shell text: the PNG converter runs without a shell.
TEST(Hardening, APlotNameCannotRunCommands) {
  const auto dir = std::filesystem::temp_directory_path() / ("flowframe-plot-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string name = "x';touch pwned;'.png";
  const std::string command = "cd '" + dir.string() + "' && " + FLOWFRAME_BIN +
                              " bench load_balancing --sweep workload.rate=20,40 --seeds 1 --requests 50 --plot \"" + name +
                              "\" >/dev/null 2>&1";
  const int status = std::system(command.c_str());
  EXPECT_FALSE(std::filesystem::exists(dir / "pwned"));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_GT(std::filesystem::file_size(dir / name), 1000u);  // rsvg-convert made the PNG under that very name
  std::filesystem::remove_all(dir);
}

// A component whose logic throws on its first request: the run must end with the reason, not hang.
class Throwing final : public Component {
 public:
  using Component::Component;
  void handle(const Event& event, Context&) override {
    if (event.kind == EventKind::request) throw std::runtime_error("the disk is on fire");
  }
  std::string apply(ControlAction&, Context&) override { return ""; }
  void snapshot(v1::NodeState&) const override {}
};

TEST(Hardening, AComponentThatThrowsEndsTheRunWithWhereAndWhyAndAReadableLog) {
  const auto scenario = parse_scenario(kSmall, "t.textproto");
  const ComponentFactory factory = [](const v1::Node& spec, NodeIndex index, const Topology& topology) -> std::unique_ptr<Component> {
    if (spec.id() == "s") return std::make_unique<Throwing>(spec, index, 1);
    return make_component(spec, index, topology);
  };
  for (unsigned threads : {1u, 2u}) {
    test::TempPath log(".ffl");
    RunOptions options;
    options.out_path = log.str();
    options.threads = threads;
    options.shards = threads;
    Simulation simulation(scenario, options, factory);
    try {
      simulation.run();
      ADD_FAILURE() << "the run ended normally";
    } catch (const std::exception& error) {
      EXPECT_NE(std::string(error.what()).find("node 's' at"), std::string::npos) << error.what();
      EXPECT_NE(std::string(error.what()).find("the disk is on fire"), std::string::npos) << error.what();
    }
    FrameLogReader reader(log.str());  // readable: the header, and whatever chunks were written
    EXPECT_EQ(reader.header().scenario().name(), "t");
  }
}

// Whatever a balancer forwards to, every request sent is answered: completed or failed, never lost.
// Whatever the topology, sent = completed + failed. For every kind: in the first built-in scenario
// that has one, a probe client joins the workload and sends its share straight to a node of that
// kind, whatever the kind expects to receive; and a balancer forwards to one in a minimal topology
// where the kind is valid alone.
TEST(Hardening, EveryKindAnswersARequestItCannotServe) {
  const auto balanced = [](v1::Scenario& scenario) {
    EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(R"(name: "any"
nodes { id: "c" kind: CLIENT }
nodes { id: "lb" kind: LOAD_BALANCER }
links { from: "c" to: "lb" latency { mean_ms: 1 } }
links { from: "lb" to: "x" latency { mean_ms: 1 } }
workload { clients: "c" rate: 20 }
stop { requests: 20 duration_s: 5 })", &scenario));
    return "x";
  };
  const auto probed = [](v1::Scenario& scenario, v1::Node::Kind kind) -> std::string {
    for (const auto& builtin : builtin_scenarios()) {
      v1::Scenario candidate;
      EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(builtin.text, &candidate)) << builtin.name;
      for (const auto& node : candidate.nodes()) {
        if (node.kind() != kind) continue;
        scenario = candidate;
        auto& probe = *scenario.add_nodes();
        probe.set_id("probe");
        probe.set_kind(v1::Node::CLIENT);
        for (const auto& other : candidate.nodes())  // in a client's region, so its links need no latency
          if (other.kind() == v1::Node::CLIENT) {
            probe.set_region(other.region());
            break;
          }
        auto& link = *scenario.add_links();
        link.set_from("probe");
        link.set_to(node.id());
        link.mutable_latency()->set_mean_ms(1);
        // The probe may also reach whatever the scenario's clients reach (a valet script checks it).
        const auto& clients = candidate.workload().clients();
        const auto client_ids = workload_clients(candidate.workload());
        for (const auto& other : candidate.links())
          if (other.to() != node.id() && std::find(client_ids.begin(), client_ids.end(), other.from()) != client_ids.end()) {
            auto& copy = *scenario.add_links();
            copy = other;
            copy.set_from("probe");
            if (!copy.has_latency()) copy.mutable_latency()->set_mean_ms(1);  // between regions of another client
          }
        auto& workload = *scenario.mutable_workload();
        workload.set_clients(clients + ", probe");
        workload.clear_target();  // each client sends to the node it links to first
        // A crash loses what a node holds and its callers time out; the probe has no timeout and
        // this test is about requests a node cannot serve, so no faults.
        scenario.clear_events();
        return builtin.name;
      }
    }
    return "";
  };
  int balanced_runs = 0, probed_runs = 0;
  for (const auto* kind : kind_descriptions()) {
    for (const bool probe : {false, true}) {
      v1::Scenario scenario;
      std::string where = "a balancer in front";
      if (probe) {
        where = probed(scenario, kind->kind);
        if (where.empty()) continue;  // no built-in scenario has this kind
      } else {
        balanced(scenario);
        auto& node = *scenario.add_nodes();
        node.set_id("x");
        node.set_kind(kind->kind);
        kind->example(node);
      }
      test::TempPath file(".textproto");
      std::string text;
      google::protobuf::TextFormat::PrintToString(scenario, &text);
      test::write_file(file.str(), text);
      std::optional<test::Run> run;
      try {
        run = test::run_scenario(file.str());
      } catch (const ScenarioError& error) {
        if (probe) ADD_FAILURE() << kind->name << " probed in " << where << ": " << error.what();
        continue;  // alone, this kind needs other nodes to be valid
      }
      ++(probe ? probed_runs : balanced_runs);
      const auto& requests = run->summary["requests"];
      EXPECT_EQ(requests["sent"].get<std::uint64_t>(),
                requests["completed"].get<std::uint64_t>() + requests["failed"].get<std::uint64_t>())
          << kind->name << " (" << where << "): " << requests.dump();
    }
  }
  EXPECT_GE(balanced_runs, 5);
  EXPECT_EQ(probed_runs, static_cast<int>(kind_descriptions().size()));
}

}  // namespace
}  // namespace flowframe
