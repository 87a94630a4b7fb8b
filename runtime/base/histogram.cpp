#include "runtime/base/histogram.hpp"

#include <algorithm>
#include <bit>

namespace flowframe {

std::size_t LatencyHistogram::bucket_of(std::uint64_t value) {
  if (value < kSub) return static_cast<std::size_t>(value);
  const int magnitude = 63 - std::countl_zero(value);  // >= kSubBits
  const int shift = magnitude - kSubBits + 1;
  // Group `shift` covers [2^(magnitude), 2^(magnitude+1)) with kSub/2 buckets of width 2^shift.
  return static_cast<std::size_t>(shift) * (kSub / 2) + static_cast<std::size_t>(value >> shift);
}

std::uint64_t LatencyHistogram::bucket_low(std::size_t bucket) {
  if (bucket < kSub) return bucket;
  const std::size_t shift = bucket / (kSub / 2) - 1;
  const std::size_t offset = bucket - shift * (kSub / 2);
  return static_cast<std::uint64_t>(offset) << shift;
}

void LatencyHistogram::record(Time value) {
  const auto v = static_cast<std::uint64_t>(std::max<Time>(value, 0));
  const std::size_t bucket = bucket_of(v);
  if (bucket >= counts_.size()) counts_.resize(bucket + 1);
  ++counts_[bucket];
  ++count_;
  sum_ += value;
  max_ = std::max(max_, value);
  min_ = std::min(min_, value);
}

void LatencyHistogram::merge(const LatencyHistogram& other) {
  if (other.counts_.size() > counts_.size()) counts_.resize(other.counts_.size());
  for (std::size_t i = 0; i < other.counts_.size(); ++i) counts_[i] += other.counts_[i];
  count_ += other.count_;
  sum_ += other.sum_;
  max_ = std::max(max_, other.max_);
  min_ = std::min(min_, other.min_);
}

Time LatencyHistogram::quantile(double q) const {
  if (count_ == 0) return 0;
  const auto rank = static_cast<std::uint64_t>(std::max(1.0, std::ceil(q * static_cast<double>(count_))));
  std::uint64_t seen = 0;
  for (std::size_t bucket = 0; bucket < counts_.size(); ++bucket) {
    seen += counts_[bucket];
    if (seen >= rank) {
      const std::uint64_t low = bucket_low(bucket);
      const std::uint64_t high = bucket_low(bucket + 1);
      const auto mid = static_cast<Time>(low + (high - low) / 2);
      return std::clamp(mid, min_, max_);
    }
  }
  return max_;
}

}  // namespace flowframe
