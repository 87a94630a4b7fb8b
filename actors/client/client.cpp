// Client: generates the workload (its share of the total rate and request count) and measures
// each request's end-to-end latency when the response comes back.
#include "actors/client/client.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "actors/common/routing.hpp"
#include "actors/log_broker/cluster.hpp"
#include "runtime/scenario/scenario.hpp"

namespace flowframe {

std::string client_ip(const v1::Node& spec, std::size_t position) {
  if (!spec.client().ip().empty()) return spec.client().ip();
  return "10.0." + std::to_string((position + 1) / 256) + "." + std::to_string((position + 1) % 256);
}

namespace {
// Timer arguments: 0 is the next generated request, kScripted + k the k-th scripted one,
// kUpload + n the delayed upload of valet flow n.
constexpr std::int64_t kScripted = 1;
constexpr std::int64_t kUpload = std::int64_t{1} << 40;
}  // namespace

Client::Client(const v1::Node& spec, NodeIndex index, const Topology& topology)
    : Component(spec, index, topology.seed()), topology_(&topology), retrier_(spec.client().retry()) {
  for (const auto& item : topology.script())
    if (item.client == index) script_.push_back(&item);
  const auto& clients = topology.clients();
  const auto found = std::find(clients.begin(), clients.end(), index);
  if (found == clients.end()) return;  // a client node the workload does not use stays idle
  const auto position = static_cast<std::size_t>(found - clients.begin());
  const auto count = clients.size();
  const auto& workload = topology.scenario().workload();
  const auto& stop = topology.scenario().stop();
  ip_ = client_ip(spec, position);
  active_ = true;
  target_ = topology.target_of(index);
  if (!spec.client().resolver().empty()) {
    resolver_ = topology.index_of(spec.client().resolver());
    target_ = kNoNode;  // until the resolver answers
  }
  if (target_ != kNoNode && topology.spec(target_).kind() == v1::Node::LOG_BROKER) {
    replicas_ = reachable_replicas(topology, index, target_);
    layout_from_ = log_cluster(topology, target_).front();
  }
  arrival_ = workload.arrival();
  mean_gap_ = workload.rate() > 0 ? static_cast<double>(count) / workload.rate() * kNanosPerSecond : 0;
  on_ = from_seconds(workload.on_s());
  off_ = from_seconds(workload.off_s());
  ramp_ = from_seconds(workload.ramp_s());
  ramp_ratio_ = workload.rate() > 0 ? workload.ramp_to() / workload.rate() : 1;
  if (arrival_ == v1::Workload::CLOSED) {
    users_ = workload.users() / count + (position < workload.users() % count ? 1 : 0);
    think_ = Sampler(workload.think_time());
  }
  // The first request of each client is staggered so steady clients do not fire in lockstep.
  first_at_ = saturated_time(mean_gap_ * static_cast<double>(position) / static_cast<double>(count));
  if (workload.rate() <= 0 && arrival_ != v1::Workload::CLOSED) quota_ = 0;  // scripted requests only
  else if (stop.requests() > 0)
    quota_ = stop.requests() / count + (position < stop.requests() % count ? 1 : 0);
  stop_at_ = stop.duration_s() > 0 ? from_seconds(stop.duration_s()) : kTimeNever;
  std::uint64_t total = 0;
  for (auto weight : topology.path_weights()) cumulative_weights_.push_back(total += weight);
  configure_guards();
}

// Retries and the breaker follow the client's parameters (again after a live change).
void Client::configure_guards() {
  const auto& params = spec_.client();
  retrier_.reconfigure(params.retry());
  if (params.has_breaker() && target_ != kNoNode) {
    if (breakers_.empty()) breakers_.add(params.breaker(), target_);
    else breakers_.at(0).reconfigure(params.breaker());
  }
  guarded_ = retrier_.enabled() || !breakers_.empty();
}

void Client::start(Context& context) {
  for (std::size_t k = 0; k < script_.size(); ++k) {
    Event tick;
    tick.kind = EventKind::timer;
    tick.silent = true;
    tick.arg = kScripted + static_cast<std::int64_t>(k);
    context.schedule(script_[k]->at, tick);
  }
  if (!active_ || quota_ == 0) return;
  if (arrival_ == v1::Workload::CLOSED) {
    for (std::uint32_t user = 0; user < users_; ++user) schedule_tick(think_.sample(context.rng()), context);
    return;
  }
  if (const Time gap = arrival_ != v1::Workload::STEADY ? next_gap(context) : std::max<Time>(first_at_, 1); gap < kFarTime)
    schedule_tick(gap, context);
}

void Client::schedule_tick(Time delay, Context& context) {
  Event tick;
  tick.kind = EventKind::timer;
  tick.silent = true;
  context.schedule(delay, tick);
}

Time Client::next_gap(Context& context) {
  const Time now = context.now();
  // Gaps saturate at kFarTime (a rate of one request in years): no arrival, not an overflow to 1 ns.
  auto exponential = [&](double mean) { return std::max<Time>(1, saturated_time(context.rng().exponential(mean))); };
  switch (arrival_) {
    case v1::Workload::STEADY:
      return std::max<Time>(1, saturated_time(mean_gap_));
    case v1::Workload::ON_OFF: {
      // A Poisson stream in "on" time, laid out over on / off cycles of real time.
      on_clock_ = std::min(on_clock_ + exponential(mean_gap_), kFarTime);
      const Time cycles = on_clock_ / on_, within = on_clock_ % on_;
      // In doubles: a short "on" and a long "off" multiply past what nanoseconds hold.
      const double at = static_cast<double>(cycles) * static_cast<double>(on_ + off_) + static_cast<double>(within);
      if (at >= static_cast<double>(kFarTime)) return kTimeNever;
      return std::max<Time>(1, static_cast<Time>(at) - now);
    }
    case v1::Workload::RAMP: {
      // Thinning (Lewis & Shedler): candidates at the highest rate, kept with probability rate(t) / highest.
      // Past the ramp the rate stays at ramp_to: a plain Poisson stream from the ramp's end on (none
      // at rate 0), since thinning at a rate near 0 would draw candidates almost for ever.
      const double top = std::max(1.0, ramp_ratio_);
      Time at = now, from = now;
      while (at < ramp_) {
        at += exponential(mean_gap_ / top);
        if (at >= ramp_) {
          from = ramp_;  // the candidate beyond the ramp is dropped; the plain stream starts at its end
          break;
        }
        const double ratio = 1.0 + (ramp_ratio_ - 1.0) * static_cast<double>(at) / static_cast<double>(ramp_);
        if (context.rng().next_double() * top < ratio) return at - now;
      }
      if (ramp_ratio_ <= 0) return kTimeNever;
      return from + exponential(mean_gap_ / ramp_ratio_) - now;
    }
    default:
      return exponential(mean_gap_);
  }
}

// A new request from this client, numbered and stamped; the caller adds a payload and sends it.
Event Client::new_request(std::uint32_t path, std::uint64_t id, Context& context) {
  Event request;
  request.kind = EventKind::request;
  request.client = index();
  request.request = ++sent_;
  request.created = context.now();
  request.path = path;
  request.id = id;
  if (sent_ == 1) first_sent_ = context.now();
  return request;
}

// A publishing client's message: to a queue broker, its exchange and routing key; to a log
// broker, its topic, key and partition (the key's, else the next in turn) and acks. "{id}" in a
// key takes the request's id.
std::shared_ptr<const v1::Payload> Client::publication(Event& request, bool poison) {
  const auto& publish = spec_.client().publish();
  auto payload = std::make_shared<v1::Payload>();
  const auto with_id = [&](std::string key) {
    if (const auto at = key.find("{id}"); at != std::string::npos) key.replace(at, 4, std::to_string(request.id));
    return key;
  };
  if (!publish.topic().empty()) {
    const messaging::TopicLayout layout(topology_->spec(layout_from_ == kNoNode ? target_ : layout_from_).log_broker());
    const auto partitions = layout.partitions(publish.topic());
    payload->set_op(v1::Payload::PRODUCE);
    payload->set_topic(publish.topic());
    payload->set_key(with_id(publish.key()));
    payload->set_acks(publish.acks());
    const auto partition = payload->key().empty() ? next_partition_++ % std::max<std::uint32_t>(1, partitions)
                                                  : messaging::partition_for_key(payload->key(), partitions);
    payload->set_partition(partition);
    // A topic the broker does not have: no partition, and the broker says so (404).
    if (const auto first = layout.first(publish.topic())) request.partition = *first + partition + 1;
    return payload;
  }
  payload->set_op(v1::Payload::PUBLISH);
  payload->set_exchange(publish.exchange());
  payload->set_routing_key(with_id(publish.routing_key()));
  payload->set_poison(poison || (publish.poison_every() > 0 && request.request % publish.poison_every() == 0));
  return payload;
}

std::string Client::describe(const Event& request) const {
  std::string name = topology_->paths()[request.path];
  if (const auto at = name.find("{id}"); at != std::string::npos) name.replace(at, 4, std::to_string(request.id));
  if (request.payload && request.payload->op() == v1::Payload::PUBLISH)
    name += fmt::format(" (publishes to {} as '{}'{})", request.payload->exchange(), request.payload->routing_key(),
                        request.payload->poison() ? ", poison" : "");
  if (request.payload && request.payload->op() == v1::Payload::PRODUCE)
    name += fmt::format(" (produces to {}/{}{})", request.payload->topic(), request.payload->partition(),
                        request.payload->key().empty() ? "" : " key " + request.payload->key());
  return name;
}

void Client::send_request(std::uint32_t path, std::uint64_t id, Context& context, bool poison) {
  Event request = new_request(path, id, context);
  if (spec_.client().has_publish()) request.payload = publication(request, poison);
  if (request.payload && request.payload->op() == v1::Payload::PRODUCE && request.payload->acks() == v1::Publish::NONE) {
    // acks=0: nothing comes back; the producer counts it as sent (202) and moves on.
    context.notify(target_, request);
    Event sent = request;
    sent.status = 202;
    return conclude(sent, Outcome::delegated, "sends " + describe(request) + " without waiting (acks=0)", context);
  }
  if (resolver_ != kNoNode && context.now() >= resolved_until_) {
    awaiting_lookup_.push_back(request);
    if (lookup_call_) return context.decide(Outcome::queued, resolver_, describe(request) + " waits for the lookup under way");
    return look_up(request, context);
  }
  dispatch(request, context);
}

void Client::look_up(const Event& request, Context& context) {
  auto query = std::make_shared<v1::Payload>();
  query->set_op(v1::Payload::RESOLVE);
  Event lookup = request;
  lookup.payload = std::move(query);
  lookup_call_ = context.call(resolver_, lookup);
  context.decide(Outcome::delegated, resolver_,
                 fmt::format("{}: asks {} where to send ({})", describe(request), topology_->spec(resolver_).id(),
                             target_ == kNoNode ? "no answer yet" : "its answer expired"));
}

// The resolver's answer: kept for its TTL, and every request that waited for it is sent. Without
// one (no answer in time, an error) the last answer is used a little longer; with none, they fail.
void Client::looked_up(const Event& answer, Context& context) {
  lookup_call_.reset();
  auto waiting = std::move(awaiting_lookup_);
  awaiting_lookup_.clear();
  const bool ok = answer.kind == EventKind::response && answer.status == 200 && answer.payload && answer.payload->op() == v1::Payload::RESOLVE;
  std::string note;
  if (ok) {
    target_ = answer.payload->node();
    resolved_until_ = context.now() + answer.payload->ttl_ns();
    note = fmt::format("{} answers {} for {}", topology_->spec(resolver_).id(), topology_->spec(target_).id(), duration_text(answer.payload->ttl_ns()));
  } else if (target_ != kNoNode) {
    resolved_until_ = context.now() + kNanosPerSecond;
    note = fmt::format("the lookup failed ({}): keeps sending to {} for 1 s", answer.kind == EventKind::timeout ? "no answer" : std::to_string(answer.status),
                       topology_->spec(target_).id());
  } else {
    for (auto request : waiting) {
      request.status = 503;
      conclude(request, Outcome::gave_up, "the lookup failed and it knows no address: counted as 503", context);
    }
    return context.decide(Outcome::gave_up, resolver_, fmt::format("the lookup failed: {} requests fail", waiting.size()));
  }
  for (auto& request : waiting) dispatch(std::move(request), context);
  context.decide(Outcome::applied, target_, fmt::format("{}; sends the {} waiting", note, waiting.size()));
}

void Client::dispatch(Event request, Context& context) {
  if (!guarded_) {
    context.call(target_, request);
    return context.decide(Outcome::delegated, target_, "sends " + describe(request));
  }
  retrier_.on_first_attempt(context.now());
  Attempts attempts;
  attempts.request = request;
  attempts_.emplace(request.request, std::move(attempts));
  make_attempt(request.request, context);
}

void Client::make_attempt(std::uint64_t number, Context& context) {
  auto& attempts = attempts_.at(number);
  if (!breakers_.empty()) {
    attempts.epoch = breakers_.acquire(0);
    if (!attempts.epoch) {
      if (attempts.attempt > 1) retrier_.retry_not_sent();
      std::string how;
      Event answer = attempts.request;
      answer.status = breakers_.fallback(0, request_key(answer), how);
      attempts_.erase(number);
      return conclude(answer, Outcome::short_circuited, breakers_.describe(0, context) + ": " + how, context);
    }
  }
  attempts.sent = context.now();
  context.call(target_, attempts.request);
  std::string note = "sends " + describe(attempts.request);
  if (retrier_.enabled()) note += fmt::format(" (attempt {} of {})", attempts.attempt, retrier_.max_attempts());
  context.decide(Outcome::delegated, target_, note);
}

// An attempt's answer or timeout: recorded by the breaker, then retried or concluded.
void Client::attempt_ended(std::uint64_t number, const Event& event, Context& context) {
  auto& attempts = attempts_.at(number);
  const bool timed_out = event.kind == EventKind::timeout;
  Event answer = event;
  if (timed_out) answer.status = 504;
  if (attempts.epoch)
    breakers_.record(0, *attempts.epoch, answer.status, timed_out, context.now() - attempts.sent,
                     request_key(attempts.request), context);
  const auto decision = retry_after_failure(retrier_, event, answer.status, attempts.attempt, attempts.delay,
                                            static_cast<std::int64_t>(number), context);
  if (decision.retry) return context.decide(Outcome::retry_scheduled, kNoNode, decision.why);
  attempts_.erase(number);
  if (!decision.why.empty()) return conclude(answer, Outcome::gave_up, decision.why, context);
  answered(event, context);
}

void Client::answered(const Event& event, Context& context) {
  if (event.kind != EventKind::timeout) return conclude(event, Outcome::completed, "", context);
  Event timed_out = event;
  timed_out.status = 504;
  conclude(timed_out, Outcome::timed_out, "no answer in time: counted as 504", context);
}

void Client::conclude(const Event& answer, Outcome outcome, const std::string& note, Context& context) {
  const auto broken = finish(answer, context);
  context.decide(outcome, kNoNode, broken.empty() ? note : note.empty() ? broken : note + "; " + broken);
  // A closed-loop user thinks, then sends again.
  if (closed_loop_.erase(answer.request)) schedule_tick(std::max<Time>(1, think_.sample(context.rng())), context);
}

// A producer to a log broker goes where the leader is: to the replica a "not the leader" answer
// names, else (the replica knows no leader, crashed or did not answer) to the next one it can reach.
void Client::follow_leader(const Event& answer, Context& context) {
  if (replicas_.size() < 2) return;
  const bool timed_out = answer.kind == EventKind::timeout;
  if (!timed_out && !(answer.kind == EventKind::response && answer.status == 503)) return;
  if (timed_out && answer.created < target_since_) return;  // sent to an earlier replica
  NodeIndex named = kNoNode;
  if (!timed_out && answer.payload && answer.payload->op() == v1::Payload::NOT_LEADER) {
    if (answer.payload->node() == target_) return;  // the leader itself, short of in-sync replicas
    named = answer.payload->node() == 0 ? kNoNode : answer.payload->node();
  } else if (!timed_out && answer.src != target_) {
    return;
  }
  target_ = next_replica(replicas_, target_, named);
  target_since_ = context.now();
}

void Client::handle(const Event& event, Context& context) {
  // A client serves nothing, but a link may still bring it a request (a balancer with a link back
  // to its clients): it is answered, so its sender counts it failed instead of losing it.
  if (event.kind == EventKind::request) return refuse_request(event, 501, Outcome::no_route, "501 a client serves no requests", context);
  if (breakers_.handle(event, context)) return;
  if ((event.kind == EventKind::response || event.kind == EventKind::timeout) && lookup_call_ && event.call == *lookup_call_)
    return looked_up(event, context);
  follow_leader(event, context);
  if (event.kind == EventKind::timer && event.status == kRetryTimer) {
    if (attempts_.count(static_cast<std::uint64_t>(event.arg))) make_attempt(static_cast<std::uint64_t>(event.arg), context);
    return;
  }
  if ((event.kind == EventKind::timeout || event.kind == EventKind::response) && attempts_.count(event.request))
    return attempt_ended(event.request, event, context);
  if (event.kind == EventKind::timer) {
    if (event.arg >= kUpload) return valet_upload(static_cast<std::uint64_t>(event.arg - kUpload), context);
    if (event.arg >= kScripted) {
      const auto& item = *script_[static_cast<std::size_t>(event.arg - kScripted)];
      if (item.valet) return start_valet(item, context);
      return send_request(item.path, item.id, context, item.poison);
    }
    if (generated_ >= quota_ || context.now() >= stop_at_)
      return context.decide(Outcome::none, kNoNode, "stops sending: the workload is done");
    ++generated_;
    const auto path = pick_path(context);
    send_request(path, topology_->ids(path).sample(context.rng()), context);
    if (arrival_ == v1::Workload::CLOSED) closed_loop_.insert(sent_);  // its user waits for the answer
    else if (generated_ < quota_) {
      if (const Time gap = next_gap(context); gap < kFarTime) schedule_tick(gap, context);
    }
    return;
  }
  if (event.kind == EventKind::timeout) {
    valet_.erase(event.request);
    answered(event, context);
  } else if (event.kind == EventKind::response) {
    auto flow = valet_.find(event.request);
    if (flow != valet_.end() && flow->second.token.signature().empty() && event.status == 200)
      return valet_token(event, context);
    if (flow != valet_.end()) valet_.erase(flow);
    answered(event, context);
  }
}

std::string Client::finish(const Event& response, Context& context) {
  latencies_.record(context.now() - response.created);
  last_answer_ = context.now();
  if (response.status >= 200 && response.status < 300) ++completed_;
  else ++failed_;
  ++by_status_[response.status];
  if (response.status >= 200 && response.status < 300 && response.payload && response.payload->has_version())
    return check_read_your_writes(response, context);
  return "";
}

// A read made after this client's write of the row was answered must see that write or a later one.
std::string Client::check_read_your_writes(const Event& response, Context& context) {
  const auto version = response.payload->version();
  if (!topology_->is_read(response.path)) {
    auto& own = own_writes_[response.id];
    if (version >= own.version) own = OwnWrite{version, context.now()};
    return "";
  }
  const auto own = own_writes_.find(response.id);
  if (own == own_writes_.end() || version >= own->second.version || response.created < own->second.answered) return "";
  ++read_your_writes_broken_;
  return fmt::format("read-your-writes broken: got v{} of row {}, though its own write made v{} {} before it asked", version,
                     response.id, own->second.version, duration_text(response.created - own->second.answered));
}

// Step 1 of the valet-key flow: ask the token service for an upload token.
void Client::start_valet(const Topology::Scripted& item, Context& context) {
  Event request = new_request(item.path, item.id, context);
  auto payload = std::make_shared<v1::Payload>();
  payload->set_op(v1::Payload::ISSUE_TOKEN);
  payload->set_key(item.valet->object());
  request.payload = std::move(payload);
  valet_[request.request] = ValetFlow{&item, request, {}};
  context.call(target_, request);
  context.decide(Outcome::delegated, target_, "asks for an upload token for " + item.valet->object());
}

// Step 2: the token arrived; upload now, or later when misbehaving on purpose.
void Client::valet_token(const Event& response, Context& context) {
  auto& flow = valet_.at(response.request);
  flow.token = response.payload ? response.payload->token() : v1::UploadToken{};
  if (flow.token.signature().empty()) {
    valet_.erase(response.request);
    return answered(response, context);
  }
  if (flow.item->valet->misuse() == v1::ValetUpload::AFTER_EXPIRY) {
    Event wait;
    wait.kind = EventKind::timer;
    wait.silent = true;
    wait.arg = kUpload + static_cast<std::int64_t>(response.request);
    context.schedule(flow.token.expires_ns() - context.now() + kNanosPerSecond, wait);
    context.decide(Outcome::delegated, kNoNode, "token received; waiting until it has expired");  // not done: the upload follows
    return;
  }
  valet_upload(response.request, context);
}

void Client::valet_upload(std::uint64_t request_number, Context& context) {
  auto& flow = valet_.at(request_number);
  const auto& valet = *flow.item->valet;
  auto payload = std::make_shared<v1::Payload>();
  payload->set_op(v1::Payload::PUT);
  payload->set_bucket(flow.token.bucket());
  payload->set_key(valet.object());
  payload->set_size(valet.size_bytes());
  *payload->mutable_token() = flow.token;
  switch (valet.misuse()) {
    case v1::ValetUpload::TAMPERED:  // widen the token to another key, keeping the old signature
      payload->mutable_token()->set_key("other-" + valet.object());
      payload->set_key("other-" + valet.object());
      break;
    case v1::ValetUpload::OTHER_KEY:
      payload->set_key("other-" + valet.object());
      break;
    case v1::ValetUpload::READ_WITH_WRITE_TOKEN:
      payload->set_op(v1::Payload::READ);
      payload->set_size(0);
      break;
    default:
      break;
  }
  static const char* const kHow[] = {"uploads straight to storage", "uploads with its expired token",
                                     "uploads with a tampered token", "uploads to another key than its token's",
                                     "tries to read with its write token"};
  const auto& object = payload->key();
  context.decide(Outcome::delegated, flow.item->storage,
                 std::string(kHow[static_cast<int>(valet.misuse()) % 5]) + ": " + object);
  Event upload = flow.request;
  upload.path = flow.item->upload_path;
  upload.payload = std::move(payload);
  context.call(flow.item->storage, upload);
}

// A valet-key upload on demand, like the script's own, to the storage the script uploads to.
std::string Client::start_live_upload(const std::string& misuse_name, Context& context) {
  const auto scripted = std::find_if(script_.begin(), script_.end(), [](const Topology::Scripted* item) { return item->valet; });
  if (scripted == script_.end()) return "this client has no valet-key flow to upload with";
  const auto [misuse, error] = valet_misuse(misuse_name);
  if (!error.empty()) return error;
  auto& valet = live_valets_.emplace_back(*(*scripted)->valet);
  valet.set_object(fmt::format("live-{}.png", live_valets_.size()));
  valet.set_misuse(misuse);
  auto& item = live_uploads_.emplace_back(**scripted);
  item.at = context.now();
  item.valet = &valet;
  start_valet(item, context);
  return "";
}

std::uint32_t Client::pick_path(Context& context) {
  if (cumulative_weights_.size() <= 1) return 0;
  const auto roll = context.rng().below(cumulative_weights_.back());
  return static_cast<std::uint32_t>(
      std::upper_bound(cumulative_weights_.begin(), cumulative_weights_.end(), roll) - cumulative_weights_.begin());
}

std::string Client::apply(ControlAction& action, Context& context) {
  if (action.field == "upload") return start_live_upload(action.value, context);
  if (action.field.rfind("retry.", 0) == 0 || action.field.rfind("breaker.", 0) == 0) {
    auto params = spec_.client();
    action.previous = read_setting(params, action.field);
    if (auto error = apply_setting(params, action.field, action.value); !error.empty()) return error;
    *spec_.mutable_client() = params;
    find_kind(v1::Node::CLIENT)->defaults(spec_);
    configure_guards();
    return "";
  }
  // A burst: this many extra requests right now (live control), on top of the workload.
  if (action.field != "burst" || !active_) return "a client has no setting '" + action.field + "'";
  const auto count = std::strtoull(action.value.c_str(), nullptr, 10);
  for (std::uint64_t i = 0; i < count; ++i) {
    const auto path = pick_path(context);
    send_request(path, topology_->ids(path).sample(context.rng()), context);
  }
  return "";
}

void Client::survive_crash(Component& fresh) const {
  auto& restarted = static_cast<Client&>(fresh);
  // Request numbers go on, so a restarted client's requests stay distinct in the log.
  restarted.sent_ = sent_;
  restarted.generated_ = generated_;
  restarted.completed_ = completed_;
  restarted.failed_ = failed_;
  restarted.by_status_ = by_status_;
  restarted.read_your_writes_broken_ = read_your_writes_broken_;
  restarted.latencies_ = latencies_;
  restarted.first_sent_ = first_sent_;
  restarted.last_answer_ = last_answer_;
  restarted.retrier_.carry_counts(retrier_);  // totals go on; its settings are the scenario's again
}

void Client::snapshot(v1::NodeState& state) const {
  state.set_load(load());
  state.set_handled(completed_);
  state.set_rejected(failed_);
  auto& client = *state.mutable_client();
  client.set_ip(ip_);
  client.set_sent(sent_);
  client.set_completed(completed_);
  client.set_failed(failed_);
  for (const auto& [status, count] : by_status_) (*client.mutable_by_status())[status] = count;
  client.set_first_sent_ns(first_sent_);
  client.set_last_answer_ns(last_answer_);
  client.set_read_your_writes_broken(read_your_writes_broken_);
  if (retrier_.enabled()) retrier_.snapshot(*state.mutable_retries());
  breakers_.snapshot(state);
}

namespace {

std::unique_ptr<Component> make_client(const v1::Node& spec, NodeIndex index, const Topology& topology) {
  return std::make_unique<Client>(spec, index, topology);
}

const KindDescription kClient{
    .kind = v1::Node::CLIENT,
    .name = "client",
    .defaults =
        [](v1::Node& node) {
          auto& client = *node.mutable_client();
          if (client.has_retry()) fill_defaults(*client.mutable_retry());
          if (client.has_breaker()) fill_defaults(*client.mutable_breaker());
        },
    .check =
        [](NodeChecks& c) {
          const auto& client = c.node().client();
          if (client.has_retry())
            check_retry(c, client.retry(), {{"client"}, {"retry"}}, "retry.");
          if (client.has_breaker()) check_breaker(c, client.breaker(), {{"client"}, {"breaker"}}, "breaker.");
          if (client.has_publish() && client.publish().exchange().empty() == client.publish().topic().empty())
            c.problem(c.at({{"client"}, {"publish"}}), "client.publish",
                      "name either an exchange (a queue broker's) or a topic (a log broker's)");
          if (!client.resolver().empty()) {
            const auto at = c.at({{"client"}, {"resolver"}});
            const auto* resolver = c.find(client.resolver());
            if (!resolver) return c.problem(at, "client.resolver", c.unknown(client.resolver()));
            if (resolver->kind() != v1::Node::TRAFFIC_MANAGER)
              return c.problem(at, "client.resolver", "'" + client.resolver() + "' is not a traffic manager");
            if (!c.linked(c.node().id(), client.resolver()))
              c.problem(at, "client.resolver", "'" + c.node().id() + "' has no link to '" + client.resolver() + "'");
            for (const auto& endpoint : resolver->traffic_manager().endpoints())
              if (!c.linked(c.node().id(), endpoint))
                c.problem(at, "client.resolver", "'" + c.node().id() + "' has no link to '" + endpoint + "', which '" + client.resolver() +
                                                     "' may answer");
            if (client.has_breaker() || client.has_publish() || !client.target().empty())
              c.problem(at, "client.resolver", "a client that looks its target up takes no target, breaker or publish");
          }
        },
    .settable = {"burst", "retry.", "breaker."},
    .commands = {{v1::ControlRequest::kBurst, nullptr},
                 {v1::ControlRequest::kUpload,
                  [](const v1::ControlRequest& request) { return valet_misuse(request.upload()).second; }}},
    .metrics =
        [](const v1::NodeState& state, Time, nlohmann::ordered_json& node) {
          if (state.client().read_your_writes_broken()) node["read_your_writes_broken"] = state.client().read_your_writes_broken();
        },
    .detail =
        [](const nlohmann::ordered_json& node, std::vector<std::string>& parts) {
          if (node.contains("read_your_writes_broken"))
            parts.push_back(fmt::format("read-your-writes broken {} times", node["read_your_writes_broken"].get<std::uint64_t>()));
        },
};
FLOWFRAME_KIND(kClient, make_client);

}  // namespace

}  // namespace flowframe
