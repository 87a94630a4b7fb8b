#include "runtime/lab/workers.hpp"

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include <algorithm>
#include <future>
#include <thread>

#include "runtime/base/limits.hpp"
#include "runtime/base/version.hpp"
#include "runtime/engine/remote_shard.hpp"
#include "runtime/engine/simulation.hpp"
#include "runtime/lab/summary.hpp"
#include "runtime/live/live.hpp"
#include "runtime/live/network_errors.hpp"
#include "runtime/scenario/scenario.hpp"

namespace flowframe {
namespace {

using hello_atom = caf::atom_constant<caf::atom("hello")>;
using point_atom = caf::atom_constant<caf::atom("point")>;
using open_atom = caf::atom_constant<caf::atom("open")>;
using window_atom = caf::atom_constant<caf::atom("window")>;
using states_atom = caf::atom_constant<caf::atom("states")>;
using close_atom = caf::atom_constant<caf::atom("close")>;


std::string refusal(const std::string& why) {
  v1::PointDone done;
  done.set_error(why);
  return done.SerializeAsString();
}

// Runs one point on a thread of its own (CAF's `detached`), so a worker runs several at once.
caf::behavior point_runner(caf::event_based_actor* self, ComponentFactory factory) {
  return {[=](point_atom, const std::string& bytes) -> std::string {
    self->quit();
    v1::PointRun run;
    if (!run.ParseFromString(bytes)) return refusal("not a run request");
    if (run.flowframe_version() != kFlowFrameVersion)
      return refusal("this worker runs FlowFrame " + std::string(kFlowFrameVersion) + ", the run is for " +
                     run.flowframe_version());
    v1::PointDone done;
    try {
      done.set_summary_json(run_point(run, factory));
      done.set_ok(true);
    } catch (const std::exception& error) {
      done.set_error(error.what());
    }
    return done.SerializeAsString();
  }};
}

// One shard of a run hosted here (flowframe run --workers), on a thread of its own; the run talks
// to it directly once it is open. It ends when the run closes it, when the run's `owner` actor goes
// away (the run's process ended or lost its connection), or with the worker. It answers every
// request, a failure with its reason: nothing it does can take the worker down.
caf::behavior shard_host_actor(caf::event_based_actor* self, ComponentFactory factory, caf::actor owner,
                               caf::actor worker) {
  auto host = std::make_shared<std::unique_ptr<ShardHost>>();
  self->monitor(owner);
  self->monitor(worker);
  self->set_down_handler([=](caf::down_msg&) { self->quit(); });
  // What a handler may still throw (memory, a component's snapshot) ends this shard alone.
  auto answer = [](auto message, auto&& work) {
    try {
      work(message);
    } catch (const std::exception& error) {
      message.Clear();
      message.set_error(std::string("the shard failed: ") + error.what());
    }
    return message.SerializeAsString();
  };
  return {
      [=](open_atom, const std::string& bytes) -> std::string {
        v1::ShardOpen open;
        v1::ShardOpened opened;
        if (!open.ParseFromString(bytes)) opened.set_error("not a shard request");
        else if (open.flowframe_version() != kFlowFrameVersion)
          opened.set_error("this worker runs FlowFrame " + std::string(kFlowFrameVersion) + ", the run is " +
                           open.flowframe_version());
        else
          try {
            *host = std::make_unique<ShardHost>(open, factory);
            (*host)->started(opened);
            opened.set_ok(true);
          } catch (const std::exception& error) {
            opened.set_error(error.what());
          }
        return opened.SerializeAsString();
      },
      [=](window_atom, const std::string& bytes) -> std::string {
        return answer(v1::ShardWindowDone(), [&](v1::ShardWindowDone& done) {
          v1::ShardWindow window;
          if (!*host) done.set_error("no shard is open");
          else if (!window.ParseFromString(bytes)) done.set_error("not a window");
          else (*host)->run(window, done);
        });
      },
      [=](states_atom) -> std::string {
        return answer(v1::ShardStates(), [&](v1::ShardStates& states) {
          if (!*host) states.set_error("no shard is open");
          else (*host)->states(states);
        });
      },
      [=](close_atom) { self->quit(); },
  };
}

struct WorkerState {
  unsigned running = 0;
  unsigned hosting = 0;  // shards of runs (each a whole topology in memory)
};

caf::behavior worker_actor(caf::stateful_actor<WorkerState>* self, ComponentFactory factory, unsigned jobs,
                           std::shared_ptr<std::atomic<std::uint64_t>> served) {
  self->set_down_handler([=](caf::down_msg&) { --self->state.hosting; });  // only hosts are monitored
  return {
      [=](hello_atom, const std::string& bytes) -> std::string {
        v1::WorkerHello hello;
        v1::WorkerWelcome welcome;
        welcome.set_flowframe_version(kFlowFrameVersion);
        welcome.set_cores(jobs);
        if (!hello.ParseFromString(bytes)) welcome.set_error("not a FlowFrame hello");
        else if (hello.protocol() != kWorkerProtocol)
          welcome.set_error("worker protocol " + std::to_string(hello.protocol()) + " asked, this worker speaks " +
                            std::to_string(kWorkerProtocol));
        else if (hello.flowframe_version() != kFlowFrameVersion)
          welcome.set_error("this worker runs FlowFrame " + std::string(kFlowFrameVersion) + ", the bench is " +
                            hello.flowframe_version() + ": results could differ, so it does not run them");
        else welcome.set_ok(true);
        return welcome.SerializeAsString();
      },
      [=](point_atom, const std::string& bytes) -> caf::result<std::string> {
        if (self->state.running >= jobs + limits::kWorkerExtraRuns) {
          v1::PointDone busy;
          busy.set_busy(true);
          busy.set_error("busy: " + std::to_string(self->state.running) + " runs at once already");
          return busy.SerializeAsString();
        }
        ++self->state.running;
        auto promise = self->make_response_promise<std::string>();
        auto runner = self->spawn<caf::detached>(point_runner, factory);
        self->request(runner, caf::infinite, point_atom::value, bytes)
            .then(
                [=](std::string& done) mutable {
                  --self->state.running;
                  ++*served;
                  promise.deliver(std::move(done));
                },
                [=](caf::error& error) mutable {
                  --self->state.running;
                  promise.deliver(refusal("the run failed: " + self->system().render(error)));
                });
        return promise;
      },
      // A run's shard: a host of its own, whose handle the run gets with the answer; a host that
      // refused ends at once. Shards count against the runs the worker offered.
      [=](open_atom, const std::string& bytes, const caf::actor& owner) -> caf::result<std::string, caf::actor> {
        if (self->state.running + self->state.hosting >= jobs + limits::kWorkerExtraRuns) {
          v1::ShardOpened busy;
          busy.set_error("busy: " + std::to_string(self->state.running + self->state.hosting) + " runs and shards at once already");
          return caf::result<std::string, caf::actor>(busy.SerializeAsString(), caf::actor());
        }
        ++self->state.hosting;
        auto host = self->spawn<caf::detached + caf::monitored>(shard_host_actor, factory, owner,
                                                                caf::actor_cast<caf::actor>(self));
        auto promise = self->make_response_promise<std::string, caf::actor>();
        self->request(host, caf::infinite, open_atom::value, bytes)
            .then(
                [=](std::string& answer) mutable {
                  v1::ShardOpened opened;
                  const bool ok = opened.ParseFromString(answer) && opened.ok();
                  if (!ok) self->send(host, close_atom::value);
                  promise.deliver(std::move(answer), ok ? host : caf::actor());
                },
                [=](caf::error& error) mutable {
                  v1::ShardOpened opened;
                  opened.set_error("the shard failed to start: " + self->system().render(error));
                  promise.deliver(opened.SerializeAsString(), caf::actor());
                });
        return promise;
      },
  };
}

caf::actor_system_config& network_config(caf::actor_system_config& config) {
  config.load<caf::io::middleman>();
  config.set("scheduler.max-threads", std::size_t{2});
  // Threads wait on a condition, woken as a message comes: work stealing's idle threads sleep
  // between polls (up to 10 ms in CAF 0.17), which made a run's window round trip ~0.7 ms.
  config.set("scheduler.policy", caf::atom("sharing"));
  // A peer that vanishes without closing its connection (power off, a partition) is noticed.
  config.set("middleman.heartbeat-interval", caf::timespan{std::chrono::seconds(1)});
  config.set("middleman.connection-timeout", caf::timespan{std::chrono::seconds(15)});
  return config;
}

// What an ask to a worker came to: its answer, or that it is gone.
struct Answer {
  bool lost = false;
  std::string bytes;  // the answer, or why it is lost
};

// Asks `worker` on behalf of a thread waiting on `answer`, noticing if the worker goes away
// meanwhile (a request alone would wait forever for a worker killed mid-run).
caf::behavior asker(caf::event_based_actor* self, caf::actor worker, caf::message request, caf::duration timeout,
                    std::shared_ptr<std::promise<Answer>> answer) {
  auto settle = [=](Answer result) {
    answer->set_value(std::move(result));
    self->quit();
  };
  self->monitor(worker);
  self->set_down_handler([=](caf::down_msg&) { settle({true, "its connection closed"}); });
  self->request(worker, timeout, std::move(request))
      .then([=](std::string& reply) { settle({false, std::move(reply)}); },
            [=](caf::error& error) { settle({true, self->system().render(error)}); });
  return {};
}

Answer ask(caf::actor_system& system, const caf::actor& worker, caf::message request, caf::duration timeout) {
  auto answer = std::make_shared<std::promise<Answer>>();
  auto future = answer->get_future();
  system.spawn(asker, worker, std::move(request), timeout, answer);
  return future.get();
}

// Stands for a run on the workers hosting its shards: when it goes (the run ended, its process
// died or lost the connection), so do they. It only has to exist; an actor with no behavior would
// end at once, so it has one that nothing uses. (The label is there because CAF 0.17 binds a null
// tuple for a function actor spawned without arguments, which UBSan reports.)
caf::behavior run_owner(caf::event_based_actor*, std::string /*label*/) {
  return {[](close_atom) {}};
}


}  // namespace

std::string run_point(const v1::PointRun& run, const ComponentFactory& factory, const std::string& out_path) {
  const std::vector<std::string> overrides(run.overrides().begin(), run.overrides().end());
  const auto scenario = parse_scenario(run.scenario_text(), run.scenario_name(), overrides);
  RunOptions options;
  options.seed = run.seed();
  options.threads = 1;
  options.shards = 1;
  options.out_path = out_path;
  Simulation simulation(scenario, options, factory);
  return summarize(simulation.topology(), simulation.run()).dump();
}

struct WorkerServer::Network {
  caf::actor_system_config config;
  caf::actor_system system{network_config(config)};
  caf::actor worker;
  std::shared_ptr<std::atomic<std::uint64_t>> served = std::make_shared<std::atomic<std::uint64_t>>(0);
  ~Network() { caf::anon_send_exit(worker, caf::exit_reason::user_shutdown); }
};

WorkerServer::WorkerServer(const std::string& address, bool allow_remote, unsigned jobs, ComponentFactory factory)
    : network_(std::make_unique<Network>()) {
  const auto [host, port] = listen_address(address, allow_remote, "--listen", "run benchmarks on this machine");
  jobs = std::max(1u, jobs);
  network_->worker = network_->system.spawn(worker_actor, std::move(factory), jobs, network_->served);
  auto published = network_->system.middleman().publish(network_->worker, port, host.c_str(), /*reuse_addr=*/true);
  if (!published) throw std::runtime_error("--listen " + address + ": " + network_error_text(network_->system, published.error()));
  address_ = host + ":" + std::to_string(*published);
}

WorkerServer::~WorkerServer() = default;

std::uint64_t WorkerServer::runs_served() const { return *network_->served; }

struct WorkerPool::Network {
  caf::actor_system_config config;
  caf::actor_system system{network_config(config)};
};

struct WorkerPool::Worker {
  std::string address;
  caf::actor actor;
  unsigned jobs = 1;
};

WorkerPool::WorkerPool(const std::vector<std::string>& addresses) : network_(std::make_shared<Network>()) {
  v1::WorkerHello hello;
  hello.set_flowframe_version(kFlowFrameVersion);
  hello.set_protocol(kWorkerProtocol);
  const auto hello_bytes = hello.SerializeAsString();
  for (const auto& address : addresses) {
    // One connection per worker: a worker named twice would be asked for twice its runs.
    if (std::any_of(workers_.begin(), workers_.end(), [&](const Worker& w) { return w.address == address; })) continue;
    const auto [host, port] = parse_address(address);
    auto actor = network_->system.middleman().remote_actor(host, port);
    if (!actor) throw std::runtime_error("worker " + address + ": " + network_error_text(network_->system, actor.error()));
    const auto answer = ask(network_->system, *actor, caf::make_message(hello_atom::value, hello_bytes),
                            caf::duration{std::chrono::seconds(10)});
    v1::WorkerWelcome welcome;
    if (answer.lost) throw std::runtime_error("worker " + address + ": no answer to the greeting (" + answer.bytes + ")");
    if (!welcome.ParseFromString(answer.bytes)) throw std::runtime_error("worker " + address + ": not a FlowFrame worker");
    if (!welcome.ok()) throw std::runtime_error("worker " + address + " refused: " + welcome.error());
    workers_.push_back({address, *actor, std::clamp(welcome.cores(), 1u, limits::kWorkerJobs)});
  }
}

WorkerPool::~WorkerPool() = default;

std::size_t WorkerPool::size() const { return workers_.size(); }
const std::string& WorkerPool::address(std::size_t worker) const { return workers_.at(worker).address; }
unsigned WorkerPool::jobs(std::size_t worker) const { return workers_.at(worker).jobs; }

std::string WorkerPool::run(std::size_t worker, const v1::PointRun& run) {
  const auto& w = workers_.at(worker);
  const auto answer = ask(network_->system, w.actor, caf::make_message(point_atom::value, run.SerializeAsString()), caf::infinite);
  if (answer.lost) throw WorkerLost("worker " + w.address + " stopped answering (" + answer.bytes + ")");
  v1::PointDone done;
  if (!done.ParseFromString(answer.bytes)) throw WorkerLost("worker " + w.address + " answered with something else");
  if (done.busy()) throw WorkerLost("worker " + w.address + " is " + done.error());
  if (!done.ok()) throw std::runtime_error("worker " + w.address + ": " + done.error());
  return done.summary_json();
}

}  // namespace flowframe

