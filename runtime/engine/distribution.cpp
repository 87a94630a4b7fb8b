#include "runtime/engine/distribution.hpp"

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
  // Parameterised by its mean too: E[X] = x_m alpha / (alpha - 1).
  if (shape_ == v1::Distribution::PARETO && spec.alpha() > 1) {
    alpha_ = spec.alpha();
    scale_ns_ = mean_ns_ * (alpha_ - 1) / alpha_;
  }
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
    case v1::Distribution::PARETO:
      value = scale_ns_ / std::pow(rng.next_open_double(), 1.0 / alpha_);
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
    case v1::Distribution::PARETO:
      return static_cast<Time>(std::llround(scale_ns_));
    default:
      return 0;
  }
}

}  // namespace flowframe

namespace flowframe {

IdSampler::IdSampler(std::uint64_t keys, double zipf_s) : keys_(std::max<std::uint64_t>(keys, 1)) {
  if (zipf_s <= 0 || keys_ == 1) return;
  cumulative_.reserve(keys_);
  double total = 0;
  for (std::uint64_t k = 1; k <= keys_; ++k) cumulative_.push_back(total += std::pow(static_cast<double>(k), -zipf_s));
}

std::uint64_t IdSampler::sample(Rng& rng) const {
  if (keys_ == 1) return 1;  // draws nothing: paths without {id} leave the random stream alone
  if (cumulative_.empty()) return 1 + rng.below(keys_);
  const double roll = rng.next_double() * cumulative_.back();
  return 1 + static_cast<std::uint64_t>(std::upper_bound(cumulative_.begin(), cumulative_.end(), roll) -
                                        cumulative_.begin());
}

}  // namespace flowframe
