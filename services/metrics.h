#ifndef DEJA_SERVICES_METRICS_H_
#define DEJA_SERVICES_METRICS_H_

// A small Prometheus metrics registry: counters, gauges and histograms with
// labels, rendered in the text exposition format 0.0.4 for /metrics. Written
// for Deja because Debian 12 packages no C++ Prometheus client.
//
// The hot path is lock-free: a Counter, Gauge or Histogram is a few atomics,
// and a caller that keeps the reference returned by Family::WithLabels (it
// stays valid as long as the registry) pays no lookup. WithLabels itself
// takes the family's mutex, so cache its result where calls are frequent.
//
// Scrape-time values (the index lag, the knowledge-base counts) are set by
// hooks that Render() runs first; Render() calls are serialized, so hooks
// need no locking of their own. Everything here is thread-safe.

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "core/stats_store.h"
#include "deja/v1/admin_service.pb.h"

namespace deja {

class Counter {
 public:
  // `by` must not be negative: a counter only goes up.
  void Increment(double by = 1);
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

class Gauge {
 public:
  void Set(double value) { value_.store(value, std::memory_order_relaxed); }
  void Add(double by);
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

class Histogram {
 public:
  // `upper_bounds`: strictly increasing, finite; +Inf is implied.
  explicit Histogram(const std::vector<double>& upper_bounds);

  void Observe(double value);

  struct Snapshot {
    std::vector<double> upper_bounds;  // without +Inf
    // Cumulative: cumulative_counts[i] observations were <= upper_bounds[i];
    // one more entry at the end for +Inf, which equals `count`.
    std::vector<uint64_t> cumulative_counts;
    uint64_t count = 0;
    double sum = 0;
  };
  // Not atomic as a whole: an Observe() running meanwhile may show in the
  // buckets and not yet in `sum`. `count` is always the +Inf bucket.
  Snapshot Read() const;

 private:
  const std::vector<double> upper_bounds_;
  // Per bucket (not cumulative), the last one for +Inf.
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;
  std::atomic<double> sum_{0};
};

// Latency buckets in seconds, from 1 ms to 30 s.
std::vector<double> DefaultLatencyBuckets();

// Formats a sample value as Prometheus does: "3", "0.25", "+Inf", "NaN".
std::string FormatMetricValue(double value);

// Escapes a label value: backslash, double quote and newline.
std::string EscapeLabelValue(const std::string& value);

enum class MetricType { kCounter, kGauge, kHistogram };

// The metrics of one name, one per combination of label values.
template <class Metric>
class Family {
 public:
  // The metric for these label values (one per label name, in order),
  // created on first use. Aborts when the count is wrong: a programming
  // error. The reference stays valid for the registry's life.
  Metric& WithLabels(const std::vector<std::string>& values);

 private:
  friend class MetricsRegistry;
  Family(std::string name, std::string help, std::vector<std::string> labels,
         std::function<std::unique_ptr<Metric>()> make)
      : name_(std::move(name)),
        help_(std::move(help)),
        labels_(std::move(labels)),
        make_(std::move(make)) {}

  const std::string name_;
  const std::string help_;
  const std::vector<std::string> labels_;
  const std::function<std::unique_ptr<Metric>()> make_;
  mutable std::mutex mu_;
  // Sorted by label values, so the output is stable.
  std::map<std::vector<std::string>, std::unique_ptr<Metric>> children_;
};

class MetricsRegistry {
 public:
  MetricsRegistry() = default;
  MetricsRegistry(const MetricsRegistry&) = delete;
  MetricsRegistry& operator=(const MetricsRegistry&) = delete;

  // Names and label names must be valid Prometheus names and not registered
  // twice (aborts otherwise: a programming error). Families render in the
  // order they were added.
  Family<Counter>& AddCounter(const std::string& name, const std::string& help,
                              std::vector<std::string> labels = {});
  Family<Gauge>& AddGauge(const std::string& name, const std::string& help,
                          std::vector<std::string> labels = {});
  Family<Histogram>& AddHistogram(const std::string& name,
                                  const std::string& help,
                                  std::vector<std::string> labels,
                                  std::vector<double> upper_bounds);

  // Runs before every Render(), in the order added.
  void AddScrapeHook(std::function<void()> hook);

  // Runs the hooks, then renders every family in the text format 0.0.4.
  std::string Render();

 private:
  struct Entry {
    MetricType type;
    std::unique_ptr<Family<Counter>> counters;
    std::unique_ptr<Family<Gauge>> gauges;
    std::unique_ptr<Family<Histogram>> histograms;
  };
  void CheckNew(const std::string& name,
                const std::vector<std::string>& labels);

  std::mutex mu_;  // guards entries_ and hooks_
  std::vector<Entry> entries_;
  std::vector<std::function<void()>> hooks_;
  std::mutex render_mu_;  // one Render() at a time
};

// deja_index_lag_seconds, deja_index_outbox_pending, deja_index_documents,
// deja_index_link_pending, deja_index_link_lag_seconds: set at each scrape from
// `status` (what AdminService.GetIndexStatus answers). A failed read keeps the
// last values and counts in `database_errors` (deja_database_errors_total).
void AddIndexGauges(MetricsRegistry& registry,
                    std::function<absl::StatusOr<v1::IndexStatus>()> status,
                    Counter& database_errors);

// What the knowledge base holds, for dashboards that only speak Prometheus:
// deja_incidents{severity}, deja_action_items_open,
// deja_action_items_overdue and deja_repeats_last_30_days. Computed from
// `store` at scrape time, at most once per `max_age` so that frequent
// scrapes do not hammer PostgreSQL; a failed refresh keeps the last values,
// counts in `database_errors` and is retried at the
// next scrape. `store` and `database_errors` must outlive the registry.
struct KnowledgeBaseGaugeOptions {
  absl::Duration max_age = absl::Seconds(15);
  std::function<absl::Time()> clock = [] { return absl::Now(); };
};
void AddKnowledgeBaseGauges(MetricsRegistry& registry, StatsStore& store,
                            Counter& database_errors,
                            KnowledgeBaseGaugeOptions options = {});

}  // namespace deja

#endif  // DEJA_SERVICES_METRICS_H_
