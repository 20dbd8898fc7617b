// PgStatsStore against a real, disposable PostgreSQL cluster, over a small
// seeded data set whose answers are worked out by hand below.

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <memory>
#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "core/stats_validation.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/time_util.h"
#include "gtest/gtest.h"
#include "store/pg_stats_store.h"
#include "store/pg_store.h"
#include "tests/testing/pg_test_cluster.h"

namespace deja {
namespace {

using google::protobuf::util::TimeUtil;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

constexpr int64_t kMinute = 60;
constexpr int64_t kHour = 3600;
constexpr int64_t kDay = 86400;

absl::Time Soon() { return absl::Now() + absl::Seconds(10); }

absl::Time At(const std::string& rfc3339) {
  absl::Time time;
  std::string error;
  if (!absl::ParseTime(absl::RFC3339_full, rfc3339, &time, &error)) {
    ADD_FAILURE() << rfc3339 << ": " << error;
  }
  return time;
}

google::protobuf::Timestamp Ts(const std::string& rfc3339) {
  google::protobuf::Timestamp ts;
  ts.set_seconds(absl::ToUnixSeconds(At(rfc3339)));
  return ts;
}

int64_t Seconds(const google::protobuf::Duration& d) {
  EXPECT_EQ(d.nanos(), 0) << d.DebugString();
  return d.seconds();
}

std::string Rfc3339(const google::protobuf::Timestamp& ts) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ",
                          absl::FromUnixSeconds(ts.seconds()),
                          absl::UTCTimeZone());
}

std::vector<std::pair<std::string, int64_t>> Pairs(
    const google::protobuf::RepeatedPtrField<v1::KeyCount>& counts) {
  std::vector<std::pair<std::string, int64_t>> pairs;
  for (const v1::KeyCount& count : counts) {
    pairs.emplace_back(count.key(), count.count());
  }
  return pairs;
}

// One incident of the data set: offsets in seconds after `started`; 0 means
// the timestamp is missing.
struct IncidentSpec {
  std::string title;
  std::string team;
  v1::Severity severity;
  std::string started;
  int64_t detect_after = 0;
  int64_t mitigate_after = 0;
  int64_t resolve_after = 0;
  std::vector<std::string> services;
  std::vector<v1::RootCause::Category> causes;
};

v1::Postmortem PostmortemOf(const IncidentSpec& spec) {
  v1::Postmortem pm;
  pm.set_team(spec.team);
  pm.set_title(spec.title);
  pm.set_summary("What happened in " + spec.title);
  pm.set_severity(spec.severity);
  *pm.mutable_started_at() = Ts(spec.started);
  const int64_t start = pm.started_at().seconds();
  if (spec.detect_after) {
    pm.mutable_detected_at()->set_seconds(start + spec.detect_after);
  }
  if (spec.mitigate_after) {
    pm.mutable_mitigated_at()->set_seconds(start + spec.mitigate_after);
  }
  if (spec.resolve_after) {
    pm.mutable_resolved_at()->set_seconds(start + spec.resolve_after);
  }
  for (const std::string& service : spec.services) pm.add_services(service);
  for (v1::RootCause::Category category : spec.causes) {
    auto* cause = pm.add_root_causes();
    cause->set_category(category);
    cause->set_description("a cause");
  }
  return pm;
}

// An incident with only a title and a start.
v1::Postmortem Bare(const std::string& title, const std::string& started) {
  IncidentSpec spec;
  spec.title = title;
  spec.team = "payments";
  spec.severity = v1::SEV3;
  spec.started = started;
  return PostmortemOf(spec);
}

v1::ActionItem Item(const std::string& description, v1::ActionItem::Kind kind,
                    v1::ActionItem::Status status, const std::string& due_date,
                    const std::string& completed_at = "") {
  v1::ActionItem item;
  item.set_description(description);
  item.set_owner("owner of " + description);
  item.set_kind(kind);
  item.set_status(status);
  item.set_due_date(due_date);
  // Submitted closed, an item keeps the completion time it carries.
  if (!completed_at.empty()) *item.mutable_completed_at() = Ts(completed_at);
  return item;
}

class PgStatsStoreTest : public PgTest {
 protected:
  void SetUp() override {
    PgTest::SetUp();
    ASSERT_FALSE(connection_string().empty());
    absl::StatusOr<std::unique_ptr<PostmortemStore>> store =
        OpenPgStore({connection_string(), 2});
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
    absl::StatusOr<std::unique_ptr<StatsStore>> stats =
        OpenPgStatsStore({connection_string(), 2});
    ASSERT_TRUE(stats.ok()) << stats.status();
    stats_ = *std::move(stats);
  }

  v1::Postmortem Submit(const v1::Postmortem& pm) {
    absl::StatusOr<SubmitResult> result = store_->Submit(pm, "", Soon());
    EXPECT_TRUE(result.ok()) << result.status();
    return result.ok() ? result->postmortem : v1::Postmortem();
  }

  template <typename... Args>
  void Exec(const std::string& sql, const Args&... args) {
    pqxx::connection conn(connection_string());
    pqxx::work tx(conn);
    tx.exec_params(sql, args...);
    tx.commit();
  }

  void Link(const v1::Postmortem& later, const v1::Postmortem& earlier,
            const std::string& source, const std::string& state, double score) {
    Exec(
        "INSERT INTO recurrence_links "
        "(postmortem_id, earlier_id, source, state, score) "
        "VALUES ($1::uuid, $2::uuid, $3, $4, $5::float8)",
        later.id(), earlier.id(), source, state, score);
  }

  void Signature(const v1::Postmortem& pm, const std::string& signature,
                 const std::string& example) {
    Exec(
        "INSERT INTO postmortem_signatures (postmortem_id, signature, example) "
        "VALUES ($1::uuid, $2, $3) ON CONFLICT DO NOTHING",
        pm.id(), signature, example);
  }

