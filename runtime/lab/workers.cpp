#include "runtime/lab/workers.hpp"

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include <algorithm>
#include <future>
#include <thread>

#include "runtime/base/version.hpp"
#include "runtime/engine/simulation.hpp"
#include "runtime/lab/summary.hpp"
#include "runtime/live/live.hpp"
#include "runtime/live/network_errors.hpp"
#include "runtime/scenario/scenario.hpp"

namespace flowframe {
namespace {

using hello_atom = caf::atom_constant<caf::atom("hello")>;
using point_atom = caf::atom_constant<caf::atom("point")>;

// A client that asks for more runs at once than the worker offered is told so, not served.
constexpr unsigned kExtraRuns = 8;
// What a worker may offer, whatever it says.
constexpr unsigned kMaxWorkerJobs = 256;

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

struct WorkerState {
  unsigned running = 0;
};

caf::behavior worker_actor(caf::stateful_actor<WorkerState>* self, ComponentFactory factory, unsigned jobs,
                           std::shared_ptr<std::atomic<std::uint64_t>> served) {
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
        if (self->state.running >= jobs + kExtraRuns) {
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
  };
}

caf::actor_system_config& network_config(caf::actor_system_config& config) {
  config.load<caf::io::middleman>();
  config.set("scheduler.max-threads", std::size_t{2});
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
caf::behavior asker(caf::event_based_actor* self, caf::actor worker, caf::atom_value atom, std::string bytes,
                    caf::duration timeout, std::shared_ptr<std::promise<Answer>> answer) {
  auto settle = [=](Answer result) {
    answer->set_value(std::move(result));
    self->quit();
  };
  self->monitor(worker);
  self->set_down_handler([=](caf::down_msg&) { settle({true, "its connection closed"}); });
  self->request(worker, timeout, atom, std::move(bytes))
      .then([=](std::string& reply) { settle({false, std::move(reply)}); },
            [=](caf::error& error) { settle({true, self->system().render(error)}); });
  return {};
}

Answer ask(caf::actor_system& system, const caf::actor& worker, caf::atom_value atom, const std::string& bytes,
           caf::duration timeout) {
  auto answer = std::make_shared<std::promise<Answer>>();
  auto future = answer->get_future();
  system.spawn(asker, worker, atom, bytes, timeout, answer);
  return future.get();
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

WorkerPool::WorkerPool(const std::vector<std::string>& addresses) : network_(std::make_unique<Network>()) {
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
    const auto answer = ask(network_->system, *actor, hello_atom::value, hello_bytes, caf::duration{std::chrono::seconds(10)});
    v1::WorkerWelcome welcome;
    if (answer.lost) throw std::runtime_error("worker " + address + ": no answer to the greeting (" + answer.bytes + ")");
    if (!welcome.ParseFromString(answer.bytes)) throw std::runtime_error("worker " + address + ": not a FlowFrame worker");
    if (!welcome.ok()) throw std::runtime_error("worker " + address + " refused: " + welcome.error());
    workers_.push_back({address, *actor, std::clamp(welcome.cores(), 1u, kMaxWorkerJobs)});
  }
}

WorkerPool::~WorkerPool() = default;

std::size_t WorkerPool::size() const { return workers_.size(); }
const std::string& WorkerPool::address(std::size_t worker) const { return workers_.at(worker).address; }
unsigned WorkerPool::jobs(std::size_t worker) const { return workers_.at(worker).jobs; }

std::string WorkerPool::run(std::size_t worker, const v1::PointRun& run) {
  const auto& w = workers_.at(worker);
  const auto answer = ask(network_->system, w.actor, point_atom::value, run.SerializeAsString(), caf::infinite);
  if (answer.lost) throw WorkerLost("worker " + w.address + " stopped answering (" + answer.bytes + ")");
  v1::PointDone done;
  if (!done.ParseFromString(answer.bytes)) throw WorkerLost("worker " + w.address + " answered with something else");
  if (done.busy()) throw WorkerLost("worker " + w.address + " is " + done.error());
  if (!done.ok()) throw std::runtime_error("worker " + w.address + ": " + done.error());
  return done.summary_json();
}

}  // namespace flowframe
