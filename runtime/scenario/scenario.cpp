#include <cctype>
#include "runtime/scenario/scenario.hpp"

#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/text_format.h>

#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <fstream>
#include <limits>
#include <map>
#include <set>
#include <sstream>

#include "runtime/scenario/kind.hpp"
#include "runtime/scenario/regions.hpp"
#include "runtime/scenario/settings.hpp"
#include "runtime/base/limits.hpp"
#include "runtime/base/text.hpp"

namespace flowframe {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::TextFormat;

std::string join_lines(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& line : lines) out += (out.empty() ? "" : "\n") + line;
  return out;
}

class CollectErrors : public google::protobuf::io::ErrorCollector {
 public:
  CollectErrors(std::string file, std::vector<std::string>& out) : file_(std::move(file)), out_(out) {}
  void AddError(int line, google::protobuf::io::ColumnNumber column, const std::string& message) override {
    out_.push_back(file_ + ":" + std::to_string(line + 1) + ":" + std::to_string(column + 1) + ": " +
                   with_suggestion(message));
  }

 private:
  // Protobuf says `Message type "flowframe.v1.Node" has no field named "capasity".`; add the likely fix.
  static std::string with_suggestion(const std::string& message) {
    // Read by hand, not with std::regex: its recursion overflows the stack on a 40,000-character name.
    static const std::string kType = "Message type \"", kField = "\" has no field named \"";
    const auto type_start = message.find(kType);
    const auto type_end = type_start == std::string::npos ? type_start : message.find(kField, type_start + kType.size());
    const auto name_end = type_end == std::string::npos ? type_end : message.find('"', type_end + kField.size());
    if (name_end == std::string::npos) return printable(message, 300);
    const auto type_name = message.substr(type_start + kType.size(), type_end - type_start - kType.size());
    const auto field = message.substr(type_end + kField.size(), name_end - type_end - kField.size());
    const Descriptor* type = google::protobuf::DescriptorPool::generated_pool()->FindMessageTypeByName(type_name);
    const auto shown = printable(message, 300);
    if (type == nullptr || field.size() > limits::kIdentifierChars) return shown;
    std::vector<std::string> names;
    for (int i = 0; i < type->field_count(); ++i) names.push_back(type->field(i)->name());
    auto guess = closest_name(field, names);
    return guess.empty() ? shown : shown + " Did you mean \"" + guess + "\"?";
  }

  std::string file_;
  std::vector<std::string>& out_;
};

// Turns a field path in the written file into "file:line:column".
class Locator {
 public:
  Locator(std::string file, const TextFormat::ParseInfoTree* tree) : file_(std::move(file)), tree_(tree) {}

  struct Step {
    const char* field;
    int index = -1;
  };
  std::string at(std::initializer_list<Step> path) const { return at(std::vector<Step>(path)); }
  std::string at(const std::vector<Step>& path) const {
    const Descriptor* type = v1::Scenario::descriptor();
    const TextFormat::ParseInfoTree* tree = tree_;
    std::string best = file_;
    for (const auto& step : path) {
      if (tree == nullptr || type == nullptr) break;
      const auto* field = type->FindFieldByName(step.field);
      if (field == nullptr) break;
      // A list named without an index points at its first element; a single field has none.
      const int index = field->is_repeated() ? std::max(step.index, 0) : -1;
      const auto location = tree->GetLocation(field, index);
      if (location.line < 0) break;
      best = file_ + ":" + std::to_string(location.line + 1) + ":" + std::to_string(location.column + 1);
      if (field->type() != google::protobuf::FieldDescriptor::TYPE_MESSAGE) break;
      tree = tree->GetTreeForNested(field, index);
      type = field->message_type();
    }
    return best;
  }

 private:
  std::string file_;
  const TextFormat::ParseInfoTree* tree_;
};


bool valid_distribution(const v1::Distribution& d) {
  if (!(d.mean_ms() <= kDayMs && d.max_ms() <= kDayMs)) return false;  // beyond a day: no latency, an overflow
  switch (d.shape()) {
    case v1::Distribution::CONSTANT:
    case v1::Distribution::EXPONENTIAL: return d.mean_ms() > 0;
    case v1::Distribution::UNIFORM: return d.min_ms() >= 0 && d.max_ms() > 0 && d.max_ms() >= d.min_ms();
    case v1::Distribution::LOGNORMAL: return d.mean_ms() > 0 && d.sigma() > 0;
    case v1::Distribution::PARETO: return d.mean_ms() > 0 && d.alpha() > 1;
    default: return false;
  }
}

bool valid_id(const std::string& id) {
  if (id.empty() || id.size() > limits::kIdentifierChars) return false;
  for (char c : id)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') return false;
  return true;
}

class Validator {
 public:
  Validator(const v1::Scenario& written, const Locator& locate) : s_(written), at_(locate) {}

  std::vector<std::string> run() {
    check_regions();
    check_nodes();
    check_links();
    check_workload();
    check_stop();
    check_events();
    check_ranges();
    return problems_;
  }

 private:
  void problem(const std::string& where, const std::string& field, const std::string& message) {
    reported_at_.insert(where);
    auto text = where + ": " + field + ": " + message;
    // Members of a group share their written settings: one report for all.
    if (std::find(problems_.begin(), problems_.end(), text) == problems_.end()) problems_.push_back(std::move(text));
  }

  std::string node_field(int i, const char* params, const char* field) const {
    return params ? at_.at({{"nodes", i}, {params}, {field}}) : at_.at({{"nodes", i}, {field}});
  }

  void check_distribution(const v1::Distribution& d, const std::string& where, const std::string& field) {
    switch (d.shape()) {
      case v1::Distribution::CONSTANT:
      case v1::Distribution::EXPONENTIAL:
        if (!(d.mean_ms() > 0)) problem(where, field + ".mean_ms", "must be > 0 (got " + fmt_number(d.mean_ms()) + ")");
        break;
      case v1::Distribution::UNIFORM:
        if (d.min_ms() < 0) problem(where, field + ".min_ms", "must be >= 0 (got " + fmt_number(d.min_ms()) + ")");
        if (!(d.max_ms() > 0) || d.max_ms() < d.min_ms())
          problem(where, field + ".max_ms", "must be > 0 and >= min_ms");
        break;
      case v1::Distribution::LOGNORMAL:
        if (!(d.mean_ms() > 0)) problem(where, field + ".mean_ms", "must be > 0");
        if (!(d.sigma() > 0)) problem(where, field + ".sigma", "must be > 0");
        break;
      case v1::Distribution::PARETO:
        if (!(d.mean_ms() > 0)) problem(where, field + ".mean_ms", "must be > 0");
        if (!(d.alpha() > 1)) problem(where, field + ".alpha", "must be > 1 (the mean is infinite otherwise)");
        break;
      default:
        problem(where, field + ".shape", "unknown shape");
    }
  }

