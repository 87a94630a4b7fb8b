#pragma once
#include <vector>

#include "flowframe/v1/scenario.pb.h"
#include "runtime/engine/random.hpp"
#include "runtime/base/time.hpp"

namespace flowframe {

// A validated Distribution turned into nanoseconds, ready to sample.
class Sampler {
 public:
  Sampler() = default;
  explicit Sampler(const v1::Distribution& spec);

  Time sample(Rng& rng) const;
  Time mean() const;
  // Smallest value sample() can return.
  Time minimum() const;

 private:
  v1::Distribution::Shape shape_ = v1::Distribution::CONSTANT;
  double mean_ns_ = 0;
  double min_ns_ = 0;
  double max_ns_ = 0;
  double log_mu_ = 0;
  double sigma_ = 0;
  double alpha_ = 0;
  double scale_ns_ = 0;  // Pareto's minimum
};

}  // namespace flowframe

namespace flowframe {

// Ids 1..keys for a request path's "{id}": uniform, or Zipf(s) (id k drawn with weight 1/k^s).
class IdSampler {
 public:
  IdSampler(std::uint64_t keys = 1, double zipf_s = 0);
  std::uint64_t sample(Rng& rng) const;

 private:
  std::uint64_t keys_;
  std::vector<double> cumulative_;  // Zipf only
};

}  // namespace flowframe
