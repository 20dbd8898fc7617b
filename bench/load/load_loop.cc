#include "bench/load/load_loop.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <random>
#include <thread>
#include <utility>

namespace deja::bench {
namespace {

int64_t NowNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void SleepUntilNanos(int64_t nanos) {
  std::this_thread::sleep_until(std::chrono::steady_clock::time_point(
      std::chrono::duration_cast<std::chrono::steady_clock::duration>(
          std::chrono::nanoseconds(nanos))));
}

// > 0 while this thread is inside Driver::Start: a completion that arrives
// then must not start the next request itself, or a driver that completes
// inline would recurse once per request.
thread_local int start_depth = 0;

// The outcomes of measured requests. Completions come from any thread, so
// they are spread over a few locked tallies (by thread) and merged at the end.
struct Tally {
  std::mutex mu;
  int64_t requests = 0;
  std::map<std::string, int64_t> codes;
  std::map<std::string, int64_t> events;
  LatencyHistogram latency;
  std::map<std::string, LatencyHistogram> series;
};

// One run. Completion callbacks hold a shared_ptr, so a request that outlives
// the drain still finds its run.
class LoadRun : public std::enable_shared_from_this<LoadRun> {
 public:
  LoadRun(Driver& driver, const LoadOptions& options)
      : driver_(driver), options_(options), open_loop_(options.rate > 0) {}

  LoadResult Run();

 private:
  static constexpr int kTallies = 16;

  void RunClosedSender();
  void RunOpenSender(const std::vector<int64_t>& schedule);
  // Starts the next request, scheduled at `scheduled`; `slot_reserved` when
  // in_flight_ already counts it.
  void StartOne(int64_t scheduled, bool slot_reserved);
  void OnDone(int64_t scheduled, const Outcome& outcome);
  void Record(int64_t scheduled, int64_t now, const Outcome& outcome);
  void ReleaseSlot();
  bool Measured(int64_t nanos) const {
    return nanos >= measure_start_ && nanos < measure_end_;
  }
  LoadResult Collect();

  Driver& driver_;
  const LoadOptions options_;
  const bool open_loop_;
  int64_t start_ = 0;
  int64_t measure_start_ = 0;
  int64_t measure_end_ = 0;

  std::atomic<bool> stop_{false};
  std::atomic<int64_t> next_n_{0};
  std::atomic<int64_t> in_flight_{0};
  std::atomic<int64_t> max_in_flight_{0};
  std::atomic<int64_t> completed_in_period_{0};
  std::atomic<int64_t> ok_in_period_{0};
  std::atomic<int64_t> dropped_{0};

  // Guards restarts_ and, with stop_, the closed-loop sender's exit; the
  // condition variable also signals in_flight_ reaching 0.
  std::mutex mu_;
  std::condition_variable cv_;
  int64_t restarts_ = 0;

  std::array<Tally, kTallies> tallies_;
};

LoadResult LoadRun::Run() {
  std::vector<int64_t> schedule;
  if (open_loop_) {
    schedule = PoissonSchedule(
        options_.rate, options_.warmup + options_.duration, options_.seed);
  }
  start_ = NowNanos();
  measure_start_ = start_ + absl::ToInt64Nanoseconds(options_.warmup);
  measure_end_ = measure_start_ + absl::ToInt64Nanoseconds(options_.duration);

  std::thread sender([this, &schedule] {
    if (open_loop_) {
      RunOpenSender(schedule);
    } else {
      RunClosedSender();
    }
  });
  SleepUntilNanos(measure_start_);
  if (options_.on_measure_start) options_.on_measure_start();
  SleepUntilNanos(measure_end_);
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (options_.on_measure_end) options_.on_measure_end();
  sender.join();

  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock,
               std::chrono::nanoseconds(
                   absl::ToInt64Nanoseconds(options_.drain_timeout)),
               [this] { return in_flight_.load() == 0; });
  lock.unlock();
  return Collect();
}

void LoadRun::RunClosedSender() {
  for (int i = 0; i < options_.concurrency; ++i) {
    StartOne(NowNanos(), /*slot_reserved=*/false);
  }
  while (true) {
    int64_t restarts = 0;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return restarts_ > 0 || stop_; });
      if (restarts_ == 0) return;  // stopped, and nothing left to hand back
      restarts = std::exchange(restarts_, 0);
    }
    for (int64_t i = 0; i < restarts; ++i) {
      if (stop_) {
        ReleaseSlot();
      } else {
        StartOne(NowNanos(), /*slot_reserved=*/true);
      }
    }
  }
}

void LoadRun::RunOpenSender(const std::vector<int64_t>& schedule) {
  for (const int64_t offset : schedule) {
    const int64_t at = start_ + offset;
    SleepUntilNanos(at);
    if (in_flight_.load() >= options_.max_outstanding) {
      if (Measured(at)) ++dropped_;
      continue;
    }
    StartOne(at, /*slot_reserved=*/false);
  }
}

