#include "bench/load/load_loop.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <utility>

#include "gtest/gtest.h"

namespace deja::bench {
namespace {

using Clock = std::chrono::steady_clock;
constexpr int64_t kMillis = 1'000'000;

// Completes each request after a fixed delay, on a thread of its own, and
// counts how many it holds at once. `outcome_of` decides each outcome;
// `on_start` runs inside Start (to stall the sender).
class DelayDriver : public Driver {
 public:
  explicit DelayDriver(std::chrono::microseconds delay)
      : delay_(delay), thread_([this] { Complete(); }) {}

  ~DelayDriver() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

  void Start(int64_t n, Done done) override {
    const int64_t now = ++in_flight_;
    int64_t seen = max_in_flight_.load();
    while (now > seen && !max_in_flight_.compare_exchange_weak(seen, now)) {
    }
    if (on_start) on_start(n);
    {
      std::lock_guard<std::mutex> lock(mu_);
      pending_.emplace(Clock::now() + delay_, Pending{n, std::move(done)});
    }
    cv_.notify_all();
  }

  int64_t max_in_flight() const { return max_in_flight_.load(); }

  std::function<Outcome(int64_t n)> outcome_of = [](int64_t) {
    return Outcome();
  };
  std::function<void(int64_t n)> on_start;

 private:
  struct Pending {
    int64_t n;
    Done done;
  };

  void Complete() {
    std::unique_lock<std::mutex> lock(mu_);
    while (true) {
      if (pending_.empty()) {
        if (stopping_) return;
        cv_.wait(lock);
        continue;
      }
      auto first = pending_.begin();
      if (Clock::now() < first->first) {
        cv_.wait_until(lock, first->first);
        continue;
      }
      Pending job = std::move(first->second);
      pending_.erase(first);
      lock.unlock();
      --in_flight_;
      job.done(outcome_of(job.n));
      lock.lock();
    }
  }

