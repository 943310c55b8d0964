// Histogram: latency recording with HdrHistogram-style log-linear buckets.
//
// Values (e.g. nanoseconds) fall in buckets whose width is 1/kSubBuckets of their power of
// two, so every percentile is reported within ~1.6% of the true value at any magnitude,
// in constant memory and O(1) per record. Not thread-safe: keep one per thread and Merge.
#pragma once

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <limits>

namespace devstate::loadgen {

class Histogram {
 public:
  static constexpr int kSubBucketBits = 6;
  static constexpr uint64_t kSubBuckets = uint64_t{1} << kSubBucketBits;

  void Record(uint64_t value) {
    ++counts_[Index(value)];
    ++count_;
    sum_ += value;
    if (value > max_) max_ = value;
    if (value < min_) min_ = value;
  }

  void Merge(const Histogram& other) {
    for (size_t i = 0; i < counts_.size(); ++i) counts_[i] += other.counts_[i];
    count_ += other.count_;
    sum_ += other.sum_;
    if (other.max_ > max_) max_ = other.max_;
    if (other.min_ < min_) min_ = other.min_;
  }

  uint64_t count() const { return count_; }
  uint64_t max() const { return count_ ? max_ : 0; }
  uint64_t min() const { return count_ ? min_ : 0; }
  double mean() const { return count_ ? static_cast<double>(sum_) / count_ : 0; }

  // The value at quantile q in [0, 1]: the midpoint of the bucket holding the rank-th value
  // (clamped to the observed min and max, so p0 and p100 are exact).
  uint64_t Percentile(double q) const {
    if (count_ == 0) return 0;
    if (q <= 0) return min();
    if (q >= 1) return max();
    uint64_t rank = static_cast<uint64_t>(q * static_cast<double>(count_) + 0.5);
    if (rank == 0) rank = 1;
    uint64_t seen = 0;
    for (size_t i = 0; i < counts_.size(); ++i) {
      seen += counts_[i];
      if (seen >= rank) {
        const uint64_t mid = Lowest(i) + (Width(i) - 1) / 2;
        return mid < min_ ? min_ : (mid > max_ ? max_ : mid);
      }
    }
    return max();
  }

  // Bucket arithmetic, public for tests.
  static size_t Index(uint64_t v) {
    if (v < kSubBuckets) return static_cast<size_t>(v);
    const int exp = std::bit_width(v) - 1;  // v in [2^exp, 2^(exp+1))
    const int shift = exp - kSubBucketBits;
    return static_cast<size_t>((shift + 1) * kSubBuckets + ((v >> shift) - kSubBuckets));
  }
  static uint64_t Lowest(size_t i) {
    if (i < kSubBuckets) return i;
    const int shift = static_cast<int>(i / kSubBuckets) - 1;
    return (kSubBuckets + i % kSubBuckets) << shift;
  }
  static uint64_t Width(size_t i) {
    return i < kSubBuckets ? 1 : uint64_t{1} << (i / kSubBuckets - 1);
  }

 private:
  static constexpr size_t kBuckets = (64 - kSubBucketBits + 1) * kSubBuckets;

  std::array<uint64_t, kBuckets> counts_{};
  uint64_t count_ = 0;
  uint64_t sum_ = 0;
  uint64_t max_ = 0;
  uint64_t min_ = std::numeric_limits<uint64_t>::max();
};

}  // namespace devstate::loadgen
