// Saga orchestrator: each request it gets starts a saga, a state machine it keeps in its log. It
// calls the steps' participants in order, each with an idempotency key of its own (orchestrator,
// saga number, step), so a retried call takes effect once. A step refused for a business reason (a
// 4xx) means the steps before it are compensated in reverse; a step that fails every attempt (5xx
// or no answer) may have taken effect, so it is compensated too. Compensations are retried until
// they succeed. The log survives a crash: a restarted orchestrator resumes every unfinished saga
// (its caller's connection is gone, so only the log and the frames see how it ended).
//
// Frames of a saga carry its request (client and number), at the orchestrator and at every
// participant, so a saga is traced like a request.
#include <fmt/format.h>

#include <deque>
#include <map>
#include <set>

#include "actors/common/components.hpp"
#include "actors/common/routing.hpp"

namespace flowframe {
namespace {

constexpr std::uint16_t kRetryTimer = 1;
// A frame carries its node's state up to 4 KiB: the state shows the oldest unfinished sagas and the
// latest ended ones, and the log keeps only those ended ones.
constexpr std::size_t kShownUnfinishedOrders = 10;
constexpr std::size_t kShownEndedOrders = 6;

using Phase = v1::SagaInstance::Phase;

class SagaOrchestrator final : public Component {
 public:
  SagaOrchestrator(const v1::Node& spec, NodeIndex index, const Topology& topology)
      : Component(spec, index, topology.seed()), params_(spec.saga_orchestrator()), retry_delay_(from_millis(params_.retry_delay_ms())) {
    for (const auto& step : params_.steps()) participants_.push_back(topology.index_of(step.node()));
  }

  // After a restart: every saga the log has unfinished goes on from where it was.
  void start(Context& context) override {
    std::vector<std::string> picked_up;
    for (auto& [number, saga] : sagas_) {
      if (ended(saga)) continue;
      saga.orphaned = true;
      saga.attempt = 0;
      ++resumed_;
      call(number, saga, context);
      picked_up.push_back(fmt::format("#{} {} {}", number, saga.phase == v1::SagaInstance::RUNNING ? "at" : "undoing",
                                      params_.steps(static_cast<int>(saga.step)).name()));
    }
    if (!picked_up.empty())
      context.decide(Outcome::delegated, kNoNode, "resumes from its log: " + flowframe::join(picked_up, ", "));
  }

  void handle(const Event& event, Context& context) override {
    switch (event.kind) {
      case EventKind::request: return begin(event, context);
      case EventKind::response:
      case EventKind::timeout: return answered(event, context);
      case EventKind::timer:
        if (event.status == kRetryTimer) return retry(static_cast<std::uint64_t>(event.arg), context);
        return;
      default: return;
    }
  }

  std::string apply(ControlAction& action, Context&) override {
    return "a saga orchestrator has no setting '" + action.field + "' to change during a run";
  }

  // The saga log is on disk; calls in flight are not.
  void survive_crash(Component& fresh) const override {
    auto& next = static_cast<SagaOrchestrator&>(fresh);
    next.sagas_ = sagas_;
    next.by_request_ = by_request_;
    next.ended_order_ = ended_order_;
    next.next_saga_ = next_saga_;
    next.committed_ = committed_;
    next.compensated_ = compensated_;
    next.resumed_ = resumed_;
    next.retries_ = retries_;
    for (auto& [number, saga] : next.sagas_) saga.expected_call = 0;
  }

  std::uint32_t load() const override { return static_cast<std::uint32_t>(sagas_.size() - ended_order_.size()); }
  bool rich() const override { return true; }
  std::size_t state_size_hint() const override { return 48 + std::min(sagas_.size(), kShownUnfinishedOrders + kShownEndedOrders) * 110; }