  const std::chrono::microseconds delay_;
  std::atomic<int64_t> in_flight_{0};
  std::atomic<int64_t> max_in_flight_{0};
  std::mutex mu_;
  std::condition_variable cv_;
  std::multimap<Clock::time_point, Pending> pending_;
  bool stopping_ = false;
  std::thread thread_;
};

// Completes every request inside Start: the engine must not recurse.
class InlineDriver : public Driver {
 public:
  void Start(int64_t, Done done) override { done(Outcome()); }
};

TEST(LoadLoopTest, ClosedLoopKeepsConcurrencyInFlightAndItsRate) {
  DelayDriver driver(std::chrono::milliseconds(5));
  LoadOptions options;
  options.concurrency = 4;
  options.warmup = absl::Milliseconds(200);
  options.duration = absl::Seconds(1);
  const absl::StatusOr<LoadResult> result = RunLoad(driver, options);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(driver.max_in_flight(), 4);
  // 4 requests per 5 ms; timers only ever run late, and on a busy machine
  // very late, so only the upper bound is sharp.
  EXPECT_LE(result->achieved_rate, 800 * 1.05);
  EXPECT_GT(result->achieved_rate, 0);
  EXPECT_FALSE(result->open_loop);
  EXPECT_EQ(result->undrained, 0);
  EXPECT_EQ(result->codes.at("OK"), result->requests);
  EXPECT_GE(result->latency.Percentile(50), 5 * kMillis);
}

TEST(LoadLoopTest, WarmupIsLeftOutAndHooksMarkTheMeasuredPeriod) {
  DelayDriver driver(std::chrono::milliseconds(10));
  LoadOptions options;
  options.concurrency = 1;
  options.warmup = absl::Milliseconds(500);
  options.duration = absl::Milliseconds(500);
  int starts = 0;
  int ends = 0;
  Clock::time_point started;
  Clock::time_point ended;
  options.on_measure_start = [&] {
    ++starts;
    started = Clock::now();
  };
  options.on_measure_end = [&] {
    ++ends;
    ended = Clock::now();
  };
  const absl::StatusOr<LoadResult> result = RunLoad(driver, options);
  ASSERT_TRUE(result.ok()) << result.status();
  // At most ~50 requests of 10 ms in the measured half second, not ~100
  // (fewer when the machine is busy and timers run late).
  EXPECT_GE(result->requests, 1);
  EXPECT_LE(result->requests, 55);
  EXPECT_EQ(starts, 1);
  EXPECT_EQ(ends, 1);
  // The engine takes its start time just before calling the start hook, so
  // the hooks can be a few microseconds less than the duration apart.
  EXPECT_GE(ended - started, std::chrono::milliseconds(490));
}

TEST(LoadLoopTest, ClosedLoopSurvivesADriverThatCompletesInline) {
  InlineDriver driver;
  LoadOptions options;
  options.concurrency = 2;
  options.warmup = absl::ZeroDuration();
  options.duration = absl::Milliseconds(300);
  const absl::StatusOr<LoadResult> result = RunLoad(driver, options);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_GT(result->requests, 1000);
  EXPECT_EQ(result->undrained, 0);
}

TEST(PoissonScheduleTest, IsDeterministicPerSeedAndAscending) {
  const auto first = PoissonSchedule(1000, absl::Seconds(2), 42);
  const auto again = PoissonSchedule(1000, absl::Seconds(2), 42);
  const auto other = PoissonSchedule(1000, absl::Seconds(2), 43);
  EXPECT_EQ(first, again);
  EXPECT_NE(first, other);
  ASSERT_FALSE(first.empty());
  EXPECT_TRUE(std::is_sorted(first.begin(), first.end()));
  EXPECT_GE(first.front(), 0);
  EXPECT_LT(first.back(), 2'000'000'000);
}

TEST(PoissonScheduleTest, MeanRateIsWithinFivePercentOverTenThousandArrivals) {
  for (const uint64_t seed : {1, 2, 3}) {
    const double rate = 2000;
    const auto schedule = PoissonSchedule(rate, absl::Seconds(10), seed);
    ASSERT_GE(schedule.size(), 10000u) << "seed " << seed;
    const double seconds = static_cast<double>(schedule[9999]) / 1e9;
    EXPECT_NEAR(10000 / seconds, rate, 0.05 * rate) << "seed " << seed;
    // Exponential gaps: about as many below the mean gap as a Poisson
    // process gives (1 - 1/e = 63%).
    int short_gaps = 0;
    for (size_t i = 1; i < 10000; ++i) {
      if (schedule[i] - schedule[i - 1] < 1e9 / rate) ++short_gaps;
    }
    EXPECT_NEAR(short_gaps / 10000.0, 0.632, 0.03) << "seed " << seed;
  }
}

TEST(LoadLoopTest, OpenLoopLatencyRunsFromTheScheduledTime) {
  // The sender stalls 200 ms inside one Start; the ~100 arrivals scheduled
  // meanwhile go out late, and their latency must say so even though the
  // driver answers each at once.
  DelayDriver driver(std::chrono::microseconds(0));
  driver.on_start = [](int64_t n) {
    if (n == 100) std::this_thread::sleep_for(std::chrono::milliseconds(200));
  };
  LoadOptions options;
  options.rate = 500;
  options.warmup = absl::ZeroDuration();
  options.duration = absl::Seconds(1);
  const absl::StatusOr<LoadResult> result = RunLoad(driver, options);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_TRUE(result->open_loop);
  EXPECT_GE(result->latency.Max(), 190 * kMillis);
  EXPECT_GE(result->latency.Percentile(90), 50 * kMillis);
  // Without the stall everything would take well under a few ms; the bound
  // leaves room for a busy machine, and stays under the stall.
  EXPECT_LT(result->latency.Percentile(50), 150 * kMillis);
  EXPECT_FALSE(result->saturated);
}

TEST(LoadLoopTest, OpenLoopDropsArrivalsBeyondMaxOutstanding) {
  DelayDriver driver(std::chrono::milliseconds(1000));
  LoadOptions options;
  options.rate = 200;
  options.max_outstanding = 10;
  options.warmup = absl::ZeroDuration();
  options.duration = absl::Milliseconds(500);
  const absl::StatusOr<LoadResult> result = RunLoad(driver, options);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->requests, 10);
  EXPECT_GT(result->dropped, 50);
  EXPECT_TRUE(result->saturated);
  EXPECT_EQ(driver.max_in_flight(), 10);
  EXPECT_EQ(result->max_in_flight, 10);
  EXPECT_EQ(result->undrained, 0);
}

TEST(LoadLoopTest, CountsCodesEventsAndSeriesApart) {
  DelayDriver driver(std::chrono::milliseconds(1));
  driver.outcome_of = [](int64_t n) {
    Outcome outcome;
    if (n % 2 == 1) outcome.code = "UNAVAILABLE";
    if (n % 4 == 0) {
      outcome.series = "lag";
      outcome.event = "lag_timeout";
    }
    return outcome;
  };
  LoadOptions options;
  options.concurrency = 2;
  options.warmup = absl::ZeroDuration();
  options.duration = absl::Milliseconds(300);
  const absl::StatusOr<LoadResult> result = RunLoad(driver, options);
  ASSERT_TRUE(result.ok()) << result.status();
  const int64_t ok = result->codes.at("OK");
  const int64_t unavailable = result->codes.at("UNAVAILABLE");
  EXPECT_EQ(ok + unavailable, result->requests);
  EXPECT_NEAR(result->ok_rate, result->achieved_rate / 2,
              0.1 * result->achieved_rate);
  EXPECT_NEAR(static_cast<double>(ok), static_cast<double>(unavailable),
              0.1 * static_cast<double>(result->requests) + 2);
  // OK latencies only, split between the main histogram and "lag".
  ASSERT_EQ(result->series.count("lag"), 1u);
  EXPECT_EQ(result->latency.Count() + result->series.at("lag").Count(), ok);
  EXPECT_EQ(result->events.at("lag_timeout"), result->series.at("lag").Count());
}

TEST(LoadLoopTest, RejectsInconsistentOptions) {
  InlineDriver driver;
  LoadOptions neither;
  EXPECT_FALSE(RunLoad(driver, neither).ok());
  LoadOptions both;
  both.concurrency = 1;
  both.rate = 10;
  EXPECT_FALSE(RunLoad(driver, both).ok());
  LoadOptions no_time;
  no_time.concurrency = 1;
  no_time.duration = absl::ZeroDuration();
  EXPECT_FALSE(RunLoad(driver, no_time).ok());
}

}  // namespace
}  // namespace deja::bench
