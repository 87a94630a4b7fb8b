#include "actors/log_broker/log.hpp"

#include <algorithm>

namespace flowframe::messaging {

std::uint64_t PartitionLog::append(Record record) {
  record.offset = end_++;
  records_.push_back(std::move(record));
  return end_ - 1;
}

std::size_t PartitionLog::retain(std::uint64_t max_records, Time max_age, Time now) {
  std::size_t deleted = 0;
  while (!records_.empty() && ((max_records > 0 && records_.size() > max_records) ||
                               (max_age > 0 && now - records_.front().appended > max_age))) {
    records_.pop_front();
    ++deleted;
  }
  return deleted;
}

std::size_t PartitionLog::truncate(std::uint64_t offset) {
  std::size_t dropped = 0;
  while (end_ > offset && !records_.empty()) {
    records_.pop_back();
    --end_;
    ++dropped;
  }
  end_ = std::min(end_, offset);
  return dropped;
}

std::vector<Record> PartitionLog::read(std::uint64_t from, std::size_t max, std::uint64_t below) const {
  std::vector<Record> out;
  for (std::uint64_t offset = std::max(from, start()); offset < std::min(below, end_) && out.size() < max; ++offset)
    out.push_back(records_[offset - start()]);
  return out;
}

std::uint32_t partition_for_key(const std::string& key, std::uint32_t partitions) {
  std::uint64_t hash = 1469598103934665603ULL;
  for (const unsigned char c : key) {
    hash ^= c;
    hash *= 1099511628211ULL;
  }
  return partitions ? static_cast<std::uint32_t>(hash % partitions) : 0;
}

TopicLayout::TopicLayout(const v1::LogBrokerParams& params) {
  for (const auto& topic : params.topics()) {
    first_[topic.name()] = static_cast<std::uint32_t>(topic_of_.size());
    for (std::uint32_t p = 0; p < std::max<std::uint32_t>(1, topic.partitions()); ++p) {
      topic_of_.push_back(&topic);
      partition_of_.push_back(p);
    }
  }
}

std::optional<std::uint32_t> TopicLayout::first(const std::string& topic) const {
  const auto found = first_.find(topic);
  if (found == first_.end()) return std::nullopt;
  return found->second;
}

std::uint32_t TopicLayout::partitions(const std::string& topic) const {
  const auto found = first_.find(topic);
  return found == first_.end() ? 0 : std::max<std::uint32_t>(1, topic_of_[found->second]->partitions());
}

std::string TopicLayout::name(std::uint32_t flat) const {
  return topic_of_[flat]->name() + "/" + std::to_string(partition_of_[flat]);
}

Assignment assign(v1::ConsumerParams::Assignment strategy, const std::set<std::uint32_t>& members, std::uint32_t partitions) {
  Assignment out;
  if (members.empty()) return out;
  const std::vector<std::uint32_t> order(members.begin(), members.end());
  for (const auto member : order) out[member];
  const auto count = static_cast<std::uint32_t>(order.size());
  if (strategy == v1::ConsumerParams::ROUND_ROBIN) {
    for (std::uint32_t p = 0; p < partitions; ++p) out[order[p % count]].push_back(p);
    return out;
  }
  const std::uint32_t each = partitions / count, extra = partitions % count;
  std::uint32_t next = 0;
  for (std::uint32_t m = 0; m < count; ++m)
    for (std::uint32_t k = 0; k < each + (m < extra ? 1 : 0); ++k) out[order[m]].push_back(next++);
  return out;
}

bool Group::join(std::uint32_t member, Time now) {
  auto& m = members_[member];
  m.last_heartbeat = now;
  m.rejoined = true;
  if (rebalancing_) return false;
  rebalancing_ = true;
  for (auto& [node, other] : members_) other.rejoined = node == member;
  return true;
}

bool Group::remove(std::uint32_t member) {
  if (!members_.erase(member)) return false;
  if (rebalancing_) return false;
  rebalancing_ = true;
  for (auto& [node, other] : members_) other.rejoined = false;
  return true;
}

void Group::heartbeat(std::uint32_t member, Time now) {
  if (auto found = members_.find(member); found != members_.end()) found->second.last_heartbeat = now;
}

std::vector<std::uint32_t> Group::expired(Time now, Time session_timeout) const {
  std::vector<std::uint32_t> out;
  for (const auto& [node, member] : members_)
    if (now - member.last_heartbeat >= session_timeout) out.push_back(node);
  return out;
}

bool Group::all_rejoined() const {
  return std::all_of(members_.begin(), members_.end(), [](const auto& m) { return m.second.rejoined; });
}

std::vector<std::uint32_t> Group::complete() {
  std::vector<std::uint32_t> dropped;
  std::set<std::uint32_t> staying;
  for (auto it = members_.begin(); it != members_.end();) {
    if (!it->second.rejoined) {
      dropped.push_back(it->first);
      it = members_.erase(it);
    } else {
      staying.insert(it->first);
      ++it;
    }
  }
  auto assignment = assign(strategy_, staying, static_cast<std::uint32_t>(committed_.size()));
  for (auto& [node, member] : members_) member.partitions = std::move(assignment[node]);
  ++generation_;
  rebalancing_ = false;
  return dropped;
}

bool Group::commit(std::uint32_t member, std::uint32_t generation, std::uint32_t partition, std::uint64_t offset) {
  const auto found = members_.find(member);
  if (found == members_.end() || generation != generation_ || partition >= committed_.size()) return false;
  const auto& mine = found->second.partitions;
  if (std::find(mine.begin(), mine.end(), partition) == mine.end()) return false;
  committed_[partition] = offset;
  return true;
}

}  // namespace flowframe::messaging
