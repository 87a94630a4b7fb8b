#pragma once
// A Kafka-like log's rules as plain logic over logical time: partitions as append-only logs with
// retention, the key partitioner, the layout of a broker's topics, partition assignment, and a
// consumer group as its coordinator sees it (the eager rebalance protocol: every change of members
// revokes every partition until the group is assigned again). The log broker component frames
// what they decide; tests check every rule here directly.
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "flowframe/v1/scenario.pb.h"
#include "runtime/base/time.hpp"

namespace flowframe::messaging {

struct Record {
  std::uint64_t offset = 0;
  std::string key;
  Time appended = 0;
  std::uint32_t publisher = 0;  // the producing client and request, for tracing
  std::uint64_t request = 0;
  std::uint32_t path = 0;
  std::uint32_t epoch = 0;  // the leader epoch it was appended in
};

class PartitionLog {
 public:
  // Appends at the log end; returns the record's offset.
  std::uint64_t append(Record record);
  // Deletes the oldest records beyond `max_records` or older than `max_age` (0: no limit).
  std::size_t retain(std::uint64_t max_records, Time max_age, Time now);
  // Drops the records at `offset` and beyond (a new leader never had them); returns how many.
  std::size_t truncate(std::uint64_t offset);
  // At most `max` records from `from` (raised to the log start), below `below`.
  std::vector<Record> read(std::uint64_t from, std::size_t max, std::uint64_t below) const;
  std::uint64_t start() const { return end_ - records_.size(); }
  std::uint64_t end() const { return end_; }
  const std::deque<Record>& records() const { return records_; }

 private:
  std::deque<Record> records_;
  std::uint64_t end_ = 0;
};

// Kafka hashes keys with murmur2; any stable hash shows the same thing: a key always lands in the
// same partition, so one customer's records stay in order. FNV-1a, 64 bit.
std::uint32_t partition_for_key(const std::string& key, std::uint32_t partitions);

// A broker's partitions numbered across its topics, in the order written: topic A's 0..n-1, then B's.
class TopicLayout {
 public:
  explicit TopicLayout(const v1::LogBrokerParams& params);
  std::size_t size() const { return topic_of_.size(); }
  std::optional<std::uint32_t> first(const std::string& topic) const;  // its partition 0
  std::uint32_t partitions(const std::string& topic) const;          // 0: no such topic
  const v1::Topic& topic_of(std::uint32_t flat) const { return *topic_of_[flat]; }
  std::uint32_t partition_of(std::uint32_t flat) const { return partition_of_[flat]; }
  std::string name(std::uint32_t flat) const;  // "orders/2"

 private:
  std::vector<const v1::Topic*> topic_of_;
  std::vector<std::uint32_t> partition_of_;
  std::map<std::string, std::uint32_t> first_;
};

using Assignment = std::map<std::uint32_t, std::vector<std::uint32_t>>;  // member -> partitions
// RANGE: each member a run of neighbouring partitions, the first ones one more when they do not
// divide evenly; ROUND_ROBIN: partition i to the i-th member in turn. Members in ascending order.
Assignment assign(v1::ConsumerParams::Assignment strategy, const std::set<std::uint32_t>& members, std::uint32_t partitions);

// One consumer group at its coordinator.
class Group {
 public:
  Group(std::uint32_t partitions, v1::ConsumerParams::Assignment strategy)
      : strategy_(strategy), committed_(partitions, 0) {}
  // A group a new leader takes over from the commits its old leader replicated: no members yet.
  Group(v1::ConsumerParams::Assignment strategy, std::vector<std::uint64_t> committed, std::uint32_t generation)
      : strategy_(strategy), committed_(std::move(committed)), generation_(generation) {}

  // A member joins or rejoins. Returns true if this starts a rebalance (the others must rejoin).
  bool join(std::uint32_t member, Time now);
  // A member left or its session expired. Returns true if this starts a rebalance.
  bool remove(std::uint32_t member);
  void heartbeat(std::uint32_t member, Time now);
  std::vector<std::uint32_t> expired(Time now, Time session_timeout) const;
  // Ends a rebalance: the members that rejoined share the partitions in a new generation; those
  // that did not are dropped. Returns the dropped ones.
  std::vector<std::uint32_t> complete();
  // Whether every member has rejoined (the rebalance may end early).
  bool all_rejoined() const;
  // A commit counts only from the member the partition is assigned to, in the current generation.
  bool commit(std::uint32_t member, std::uint32_t generation, std::uint32_t partition, std::uint64_t offset);

  bool rebalancing() const { return rebalancing_; }
  std::uint32_t generation() const { return generation_; }
  const std::vector<std::uint64_t>& committed() const { return committed_; }
  struct Member {
    Time last_heartbeat = 0;
    bool rejoined = false;
    std::vector<std::uint32_t> partitions;
  };
  const std::map<std::uint32_t, Member>& members() const { return members_; }
  bool has(std::uint32_t member) const { return members_.count(member) != 0; }
  // The group as a restarted coordinator finds it: committed offsets and generation kept (they are
  // on disk), no members.
  Group restarted() const {
    Group group(*this);
    group.members_.clear();
    group.rebalancing_ = false;
    return group;
  }

 private:
  v1::ConsumerParams::Assignment strategy_;
  std::map<std::uint32_t, Member> members_;
  std::vector<std::uint64_t> committed_;  // by partition: the next offset the group will process
  std::uint32_t generation_ = 0;
  bool rebalancing_ = false;
};

}  // namespace flowframe::messaging
