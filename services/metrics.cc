#include "services/metrics.h"

#include <google/protobuf/util/time_util.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/event_log.h"

namespace deja {
namespace {

void AddTo(std::atomic<double>& target, double by) {
  // std::atomic<double>::fetch_add is C++20.
  double current = target.load(std::memory_order_relaxed);
  while (!target.compare_exchange_weak(current, current + by,
                                       std::memory_order_relaxed)) {
  }
}

bool IsMetricName(const std::string& name, bool allow_colon) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool ok =
        absl::ascii_isalpha(static_cast<unsigned char>(c)) || c == '_' ||
        (allow_colon && c == ':') ||
        (i > 0 && absl::ascii_isdigit(static_cast<unsigned char>(c)));
    if (!ok) return false;
  }
  return true;
}

[[noreturn]] void Bug(absl::string_view what) {
  LogEvent(absl::StrCat("bug: metrics: ", what));
  std::abort();
}

// HELP text escapes backslash and newline (but not quotes).
std::string EscapeHelp(const std::string& help) {
  std::string out;
  out.reserve(help.size());
  for (const char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

// {a="x",b="y"}, with an optional extra label last (histograms' le); ""
// when there are no labels at all.
std::string LabelSet(const std::vector<std::string>& names,
                     const std::vector<std::string>& values,
                     const std::string& extra_name = "",
                     const std::string& extra_value = "") {
  std::vector<std::string> pairs;
  for (size_t i = 0; i < names.size(); ++i) {
    pairs.push_back(
        absl::StrCat(names[i], "=\"", EscapeLabelValue(values[i]), "\""));
  }
  if (!extra_name.empty()) {
    pairs.push_back(
        absl::StrCat(extra_name, "=\"", EscapeLabelValue(extra_value), "\""));
  }
  if (pairs.empty()) return "";
  return absl::StrCat("{", absl::StrJoin(pairs, ","), "}");
}

const char* TypeName(MetricType type) {
  switch (type) {
    case MetricType::kCounter:
      return "counter";
    case MetricType::kGauge:
      return "gauge";
    case MetricType::kHistogram:
      return "histogram";
  }
  return "untyped";
}

void RenderHeader(const std::string& name, const std::string& help,
                  MetricType type, std::string& out) {
  absl::StrAppend(&out, "# HELP ", name, " ", EscapeHelp(help), "\n", "# TYPE ",
                  name, " ", TypeName(type), "\n");
}

void RenderSample(const std::string& name, const std::string& labels,
                  double value, std::string& out) {
  absl::StrAppend(&out, name, labels, " ", FormatMetricValue(value), "\n");
}

}  // namespace

void Counter::Increment(double by) {
  if (by < 0) Bug("a counter was decremented");
  AddTo(value_, by);
}

void Gauge::Add(double by) { AddTo(value_, by); }

Histogram::Histogram(const std::vector<double>& upper_bounds)
    : upper_bounds_(upper_bounds),
      counts_(new std::atomic<uint64_t>[upper_bounds.size() + 1]) {
  for (size_t i = 0; i < upper_bounds_.size(); ++i) {
    if (!std::isfinite(upper_bounds_[i]) ||
        (i > 0 && upper_bounds_[i] <= upper_bounds_[i - 1])) {
      Bug("histogram bounds must be finite and strictly increasing");
    }
  }
  for (size_t i = 0; i <= upper_bounds_.size(); ++i) counts_[i] = 0;
}

void Histogram::Observe(double value) {
  // The first bound >= value: Prometheus buckets are "less than or equal".
  const size_t bucket =
      std::lower_bound(upper_bounds_.begin(), upper_bounds_.end(), value) -
      upper_bounds_.begin();
  counts_[bucket].fetch_add(1, std::memory_order_relaxed);
  AddTo(sum_, value);
}

Histogram::Snapshot Histogram::Read() const {
  Snapshot snapshot;
  snapshot.upper_bounds = upper_bounds_;
  uint64_t running = 0;
  for (size_t i = 0; i <= upper_bounds_.size(); ++i) {
    running += counts_[i].load(std::memory_order_relaxed);
    snapshot.cumulative_counts.push_back(running);
  }
  snapshot.count = running;
  snapshot.sum = sum_.load(std::memory_order_relaxed);
  return snapshot;
}

std::vector<double> DefaultLatencyBuckets() {
  return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
          0.25,  0.5,    1,     2.5,  5,     10,   30};
}

std::string FormatMetricValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  // The shortest of %.15g / %.17g that reads back as the same double: "0.1"
  // rather than "0.10000000000000001", and no precision lost.
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.15g", value);
  if (std::strtod(buffer, nullptr) != value) {
    std::snprintf(buffer, sizeof buffer, "%.17g", value);
  }
  return buffer;
}

