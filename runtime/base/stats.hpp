#pragma once
// Small statistics shared by `flowframe bench` (a figure over seeds) and `flowframe diff` (whether two
// runs differ beyond their noise).
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <iterator>
#include <vector>

namespace flowframe {

// Student's t, two-sided 95 %, by degrees of freedom (1..30); beyond that the normal 1.96.
inline double t95(double dof) {
  static const double table[] = {0,     12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
                                 2.201, 2.179,  2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
                                 2.080, 2.074,  2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042};
  // A fractional dof (Welch's) rounds down: the wider interval.
  const auto whole = dof < 1 ? std::size_t{1} : static_cast<std::size_t>(dof);
  return whole < std::size(table) ? table[whole] : 1.96;
}

// A mean over samples and the half-width of its 95 % confidence interval (Student's t).
struct Stat {
  double mean = 0;
  double ci95 = 0;
};

// Mean, variance and count of samples, summed as they come.
struct Moments {
  double count = 0, sum = 0, squares = 0;
  void add(double x) { count += 1, sum += x, squares += x * x; }
  double mean() const { return count > 0 ? sum / count : 0; }
  double variance() const { return count > 1 ? std::max(0.0, (squares - sum * sum / count) / (count - 1)) : 0; }
};

inline Stat summarize_samples(const std::vector<double>& samples) {
  Stat stat;
  if (samples.empty()) return stat;
  double sum = 0;
  for (double x : samples) sum += x;
  stat.mean = sum / static_cast<double>(samples.size());
  if (samples.size() < 2) return stat;
  double squares = 0;
  for (double x : samples) squares += (x - stat.mean) * (x - stat.mean);
  const double sd = std::sqrt(squares / static_cast<double>(samples.size() - 1));
  stat.ci95 = t95(static_cast<double>(samples.size() - 1)) * sd / std::sqrt(static_cast<double>(samples.size()));
  return stat;
}

// Welch's test at 95 %: whether b's mean differs from a's beyond what their spread explains.
// Needs two samples on each side; equal constant samples differ exactly when their means do.
inline bool differ_beyond_noise(const Moments& a, const Moments& b) {
  const double va = a.variance() / a.count, vb = b.variance() / b.count;
  const double se = std::sqrt(va + vb);
  const double difference = std::abs(b.mean() - a.mean());
  if (se == 0) return difference > 0;
  const double dof = (va + vb) * (va + vb) / (va * va / (a.count - 1) + vb * vb / (b.count - 1));
  return difference > t95(dof) * se;
}

}  // namespace flowframe