  // Every number finite and within its field's documented range (limits.proto), every text UTF-8.
  // Last, and only where the checks above found nothing, whose messages say more ("negative
  // latency"); together they leave nothing the run could overflow on.
  void check_ranges() {
    for (const auto& found : value_problems(s_)) {
      std::vector<Locator::Step> steps;
      for (const auto& [field, index] : found.path) steps.push_back({field->name().c_str(), index});
      const auto where = at_.at(steps);
      if (!reported_at_.count(where)) problem(where, found.field(), found.message);
    }
  }

  void check_regions() {
    for (int i = 0; i < s_.region_latencies_size(); ++i) {
      const auto& given = s_.region_latencies(i);
      const auto at = [&](const char* field) { return at_.at({{"region_latencies", i}, {field}}); };
      if (given.a().empty() || given.b().empty() || given.a() == given.b())
        problem(at(given.a().empty() ? "a" : "b"), "region_latencies", "needs two different regions, a and b");
      if (!(given.rtt_ms() > 0 && given.rtt_ms() <= kDayMs))
        problem(at("rtt_ms"), "region_latencies.rtt_ms", "must be above 0 and at most a day (86400000 ms), got " + fmt_number(given.rtt_ms()));
    }
    const auto regions = known_regions(s_);
    for (int i = 0; i < s_.nodes_size(); ++i) {
      const auto& region = s_.nodes(i).region();
      if (region.empty() || std::find(regions.begin(), regions.end(), region) != regions.end()) continue;
      const auto guess = closest_name(region, regions);
      problem(node_field(i, nullptr, "region"), "region",
              "unknown region '" + region + "'" + (guess.empty() ? "" : " (did you mean '" + guess + "'?)") +
                  ": `flowframe regions` lists the built-in ones; region_latencies adds your own");
    }
  }

  void check_nodes() {
    if (s_.nodes().empty()) problem(at_.at({}), "nodes", "a scenario needs nodes");
    std::uint64_t total_nodes = 0;
    for (int i = 0; i < s_.nodes_size(); ++i) {
      const auto& node = s_.nodes(i);
      const auto where = at_.at({{"nodes", i}});
      if (!valid_id(node.id())) {
        problem(node_field(i, nullptr, "id"), "id",
                "'" + printable(node.id()) + "' is not a valid id (1 to " + std::to_string(limits::kIdentifierChars) +
                    " letters, digits, '-' and '_')");
        continue;
      }
      const auto* kind = find_kind(node.kind());
      if (kind == nullptr) {
        problem(where, "kind", "node '" + node.id() + "' needs a kind: " + kind_list());
        continue;
      }
      if (node.params_case() != v1::Node::PARAMS_NOT_SET) {
        const auto* set = v1::Node::descriptor()->FindFieldByNumber(node.params_case());
        if (set->name() != kind->name)
          problem(at_.at({{"nodes", i}, {set->name().c_str()}}), set->name(),
                  "node '" + node.id() + "' is a " + v1::Node::Kind_Name(node.kind()) + ", it takes '" +
                      std::string(kind->name) + "' parameters");
      }
      if (!(node.timeout_ms() >= 0 && node.timeout_ms() <= kDayMs))
        problem(node_field(i, nullptr, "timeout_ms"), "timeout_ms", "must be from 0 (no timeout) to a day (86400000)");
      if (node.replicas() > limits::kReplicas) continue;  // reported by check_ranges; its ids are not listed
      total_nodes += std::max<std::uint64_t>(node.replicas(), 1);
      if (total_nodes > limits::kNodes) {
        problem(node_field(i, nullptr, node.replicas() ? "replicas" : "id"), "nodes",
                fmt::format("more than {} nodes with replicas counted: the most a scenario may have", limits::kNodes));
        break;
      }
      std::vector<std::string> ids;
      if (node.replicas() == 0) ids.push_back(node.id());
      for (std::uint32_t r = 1; r <= node.replicas(); ++r) ids.push_back(node.id() + "-" + std::to_string(r));
      groups_[node.id()] = i;
      if (!node.group().empty()) groups_[node.group()] = i;
      for (const auto& id : ids) {
        if (!ids_.emplace(id, i).second)
          problem(node_field(i, nullptr, "id"), "id", "duplicate node id '" + id + "'");
      }
    }
    // Components name other nodes: check them once every id is known.
    for (int i = 0; i < s_.nodes_size(); ++i)
      if (valid_id(s_.nodes(i).id())) check_component(i);
  }

  // The kind's own checks, each naming the field at fault.
  void check_component(int i) {
    if (const auto* kind = find_kind(s_.nodes(i).kind())) {
      Checks checks(*this, i);
      kind->check(checks);
    }
  }

