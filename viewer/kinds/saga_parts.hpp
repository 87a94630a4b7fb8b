#pragma once
// Inspector parts several kinds show: a saga log (orchestrators, and the event service that starts
// a choreographed saga), effects by idempotency key (participants and event services) and a log
// consumer's partition positions (consumers and event services).
#include "viewer/app/kind_view.hpp"

namespace flowframe::viewer {

void saga_rows(const v1::SagaState& sagas);
void sagas_table(const Inspected& in, float height);
void effect_rows(const v1::ParticipantState& effects);
void effects_table(const Inspected& in, float height);
void positions_table(const Inspected& in, float height);

}  // namespace flowframe::viewer
