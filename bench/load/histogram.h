#ifndef DEJA_BENCH_LOAD_HISTOGRAM_H_
#define DEJA_BENCH_LOAD_HISTOGRAM_H_

// A latency histogram with bounded relative error, in the manner of
// HdrHistogram: values (nanoseconds) are clamped to [1 µs, 60 s] and counted
// in log-linear buckets, 128 per power of two, so a percentile is off by at
// most 0.4% of its value. Min, Max and Mean are exact (of the clamped
// values). Fixed memory (~30 KB), Record is a few instructions.
//
// Not thread-safe: give each thread its own histogram and Merge them.

#include <array>
#include <cstdint>
#include <utility>
#include <vector>

namespace deja::bench {

class LatencyHistogram {
 public:
  static constexpr int64_t kMinNanos = 1'000;
  static constexpr int64_t kMaxNanos = 60'000'000'000;

  void Record(int64_t nanos);
  void Merge(const LatencyHistogram& other);

  // The value at or below which `percent` (0..100) of the recorded values
  // lie, e.g. 99.9; 0 when empty. Percentile(100) is Max().
  int64_t Percentile(double percent) const;
  int64_t Min() const { return count_ == 0 ? 0 : min_; }
  int64_t Max() const { return count_ == 0 ? 0 : max_; }
  double Mean() const;
  int64_t Count() const { return count_; }

  // The non-empty buckets as (upper bound in ns, count), lowest first.
  std::vector<std::pair<int64_t, int64_t>> Buckets() const;

 private:
  static constexpr int kSubBucketBits = 7;
  static constexpr int kSubBuckets = 1 << kSubBucketBits;
  // kMaxNanos < 2^36: octaves 7..35 above the exact first kSubBuckets.
  static constexpr int kBucketCount = (36 - kSubBucketBits + 1) * kSubBuckets;

  static int BucketOf(int64_t nanos);
  static int64_t LowestOf(int bucket);
  static int64_t WidthOf(int bucket);

  std::array<int64_t, kBucketCount> counts_{};
  int64_t count_ = 0;
  int64_t min_ = 0;
  int64_t max_ = 0;
  // Sum of nanoseconds: 2^63 ns is 292 years of latency, enough.
  int64_t sum_ = 0;
};

}  // namespace deja::bench

#endif  // DEJA_BENCH_LOAD_HISTOGRAM_H_