  // The data set. Times are UTC; durations in seconds.
  //
  //  id team        sev   started           detect  mitig  resolve services
  //  A  payments    SEV2  2024-03-04 10:00  10 min  30 min 1 h     checkout
  //  B  payments    SEV1  2024-03-20 10:00  20 min  -      2 h     checkout,
  //  ledger C  " Payments" SEV2  2024-04-10 10:00  30 min  -      4 h checkout
  //  D  routing     SEV3  2024-04-15 10:00  100 min -      - route-planner E
  //  routing     SEV4  2024-05-01 10:00  -       -      30 min  route-planner
  //  F  routing     SEV3  2024-05-10 10:00  -       -      - route-planner G
  //  routing     SEV5  2024-05-20 10:00  -       -      -       route-planner,
  //  edge-proxy X  payments    SEV1  2024-04-01 10:00  (deleted: must never
  //  count)
  //
  // Cause categories: A CONFIG_CHANGE twice, B CONFIG_CHANGE + SOFTWARE_BUG,
  // C CONFIG_CHANGE, D..G CAPACITY, X CONFIG_CHANGE.
  //
  // Links (later -> earlier):
  //  B -> A  CONFIRMED 0.70   counted (confirmed, whatever the score)
  //  C -> B  SUGGESTED 0.90   counted
  //  G -> F  DECLARED CONFIRMED 1.0 counted
  //  E -> D  SUGGESTED 0.84   not counted (below 0.85)
  //  D -> A  REJECTED  0.95   not counted
  //  X -> A, E -> X CONFIRMED not counted (X is deleted)
  // Repeats: B, C, G. Clusters: {A, B, C} and {F, G}.
  //
  // Action items (now = 2024-06-01):
  //  A: a1 PREVENT DONE 2024-03-10 11:00; a2 PROCESS WONT_DO 2024-03-05
  //  B: b1 PREVENT OPEN due 2024-04-01; b2 DETECT DONE 2024-04-20 12:00
  //  C: c1 DETECT IN_PROGRESS due 2024-05-20; c2 MITIGATE DONE 2024-04-12
  //  D: d1 KIND_UNSPECIFIED OPEN due 2024-06-01 (due today: not overdue)
  //  X: x1 OPEN due 2024-01-01
  //
  // Signatures: s-pool on A, B, C (and X); s-tls on B and D.
  void SeedDataSet() {
    using C = v1::RootCause;
    a_ = PostmortemOf({"A pool exhausted",
                       "payments",
                       v1::SEV2,
                       "2024-03-04T10:00:00Z",
                       10 * kMinute,
                       30 * kMinute,
                       kHour,
                       {"checkout"},
                       {C::CONFIG_CHANGE, C::CONFIG_CHANGE}});
    *a_.add_action_items() =
        Item("a1", v1::ActionItem::PREVENT, v1::ActionItem::DONE, "2024-03-15",
             "2024-03-10T11:00:00Z");
    *a_.add_action_items() =
        Item("a2", v1::ActionItem::PROCESS, v1::ActionItem::WONT_DO,
             "2024-03-15", "2024-03-05T00:00:00Z");
    a_ = Submit(a_);

    b_ = PostmortemOf({"B pool exhausted again",
                       "payments",
                       v1::SEV1,
                       "2024-03-20T10:00:00Z",
                       20 * kMinute,
                       0,
                       2 * kHour,
                       {"checkout", "ledger"},
                       {C::CONFIG_CHANGE, C::SOFTWARE_BUG}});
    *b_.add_action_items() =
        Item("b1", v1::ActionItem::PREVENT, v1::ActionItem::OPEN, "2024-04-01");
    *b_.add_action_items() =
        Item("b2", v1::ActionItem::DETECT, v1::ActionItem::DONE, "2024-04-30",
             "2024-04-20T12:00:00Z");
    b_ = Submit(b_);

    c_ = PostmortemOf({"C pool exhausted a third time",
                       " Payments",
                       v1::SEV2,
                       "2024-04-10T10:00:00Z",
                       30 * kMinute,
                       0,
                       4 * kHour,
                       {"checkout"},
                       {C::CONFIG_CHANGE}});
    *c_.add_action_items() = Item("c1", v1::ActionItem::DETECT,
                                  v1::ActionItem::IN_PROGRESS, "2024-05-20");
    *c_.add_action_items() =
        Item("c2", v1::ActionItem::MITIGATE, v1::ActionItem::DONE, "2024-05-01",
             "2024-04-12T00:00:00Z");
    c_ = Submit(c_);

    d_ = PostmortemOf({"D planner slow",
                       "routing",
                       v1::SEV3,
                       "2024-04-15T10:00:00Z",
                       100 * kMinute,
                       0,
                       0,
                       {"route-planner"},
                       {C::CAPACITY}});
    *d_.add_action_items() = Item("d1", v1::ActionItem::KIND_UNSPECIFIED,
                                  v1::ActionItem::OPEN, "2024-06-01");
    d_ = Submit(d_);

    e_ = Submit(PostmortemOf({"E planner down",
                              "routing",
                              v1::SEV4,
                              "2024-05-01T10:00:00Z",
                              0,
                              0,
                              30 * kMinute,
                              {"route-planner"},
                              {C::CAPACITY}}));
    f_ = Submit(PostmortemOf({"F planner queue",
                              "routing",
                              v1::SEV3,
                              "2024-05-10T10:00:00Z",
                              0,
                              0,
                              0,
                              {"route-planner"},
                              {C::CAPACITY}}));
    g_ = Submit(PostmortemOf({"G planner queue again",
                              "routing",
                              v1::SEV5,
                              "2024-05-20T10:00:00Z",
                              0,
                              0,
                              0,
                              {"route-planner", "edge-proxy"},
                              {C::CAPACITY}}));

    x_ = PostmortemOf({"X retracted",
                       "payments",
                       v1::SEV1,
                       "2024-04-01T10:00:00Z",
                       5 * kMinute,
                       0,
                       kHour,
                       {"checkout"},
                       {C::CONFIG_CHANGE}});
    *x_.add_action_items() =
        Item("x1", v1::ActionItem::PREVENT, v1::ActionItem::OPEN, "2024-01-01");
    x_ = Submit(x_);

    Link(b_, a_, "AUTO", "CONFIRMED", 0.70);
    Link(c_, b_, "AUTO", "SUGGESTED", 0.90);
    Link(g_, f_, "DECLARED", "CONFIRMED", 1.0);
    Link(e_, d_, "AUTO", "SUGGESTED", 0.84);
    Link(d_, a_, "AUTO", "REJECTED", 0.95);
    Link(x_, a_, "AUTO", "CONFIRMED", 1.0);
    Link(e_, x_, "AUTO", "CONFIRMED", 1.0);

    for (const v1::Postmortem* pm : {&a_, &b_, &c_, &x_}) {
      Signature(*pm, "s-pool", "ERROR: pool exhausted after <n> ms");
    }
    Signature(b_, "s-tls", "TLS handshake to <ip> failed");
    Signature(d_, "s-tls", "TLS handshake to <ip> failed");

    ASSERT_TRUE(store_->Delete(x_.id(), 0, Soon()).ok());
  }

  v1::Overview Overview(const v1::StatsRequest& request,
                        const std::string& now = "2024-06-01T08:00:00Z") {
    absl::StatusOr<v1::Overview> overview = stats_->Overview(request, At(now));
    EXPECT_TRUE(overview.ok()) << overview.status();
    return overview.ok() ? *overview : v1::Overview();
  }

  v1::Trend Trend(const v1::TrendRequest& request) {
    absl::StatusOr<v1::Trend> trend = stats_->Trend(request);
    EXPECT_TRUE(trend.ok()) << trend.status();
    return trend.ok() ? *trend : v1::Trend();
  }

  v1::RecurrenceStats Recurrence(const v1::StatsRequest& request) {
    absl::StatusOr<v1::RecurrenceStats> stats = stats_->Recurrence(request);
    EXPECT_TRUE(stats.ok()) << stats.status();
    return stats.ok() ? *stats : v1::RecurrenceStats();
  }

  v1::ActionItemStats ActionItems(
      const v1::StatsRequest& request,
      const std::string& now = "2024-06-01T08:00:00Z") {
    absl::StatusOr<v1::ActionItemStats> stats =
        stats_->ActionItems(request, At(now));
    EXPECT_TRUE(stats.ok()) << stats.status();
    return stats.ok() ? *stats : v1::ActionItemStats();
  }

  std::string ItemId(const v1::Postmortem& pm, int index) {
    return pm.action_items(index).id();
  }

  std::unique_ptr<PostmortemStore> store_;
  std::unique_ptr<StatsStore> stats_;
  v1::Postmortem a_, b_, c_, d_, e_, f_, g_, x_;
};

// Titles of the members of a cluster, oldest first.
std::vector<std::string> MemberTitles(const v1::RecurrenceCluster& cluster) {
  std::vector<std::string> titles;
  for (const auto& member : cluster.members()) {
    titles.push_back(member.title().substr(0, 1));
  }
  return titles;
}

