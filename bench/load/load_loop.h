#ifndef DEJA_BENCH_LOAD_LOAD_LOOP_H_
#define DEJA_BENCH_LOAD_LOAD_LOOP_H_

// The load engine of deja-load: drives a Driver in a closed loop (exactly C
// requests outstanding) or an open loop (Poisson arrivals at rate R), for a
// warm-up period whose figures are dropped and then a measured period.
//
// Open-loop latency runs from each request's SCHEDULED send time, so a
// sender or server that falls behind shows up as latency (no coordinated
// omission). Arrivals that find --max-outstanding requests already in
// flight are dropped and counted, and the run is reported as saturated.

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "bench/load/histogram.h"

namespace deja::bench {

// How one request ended.
struct Outcome {
  // The status code's name: "OK", "UNAVAILABLE", "DEADLINE_EXCEEDED", ...
  std::string code = "OK";
  // When set, the latency of this (OK) request goes to the histogram of this
  // name instead of the main one: it measures something else (a submit that
  // waits until searchable measures the index lag).
  std::string series;
  // When set, counts one event of this name (e.g. "lag_timeout").
  std::string event;
};

// Sends requests. Thread-safe: Start is called from the engine's sender
// thread and from completion callbacks.
class Driver {
 public:
  using Done = std::function<void(const Outcome&)>;
  virtual ~Driver() = default;

  // Issues request number `n` (0, 1, 2, ...) without waiting for it, and
  // calls `done` exactly once when it completes, from any thread. `done`
  // should not be called before Start returns; the engine copes if it is.
  virtual void Start(int64_t n, Done done) = 0;
};

struct LoadOptions {
  // Exactly one of the two is positive: closed loop or open loop.
  int concurrency = 0;
  double rate = 0;  // requests per second
  absl::Duration warmup = absl::Seconds(2);
  absl::Duration duration = absl::Seconds(10);
  uint64_t seed = 1;
  // Open loop: arrivals beyond this many requests in flight are dropped.
  int max_outstanding = 2000;
  // How long to wait after the measured period for requests in flight.
  absl::Duration drain_timeout = absl::Seconds(30);
  // Called on the engine's timekeeping thread when the measured period
  // starts and when it ends (e.g. to read CPU counters).
  std::function<void()> on_measure_start;
  std::function<void()> on_measure_end;
};

struct LoadResult {
  bool open_loop = false;
  absl::Duration measured;
  // Requests scheduled (open loop) or started (closed loop) in the measured
  // period, whatever became of them; their outcomes follow.
  int64_t requests = 0;
  std::map<std::string, int64_t> codes;
  std::map<std::string, int64_t> events;
  // OK requests only; errors are in `codes`.
  LatencyHistogram latency;
  std::map<std::string, LatencyHistogram> series;
  // Requests that completed (any code) within the measured period, over its
  // length: the achieved throughput.
  int64_t completed_in_period = 0;
  double achieved_rate = 0;
  // The same for OK answers only (a server that refuses fast looks busy).
  double ok_rate = 0;
  // Open loop: arrivals in the measured period dropped at the cap.
  int64_t dropped = 0;
  bool saturated = false;
  int64_t max_in_flight = 0;
  // Requests still in flight when the drain timed out.
  int64_t undrained = 0;
};

// Runs the load; blocks for warmup + duration + the drain. INVALID_ARGUMENT
// for inconsistent options. The driver must outlive any undrained request.
absl::StatusOr<LoadResult> RunLoad(Driver& driver, const LoadOptions& options);

// Poisson arrival times at `rate` per second, as offsets from the start in
// nanoseconds, ascending, all below `span`. Deterministic per seed, on any
// platform (no std:: distributions).
std::vector<int64_t> PoissonSchedule(double rate, absl::Duration span,
                                     uint64_t seed);

}  // namespace deja::bench

#endif  // DEJA_BENCH_LOAD_LOAD_LOOP_H_
