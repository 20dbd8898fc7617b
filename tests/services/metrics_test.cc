#include "services/metrics.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace deja {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(MetricsTest, CounterWithoutLabelsRendersHelpTypeAndZeroBeforeUse) {
  MetricsRegistry registry;
  registry.AddCounter("deja_things_total", "Things seen.");
  EXPECT_EQ(registry.Render(),
            "# HELP deja_things_total Things seen.\n"
            "# TYPE deja_things_total counter\n"
            "deja_things_total 0\n");
}

TEST(MetricsTest, LabelledSeriesRenderSortedByLabelValues) {
  MetricsRegistry registry;
  Family<Counter>& calls =
      registry.AddCounter("deja_calls_total", "Calls.", {"method", "code"});
  calls.WithLabels({"b/Get", "OK"}).Increment();
  calls.WithLabels({"a/Put", "NOT_FOUND"}).Increment(2);
  calls.WithLabels({"b/Get", "OK"}).Increment(0.5);
  EXPECT_EQ(registry.Render(),
            "# HELP deja_calls_total Calls.\n"
            "# TYPE deja_calls_total counter\n"
            "deja_calls_total{method=\"a/Put\",code=\"NOT_FOUND\"} 2\n"
            "deja_calls_total{method=\"b/Get\",code=\"OK\"} 1.5\n");
}

TEST(MetricsTest, LabelledFamilyWithNoSeriesIsLeftOut) {
  MetricsRegistry registry;
  registry.AddGauge("deja_empty", "Nothing yet.", {"severity"});
  EXPECT_EQ(registry.Render(), "");
}

TEST(MetricsTest, LabelValuesEscapeBackslashQuoteAndNewline) {
  MetricsRegistry registry;
  registry.AddGauge("deja_g", "G.", {"path"})
      .WithLabels({"C:\\dir \"x\"\nnext"})
      .Set(1);
  EXPECT_THAT(registry.Render(),
              HasSubstr("deja_g{path=\"C:\\\\dir \\\"x\\\"\\nnext\"} 1\n"));
}

TEST(MetricsTest, HelpEscapesBackslashAndNewlineButNotQuotes) {
  MetricsRegistry registry;
  registry.AddGauge("deja_g", "a \\ b\n\"c\"");
  EXPECT_THAT(registry.Render(), HasSubstr("# HELP deja_g a \\\\ b\\n\"c\"\n"));
}

TEST(MetricsTest, GaugeGoesUpAndDown) {
  MetricsRegistry registry;
  Gauge& gauge = registry.AddGauge("deja_g", "G.").WithLabels({});
  gauge.Set(5);
  gauge.Add(-7.25);
  EXPECT_EQ(gauge.Value(), -2.25);
  EXPECT_THAT(registry.Render(),
              HasSubstr("# TYPE deja_g gauge\ndeja_g -2.25\n"));
}

