#pragma once
// Share links: a whole scenario in URL-safe text, "flowframe:" + base64url(version, checksum,
// zstd(scenario)). Opening one reproduces the scenario exactly; a damaged one is refused with why.
#include <string>

#include "flowframe/v1/scenario.pb.h"

namespace flowframe {

std::string encode_link(const v1::Scenario& scenario);
// Throws std::invalid_argument naming what is wrong with the link.
v1::Scenario decode_link(const std::string& link);

}  // namespace flowframe
