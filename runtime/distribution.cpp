#include "runtime/distribution.hpp"

#include <algorithm>
#include <cmath>

namespace flowframe {

Sampler::Sampler(const v1::Distribution& spec)
    : shape_(spec.shape()),
      mean_ns_(spec.mean_ms() * kNanosPerMilli),
      min_ns_(spec.min_ms() * kNanosPerMilli),
      max_ns_(spec.max_ms() * kNanosPerMilli),
      sigma_(spec.sigma()) {
  if (shape_ == v1::Distribution::UNIFORM) mean_ns_ = (min_ns_ + max_ns_) / 2;
  // Parameterised by its mean: E[X] = exp(mu + sigma^2 / 2).
  if (shape_ == v1::Distribution::LOGNORMAL && mean_ns_ > 0)
    log_mu_ = std::log(mean_ns_) - sigma_ * sigma_ / 2;
}

Time Sampler::sample(Rng& rng) const {
  double value = 0;
  switch (shape_) {
    case v1::Distribution::CONSTANT:
      value = mean_ns_;
      break;
    case v1::Distribution::EXPONENTIAL:
      value = rng.exponential(mean_ns_);
      break;
    case v1::Distribution::UNIFORM:
      value = min_ns_ + (max_ns_ - min_ns_) * rng.next_double();
      break;
    case v1::Distribution::LOGNORMAL:
      value = std::exp(log_mu_ + sigma_ * rng.standard_normal());
      break;
    default:
      break;
  }
  return static_cast<Time>(std::llround(std::max(value, 0.0)));
}

Time Sampler::mean() const { return static_cast<Time>(std::llround(mean_ns_)); }

Time Sampler::minimum() const {
  switch (shape_) {
    case v1::Distribution::CONSTANT:
      return mean();
    case v1::Distribution::UNIFORM:
      return static_cast<Time>(std::llround(min_ns_));
    default:
      return 0;
  }
}

}  // namespace flowframe
