#pragma once
// Latency histogram with log-linear buckets (HdrHistogram's layout): memory does not grow with
// the number of samples (about 200 KB for latencies up to 10 s, allocated as far as the largest
// value seen), and any percentile is within 1/2048 (0.05 %) of the true value.
#include <cstdint>
#include <vector>

#include "runtime/base/time.hpp"

namespace flowframe {
namespace v1 {
class Histogram;
}

class LatencyHistogram {
 public:
  void record(Time value);
  void merge(const LatencyHistogram& other);

  std::uint64_t count() const { return count_; }
  double mean() const { return count_ ? static_cast<double>(sum_) / static_cast<double>(count_) : 0.0; }
  Time max() const { return max_; }
  Time min() const { return count_ ? min_ : 0; }
  // Value at quantile q in [0, 1] (the midpoint of its bucket, clamped to [min, max]).
  Time quantile(double q) const;

  // To send it to another process (flowframe run --workers) and rebuild it there exactly.
  void save(v1::Histogram& out) const;
  // False (and this unchanged) if `in` is not a histogram save() could have written.
  bool load(const v1::Histogram& in);

 private:
  static constexpr int kSubBits = 11;  // 1,024 buckets per power of two: three significant digits, as HdrHistogram is usually set
  static constexpr int kSub = 1 << kSubBits;
  static std::size_t bucket_of(std::uint64_t value);
  static std::uint64_t bucket_low(std::size_t bucket);

  std::vector<std::uint64_t> counts_;
  std::uint64_t count_ = 0;
  __int128 sum_ = 0;
  Time max_ = 0;
  Time min_ = kTimeNever;
};

}  // namespace flowframe
