// Cache, gateway and valet-key components: exact behaviour in logical time.
#include <gtest/gtest.h>

#include <map>

#include "actors/common/routing.hpp"
#include "actors/common/upload_token.hpp"
#include "runtime/live/live.hpp"
#include "runtime/learn/page.hpp"
#include "runtime/framelog/frame_text.hpp"
#include "support.hpp"

namespace flowframe {
namespace {

constexpr Time kOpTime = 1;  // the test cache's operation time, ns

// A client stand-in that sends cache commands at exact times and records every answer.
class Probe final : public Component {
 public:
  struct Command {
    double at_s;
    v1::Payload::Op op;
    std::string key;
    std::string value = {};
    double ttl_s = 0;
  };
  struct Answer {
    Time at;  // when the command reached the cache
    std::uint16_t status;
    std::string value;
  };
  static inline std::vector<Command> commands;

  Probe(const v1::Node& spec, NodeIndex index, const Topology& topology)
      : Component(spec, index, topology.seed()), cache_(topology.index_of("cache")) {}

  void start(Context& context) override {
    for (std::size_t i = 0; i < commands.size(); ++i) {
      Event tick;
      tick.kind = EventKind::timer;
      tick.silent = true;
      tick.arg = static_cast<std::int64_t>(i);
      context.schedule(from_seconds(commands[i].at_s), tick);
    }
  }
  void handle(const Event& event, Context& context) override {
    if (event.kind == EventKind::timer) {
      const auto& command = commands[static_cast<std::size_t>(event.arg)];
      auto payload = std::make_shared<v1::Payload>();
      payload->set_op(command.op);
      payload->set_key(command.key);
      payload->set_value(command.value);
      payload->set_ttl_ns(from_seconds(command.ttl_s));
      Event request;
      request.client = index();
      request.request = static_cast<std::uint64_t>(event.arg) + 1;
      context.call(cache_, sub_request(request, event.arg, std::move(payload)));
      return;
    }
    answers.resize(commands.size());
    answers[static_cast<std::size_t>(event.arg)] = {event.sent - kOpTime, event.status,
                                                     event.payload ? event.payload->value() : ""};
  }
  std::string apply(ControlAction&, Context&) override { return "no"; }
  void snapshot(v1::NodeState&) const override {}

  std::vector<Answer> answers;