  // What a kind's checks see of the scenario being validated.
  class Checks final : public NodeChecks {
   public:
    Checks(Validator& validator, int index) : v_(validator), index_(index) {}
    const v1::Node& node() const override { return v_.s_.nodes(index_); }
    std::string at(const std::vector<Step>& rest) const override {
      std::vector<Locator::Step> path{{"nodes", index_}};
      for (const auto& step : rest) path.push_back({step.field, step.index});
      return v_.at_.at(path);
    }
    void problem(const std::string& where, const std::string& field, const std::string& message) override {
      // A place without a line (a value from --set) does not say whose it is: name the node.
      const bool placed = where != v_.at_.at(std::vector<Locator::Step>{});
      v_.problem(where, placed ? field : node().id() + "." + field, message);
    }
    void distribution(const v1::Distribution& d, const std::string& where, const std::string& field) override {
      v_.check_distribution(d, where, field);
    }
    bool known(const std::string& id) const override { return v_.known(id); }
    v1::Node::Kind kind_of(const std::string& id) const override { return v_.kind_of(id); }
    bool linked(const std::string& from, const std::string& to) const override {
      const auto& self = node();
      // A member of a replicated group is linked wherever its group is.
      if (from == self.id() && !self.group().empty() && v_.linked_from(self.group(), to)) return true;
      return v_.linked_from(from, to);
    }
    const v1::Node* find(const std::string& id) const override {
      auto it = v_.ids_.find(id);
      if (it == v_.ids_.end()) it = v_.groups_.find(id);
      return it == v_.groups_.end() ? nullptr : &v_.s_.nodes(it->second);
    }
    std::vector<const v1::Node*> nodes() const override {
      std::vector<const v1::Node*> all;
      for (const auto& node : v_.s_.nodes()) all.push_back(&node);
      return all;
    }
    std::string unknown(const std::string& id) const override { return v_.unknown(id); }
    std::vector<std::string> request_paths() const override {
      std::vector<std::string> paths;
      const auto& workload = v_.s_.workload();
      for (const auto& path : workload.paths()) paths.push_back(request_path_name(path.method(), path.path()));
      if (paths.empty()) paths.push_back("GET /");
      for (const auto& item : workload.script())
        paths.push_back(request_path_name(item.method(), item.path().empty() ? "/" : item.path()));
      return paths;
    }

   private:
    Validator& v_;
    int index_;
  };


  // A link end or event target: a node id, a replicated group, or a member of one.
  bool known(const std::string& id) const { return ids_.count(id) || groups_.count(id); }
  // A node by id, or a member of a group.
  const v1::Node& first_node(const std::string& id) const {
    auto it = ids_.find(id);
    return s_.nodes(it != ids_.end() ? it->second : groups_.at(id));
  }
  v1::Node::Kind kind_of(const std::string& id) const {
    auto it = ids_.find(id);
    if (it != ids_.end()) return s_.nodes(it->second).kind();
    auto group = groups_.find(id);
    return group == groups_.end() ? v1::Node::KIND_UNSPECIFIED : s_.nodes(group->second).kind();
  }
  std::string unknown(const std::string& id) const {
    std::vector<std::string> names;
    for (const auto& [name, index] : groups_) names.push_back(name);
    for (const auto& [name, index] : ids_) names.push_back(name);
    auto guess = closest_name(id, names);
    return "unknown node '" + id + "'" + (guess.empty() ? "" : " (did you mean '" + guess + "'?)");
  }

  // The group a member belongs to ("server" for "server-2"), or the id itself.
  std::string group_of_id(const std::string& id) const {
    const auto it = ids_.find(id);
    if (it == ids_.end()) return id;
    const auto& node = s_.nodes(it->second);
    return node.replicas() > 0 ? node.id() : id;
  }

  // Whether a link goes from `from` (a node, group or member) to `to` (any node if empty).
  bool linked_from(const std::string& from, const std::string& to) const {
    auto group_of = [&](const std::string& id) {
      auto it = ids_.find(id);
      if (it == ids_.end()) return id;
      const auto& node = s_.nodes(it->second);  // written: the group itself; expanded: a member
      return node.group().empty() ? node.id() : node.group();
    };
    for (const auto& link : s_.links()) {
      const bool starts = link.from() == from || group_of(link.from()) == group_of(from);
      if (starts && (to.empty() || link.to() == to || group_of(link.to()) == group_of(to))) return true;
      const bool ends = link.to() == from || group_of(link.to()) == group_of(from);
      if (ends && !to.empty() && (link.from() == to || group_of(link.from()) == group_of(to))) return true;
    }
    return false;
  }

  // Why a link has no latency: its ends are in one region or none, or no round-trip time is known
  // between their two regions.
  std::string missing_latency(const v1::Link& link) const {
    const auto region = [&](const std::string& id) {
      const auto found = groups_.count(id) ? groups_.find(id) : ids_.find(id);
      const auto& ids = groups_.count(id) ? groups_ : ids_;
      return found == ids.end() ? std::string() : s_.nodes(found->second).region();
    };
    const auto a = region(link.from()), b = region(link.to());
    if (!a.empty() && !b.empty() && a != b)
      return "no round-trip time is known between " + a + " and " + b + ": give the link a latency or add region_latencies { a: \"" + a +
             "\" b: \"" + b + "\" rtt_ms: ... }";
    return "a link needs a latency (e.g. latency { mean_ms: 1 }), unless its ends are in two regions";
  }

  void check_links() {
    for (int i = 0; i < s_.links_size(); ++i) {
      const auto& link = s_.links(i);
      for (const char* end : {"from", "to"}) {
        const auto& id = std::string(end) == "from" ? link.from() : link.to();
        if (!known(id)) problem(at_.at({{"links", i}, {end}}), std::string("links.") + end, unknown(id));
      }
      if (link.from() == link.to())
        problem(at_.at({{"links", i}}), "links", "a link needs two different nodes");
      const auto where = at_.at({{"links", i}, {"latency"}});
      auto at = [&](const char* field) { return at_.at({{"links", i}, {"latency"}, {field}}); };
      if (!link.has_latency()) {
        problem(at_.at({{"links", i}}), "links.latency", missing_latency(link));
        continue;
      }
      const auto& latency = link.latency();
      if (latency.shape() == v1::Distribution::CONSTANT) {
        if (latency.mean_ms() < 0)
          problem(at("mean_ms"), "latency.mean_ms", "negative latency " + fmt_number(latency.mean_ms()) + " ms");
        else if (latency.mean_ms() == 0)
          problem(at("mean_ms"), "latency.mean_ms",
                  "zero-latency link: every link needs a positive latency (it is the lookahead that "
                  "lets nodes run in parallel)");
      } else if (latency.shape() == v1::Distribution::UNIFORM) {
        if (!(latency.min_ms() > 0))
          problem(at("min_ms"), "latency.min_ms", "a uniform link latency needs min_ms > 0 (got " + fmt_number(latency.min_ms()) + ")");
        if (latency.max_ms() < latency.min_ms()) problem(at("max_ms"), "latency.max_ms", "must be >= min_ms");
      } else {
        problem(where, "latency.shape", "links take CONSTANT or UNIFORM latency (a positive minimum is needed)");
      }
      // The link's minimum is its lookahead; far below a nanosecond it would round to zero.
      if (latency.shape() == v1::Distribution::CONSTANT && latency.mean_ms() > 0 && latency.mean_ms() < 1e-6)
        problem(at("mean_ms"), "latency.mean_ms", "below 1 ns");
    }
  }

