// Saga participant: a service whose actions take effect once per idempotency key and whose
// compensations undo them. A repeated call (a retry) finds its key and is answered as the first
// one was, without a new effect. A compensation that arrives before its action (the action's call
// is still in flight, or was lost) records that there was nothing to undo, so that the late action
// is refused rather than taking effect after its saga gave up. Its effects survive a crash (they
// are its database).
#include <fmt/format.h>

#include <deque>
#include <map>

#include "actors/common/components.hpp"
#include "actors/common/routing.hpp"

namespace flowframe {
namespace {

constexpr std::size_t kShownEffects = 16;

using Status = v1::Effect::Status;

class Participant final : public Component {
 public:
  Participant(const v1::Node& spec, NodeIndex index, std::uint64_t seed)
      : Component(spec, index, seed), service_(spec.participant().service_time()) {}

  void handle(const Event& event, Context& context) override {
    if (event.kind != EventKind::request) return;
    const Time processing = context.work(service_);
    const auto* payload = event.payload.get();
    if (!payload || payload->op() != v1::Payload::SAGA_ACTION || payload->key().empty()) {
      respond(event, 400, context, processing);
      return context.decide(Outcome::bad_request, kNoNode, "400 not a saga action with an idempotency key");
    }
    const auto& name = payload->value();
    for (const auto& action : spec_.participant().actions()) {
      if (action.name() == name) return act(event, action, processing, context);
      if (action.undo() == name) return undo(event, action, processing, context);
    }
    respond(event, 400, context, processing);
    context.decide(Outcome::bad_request, kNoNode, fmt::format("400 no action or compensation '{}'", name));
  }

  // Its actions' refusals may change during a run (a card processor starts declining).
  std::string apply(ControlAction& action, Context&) override {
    auto& params = *spec_.mutable_participant();
    action.previous = read_setting(params, action.field);
    return apply_setting(params, action.field, action.value);
  }

  void survive_crash(Component& fresh) const override {
    auto& next = static_cast<Participant&>(fresh);
    next.effects_ = effects_;
    next.order_ = order_;
    next.requests_ = requests_;
    next.applied_ = applied_;
    next.undone_ = undone_;
    next.refused_ = refused_;
    next.repeated_ = repeated_;
  }

  std::uint32_t load() const override { return static_cast<std::uint32_t>(applied_); }
  bool rich() const override { return true; }
  std::size_t state_size_hint() const override { return 48 + std::min(order_.size(), kShownEffects) * 48; }

  void snapshot(v1::NodeState& state) const override {
    state.set_handled(applied_ + undone_ + refused_ + repeated_);
    state.set_rejected(refused_);
    state.set_load(load());
    auto& out = *state.mutable_participant();
    out.set_applied(applied_);
    out.set_undone(undone_);
    out.set_refused(refused_);
    out.set_repeated(repeated_);
    std::size_t shown = 0;
    for (auto it = order_.rbegin(); it != order_.rend() && shown < kShownEffects; ++it, ++shown) *out.add_effects() = effects_.at(*it);
  }

 private:
  v1::Effect& effect_for(const std::string& key, const std::string& action, Context& context, bool& fresh) {
    auto [at, inserted] = effects_.try_emplace(key);
    fresh = inserted;
    if (inserted) {
      at->second.set_key(key);
      at->second.set_action(action);
      at->second.set_at_ns(context.now());
      order_.push_back(key);
    }
    at->second.set_calls(at->second.calls() + 1);
    return at->second;
  }

  void act(const Event& event, const v1::ParticipantAction& action, Time processing, Context& context) {
    bool fresh = false;
    auto& effect = effect_for(event.payload->key(), action.name(), context, fresh);
    const auto refuse_status = static_cast<std::uint16_t>(action.has_refuse_status() ? action.refuse_status() : 409);
    const auto& key = event.payload->key();
    if (!fresh) {
      ++repeated_;
      switch (effect.status()) {
        case v1::Effect::APPLIED:
          respond(event, 200, context, processing);
          return context.decide(Outcome::step_repeated, kNoNode, fmt::format("{} {}: done before, answered again (no new effect)", action.name(), key));
        case v1::Effect::REFUSED:
          respond(event, refuse_status, context, processing);
          return context.decide(Outcome::step_repeated, kNoNode, fmt::format("{} {}: refused before, refused again", action.name(), key));
        default:
          // Its compensation came first: taking effect now would never be undone.
          respond(event, 409, context, processing);
          return context.decide(Outcome::step_refused, kNoNode,
                                fmt::format("409 {} {}: already compensated, refused", action.name(), key));
      }
    }
    const auto count = ++requests_[action.name()];
    if (action.refuse_every() > 0 && count % action.refuse_every() == 0) {
      effect.set_status(v1::Effect::REFUSED);
      ++refused_;
      respond(event, refuse_status, context, processing);
      return context.decide(Outcome::step_refused, kNoNode, fmt::format("{} {} {}: refused (every {}th is)", refuse_status, action.name(), key,
                                                                        action.refuse_every()));
    }
    effect.set_status(v1::Effect::APPLIED);
    ++applied_;
    respond(event, 201, context, processing);
    context.decide(Outcome::step_applied, kNoNode, fmt::format("{} {}: done ({} in effect)", action.name(), key, applied_));
  }

