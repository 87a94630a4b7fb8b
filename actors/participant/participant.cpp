// Saga participant: a service whose actions take effect once per idempotency key and whose
// compensations undo them. A repeated call (a retry) finds its key and is answered as the first
// one was, without a new effect. A compensation that arrives before its action (the action's call
// is still in flight, or was lost) records that there was nothing to undo, so that the late action
// is refused rather than taking effect after its saga gave up. Its effects survive a crash (they
// are its database).
#include <fmt/format.h>

#include "actors/common/components.hpp"
#include "actors/common/effects.hpp"
#include "actors/common/routing.hpp"

namespace flowframe {
namespace {

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
    bool undo = false;
    const auto* action = find_action(spec_.participant().actions(), payload->value(), &undo);
    if (!action) {
      respond(event, 400, context, processing);
      return context.decide(Outcome::bad_request, kNoNode, fmt::format("400 no action or compensation '{}'", payload->value()));
    }
    const auto result = undo ? effects_.undo(*action, payload->key(), context.now()) : effects_.act(*action, payload->key(), context.now());
    respond(event, result.status, context, processing);
    context.decide(result.outcome, kNoNode, result.note);
  }

  // Its actions' refusals may change during a run (a card processor starts declining).
  std::string apply(ControlAction& action, Context&) override {
    auto& params = *spec_.mutable_participant();
    action.previous = read_setting(params, action.field);
    auto error = apply_setting(params, action.field, action.value);
    service_ = Sampler(params.service_time());
    return error;
  }

  void survive_crash(Component& fresh) const override { static_cast<Participant&>(fresh).effects_ = effects_; }

  std::uint32_t load() const override { return static_cast<std::uint32_t>(effects_.applied()); }
  bool rich() const override { return true; }
  std::size_t state_size_hint() const override { return effects_.size_hint(); }

  void snapshot(v1::NodeState& state) const override {
    auto& out = *state.mutable_participant();
    effects_.snapshot(out);
    state.set_handled(out.applied() + out.undone() + out.refused() + out.repeated());
    state.set_rejected(out.refused());
    state.set_load(load());
  }

 private:
  Sampler service_;
  Effects effects_;
};

}  // namespace

std::unique_ptr<Component> make_participant(const v1::Node& spec, NodeIndex index, const Topology& topology) {
  return std::make_unique<Participant>(spec, index, topology.seed());
}

namespace {

void check_participant(NodeChecks& c) {
  const auto& params = c.node().participant();
  check_saga_actions(c, params.actions(), "participant");
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
    .detail =
        [](const nlohmann::ordered_json& node, std::vector<std::string>& parts) {
          parts.push_back(fmt::format("{} in effect, {} undone, {} refused, {} repeated calls", node["in_effect"].get<std::uint64_t>(),
                                      node["undone"].get<std::uint64_t>(), node["refused"].get<std::uint64_t>(),
                                      node["repeated_calls"].get<std::uint64_t>()));
        },
};
FLOWFRAME_KIND(kParticipant, make_participant);

}  // namespace
}  // namespace flowframe