  // Publishing clients name an exchange or a topic their target broker has.
  void check_publishing(const v1::Workload& w, const std::string& client) {
    const auto index_named = [&](const std::string& id) -> int {
      auto it = ids_.find(id);
      if (it == ids_.end()) it = groups_.find(id);
      return it == groups_.end() ? -1 : static_cast<int>(it->second);
    };
    const auto find = [&](const std::string& id) { return index_named(id) < 0 ? nullptr : &s_.nodes(index_named(id)); };
    const v1::Node* clients = find(client);
    if (!clients || !clients->client().has_publish()) return;
    std::string target = clients->client().target().empty() ? w.target() : clients->client().target();
    for (int l = 0; l < s_.links_size() && target.empty(); ++l) {
      if (s_.links(l).from() == client) target = s_.links(l).to();
      else if (s_.links(l).to() == client) target = s_.links(l).from();
    }
    const v1::Node* broker = find(target);
    if (!broker) return;  // reported with the workload's target
    const auto& publish = clients->client().publish();
    const auto where = [&](const char* field) {
      return at_.at({{"nodes", index_named(client)}, {"client"}, {"publish"}, {field}});
    };
    if (broker->kind() == v1::Node::QUEUE_BROKER) {
      const auto& exchanges = broker->queue_broker().exchanges();
      if (std::none_of(exchanges.begin(), exchanges.end(), [&](const v1::Exchange& e) { return e.name() == publish.exchange(); }))
        problem(where("exchange"), "client.publish.exchange",
                "'" + target + "' has no exchange '" + publish.exchange() + "'" + (publish.exchange().empty() ? " (a queue broker takes exchanges, not topics)" : ""));
    } else if (broker->kind() == v1::Node::LOG_BROKER) {
      const auto& topics = broker->log_broker().topics();
      if (std::none_of(topics.begin(), topics.end(), [&](const v1::Topic& t) { return t.name() == publish.topic(); }))
        problem(where("topic"), "client.publish.topic",
                "'" + target + "' has no topic '" + publish.topic() + "'" +
                    (broker->log_broker().follower_of().empty() ? "" : " (it is a follower: publish to its leader '" + broker->log_broker().follower_of() + "')"));
    } else {
      problem(where("exchange"), "client.publish", "'" + client + "' publishes, but its target '" + target + "' is not a broker");
    }
  }

  void check_workload() {
    if (!s_.has_workload()) {
      problem(at_.at({}), "workload", "missing workload (which clients send what, at what rate)");
      return;
    }
    const auto& w = s_.workload();
    const auto clients = workload_clients(w);
    if (clients.empty()) problem(at_.at({{"workload"}, {"clients"}}), "workload.clients", "missing: name the client node or group");
    for (std::size_t i = 0; i < clients.size(); ++i)
      for (std::size_t j = 0; j < i; ++j)
        if (clients[i] == clients[j] || group_of_id(clients[i]) == clients[j] || group_of_id(clients[j]) == clients[i])
          problem(at_.at({{"workload"}, {"clients"}}), "workload.clients", "'" + clients[i] + "' is named twice (itself or its group)");
    for (const auto& id : clients) {
      if (!known(id)) {
        problem(at_.at({{"workload"}, {"clients"}}), "workload.clients", unknown(id));
        continue;
      }
      if (kind_of(id) != v1::Node::CLIENT) {
        problem(at_.at({{"workload"}, {"clients"}}), "workload.clients", "'" + id + "' is not a CLIENT");
        continue;
      }
      // Its own target, else the workload's; with neither, any link will do.
      const auto& own = s_.nodes(static_cast<int>(ids_.count(id) ? ids_.at(id) : groups_.at(id))).client().target();
      const auto& target = own.empty() ? w.target() : own;
      if (!own.empty() && !known(own)) {
        problem(node_field(static_cast<int>(ids_.count(id) ? ids_.at(id) : groups_.at(id)), "client", "target"), "client.target", unknown(own));
        continue;
      }
      if (!linked_from(id, target))
        problem(at_.at({{"workload"}, {target.empty() ? "clients" : "target"}}), target.empty() ? "workload.clients" : "workload.target",
                "'" + id + "' has no link " + (target.empty() ? "to any node" : "to '" + target + "'") + "; add links { from: \"" + id +
                    "\" to: ... }");
    }
    const bool closed = w.arrival() == v1::Workload::CLOSED;
    if (closed && w.users() == 0)
      problem(at_.at({{"workload"}, {"users"}}), "workload.users", "a closed loop needs users >= 1");
    if (closed && w.has_think_time())
      check_distribution(w.think_time(), at_.at({{"workload"}, {"think_time"}}), "think_time");
    if (w.arrival() == v1::Workload::ON_OFF && !(w.on_s() > 0 && w.off_s() >= 0))
      problem(at_.at({{"workload"}, {"on_s"}}), "workload.on_s", "ON_OFF needs on_s > 0 and off_s >= 0");
    if (w.arrival() == v1::Workload::RAMP && !(w.ramp_s() > 0 && w.ramp_to() >= 0))
      problem(at_.at({{"workload"}, {"ramp_s"}}), "workload.ramp_s", "RAMP needs ramp_s > 0 and ramp_to >= 0");
    // Slower than this, the first arrival would lie beyond any run (and its time overflow).
    constexpr double kSlowestRate = 1e-6;
    for (const auto& [rate, field] : {std::pair{w.rate(), "rate"}, std::pair{w.ramp_to(), "ramp_to"}})
      if (rate > 0 && rate < kSlowestRate)
        problem(at_.at({{"workload"}, {field}}), std::string("workload.") + field,
                "below one request in 11 days (" + fmt_number(kSlowestRate) + " per second); use 0 or a larger rate");
    if (!closed && !(w.rate() > 0) && !(w.rate() == 0 && w.script_size() > 0))
      problem(at_.at({{"workload"}, {"rate"}}), "workload.rate",
              "must be > 0 requests per second (or 0 with scripted requests)");
    for (int k = 0; k < w.script_size(); ++k) check_script(k);
    for (int i = 0; i < w.paths_size(); ++i) {
      if (w.paths(i).keys() > 1'000'000 && w.paths(i).zipf_s() > 0)
        problem(at_.at({{"workload"}, {"paths", i}, {"keys"}}), "workload.paths.keys", "at most 1,000,000 with zipf_s");
      if (w.paths(i).zipf_s() < 0)
        problem(at_.at({{"workload"}, {"paths", i}, {"zipf_s"}}), "workload.paths.zipf_s", "must be >= 0");
      if (!valid_method(w.paths(i).method()))
        problem(at_.at({{"workload"}, {"paths", i}, {"method"}}), "workload.paths.method", "GET, PUT, POST or DELETE");
    }
    if (!w.target().empty() && !known(w.target()))
      problem(at_.at({{"workload"}, {"target"}}), "workload.target", unknown(w.target()));
    for (const auto& id : clients) check_publishing(w, id);
    for (int i = 0; i < w.paths_size(); ++i) {
      if (w.paths(i).path().empty() || w.paths(i).path()[0] != '/')
        problem(at_.at({{"workload"}, {"paths", i}}), "workload.paths.path", "a path starts with '/'");
      if (w.paths(i).weight() == 0)
        problem(at_.at({{"workload"}, {"paths", i}}), "workload.paths.weight", "must be >= 1");
    }
  }