void LoadRun::StartOne(int64_t scheduled, bool slot_reserved) {
  const int64_t in_flight = slot_reserved ? in_flight_.load() : ++in_flight_;
  int64_t seen = max_in_flight_.load();
  while (in_flight > seen &&
         !max_in_flight_.compare_exchange_weak(seen, in_flight)) {
  }
  const int64_t n = next_n_++;
  ++start_depth;
  driver_.Start(n, [run = shared_from_this(), scheduled](const Outcome& o) {
    run->OnDone(scheduled, o);
  });
  --start_depth;
}

void LoadRun::OnDone(int64_t scheduled, const Outcome& outcome) {
  Record(scheduled, NowNanos(), outcome);
  // The closed loop starts the next request before giving up this one's
  // slot, so in_flight_ cannot touch 0 (and end the drain) while a
  // successor is still to come.
  if (!open_loop_ && !stop_) {
    if (start_depth > 0) {
      std::lock_guard<std::mutex> lock(mu_);
      if (!stop_) {
        ++in_flight_;
        ++restarts_;
        cv_.notify_all();
      }
    } else {
      StartOne(NowNanos(), /*slot_reserved=*/false);
    }
  }
  ReleaseSlot();
}

void LoadRun::ReleaseSlot() {
  if (--in_flight_ == 0) {
    std::lock_guard<std::mutex> lock(mu_);
    cv_.notify_all();
  }
}

void LoadRun::Record(int64_t scheduled, int64_t now, const Outcome& outcome) {
  if (Measured(now)) {
    ++completed_in_period_;
    if (outcome.code == "OK") ++ok_in_period_;
  }
  if (!Measured(scheduled)) return;
  Tally& tally =
      tallies_[std::hash<std::thread::id>()(std::this_thread::get_id()) %
               kTallies];
  std::lock_guard<std::mutex> lock(tally.mu);
  ++tally.requests;
  ++tally.codes[outcome.code];
  if (!outcome.event.empty()) ++tally.events[outcome.event];
  if (outcome.code != "OK") return;
  LatencyHistogram& histogram =
      outcome.series.empty() ? tally.latency : tally.series[outcome.series];
  histogram.Record(now - scheduled);
}

LoadResult LoadRun::Collect() {
  LoadResult result;
  result.open_loop = open_loop_;
  result.measured = options_.duration;
  for (Tally& tally : tallies_) {
    std::lock_guard<std::mutex> lock(tally.mu);
    result.requests += tally.requests;
    for (const auto& [code, count] : tally.codes) result.codes[code] += count;
    for (const auto& [event, count] : tally.events) {
      result.events[event] += count;
    }
    result.latency.Merge(tally.latency);
    for (const auto& [name, histogram] : tally.series) {
      result.series[name].Merge(histogram);
    }
  }
  result.completed_in_period = completed_in_period_.load();
  const double seconds = absl::ToDoubleSeconds(options_.duration);
  result.achieved_rate =
      seconds > 0 ? static_cast<double>(result.completed_in_period) / seconds
                  : 0;
  result.ok_rate =
      seconds > 0 ? static_cast<double>(ok_in_period_.load()) / seconds : 0;
  result.dropped = dropped_.load();
  result.max_in_flight = max_in_flight_.load();
  result.undrained = in_flight_.load();
  // Saturated: arrivals were dropped, requests never came back, or (open
  // loop) fewer than 90% of the offered rate were answered OK; the latency
  // figures, which cover OK answers only, then do not describe the rate.
  result.saturated =
      result.dropped > 0 || result.undrained > 0 ||
      (options_.rate > 0 && result.ok_rate < 0.9 * options_.rate);
  return result;
}

}  // namespace

std::vector<int64_t> PoissonSchedule(double rate, absl::Duration span,
                                     uint64_t seed) {
  std::vector<int64_t> schedule;
  if (rate <= 0) return schedule;
  const double span_nanos = absl::ToDoubleNanoseconds(span);
  schedule.reserve(static_cast<size_t>(rate * span_nanos / 1e9 * 1.1) + 16);
  std::mt19937_64 random(seed);
  double at = 0;
  while (true) {
    // Uniform in [0, 1) from the top 53 bits; -log(1 - u) is exponential.
    const double u = static_cast<double>(random() >> 11) * 0x1.0p-53;
    at += -std::log1p(-u) / rate * 1e9;
    if (at >= span_nanos) break;
    schedule.push_back(static_cast<int64_t>(at));
  }
  return schedule;
}

absl::StatusOr<LoadResult> RunLoad(Driver& driver, const LoadOptions& options) {
  if ((options.concurrency > 0) == (options.rate > 0)) {
    return absl::InvalidArgumentError(
        "give either a concurrency (closed loop) or a rate (open loop)");
  }
  if (options.duration <= absl::ZeroDuration() ||
      options.warmup < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "the duration must be positive and the warm-up not negative");
  }
  if (options.rate > 0 && options.max_outstanding < 1) {
    return absl::InvalidArgumentError("max_outstanding must be at least 1");
  }
  auto run = std::make_shared<LoadRun>(driver, options);
  return run->Run();
}

}  // namespace deja::bench