std::string EscapeLabelValue(const std::string& value) {
  std::string out;
  out.reserve(value.size());
  for (const char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

template <class Metric>
Metric& Family<Metric>::WithLabels(const std::vector<std::string>& values) {
  if (values.size() != labels_.size()) {
    Bug(absl::StrCat(name_, " takes ", labels_.size(), " label values, not ",
                     values.size()));
  }
  std::lock_guard<std::mutex> lock(mu_);
  std::unique_ptr<Metric>& child = children_[values];
  if (child == nullptr) child = make_();
  return *child;
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

void MetricsRegistry::CheckNew(const std::string& name,
                               const std::vector<std::string>& labels) {
  if (!IsMetricName(name, /*allow_colon=*/true)) {
    Bug(absl::StrCat("bad metric name '", name, "'"));
  }
  for (const std::string& label : labels) {
    if (!IsMetricName(label, /*allow_colon=*/false) || label == "le" ||
        label.rfind("__", 0) == 0) {
      Bug(absl::StrCat(name, ": bad label name '", label, "'"));
    }
  }
  for (const Entry& entry : entries_) {
    const std::string& existing = entry.counters ? entry.counters->name_
                                  : entry.gauges ? entry.gauges->name_
                                                 : entry.histograms->name_;
    if (existing == name) Bug(absl::StrCat(name, " registered twice"));
  }
}

Family<Counter>& MetricsRegistry::AddCounter(const std::string& name,
                                             const std::string& help,
                                             std::vector<std::string> labels) {
  std::lock_guard<std::mutex> lock(mu_);
  CheckNew(name, labels);
  Entry entry{MetricType::kCounter, nullptr, nullptr, nullptr};
  entry.counters.reset(new Family<Counter>(name, help, std::move(labels), [] {
    return std::make_unique<Counter>();
  }));
  Family<Counter>& family = *entry.counters;
  entries_.push_back(std::move(entry));
  // A metric without labels exists from the start (as 0), so it is scraped
  // before anything happens.
  if (family.labels_.empty()) family.WithLabels({});
  return family;
}

Family<Gauge>& MetricsRegistry::AddGauge(const std::string& name,
                                         const std::string& help,
                                         std::vector<std::string> labels) {
  std::lock_guard<std::mutex> lock(mu_);
  CheckNew(name, labels);
  Entry entry{MetricType::kGauge, nullptr, nullptr, nullptr};
  entry.gauges.reset(new Family<Gauge>(
      name, help, std::move(labels), [] { return std::make_unique<Gauge>(); }));
  Family<Gauge>& family = *entry.gauges;
  entries_.push_back(std::move(entry));
  if (family.labels_.empty()) family.WithLabels({});
  return family;
}

Family<Histogram>& MetricsRegistry::AddHistogram(
    const std::string& name, const std::string& help,
    std::vector<std::string> labels, std::vector<double> upper_bounds) {
  std::lock_guard<std::mutex> lock(mu_);
  CheckNew(name, labels);
  Histogram check(upper_bounds);  // aborts on bad bounds now, not later
  Entry entry{MetricType::kHistogram, nullptr, nullptr, nullptr};
  entry.histograms.reset(new Family<Histogram>(
      name, help, std::move(labels), [upper_bounds = std::move(upper_bounds)] {
        return std::make_unique<Histogram>(upper_bounds);
      }));
  Family<Histogram>& family = *entry.histograms;
  entries_.push_back(std::move(entry));
  if (family.labels_.empty()) family.WithLabels({});
  return family;
}

void MetricsRegistry::AddScrapeHook(std::function<void()> hook) {
  std::lock_guard<std::mutex> lock(mu_);
  hooks_.push_back(std::move(hook));
}

std::string MetricsRegistry::Render() {
  std::lock_guard<std::mutex> render_lock(render_mu_);
  std::vector<std::function<void()>> hooks;
  {
    std::lock_guard<std::mutex> lock(mu_);
    hooks = hooks_;
  }
  for (const auto& hook : hooks) hook();

  std::lock_guard<std::mutex> lock(mu_);
  std::string out;
  for (const Entry& entry : entries_) {
    if (entry.counters != nullptr || entry.gauges != nullptr) {
      const auto render = [&out, &entry](const auto& family) {
        std::lock_guard<std::mutex> family_lock(family.mu_);
        // A labelled family with nothing in it yet is left out, as the
        // official clients do.
        if (family.children_.empty()) return;
        RenderHeader(family.name_, family.help_, entry.type, out);
        for (const auto& [values, metric] : family.children_) {
          RenderSample(family.name_, LabelSet(family.labels_, values),
                       metric->Value(), out);
        }
      };
      if (entry.counters != nullptr) {
        render(*entry.counters);
      } else {
        render(*entry.gauges);
      }
      continue;
    }
    const Family<Histogram>& family = *entry.histograms;
    std::lock_guard<std::mutex> family_lock(family.mu_);
    if (family.children_.empty()) continue;
    RenderHeader(family.name_, family.help_, entry.type, out);
    for (const auto& [values, histogram] : family.children_) {
      const Histogram::Snapshot snapshot = histogram->Read();
      const std::string bucket_name = absl::StrCat(family.name_, "_bucket");
      for (size_t i = 0; i < snapshot.cumulative_counts.size(); ++i) {
        const std::string le = i < snapshot.upper_bounds.size()
                                   ? FormatMetricValue(snapshot.upper_bounds[i])
                                   : "+Inf";
        RenderSample(bucket_name, LabelSet(family.labels_, values, "le", le),
                     static_cast<double>(snapshot.cumulative_counts[i]), out);
      }
      const std::string labels = LabelSet(family.labels_, values);
      RenderSample(absl::StrCat(family.name_, "_sum"), labels, snapshot.sum,
                   out);
      RenderSample(absl::StrCat(family.name_, "_count"), labels,
                   static_cast<double>(snapshot.count), out);
    }
  }
  return out;
}

void AddIndexGauges(MetricsRegistry& registry,
                    std::function<absl::StatusOr<v1::IndexStatus>()> status,
                    Counter& database_errors) {
  Gauge& lag = registry
                   .AddGauge("deja_index_lag_seconds",
                             "Age of the oldest outbox row the indexer has not "
                             "applied: how far search is behind PostgreSQL.")
                   .WithLabels({});
  Gauge& pending = registry
                       .AddGauge("deja_index_outbox_pending",
                                 "Outbox rows waiting for the indexer.")
                       .WithLabels({});
  Gauge& documents =
      registry
          .AddGauge("deja_index_documents", "Postmortems in the search index.")
          .WithLabels({});
  Gauge& link_pending =
      registry
          .AddGauge("deja_index_link_pending",
                    "Searchable postmortems whose recurrence links are not "
                    "recorded yet.")
          .WithLabels({});
  Gauge& link_lag =
      registry
          .AddGauge("deja_index_link_lag_seconds",
                    "Age of the oldest of those: how far recurrence links "
                    "are behind the index.")
          .WithLabels({});
  registry.AddScrapeHook([&lag, &pending, &documents, &link_pending, &link_lag,
                          &database_errors, status = std::move(status)] {
    const absl::StatusOr<v1::IndexStatus> now = status();
    if (!now.ok()) {
      database_errors.Increment();
      return;
    }
    lag.Set(now->lag_seconds());
    pending.Set(static_cast<double>(now->pending()));
    documents.Set(static_cast<double>(now->documents()));
    link_pending.Set(static_cast<double>(now->link_pending()));
    link_lag.Set(now->link_lag_seconds());
  });
}

namespace {

// The knowledge-base gauges and when they were last computed; touched only
// by the scrape hook, which Render() serializes.
struct KnowledgeBaseGauges {
  StatsStore& store;
  Counter& database_errors;
  KnowledgeBaseGaugeOptions options;
  Family<Gauge>& incidents;
  Gauge& open;
  Gauge& overdue;
  Gauge& repeats_30d;
  absl::Time refreshed = absl::InfinitePast();

  absl::Status Refresh(absl::Time now) {
    const absl::StatusOr<v1::Overview> all =
        store.Overview(v1::StatsRequest(), now);
    if (!all.ok()) return all.status();
    v1::StatsRequest recent;
    *recent.mutable_started_after() =
        google::protobuf::util::TimeUtil::SecondsToTimestamp(
            absl::ToUnixSeconds(now - absl::Hours(24 * 30)));
    const absl::StatusOr<v1::Overview> last_30_days =
        store.Overview(recent, now);
    if (!last_30_days.ok()) return last_30_days.status();
    for (const v1::SeverityCount& count : all->by_severity()) {
      incidents.WithLabels({v1::Severity_Name(count.severity())})
          .Set(static_cast<double>(count.incidents()));
    }
    open.Set(static_cast<double>(all->action_items().open()));
    overdue.Set(static_cast<double>(all->action_items().overdue()));
    repeats_30d.Set(static_cast<double>(last_30_days->repeats()));
    return absl::OkStatus();
  }

  void MaybeRefresh() {
    const absl::Time now = options.clock();
    if (now - refreshed < options.max_age) return;
    if (absl::Status status = Refresh(now); !status.ok()) {
      database_errors.Increment();
      LogEvent(absl::StrCat("metrics: knowledge-base statistics not updated: ",
                            status.ToString()));
      return;
    }
    refreshed = now;
  }
};

}  // namespace

void AddKnowledgeBaseGauges(MetricsRegistry& registry, StatsStore& store,
                            Counter& database_errors,
                            KnowledgeBaseGaugeOptions options) {
  auto gauges = std::make_shared<KnowledgeBaseGauges>(KnowledgeBaseGauges{
      store, database_errors, std::move(options),
      registry.AddGauge("deja_incidents",
                        "Postmortems in the knowledge base, by severity.",
                        {"severity"}),
      registry
          .AddGauge("deja_action_items_open",
                    "Action items OPEN or IN_PROGRESS.")
          .WithLabels({}),
      registry
          .AddGauge("deja_action_items_overdue",
                    "Open action items past their due date (UTC).")
          .WithLabels({}),
      registry
          .AddGauge("deja_repeats_last_30_days",
                    "Incidents of the last 30 days that repeat an earlier "
                    "one (counted recurrence links).")
          .WithLabels({})});
  registry.AddScrapeHook([gauges] { gauges->MaybeRefresh(); });
}

}  // namespace deja
