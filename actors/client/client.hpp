#pragma once
#include <deque>
#include <map>
#include <set>

#include <unordered_map>

#include "runtime/engine/distribution.hpp"

#include "actors/common/breakers.hpp"
#include "actors/common/components.hpp"
#include "actors/log_broker/log.hpp"

namespace flowframe {

class Client final : public Component {
 public:
  Client(const v1::Node& spec, NodeIndex index, const Topology& topology);
  void start(Context& context) override;
  void handle(const Event& event, Context& context) override;
  std::string apply(ControlAction& action, Context& context) override;
  std::uint32_t load() const override { return static_cast<std::uint32_t>(sent_ - completed_ - failed_); }
  void snapshot(v1::NodeState& state) const override;
  void survive_crash(Component& fresh) const override;
  bool rich() const override { return guarded_; }
  std::size_t state_size_hint() const override { return guarded_ ? 64 + 8 * breakers_.cells() : 0; }
  const LatencyHistogram* latencies() const override { return &latencies_; }

  std::uint64_t sent() const { return sent_; }
  std::uint64_t completed() const { return completed_; }
  std::uint64_t failed() const { return failed_; }
  const std::map<std::uint16_t, std::uint64_t>& by_status() const { return by_status_; }
  const std::string& ip() const { return ip_; }

 private:
  // Time to the next arrival; kFarTime or more when none will come (a ramp down to rate 0, a rate
  // of one request in years).
  Time next_gap(Context& context);
  void schedule_tick(Time delay, Context& context);
  std::uint32_t pick_path(Context& context);
  Event new_request(std::uint32_t path, std::uint64_t id, Context& context);
  void send_request(std::uint32_t path, std::uint64_t id, Context& context, bool poison = false);
  void start_valet(const Topology::Scripted& item, Context& context);
  std::string start_live_upload(const std::string& misuse, Context& context);
  void valet_token(const Event& response, Context& context);
  void valet_upload(std::uint64_t request, Context& context);
  // Counts the answer; says what the frame should add (a read that broke read-your-writes).
  std::string finish(const Event& response, Context& context);
  std::string check_read_your_writes(const Event& response, Context& context);
  // A request under retries or a breaker: what each attempt repeats.
  struct Attempts {
    Event request;  // as first made: path, id, creation time
    std::uint32_t attempt = 1;
    Time sent = 0;   // the present attempt's
    Time delay = 0;  // the backoff before it
    std::optional<std::uint32_t> epoch;  // the breaker's, when it let the attempt through
  };
  void configure_guards();
  void make_attempt(std::uint64_t request, Context& context);
  void attempt_ended(std::uint64_t request, const Event& event, Context& context);
  // The final answer to a request, or its timeout (counted as 504).
  void answered(const Event& event, Context& context);
  // The request's final answer: counted, framed, and its closed-loop user thinks again.
  void conclude(const Event& answer, Outcome outcome, const std::string& note, Context& context);
  std::shared_ptr<const v1::Payload> publication(Event& request, bool poison);
  std::string describe(const Event& request) const;
  void follow_leader(const Event& answer, Context& context);
  // Sends a request made now: to its target, under retries and the breaker if it has them.
  void dispatch(Event request, Context& context);
  // DNS: a lookup at the resolver on behalf of `request`, and its answer.
  void look_up(const Event& request, Context& context);
  void looked_up(const Event& answer, Context& context);

  // A valet-key flow under way: its script entry and, once issued, the token.
  struct ValetFlow {
    const Topology::Scripted* item;
    Event request;
    v1::UploadToken token;
  };

  const Topology* topology_ = nullptr;
  std::vector<const Topology::Scripted*> script_;
  std::map<std::uint64_t, ValetFlow> valet_;
  // Uploads started by live controls; deques keep the addresses flows point at.
  std::deque<v1::ValetUpload> live_valets_;
  std::deque<Topology::Scripted> live_uploads_;
  bool active_ = false;
  std::string ip_;
  NodeIndex target_ = kNoNode;
  // A log broker producer: the replicas it can reach (it moves to the leader), and since when it
  // sends to the current one.
  std::vector<NodeIndex> replicas_;
  NodeIndex layout_from_ = kNoNode;  // the replica whose scenario entry lists the topics
  Time target_since_ = 0;
  v1::Workload::Arrival arrival_ = v1::Workload::POISSON;
  Time on_ = 0, off_ = 0, on_clock_ = 0;  // ON_OFF
  Time ramp_ = 1;                         // RAMP
  double ramp_ratio_ = 1;
  std::uint32_t users_ = 0;               // CLOSED
  Sampler think_;
  std::set<std::uint64_t> closed_loop_;   // requests whose user waits for the answer
  double mean_gap_ = 0;
  Time first_at_ = 0;
  std::uint64_t quota_ = UINT64_MAX;
  Time stop_at_ = kTimeNever;
  std::vector<std::uint64_t> cumulative_weights_;
  std::uint64_t sent_ = 0;
  std::uint64_t generated_ = 0;
  Time first_sent_ = 0;
  Time last_answer_ = 0;
  std::uint64_t completed_ = 0;
  std::uint64_t failed_ = 0;
  std::map<std::uint16_t, std::uint64_t> by_status_;
  // Read-your-writes, as a session token would check it: by row id, the version its last
  // answered write made and when the answer came.
  struct OwnWrite {
    std::uint64_t version;
    Time answered;
  };
  std::unordered_map<std::uint64_t, OwnWrite> own_writes_;
  std::uint64_t read_your_writes_broken_ = 0;
  LatencyHistogram latencies_;
  bool guarded_ = false;
  Retrier retrier_;
  Breakers breakers_;  // at most one: towards its target
  std::unordered_map<std::uint64_t, Attempts> attempts_;  // by request number
  std::uint32_t next_partition_ = 0;  // a keyless producer's partitions in turn
  // A client with a resolver sends where its last answer said until the answer expires; requests
  // made while it looks up wait for the answer.
  NodeIndex resolver_ = kNoNode;
  Time resolved_until_ = 0;
  std::optional<std::uint32_t> lookup_call_;
  std::vector<Event> awaiting_lookup_;
};

}  // namespace flowframe
