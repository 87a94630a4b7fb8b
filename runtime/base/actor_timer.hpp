#pragma once
// A timer message an actor sends itself.

#include <caf/all.hpp>
#include <chrono>
#include <utility>

namespace flowframe {

// Sent without a sender on purpose: `self->delayed_send(self, …)` makes the actor the message's sender,
// and when that message lands in the mailbox while the actor quits, the actor and its mailbox keep each
// other alive (CAF 0.17; LeakSanitizer caught it in about one live run in twenty).
template <class Self, class Rep, class Period, class... Ts>
void remind_self(Self* self, std::chrono::duration<Rep, Period> delay, Ts&&... xs) {
  caf::delayed_anon_send(caf::actor_cast<caf::actor>(self), delay, std::forward<Ts>(xs)...);
}

}  // namespace flowframe