  static bool valid_method(const std::string& method) {
    return method.empty() || method == "GET" || method == "PUT" || method == "POST" || method == "DELETE";
  }

  void check_script(int k) {
    const auto& item = s_.workload().script(k);
    auto at = [&](const char* field) { return at_.at({{"workload"}, {"script", k}, {field}}); };
    if (item.at_s() < 0) problem(at("at_s"), "workload.script.at_s", "must be >= 0");
    if (!item.client().empty() && kind_of(item.client()) != v1::Node::CLIENT)
      problem(at("client"), "workload.script.client",
              known(item.client()) ? "'" + item.client() + "' is not a CLIENT" : unknown(item.client()));
    if (!item.client().empty() && ids_.count(item.client()) == 0)
      problem(at("client"), "workload.script.client", "name one client node (e.g. client-1), not a group");
    if (!valid_method(item.method())) problem(at("method"), "workload.script.method", "GET, PUT, POST or DELETE");
    if (!item.has_valet()) return;
    const auto& valet = item.valet();
    auto valet_at = [&](const char* field) { return at_.at({{"workload"}, {"script", k}, {"valet"}, {field}}); };
    if (valet.object().empty()) problem(valet_at("object"), "workload.script.valet.object", "missing object key");
    if (!known(valet.storage()))
      problem(valet_at("storage"), "workload.script.valet.storage",
              valet.storage().empty() ? "missing: name the object storage node" : unknown(valet.storage()));
    else if (kind_of(valet.storage()) != v1::Node::OBJECT_STORAGE)
      problem(valet_at("storage"), "workload.script.valet.storage", "'" + valet.storage() + "' is not OBJECT_STORAGE");
    else {  // the item's client uploads straight to the storage; without one, the workload's first
      const auto clients = workload_clients(s_.workload());
      const auto& client = item.client().empty() ? (clients.empty() ? item.client() : clients.front()) : item.client();
      if (known(client) && !linked_from(client, valet.storage()))
        problem(valet_at("storage"), "workload.script.valet.storage",
                "'" + client + "' has no link to '" + valet.storage() + "'");
    }
  }

  void check_stop() {
    if (s_.workload().rate() == 0 && s_.workload().script_size() > 0) return;  // ends after the script
    if (s_.stop().requests() == 0 && !(s_.stop().duration_s() > 0))
      problem(at_.at({{"stop"}}), "stop", "set stop.requests or stop.duration_s so the run ends");
    if (s_.stop().duration_s() < 0) problem(at_.at({{"stop"}, {"duration_s"}}), "stop.duration_s", "must be >= 0");
    if (s_.stop().has_drain_s() && !(s_.stop().drain_s() >= 0 && s_.stop().drain_s() <= 86400))
      problem(at_.at({{"stop"}, {"drain_s"}}), "stop.drain_s", "must be from 0 to at most a day");
  }

  void check_events() {
    for (int i = 0; i < s_.events_size(); ++i) {
      const auto& event = s_.events(i);
      const auto where = at_.at({{"events", i}});
      if (event.at_s() < 0) problem(at_.at({{"events", i}, {"at_s"}}), "events.at_s", "must be >= 0");
      if (!known(event.node())) {
        problem(at_.at({{"events", i}, {"node"}}), "events.node", unknown(event.node()));
        continue;
      }
      const auto kind = kind_of(event.node());
      switch (event.action_case()) {
        case v1::TimedEvent::kSet: {
          const auto& field = event.set().field();
          if (!runtime_settable(kind, field)) {
            problem(at_.at({{"events", i}, {"set"}, {"field"}}), "events.set.field",
                    "'" + field + "' cannot change during a run on a " + v1::Node::Kind_Name(kind));
            break;
          }
          // Tried on the node it changes (a group: its first member), as the run will.
          v1::ControlRequest request;
          request.mutable_set()->set_field(field);
          request.mutable_set()->set_value(event.set().value());
          if (auto error = check_control(request, first_node(event.node())); !error.empty())
            problem(at_.at({{"events", i}, {"set"}, {"value"}}), "events.set.value", error);
          break;
        }
        case v1::TimedEvent::kFail:
        case v1::TimedEvent::kRestore: {
          v1::ControlRequest request;
          if (event.has_fail()) request.set_fail(true);
          else request.set_restore(true);
          v1::Node probe;
          probe.set_id(event.node());
          probe.set_kind(kind);
          if (auto error = check_control(request, probe); !error.empty()) problem(where, "events", error);
          break;
        }
        case v1::TimedEvent::kFault: {
          const auto& fault = event.fault();
          if (auto error = check_fault(fault); !error.empty())
            problem(at_.at({{"events", i}, {"fault"}}), "events.fault", error);
          else if (fault.has_link() && !known(fault.link().to()))
            problem(at_.at({{"events", i}, {"fault"}}), "events.fault.link.to", unknown(fault.link().to()));
          else if (fault.has_link() && !linked_from(event.node(), fault.link().to()) &&
                   !linked_from(fault.link().to(), event.node()))
            problem(at_.at({{"events", i}, {"fault"}}), "events.fault.link.to",
                    "no link between '" + event.node() + "' and '" + fault.link().to() + "'");
          else if (fault.link().has_latency() && smallest_minimum(fault.link().latency()) < smallest_link_latency())
            problem(at_.at({{"events", i}, {"fault"}}), "events.fault.link.latency",
                    "a link's latency can go no lower than the scenario's smallest link latency (" +
                        fmt_number(smallest_link_latency()) + " ms): it is the window nodes run in parallel in");
          break;
        }
        default:
          problem(where, "events", "an event needs an action: set { field value }, fail, restore or fault");
      }
    }
  }