std::vector<std::string> BucketStarts(const v1::Trend& trend) {
  std::vector<std::string> starts;
  for (const auto& bucket : trend.buckets()) {
    starts.push_back(Rfc3339(bucket.start()));
  }
  return starts;
}

std::vector<int64_t> BucketCounts(const v1::Trend& trend) {
  std::vector<int64_t> counts;
  for (const auto& bucket : trend.buckets()) {
    counts.push_back(bucket.incidents());
  }
  return counts;
}

// ---- Overview ----

TEST_F(PgStatsStoreTest, OverviewCountsLiveIncidentsBySeverityWithDurations) {
  SeedDataSet();
  const v1::Overview overview = Overview({});

  // A..G; X is deleted.
  EXPECT_EQ(overview.incidents(), 7);
  ASSERT_EQ(overview.by_severity_size(), 5);
  std::vector<std::pair<int, int64_t>> by_severity;
  for (const auto& count : overview.by_severity()) {
    by_severity.emplace_back(count.severity(), count.incidents());
  }
  // SEV1 B; SEV2 A C; SEV3 D F; SEV4 E; SEV5 G.
  EXPECT_THAT(by_severity, ElementsAre(Pair(1, 1), Pair(2, 2), Pair(3, 2),
                                       Pair(4, 1), Pair(5, 1)));

  // Time to detect over A B C D = 600, 1200, 1800, 6000 s.
  //   median: position 0.5 * (4 - 1) = 1.5 -> 1200 + 0.5 * (1800 - 1200) = 1500
  //   p90:    position 0.9 * 3 = 2.7       -> 1800 + 0.7 * (6000 - 1800) = 4740
  //   mean:   (600 + 1200 + 1800 + 6000) / 4 = 2400
  const v1::DurationStats& detect = overview.time_to_detect();
  EXPECT_EQ(detect.incidents(), 4);
  EXPECT_EQ(Seconds(detect.median()), 1500);
  EXPECT_EQ(Seconds(detect.p90()), 4740);
  EXPECT_EQ(Seconds(detect.mean()), 2400);

  // Time to mitigate: only A, 1800 s.
  const v1::DurationStats& mitigate = overview.time_to_mitigate();
  EXPECT_EQ(mitigate.incidents(), 1);
  EXPECT_EQ(Seconds(mitigate.median()), 1800);
  EXPECT_EQ(Seconds(mitigate.p90()), 1800);
  EXPECT_EQ(Seconds(mitigate.mean()), 1800);

  // Time to resolve over E A B C = 1800, 3600, 7200, 14400 s.
  //   median: 3600 + 0.5 * (7200 - 3600) = 5400
  //   p90:    7200 + 0.7 * (14400 - 7200) = 12240
  //   mean:   27000 / 4 = 6750
  const v1::DurationStats& resolve = overview.time_to_resolve();
  EXPECT_EQ(resolve.incidents(), 4);
  EXPECT_EQ(Seconds(resolve.median()), 5400);
  EXPECT_EQ(Seconds(resolve.p90()), 12240);
  EXPECT_EQ(Seconds(resolve.mean()), 6750);
}

TEST_F(PgStatsStoreTest, OverviewCountsOnlyCountedLinksAsRepeats) {
  SeedDataSet();
  const v1::Overview overview = Overview({});
  // B (confirmed at 0.70), C (suggested at 0.90), G (declared). Not D
  // (rejected), not E (0.84, and its confirmed link is to deleted X).
  EXPECT_EQ(overview.repeats(), 3);
  EXPECT_DOUBLE_EQ(overview.repeat_rate(), 3.0 / 7.0);
}

TEST_F(PgStatsStoreTest, OverviewCountsActionItemsOverdueAgainstNow) {
  SeedDataSet();
  const v1::ActionItemCounts counts = Overview({}).action_items();
  // a1 a2 b1 b2 c1 c2 d1 (x1 belongs to deleted X).
  EXPECT_EQ(counts.total(), 7);
  EXPECT_EQ(counts.open(), 3);     // b1 c1 d1
  EXPECT_EQ(counts.overdue(), 2);  // b1 (due 04-01), c1 (05-20); d1 due today
  EXPECT_EQ(counts.done(), 3);     // a1 b2 c2
  EXPECT_EQ(counts.wont_do(), 1);  // a2

  // A day later d1 is overdue too.
  EXPECT_EQ(Overview({}, "2024-06-02T00:00:00Z").action_items().overdue(), 3);
  // `now` is read in UTC: 2024-06-01 23:30 in UTC-05:00 is already June 2.
  EXPECT_EQ(Overview({}, "2024-06-01T23:30:00-05:00").action_items().overdue(),
            3);
}

TEST_F(PgStatsStoreTest, OverviewFiltersByTeamIgnoringCaseAndSpaces) {
  SeedDataSet();
  v1::StatsRequest request;
  request.set_team("  PAYMENTS ");
  const v1::Overview overview = Overview(request);
  // A, B and C (stored as "Payments"); not deleted X.
  EXPECT_EQ(overview.incidents(), 3);
  EXPECT_EQ(overview.repeats(), 2);  // B, C
  EXPECT_DOUBLE_EQ(overview.repeat_rate(), 2.0 / 3.0);
  // Resolve over A B C = 3600, 7200, 14400: median 7200, mean 25200 / 3.
  EXPECT_EQ(Seconds(overview.time_to_resolve().median()), 7200);
  EXPECT_EQ(Seconds(overview.time_to_resolve().mean()), 8400);
  EXPECT_EQ(overview.action_items().total(), 6);  // a1 a2 b1 b2 c1 c2
}

TEST_F(PgStatsStoreTest, OverviewFiltersByServiceIgnoringCase) {
  SeedDataSet();
  v1::StatsRequest request;
  request.set_service("Route-Planner");
  const v1::Overview overview = Overview(request);
  EXPECT_EQ(overview.incidents(), 4);             // D E F G
  EXPECT_EQ(overview.repeats(), 1);               // G
  EXPECT_EQ(overview.action_items().total(), 1);  // d1
}

TEST_F(PgStatsStoreTest, OverviewWindowIncludesItsStartAndExcludesItsEnd) {
  SeedDataSet();
  v1::StatsRequest request;
  *request.mutable_started_after() = Ts("2024-03-20T10:00:00Z");   // B
  *request.mutable_started_before() = Ts("2024-04-15T10:00:00Z");  // not D
  const v1::Overview overview = Overview(request);
  EXPECT_EQ(overview.incidents(), 2);  // B C
  // Both repeat an earlier incident, even though B's earlier one (A) is
  // outside the window.
  EXPECT_EQ(overview.repeats(), 2);
  EXPECT_DOUBLE_EQ(overview.repeat_rate(), 1.0);
}

TEST_F(PgStatsStoreTest, OverviewOfAnEmptyWindowIsAllZeros) {
  SeedDataSet();
  v1::StatsRequest request;
  *request.mutable_started_after() = Ts("2030-01-01T00:00:00Z");
  const v1::Overview overview = Overview(request);
  EXPECT_EQ(overview.incidents(), 0);
  ASSERT_EQ(overview.by_severity_size(), 5);
  for (const auto& count : overview.by_severity()) {
    EXPECT_EQ(count.incidents(), 0);
  }
  EXPECT_EQ(overview.time_to_detect().incidents(), 0);
  EXPECT_FALSE(overview.time_to_detect().has_median());
  EXPECT_EQ(overview.repeats(), 0);
  EXPECT_EQ(overview.repeat_rate(), 0);
  EXPECT_EQ(overview.action_items().total(), 0);
}

