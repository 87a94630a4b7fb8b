#pragma once
// The consumer kind for a log broker's topic (consumer.cpp makes it when `broker` is one).
#include "actors/common/components.hpp"

namespace flowframe {

std::unique_ptr<Component> make_log_consumer(const v1::Node& spec, NodeIndex index, const Topology& topology);

}  // namespace flowframe