  // The least a latency can be, in ms: links are constant or uniform.
  static double smallest_minimum(const v1::Distribution& d) {
    return d.shape() == v1::Distribution::CONSTANT ? d.mean_ms() : d.shape() == v1::Distribution::UNIFORM ? d.min_ms() : 0;
  }
  double smallest_link_latency() const {
    double smallest = std::numeric_limits<double>::infinity();
    for (const auto& link : s_.links()) smallest = std::min(smallest, smallest_minimum(link.latency()));
    return smallest;
  }

  const v1::Scenario& s_;
  const Locator& at_;
  std::map<std::string, int> ids_;     // every concrete node id -> written node index
  std::map<std::string, int> groups_;  // every written id (group or single) -> written index
  std::vector<std::string> problems_;
  std::set<std::string> reported_at_;
};

v1::Scenario expand_replicas(const v1::Scenario& written) {
  v1::Scenario flat = written;
  flat.clear_nodes();
  double centre_x = 0;
  for (const auto& node : written.nodes()) centre_x += node.position().x() / std::max(1, written.nodes_size());
  for (const auto& node : written.nodes()) {
    if (node.replicas() == 0) {
      *flat.add_nodes() = node;
      continue;
    }
    for (std::uint32_t r = 1; r <= node.replicas(); ++r) {
      auto& member = *flat.add_nodes();
      member = node;
      member.set_id(node.id() + "-" + std::to_string(r));
      member.set_group(node.id());
      member.set_replicas(0);
      // Members stack below the group's position so the canvas shows them all; a large group
      // becomes a square grid, growing away from the middle of the topology.
      const std::uint32_t rows = node.replicas() <= 8 ? node.replicas() : static_cast<std::uint32_t>(std::ceil(std::sqrt(node.replicas())));
      const double outward = node.position().x() < centre_x ? -1.0 : 1.0;
      member.mutable_position()->set_x(node.position().x() + outward * ((r - 1) / rows) * 1.2);
      member.mutable_position()->set_y(node.position().y() + ((r - 1) % rows) * 1.0);
    }
  }
  return flat;
}

// Unset optional parameters get their documented defaults, so every reader of the scenario
// (components, the log header, the viewer) sees the values the run used.
void apply_defaults(v1::Scenario& flat) {
  for (auto& node : *flat.mutable_nodes()) find_kind(node.kind())->defaults(node);
  if (!flat.stop().has_drain_s()) flat.mutable_stop()->set_drain_s(60);
}

// NODE.FIELD=VALUE split at its first dot and its first equals sign; nullopt if it is not of that form.
struct Setting {
  std::string target, field, value;
};
std::optional<Setting> split_setting(const std::string& text) {
  const auto equals = text.find('=');
  const auto dot = text.find('.');
  if (equals == std::string::npos || dot == std::string::npos || dot > equals) return std::nullopt;
  return Setting{text.substr(0, dot), text.substr(dot + 1, equals - dot - 1), text.substr(equals + 1)};
}

// `--set server.replicas=64` changes how many members a written node has, so it applies before
// the replicas are expanded; the other settings apply to each member after. Returns the rest.
std::vector<std::string> apply_replica_overrides(v1::Scenario& written, const std::vector<std::string>& overrides) {
  std::vector<std::string> rest, problems;
  for (const auto& text : overrides) {
    const auto setting = split_setting(text);
    if (!setting || setting->field != "replicas") {
      rest.push_back(text);
      continue;
    }
    const auto& [target, field, value] = *setting;
    v1::Node* node = nullptr;
    for (auto& candidate : *written.mutable_nodes())
      if (candidate.id() == target) node = &candidate;
    if (!node) {
      rest.push_back(text);  // a member's id or a typo: the general path names the problem
      continue;
    }
    std::uint32_t replicas = 0;
    const auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), replicas);
    if (error != std::errc() || end != value.data() + value.size() || replicas > limits::kReplicas) {
      problems.push_back(fmt::format("--set {}: replicas must be a whole number from 0 to {}", text, limits::kReplicas));
      continue;
    }
    node->set_replicas(replicas);
  }
  // Counted before the members are made, as the file's own replicas are.
  std::uint64_t total = 0;
  for (const auto& node : written.nodes()) total += std::max<std::uint32_t>(node.replicas(), 1);
  if (total > limits::kNodes)
    problems.push_back(fmt::format("--set: {} nodes with replicas counted, more than {}, the most a scenario may have", total, limits::kNodes));
  if (!problems.empty()) throw ScenarioError(problems);
  return rest;
}