// ---- Trend ----

TEST_F(PgStatsStoreTest, WeeksAreIsoWeeksAcrossTheYearBoundaryWithEmptyOnes) {
  for (const char* started : {"2024-12-30T00:00:00Z", "2025-01-02T23:00:00Z",
                              "2025-01-06T00:00:00Z", "2025-01-20T12:00:00Z"}) {
    Submit(Bare(started, started));
  }
  v1::TrendRequest request;
  request.set_interval(v1::TrendRequest::WEEK);
  const v1::Trend trend = Trend(request);
  EXPECT_EQ(trend.interval(), v1::TrendRequest::WEEK);
  // Monday 2024-12-30 starts the week of 2025-01-02; the week of 01-13 is
  // empty and still listed.
  EXPECT_THAT(BucketStarts(trend),
              ElementsAre("2024-12-30T00:00:00Z", "2025-01-06T00:00:00Z",
                          "2025-01-13T00:00:00Z", "2025-01-20T00:00:00Z"));
  EXPECT_THAT(BucketCounts(trend), ElementsAre(2, 1, 0, 1));
}

TEST_F(PgStatsStoreTest, MonthsRunOverTheWholeWindowIncludingEmptyOnes) {
  SeedDataSet();
  v1::TrendRequest request;  // interval unspecified: months
  *request.mutable_started_after() = Ts("2024-02-15T00:00:00Z");
  // Exclusive: July 1st itself is not in the window, so June is the last.
  *request.mutable_started_before() = Ts("2024-07-01T00:00:00Z");
  const v1::Trend trend = Trend(request);
  EXPECT_EQ(trend.interval(), v1::TrendRequest::MONTH);
  EXPECT_THAT(BucketStarts(trend),
              ElementsAre("2024-02-01T00:00:00Z", "2024-03-01T00:00:00Z",
                          "2024-04-01T00:00:00Z", "2024-05-01T00:00:00Z",
                          "2024-06-01T00:00:00Z"));
  // March A B; April C D (not deleted X); May E F G.
  EXPECT_THAT(BucketCounts(trend), ElementsAre(0, 2, 2, 3, 0));
  for (const auto& bucket : trend.buckets()) EXPECT_EQ(bucket.split_size(), 0);
}

TEST_F(PgStatsStoreTest, TrendWithoutWindowRunsFromFirstToLastIncident) {
  SeedDataSet();
  const v1::Trend trend = Trend({});
  EXPECT_THAT(BucketStarts(trend),
              ElementsAre("2024-03-01T00:00:00Z", "2024-04-01T00:00:00Z",
                          "2024-05-01T00:00:00Z"));
  EXPECT_THAT(BucketCounts(trend), ElementsAre(2, 2, 3));
}

TEST_F(PgStatsStoreTest, TrendSplitsLargestFirstThenByKey) {
  SeedDataSet();
  v1::TrendRequest request;
  request.set_interval(v1::TrendRequest::MONTH);

  request.set_split_by(v1::TrendRequest::SEVERITY);
  v1::Trend trend = Trend(request);
  ASSERT_EQ(trend.buckets_size(), 3);
  EXPECT_EQ(trend.split_by(), v1::TrendRequest::SEVERITY);
  EXPECT_THAT(Pairs(trend.buckets(0).split()),
              ElementsAre(Pair("SEV1", 1), Pair("SEV2", 1)));
  EXPECT_THAT(Pairs(trend.buckets(2).split()),
              ElementsAre(Pair("SEV3", 1), Pair("SEV4", 1), Pair("SEV5", 1)));

  // An incident with two services counts under each.
  request.set_split_by(v1::TrendRequest::SERVICE);
  trend = Trend(request);
  ASSERT_EQ(trend.buckets_size(), 3);
  EXPECT_THAT(Pairs(trend.buckets(0).split()),
              ElementsAre(Pair("checkout", 2), Pair("ledger", 1)));
  EXPECT_THAT(Pairs(trend.buckets(1).split()),
              ElementsAre(Pair("checkout", 1), Pair("route-planner", 1)));
  EXPECT_THAT(Pairs(trend.buckets(2).split()),
              ElementsAre(Pair("route-planner", 3), Pair("edge-proxy", 1)));

  // A's two CONFIG_CHANGE causes count once.
  request.set_split_by(v1::TrendRequest::CAUSE_CATEGORY);
  trend = Trend(request);
  ASSERT_EQ(trend.buckets_size(), 3);
  EXPECT_THAT(Pairs(trend.buckets(0).split()),
              ElementsAre(Pair("CONFIG_CHANGE", 2), Pair("SOFTWARE_BUG", 1)));
  EXPECT_THAT(Pairs(trend.buckets(2).split()),
              ElementsAre(Pair("CAPACITY", 3)));

  // Teams compare ignoring case: C's "Payments" is "payments".
  request.set_split_by(v1::TrendRequest::TEAM);
  trend = Trend(request);
  ASSERT_EQ(trend.buckets_size(), 3);
  EXPECT_THAT(Pairs(trend.buckets(1).split()),
              ElementsAre(Pair("payments", 1), Pair("routing", 1)));
  EXPECT_THAT(Pairs(trend.buckets(2).split()), ElementsAre(Pair("routing", 3)));
}

TEST_F(PgStatsStoreTest, TrendFiltersByTeamAndService) {
  SeedDataSet();
  v1::TrendRequest request;
  request.set_team("routing");
  request.set_service("edge-proxy");
  const v1::Trend trend = Trend(request);
  EXPECT_THAT(BucketStarts(trend), ElementsAre("2024-05-01T00:00:00Z"));
  EXPECT_THAT(BucketCounts(trend), ElementsAre(1));  // G
}

TEST_F(PgStatsStoreTest, TrendOfAnEmptyWindowListsEmptyBuckets) {
  v1::TrendRequest request;
  *request.mutable_started_after() = Ts("2030-01-01T00:00:00Z");
  *request.mutable_started_before() = Ts("2030-03-01T00:00:00Z");
  request.set_split_by(v1::TrendRequest::SERVICE);
  const v1::Trend trend = Trend(request);
  EXPECT_THAT(BucketStarts(trend),
              ElementsAre("2030-01-01T00:00:00Z", "2030-02-01T00:00:00Z"));
  EXPECT_THAT(BucketCounts(trend), ElementsAre(0, 0));

  // No incident and an open end: nothing to anchor a bucket on.
  EXPECT_EQ(Trend({}).buckets_size(), 0);
}

TEST_F(PgStatsStoreTest, OpenWindowTrendKeepsTheLatestBuckets) {
  Submit(Bare("old", "2000-01-05T00:00:00Z"));
  Submit(Bare("new", "2024-01-03T00:00:00Z"));
  v1::TrendRequest request;
  request.set_interval(v1::TrendRequest::WEEK);
  const v1::Trend trend = Trend(request);
  ASSERT_EQ(trend.buckets_size(), kMaxTrendBuckets);
  // The week of 2024-01-03 starts Monday 2024-01-01; 999 weeks earlier.
  EXPECT_EQ(Rfc3339(trend.buckets(kMaxTrendBuckets - 1).start()),
            "2024-01-01T00:00:00Z");
  EXPECT_EQ(trend.buckets(kMaxTrendBuckets - 1).incidents(), 1);
  EXPECT_EQ(trend.buckets(0).start().seconds(),
            Ts("2024-01-01T00:00:00Z").seconds() - 999 * 7 * kDay);
}

