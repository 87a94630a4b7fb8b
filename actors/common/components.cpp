#include "actors/common/components.hpp"

#include <stdexcept>

#include "actors/client/client.hpp"

namespace flowframe {

std::unique_ptr<Component> make_load_balancer(const v1::Node& spec, NodeIndex index, const Topology& topology);
std::unique_ptr<Component> make_server(const v1::Node& spec, NodeIndex index, const Topology& topology);
std::unique_ptr<Component> make_cache(const v1::Node& spec, NodeIndex index, const Topology& topology);
std::unique_ptr<Component> make_database(const v1::Node& spec, NodeIndex index, const Topology& topology);
std::unique_ptr<Component> make_api_gateway(const v1::Node& spec, NodeIndex index, const Topology& topology);
std::unique_ptr<Component> make_token_service(const v1::Node& spec, NodeIndex index, const Topology& topology);
std::unique_ptr<Component> make_object_storage(const v1::Node& spec, NodeIndex index, const Topology& topology);

std::unique_ptr<Component> make_component(const v1::Node& spec, NodeIndex index, const Topology& topology) {
  switch (spec.kind()) {
    case v1::Node::CLIENT: return std::make_unique<Client>(spec, index, topology);
    case v1::Node::LOAD_BALANCER: return make_load_balancer(spec, index, topology);
    case v1::Node::SERVER: return make_server(spec, index, topology);
    case v1::Node::CACHE: return make_cache(spec, index, topology);
    case v1::Node::DATABASE: return make_database(spec, index, topology);
    case v1::Node::API_GATEWAY: return make_api_gateway(spec, index, topology);
    case v1::Node::TOKEN_SERVICE: return make_token_service(spec, index, topology);
    case v1::Node::OBJECT_STORAGE: return make_object_storage(spec, index, topology);
    default: throw std::invalid_argument("node '" + spec.id() + "': no component of kind " + v1::Node::Kind_Name(spec.kind()));
  }
}

}  // namespace flowframe
