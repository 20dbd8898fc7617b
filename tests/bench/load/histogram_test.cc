#include "bench/load/histogram.h"

#include <cstdint>
#include <random>

#include "gtest/gtest.h"

namespace deja::bench {
namespace {

constexpr int64_t kMillis = 1'000'000;

// |actual - expected| <= 1% of expected.
void ExpectWithinOnePercent(int64_t actual, int64_t expected) {
  EXPECT_NEAR(static_cast<double>(actual), static_cast<double>(expected),
              0.01 * static_cast<double>(expected));
}

TEST(LatencyHistogramTest, EmptyAnswersZero) {
  LatencyHistogram histogram;
  EXPECT_EQ(histogram.Count(), 0);
  EXPECT_EQ(histogram.Percentile(50), 0);
  EXPECT_EQ(histogram.Percentile(99.9), 0);
  EXPECT_EQ(histogram.Min(), 0);
  EXPECT_EQ(histogram.Max(), 0);
  EXPECT_EQ(histogram.Mean(), 0);
  EXPECT_TRUE(histogram.Buckets().empty());
}

TEST(LatencyHistogramTest, SingleValueIsEveryPercentile) {
  LatencyHistogram histogram;
  histogram.Record(1234567);
  EXPECT_EQ(histogram.Count(), 1);
  EXPECT_EQ(histogram.Min(), 1234567);
  EXPECT_EQ(histogram.Max(), 1234567);
  EXPECT_EQ(histogram.Mean(), 1234567);
  for (const double p : {0.0, 50.0, 90.0, 99.0, 99.9, 100.0}) {
    EXPECT_EQ(histogram.Percentile(p), 1234567) << "p" << p;
  }
}

TEST(LatencyHistogramTest, UniformMillisecondsGivePercentilesWithinOnePercent) {
  LatencyHistogram histogram;
  for (int64_t ms = 1; ms <= 1000; ++ms) histogram.Record(ms * kMillis);
  ExpectWithinOnePercent(histogram.Percentile(50), 500 * kMillis);
  ExpectWithinOnePercent(histogram.Percentile(90), 900 * kMillis);
  ExpectWithinOnePercent(histogram.Percentile(99), 990 * kMillis);
  ExpectWithinOnePercent(histogram.Percentile(99.9), 999 * kMillis);
  EXPECT_EQ(histogram.Min(), 1 * kMillis);
  EXPECT_EQ(histogram.Max(), 1000 * kMillis);
  EXPECT_DOUBLE_EQ(histogram.Mean(), 500.5 * kMillis);
}

TEST(LatencyHistogramTest, RandomValuesOverTheWholeRangeStayWithinOnePercent) {
  // Log-uniform from 1 µs to 60 s: every octave gets its share.
  std::mt19937_64 random(7);
  std::uniform_real_distribution<double> exponent(3.0, 10.77);
  std::vector<int64_t> values;
  LatencyHistogram histogram;
  for (int i = 0; i < 100000; ++i) {
    const auto value = static_cast<int64_t>(std::pow(10.0, exponent(random)));
    values.push_back(value);
    histogram.Record(value);
  }
  std::sort(values.begin(), values.end());
  for (const double p : {1.0, 25.0, 50.0, 90.0, 99.0, 99.9}) {
    const auto rank = static_cast<size_t>(std::ceil(p / 100 * values.size()));
    ExpectWithinOnePercent(histogram.Percentile(p), values[rank - 1]);
  }
}

TEST(LatencyHistogramTest, MergeEqualsRecordingEverything) {
  std::mt19937_64 random(3);
  std::exponential_distribution<double> latency(1.0 / (5.0 * kMillis));
  LatencyHistogram all;
  LatencyHistogram first;
  LatencyHistogram second;
  for (int i = 0; i < 20000; ++i) {
    const auto value = static_cast<int64_t>(latency(random));
    all.Record(value);
    (i % 3 == 0 ? first : second).Record(value);
  }
  LatencyHistogram merged;
  merged.Merge(first);
  merged.Merge(LatencyHistogram());
  merged.Merge(second);
  EXPECT_EQ(merged.Count(), all.Count());
  EXPECT_EQ(merged.Min(), all.Min());
  EXPECT_EQ(merged.Max(), all.Max());
  EXPECT_DOUBLE_EQ(merged.Mean(), all.Mean());
  EXPECT_EQ(merged.Buckets(), all.Buckets());
  for (const double p : {50.0, 90.0, 99.0, 99.9}) {
    EXPECT_EQ(merged.Percentile(p), all.Percentile(p)) << "p" << p;
  }
}

TEST(LatencyHistogramTest, ExtremeValuesAreClamped) {
  LatencyHistogram histogram;
  histogram.Record(-5);
  histogram.Record(0);
  histogram.Record(3'600'000'000'000);  // an hour
  EXPECT_EQ(histogram.Count(), 3);
  EXPECT_EQ(histogram.Min(), LatencyHistogram::kMinNanos);
  EXPECT_EQ(histogram.Max(), LatencyHistogram::kMaxNanos);
  ExpectWithinOnePercent(histogram.Percentile(50), LatencyHistogram::kMinNanos);
  EXPECT_EQ(histogram.Percentile(100), LatencyHistogram::kMaxNanos);
  ExpectWithinOnePercent(histogram.Percentile(99), LatencyHistogram::kMaxNanos);
}

TEST(LatencyHistogramTest, BucketsCountEveryValueAndBoundIt) {
  LatencyHistogram histogram;
  histogram.Record(5 * kMillis);
  histogram.Record(5 * kMillis);
  histogram.Record(7 * kMillis);
  const auto buckets = histogram.Buckets();
  ASSERT_EQ(buckets.size(), 2u);
  EXPECT_EQ(buckets[0].second, 2);
  EXPECT_GE(buckets[0].first, 5 * kMillis);
  EXPECT_LT(buckets[0].first, 5 * kMillis * 101 / 100);
  EXPECT_EQ(buckets[1].second, 1);
  EXPECT_GE(buckets[1].first, 7 * kMillis);
}

// 99.9% of 1000 is exactly 999 in decimal but not in doubles; the rank must
// still be the 999th value, not the max.
TEST(LatencyHistogramTest, P999OfAThousandIsNotTheMax) {
  LatencyHistogram histogram;
  for (int i = 0; i < 999; ++i) histogram.Record(1 * kMillis);
  histogram.Record(1000 * kMillis);
  EXPECT_LT(histogram.Percentile(99.9), 2 * kMillis);
  EXPECT_GT(histogram.Percentile(100), 900 * kMillis);
}

}  // namespace
}  // namespace deja::bench
