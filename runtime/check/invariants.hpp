#pragma once
// `flowframe check`: what must hold in any run, checked from its frames alone. A ledger follows
// every message of every queue broker through the frames (deliveries, acks, nacks, dead letters,
// returns after a consumer was gone) and reports, per broker, whether each invariant held and the
// figures behind it. Frames are fed in log order; feed() is separate from reading so tests can
// hand it frames a correct run never makes.
#include <nlohmann/json.hpp>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "flowframe/v1/frame.pb.h"
#include "runtime/framelog/frame_log.hpp"

namespace flowframe {

struct Invariant {
  std::string name;
  bool holds = true;
  std::string detail;  // the figures, or the first violations
};

struct CheckReport {
  std::vector<Invariant> invariants;
  nlohmann::ordered_json figures = nlohmann::ordered_json::object();  // per broker
  std::vector<std::string> log_problems;  // a damaged log: checked as far as it reads
  bool ok() const;
};

class MessageLedger {
 public:
  explicit MessageLedger(const v1::LogHeader& header);
  void feed(const FrameView& view);
  // A chunk's keyframe: the states it holds must agree with what the frames before it said.
  void keyframe(const v1::Keyframe& keyframe);
  CheckReport report() const;

 private:
  // A log broker cluster's partitions and groups as its frames tell them: the log is the current
  // leader's (an election truncates it to what the new leader has).
  // The producing client, its request and the request's path: an event service publishes several
  // events for one request (its saga), each with a path of its own.
  using RecordOf = std::tuple<std::uint32_t, std::uint64_t, std::uint32_t>;
  struct Log {
    std::string id;
    std::uint32_t leader = 0;
    std::size_t partitions = 0;
    // Each replica's log (by flat partition, by offset), followed through its appends, its copies
    // from its leader and its truncations; the cluster's log is the current leader's.
    std::map<std::uint32_t, std::vector<std::vector<RecordOf>>> replicas;
    const std::vector<std::vector<RecordOf>>& records() const { return replicas.at(leader); }
    std::uint64_t elections = 0, truncated = 0, deposed_appends = 0;
    bool followed = true;  // false: a copy or a truncation frame had no state to follow it by
    std::map<std::string, std::map<std::uint32_t, std::uint64_t>> committed;  // group -> flat -> offset
    std::map<std::string, std::uint32_t> rebalances;  // group -> assignments its members received so far
    std::map<std::string, std::uint32_t> generations;  // group -> its generation in the broker's latest state
    std::uint64_t keyframes = 0;
    std::vector<std::string> disagreements;  // "at frame 16384: orders/1 log end 412 in the state, 411 from frames"
    std::set<RecordOf> acked_all, acked_one;  // answered 201 to producers with acks=all, acks=1
  };
  struct Processed {
    std::uint32_t times = 0;
    std::uint32_t rebalances_then = 0;  // the group's assignments when it was first processed
    bool by_zombie = false;             // first processed by a member that had lost the partition
  };
  struct LogConsumer {
    std::uint32_t broker;
    std::string group;
    std::uint32_t epoch = 0;  // assignments it received
    std::map<std::uint32_t, std::pair<std::uint32_t, std::uint64_t>> last;  // flat -> (epoch, offset)
  };
  struct LogChecks {
    std::vector<std::string> out_of_order;
    // By group: every group reads every record. Within one, by (flat, offset).
    std::map<std::string, std::map<std::pair<std::uint32_t, std::uint64_t>, Processed>> processed;
    std::uint64_t processed_count() const {
      std::uint64_t count = 0;
      for (const auto& [group, records] : processed) count += records.size();
      return count;
    }
    std::uint64_t duplicates = 0;
    std::vector<std::string> unexplained;
  };

  struct Message {
    std::map<std::string, std::uint32_t> deliveries;  // by queue (a dead letter starts again in its queue)
    bool acked = false;
    bool dead_lettered = false;
    bool discarded = false;  // thrown away by the broker's settings (no or a full dead-letter queue)
    std::uint32_t processed = 0;  // completions at consumers
    std::uint32_t returned = 0;   // handed back because its consumer was gone
    std::uint32_t duplicates = 0;
    std::uint32_t unexplained_duplicates = 0;
  };
  struct Broker {
    std::string id;
    std::map<std::string, std::uint32_t> limits;  // max_deliveries by queue
    std::set<std::string> dead_letter_queues;
    std::map<std::uint64_t, Message> messages;
    std::uint64_t redeliveries = 0, nack_requeues = 0, gone = 0, late_acks = 0;
    std::vector<std::string> over_limit;  // "message 5 delivered 4 times from tasks (limit 3)"
    v1::QueueBrokerState last;            // its state in the last frame that carried one
    bool has_state = false;
  };
  Message& message(Broker& broker, std::uint64_t id) { return broker.messages[id]; }

  void feed_log(const FrameView& view);

  const v1::LogHeader& header_;
  std::map<std::uint32_t, Broker> brokers_;                         // by node index
  std::map<std::uint32_t, std::pair<std::uint32_t, std::string>> consumers_;  // node -> broker, queue
  std::map<std::uint32_t, Log> logs_;                      // log broker clusters by their scenario leader's index
  std::map<std::uint32_t, std::uint32_t> replica_of_;      // any replica -> its cluster's scenario leader
  std::map<std::uint32_t, std::pair<std::uint32_t, int>> producers_;  // client or event service -> (cluster, Publish.Acks)
  std::map<std::uint32_t, LogConsumer> log_consumers_;     // by node index
  std::map<std::uint32_t, LogChecks> log_checks_;          // by broker
};

// A violation list for a report line: the first five, then how many more.
std::string first_few(const std::vector<std::string>& items);

// Reads the whole log (as far as it is readable) and checks it.
CheckReport check_log(FrameLogReader& reader);
std::string format_report(const CheckReport& report);

}  // namespace flowframe
