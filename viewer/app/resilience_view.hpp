#pragma once
// What any caller's resilience looks like in the inspector: retries, each circuit breaker (state,
// its sliding window cell by cell, rates, when it probes) and bulkheads. Shared by every kind,
// since any caller may have them.
#include "viewer/app/kind_view.hpp"

namespace flowframe::viewer {

// Rows for the field table (retries).
void resilience_rows(const Inspected& inspected);
// Breakers and bulkheads below it; nothing for a node without them.
void resilience_tables(const Inspected& inspected);

}  // namespace flowframe::viewer