 private:
  NodeIndex cache_;
};

// Runs a probe against one cache. Links take 1 ms; cache operations take no time.
struct CacheRun {
  std::unique_ptr<Simulation> simulation;
  std::vector<FrameView> frames;
  const std::vector<Probe::Answer>& answers() {
    return dynamic_cast<Probe&>(simulation->topology().component(1)).answers;
  }
  v1::CacheState state() {
    v1::NodeState node;
    simulation->topology().component(2).snapshot(node);
    return node.cache();
  }
};

CacheRun run_cache(std::vector<Probe::Command> commands, const std::string& cache_params) {
  Probe::commands = std::move(commands);
  const auto scenario = parse_scenario(R"(
    nodes { id: "probe" kind: CLIENT }
    nodes { id: "cache" kind: CACHE cache { op_time { mean_ms: 0.000001 } )" + cache_params + R"( } }
    links { from: "probe" to: "cache" latency { mean_ms: 1 } }
    workload { clients: "probe" rate: 0 script { at_s: 0 } }
  )", "cache_test");
  test::TempPath log(".ffl");
  RunOptions options;
  options.out_path = log.str();
  CacheRun run;
  run.simulation = std::make_unique<Simulation>(scenario, options, [](const v1::Node& spec, NodeIndex i, const Topology& t) {
    return spec.kind() == v1::Node::CLIENT ? std::make_unique<Probe>(spec, i, t) : make_component(spec, i, t);
  });
  run.simulation->run();
  run.frames = test::read_frames(log.str());
  return run;
}

constexpr double kLink = 0.001;

TEST(Cache, TtlExpiresExactlyAtItsLogicalTime) {
  // SET reaches the cache at 1.001 s with a 2 s TTL: the key lives until 3.001 s, exclusive.
  auto run = run_cache({{1.0, v1::Payload::SET, "k", "v", 2.0},
                        {3.0 - 1e-9, v1::Payload::GET, "k"},  // arrives 1 ns before expiry
                        {3.0, v1::Payload::GET, "k"}},         // arrives exactly at expiry
                       "sweep_interval_ms: 100000");
  const auto& answers = run.answers();
  ASSERT_EQ(answers.size(), 3u);
  EXPECT_EQ(answers[1].status, 200);
  EXPECT_EQ(answers[1].value, "v");
  EXPECT_EQ(answers[1].at, from_seconds(3.0 + kLink) - 1);
  EXPECT_EQ(answers[2].status, 404);  // lazy expiry: gone the moment it is read
  EXPECT_EQ(answers[2].at, from_seconds(3.0 + kLink));
  const auto state = run.state();
  EXPECT_EQ(state.hits(), 1u);
  EXPECT_EQ(state.misses(), 1u);
  EXPECT_EQ(state.expirations(), 1u);
  EXPECT_EQ(state.keys_size(), 0);
}

TEST(Cache, ActiveSweepRemovesExpiredKeysAtTheSweepTime) {
  // Keys expire at 0.501 s and 0.801 s; sweeps run at most every second.
  auto run = run_cache({{0.0, v1::Payload::SET, "a", "1", 0.5},
                        {0.3, v1::Payload::SET, "b", "2", 0.5},
                        {0.0, v1::Payload::SET, "forever", "3", 0}},
                       "sweep_interval_ms: 1000");
  std::vector<std::pair<Time, std::string>> sweeps;
  for (const auto& view : run.frames)
    if (view.frame.kind() == v1::Frame::TIMER && view.frame.dst() == 2) sweeps.emplace_back(view.time, view.frame.note());
  ASSERT_EQ(sweeps.size(), 1u);
  EXPECT_EQ(sweeps[0].first, from_seconds(1.0));  // max(first expiry, last sweep + interval)
  EXPECT_EQ(sweeps[0].second, "EXPIRED a, b (active sweep)");
  const auto state = run.state();
  EXPECT_EQ(state.expirations(), 2u);
  ASSERT_EQ(state.keys_size(), 1);
  EXPECT_EQ(state.keys(0).key(), "forever");
}

TEST(Cache, EvictsLeastRecentlyUsed) {
  auto run = run_cache({{0.1, v1::Payload::SET, "a", "1"},
                        {0.2, v1::Payload::SET, "b", "2"},
                        {0.3, v1::Payload::GET, "a"},  // a is now more recent than b
                        {0.4, v1::Payload::SET, "c", "3"},
                        {0.5, v1::Payload::GET, "b"},
                        {0.6, v1::Payload::GET, "a"},
                        {0.7, v1::Payload::DEL, "c"},
                        {0.8, v1::Payload::DEL, "c"}},
                       "max_entries: 2");
  const auto& answers = run.answers();
  EXPECT_EQ(answers[4].status, 404);  // b was evicted
  EXPECT_EQ(answers[5].status, 200);
  EXPECT_EQ(answers[6].status, 200);
  EXPECT_EQ(answers[7].status, 404);
  bool noted = false;
  for (const auto& view : run.frames) noted |= view.frame.note() == "SET c; evicted b (least recently used)";
  EXPECT_TRUE(noted);
  const auto state = run.state();
  EXPECT_EQ(state.evictions(), 1u);
  EXPECT_EQ(state.hits(), 2u);
  EXPECT_EQ(state.misses(), 1u);
  ASSERT_EQ(state.keys_size(), 1);
  EXPECT_EQ(state.keys(0).key(), "a");
}

// The cache-aside pattern's hops are pinned by tests/golden/cache_aside.txt; here its outcomes.
TEST(CacheAside, HitMissNotFoundInvalidateAndExpiry) {
  test::TempPath log(".ffl");
  RunOptions options;
  options.out_path = log.str();
  auto run = test::run_scenario("cache_aside", {}, options);
  std::vector<std::string> cache_outcomes;
  for (const auto& view : test::read_frames(log.str()))
    if (view.frame.dst() == run.simulation->topology().index_of("cache") && view.frame.kind() != v1::Frame::RESPONSE)
      cache_outcomes.push_back(v1::Frame::Outcome_Name(view.frame.outcome()));
  EXPECT_EQ(cache_outcomes,
            (std::vector<std::string>{"CACHE_HIT", "CACHE_MISS", "CACHE_SET", "CACHE_MISS", "CACHE_HIT",
                                      "CACHE_DELETED", "CACHE_MISS", "CACHE_SET", "EXPIRED", "CACHE_MISS", "CACHE_SET",
                                      "CACHE_MISS", "CACHE_SET", "NONE", "EXPIRED", "EXPIRED"}));
  EXPECT_EQ(run.summary["requests"]["by_status"]["404"].get<int>(), 1);
  EXPECT_EQ(run.summary["requests"]["by_status"]["200"].get<int>(), 7);
}

TEST(CacheAside, ZipfLoadShowsAHitRatio) {
  auto run = test::run_scenario("cache_aside", {"workload.rate=400", "stop.requests=4000"});
  const double hit_ratio = run.summary["nodes"]["cache"]["hit_ratio"].get<double>();
  EXPECT_GT(hit_ratio, 0.4);  // Zipf(1.1) over 1000 ids: the head is hot
  EXPECT_LT(hit_ratio, 0.95);
}

const std::string kGateway = R"(name: "gw"
nodes { id: "c" kind: CLIENT }
nodes { id: "gw" kind: API_GATEWAY api_gateway {
  routes { prefix: "/api" pool: "general" }
  routes { prefix: "/api/users" pool: "users" }
  pools { name: "general" servers: "general-svc" }
  pools { name: "users" servers: "users-svc" }
  %LIMIT%
} }
nodes { id: "general-svc" kind: SERVER server { capacity: 1000 service_time { mean_ms: 1 } } }
nodes { id: "users-svc" kind: SERVER server { capacity: 1000 service_time { mean_ms: 1 } } }
links { from: "c" to: "gw" latency { mean_ms: 1 } }
links { from: "gw" to: "general-svc" latency { mean_ms: 1 } }
links { from: "gw" to: "users-svc" latency { mean_ms: 1 } }
%WORKLOAD%
)";

std::string gateway(const std::string& limit, const std::string& workload) {
  auto text = kGateway;
  text.replace(text.find("%LIMIT%"), 7, limit);
  text.replace(text.find("%WORKLOAD%"), 10, workload);
  return text;
}

TEST(Gateway, LongestPrefixWinsAndNoRouteIs404) {
  test::TempPath scenario(".textproto"), log(".ffl");
  test::write_file(scenario.str(), gateway("", R"(workload { clients: "c" rate: 0
    script { at_s: 0.1 path: "/api/users/{id}" id: 1 }
    script { at_s: 0.2 path: "/api/orders" }
    script { at_s: 0.3 path: "/apix" }
    script { at_s: 0.4 path: "/other" } })"));
  RunOptions options;
  options.out_path = log.str();
  auto run = test::run_scenario(scenario.str(), {}, options);
  const auto& topology = run.simulation->topology();
  std::map<std::uint64_t, std::string> routed;
  for (const auto& view : test::read_frames(log.str())) {
    if (view.frame.kind() != v1::Frame::REQUEST || view.frame.dst() != topology.index_of("gw")) continue;
    routed[view.frame.request()] = view.frame.chosen() ? topology.spec(view.frame.chosen() - 1).id()
                                                        : v1::Frame::Outcome_Name(view.frame.outcome());
  }
  EXPECT_EQ(routed, (std::map<std::uint64_t, std::string>{
                        {1, "users-svc"}, {2, "general-svc"}, {3, "general-svc"}, {4, "NO_ROUTE"}}));
  EXPECT_EQ(run.summary["requests"]["by_status"]["404"].get<int>(), 1);
}

// A bucket of burst 5 refilled at 10/s, flooded at 1000 requests/s: by any time t after the
// first request at t0 it has admitted at most 5 + 10 (t - t0), and over the run exactly that.
TEST(Gateway, TokenBucketAdmitsExactlyBurstPlusRateTimesTime) {
  test::TempPath scenario(".textproto"), log(".ffl");
  test::write_file(scenario.str(), gateway("per_client { rate: 10 burst: 5 }",
                                           R"(workload { clients: "c" arrival: STEADY rate: 1000
                                              paths { path: "/api/users/{id}" weight: 1 } } stop { duration_s: 2 })"));
  RunOptions options;
  options.out_path = log.str();
  auto run = test::run_scenario(scenario.str(), {}, options);
  const NodeIndex gw = run.simulation->topology().index_of("gw");
  Time first = -1, last = 0;
  std::uint64_t admitted = 0, limited = 0;
  for (const auto& view : test::read_frames(log.str())) {
    if (view.frame.kind() != v1::Frame::REQUEST || view.frame.dst() != gw) continue;
    if (first < 0) first = view.time;
    last = view.time;
    if (view.frame.outcome() == v1::Frame::RATE_LIMITED) {
      ++limited;
      continue;
    }
    ++admitted;
    const double allowed = 5 + 10 * to_seconds(view.time - first);
    EXPECT_LE(static_cast<double>(admitted), allowed + 1e-9) << "at " << to_seconds(view.time);
  }
  EXPECT_EQ(admitted, 5 + static_cast<std::uint64_t>(10 * to_seconds(last - first)));
  EXPECT_EQ(admitted + limited, 2000u);
  EXPECT_EQ(run.summary["requests"]["by_status"]["429"].get<std::uint64_t>(), limited);
}

TEST(Gateway, ScenarioShows404And429And503AndRecovers) {
  test::TempPath log(".ffl");
  RunOptions options;
  options.out_path = log.str();
  auto run = test::run_scenario("api_gateway", {}, options);
  const auto& by_status = run.summary["requests"]["by_status"];
  EXPECT_GE(by_status.value("404", 0), 1);
  EXPECT_GE(by_status.value("503", 0), 1);
  // 503s only while the orders pool is down; orders served again after 3 s.
  bool orders_after = false;
  const auto& topology = run.simulation->topology();
  int burst_limited = 0, burst_admitted = 0;
  for (const auto& view : test::read_frames(log.str())) {
    // client-1's scripted burst of 8 at 1.00-1.07 s against a full bucket of 4.
    if (view.frame.kind() == v1::Frame::REQUEST && view.frame.dst() == topology.index_of("gateway") &&
        view.frame.client() == topology.index_of("client-1") && view.time > from_seconds(1) &&
        view.time < from_seconds(1.1)) {
      if (view.frame.outcome() == v1::Frame::RATE_LIMITED) ++burst_limited;
      else ++burst_admitted;
    }
    if (view.frame.outcome() == v1::Frame::POOL_EMPTY) {
      EXPECT_GE(view.time, from_seconds(2));
      EXPECT_LT(view.time, from_seconds(3));
    }
    if (view.frame.outcome() == v1::Frame::FORWARDED && view.frame.kind() == v1::Frame::REQUEST && view.time > from_seconds(3) &&
        view.frame.chosen() && topology.spec(view.frame.chosen() - 1).group() == "orders-svc")
      orders_after = true;
  }
  EXPECT_TRUE(orders_after);
  EXPECT_LE(burst_admitted, 4);  // the bucket holds 4 and refills 0.14 tokens during the burst
  EXPECT_GE(burst_limited, 4);
}

TEST(Valet, SignatureIsHmacSha256) {
  v1::UploadToken token;
  token.set_bucket("uploads");
  token.set_key("cat.png");
  token.set_permission("write");
  token.set_expires_ns(1000);
  // printf '7:uploads7:cat.png5:write4:1000' | openssl dgst -sha256 -hmac secret
  EXPECT_EQ(token_signature(token, "secret"), "8f62d26947e550f9d674f43a4a039478eeb50ed54028b3b0ec5aff8f0b24b619");
  EXPECT_NE(token_signature(token, "other"), token_signature(token, "secret"));
  token.set_signature(token_signature(token, "secret"));
  EXPECT_TRUE(token_verifies(token, "secret"));
  EXPECT_FALSE(token_verifies(token, "other"));
  // Fields are signed with their lengths: moving a newline from the key into the bucket is a new token.
  v1::UploadToken shifted = token, moved = token;
  shifted.set_bucket("uploads");
  shifted.set_key("x\ny");
  moved.set_bucket("uploads\nx");
  moved.set_key("y");
  EXPECT_NE(token_signature(shifted, "secret"), token_signature(moved, "secret"));
  moved.set_signature(token_signature(shifted, "secret"));
  EXPECT_FALSE(token_verifies(moved, "secret"));
  moved.set_signature(moved.signature().substr(0, 10));  // a prefix of the right one is not enough
  EXPECT_FALSE(token_verifies(moved, "secret"));
}

TEST(Valet, GoodUploadAcceptedMisusesRejectedWithTheirReasonAppNeverSeesBytes) {
  test::TempPath log(".ffl");
  RunOptions options;
  options.out_path = log.str();
  auto run = test::run_scenario("valet_key", {}, options);
  const auto& topology = run.simulation->topology();
  const NodeIndex app = topology.index_of("app"), storage = topology.index_of("storage");
  std::map<std::uint64_t, std::string> verdict, method;  // by request number
  const auto header = run.simulation->header();
  FrameText text(header);
  for (const auto& view : test::read_frames(log.str())) {
    const auto& f = view.frame;
    // Storage creates the object: 201, as S3-like APIs answer a PUT.
    if (f.kind() == v1::Frame::RESPONSE && f.src() == storage && f.request() == 1) {
      EXPECT_EQ(f.status(), 201u);
    }
    if (f.kind() != v1::Frame::REQUEST) continue;
    if (f.dst() == storage) method[f.request()] = text.path(f);
    if (f.dst() == app) {
      EXPECT_EQ(f.outcome(), v1::Frame::TOKEN_ISSUED);  // the app only issues tokens
    }
    if (f.dst() == storage) {
      EXPECT_EQ(f.src(), topology.index_of("client"));  // bytes go straight from the client
      verdict[f.request()] = v1::Frame::Outcome_Name(f.outcome());
    }
  }
  EXPECT_EQ(verdict, (std::map<std::uint64_t, std::string>{{1, "STORED"},
                                                            {2, "TOKEN_EXPIRED"},
                                                            {3, "TOKEN_BAD_SIGNATURE"},
                                                            {4, "TOKEN_WRONG_KEY"},
                                                            {5, "TOKEN_WRONG_PERMISSION"}}));
  // The token is asked for with POST; the bytes go with PUT, and the misuse that reads, with GET.
  EXPECT_EQ(method, (std::map<std::uint64_t, std::string>{{1, "PUT /uploads"}, {2, "PUT /uploads"}, {3, "PUT /uploads"},
                                                           {4, "PUT /uploads"}, {5, "GET /uploads"}}));
  v1::NodeState state;
  topology.component(storage).snapshot(state);
  ASSERT_EQ(state.object_storage().objects_size(), 1);
  EXPECT_EQ(state.object_storage().objects(0).key(), "cat.png");
  EXPECT_EQ(state.object_storage().objects(0).size(), 2100000u);
  EXPECT_EQ(state.object_storage().rejected(), 4u);
}

// The Learn page's "tamper with a token" and "upload" actions: a live control starts a fresh
// valet flow at its logical time, and storage judges it like the scripted ones.
TEST(Valet, LiveUploadControlsStartFreshFlows) {
  test::TempPath log(".ffl");
  RunOptions options;
  options.out_path = log.str();
  for (auto [at_s, misuse] : {std::pair{5.0, "tampered"}, std::pair{6.0, "NONE"}}) {
    v1::ControlRequest upload;
    upload.set_node("client");
    upload.set_upload(misuse);
    options.scheduled_controls.emplace_back(from_seconds(at_s), upload);
  }
  auto run = test::run_scenario("valet_key", {}, options);
  const auto& topology = run.simulation->topology();
  const NodeIndex storage = topology.index_of("storage");
  std::map<std::uint64_t, std::string> verdict;
  Time first_live_upload = 0;
  for (const auto& view : test::read_frames(log.str())) {
    const auto& f = view.frame;
    if (f.kind() == v1::Frame::REQUEST && f.dst() == storage && f.request() > 5) {
      verdict[f.request()] = v1::Frame::Outcome_Name(f.outcome());
      if (!first_live_upload) first_live_upload = view.time;
    }
  }
  EXPECT_EQ(verdict, (std::map<std::uint64_t, std::string>{{6, "TOKEN_BAD_SIGNATURE"}, {7, "STORED"}}));
  EXPECT_GT(first_live_upload, from_seconds(5.0));
  v1::NodeState state;
  topology.component(storage).snapshot(state);
  ASSERT_EQ(state.object_storage().objects_size(), 2);
  EXPECT_EQ(state.object_storage().objects(1).key(), "live-2.png");
}

TEST(Valet, UploadControlsAreCheckedBeforeTheyRun) {
  EXPECT_EQ(valet_misuse("Tampered").first, v1::ValetUpload::TAMPERED);
  EXPECT_EQ(valet_misuse("sideways").second,
            "unknown misuse 'sideways': none, after_expiry, tampered, other_key, read_with_write_token");
  EXPECT_EQ(parse_control({"upload", "client", "tampered"}).upload(), "tampered");
  EXPECT_THROW(parse_control({"upload", "client"}), std::invalid_argument);
  const auto scenario = load_scenario("load_balancing");
  const auto problems = check_page(parse_page("# P\n\n[try: Upload | upload client-1 tampered]\n"), "p.page", scenario);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0].find("needs a valet-key flow"), std::string::npos) << problems[0];
}

}  // namespace
}  // namespace flowframe

