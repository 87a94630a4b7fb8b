#pragma once
// A log broker's replicas as every node finds them in the scenario: the leader the scenario names
// first, then its followers in scenario order. Producers and consumers know the whole cluster, as
// Kafka clients know their bootstrap servers, and move to another replica when theirs refuses,
// fails or names another leader.
#include <vector>

#include "runtime/engine/topology.hpp"

namespace flowframe {

// The replicas of the cluster `member` belongs to (a leader or any of its followers).
std::vector<NodeIndex> log_cluster(const Topology& topology, NodeIndex member);

// The replicas of `member`'s cluster that `from` has a link to, in cluster order.
std::vector<NodeIndex> reachable_replicas(const Topology& topology, NodeIndex from, NodeIndex member);

// Where to go after `current` refused or failed: `named` (the leader it named) if reachable, else
// the next reachable replica after `current`, round the cluster.
NodeIndex next_replica(const std::vector<NodeIndex>& reachable, NodeIndex current, NodeIndex named);

}  // namespace flowframe
