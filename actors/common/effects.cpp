#include "actors/common/effects.hpp"

#include <fmt/format.h>

#include <set>

namespace flowframe {
namespace {
constexpr std::size_t kShownEffects = 16;
}

v1::Effect& Effects::effect_for(const std::string& key, const std::string& action, Time now, bool& fresh) {
  auto [at, inserted] = effects_.try_emplace(key);
  fresh = inserted;
  if (inserted) {
    at->second.set_key(key);
    at->second.set_action(action);
    at->second.set_at_ns(now);
    order_.push_back(key);
    if (order_.size() > kShownEffects) order_.pop_front();
  }
  at->second.set_calls(at->second.calls() + 1);
  return at->second;
}

Effects::Result Effects::act(const v1::ParticipantAction& action, const std::string& key, Time now) {
  bool fresh = false;
  auto& effect = effect_for(key, action.name(), now, fresh);
  const auto refuse_status = static_cast<std::uint16_t>(action.has_refuse_status() ? action.refuse_status() : 409);
  if (!fresh) {
    ++repeated_;
    switch (effect.status()) {
      case v1::Effect::APPLIED:
        return {Outcome::step_repeated, 200, fmt::format("{} {}: done before, answered again (no new effect)", action.name(), key), true};
      case v1::Effect::REFUSED:
        return {Outcome::step_repeated, refuse_status, fmt::format("{} {}: refused before, refused again", action.name(), key), true};
      default:
        // Its compensation came first: taking effect now would never be undone.
        return {Outcome::step_refused, 409, fmt::format("409 {} {}: already compensated, refused", action.name(), key), true};
    }
  }
  const auto count = ++requests_[action.name()];
  if (action.refuse_every() > 0 && count % action.refuse_every() == 0) {
    effect.set_status(v1::Effect::REFUSED);
    ++refused_;
    return {Outcome::step_refused, refuse_status,
            fmt::format("{} {} {}: refused (every {}th is)", refuse_status, action.name(), key, action.refuse_every())};
  }
  effect.set_status(v1::Effect::APPLIED);
  ++applied_;
  return {Outcome::step_applied, 201, fmt::format("{} {}: done ({} in effect)", action.name(), key, applied_)};
}

Effects::Result Effects::undo(const v1::ParticipantAction& action, const std::string& key, Time now) {
  bool fresh = false;
  auto& effect = effect_for(key, action.name(), now, fresh);
  if (fresh) {
    effect.set_status(v1::Effect::VOIDED);
    return {Outcome::step_voided, 200, fmt::format("{} {}: nothing to undo yet; a late {} will be refused", action.undo(), key, action.name())};
  }
  switch (effect.status()) {
    case v1::Effect::APPLIED:
      effect.set_status(v1::Effect::UNDONE);
      --applied_;
      ++undone_;
      return {Outcome::step_undone, 200, fmt::format("{} {}: undone ({} in effect)", action.undo(), key, applied_)};
    case v1::Effect::REFUSED:
      return {Outcome::step_voided, 200, fmt::format("{} {}: nothing to undo, {} was refused", action.undo(), key, action.name())};
    default:
      ++repeated_;
      return {Outcome::step_repeated, 200, fmt::format("{} {}: undone before (no new effect)", action.undo(), key), true};
  }
}

std::uint32_t Effects::size_hint() const { return static_cast<std::uint32_t>(48 + std::min(order_.size(), kShownEffects) * 48); }

void Effects::snapshot(v1::ParticipantState& out) const {
  out.set_applied(applied_);
  out.set_undone(undone_);
  out.set_refused(refused_);
  out.set_repeated(repeated_);
  std::size_t shown = 0;
  for (auto it = order_.rbegin(); it != order_.rend() && shown < kShownEffects; ++it, ++shown) *out.add_effects() = effects_.at(*it);
}

const v1::ParticipantAction* find_action(const google::protobuf::RepeatedPtrField<v1::ParticipantAction>& actions,
                                         const std::string& name, bool* undo) {
  for (const auto& action : actions) {
    if (action.name() == name || action.undo() == name) {
      *undo = action.undo() == name;
      return &action;
    }
  }
  return nullptr;
}

void check_saga_actions(NodeChecks& c, const google::protobuf::RepeatedPtrField<v1::ParticipantAction>& actions, const char* params) {
  const std::string prefix = std::string(params) + ".actions";
  if (actions.empty()) c.problem(c.at({{params}}), prefix, std::string("a ") + params + " needs an action");
  std::set<std::string> names;
  for (int i = 0; i < actions.size(); ++i) {
    const auto& action = actions.Get(i);
    for (const auto& [field, name] : {std::pair{"name", action.name()}, std::pair{"undo", action.undo()}})
      if (name.empty() || !names.insert(name).second)
        c.problem(c.at({{params}, {"actions", i}, {field}}), prefix + "." + field,
                  name.empty() ? "missing: every action needs a name and a compensation (undo)" : "'" + name + "' is named twice");
    if (action.has_refuse_status() && (action.refuse_status() < 400 || action.refuse_status() > 499))
      c.problem(c.at({{params}, {"actions", i}, {"refuse_status"}}), prefix + ".refuse_status",
                "must be a 4xx: a business refusal, which the saga compensates (a 5xx is retried)");
  }
}

}  // namespace flowframe