// ---- Recurrence ----

TEST_F(PgStatsStoreTest, RecurrenceClustersFollowCountedLinks) {
  SeedDataSet();
  const v1::RecurrenceStats stats = Recurrence({});
  EXPECT_EQ(stats.incidents(), 7);
  EXPECT_EQ(stats.repeats(), 3);
  EXPECT_DOUBLE_EQ(stats.repeat_rate(), 3.0 / 7.0);

  // {A, B, C} (3 members) before {F, G}; D and E are linked only by
  // uncounted links, so they are in no cluster.
  ASSERT_EQ(stats.clusters_size(), 2);
  const v1::RecurrenceCluster& pool = stats.clusters(0);
  EXPECT_THAT(MemberTitles(pool), ElementsAre("A", "B", "C"));
  EXPECT_EQ(pool.member_count(), 3);
  EXPECT_EQ(pool.members(0).postmortem_id(), a_.id());
  EXPECT_EQ(pool.members(2).team(), "Payments");
  EXPECT_EQ(pool.members(1).severity(), v1::SEV1);
  EXPECT_EQ(Rfc3339(pool.first_started_at()), "2024-03-04T10:00:00Z");
  EXPECT_EQ(Rfc3339(pool.last_started_at()), "2024-04-10T10:00:00Z");
  // Gaps A->B 16 days, B->C 21 days: median (16 + 21) / 2 = 18.5 days.
  EXPECT_EQ(Seconds(pool.median_time_between()), 18 * kDay + 12 * kHour);
  ASSERT_EQ(pool.shared_signatures_size(), 1);  // s-tls is only B's here
  EXPECT_EQ(pool.shared_signatures(0).signature(), "s-pool");
  EXPECT_EQ(pool.shared_signatures(0).example(),
            "ERROR: pool exhausted after <n> ms");
  EXPECT_EQ(pool.shared_signatures(0).incidents(), 3);
  EXPECT_THAT(Pairs(pool.shared_services()), ElementsAre(Pair("checkout", 3)));
  EXPECT_THAT(Pairs(pool.shared_cause_categories()),
              ElementsAre(Pair("CONFIG_CHANGE", 3)));

  const v1::RecurrenceCluster& planner = stats.clusters(1);
  EXPECT_THAT(MemberTitles(planner), ElementsAre("F", "G"));
  EXPECT_EQ(Seconds(planner.median_time_between()), 10 * kDay);
  EXPECT_EQ(planner.shared_signatures_size(), 0);
  EXPECT_THAT(Pairs(planner.shared_services()),
              ElementsAre(Pair("route-planner", 2)));
  EXPECT_THAT(Pairs(planner.shared_cause_categories()),
              ElementsAre(Pair("CAPACITY", 2)));
}

TEST_F(PgStatsStoreTest, RecurrenceRanksSignaturesAndRepeatCauses) {
  SeedDataSet();
  const v1::RecurrenceStats stats = Recurrence({});
  // s-pool: A B C (deleted X not counted); s-tls: B D.
  ASSERT_EQ(stats.top_signatures_size(), 2);
  EXPECT_EQ(stats.top_signatures(0).signature(), "s-pool");
  EXPECT_EQ(stats.top_signatures(0).incidents(), 3);
  EXPECT_EQ(stats.top_signatures(1).signature(), "s-tls");
  EXPECT_EQ(stats.top_signatures(1).example(), "TLS handshake to <ip> failed");
  EXPECT_EQ(stats.top_signatures(1).incidents(), 2);
  // Repeats B {CONFIG_CHANGE, SOFTWARE_BUG}, C {CONFIG_CHANGE}, G {CAPACITY}.
  EXPECT_THAT(Pairs(stats.top_repeat_cause_categories()),
              ElementsAre(Pair("CONFIG_CHANGE", 2), Pair("CAPACITY", 1),
                          Pair("SOFTWARE_BUG", 1)));
  // Counted links B->A 16 days, C->B 21 days, G->F 10 days: median 16 days.
  EXPECT_EQ(Seconds(stats.median_time_between_repeats()), 16 * kDay);
}

TEST_F(PgStatsStoreTest, RecurrenceKeepsOnlyMembersMatchingTheFilter) {
  SeedDataSet();
  v1::StatsRequest request;
  *request.mutable_started_after() = Ts("2024-03-15T00:00:00Z");
  const v1::RecurrenceStats stats = Recurrence(request);
  EXPECT_EQ(stats.incidents(), 6);  // B..G
  ASSERT_EQ(stats.clusters_size(), 2);
  // A is outside the window: {B, C} and {F, G} tie on size, so the most
  // recent (G, May 20) comes first.
  EXPECT_THAT(MemberTitles(stats.clusters(0)), ElementsAre("F", "G"));
  EXPECT_THAT(MemberTitles(stats.clusters(1)), ElementsAre("B", "C"));
  EXPECT_EQ(Seconds(stats.clusters(1).median_time_between()), 21 * kDay);
  // Only B and C hold s-pool now; B D still hold s-tls.
  ASSERT_EQ(stats.top_signatures_size(), 2);
  EXPECT_EQ(stats.top_signatures(0).incidents(), 2);

  request.set_team("routing");
  const v1::RecurrenceStats routing = Recurrence(request);
  ASSERT_EQ(routing.clusters_size(), 1);
  EXPECT_THAT(MemberTitles(routing.clusters(0)), ElementsAre("F", "G"));
  EXPECT_EQ(routing.top_signatures_size(), 0);  // s-tls: only D is routing
}

TEST_F(PgStatsStoreTest, RecurrenceListsHoldAtMostTheLimit) {
  SeedDataSet();
  v1::StatsRequest request;
  request.set_limit(1);
  const v1::RecurrenceStats stats = Recurrence(request);
  ASSERT_EQ(stats.clusters_size(), 1);
  // The latest member of the biggest cluster; statistics still cover all.
  EXPECT_THAT(MemberTitles(stats.clusters(0)), ElementsAre("C"));
  EXPECT_EQ(stats.clusters(0).member_count(), 3);
  EXPECT_EQ(Rfc3339(stats.clusters(0).first_started_at()),
            "2024-03-04T10:00:00Z");
  EXPECT_EQ(stats.top_signatures_size(), 1);
  EXPECT_THAT(Pairs(stats.top_repeat_cause_categories()),
              ElementsAre(Pair("CONFIG_CHANGE", 2)));
}

TEST_F(PgStatsStoreTest, RecurrenceOfAnEmptyDatabaseIsEmpty) {
  const v1::RecurrenceStats stats = Recurrence({});
  EXPECT_EQ(stats.incidents(), 0);
  EXPECT_EQ(stats.repeats(), 0);
  EXPECT_EQ(stats.repeat_rate(), 0);
  EXPECT_EQ(stats.clusters_size(), 0);
  EXPECT_EQ(stats.top_signatures_size(), 0);
  EXPECT_FALSE(stats.has_median_time_between_repeats());
}

// ---- Action items ----