  void snapshot(v1::NodeState& state) const override {
    state.set_handled(committed_ + compensated_);
    state.set_rejected(compensated_);
    state.set_load(load());
    auto& out = *state.mutable_saga_orchestrator();
    out.set_committed(committed_);
    out.set_compensated(compensated_);
    out.set_resumed(resumed_);
    out.set_retries(retries_);
    out.set_running(load());
    // Stops after the few it shows: a frame's cost must not grow with the sagas under way.
    std::size_t shown = 0;
    for (auto it = sagas_.begin(); it != sagas_.end() && shown < kShownUnfinishedOrders; ++it)
      if (!ended(it->second)) {
        write(it->second, *out.add_sagas());
        ++shown;
      }
    for (auto it = ended_order_.rbegin(); it != ended_order_.rend(); ++it) write(sagas_.at(*it), *out.add_sagas());
  }

 private:
  struct Saga {
    Event request;  // the caller's, answered when the saga ends (unless orphaned by a crash)
    bool orphaned = false;
    Phase phase = v1::SagaInstance::RUNNING;
    std::uint32_t step = 0;
    std::uint32_t attempt = 0;
    std::uint32_t expected_call = 0;  // the call whose answer it waits for (older ones are stale)
    Time started = 0;
    Time ended = 0;
    std::string why;               // why it compensates
    std::uint16_t failed_with = 0; // the status its caller gets when it is compensated
  };

  static bool ended(const Saga& saga) {
    return saga.phase == v1::SagaInstance::COMMITTED || saga.phase == v1::SagaInstance::COMPENSATED;
  }

  static void write(const Saga& saga, v1::SagaInstance& out) {
    out.set_client(saga.request.client);
    out.set_request(saga.request.request);
    out.set_phase(saga.phase);
    out.set_step(saga.step);
    out.set_attempt(saga.attempt);
    out.set_started_ns(saga.started);
    out.set_ended_ns(saga.ended);
    out.set_why(saga.why);
  }

  const v1::SagaStep& step_of(const Saga& saga) const { return params_.steps(static_cast<int>(saga.step)); }

  std::string name_of(std::uint64_t number, const Saga& saga, Context& context) const {
    return fmt::format("saga #{} ({}#{})", number, context.topology().spec(saga.request.client).id(), saga.request.request);
  }

  // A request it has seen before (its caller retried, maybe after the orchestrator restarted) does
  // not start another saga: it is answered when its saga ends, or at once from the log.
  bool repeated(const Event& request, Context& context) {
    const auto found = by_request_.find({request.client, request.request});
    if (found == by_request_.end()) return false;
    const auto& [number, status] = found->second;
    if (status == 0) {
      auto& saga = sagas_.at(number);
      saga.request = request;
      saga.orphaned = false;
      context.decide(Outcome::step_repeated, kNoNode, fmt::format("{} asked again: answered when it ends", name_of(number, saga, context)));
      return true;
    }
    respond(request, status, context);
    context.decide(Outcome::step_repeated, kNoNode,
                   fmt::format("saga #{} ({}#{}) asked again: it ended, answers {} from its log", number,
                               context.topology().spec(request.client).id(), request.request, status));
    return true;
  }

  void begin(const Event& request, Context& context) {
    if (repeated(request, context)) return;
    const auto number = ++next_saga_;
    by_request_[{request.client, request.request}] = {number, 0};
    Saga saga;
    saga.request = request;
    saga.started = context.now();
    auto& stored = sagas_.emplace(number, std::move(saga)).first->second;
    call(number, stored, context);
    context.decide(Outcome::delegated, participants_.front(),
                   fmt::format("{} starts: step 1 of {}, {} -> {}", name_of(number, stored, context), params_.steps_size(),
                               step_of(stored).name(), step_of(stored).node()));
  }

  // Calls the current step's action (running) or compensation (compensating), with the step's key.
  void call(std::uint64_t number, Saga& saga, Context& context) {
    const auto& step = step_of(saga);
    auto payload = std::make_shared<v1::Payload>();
    payload->set_op(v1::Payload::SAGA_ACTION);
    payload->set_key(fmt::format("{}:{}:{}", id(), number, saga.step + 1));
    payload->set_value(saga.phase == v1::SagaInstance::RUNNING ? step.action() : step.compensation());
    Event request = sub_request(saga.request, static_cast<std::int64_t>(number), std::move(payload));
    request.deadline = kTimeNever;  // a saga outlives its caller's patience
    ++saga.attempt;
    saga.expected_call = context.call(participants_[saga.step], request);
  }

