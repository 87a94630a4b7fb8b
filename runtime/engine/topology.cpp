#include "runtime/engine/topology.hpp"

#include <algorithm>
#include <stdexcept>

#include "runtime/base/text.hpp"
#include "runtime/scenario/kind.hpp"
#include "runtime/scenario/scenario.hpp"

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
    : scenario_(scenario), seed_(seed), factory_(factory) {
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
  for (const auto& path : workload.paths()) {
    paths_.push_back(request_path_name(path.method(), path.path()));
    path_weights_.push_back(path.weight());
    id_samplers_.emplace_back(path.keys(), path.zipf_s());
  }
  if (paths_.empty()) {
    paths_.push_back("GET /");
    path_weights_.push_back(1);
    id_samplers_.emplace_back();
  }
  // Paths components send on their own (a health checker's probes).
  for (const auto& node : scenario_.nodes())
    if (const auto* kind = find_kind(node.kind()))
      for (const auto& name : kind->paths(node))
        if (std::find(paths_.begin(), paths_.end(), name) == paths_.end()) {
          paths_.push_back(name);
          id_samplers_.emplace_back();
        }
  for (const auto& name : workload_clients(workload)) {
    const auto members = resolve(name);
    clients_.insert(clients_.end(), members.begin(), members.end());
  }
  auto path_named = [&](const std::string& name) {
    auto found = std::find(paths_.begin(), paths_.end(), name);
    if (found != paths_.end()) return static_cast<std::uint32_t>(found - paths_.begin());
    paths_.push_back(name);
    id_samplers_.emplace_back();
    return static_cast<std::uint32_t>(paths_.size() - 1);
  };
  for (const auto& item : workload.script()) {
    const auto path = item.path().empty() ? "/" : item.path();
    Scripted scripted{from_seconds(item.at_s()), item.client().empty() ? clients_.front() : index_of(item.client()),
                      path_named(request_path_name(item.method(), path)), item.id(), item.has_valet() ? &item.valet() : nullptr};
    if (item.has_valet()) {
      scripted.storage = index_of(item.valet().storage());
      const bool reads = item.valet().misuse() == v1::ValetUpload::READ_WITH_WRITE_TOKEN;
      scripted.upload_path = path_named(request_path_name(reads ? "GET" : "PUT", path));
    }
    scripted.poison = item.poison();
    script_.push_back(scripted);
  }
  for (NodeIndex client : clients_) {
    const auto& own = specs[client]->client().target();
    NodeIndex target = !own.empty() ? index_of(own) : !workload.target().empty() ? index_of(workload.target()) : kNoNode;
    if (target == kNoNode && own.empty() && workload.target().empty() && !downstream_[client].empty()) target = downstream_[client].front();
    if (target == kNoNode)
      throw std::invalid_argument("workload: client '" + specs[client]->id() + "' links to no node; add a link or set workload.target");
    client_targets_[client] = target;
    if (!linked(client, target))
      throw std::invalid_argument("workload: client '" + specs[client]->id() + "' has no link to its target '" + specs[target]->id() + "'");
  }

  components_.push_back(std::make_unique<Director>(director_spec(), kDirector, seed_));
  for (NodeIndex i = 1; i < specs.size(); ++i) {
    components_.push_back(factory(*specs[i], i, *this));
    components_.back()->runtime_.call_timeout = from_millis(specs[i]->timeout_ms());
  }
  std::vector<v1::TimedEvent> events(scenario_.events().begin(), scenario_.events().end());
  std::stable_sort(events.begin(), events.end(), [](const auto& a, const auto& b) { return a.at_s() < b.at_s(); });
  for (const auto& event : events) add_actions(event);
  // Actions at the same time keep scenario order: their index is the director's sequence number.
  std::stable_sort(actions_.begin(), actions_.end(),
                   [](const ControlAction& a, const ControlAction& b) { return a.at < b.at; });
}

void Topology::add_actions(const v1::TimedEvent& event) {
  // Scripted events are checked by the loader; a plan error here would be a loader bug.
  for (NodeIndex target : resolve(event.node()))
    if (auto error = plan(event, target, from_seconds(event.at_s()), actions_, foreseen_); !error.empty())
      throw std::invalid_argument("event at " + std::to_string(event.at_s()) + " s on " + event.node() + ": " + error);
}

