#include "bench/load/histogram.h"

#include <algorithm>
#include <cmath>

namespace deja::bench {

int LatencyHistogram::BucketOf(int64_t nanos) {
  const uint64_t value = static_cast<uint64_t>(nanos);
  if (value < kSubBuckets) return static_cast<int>(value);
  const int msb = 63 - __builtin_clzll(value);
  const int shift = msb - kSubBucketBits;
  const int sub = static_cast<int>(value >> shift) - kSubBuckets;
  return (shift + 1) * kSubBuckets + sub;
}

int64_t LatencyHistogram::LowestOf(int bucket) {
  if (bucket < kSubBuckets) return bucket;
  const int shift = bucket / kSubBuckets - 1;
  const int sub = bucket % kSubBuckets;
  return static_cast<int64_t>(kSubBuckets + sub) << shift;
}

int64_t LatencyHistogram::WidthOf(int bucket) {
  return bucket < kSubBuckets ? 1 : int64_t{1} << (bucket / kSubBuckets - 1);
}

void LatencyHistogram::Record(int64_t nanos) {
  nanos = std::clamp(nanos, kMinNanos, kMaxNanos);
  ++counts_[BucketOf(nanos)];
  if (count_ == 0 || nanos < min_) min_ = nanos;
  if (count_ == 0 || nanos > max_) max_ = nanos;
  ++count_;
  sum_ += nanos;
}

void LatencyHistogram::Merge(const LatencyHistogram& other) {
  if (other.count_ == 0) return;
  for (int i = 0; i < kBucketCount; ++i) counts_[i] += other.counts_[i];
  min_ = count_ == 0 ? other.min_ : std::min(min_, other.min_);
  max_ = count_ == 0 ? other.max_ : std::max(max_, other.max_);
  count_ += other.count_;
  sum_ += other.sum_;
}

int64_t LatencyHistogram::Percentile(double percent) const {
  if (count_ == 0) return 0;
  if (percent >= 100) return max_;
  // The rank of the value asked for, 1-based: p50 of 1..1000 is the 500th.
  // The epsilon keeps a product that is whole in exact arithmetic whole
  // (99.9 / 100 * 1000 is 999.0000000000001 in doubles, which would take
  // the 1000th, the max, for p99.9).
  const int64_t rank = std::max<int64_t>(
      1, static_cast<int64_t>(
             std::ceil(percent / 100.0 * static_cast<double>(count_) - 1e-9)));
  int64_t seen = 0;
  for (int i = 0; i < kBucketCount; ++i) {
    seen += counts_[i];
    if (seen >= rank) {
      // The bucket's middle halves the worst-case error; min and max are
      // known exactly, so never answer beyond them.
      const int64_t middle = LowestOf(i) + (WidthOf(i) - 1) / 2;
      return std::clamp(middle, min_, max_);
    }
  }
  return max_;
}

double LatencyHistogram::Mean() const {
  return count_ == 0 ? 0.0
                     : static_cast<double>(sum_) / static_cast<double>(count_);
}

std::vector<std::pair<int64_t, int64_t>> LatencyHistogram::Buckets() const {
  std::vector<std::pair<int64_t, int64_t>> buckets;
  for (int i = 0; i < kBucketCount; ++i) {
    if (counts_[i] != 0) {
      buckets.emplace_back(LowestOf(i) + WidthOf(i) - 1, counts_[i]);
    }
  }
  return buckets;
}

}  // namespace deja::bench