  void undo(const Event& event, const v1::ParticipantAction& action, Time processing, Context& context) {
    bool fresh = false;
    auto& effect = effect_for(event.payload->key(), action.name(), context, fresh);
    const auto& key = event.payload->key();
    respond(event, 200, context, processing);
    if (fresh) {
      effect.set_status(v1::Effect::VOIDED);
      return context.decide(Outcome::step_voided, kNoNode,
                            fmt::format("{} {}: nothing to undo yet; a late {} will be refused", action.undo(), key, action.name()));
    }
    switch (effect.status()) {
      case v1::Effect::APPLIED:
        effect.set_status(v1::Effect::UNDONE);
        --applied_;
        ++undone_;
        return context.decide(Outcome::step_undone, kNoNode, fmt::format("{} {}: undone ({} in effect)", action.undo(), key, applied_));
      case v1::Effect::REFUSED:
        return context.decide(Outcome::step_voided, kNoNode, fmt::format("{} {}: nothing to undo, {} was refused", action.undo(), key, action.name()));
      default:
        ++repeated_;
        return context.decide(Outcome::step_repeated, kNoNode, fmt::format("{} {}: undone before (no new effect)", action.undo(), key));
    }
  }

  Sampler service_;
  std::map<std::string, v1::Effect> effects_;  // by idempotency key
  std::deque<std::string> order_;              // keys as first seen
  std::map<std::string, std::uint64_t> requests_;  // new requests per action (for refuse_every)
  std::uint64_t applied_ = 0, undone_ = 0, refused_ = 0, repeated_ = 0;
};

}  // namespace

std::unique_ptr<Component> make_participant(const v1::Node& spec, NodeIndex index, const Topology& topology) {
  return std::make_unique<Participant>(spec, index, topology.seed());
}

namespace {

void check_participant(NodeChecks& c) {
  const auto& params = c.node().participant();
  if (params.actions_size() == 0) c.problem(c.at({{"participant"}}), "participant.actions", "a participant needs an action");
  std::set<std::string> names;
  for (int i = 0; i < params.actions_size(); ++i) {
    const auto& action = params.actions(i);
    for (const auto& [field, name] : {std::pair{"name", action.name()}, std::pair{"undo", action.undo()}})
      if (name.empty() || !names.insert(name).second)
        c.problem(c.at({{"participant"}, {"actions", i}, {field}}), std::string("participant.actions.") + field,
                  name.empty() ? "missing: every action needs a name and a compensation (undo)" : "'" + name + "' is named twice");
    if (action.has_refuse_status() && (action.refuse_status() < 400 || action.refuse_status() > 499))
      c.problem(c.at({{"participant"}, {"actions", i}, {"refuse_status"}}), "participant.actions.refuse_status",
                "must be a 4xx: a business refusal, which the saga compensates (a 5xx is retried)");
  }
  check_optional_distribution(c, params.has_service_time(), params.service_time(), "participant", "service_time");
}

const KindDescription kParticipant{
    .kind = v1::Node::PARTICIPANT,
    .name = "participant",
    .defaults =
        [](v1::Node& node) {
          if (!node.participant().has_service_time()) *node.mutable_participant()->mutable_service_time() = constant_ms(5);
        },
    .example =
        [](v1::Node& node) {
          auto& action = *node.mutable_participant()->add_actions();
          action.set_name("reserve");
          action.set_undo("release");
        },
    .check = check_participant,
    .settable = {"actions[", "service_time."},
    .fixed = {"name", "undo"},  // of an action: the orchestrator's steps name them
    .metrics =
        [](const v1::NodeState& state, Time, nlohmann::ordered_json& node) {
          const auto& participant = state.participant();
          node["in_effect"] = participant.applied();
          node["undone"] = participant.undone();
          node["refused"] = participant.refused();
          node["repeated_calls"] = participant.repeated();
        },
};
FLOWFRAME_KIND(kParticipant, make_participant);

}  // namespace
}  // namespace flowframe