TEST_F(PgStatsStoreTest, ActionItemFollowThroughOverallAndByKind) {
  SeedDataSet();
  const v1::ActionItemStats stats = ActionItems({});
  EXPECT_EQ(stats.counts().total(), 7);
  EXPECT_EQ(stats.counts().open(), 3);
  EXPECT_EQ(stats.counts().overdue(), 2);
  EXPECT_EQ(stats.counts().done(), 3);
  EXPECT_EQ(stats.counts().wont_do(), 1);
  // done / (total - wont_do) = 3 / (7 - 1)
  EXPECT_DOUBLE_EQ(stats.completion_rate(), 0.5);
  // Time to close, from the incident's resolution to completion:
  //   a1: 03-04 11:00 -> 03-10 11:00 = 6 days       = 518400 s
  //   b2: 03-20 12:00 -> 04-20 12:00 = 31 days      = 2678400 s
  //   c2: 04-10 14:00 -> 04-12 00:00 = 34 hours     = 122400 s
  // median of three: 6 days.
  EXPECT_EQ(Seconds(stats.median_time_to_close()), 6 * kDay);

  ASSERT_EQ(stats.by_kind_size(), 5);
  std::map<int, const v1::KindFollowThrough*> kinds;
  std::vector<int> order;
  for (const auto& kind : stats.by_kind()) {
    kinds[kind.kind()] = &kind;
    order.push_back(kind.kind());
  }
  EXPECT_THAT(order,
              ElementsAre(v1::ActionItem::PREVENT, v1::ActionItem::MITIGATE,
                          v1::ActionItem::DETECT, v1::ActionItem::PROCESS,
                          v1::ActionItem::KIND_UNSPECIFIED));
  // PREVENT: a1 DONE, b1 OPEN and overdue.
  const v1::KindFollowThrough& prevent = *kinds[v1::ActionItem::PREVENT];
  EXPECT_EQ(prevent.counts().total(), 2);
  EXPECT_EQ(prevent.counts().overdue(), 1);
  EXPECT_DOUBLE_EQ(prevent.completion_rate(), 0.5);
  EXPECT_EQ(Seconds(prevent.median_time_to_close()), 6 * kDay);
  // DETECT: b2 DONE, c1 IN_PROGRESS.
  const v1::KindFollowThrough& detect = *kinds[v1::ActionItem::DETECT];
  EXPECT_EQ(detect.counts().open(), 1);
  EXPECT_EQ(Seconds(detect.median_time_to_close()), 31 * kDay);
  // MITIGATE: c2 DONE.
  EXPECT_DOUBLE_EQ(kinds[v1::ActionItem::MITIGATE]->completion_rate(), 1.0);
  EXPECT_EQ(Seconds(kinds[v1::ActionItem::MITIGATE]->median_time_to_close()),
            34 * kHour);
  // PROCESS: a2 WONT_DO, nothing left to do: rate 0, no time to close.
  const v1::KindFollowThrough& process = *kinds[v1::ActionItem::PROCESS];
  EXPECT_EQ(process.counts().wont_do(), 1);
  EXPECT_EQ(process.completion_rate(), 0);
  EXPECT_FALSE(process.has_median_time_to_close());
  EXPECT_EQ(kinds[v1::ActionItem::KIND_UNSPECIFIED]->counts().open(), 1);
}

TEST_F(PgStatsStoreTest, OverdueItemsMostOverdueFirst) {
  SeedDataSet();
  const v1::ActionItemStats stats = ActionItems({});
  ASSERT_EQ(stats.overdue_size(), 2);
  // b1 due 2024-04-01: 30 (April) + 31 (May) = 61 days before 2024-06-01.
  const v1::OverdueActionItem& b1 = stats.overdue(0);
  EXPECT_EQ(b1.action_item_id(), ItemId(b_, 0));
  EXPECT_EQ(b1.postmortem_id(), b_.id());
  EXPECT_EQ(b1.postmortem_title(), "B pool exhausted again");
  EXPECT_EQ(b1.team(), "payments");
  EXPECT_EQ(b1.description(), "b1");
  EXPECT_EQ(b1.owner(), "owner of b1");
  EXPECT_EQ(b1.due_date(), "2024-04-01");
  EXPECT_EQ(b1.days_overdue(), 61);
  EXPECT_EQ(b1.status(), v1::ActionItem::OPEN);
  EXPECT_EQ(b1.kind(), v1::ActionItem::PREVENT);
  // c1 due 2024-05-20: 12 days.
  EXPECT_EQ(stats.overdue(1).action_item_id(), ItemId(c_, 0));
  EXPECT_EQ(stats.overdue(1).days_overdue(), 12);
  EXPECT_EQ(stats.overdue(1).status(), v1::ActionItem::IN_PROGRESS);

  v1::StatsRequest limited;
  limited.set_limit(1);
  const v1::ActionItemStats one = ActionItems(limited);
  ASSERT_EQ(one.overdue_size(), 1);
  EXPECT_EQ(one.overdue(0).action_item_id(), ItemId(b_, 0));
  EXPECT_EQ(one.counts().overdue(), 2);  // counts are totals
}

TEST_F(PgStatsStoreTest, RepeatWhileTheEarlierFixWasStillOpen) {
  SeedDataSet();
  const v1::ActionItemStats stats = ActionItems({});
  // C -> B: at C's start (04-10 10:00) b1 was open and b2 not yet done
  // (04-20). E -> D would be one too (d1 open) but 0.84 is not counted.
  EXPECT_EQ(stats.repeats_while_open_count(), 1);
  ASSERT_EQ(stats.repeats_while_open_size(), 1);
  const v1::RepeatAgainstFixes& repeat = stats.repeats_while_open(0);
  EXPECT_EQ(repeat.postmortem_id(), c_.id());
  EXPECT_EQ(repeat.title(), "C pool exhausted a third time");
  EXPECT_EQ(Rfc3339(repeat.started_at()), "2024-04-10T10:00:00Z");
  EXPECT_EQ(repeat.earlier_id(), b_.id());
  EXPECT_EQ(repeat.earlier_title(), "B pool exhausted again");
  EXPECT_EQ(Rfc3339(repeat.earlier_started_at()), "2024-03-20T10:00:00Z");
  ASSERT_EQ(repeat.action_items_size(), 2);
  EXPECT_EQ(repeat.action_items(0).action_item_id(), ItemId(b_, 0));
  EXPECT_EQ(repeat.action_items(0).status(), v1::ActionItem::OPEN);
  EXPECT_FALSE(repeat.action_items(0).has_completed_at());
  EXPECT_EQ(repeat.action_items(1).description(), "b2");
  EXPECT_EQ(repeat.action_items(1).owner(), "owner of b2");
  EXPECT_EQ(repeat.action_items(1).kind(), v1::ActionItem::DETECT);
  EXPECT_EQ(Rfc3339(repeat.action_items(1).completed_at()),
            "2024-04-20T12:00:00Z");
}

TEST_F(PgStatsStoreTest, RepeatAfterEveryEarlierFixWasClosed) {
  SeedDataSet();
  const v1::ActionItemStats stats = ActionItems({});
  // B -> A: by B's start (03-20) a1 was DONE (03-10) and a2 WONT_DO (03-05).
  // D -> A (rejected) and X -> A (X deleted) would qualify but are not
  // counted. G -> F: F has no action items, so it is in neither list.
  EXPECT_EQ(stats.repeats_after_fixes_count(), 1);
  ASSERT_EQ(stats.repeats_after_fixes_size(), 1);
  const v1::RepeatAgainstFixes& repeat = stats.repeats_after_fixes(0);
  EXPECT_EQ(repeat.postmortem_id(), b_.id());
  EXPECT_EQ(repeat.earlier_id(), a_.id());
  // Only the DONE items.
  ASSERT_EQ(repeat.action_items_size(), 1);
  EXPECT_EQ(repeat.action_items(0).action_item_id(), ItemId(a_, 0));
  EXPECT_EQ(repeat.action_items(0).status(), v1::ActionItem::DONE);
  EXPECT_EQ(Rfc3339(repeat.action_items(0).completed_at()),
            "2024-03-10T11:00:00Z");
}