TEST(MetricsTest, ValuesFormatAsPrometheusExpects) {
  EXPECT_EQ(FormatMetricValue(0), "0");
  EXPECT_EQ(FormatMetricValue(42), "42");
  EXPECT_EQ(FormatMetricValue(0.1), "0.1");
  EXPECT_EQ(FormatMetricValue(1e21), "1e+21");
  EXPECT_EQ(FormatMetricValue(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(FormatMetricValue(-std::numeric_limits<double>::infinity()),
            "-Inf");
  EXPECT_EQ(FormatMetricValue(std::numeric_limits<double>::quiet_NaN()), "NaN");
  // Round-trips exactly even when 15 digits are not enough.
  const double third = 1.0 / 3;
  EXPECT_EQ(std::stod(FormatMetricValue(third)), third);
}

TEST(MetricsTest, HistogramBucketsAreCumulativeAndEndWithInf) {
  MetricsRegistry registry;
  Histogram& histogram = registry
                             .AddHistogram("deja_latency_seconds", "Latency.",
                                           {"method"}, {0.25, 1, 10})
                             .WithLabels({"x/Y"});
  // Binary fractions, so that the sum is exact.
  for (const double value : {0.125, 0.25, 0.5, 2.0, 20.0, 30.0}) {
    histogram.Observe(value);
  }
  EXPECT_EQ(registry.Render(),
            "# HELP deja_latency_seconds Latency.\n"
            "# TYPE deja_latency_seconds histogram\n"
            "deja_latency_seconds_bucket{method=\"x/Y\",le=\"0.25\"} 2\n"
            "deja_latency_seconds_bucket{method=\"x/Y\",le=\"1\"} 3\n"
            "deja_latency_seconds_bucket{method=\"x/Y\",le=\"10\"} 4\n"
            "deja_latency_seconds_bucket{method=\"x/Y\",le=\"+Inf\"} 6\n"
            "deja_latency_seconds_sum{method=\"x/Y\"} 52.875\n"
            "deja_latency_seconds_count{method=\"x/Y\"} 6\n");
}

TEST(MetricsTest, HistogramValueOnABoundCountsInThatBucket) {
  Histogram histogram({1, 2});
  histogram.Observe(1);
  histogram.Observe(2);
  const Histogram::Snapshot snapshot = histogram.Read();
  EXPECT_EQ(snapshot.cumulative_counts, (std::vector<uint64_t>{1, 2, 2}));
  EXPECT_EQ(snapshot.count, 2u);
  EXPECT_EQ(snapshot.sum, 3);
}

TEST(MetricsTest, HistogramWithoutLabelsRendersBeforeAnyObservation) {
  MetricsRegistry registry;
  registry.AddHistogram("deja_h", "H.", {}, {1});
  EXPECT_EQ(registry.Render(),
            "# HELP deja_h H.\n"
            "# TYPE deja_h histogram\n"
            "deja_h_bucket{le=\"1\"} 0\n"
            "deja_h_bucket{le=\"+Inf\"} 0\n"
            "deja_h_sum 0\n"
            "deja_h_count 0\n");
}

TEST(MetricsTest, FamiliesRenderInRegistrationOrder) {
  MetricsRegistry registry;
  registry.AddGauge("deja_z", "Z.");
  registry.AddGauge("deja_a", "A.");
  const std::string text = registry.Render();
  EXPECT_LT(text.find("deja_z"), text.find("deja_a"));
}

TEST(MetricsTest, ConcurrentIncrementsAreAllCounted) {
  MetricsRegistry registry;
  Family<Counter>& family = registry.AddCounter("deja_c_total", "C.", {"t"});
  Histogram& histogram =
      registry.AddHistogram("deja_h", "H.", {}, {1}).WithLabels({});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&family, &histogram] {
      for (int i = 0; i < 10000; ++i) {
        family.WithLabels({"x"}).Increment();
        histogram.Observe(0.5);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(family.WithLabels({"x"}).Value(), 40000);
  EXPECT_EQ(histogram.Read().count, 40000u);
  EXPECT_EQ(histogram.Read().sum, 20000);
}

TEST(MetricsTest, ScrapeHooksRunBeforeRendering) {
  MetricsRegistry registry;
  Gauge& gauge = registry.AddGauge("deja_g", "G.").WithLabels({});
  int scrapes = 0;
  registry.AddScrapeHook([&] { gauge.Set(++scrapes); });
  EXPECT_THAT(registry.Render(), HasSubstr("deja_g 1\n"));
  EXPECT_THAT(registry.Render(), HasSubstr("deja_g 2\n"));
}

TEST(MetricsTest, IndexGaugesShowTheStatusAndKeepItWhenReadingFails) {
  MetricsRegistry registry;
  Counter& errors =
      registry.AddCounter("deja_database_errors_total", "E.").WithLabels({});
  absl::StatusOr<v1::IndexStatus> status = v1::IndexStatus();
  status->set_pending(3);
  status->set_lag_seconds(1.5);
  status->set_documents(42);
  status->set_link_pending(7);
  status->set_link_lag_seconds(2.5);
  AddIndexGauges(
      registry, [&status] { return status; }, errors);
  std::string text = registry.Render();
  EXPECT_THAT(text, HasSubstr("deja_index_lag_seconds 1.5\n"));
  EXPECT_THAT(text, HasSubstr("deja_index_outbox_pending 3\n"));
  EXPECT_THAT(text, HasSubstr("deja_index_documents 42\n"));
  EXPECT_THAT(text, HasSubstr("deja_index_link_pending 7\n"));
  EXPECT_THAT(text, HasSubstr("deja_index_link_lag_seconds 2.5\n"));

  status = absl::UnavailableError("database down");
  text = registry.Render();
  EXPECT_THAT(text, HasSubstr("deja_index_documents 42\n"));
  EXPECT_THAT(text, HasSubstr("deja_database_errors_total 1\n"));
}

// Answers Overview from canned values and counts the calls.
class CannedStatsStore : public StatsStore {
 public:
  absl::StatusOr<v1::Overview> Overview(const v1::StatsRequest& request,
                                        absl::Time) override {
    ++overview_calls;
    if (!fail.ok()) return fail;
    return request.has_started_after() ? last_30_days : all;
  }
  absl::StatusOr<v1::Trend> Trend(const v1::TrendRequest&) override {
    return absl::UnimplementedError("not in this test");
  }
  absl::StatusOr<v1::RecurrenceStats> Recurrence(
      const v1::StatsRequest&) override {
    return absl::UnimplementedError("not in this test");
  }
  absl::StatusOr<v1::ActionItemStats> ActionItems(const v1::StatsRequest&,
                                                  absl::Time) override {
    return absl::UnimplementedError("not in this test");
  }

  v1::Overview all;
  v1::Overview last_30_days;
  absl::Status fail;
  int overview_calls = 0;
};

class KnowledgeBaseGaugesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (int severity = v1::SEV1; severity <= v1::SEV5; ++severity) {
      v1::SeverityCount* count = store_.all.add_by_severity();
      count->set_severity(static_cast<v1::Severity>(severity));
      count->set_incidents(severity == v1::SEV2 ? 3 : 0);
    }
    store_.all.mutable_action_items()->set_open(4);
    store_.all.mutable_action_items()->set_overdue(1);
    store_.last_30_days.set_repeats(2);
    KnowledgeBaseGaugeOptions options;
    options.max_age = absl::Seconds(15);
    options.clock = [this] { return now_; };
    AddKnowledgeBaseGauges(registry_, store_, errors_, options);
  }

  CannedStatsStore store_;
  absl::Time now_ = absl::FromUnixSeconds(1700000000);
  MetricsRegistry registry_;
  Counter& errors_ =
      registry_.AddCounter("deja_database_errors_total", "E.").WithLabels({});
};

TEST_F(KnowledgeBaseGaugesTest, ShowTheOverviewOfAllTimeAndTheLast30Days) {
  const std::string text = registry_.Render();
  EXPECT_THAT(text, HasSubstr("deja_incidents{severity=\"SEV1\"} 0\n"));
  EXPECT_THAT(text, HasSubstr("deja_incidents{severity=\"SEV2\"} 3\n"));
  EXPECT_THAT(text, HasSubstr("deja_incidents{severity=\"SEV5\"} 0\n"));
  EXPECT_THAT(text, HasSubstr("deja_action_items_open 4\n"));
  EXPECT_THAT(text, HasSubstr("deja_action_items_overdue 1\n"));
  EXPECT_THAT(text, HasSubstr("deja_repeats_last_30_days 2\n"));
}

TEST_F(KnowledgeBaseGaugesTest, AreComputedAtMostOncePerMaxAge) {
  registry_.Render();
  EXPECT_EQ(store_.overview_calls, 2);
  now_ += absl::Seconds(10);
  registry_.Render();
  EXPECT_EQ(store_.overview_calls, 2);
  store_.all.mutable_action_items()->set_open(9);
  now_ += absl::Seconds(6);
  EXPECT_THAT(registry_.Render(), HasSubstr("deja_action_items_open 9\n"));
  EXPECT_EQ(store_.overview_calls, 4);
}

TEST_F(KnowledgeBaseGaugesTest, KeepTheLastValuesAndRetryWhenTheStoreFails) {
  registry_.Render();
  store_.fail = absl::UnavailableError("database down");
  now_ += absl::Seconds(20);
  std::string text = registry_.Render();
  EXPECT_THAT(text, HasSubstr("deja_action_items_open 4\n"));
  EXPECT_THAT(text, HasSubstr("deja_database_errors_total 1\n"));
  // Retried at the next scrape, not after max_age.
  store_.fail = absl::OkStatus();
  store_.all.mutable_action_items()->set_open(5);
  text = registry_.Render();
  EXPECT_THAT(text, HasSubstr("deja_action_items_open 5\n"));
  EXPECT_THAT(text, HasSubstr("deja_database_errors_total 1\n"));
}

}  // namespace
}  // namespace deja
