#include "actors/log_broker/cluster.hpp"

#include <algorithm>

namespace flowframe {

std::vector<NodeIndex> log_cluster(const Topology& topology, NodeIndex member) {
  const auto& params = topology.spec(member).log_broker();
  const auto leader = params.follower_of().empty() ? member : topology.index_of(params.follower_of());
  std::vector<NodeIndex> cluster{leader};
  const auto& leader_id = topology.spec(leader).id();
  // Components are built in node order, so later nodes are known by the scenario, not by size().
  for (const auto& node : topology.scenario().nodes())
    if (node.kind() == v1::Node::LOG_BROKER && node.log_broker().follower_of() == leader_id)
      cluster.push_back(topology.index_of(node.id()));
  return cluster;
}

std::vector<NodeIndex> reachable_replicas(const Topology& topology, NodeIndex from, NodeIndex member) {
  auto cluster = log_cluster(topology, member);
  cluster.erase(std::remove_if(cluster.begin(), cluster.end(), [&](NodeIndex node) { return !topology.linked(from, node); }),
                cluster.end());
  return cluster;
}

NodeIndex next_replica(const std::vector<NodeIndex>& reachable, NodeIndex current, NodeIndex named) {
  if (std::find(reachable.begin(), reachable.end(), named) != reachable.end()) return named;
  if (reachable.empty()) return current;
  const auto at = std::find(reachable.begin(), reachable.end(), current);
  if (at == reachable.end()) return reachable.front();
  return std::next(at) == reachable.end() ? reachable.front() : *std::next(at);
}

}  // namespace flowframe