namespace flowframe {

// A run's shard on a worker, reached through the pool's connection. Its calls are strictly one
// after another, so a blocking actor of its own sends each and waits for the answer or for the
// worker or host to go away (a monitor on each); no actor is spawned per call.
class WorkerShard final : public RemoteShard {
 public:
  WorkerShard(std::shared_ptr<WorkerPool::Network> network, caf::actor worker, std::string address, v1::ShardOpen base)
      : network_(std::move(network)), worker_(std::move(worker)), address_(std::move(address)), base_(std::move(base)),
        self_(network_->system), owner_(network_->system.spawn(run_owner, address_)) {
    self_->monitor(worker_);
  }
  ~WorkerShard() override {
    if (host_) self_->send(host_, close_atom::value);
    caf::anon_send_exit(owner_, caf::exit_reason::user_shutdown);
  }

  std::string where() const override { return "worker " + address_; }

  v1::ShardOpened open(std::uint32_t shard, std::uint32_t shard_count, std::uint64_t seed, bool record,
                       bool detailed) override {
    auto open = base_;
    fill_open(open, shard, shard_count, seed, record, detailed);
    self_->send(worker_, open_atom::value, open.SerializeAsString(), owner_);
    v1::ShardOpened opened;
    bool parsed = false;
    self_->receive(
        [&](std::string& answer, caf::actor& host) {
          parsed = opened.ParseFromString(answer);
          host_ = std::move(host);
        },
        [&](caf::down_msg&) { throw std::runtime_error(where() + " stopped answering (its connection closed)"); },
        [&](caf::error& error) { throw std::runtime_error(where() + ": " + network_->system.render(error)); });
    if (!parsed) throw std::runtime_error(where() + " answered with something else");
    if (!opened.ok() || !host_) throw std::runtime_error(where() + " refused the run: " + opened.error());
    self_->monitor(host_);
    return opened;
  }