TEST_F(PgStatsStoreTest, ItemClosedAfterTheRepeatMakesItARepeatWhileOpen) {
  SeedDataSet();
  // a1 done only after B started: B -> A moves to the "while open" list.
  Exec(
      "UPDATE action_item_records SET completed_at = "
      "'2024-03-25T00:00:00Z' WHERE id = $1::uuid",
      ItemId(a_, 0));
  const v1::ActionItemStats stats = ActionItems({});
  EXPECT_EQ(stats.repeats_after_fixes_count(), 0);
  EXPECT_EQ(stats.repeats_after_fixes_size(), 0);
  EXPECT_EQ(stats.repeats_while_open_count(), 2);
  ASSERT_EQ(stats.repeats_while_open_size(), 2);
  // The latest repeat first: C (04-10), then B (03-20) with only a1.
  EXPECT_EQ(stats.repeats_while_open(0).postmortem_id(), c_.id());
  EXPECT_EQ(stats.repeats_while_open(1).postmortem_id(), b_.id());
  ASSERT_EQ(stats.repeats_while_open(1).action_items_size(), 1);
  EXPECT_EQ(stats.repeats_while_open(1).action_items(0).action_item_id(),
            ItemId(a_, 0));

  v1::StatsRequest limited;
  limited.set_limit(1);
  const v1::ActionItemStats one = ActionItems(limited);
  EXPECT_EQ(one.repeats_while_open_count(), 2);
  EXPECT_EQ(one.repeats_while_open_size(), 1);
}

TEST_F(PgStatsStoreTest, ARepeatOfTwoEarlierIncidentsCountsOnce) {
  SeedDataSet();
  // C also repeats A, and a1 is done only after C started (04-10): C is
  // "while open" against both B (b1 open) and A (a1), B against A.
  Link(c_, a_, "AUTO", "CONFIRMED", 0.9);
  Exec(
      "UPDATE action_item_records SET completed_at = "
      "'2024-04-20T00:00:00Z' WHERE id = $1::uuid",
      ItemId(a_, 0));
  const v1::ActionItemStats stats = ActionItems({});
  // Three (repeat, earlier) pairs, two repeat incidents.
  EXPECT_EQ(stats.repeats_while_open_size(), 3);
  EXPECT_EQ(stats.repeats_while_open_count(), 2);
}

TEST_F(PgStatsStoreTest, ActionItemStatsFollowTheFilter) {
  SeedDataSet();
  v1::StatsRequest request;
  request.set_team("routing");
  const v1::ActionItemStats routing = ActionItems(request);
  EXPECT_EQ(routing.counts().total(), 1);  // d1
  EXPECT_EQ(routing.completion_rate(), 0);
  EXPECT_EQ(routing.repeats_while_open_count(), 0);
  EXPECT_EQ(routing.repeats_after_fixes_count(), 0);

  // The repeat B is in the window; its earlier incident A is not.
  *request.mutable_started_after() = Ts("2024-03-15T00:00:00Z");
  *request.mutable_started_before() = Ts("2024-04-01T00:00:00Z");
  request.clear_team();
  const v1::ActionItemStats march = ActionItems(request);
  EXPECT_EQ(march.counts().total(), 2);  // b1 b2
  EXPECT_EQ(march.repeats_after_fixes_count(), 1);
  EXPECT_EQ(march.repeats_while_open_count(), 0);  // C is outside
}

TEST_F(PgStatsStoreTest, ActionItemStatsOfAnEmptyDatabaseAreZero) {
  const v1::ActionItemStats stats = ActionItems({});
  EXPECT_EQ(stats.counts().total(), 0);
  EXPECT_EQ(stats.completion_rate(), 0);
  EXPECT_FALSE(stats.has_median_time_to_close());
  EXPECT_EQ(stats.by_kind_size(), 0);
  EXPECT_EQ(stats.overdue_size(), 0);
  EXPECT_EQ(stats.repeats_while_open_count(), 0);
  EXPECT_EQ(stats.repeats_after_fixes_count(), 0);
}

TEST_F(PgStatsStoreTest, RemovedActionItemsDoNotCount) {
  SeedDataSet();
  // An item removed by an update keeps its row, marked removed_at.
  Exec("UPDATE action_item_records SET removed_at = now() WHERE id = $1::uuid",
       ItemId(b_, 0));
  const v1::ActionItemStats stats = ActionItems({});
  EXPECT_EQ(stats.counts().total(), 6);
  EXPECT_EQ(stats.counts().overdue(), 1);  // c1 only
  ASSERT_EQ(stats.overdue_size(), 1);
  EXPECT_EQ(stats.overdue(0).action_item_id(), ItemId(c_, 0));
  // C -> B is still a repeat while b2 was open, listing b2 alone.
  ASSERT_EQ(stats.repeats_while_open_size(), 1);
  ASSERT_EQ(stats.repeats_while_open(0).action_items_size(), 1);
  EXPECT_EQ(stats.repeats_while_open(0).action_items(0).description(), "b2");
  EXPECT_EQ(Overview({}).action_items().total(), 6);
}

