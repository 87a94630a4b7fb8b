#include "actors/consumer/log_consumer.hpp"

namespace flowframe {

std::unique_ptr<Component> make_log_consumer(const v1::Node& spec, NodeIndex index, const Topology& topology) {
  return std::make_unique<LogConsumer>(spec, index, topology, spec.consumer());
}

}  // namespace flowframe
