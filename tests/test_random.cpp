#include <gtest/gtest.h>

#include <cmath>

#include "runtime/engine/distribution.hpp"
#include "flowframe/v1/remote.pb.h"
#include "runtime/base/histogram.hpp"
#include "runtime/engine/random.hpp"

namespace flowframe {
namespace {

TEST(Random, SameSeedSameStreamAndNodesDiffer) {
  Rng a = Rng::for_node(7, "server-1"), b = Rng::for_node(7, "server-1"), c = Rng::for_node(7, "server-2");
  int same_as_other_node = 0;
  for (int i = 0; i < 1000; ++i) {
    const auto x = a.next_u64();
    EXPECT_EQ(x, b.next_u64());
    same_as_other_node += x == c.next_u64();
  }
  EXPECT_EQ(same_as_other_node, 0);
}

TEST(Random, KnownFirstValuesPinTheStream) {
  // Logs must not change between builds: pin the generator's output.
  Rng rng(42);
  EXPECT_EQ(rng.next_u64(), 1546998764402558742ULL);
  EXPECT_EQ(rng.next_u64(), 6990951692964543102ULL);
  EXPECT_EQ(stable_hash("server-1"), 405122310597146139ULL);
  EXPECT_NE(stable_hash("server-1"), stable_hash("server-2"));
}

TEST(Random, BelowIsUnbiasedAndInRange) {
  Rng rng(1);
  std::vector<int> counts(7, 0);
  const int draws = 70000;
  for (int i = 0; i < draws; ++i) {
    const auto value = rng.below(7);
    ASSERT_LT(value, 7u);
    ++counts[value];
  }
  for (int count : counts) EXPECT_NEAR(count, draws / 7, 400);  // > 4 sigma
}

TEST(Random, DistributionMeansMatch) {
  Rng rng(3);
  auto mean_of = [&](const v1::Distribution& spec) {
    Sampler sampler(spec);
    double sum = 0;
    const int n = 200000;
    for (int i = 0; i < n; ++i) sum += static_cast<double>(sampler.sample(rng));
    return sum / n / kNanosPerMilli;
  };
  v1::Distribution spec;
  spec.set_mean_ms(10);
  EXPECT_DOUBLE_EQ(mean_of(spec), 10.0);
  spec.set_shape(v1::Distribution::EXPONENTIAL);
  EXPECT_NEAR(mean_of(spec), 10.0, 0.1);  // sd of the mean = 10/sqrt(2e5) = 0.022
  spec.set_shape(v1::Distribution::LOGNORMAL);
  spec.set_sigma(0.5);
  EXPECT_NEAR(mean_of(spec), 10.0, 0.1);
  spec.set_shape(v1::Distribution::UNIFORM);
  spec.set_min_ms(4);
  spec.set_max_ms(8);
  EXPECT_NEAR(mean_of(spec), 6.0, 0.05);
  EXPECT_EQ(Sampler(spec).minimum(), 4 * kNanosPerMilli);
}

TEST(Histogram, ASavedHistogramLoadsExactlyAndALieIsRefused) {
  LatencyHistogram histogram;
  for (Time v = 1; v <= 5000; ++v) histogram.record(v * v * 37);
  v1::Histogram saved;
  histogram.save(saved);
  LatencyHistogram loaded;
  ASSERT_TRUE(loaded.load(saved));
  EXPECT_EQ(loaded.count(), histogram.count());
  EXPECT_EQ(loaded.mean(), histogram.mean());
  for (double q : {0.0, 0.5, 0.99, 0.999, 1.0}) EXPECT_EQ(loaded.quantile(q), histogram.quantile(q)) << q;
  LatencyHistogram empty;
  empty.save(saved);
  EXPECT_TRUE(loaded.load(saved));
  EXPECT_EQ(loaded.count(), 0u);

  histogram.save(saved);
  auto refused = [&](auto change) {
    v1::Histogram lie = saved;
    change(lie);
    LatencyHistogram target;
    return !target.load(lie);
  };
  EXPECT_TRUE(refused([](v1::Histogram& h) { h.set_count(h.count() + 1); }));
  EXPECT_TRUE(refused([](v1::Histogram& h) { h.set_min(h.max() + 1); }));  // min above max: quantile would clamp wrongly
  EXPECT_TRUE(refused([](v1::Histogram& h) { h.set_buckets(0, 1u << 30); }));
  EXPECT_TRUE(refused([](v1::Histogram& h) { h.add_buckets(7); }));
  EXPECT_FALSE(refused([](v1::Histogram&) {}));
}

TEST(Histogram, QuantilesWithinBucketPrecision) {
  LatencyHistogram histogram;
  for (Time v = 1; v <= 100000; ++v) histogram.record(v * 1000);
  EXPECT_EQ(histogram.count(), 100000u);
  EXPECT_DOUBLE_EQ(histogram.mean(), 50000.5 * 1000);
  EXPECT_EQ(histogram.max(), 100000 * 1000);
  for (double q : {0.5, 0.95, 0.99, 0.999}) {
    const double truth = q * 100000 * 1000;
    // Three significant digits: within 0.05 % (plus the rank's own step of 1,000).
    EXPECT_NEAR(static_cast<double>(histogram.quantile(q)), truth, truth / 2048 + 1000) << q;
  }
  // Two runs 2 % apart in latency are told apart, at any magnitude.
  for (Time base : {Time{37'000}, Time{4'100'000}, Time{980'000'000}}) {
    LatencyHistogram a, b;
    a.record(base);
    b.record(base + base / 50);
    EXPECT_GT(b.quantile(0.5), a.quantile(0.5)) << base;
    EXPECT_NEAR(static_cast<double>(b.quantile(0.5)) / static_cast<double>(a.quantile(0.5)), 1.02, 0.001) << base;
  }
  LatencyHistogram other;
  other.record(5);
  other.merge(histogram);
  EXPECT_EQ(other.count(), 100001u);
  EXPECT_EQ(other.min(), 5);
}

}  // namespace
}  // namespace flowframe

namespace flowframe {
namespace {

TEST(Random, ParetoHasItsMeanAndAHeavyTail) {
  v1::Distribution spec;
  spec.set_shape(v1::Distribution::PARETO);
  spec.set_mean_ms(10);
  spec.set_alpha(2.5);
  Sampler sampler(spec);
  Rng rng(9);
  double sum = 0;
  Time largest = 0;
  const int n = 400000;
  for (int i = 0; i < n; ++i) {
    const Time value = sampler.sample(rng);
    ASSERT_GE(value, sampler.minimum());
    sum += static_cast<double>(value);
    largest = std::max(largest, value);
  }
  EXPECT_NEAR(sum / n / kNanosPerMilli, 10.0, 0.2);  // sd/mean = 0.89: SE 0.014 ms
  EXPECT_EQ(sampler.minimum(), 6 * kNanosPerMilli);  // x_m = mean (alpha - 1) / alpha
  EXPECT_GT(largest, 100 * kNanosPerMilli);          // exponential of mean 10 ms would hardly reach this
}

}  // namespace
}  // namespace flowframe