TEST_F(PgStatsStoreTest, UnreachableDatabaseIsUnavailable) {
  absl::StatusOr<std::unique_ptr<StatsStore>> stats = OpenPgStatsStore(
      {"host=/nonexistent-deja-socket-dir dbname=deja connect_timeout=2", 1});
  ASSERT_TRUE(stats.ok()) << stats.status();  // connects lazily
  absl::StatusOr<v1::Overview> overview = (*stats)->Overview({}, absl::Now());
  EXPECT_EQ(overview.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(overview.status().message(), HasSubstr("database unavailable"));
  EXPECT_EQ((*stats)->Trend({}).status().code(),
            absl::StatusCode::kUnavailable);
}

TEST(OpenPgStatsStoreTest, RejectsBadOptions) {
  EXPECT_EQ(OpenPgStatsStore({"", 1}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(OpenPgStatsStore({"dbname=deja", 0}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// ---- Latency at scale (bench/stats-latency runs this; never in CI) ----
//
// Fills a fresh database with DEJA_STATS_BENCH_POSTMORTEMS (default 100000)
// synthetic postmortems in plain SQL, then times each call. Prints the
// figures; asserts only that the calls succeed.

// Five years of incidents, one every ~26 minutes: 40 teams, 200 services
// (1-2 each), 1-2 root causes, 3 action items, a counted or uncounted link
// to an earlier incident of the same team for about 30%, a signature out of
// 5000 each; 1% deleted; 10% without detection or resolution times.
constexpr char kBenchSeed[] = R"sql(
INSERT INTO postmortems (id, team, title, summary, severity, status,
  started_at, detected_at, mitigated_at, resolved_at, deleted_at, document,
  signatures_version)
SELECT md5('pm' || i)::uuid, 'team-' || (i % 40), 'incident ' || i, 's',
       1 + (i * 7919) % 5, 'PUBLISHED', t,
       CASE WHEN i % 10 <> 0 THEN t + ((i * 13) % 120) * interval '1 minute' END,
       CASE WHEN i % 10 <> 0 THEN t + ((i * 17) % 600) * interval '1 minute' END,
       CASE WHEN i % 10 <> 1 THEN t + ((i * 31) % 3000) * interval '1 minute' END,
       CASE WHEN i % 100 = 0 THEN t + interval '30 days' END, '{}'::jsonb, 1
FROM generate_series(1, $1::int) i,
     LATERAL (SELECT timestamptz '2020-01-01 00:00Z'
                     + i * (interval '5 years' / $1::int) AS t) s;
INSERT INTO postmortem_services (postmortem_id, service)
SELECT md5('pm' || i)::uuid, 'svc-' || (i % 200) FROM generate_series(1, $1::int) i
UNION ALL
SELECT md5('pm' || i)::uuid, 'svc-' || ((i * 7) % 200 + 200)
FROM generate_series(1, $1::int) i WHERE i % 3 = 0;
INSERT INTO root_causes (postmortem_id, position, category, description)
SELECT md5('pm' || i)::uuid, p,
       (ARRAY['CONFIG_CHANGE','DEPLOYMENT','CAPACITY','DEPENDENCY','HARDWARE',
              'SOFTWARE_BUG','PROCESS','SECURITY','NETWORK'])[1 + (i * p) % 9],
       'cause'
FROM generate_series(1, $1::int) i, generate_series(0, 1) p
WHERE p = 0 OR i % 2 = 0;
INSERT INTO action_item_records (postmortem_id, position, description, owner,
  due_date, status, kind, completed_at)
SELECT md5('pm' || i)::uuid, p, 'item', 'owner-' || (i % 300),
       (timestamptz '2020-01-01 00:00Z' + i * (interval '5 years' / $1::int)
        + interval '30 days')::date,
       st, (ARRAY['PREVENT','MITIGATE','DETECT','PROCESS','KIND_UNSPECIFIED'])[1 + (i + p) % 5],
       CASE WHEN st IN ('DONE', 'WONT_DO')
            THEN timestamptz '2020-01-01 00:00Z' + i * (interval '5 years' / $1::int)
                 + ((i * p) % 90) * interval '1 day' END
FROM generate_series(1, $1::int) i, generate_series(0, 2) p,
     LATERAL (SELECT (ARRAY['OPEN','IN_PROGRESS','DONE','DONE','WONT_DO'])[1 + (i * 3 + p) % 5] AS st) s;
INSERT INTO recurrence_links (postmortem_id, earlier_id, source, state, score)
SELECT md5('pm' || i)::uuid, md5('pm' || (i - 40 * (1 + i % 5)))::uuid,
       CASE WHEN i % 7 = 0 THEN 'DECLARED' ELSE 'AUTO' END,
       (ARRAY['CONFIRMED','SUGGESTED','SUGGESTED','REJECTED'])[1 + (i / 10) % 4],
       0.7 + (i % 30) / 100.0
FROM generate_series(201, $1::int) i WHERE i % 10 < 3;
INSERT INTO postmortem_signatures (postmortem_id, signature, example)
SELECT md5('pm' || i)::uuid, 'sig-' || (i % 5000), 'ERROR <n> in step ' || (i % 5000)
FROM generate_series(1, $1::int) i;
ANALYZE;
)sql";

class PgStatsStoreBench : public PgTest {};

template <typename Call>
void Time(const std::string& name, int runs, Call call) {
  std::vector<double> ms;
  for (int run = 0; run < runs; ++run) {
    const absl::Time start = absl::Now();
    const absl::Status status = call();
    ms.push_back(absl::ToDoubleMilliseconds(absl::Now() - start));
    ASSERT_TRUE(status.ok()) << name << ": " << status;
  }
  std::sort(ms.begin(), ms.end());
  std::printf("%-44s median %8.1f ms   max %8.1f ms   (%d runs)\n",
              name.c_str(), ms[ms.size() / 2], ms.back(), runs);
}

TEST_F(PgStatsStoreBench, DISABLED_LatencyOfEachCall) {
  const char* env = std::getenv("DEJA_STATS_BENCH_POSTMORTEMS");
  const int postmortems = env != nullptr ? std::atoi(env) : 100000;
  const int runs = 5;
  ASSERT_GT(postmortems, 1000);
  const absl::Time seed_start = absl::Now();
  {
    pqxx::connection conn(connection_string());
    pqxx::nontransaction tx(conn);
    // A multi-statement string cannot take parameters.
    std::string sql = kBenchSeed;
    for (size_t at; (at = sql.find("$1::int")) != std::string::npos;) {
      sql.replace(at, 7, std::to_string(postmortems));
    }
    tx.exec(sql);
  }
  std::printf("seeded %d postmortems in %.1f s\n", postmortems,
              absl::ToDoubleSeconds(absl::Now() - seed_start));
  absl::StatusOr<std::unique_ptr<StatsStore>> opened =
      OpenPgStatsStore({connection_string(), 1});
  ASSERT_TRUE(opened.ok()) << opened.status();
  StatsStore& stats = **opened;
  const absl::Time now = At("2025-01-01T00:00:00Z");

  v1::StatsRequest all;
  v1::StatsRequest team;
  team.set_team("team-7");
  v1::StatsRequest service;
  service.set_service("svc-42");
  v1::StatsRequest quarter;
  *quarter.mutable_started_after() = Ts("2024-10-01T00:00:00Z");
  *quarter.mutable_started_before() = Ts("2025-01-01T00:00:00Z");
  v1::StatsRequest big;
  big.set_limit(100);
  const std::vector<std::pair<std::string, v1::StatsRequest>> requests = {
      {"all", all},
      {"team", team},
      {"service", service},
      {"last quarter", quarter},
      {"all, limit 100", big}};

  for (const auto& [name, request] : requests) {
    Time("Overview " + name, runs,
         [&] { return stats.Overview(request, now).status(); });
  }
  for (const auto& [name, request] : requests) {
    Time("Recurrence " + name, runs,
         [&] { return stats.Recurrence(request).status(); });
  }
  for (const auto& [name, request] : requests) {
    Time("ActionItems " + name, runs,
         [&] { return stats.ActionItems(request, now).status(); });
  }
  v1::TrendRequest weekly;
  weekly.set_interval(v1::TrendRequest::WEEK);
  Time("Trend weeks, all", runs, [&] { return stats.Trend(weekly).status(); });
  v1::TrendRequest by_service;
  by_service.set_split_by(v1::TrendRequest::SERVICE);
  Time("Trend months by service, all", runs,
       [&] { return stats.Trend(by_service).status(); });
  v1::TrendRequest by_cause;
  by_cause.set_interval(v1::TrendRequest::WEEK);
  by_cause.set_split_by(v1::TrendRequest::CAUSE_CATEGORY);
  by_cause.set_team("team-7");
  Time("Trend weeks by cause, team", runs,
       [&] { return stats.Trend(by_cause).status(); });

  absl::StatusOr<v1::RecurrenceStats> recurrence = stats.Recurrence(big);
  ASSERT_TRUE(recurrence.ok()) << recurrence.status();
  std::printf(
      "(recurrence: %lld incidents, %lld repeats, %d clusters, "
      "largest %d members listed)\n",
      static_cast<long long>(recurrence->incidents()),
      static_cast<long long>(recurrence->repeats()),
      recurrence->clusters_size(),
      recurrence->clusters_size() > 0 ? recurrence->clusters(0).members_size()
                                      : 0);
}

}  // namespace
}  // namespace deja