namespace flowframe {
namespace {

// Rate limits and cache TTLs change during a run (timed events here; live control uses the same path).
TEST(Gateway, RateLimitAndCacheTtlChangeDuringARun) {
  test::TempPath gateway_log(".ffl");
  RunOptions options;
  options.out_path = gateway_log.str();
  test::TempPath scenario(".textproto");
  test::write_file(scenario.str(), test::read_file(std::string(FLOWFRAME_SOURCE_DIR) + "/scenarios/api_gateway.textproto") +
                                       "events { at_s: 0.5 node: \"gateway\" set { field: \"per_client.burst\" value: \"20\" } }\n"
                                       "events { at_s: 0.5 node: \"gateway\" set { field: \"per_client.rate\" value: \"100\" } }\n");
  auto run = test::run_scenario(scenario.str(), {}, options);
  int applied = 0;
  for (const auto& view : test::read_frames(gateway_log.str()))
    if (view.frame.kind() == v1::Frame::CONTROL && view.frame.note() == "per_client.burst=20") {
      EXPECT_EQ(view.frame.outcome(), v1::Frame::APPLIED);
      EXPECT_EQ(view.frame.previous(), "4");
      ++applied;
    }
  EXPECT_EQ(applied, 1);
  // Refilled at 100/s up to 20, the scripted burst of 8 at 1 s is not limited any more.
  EXPECT_EQ(run.summary["requests"]["by_status"].value("429", 0), 0);

  test::TempPath cache_log(".ffl");
  options.out_path = cache_log.str();
  test::TempPath cache_scenario(".textproto");
  test::write_file(cache_scenario.str(), test::read_file(std::string(FLOWFRAME_SOURCE_DIR) + "/scenarios/cache_aside.textproto") +
                                             "events { at_s: 0.15 node: \"app\" set { field: \"cache_aside.ttl_s\" value: \"60\" } }\n");
  test::run_scenario(cache_scenario.str(), {}, options);
  bool long_ttl = false;
  for (const auto& view : test::read_frames(cache_log.str())) long_ttl |= view.frame.note() == "SET user:7 (ttl 60.0s)";
  EXPECT_TRUE(long_ttl);
}

}  // namespace
}  // namespace flowframe
