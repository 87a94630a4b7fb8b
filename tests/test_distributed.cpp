// flowframe run --workers: a run's shards hosted by other processes give the very log and summary
// of a run in one process; a host that fails or lies stops the run with its name.
#include <gtest/gtest.h>

#include <cstring>

#include "runtime/base/version.hpp"
#include "runtime/engine/remote_shard.hpp"
#include "runtime/lab/workers.hpp"
#include "support.hpp"

namespace flowframe {
namespace {

// A host in this process, reached through serialized bytes as over the network; `tamper` may
// change what it answers.
class InProcessShard final : public RemoteShard {
 public:
  InProcessShard(std::string name, std::string text, std::vector<std::string> overrides,
                 std::function<void(v1::ShardWindowDone&)> tamper = {})
      : name_(std::move(name)), text_(std::move(text)), overrides_(std::move(overrides)), tamper_(std::move(tamper)) {}
  std::string where() const override { return "host " + name_; }
  v1::ShardOpened open(std::uint32_t shard, std::uint32_t shard_count, std::uint64_t seed, bool record, bool detailed) override {
    auto open = shard_open(name_, text_, overrides_);
    fill_open(open, shard, shard_count, seed, record, detailed);
    v1::ShardOpen received;
    received.ParseFromString(open.SerializeAsString());
    host_ = std::make_unique<ShardHost>(received, make_component);
    v1::ShardOpened opened;
    host_->started(opened);
    opened.set_ok(true);
    return through_bytes(opened);
  }
  void run(const v1::ShardWindow& window, v1::ShardWindowDone& done) override {
    v1::ShardWindowDone answer;
    host_->run(through_bytes(window), answer);
    if (tamper_) tamper_(answer);
    done = through_bytes(answer);
  }
  void states(v1::ShardStates& states) override {
    v1::ShardStates answer;
    host_->states(answer);
    if (tamper_states) tamper_states(answer);
    states = through_bytes(answer);
  }
  std::function<void(v1::ShardStates&)> tamper_states;

