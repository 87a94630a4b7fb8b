#include "runtime/base/histogram.hpp"

#include <algorithm>
#include <bit>

#include "flowframe/v1/remote.pb.h"

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

void LatencyHistogram::save(v1::Histogram& out) const {
  out.Clear();
  for (std::size_t bucket = 0; bucket < counts_.size(); ++bucket)
    if (counts_[bucket]) {
      out.add_buckets(static_cast<std::uint32_t>(bucket));
      out.add_counts(counts_[bucket]);
    }
  out.set_count(count_);
  out.set_sum_low(static_cast<std::uint64_t>(sum_));
  out.set_sum_high(static_cast<std::int64_t>(sum_ >> 64));
  out.set_min(min_);
  out.set_max(max_);
}

bool LatencyHistogram::load(const v1::Histogram& in) {
  if (in.buckets_size() != in.counts_size()) return false;
  const std::size_t most = bucket_of(~std::uint64_t{0} >> 1) + 1;
  std::vector<std::uint64_t> counts;
  std::uint64_t total = 0;
  for (int i = 0; i < in.buckets_size(); ++i) {
    const std::size_t bucket = in.buckets(i);
    if (bucket >= most || (i > 0 && bucket <= in.buckets(i - 1)) || in.counts(i) == 0) return false;
    if (__builtin_add_overflow(total, in.counts(i), &total)) return false;
    counts.resize(bucket + 1);
    counts[bucket] = in.counts(i);
  }
  if (total != in.count()) return false;
  // The extremes as record() leaves them: none yet, or within the first and last buckets.
  if (total == 0 ? in.min() != kTimeNever || in.max() != 0 || in.sum_low() || in.sum_high()
                 : in.min() < 0 || in.min() > in.max() || bucket_of(static_cast<std::uint64_t>(in.min())) != in.buckets(0) ||
                       bucket_of(static_cast<std::uint64_t>(in.max())) != in.buckets(in.buckets_size() - 1))
    return false;
  counts_ = std::move(counts);
  count_ = in.count();
  sum_ = (static_cast<__int128>(in.sum_high()) << 64) | static_cast<__int128>(in.sum_low());
  min_ = in.min();
  max_ = in.max();
  return true;
}

}  // namespace flowframe
