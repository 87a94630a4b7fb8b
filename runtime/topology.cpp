#include "runtime/topology.hpp"

#include <algorithm>
#include <stdexcept>

namespace flowframe {
namespace {

// Node 0 is the director: the source of timed events and live control.
class Director final : public Component {
 public:
  using Component::Component;
  void handle(const Event&, Context&) override {}
  std::string apply(ControlAction&, Context&) override { return "the director has no settings"; }
  void snapshot(v1::NodeState&) const override {}
};

const v1::Node& director_spec() {
  static const v1::Node spec = [] {
    v1::Node node;
    node.set_id("scenario");
    node.set_kind(v1::Node::DIRECTOR);
    return node;
  }();
  return spec;
}

}  // namespace

Topology::Topology(const v1::Scenario& scenario, std::uint64_t seed, const ComponentFactory& factory)
    : scenario_(scenario), seed_(seed) {
  auto& specs = specs_;
  specs.push_back(&director_spec());
  for (const auto& node : scenario_.nodes()) {
    index_[node.id()] = static_cast<NodeIndex>(specs.size());
    if (!node.group().empty()) groups_[node.group()].push_back(static_cast<NodeIndex>(specs.size()));
    specs.push_back(&node);
  }
  downstream_.resize(specs.size());
  upstream_.resize(specs.size());
  for (const auto& link : scenario_.links()) {
    const Sampler latency(link.latency());
    lookahead_ = std::min(lookahead_, latency.minimum());
    for (NodeIndex from : resolve(link.from()))
      for (NodeIndex to : resolve(link.to())) {
        links_[link_key(from, to)] = latency;
        links_[link_key(to, from)] = latency;
        downstream_[from].push_back(to);
        upstream_[to].push_back(from);
      }
  }
  const auto& workload = scenario_.workload();
  auto path_name = [](const std::string& method, const std::string& path) {
    return (method.empty() ? std::string("GET") : method) + " " + path;
  };
  for (const auto& path : workload.paths()) {
    paths_.push_back(path_name(path.method(), path.path()));
    path_weights_.push_back(path.weight());
    id_samplers_.emplace_back(path.keys(), path.zipf_s());
  }
  if (paths_.empty()) {
    paths_.push_back("GET /");
    path_weights_.push_back(1);
    id_samplers_.emplace_back();
  }
  clients_ = resolve(workload.clients());
  for (const auto& item : workload.script()) {
    const auto name = path_name(item.method(), item.path().empty() ? "/" : item.path());
    auto found = std::find(paths_.begin(), paths_.end(), name);
    if (found == paths_.end()) {
      paths_.push_back(name);
      id_samplers_.emplace_back();
      found = paths_.end() - 1;
    }
    Scripted scripted{from_seconds(item.at_s()), item.client().empty() ? clients_.front() : index_of(item.client()),
                      static_cast<std::uint32_t>(found - paths_.begin()), item.id(),
                      item.has_valet() ? &item.valet() : nullptr};
    if (item.has_valet()) scripted.storage = index_of(item.valet().storage());
    script_.push_back(scripted);
  }
  if (!workload.target().empty()) {
    workload_target_ = index_of(workload.target());
  } else if (!clients_.empty() && !downstream_[clients_.front()].empty()) {
    workload_target_ = downstream_[clients_.front()].front();
  }
  if (workload_target_ == kNoNode)
    throw std::invalid_argument("workload: clients '" + workload.clients() + "' link to no node; add a link or set workload.target");
  for (NodeIndex client : clients_)
    if (!linked(client, workload_target_))
      throw std::invalid_argument("workload: client '" + specs[client]->id() + "' has no link to its target '" +
                                  specs[workload_target_]->id() + "'");

  components_.push_back(std::make_unique<Director>(director_spec(), kDirector, seed_));
  for (NodeIndex i = 1; i < specs.size(); ++i) components_.push_back(factory(*specs[i], i, *this));
  for (NodeIndex i = 1; i < specs.size(); ++i) {
    if (specs[i]->kind() == v1::Node::SERVER) scripted_capacity_[i].now = specs[i]->server().capacity();
  }
  std::vector<v1::TimedEvent> events(scenario_.events().begin(), scenario_.events().end());
  std::stable_sort(events.begin(), events.end(), [](const auto& a, const auto& b) { return a.at_s() < b.at_s(); });
  for (const auto& event : events) add_actions(event);
  // Actions at the same time keep scenario order: their index is the director's sequence number.
  std::stable_sort(actions_.begin(), actions_.end(),
                   [](const ControlAction& a, const ControlAction& b) { return a.at < b.at; });
}

void Topology::add_actions(const v1::TimedEvent& event) {
  for (NodeIndex target : resolve(event.node())) {
    ControlAction action;
    action.at = from_seconds(event.at_s());
    action.target = target;
    if (event.has_set()) {
      action.field = event.set().field();
      action.value = event.set().value();
    }
    action.type = event.has_fail() ? ControlAction::Type::fail
                  : event.has_restore() ? ControlAction::Type::restore
                                        : ControlAction::Type::set;
    actions_.push_back(action);
    if (spec(target).kind() != v1::Node::SERVER) continue;
    // Balancers in front of a server learn when it goes down or comes back, at that instant (an
    // ideal health check), so none sends it a request while it is down. Scripted events are known
    // in advance, so the server's capacity is followed here the way the server itself will.
    auto& capacity = scripted_capacity_[target];
    const bool was_up = capacity.now > 0;
    if (action.type == ControlAction::Type::fail) {
      if (capacity.now > 0) capacity.before_fail = capacity.now;
      capacity.now = 0;
    } else if (action.type == ControlAction::Type::restore) {
      if (capacity.now == 0) capacity.now = capacity.before_fail;
    } else if (action.field == "capacity") {
      if (capacity.now > 0 && action.value == "0") capacity.before_fail = capacity.now;
      capacity.now = std::strtoul(action.value.c_str(), nullptr, 10);
    }
    if ((capacity.now > 0) == was_up) continue;
    for (NodeIndex balancer : upstream_[target]) {
      ControlAction health;
      health.type = ControlAction::Type::health;
      health.at = action.at;
      health.target = balancer;
      health.subject = target;
      health.healthy = capacity.now > 0;
      actions_.push_back(health);
    }
  }
}

NodeIndex Topology::index_of(const std::string& id) const {
  auto it = index_.find(id);
  return it == index_.end() ? kNoNode : it->second;
}

std::vector<NodeIndex> Topology::resolve(const std::string& id) const {
  if (auto group = groups_.find(id); group != groups_.end()) return group->second;
  if (auto node = index_of(id); node != kNoNode) return {node};
  return {};
}

const Sampler& Topology::link(NodeIndex from, NodeIndex to) const {
  auto it = links_.find(link_key(from, to));
  if (it == links_.end())
    throw std::logic_error("no link from '" + components_[from]->id() + "' to '" + components_[to]->id() + "'");
  return it->second;
}

bool Topology::linked(NodeIndex from, NodeIndex to) const { return links_.count(link_key(from, to)) != 0; }

void Topology::describe(v1::LogHeader& header) const {
  for (NodeIndex i = 0; i < components_.size(); ++i) {
    const auto& spec = components_[i]->spec();
    auto& info = *header.add_nodes();
    info.set_index(i);
    info.set_id(spec.id());
    info.set_kind(spec.kind());
    *info.mutable_position() = spec.position();
    info.set_group(spec.group());
  }
  for (const auto& path : paths_) header.add_paths(path);
}

}  // namespace flowframe
