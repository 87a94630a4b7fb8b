#pragma once
// What every kind module includes: the component interface, its registration, and helpers that
// several kinds share.
#include <cmath>
#include <set>
#include <string>

#include "runtime/base/text.hpp"
#include "runtime/engine/kinds.hpp"
#include "runtime/scenario/settings.hpp"

namespace flowframe {

// The address a client's requests come from: its `ip` parameter, or 10.0.X.Y by its position
// among the workload's clients.
std::string client_ip(const v1::Node& spec, std::size_t position);

// A timer a node sets itself; `status` says which (each kind numbers its own). A silent timer makes
// a frame only in small runs; a background one does not keep the run going.
inline Event timer_event(std::uint16_t status, bool silent = false, bool background = false) {
  Event timer;
  timer.kind = EventKind::timer;
  timer.status = status;
  timer.silent = silent;
  timer.background = background;
  return timer;
}

// A constant distribution, for defaults: constant_ms(2) is "mean_ms: 2".
inline v1::Distribution constant_ms(double ms) {
  v1::Distribution d;
  d.set_mean_ms(ms);
  return d;
}

// Checks an optional distribution parameter of the node's kind when it is set.
inline void check_optional_distribution(NodeChecks& c, bool has, const v1::Distribution& d, const char* params,
                                        const char* field) {
  if (has) c.distribution(d, c.at({{params}, {field}}), field);
}

}  // namespace flowframe