std::string Topology::plan(const v1::TimedEvent& change, NodeIndex target, Time at, std::vector<ControlAction>& out,
                           std::unordered_map<NodeIndex, ForeseenHealth>& health) const {
  std::vector<ControlAction> planned;
  ControlAction action;
  action.at = at;
  action.target = target;
  if (change.has_set()) {
    action.field = change.set().field();
    action.value = change.set().value();
  } else if (change.has_fail() || change.has_restore()) {
    action.type = change.has_fail() ? ControlAction::Type::fail : ControlAction::Type::restore;
  } else if (change.has_fault()) {
    const auto& fault = change.fault();
    switch (fault.verb_case()) {
      case v1::Fault::kCrash: action.type = ControlAction::Type::crash; break;
      case v1::Fault::kRestart: action.type = ControlAction::Type::restart; break;
      case v1::Fault::kPauseS:
        action.type = ControlAction::Type::pause;
        action.duration = from_seconds(fault.pause_s());
        action.value = fmt_number(fault.pause_s());
        break;
      case v1::Fault::kSlow:
        action.type = ControlAction::Type::slow;
        action.factor = fault.slow();
        action.value = fmt_number(fault.slow());
        break;
      case v1::Fault::kLink: {
        const auto& link = fault.link();
        const NodeIndex far = index_of(link.to());
        if (far == kNoNode) return "no node '" + link.to() + "'";
        if (!linked(target, far)) return "no link between " + spec(target).id() + " and " + link.to();
        action.type = ControlAction::Type::link;
        switch (link.change_case()) {
          case v1::LinkFault::kPartition: action.field = "cut"; break;
          case v1::LinkFault::kHeal: action.field = "heal"; break;
          case v1::LinkFault::kLoss:
            action.field = "loss";
            action.factor = link.loss();
            action.value = fmt_number(link.loss());
            break;
          case v1::LinkFault::kLatency: {
            action.field = "latency";
            action.latency.emplace(link.latency());
            if (action.latency->minimum() < lookahead_)
              return "a link's latency cannot go below the scenario's smallest link latency (" +
                     fmt_number(to_millis(lookahead_)) + " ms)";
            action.value = link.latency().ShortDebugString();
            break;
          }
          default: return "a link fault needs partition, heal, loss or latency";
        }
        if (link.direction() != v1::LinkFault::INBOUND) {
          action.subject = far;
          planned.push_back(action);
        }
        if (link.direction() != v1::LinkFault::OUTBOUND) {
          action.target = far;
          action.subject = target;
          planned.push_back(action);
        }
        break;
      }
      default: return "a fault needs crash, restart, pause_s, slow or link";
    }
  } else {
    return "a change needs set, fail, restore or fault";
  }
  if (planned.empty()) planned.push_back(action);
  for (const auto& step : planned) {
    out.push_back(step);
    const auto& node = component(step.target);
    if (node.health_rule() == nullptr) continue;
    auto known = health.find(step.target);
    if (known == health.end())
      known = health.emplace(step.target, ForeseenHealth{node.health_rule()->clone(), node.runtime().crashed}).first;
    auto& foreseen = known->second;
    const bool was_up = !foreseen.crashed && foreseen.rule->healthy();
    if (step.type == ControlAction::Type::crash) {
      foreseen.crashed = true;
      // The node comes back as its scenario describes it.
      foreseen.rule = factory_(spec(step.target), step.target, *this)->health_rule()->clone();
    } else if (step.type == ControlAction::Type::restart) {
      foreseen.crashed = false;
    } else {
      foreseen.rule->apply(step);
    }
    const bool up = !foreseen.crashed && foreseen.rule->healthy();
    if (up != was_up) add_health_notices(step.target, up, at, out);
  }
  return "";
}

void Topology::add_health_notices(NodeIndex node, bool healthy, Time at, std::vector<ControlAction>& out) const {
  for (NodeIndex balancer : upstream_[node]) {
    if (!component(balancer).takes_ideal_health()) continue;
    ControlAction health;
    health.type = ControlAction::Type::health;
    health.at = at;
    health.target = balancer;
    health.subject = node;
    health.healthy = healthy;
    out.push_back(health);
  }
}

Component& Topology::rebuild(NodeIndex index) {
  auto fresh = factory_(spec(index), index, *this);
  components_[index]->survive_crash(*fresh);
  fresh->runtime_ = std::move(components_[index]->runtime_);
  components_[index] = std::move(fresh);
  return *components_[index];
}

std::uint32_t Topology::path_index(const std::string& name) const {
  const auto found = std::find(paths_.begin(), paths_.end(), name);
  if (found == paths_.end()) throw std::logic_error("no path '" + name + "'");
  return static_cast<std::uint32_t>(found - paths_.begin());
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