  void answered(const Event& answer, Context& context) {
    const auto number = static_cast<std::uint64_t>(answer.arg);
    const auto found = sagas_.find(number);
    if (found == sagas_.end() || ended(found->second) || answer.call != found->second.expected_call)
      return context.decide(Outcome::late, kNoNode, "an answer to an earlier call of a saga: dropped");
    auto& saga = found->second;
    saga.expected_call = 0;
    const auto& step = step_of(saga);
    const bool timed_out = answer.kind == EventKind::timeout;
    const std::uint16_t status = timed_out ? 504 : answer.status;
    const auto who = name_of(number, saga, context);
    const auto what = fmt::format("{} at {}", saga.phase == v1::SagaInstance::RUNNING ? step.action() : step.compensation(), step.node());
    const auto outcome = timed_out ? std::string("no answer") : std::to_string(status);

    if (saga.phase == v1::SagaInstance::COMPENSATING) {
      if (status >= 300) return retry_later(number, saga, fmt::format("{}: {} failed ({})", who, what, outcome), context);
      return undone(number, saga, what, context);
    }
    if (status < 300) {
      if (saga.step + 1 == static_cast<std::uint32_t>(params_.steps_size())) return commit(number, saga, context);
      ++saga.step;
      saga.attempt = 0;
      call(number, saga, context);
      return context.decide(Outcome::delegated, participants_[saga.step],
                            fmt::format("{}: {} done; step {} of {}, {} -> {}", who, what, saga.step + 1, params_.steps_size(),
                                        step_of(saga).name(), step_of(saga).node()));
    }
    if (status < 500) {
      // Refused: this step took no effect, the ones before it did.
      saga.failed_with = status;
      return compensate(number, saga, false, fmt::format("{} refused {} ({})", step.node(), step.action(), status), context);
    }
    if (saga.attempt < params_.max_attempts()) return retry_later(number, saga, fmt::format("{}: {} failed ({})", who, what, outcome), context);
    // It may have taken effect: undo it too.
    saga.failed_with = 503;
    compensate(number, saga, true,
               fmt::format("{} failed {} times ({}; it may have taken effect)", what, saga.attempt, outcome), context);
  }

  // Backs off exponentially (up to 32 times the base delay): a compensation is retried until it
  // succeeds, and a participant that stays down must not be called at full speed for ever.
  void retry_later(std::uint64_t number, Saga& saga, const std::string& why, Context& context) {
    ++retries_;
    const Time delay = retry_delay_ << std::min<std::uint32_t>(saga.attempt - 1, 5);
    Event timer = timer_event(kRetryTimer);
    timer.arg = static_cast<std::int64_t>(number);
    timer.client = saga.request.client;
    timer.request = saga.request.request;
    timer.path = saga.request.path;
    context.schedule(delay, timer);
    context.decide(Outcome::retry_scheduled, kNoNode, fmt::format("{}: attempt {} in {}", why, saga.attempt + 1, duration_text(delay)));
  }

  void retry(std::uint64_t number, Context& context) {
    const auto found = sagas_.find(number);
    if (found == sagas_.end() || ended(found->second) || found->second.expected_call) return;
    auto& saga = found->second;
    call(number, saga, context);
    const auto& step = step_of(saga);
    context.decide(Outcome::delegated, participants_[saga.step],
                   fmt::format("{}: {} at {}, attempt {} (same key)", name_of(number, saga, context),
                               saga.phase == v1::SagaInstance::RUNNING ? step.action() : step.compensation(), step.node(), saga.attempt));
  }