void apply_overrides(v1::Scenario& flat, const std::vector<std::string>& overrides) {
  std::vector<std::string> problems;
  for (const auto& text : overrides) {
    const auto where = "--set " + text;
    const auto setting = split_setting(text);
    if (!setting) {
      problems.push_back(where + ": expected NODE.FIELD=VALUE (e.g. server-2.capacity=0 or workload.rate=900)");
      continue;
    }
    const auto& [target, field, value] = *setting;
    if (target == "workload" || target == "stop") {
      auto& message = target == "workload" ? static_cast<google::protobuf::Message&>(*flat.mutable_workload())
                                           : static_cast<google::protobuf::Message&>(*flat.mutable_stop());
      if (auto error = apply_setting(message, field, value); !error.empty()) problems.push_back(where + ": " + error);
      continue;
    }
    int matched = 0;
    std::vector<std::string> names{"workload", "stop"};
    for (auto& node : *flat.mutable_nodes()) {
      names.push_back(node.id());
      if (!node.group().empty()) names.push_back(node.group());
      if (node.id() != target && node.group() != target) continue;
      ++matched;
      if (field == "replicas") {  // a written node's replicas were applied before expansion
        problems.push_back(where + ": replicas is set on a written node (e.g. server.replicas=64), not on one member");
        break;
      }
      // Fields of the kind's parameters first (capacity, strategy), then of the node itself.
      auto& params = node_params(node);
      auto error = apply_setting(params, field, value);
      if (!error.empty()) {
        // Then the node's own fields; where the path starts with one ("client.publish.acks",
        // "timeout_ms"), its error is the one that says what is wrong.
        const auto node_error = apply_setting(node, field, value);
        const auto first = field.substr(0, field.find_first_of(".["));
        if (node_error.empty()) error.clear();
        else if (!params.GetDescriptor()->FindFieldByName(first) && v1::Node::descriptor()->FindFieldByName(first)) error = node_error;
      }
      if (!error.empty()) {
        problems.push_back(where + ": " + error);
        break;
      }
    }
    if (matched == 0) {
      auto guess = closest_name(target, names);
      problems.push_back(where + ": unknown node '" + target + "'" +
                         (guess.empty() ? "" : " (did you mean '" + guess + "'?)"));
    }
  }
  if (!problems.empty()) throw ScenarioError(problems);
}

}  // namespace

ScenarioError::ScenarioError(const std::vector<std::string>& problems)
    : std::runtime_error(join_lines(problems)), problems_(problems) {}

google::protobuf::Message& node_params(v1::Node& node) {
  const auto* kind = find_kind(node.kind());
  if (kind == nullptr) throw std::invalid_argument("node '" + node.id() + "' has no kind with parameters");
  const auto* field = v1::Node::descriptor()->FindFieldByName(std::string(kind->name));
  return *node.GetReflection()->MutableMessage(&node, field);
}

bool runtime_settable(v1::Node::Kind kind, const std::string& field) {
  const auto* description = find_kind(kind);
  if (description == nullptr) return false;
  const auto last = std::string_view(field).substr(field.rfind('.') == std::string::npos ? 0 : field.rfind('.') + 1);
  for (const auto& fixed : description->fixed)
    if (last == fixed) return false;
  for (const auto& settable : description->settable)
    // "service_time." and "dependencies[" name every field below them.
    if (settable.back() == '.' || settable.back() == '[' ? field.rfind(settable, 0) == 0 : field == settable) return true;
  return false;
}

std::vector<std::string> workload_clients(const v1::Workload& workload) {
  std::vector<std::string> names;
  std::string_view rest = workload.clients();
  while (!rest.empty()) {
    const auto comma = rest.find(',');
    auto name = rest.substr(0, comma);
    while (!name.empty() && name.front() == ' ') name.remove_prefix(1);
    while (!name.empty() && name.back() == ' ') name.remove_suffix(1);
    if (!name.empty()) names.emplace_back(name);
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
  }
  return names;
}

v1::Scenario parse_scenario(const std::string& text, const std::string& source_name,
                            const std::vector<std::string>& overrides) {
  std::vector<std::string> problems;
  CollectErrors collector(source_name, problems);
  TextFormat::Parser parser;
  TextFormat::ParseInfoTree tree;
  parser.RecordErrorsTo(&collector);
  parser.WriteLocationsTo(&tree);
  v1::Scenario written;
  if (!parser.ParseFromString(text, &written)) {
    if (problems.empty()) problems.push_back(source_name + ": not a valid scenario text file");
    throw ScenarioError(problems);
  }
  Locator locate(source_name, &tree);
  fill_region_latencies(written);
  if (auto found = Validator(written, locate).run(); !found.empty()) throw ScenarioError(found);

  const auto member_overrides = apply_replica_overrides(written, overrides);
  v1::Scenario flat = expand_replicas(written);
  if (flat.name().empty()) flat.set_name("scenario");
  apply_defaults(flat);
  apply_overrides(flat, member_overrides);
  // Overrides may have set bad values; check again, now naming the --set arguments. The
  // description says what changed, so nobody takes the run for the scenario as written.
  if (!overrides.empty()) {
    flat.set_description(flat.description() + " (changed: --set " + join(overrides, ", --set ") + ")");
    Locator plain("after --set " + join_lines(overrides), nullptr);
    if (auto found = Validator(flat, plain).run(); !found.empty()) throw ScenarioError(found);
  }
  return flat;
}

v1::Scenario load_scenario(const std::string& source, const std::vector<std::string>& overrides) {
  const auto read = read_scenario(source);
  return parse_scenario(read.text, read.name, overrides);
}

ScenarioSource read_scenario(const std::string& source) {
  for (const auto& builtin : builtin_scenarios())
    if (builtin.name == source) return {builtin.text, builtin.name + ".textproto"};
  std::ifstream file(source, std::ios::binary);
  if (!file) {
    std::vector<std::string> names;
    for (const auto& builtin : builtin_scenarios()) names.push_back(builtin.name);
    auto guess = closest_name(source, names);
    throw ScenarioError({source + ": no such file and no built-in scenario of that name" +
                         (guess.empty() ? "" : " (did you mean '" + guess + "'?)") +
                         "; `flowframe scenarios` lists the built-ins"});
  }
  // Read no more than a scenario may hold: `flowframe run /dev/zero` must end, with a reason.
  std::string text(limits::kScenarioBytes + 1, '\0');
  file.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(file.gcount()));
  if (text.size() > limits::kScenarioBytes)
    throw ScenarioError({source + ": larger than " + std::to_string(limits::kScenarioBytes >> 20) +
                         " MiB, the most a scenario file may hold (docs/LIMITS.md)"});
  return {text, source};
}

