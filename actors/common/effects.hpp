#pragma once
// The effects a saga's service holds, one per idempotency key: what both saga participants (called
// by an orchestrator) and event services (reacting to a choreographed saga's events) do with an
// action or its compensation. A repeated key takes no new effect and is answered as the first time;
// a compensation that comes before its action records that, so the late action is refused rather
// than taking effect for ever. They survive a crash (they are the service's database).
#include <deque>
#include <map>
#include <string>

#include "flowframe/v1/frame.pb.h"
#include "flowframe/v1/scenario.pb.h"
#include "runtime/base/time.hpp"
#include "runtime/framelog/frame_record.hpp"
#include "runtime/scenario/kind.hpp"

namespace flowframe {

class Effects {
 public:
  struct Result {
    Outcome outcome;
    std::uint16_t status;  // the answer an action's caller gets
    std::string note;      // for the frame
    bool repeat = false;   // the key was seen before: no new effect, whatever the answer
    bool took_effect() const { return outcome == Outcome::step_applied || outcome == Outcome::step_undone; }
  };

  // `action` (or, if `name` is its undo, its compensation) for `key`.
  Result act(const v1::ParticipantAction& action, const std::string& key, Time now);
  Result undo(const v1::ParticipantAction& action, const std::string& key, Time now);

  std::uint64_t applied() const { return applied_; }
  std::uint32_t size_hint() const;
  // Counts and the newest few effects.
  void snapshot(v1::ParticipantState& out) const;

 private:
  v1::Effect& effect_for(const std::string& key, const std::string& action, Time now, bool& fresh);

  std::map<std::string, v1::Effect> effects_;      // by idempotency key
  std::deque<std::string> order_;                  // keys as first seen
  std::map<std::string, std::uint64_t> requests_;  // new requests per action (for refuse_every)
  std::uint64_t applied_ = 0, undone_ = 0, refused_ = 0, repeated_ = 0;
};

// The action of `actions` named `name`, or whose compensation it is (`*undo` says which); nullptr
// for neither.
const v1::ParticipantAction* find_action(const google::protobuf::RepeatedPtrField<v1::ParticipantAction>& actions,
                                         const std::string& name, bool* undo);

// The loader's checks of a kind's `actions` (under `params`): a name and an undo each, no name twice,
// a refusal status in the 4xx.
void check_saga_actions(NodeChecks& c, const google::protobuf::RepeatedPtrField<v1::ParticipantAction>& actions, const char* params);

}  // namespace flowframe