 private:
  template <class Message>
  static Message through_bytes(const Message& message) {
    Message copy;
    EXPECT_TRUE(copy.ParseFromString(message.SerializeAsString()));
    return copy;
  }
  std::string name_, text_;
  std::vector<std::string> overrides_;
  std::function<void(v1::ShardWindowDone&)> tamper_;
  std::unique_ptr<ShardHost> host_;
};

struct Outcome {
  std::string log;
  nlohmann::ordered_json summary;
};

// The summary less what depends on the machine and on how the run was spread.
nlohmann::ordered_json comparable(nlohmann::ordered_json summary) {
  for (const char* key : {"wall_s", "hops_per_s", "threads"}) summary.erase(key);
  return summary;
}

Outcome run_with(const std::string& scenario, const std::vector<std::string>& overrides,
                 std::vector<std::shared_ptr<RemoteShard>> remote, unsigned shards = 0) {
  test::TempPath log(".ffl");
  RunOptions options;
  options.out_path = log.str();
  options.chunk_frames = 300;  // many chunks, so many keyframes gathered from the hosts
  options.threads = 2;
  options.shards = shards;
  options.remote_shards = std::move(remote);
  auto run = test::run_scenario(scenario, overrides, options);
  return {test::read_file(log.str()), comparable(run.summary)};
}

std::vector<std::shared_ptr<RemoteShard>> in_process(const std::string& scenario, const std::vector<std::string>& overrides,
                                                     unsigned count, std::function<void(v1::ShardWindowDone&)> tamper = {}) {
  const auto source = read_scenario(scenario);
  std::vector<std::shared_ptr<RemoteShard>> shards;
  for (unsigned i = 0; i < count; ++i)
    shards.push_back(std::make_shared<InProcessShard>(source.name, source.text, overrides, i == 0 ? tamper : nullptr));
  return shards;
}

TEST(Distributed, HostedShardsGiveTheSameLogAndSummaryOnEveryBuiltin) {
  for (const auto& builtin : builtin_scenarios()) {
    const auto& scenario = builtin.name;
    const std::vector<std::string> overrides{"stop.requests=150"};
    const auto local = run_with(scenario, overrides, {}, 3);
    const auto hosted = run_with(scenario, overrides, in_process(scenario, overrides, 2));
    EXPECT_GT(local.log.size(), 1000u) << scenario;
    EXPECT_TRUE(hosted.log == local.log) << scenario << ": the logs differ";
    EXPECT_EQ(hosted.summary.dump(1), local.summary.dump(1)) << scenario;
    EXPECT_EQ(hosted.summary["shards"], 3) << scenario;
  }
}

TEST(Distributed, RunOnWorkersOverTheNetworkMatchesOneProcess) {
  WorkerServer first("127.0.0.1:0", false, 1, make_component);
  WorkerServer second("127.0.0.1:0", false, 1, make_component);
  WorkerPool pool({first.address(), second.address()});
  const std::string scenario = "load_balancing_failover";
  const std::vector<std::string> overrides{"stop.requests=400"};
  const auto source = read_scenario(scenario);
  const auto local = run_with(scenario, overrides, {}, 3);
  const auto spread = run_with(scenario, overrides, pool.shards(source.name, source.text, overrides));
  EXPECT_TRUE(spread.log == local.log) << "the logs differ";
  EXPECT_EQ(spread.summary.dump(1), local.summary.dump(1));
}

void expect_run_stops(const std::vector<std::shared_ptr<RemoteShard>>& remote, const std::string& expected) {
  try {
    run_with("load_balancing", {"stop.requests=200"}, remote);
    ADD_FAILURE() << "the run went on; expected: " << expected;
  } catch (const std::exception& error) {
    EXPECT_NE(std::string(error.what()).find(expected), std::string::npos) << error.what();
  }
}

TEST(Distributed, AHostThatSendsWhatItCouldNotHaveDoneStopsTheRunWithItsName) {
  const std::vector<std::string> overrides{"stop.requests=200"};
  expect_run_stops(in_process("load_balancing", overrides, 2, [](v1::ShardWindowDone& done) {
                     if (done.frames().size() < sizeof(FrameRecord)) return;
                     FrameRecord frame;
                     std::memcpy(static_cast<void*>(&frame), done.frames().data(), sizeof frame);
                     frame.note_offset = 1u << 30;
                     done.mutable_frames()->replace(0, sizeof frame, reinterpret_cast<const char*>(&frame), sizeof frame);
                   }),
                   "host load_balancing.textproto sent a frame pointing past its notes");
  expect_run_stops(in_process("load_balancing", overrides, 2, [](v1::ShardWindowDone& done) {
                     done.add_mail()->set_dst(1u << 20);
                   }),
                   "host load_balancing.textproto sent an event between nodes that do not exist");
  expect_run_stops(in_process("load_balancing", overrides, 2, [](v1::ShardWindowDone& done) {
                     if (!done.frames().empty()) done.mutable_frames()->pop_back();
                   }),
                   "sent frames cut short");
  expect_run_stops(in_process("load_balancing", overrides, 2, [](v1::ShardWindowDone& done) { done.set_error("it broke"); }),
                   "host load_balancing.textproto: it broke");
  // What would make the run go back in time, or loop on a window, or reach a timer or control
  // event of a node through the run.
  expect_run_stops(in_process("load_balancing", overrides, 2, [](v1::ShardWindowDone& done) { done.set_next_time(0); }),
                   "has events left in a window that has run");
  expect_run_stops(in_process("load_balancing", overrides, 2,
                              [](v1::ShardWindowDone& done) {
                                for (auto& mail : *done.mutable_mail()) mail.set_deliver(0);
                              }),
                   "sent mail into a window that has run");
  expect_run_stops(in_process("load_balancing", overrides, 2,
                              [](v1::ShardWindowDone& done) {
                                for (auto& mail : *done.mutable_mail()) mail.set_kind(v1::Frame::CONTROL);
                              }),
                   "sent an event of a kind that does not go between nodes");
  // States for a keyframe or the summary that are not exactly the host's nodes.
  for (const auto& [change, expected] : std::vector<std::pair<std::function<void(v1::ShardStates&)>, std::string>>{
           {[](v1::ShardStates& states) { states.mutable_nodes()->RemoveLast(); }, "no state for node"},
           {[](v1::ShardStates& states) { *states.add_nodes() = states.nodes(0); }, "which it does not host (or twice)"}}) {
    auto hosted = in_process("load_balancing", overrides, 1);
    static_cast<InProcessShard&>(*hosted[0]).tamper_states = change;
    expect_run_stops(hosted, expected);
  }
}

TEST(Distributed, WhatCannotBeSpreadIsRefusedWithTheReason) {
  const std::vector<std::string> overrides{"stop.requests=50"};
  // More shards than nodes.
  try {
    run_with("cache_aside", overrides, in_process("cache_aside", overrides, 12));
    ADD_FAILURE() << "12 hosted shards for a few nodes";
  } catch (const std::invalid_argument& error) {
    EXPECT_NE(std::string(error.what()).find("more than the scenario's"), std::string::npos) << error.what();
  }
  // Serving steers a run from one process.
  RunOptions options;
  options.serve = "127.0.0.1:0";
  options.out_path = test::TempPath(".ffl").str();
  options.remote_shards = in_process("load_balancing", overrides, 1);
  EXPECT_THROW(test::run_scenario("load_balancing", overrides, options), std::invalid_argument);
  // A scenario the worker cannot load: its reason, with file and line.
  WorkerServer worker("127.0.0.1:0", false, 1, make_component);
  WorkerPool pool({worker.address()});
  auto shards = pool.shards("typo.textproto", "name: \"x\"\nnodes { id: \"a\" kind: CLIENTT }\n", {});
  try {
    shards[0]->open(1, 2, 1, true, true);
    ADD_FAILURE() << "a scenario with a typo was opened";
  } catch (const std::runtime_error& error) {
    EXPECT_NE(std::string(error.what()).find("refused the run: typo.textproto:2"), std::string::npos) << error.what();
  }
}

TEST(Distributed, AWorkerKilledMidRunStopsTheRunWithItsName) {
  test::WorkerProcess worker;
  ASSERT_FALSE(worker.address().empty());
  const auto& address = worker.address();
  WorkerPool pool({address});
  const auto source = read_scenario("load_balancing");
  RunOptions options;
  options.remote_shards = pool.shards(source.name, source.text, {"stop.requests=10000000"});
  bool killed = false;
  options.progress = [&](const Progress&) {
    if (!killed) worker.kill_now();
    killed = true;
  };
  try {
    test::run_scenario("load_balancing", {"stop.requests=10000000"}, options);
    ADD_FAILURE() << "the run finished without its worker";
  } catch (const std::exception& error) {
    // The connection or the host's actor may be noticed gone first.
    const std::string what = error.what();
    EXPECT_TRUE(what.find("worker " + address + " stopped answering") != std::string::npos ||
                what.find("worker " + address + " lost the run's shard") != std::string::npos)
        << what;
  }
  EXPECT_TRUE(killed);
}

}  // namespace
}  // namespace flowframe