  // Starts undoing: from the failed step itself when it may have taken effect, else the one before.
  void compensate(std::uint64_t number, Saga& saga, bool including_this, const std::string& why, Context& context) {
    saga.why = why;
    saga.attempt = 0;
    if (!including_this) {
      if (saga.step == 0) return finish(number, saga, v1::SagaInstance::COMPENSATED, "nothing to undo", context);
      --saga.step;
    }
    saga.phase = v1::SagaInstance::COMPENSATING;
    call(number, saga, context);
    context.decide(Outcome::delegated, participants_[saga.step],
                   fmt::format("{}: {}; compensates: {} -> {}", name_of(number, saga, context), why, step_of(saga).compensation(),
                               step_of(saga).node()));
  }

  void undone(std::uint64_t number, Saga& saga, const std::string& what, Context& context) {
    if (saga.step == 0) return finish(number, saga, v1::SagaInstance::COMPENSATED, what + " done", context);
    --saga.step;
    saga.attempt = 0;
    call(number, saga, context);
    context.decide(Outcome::delegated, participants_[saga.step],
                   fmt::format("{}: {} done; compensates: {} -> {}", name_of(number, saga, context), what,
                               step_of(saga).compensation(), step_of(saga).node()));
  }

  void commit(std::uint64_t number, Saga& saga, Context& context) {
    finish(number, saga, v1::SagaInstance::COMMITTED, fmt::format("all {} steps done", params_.steps_size()), context);
  }

  void finish(std::uint64_t number, Saga& saga, Phase phase, const std::string& last, Context& context) {
    saga.phase = phase;
    saga.ended = context.now();
    ended_order_.push_back(number);
    if (ended_order_.size() > kShownEndedOrders) {
      sagas_.erase(ended_order_.front());
      ended_order_.pop_front();
    }
    const bool committed = phase == v1::SagaInstance::COMMITTED;
    ++(committed ? committed_ : compensated_);
    const auto status = committed ? std::uint16_t{201} : saga.failed_with;
    by_request_[{saga.request.client, saga.request.request}].second = status;
    if (!saga.orphaned) respond(saga.request, status, context);
    context.decide(committed ? Outcome::saga_committed : Outcome::saga_compensated, kNoNode,
                   fmt::format("{} {}: {}{}{}", name_of(number, saga, context), committed ? "committed" : "compensated", last,
                               committed ? "" : "; it failed because " + saga.why,
                               saga.orphaned ? " (its caller was lost in a restart: not answered)" : fmt::format(" (answers {})", status)));
  }

