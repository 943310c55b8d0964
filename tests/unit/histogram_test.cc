#include "loadgen/histogram.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

namespace devstate::loadgen {
namespace {

TEST(HistogramTest, BucketsTileTheRangeWithoutGaps) {
  for (uint64_t v : {0ull, 1ull, 63ull, 64ull, 65ull, 127ull, 128ull, 1000ull, 123456789ull,
                     (1ull << 40) + 12345, ~0ull}) {
    const size_t i = Histogram::Index(v);
    EXPECT_LE(Histogram::Lowest(i), v);
    EXPECT_LT(v - Histogram::Lowest(i), Histogram::Width(i));
  }
  for (size_t i = 1; i < 2000; ++i) {
    EXPECT_EQ(Histogram::Lowest(i), Histogram::Lowest(i - 1) + Histogram::Width(i - 1));
  }
}

TEST(HistogramTest, SmallValuesAreExact) {
  Histogram h;
  for (uint64_t v = 1; v <= 50; ++v) h.Record(v);
  EXPECT_EQ(h.Percentile(0.5), 25u);
  EXPECT_EQ(h.Percentile(1.0), 50u);
  EXPECT_EQ(h.Percentile(0.0), 1u);
  EXPECT_EQ(h.count(), 50u);
}

void ExpectClose(uint64_t got, double want) {
  EXPECT_LE(std::abs(static_cast<double>(got) - want), want * 0.02 + 1)
      << "got " << got << " want " << want;
}

TEST(HistogramTest, PercentilesOfAUniformDistribution) {
  Histogram h;
  for (uint64_t v = 1; v <= 1'000'000; ++v) h.Record(v);
  ExpectClose(h.Percentile(0.50), 500'000);
  ExpectClose(h.Percentile(0.90), 900'000);
  ExpectClose(h.Percentile(0.99), 990'000);
  ExpectClose(h.Percentile(0.999), 999'000);
  EXPECT_EQ(h.max(), 1'000'000u);
  EXPECT_DOUBLE_EQ(h.mean(), 500'000.5);
}

TEST(HistogramTest, PercentilesOfAnExponentialDistributionMatchSortedSamples) {
  std::mt19937_64 rng(42);
  std::exponential_distribution<double> exp(1.0 / 300'000.0);  // mean 300 us in ns
  std::vector<uint64_t> samples;
  Histogram a, b;
  for (int i = 0; i < 200'000; ++i) {
    const auto v = static_cast<uint64_t>(exp(rng)) + 1;
    samples.push_back(v);
    (i % 2 ? a : b).Record(v);
  }
  a.Merge(b);
  std::sort(samples.begin(), samples.end());
  for (double q : {0.5, 0.9, 0.99, 0.999}) {
    const double want = static_cast<double>(samples[static_cast<size_t>(q * samples.size()) - 1]);
    ExpectClose(a.Percentile(q), want);
  }
  EXPECT_EQ(a.count(), samples.size());
  EXPECT_EQ(a.max(), samples.back());
}

TEST(HistogramTest, EmptyHistogramReportsZero) {
  Histogram h;
  EXPECT_EQ(h.Percentile(0.99), 0u);
  EXPECT_EQ(h.max(), 0u);
  EXPECT_EQ(h.min(), 0u);
}

}  // namespace
}  // namespace devstate::loadgen
