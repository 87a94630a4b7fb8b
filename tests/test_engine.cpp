// The engine's own features, on any kind: deadlines and late answers, faults on nodes and links,
// request chains of any depth.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "runtime/live/live.hpp"
#include "support.hpp"

namespace flowframe {
namespace {

using F = v1::Frame;

struct Recorded {
  test::Run run;
  std::vector<FrameView> frames;
  v1::LogHeader header;
};

// Runs scenario text (written to a file, as a user would) with frames recorded.
Recorded record(const std::string& text, const std::vector<std::string>& overrides = {}, RunOptions options = {}) {
  test::TempPath scenario(".textproto"), log(".ffl");
  test::write_file(scenario.str(), text);
  options.out_path = log.str();
  Recorded out;
  out.run = test::run_scenario(scenario.str(), overrides, options);
  out.frames = test::read_frames(log.str());
  out.header = FrameLogReader(log.str()).header();
  return out;
}

// A built-in scenario's text with more timed events.
std::string builtin_with(const std::string& name, const std::string& events) {
  return read_scenario(name).text + "\n" + events + "\n";
}

NodeIndex node_index(const Recorded& r, const std::string& id) {
  for (const auto& node : r.header.nodes())
    if (node.id() == id) return node.index();
  ADD_FAILURE() << "no node " << id;
  return kNoNode;
}

std::size_t count(const Recorded& r, const std::function<bool(const FrameView&)>& which) {
  return static_cast<std::size_t>(std::count_if(r.frames.begin(), r.frames.end(), which));
}

// One client straight to one server; `extra` adds to the scenario.
std::string direct(const std::string& client_extra, const std::string& server, const std::string& extra) {
  return R"(name: "direct"
nodes { id: "client" kind: CLIENT )" + client_extra + R"( }
nodes { id: "server" kind: SERVER server { )" + server + R"( } }
links { from: "client" to: "server" latency { mean_ms: 1 } }
)" + extra;
}

TEST(Deadlines, TimeoutFiresLateAnswerIsDroppedAndQueuedWorkIsCancelled) {
  // Two requests 10 ms apart to a one-slot server that takes 100 ms; the client waits 50 ms.
  const auto r = record(direct("timeout_ms: 50", "capacity: 1 service_time { mean_ms: 100 }",
                               R"(workload { clients: "client" arrival: STEADY rate: 100 }
stop { requests: 2 })"));
  const auto client = node_index(r, "client"), server = node_index(r, "server");
  auto at_client = [&](F::Kind kind, F::Outcome outcome) {
    return count(r, [&](const FrameView& v) {
      return v.frame.dst() == client && v.frame.kind() == kind && v.frame.outcome() == outcome;
    });
  };
  EXPECT_EQ(at_client(F::TIMEOUT, F::TIMED_OUT), 2u);
  EXPECT_EQ(at_client(F::RESPONSE, F::LATE), 2u);   // both answers came after their deadlines
  EXPECT_EQ(at_client(F::RESPONSE, F::COMPLETED), 0u);
  for (const auto& view : r.frames) {
    if (view.frame.kind() == F::TIMEOUT) {
      EXPECT_EQ(view.time - view.sent, 50 * kNanosPerMilli);
    }
  }
  // The second request waited past its deadline: answered 504 without being served.
  EXPECT_EQ(count(r, [&](const FrameView& v) {
              return v.frame.dst() == server && v.frame.kind() == F::TIMER && v.frame.outcome() == F::SERVED;
            }),
            1u);
  EXPECT_EQ(count(r, [&](const FrameView& v) { return v.frame.src() == server && v.frame.status() == 504; }), 1u);
  const auto& requests = r.run.summary["requests"];
  EXPECT_EQ(requests["failed"], 2);
  EXPECT_EQ(requests["by_status"]["504"], 2);
}

TEST(Deadlines, ABalancerWithATimeoutAnswers504ForASlowBackend) {
  const auto r = record(R"(name: "lb_timeout"
nodes { id: "client" kind: CLIENT }
nodes { id: "lb" kind: LOAD_BALANCER timeout_ms: 30 }
nodes { id: "server" kind: SERVER replicas: 2 server { capacity: 4 service_time { mean_ms: 100 } } }
links { from: "client" to: "lb" latency { mean_ms: 1 } }
links { from: "lb" to: "server" latency { mean_ms: 1 } }
workload { clients: "client" arrival: STEADY rate: 10 }
stop { requests: 4 })");
  const auto lb = node_index(r, "lb"), client = node_index(r, "client");
  std::map<std::uint64_t, Time> sent;
  std::size_t late = 0, answered = 0;
  for (const auto& view : r.frames) {
    const auto& f = view.frame;
    if (f.kind() == F::REQUEST && f.dst() == lb) sent[f.request()] = view.sent;
    if (f.dst() == lb && f.outcome() == F::LATE) ++late;
    if (f.dst() == client && f.kind() == F::RESPONSE) {
      ++answered;
      EXPECT_EQ(f.status(), 504u);
      EXPECT_EQ(view.time - sent.at(f.request()), 32 * kNanosPerMilli);  // 1 ms there, 30 ms deadline, 1 ms back
    }
  }
  EXPECT_EQ(answered, 4u);
  EXPECT_EQ(late, 4u);  // the servers' answers came after the balancer gave up
  // Its backends' outstanding counts are settled: all four requests ended.
  EXPECT_EQ(r.run.summary["requests"]["by_status"]["504"], 4);
}

TEST(Deadlines, AnswersInTimeDisarmTheirDeadline) {
  const auto r = record(direct("timeout_ms: 500", "capacity: 4 service_time { mean_ms: 10 }",
                               R"(workload { clients: "client" rate: 50 }
stop { requests: 50 })"));
  EXPECT_EQ(count(r, [](const FrameView& v) { return v.frame.kind() == F::TIMEOUT; }), 0u);
  EXPECT_EQ(r.run.summary["requests"]["completed"], 50);
}

std::string partitioned(const std::string& direction) {
  return direct("", "capacity: 10 service_time { mean_ms: 20 }", R"(workload { clients: "client" arrival: STEADY rate: 200 }
stop { duration_s: 1.5 }
events { at_s: 0.5 node: "client" fault { link { to: "server" )" + direction + R"( partition: true } } }
events { at_s: 1.0 node: "client" fault { link { to: "server" heal: true } } })");
}

TEST(Faults, PartitionDropsBothWaysWhileItLasts) {
  const auto r = record(partitioned(""));
  const auto client = node_index(r, "client"), server = node_index(r, "server");
  std::size_t requests = 0, responses = 0;
  for (const auto& view : r.frames) {
    if (view.frame.outcome() != F::PARTITIONED) continue;
    EXPECT_GE(view.sent, from_seconds(0.5));
    EXPECT_LT(view.sent, from_seconds(1.0));
    if (view.frame.dst() == server && view.frame.kind() == F::REQUEST) ++requests;
    if (view.frame.dst() == client && view.frame.kind() == F::RESPONSE) ++responses;
  }
  EXPECT_NEAR(static_cast<double>(requests), 100, 2);  // 0.5 s at 200/s
  EXPECT_GT(responses, 0u);                            // answers on their way back were cut too
  // Before and after, everything arrives.
  EXPECT_GT(count(r, [&](const FrameView& v) { return v.time > from_seconds(1.1) && v.frame.outcome() == F::COMPLETED; }), 50u);
}

TEST(Faults, OneWayPartitionDropsOneDirectionOnly) {
  const auto r = record(partitioned("direction: INBOUND"));  // server -> client only
  const auto client = node_index(r, "client");
  EXPECT_GT(count(r, [&](const FrameView& v) { return v.frame.outcome() == F::PARTITIONED; }), 0u);
  for (const auto& view : r.frames) {
    if (view.frame.outcome() == F::PARTITIONED) {
      EXPECT_EQ(view.frame.dst(), client);
    }
  }
}

TEST(Faults, LossProbabilityIsMeasured) {
  const auto r = record(direct("", "capacity: 100 service_time { mean_ms: 1 }", R"(workload { clients: "client" rate: 2000 }
stop { requests: 10000 }
events { at_s: 0 node: "client" fault { link { to: "server" direction: OUTBOUND loss: 0.2 } } })"));
  const auto lost = count(r, [](const FrameView& v) { return v.frame.outcome() == F::LOST; });
  EXPECT_NEAR(static_cast<double>(lost) / 10000, 0.2, 0.015);
  EXPECT_EQ(r.run.summary["requests"]["completed"].get<std::uint64_t>(), 10000 - lost);
}

TEST(Faults, PauseHoldsWorkThenHandlesItInArrivalOrder) {
  const auto r = record(direct("", "capacity: 4 service_time { mean_ms: 5 }", R"(workload { clients: "client" arrival: STEADY rate: 100 }
stop { duration_s: 1.2 }
events { at_s: 0.5 node: "server" fault { pause_s: 0.3 } })"));
  const auto server = node_index(r, "server");
  std::vector<std::uint64_t> held;
  std::vector<std::uint64_t> after;
  for (const auto& view : r.frames) {
    if (view.frame.dst() != server || view.frame.kind() != F::REQUEST) continue;
    if (view.time >= from_seconds(0.5) && view.time < from_seconds(0.8)) {
      EXPECT_EQ(view.frame.outcome(), F::HELD);
      held.push_back(view.frame.request());
    } else if (view.time >= from_seconds(0.8) && view.time < from_seconds(0.8) + 1000) {
      after.push_back(view.frame.request());
    }
  }
  EXPECT_NEAR(static_cast<double>(held.size()), 30, 1);
  EXPECT_EQ(after, held);  // every held request handled right at the end, in the order it came
  EXPECT_EQ(r.run.summary["requests"]["completed"], r.run.summary["requests"]["sent"]);
}

TEST(Faults, SlowStretchesServiceTimes) {
  const auto r = record(direct("", "capacity: 4 service_time { mean_ms: 10 }", R"(workload { clients: "client" arrival: STEADY rate: 20 }
stop { duration_s: 2 }
events { at_s: 1 node: "server" fault { slow: 3 } })"));
  for (const auto& view : r.frames) {
    if (view.frame.kind() != F::TIMER || view.frame.outcome() != F::SERVED) continue;
    EXPECT_EQ(view.time - view.sent, (view.sent < from_seconds(1) ? 10 : 30) * kNanosPerMilli);
  }
}

TEST(Faults, LinkLatencyChangesOneDirectionAndIsNeverBelowTheLookahead) {
  const auto r = record(direct("", "capacity: 4 service_time { mean_ms: 2 }", R"(workload { clients: "client" arrival: STEADY rate: 20 }
stop { duration_s: 2 }
events { at_s: 1 node: "client" fault { link { to: "server" direction: OUTBOUND latency { mean_ms: 7 } } } })"));
  const auto server = node_index(r, "server");
  std::size_t slow = 0;
  for (const auto& view : r.frames) {
    if (view.frame.kind() == F::REQUEST && view.frame.dst() == server) {
      EXPECT_EQ(view.time - view.sent, (view.sent < from_seconds(1) ? 1 : 7) * kNanosPerMilli);
      slow += view.sent >= from_seconds(1);
    }
    if (view.frame.kind() == F::RESPONSE) {
      EXPECT_EQ(view.time - view.sent, kNanosPerMilli);  // the other way: as before
    }
  }
  EXPECT_GT(slow, 15u);
  EXPECT_THROW(record(direct("", "service_time { mean_ms: 2 }", R"(workload { clients: "client" rate: 20 }
stop { requests: 5 }
events { at_s: 1 node: "client" fault { link { to: "server" latency { mean_ms: 0.5 } } } })")),
               ScenarioError);
}

TEST(Faults, CrashAndRestart) {
  // cache_aside with the cache crashing at 1 s and back at 1.5 s: its keys are gone, calls to it
  // meanwhile are refused, and the servers read the database instead.
  const auto r = record(builtin_with("cache_aside", R"(events { at_s: 1 node: "cache" fault { crash: true } }
events { at_s: 1.5 node: "cache" fault { restart: true } })"));
  const auto cache = node_index(r, "cache");
  int keys_before = -1;
  bool crashed = false, restarted = false;
  for (const auto& view : r.frames) {
    if (view.frame.dst() != cache) continue;
    if (view.frame.kind() == F::CONTROL && view.frame.note() == "crash") {
      crashed = true;
      EXPECT_EQ(view.frame.state().cache().keys_size(), 0);  // lost at once
      EXPECT_TRUE(view.frame.state().crashed());  // readers can show it
      EXPECT_GT(keys_before, 0);
    } else if (view.frame.kind() == F::CONTROL && view.frame.note() == "restart") {
      restarted = true;
      EXPECT_FALSE(view.frame.state().crashed());
    } else if (!crashed && view.frame.has_state()) {
      keys_before = view.frame.state().cache().keys_size();
    } else if (crashed && !restarted && view.frame.kind() == F::REQUEST) {
      EXPECT_EQ(view.frame.outcome(), F::REFUSED);
    }
  }
  EXPECT_TRUE(crashed && restarted);
  EXPECT_GT(count(r, [&](const FrameView& v) { return v.frame.dst() == cache && v.frame.outcome() == F::REFUSED; }), 0u);
  EXPECT_GT(count(r, [&](const FrameView& v) {
              return v.frame.dst() == cache && v.time > from_seconds(1.5) && v.frame.outcome() == F::CACHE_HIT;
            }),
            0u);
}

TEST(Faults, CrashedServerLeavesTheBalancersPoolAndComesBack) {
  const auto r = record(builtin_with("load_balancing", R"(events { at_s: 0.5 node: "server-2" fault { crash: true } }
events { at_s: 1.0 node: "server-2" fault { restart: true } })"),
                        {"stop.duration_s=2"});
  std::vector<std::string> notes;
  for (const auto& view : r.frames)
    if (view.frame.kind() == F::CONTROL && view.frame.note().rfind("health server-2", 0) == 0)
      notes.push_back(view.frame.note());
  EXPECT_EQ(notes, (std::vector<std::string>{"health server-2 down", "health server-2 up"}));
  const auto server = node_index(r, "server-2");
  EXPECT_EQ(count(r, [&](const FrameView& v) {
              return v.frame.dst() == server && v.frame.kind() == F::REQUEST && v.time > from_seconds(0.5) &&
                     v.time < from_seconds(1.0);
            }),
            0u);
}

TEST(Chains, TwentyForwardersDeepAnswerTheirClient) {
  std::string text = R"(name: "deep"
nodes { id: "client" kind: CLIENT }
nodes { id: "server" kind: SERVER server { service_time { mean_ms: 1 } } }
links { from: "client" to: "lb-1" latency { mean_ms: 1 } }
links { from: "lb-20" to: "server" latency { mean_ms: 1 } }
workload { clients: "client" target: "lb-1" rate: 10 }
stop { requests: 5 }
)";
  for (int i = 1; i <= 20; ++i) {
    text += "nodes { id: \"lb-" + std::to_string(i) + "\" kind: LOAD_BALANCER }\n";
    if (i < 20)
      text += "links { from: \"lb-" + std::to_string(i) + "\" to: \"lb-" + std::to_string(i + 1) +
              "\" latency { mean_ms: 1 } }\n";
  }
  const auto r = record(text);
  EXPECT_EQ(r.run.summary["requests"]["completed"], 5);
  // 21 links there and back, 1 ms each, plus 1 ms of service.
  std::map<std::uint64_t, Time> sent;
  for (const auto& view : r.frames) {
    if (view.frame.kind() == F::REQUEST && view.frame.dst() == node_index(r, "lb-1")) sent[view.frame.request()] = view.sent;
    if (view.frame.outcome() == F::COMPLETED) {
      EXPECT_EQ(view.time - sent.at(view.frame.request()), 43 * kNanosPerMilli);
    }
  }
}

TEST(Faults, ControlWordsMakeFaults) {
  auto fault = [](std::vector<std::string> words) { return parse_control(words).fault().ShortDebugString(); };
  EXPECT_EQ(fault({"crash", "db"}), "crash: true");
  EXPECT_EQ(fault({"pause", "server-1", "2.5"}), "pause_s: 2.5");
  EXPECT_EQ(fault({"slow", "server-1", "3"}), "slow: 3");
  EXPECT_EQ(fault({"partition", "lb", "server-2", "one-way"}), "link { to: \"server-2\" direction: OUTBOUND partition: true }");
  EXPECT_EQ(fault({"loss", "lb", "server-2", "0.1"}), "link { to: \"server-2\" loss: 0.1 }");
  EXPECT_TRUE(parse_control({"pause"}).pause());
  EXPECT_THROW(parse_control({"slow", "server-1", "fast"}), std::invalid_argument);
  v1::Node server;
  server.set_id("server-1");
  server.set_kind(v1::Node::SERVER);
  // Out of range: refused as typed, and by the run when a peer sends it anyway.
  for (const auto& words : std::vector<std::vector<std::string>>{
           {"latency", "server-1", "lb", "1e300"}, {"loss", "server-1", "lb", "1.5"}, {"pause", "server-1", "-2"},
           {"pause", "server-1", "nan"}, {"slow", "server-1", "inf"}, {"step", "-1"}, {"step", "nan"}, {"burst", "c", "1e12"},
           {"burst", "c", "20000000"}, {"speed", "inf"}, {"step", "2.5"}}) {
    EXPECT_THROW(parse_control(words), std::invalid_argument) << words[0] << " " << words.back();
  }
  v1::ControlRequest crafted;
  crafted.set_node("server-1");
  crafted.mutable_fault()->set_pause_s(std::nan(""));
  EXPECT_NE(check_control(crafted, server), "");
  EXPECT_NE(control_problem(crafted), "");
  crafted.mutable_fault()->mutable_link()->set_to("lb");
  crafted.mutable_fault()->mutable_link()->mutable_latency()->set_mean_ms(-5);
  EXPECT_NE(check_control(crafted, server), "");
  crafted.Clear();
  crafted.set_speed(std::numeric_limits<double>::infinity());
  EXPECT_NE(control_problem(crafted), "");
  crafted.set_node("\xff\xfe");
  crafted.set_fail(true);
  EXPECT_NE(control_problem(crafted).find("not UTF-8"), std::string::npos) << control_problem(crafted);
  EXPECT_EQ(check_control(parse_control({"latency", "server-1", "lb", "5"}), server), "");
  EXPECT_THROW(parse_control({"partition", "lb", "server-2", "sideways"}), std::invalid_argument);
}

// Faults steered live are recorded as control frames and replay to the very same log.
TEST(Faults, SteeredFaultsReplayByteForByte) {
  test::TempPath steered(".ffl"), replay(".ffl");
  const std::vector<std::string> overrides{"stop.requests=300", "workload.rate=150"};
  RunOptions options;
  options.out_path = steered.str();
  options.live_chunks = true;
  auto at = [&](double s, std::vector<std::string> words) {
    options.scheduled_controls.emplace_back(from_seconds(s), parse_control(words));
  };
  at(0.2, {"crash", "server-2"});
  at(0.5, {"restart", "server-2"});
  at(0.3, {"pause", "server-1", "0.2"});
  at(0.4, {"partition", "lb", "server-3"});
  at(0.6, {"heal", "lb", "server-3"});
  at(0.7, {"loss", "lb", "server-1", "0.25"});
  at(0.8, {"latency", "lb", "server-1", "3"});
  at(0.9, {"slow", "server-3", "2"});
  std::stable_sort(options.scheduled_controls.begin(), options.scheduled_controls.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  test::run_scenario("load_balancing", overrides, options);
  options.out_path = replay.str();
  options.scheduled_controls = controls_from_log(steered.str());
  EXPECT_EQ(options.scheduled_controls.size(), 12u) << [&] {
    std::string notes;  // what the log holds, to see which change was not read back
    for (const auto& view : test::read_frames(steered.str()))
      if (view.frame.kind() == F::CONTROL) notes += std::to_string(view.time) + " " + view.frame.note() + "\n";
    for (auto& [t, r] : options.scheduled_controls) notes += "READ " + std::to_string(t) + " " + r.ShortDebugString() + "\n";
    return notes;
  }();  // a link change is one per direction
  test::run_scenario("load_balancing", overrides, options);
  EXPECT_TRUE(test::read_file(replay.str()) == test::read_file(steered.str()));
  std::size_t faults = 0;
  for (const auto& view : test::read_frames(steered.str()))
    if (view.frame.kind() == F::CONTROL && view.frame.outcome() == F::APPLIED) ++faults;
  EXPECT_GE(faults, 12u);
}

// The health checker (a kind added through the recipe in docs/ARCHITECTURE.md): probes with a
// deadline, thresholds, one-way notices, and background timers that do not keep the run alive.
TEST(HealthChecker, BalancerLearnsOfACrashFromProbesAndNotAtOnce) {
  test::TempPath log(".ffl");
  RunOptions options;
  options.out_path = log.str();
  const auto run = test::run_scenario("health_checks", {}, options);
  const auto frames = test::read_frames(log.str());
  const auto header = FrameLogReader(log.str()).header();
  NodeIndex lb = 0, server2 = 0, checker = 0;
  for (const auto& node : header.nodes()) {
    if (node.id() == "lb") lb = node.index();
    if (node.id() == "server-2") server2 = node.index();
    if (node.id() == "checker") checker = node.index();
  }
  Time down = 0, up = 0;
  std::size_t refused = 0, messages = 0;
  for (const auto& view : frames) {
    const auto& f = view.frame;
    if (f.kind() == F::MESSAGE) {
      ++messages;
      EXPECT_EQ(f.src(), checker);
      EXPECT_EQ(f.dst(), lb);
      EXPECT_EQ(f.outcome(), F::HEALTH_CHANGED);
      (down == 0 ? down : up) = view.time;
    }
    if (f.dst() == server2 && f.src() == lb && f.kind() == F::REQUEST) {
      if (f.outcome() == F::REFUSED) ++refused;
      // Between the notices the balancer sends server-2 nothing.
      EXPECT_FALSE(down && !up) << "request to server-2 at " << view.time;
    }
    EXPECT_FALSE(f.kind() == F::RESPONSE && f.src() == lb && f.dst() == checker);  // notices get no answer
  }
  EXPECT_EQ(messages, 4u);  // server-2 down and up, server-3 down and up
  // Two failed probes 500 ms apart after the crash at 1 s: about half a second of refused requests.
  EXPECT_GT(down, from_seconds(1.5));
  EXPECT_LT(down, from_seconds(1.51));
  EXPECT_GT(refused, 3u);
  EXPECT_EQ(run.summary["requests"]["by_status"]["503"], refused);
  // The checker probes for ever in the background, but the run ends with the workload.
  EXPECT_LT(frames.back().time, from_seconds(7.2));
}

TEST(HealthChecker, AGatewayWithProbedHealthTakesNoticesToo) {
  auto text = read_scenario("api_gateway").text;
  // Every pool server probed; the gateway learns only from the checker.
  text = text.substr(0, text.find("events {")) + R"(
nodes { id: "checker" kind: HEALTH_CHECKER health_checker { targets: "users-svc" notify: "gateway" } }
links { from: "checker" to: "users-svc" latency { mean_ms: 1 } }
links { from: "checker" to: "gateway" latency { mean_ms: 1 } }
events { at_s: 0.5 node: "users-svc-1" fault { crash: true } }
)";
  const auto r = record(text, {"gateway.probed_health=true", "stop.duration_s=2"});
  std::size_t notices = 0, ideal = 0;
  for (const auto& view : r.frames) {
    if (view.frame.kind() == F::MESSAGE && view.frame.outcome() == F::HEALTH_CHANGED) ++notices;
    if (view.frame.kind() == F::CONTROL && view.frame.note().rfind("health ", 0) == 0) ++ideal;
  }
  EXPECT_EQ(notices, 1u);  // users-svc-1 down
  EXPECT_EQ(ideal, 0u);
}

TEST(HealthChecker, BadNumbersAreNamedWithTheirPlace) {
  auto problems = [](const std::vector<std::string>& overrides) {
    try {
      load_scenario("health_checks", overrides);
      return std::string();
    } catch (const ScenarioError& error) {
      return std::string(error.what());
    }
  };
  EXPECT_NE(problems({"checker.interval_ms=0"}).find("health_checker.interval_ms"), std::string::npos);
  EXPECT_NE(problems({"checker.timeout_ms=1e300"}).find("health_checker.timeout_ms"), std::string::npos);
  EXPECT_NE(problems({"checker.timeout_ms=nan"}).find("field 'timeout_ms' expects a number"), std::string::npos);
  EXPECT_NE(problems({"lb.timeout_ms=-1"}).find("timeout_ms"), std::string::npos);
  EXPECT_NE(problems({"lb.timeout_ms=inf"}).find("timeout_ms"), std::string::npos);
  EXPECT_NE(problems({"checker.targets=nowhere"}).find("unknown node 'nowhere'"), std::string::npos);
  EXPECT_EQ(problems({"checker.interval_ms=250"}), "");
}

}  // namespace
}  // namespace flowframe
