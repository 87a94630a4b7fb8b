#pragma once
// The simulated world as built from a scenario: nodes (components), links with their latencies,
// the request path table and the control actions. Read-only while windows run, except each
// component's own state, which only its shard touches.
#include <functional>
#include <memory>
#include <unordered_map>
#include <vector>

#include "flowframe/v1/frame.pb.h"
#include "runtime/engine/component.hpp"
#include "runtime/engine/distribution.hpp"

namespace flowframe {

class Topology;
using ComponentFactory =
    std::function<std::unique_ptr<Component>(const v1::Node& spec, NodeIndex index, const Topology& topology)>;

class Topology {
 public:
  // `scenario` must come from load_scenario (validated, replicas expanded).
  Topology(const v1::Scenario& scenario, std::uint64_t seed, const ComponentFactory& factory);

  const v1::Scenario& scenario() const { return scenario_; }
  std::uint64_t seed() const { return seed_; }
  std::size_t size() const { return components_.size(); }
  Component& component(NodeIndex index) const { return *components_[index]; }
  // After a crash: a fresh component from the scenario, with what the old one says survives and
  // everything the engine keeps of the node. Only the node's own shard may call it.
  Component& rebuild(NodeIndex index);
  // A node's scenario entry, and how many there are (with the director's at 0); usable while
  // components are being built.
  const v1::Node& spec(NodeIndex index) const { return *specs_[index]; }
  std::size_t spec_count() const { return specs_.size(); }
  NodeIndex index_of(const std::string& id) const;  // kNoNode if unknown
  // Nodes named by an id: a node, or every member of a replicated group.
  std::vector<NodeIndex> resolve(const std::string& id) const;

  // Links are usable in both directions.
  const Sampler& link(NodeIndex from, NodeIndex to) const;
  bool linked(NodeIndex from, NodeIndex to) const;
  // Nodes this node sends requests to (links written from it), in scenario order.
  const std::vector<NodeIndex>& downstream(NodeIndex node) const { return downstream_[node]; }
  const std::vector<NodeIndex>& upstream(NodeIndex node) const { return upstream_[node]; }
  // The smallest latency of any link: the width of a parallel window.
  Time lookahead() const { return lookahead_; }

  // Request paths as "METHOD /path/{id}"; Event.path indexes them. The first
  // path_weights().size() are the workload's generated mix, the rest come from its script.
  const std::vector<std::string>& paths() const { return paths_; }
  // Whether a path is a read ("GET /users/{id}"): what caches keep and replicas may answer.
  bool is_read(std::uint32_t path) const { return paths_[path].rfind("GET ", 0) == 0; }
  // The index of a path ("GET /health") in paths(); kinds' own paths are always there.
  std::uint32_t path_index(const std::string& name) const;
  const std::vector<std::uint32_t>& path_weights() const { return path_weights_; }
  const IdSampler& ids(std::uint32_t path) const { return id_samplers_[path]; }
  struct Scripted {
    Time at;
    NodeIndex client;
    std::uint32_t path;
    std::uint64_t id;
    const v1::ValetUpload* valet;  // nullptr for a plain request
    NodeIndex storage = kNoNode;
    std::uint32_t upload_path = 0;  // a valet flow's second step to storage: PUT (or GET) on the same path
    bool poison = false;  // a publishing client's poison message
  };
  const std::vector<Scripted>& script() const { return script_; }
  const std::vector<NodeIndex>& clients() const { return clients_; }
  // Where a client sends: its client.target, else the workload's target, else its first link.
  // kNoNode for a client the workload does not name.
  NodeIndex target_of(NodeIndex client) const {
    const auto found = client_targets_.find(client);
    return found == client_targets_.end() ? kNoNode : found->second;
  }

  // The actions a timed event or live control means for `target` at `at` (a link fault makes one
  // per direction, each at its sender), followed by the health notices they cause. `crashed` is
  // each node's state as of `at` (live: now; scripted: as the earlier scripted actions leave it).
  // Returns "" or why the change cannot apply.
  std::string plan(const v1::TimedEvent& change, NodeIndex target, Time at, std::vector<ControlAction>& out) const {
    std::unordered_map<NodeIndex, ForeseenHealth> now;
    return plan(change, target, at, out, now);
  }

  std::vector<ControlAction>& actions() { return actions_; }
  const std::vector<ControlAction>& actions() const { return actions_; }

  // The node table and path table for a log header.
  void describe(v1::LogHeader& header) const;

 private:
  static std::uint64_t link_key(NodeIndex a, NodeIndex b) { return (std::uint64_t{a} << 32) | b; }
  struct ForeseenHealth {
    std::unique_ptr<HealthRule> rule;
    bool crashed = false;
  };
  std::string plan(const v1::TimedEvent& change, NodeIndex target, Time at, std::vector<ControlAction>& out,
                   std::unordered_map<NodeIndex, ForeseenHealth>& health) const;
  void add_actions(const v1::TimedEvent& event);
  // Balancers in front of `node` learn at `at` that it went up or down (an ideal health check).
  void add_health_notices(NodeIndex node, bool healthy, Time at, std::vector<ControlAction>& out) const;

  v1::Scenario scenario_;
  std::uint64_t seed_;
  std::vector<const v1::Node*> specs_;
  std::vector<std::unique_ptr<Component>> components_;
  std::unordered_map<std::string, NodeIndex> index_;
  std::unordered_map<std::string, std::vector<NodeIndex>> groups_;
  std::unordered_map<std::uint64_t, Sampler> links_;
  std::vector<std::vector<NodeIndex>> downstream_;
  std::vector<std::vector<NodeIndex>> upstream_;
  Time lookahead_ = kTimeNever;
  std::vector<std::string> paths_;
  std::vector<std::uint32_t> path_weights_;
  std::vector<IdSampler> id_samplers_;
  std::vector<Scripted> script_;
  std::vector<NodeIndex> clients_;
  std::unordered_map<NodeIndex, NodeIndex> client_targets_;
  std::vector<ControlAction> actions_;
  ComponentFactory factory_;
  // Health as the scripted actions so far leave it, per node with a health rule.
  std::unordered_map<NodeIndex, ForeseenHealth> foreseen_;
};

}  // namespace flowframe