  void run(const v1::ShardWindow& window, v1::ShardWindowDone& done) override {
    if (!done.ParseFromString(call(caf::make_message(window_atom::value, window.SerializeAsString()))))
      throw std::runtime_error(where() + " answered with something else");
  }

  void states(v1::ShardStates& states) override {
    if (!states.ParseFromString(call(caf::make_message(states_atom::value))))
      throw std::runtime_error(where() + " answered with something else");
    if (!states.error().empty()) throw std::runtime_error(where() + ": " + states.error());
  }

 private:
  std::string call(caf::message request) {
    if (!host_) throw std::runtime_error(where() + " hosts no shard of this run");
    self_->send(host_, std::move(request));
    std::string answer;
    self_->receive(
        [&](std::string& reply) { answer = std::move(reply); },
        [&](caf::down_msg& down) {
          throw std::runtime_error(where() + (down.source == host_.address() ? " lost the run's shard (" : " stopped answering (") +
                                   network_->system.render(down.reason) + ")");
        },
        [&](caf::error& error) { throw std::runtime_error(where() + ": " + network_->system.render(error)); });
    return answer;
  }

  std::shared_ptr<WorkerPool::Network> network_;
  caf::actor worker_;
  std::string address_;
  v1::ShardOpen base_;
  caf::scoped_actor self_;
  caf::actor owner_;
  caf::actor host_;
};

std::vector<std::shared_ptr<RemoteShard>> WorkerPool::shards(const std::string& scenario_name, const std::string& scenario_text,
                                                             const std::vector<std::string>& overrides) {
  const auto base = shard_open(scenario_name, scenario_text, overrides);
  std::vector<std::shared_ptr<RemoteShard>> shards;
  for (const auto& worker : workers_)
    shards.push_back(std::make_shared<WorkerShard>(network_, worker.actor, worker.address, base));
  return shards;
}

}  // namespace flowframe
