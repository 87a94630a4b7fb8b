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