namespace {

// The kinds that take a live command, for messages: "servers".
std::string kinds_taking(v1::ControlRequest::CommandCase command) {
  std::string names;
  for (const auto* kind : kind_descriptions())
    for (const auto& [taken, check] : kind->commands)
      if (taken == command) names += (names.empty() ? "" : " and ") + std::string(kind->name) + "s";
  return names.empty() ? "no kind" : names;
}

std::string command_name(v1::ControlRequest::CommandCase command) {
  return v1::ControlRequest::descriptor()->FindFieldByNumber(command)->name();
}

// A command only some kinds take (fail on servers, burst on clients), checked by the kind.
std::string check_kind_command(const v1::ControlRequest& request, const v1::Node& node) {
  const auto command = request.command_case();
  if (const auto* kind = find_kind(node.kind()))
    for (const auto& [taken, check] : kind->commands)
      if (taken == command) return check ? check(request) : "";
  return command_name(command) + " applies to " + kinds_taking(command) + "; '" + node.id() + "' is not one";
}

}  // namespace

namespace {

// A kind's checks on one node by itself: other nodes count as known and linked, so only the node's
// own values are judged (what a change during a run may break). Problems read "field: message".
class AloneChecks final : public NodeChecks {
 public:
  explicit AloneChecks(const v1::Node& node) : node_(node) {}
  const v1::Node& node() const override { return node_; }
  std::string at(const std::vector<Step>&) const override { return ""; }
  void problem(const std::string&, const std::string& field, const std::string& message) override {
    problems.push_back(field + ": " + message);
  }
  void distribution(const v1::Distribution& d, const std::string&, const std::string& field) override {
    if (!valid_distribution(d)) problems.push_back(field + ": not a valid distribution");
  }
  bool known(const std::string&) const override { return true; }
  v1::Node::Kind kind_of(const std::string&) const override { return v1::Node::KIND_UNSPECIFIED; }
  bool linked(const std::string&, const std::string&) const override { return true; }
  const v1::Node* find(const std::string&) const override { return nullptr; }
  std::vector<const v1::Node*> nodes() const override { return {}; }
  std::string unknown(const std::string& id) const override { return "unknown node '" + id + "'"; }
  std::vector<std::string> request_paths() const override { return {}; }
  std::vector<std::string> problems;

 private:
  const v1::Node& node_;
};

std::vector<std::string> own_problems(const v1::Node& node) {
  AloneChecks checks(node);
  for (const auto& found : value_problems(node)) checks.problems.push_back(found.field() + ": " + found.message);
  if (const auto* kind = find_kind(node.kind())) kind->check(checks);
  return checks.problems;
}

}  // namespace

std::string check_control(const v1::ControlRequest& request, const v1::Node& node) {
  switch (request.command_case()) {
    case v1::ControlRequest::kSet: {
      if (!runtime_settable(node.kind(), request.set().field()))
        return "'" + request.set().field() + "' cannot change during a run on " + node.id();
      v1::Node probe = node;
      if (auto error = apply_setting(node_params(probe), request.set().field(), request.set().value()); !error.empty())
        return node.id() + ": " + error;
      // The kind's own checks judge the value as they would in a file: only what the change adds counts.
      find_kind(node.kind())->defaults(probe);
      const auto before = own_problems(node);
      for (const auto& problem : own_problems(probe))
        if (std::find(before.begin(), before.end(), problem) == before.end()) return node.id() + ": " + problem;
      return "";
    }
    case v1::ControlRequest::kFault:
      return check_fault(request.fault());
    case v1::ControlRequest::kPause:
    case v1::ControlRequest::kResume:
    case v1::ControlRequest::kStep:
    case v1::ControlRequest::kSpeed:
    case v1::ControlRequest::COMMAND_NOT_SET:
      return "not a change to a node";
    case v1::ControlRequest::kFail:
    case v1::ControlRequest::kRestore:
    case v1::ControlRequest::kBurst:
    case v1::ControlRequest::kUpload:
      return check_kind_command(request, node);
  }
  return "not a change to a node";
}

std::string check_fault(const v1::Fault& fault) {
  if (const auto found = value_problems(fault); !found.empty()) return found[0].field() + " " + found[0].message;
  switch (fault.verb_case()) {
    case v1::Fault::kCrash:
    case v1::Fault::kRestart: return "";
    case v1::Fault::kPauseS:
      return fault.pause_s() > 0 && fault.pause_s() <= 86400 ? "" : "pause_s must be > 0 and at most a day (got " + fmt_number(fault.pause_s()) + ")";
    case v1::Fault::kSlow:
      return fault.slow() > 0 && fault.slow() <= 1e6 ? "" : "slow must be > 0 (1: normal speed; got " + fmt_number(fault.slow()) + ")";
    case v1::Fault::kLink: {
      const auto& link = fault.link();
      if (link.to().empty()) return "link.to: name the node at the link's other end";
      switch (link.change_case()) {
        case v1::LinkFault::kPartition:
        case v1::LinkFault::kHeal: return "";
        case v1::LinkFault::kLoss:
          return link.loss() >= 0 && link.loss() <= 1 ? "" : "link.loss is a probability from 0 to 1 (got " + fmt_number(link.loss()) + ")";
        case v1::LinkFault::kLatency:
          return valid_distribution(link.latency()) ? "" : "link.latency is not a valid distribution";
        default: return "a link fault needs partition, heal, loss or latency";
      }
    }
    default: return "a fault needs crash, restart, pause_s, slow or link";
  }
}

std::string log_file_stem(const std::string& scenario_name) {
  std::string stem;
  for (const char c : scenario_name.substr(0, limits::kIdentifierChars))
    stem += std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' ? c : '_';
  stem.erase(0, stem.find_first_not_of('.'));
  return stem.empty() ? std::string("run") : stem;
}

std::pair<v1::ValetUpload::Misuse, std::string> valet_misuse(const std::string& name) {
  v1::ValetUpload::Misuse misuse = v1::ValetUpload::NONE;
  if (v1::ValetUpload::Misuse_Parse(uppercase(name), &misuse)) return {misuse, ""};
  return {misuse, "unknown misuse '" + name + "': none, after_expiry, tampered, other_key, read_with_write_token"};
}

}  // namespace flowframe