  const v1::SagaParams& params_;
  Time retry_delay_;
  std::vector<NodeIndex> participants_;  // by step
  std::map<std::uint64_t, Saga> sagas_;  // the log: unfinished ones and the latest ended
  // Every request that started a saga: its number and how it ended (0: not yet), for repeated requests.
  std::map<std::pair<NodeIndex, std::uint64_t>, std::pair<std::uint64_t, std::uint16_t>> by_request_;
  std::deque<std::uint64_t> ended_order_;
  std::uint64_t next_saga_ = 0;
  std::uint64_t committed_ = 0, compensated_ = 0, resumed_ = 0, retries_ = 0;
};

}  // namespace

std::unique_ptr<Component> make_saga_orchestrator(const v1::Node& spec, NodeIndex index, const Topology& topology) {
  return std::make_unique<SagaOrchestrator>(spec, index, topology);
}

namespace {

void check_saga(NodeChecks& c) {
  const auto& params = c.node().saga_orchestrator();
  if (params.steps_size() == 0) c.problem(c.at({{"saga_orchestrator"}}), "saga_orchestrator.steps", "a saga needs a step");
  std::set<std::string> nodes;
  for (int i = 0; i < params.steps_size(); ++i) {
    const auto& step = params.steps(i);
    const auto at = c.at({{"saga_orchestrator"}, {"steps", i}, {"node"}});
    if (step.name().empty()) c.problem(c.at({{"saga_orchestrator"}, {"steps", i}}), "saga_orchestrator.steps.name", "a step needs a name");
    if (!c.known(step.node())) {
      c.problem(at, "saga_orchestrator.steps.node", c.unknown(step.node()));
      continue;
    }
    if (c.kind_of(step.node()) != v1::Node::PARTICIPANT) c.problem(at, "saga_orchestrator.steps.node", "'" + step.node() + "' is not a participant");
    else if (!c.linked(c.node().id(), step.node()))
      c.problem(at, "saga_orchestrator.steps.node", "'" + c.node().id() + "' has no link to '" + step.node() + "'");
    // A participant's frames name the saga by its request: one step per participant keeps them apart.
    if (!nodes.insert(step.node()).second)
      c.problem(at, "saga_orchestrator.steps.node", "'" + step.node() + "' already takes an earlier step: each step calls a different participant");
    const auto* participant = c.find(step.node());
    if (!participant || participant->kind() != v1::Node::PARTICIPANT) continue;
    const auto& actions = participant->participant().actions();
    const auto has = [&](const std::string& name, bool undo) {
      return std::any_of(actions.begin(), actions.end(), [&](const v1::ParticipantAction& a) { return (undo ? a.undo() : a.name()) == name; });
    };
    if (!has(step.action(), false))
      c.problem(c.at({{"saga_orchestrator"}, {"steps", i}, {"action"}}), "saga_orchestrator.steps.action", "'" + step.node() + "' has no action '" + step.action() + "'");
    if (!has(step.compensation(), true))
      c.problem(c.at({{"saga_orchestrator"}, {"steps", i}, {"compensation"}}), "saga_orchestrator.steps.compensation",
                "'" + step.node() + "' has no compensation '" + step.compensation() + "' (an action's undo)");
  }
  if (params.has_max_attempts() && params.max_attempts() == 0)
    c.problem(c.at({{"saga_orchestrator"}, {"max_attempts"}}), "saga_orchestrator.max_attempts", "must be >= 1");
  c.duration(params.has_retry_delay_ms(), params.retry_delay_ms(), c.at({{"saga_orchestrator"}, {"retry_delay_ms"}}), "saga_orchestrator.retry_delay_ms", true);
}

const KindDescription kSagaOrchestrator{
    .kind = v1::Node::SAGA_ORCHESTRATOR,
    .name = "saga_orchestrator",
    .defaults =
        [](v1::Node& node) {
          auto& params = *node.mutable_saga_orchestrator();
          if (!params.has_max_attempts()) params.set_max_attempts(3);
          if (!params.has_retry_delay_ms()) params.set_retry_delay_ms(100);
        },
    .example =
        [](v1::Node& node) {
          auto& step = *node.mutable_saga_orchestrator()->add_steps();
          step.set_name("reserve stock");
          step.set_node("inventory");
          step.set_action("reserve");
          step.set_compensation("release");
        },
    .check = check_saga,
    .metrics =
        [](const v1::NodeState& state, Time, nlohmann::ordered_json& node) {
          const auto& saga = state.saga_orchestrator();
          node["sagas_committed"] = saga.committed();
          node["sagas_compensated"] = saga.compensated();
          node["sagas_resumed"] = saga.resumed();
          node["step_retries"] = saga.retries();
          std::uint64_t running = 0;
          for (const auto& instance : saga.sagas())
            running += instance.phase() == v1::SagaInstance::RUNNING || instance.phase() == v1::SagaInstance::COMPENSATING;
          node["sagas_unfinished"] = running;
        },
    .detail =
        [](const nlohmann::ordered_json& node, std::vector<std::string>& parts) {
          parts.push_back(fmt::format("sagas: {} committed, {} compensated, {} unfinished, {} resumed after a crash; {} step retries",
                                      node["sagas_committed"].get<std::uint64_t>(), node["sagas_compensated"].get<std::uint64_t>(),
                                      node["sagas_unfinished"].get<std::uint64_t>(), node["sagas_resumed"].get<std::uint64_t>(),
                                      node["step_retries"].get<std::uint64_t>()));
        },
};
FLOWFRAME_KIND(kSagaOrchestrator, make_saga_orchestrator);

}  // namespace
}  // namespace flowframe
