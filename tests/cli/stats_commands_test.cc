// `deja stats ...` and `deja recurrence ...` in process: the real stubs and
// channel against scripted StatsService and RecurrenceService, so the
// requests the commands build and the text they print are pinned.

#include <algorithm>
#include <sstream>

#include "absl/synchronization/mutex.h"
#include "cli/command_line.h"
#include "cli/commands.h"
#include "cli/format.h"
#include "cli/stats_render.h"
#include "core/stats_validation.h"
#include "deja/v1/recurrence_service.grpc.pb.h"
#include "deja/v1/stats_service.grpc.pb.h"
#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "gtest/gtest.h"

namespace deja::cli {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::StartsWith;

template <class T>
T Parse(const std::string& text) {
  T message;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &message));
  return message;
}

// Answers with what the test set, remembers what it was asked.
class ScriptedStatsService final : public v1::StatsService::Service {
 public:
  grpc::Status GetOverview(grpc::ServerContext*,
                           const v1::StatsRequest* request,
                           v1::Overview* response) override {
    absl::MutexLock lock(&mu);
    last_stats = *request;
    last_method = "GetOverview";
    *response = overview;
    return status;
  }
  grpc::Status GetTrend(grpc::ServerContext*, const v1::TrendRequest* request,
                        v1::Trend* response) override {
    absl::MutexLock lock(&mu);
    last_trend = *request;
    last_method = "GetTrend";
    *response = trend;
    return status;
  }
  grpc::Status GetRecurrenceStats(grpc::ServerContext*,
                                  const v1::StatsRequest* request,
                                  v1::RecurrenceStats* response) override {
    absl::MutexLock lock(&mu);
    last_stats = *request;
    last_method = "GetRecurrenceStats";
    *response = recurrence;
    return status;
  }
  grpc::Status GetActionItemStats(grpc::ServerContext*,
                                  const v1::StatsRequest* request,
                                  v1::ActionItemStats* response) override {
    absl::MutexLock lock(&mu);
    last_stats = *request;
    last_method = "GetActionItemStats";
    *response = action_items;
    return status;
  }

  absl::Mutex mu;
  grpc::Status status;
  std::string last_method;
  v1::StatsRequest last_stats;
  v1::TrendRequest last_trend;
  v1::Overview overview;
  v1::Trend trend;
  v1::RecurrenceStats recurrence;
  v1::ActionItemStats action_items;
};

class ScriptedRecurrenceService final : public v1::RecurrenceService::Service {
 public:
  grpc::Status ListRecurrences(grpc::ServerContext*,
                               const v1::ListRecurrencesRequest* request,
                               v1::ListRecurrencesResponse* response) override {
    absl::MutexLock lock(&mu);
    last_list = *request;
    last_method = "ListRecurrences";
    *response = links;
    return status;
  }
  grpc::Status ConfirmRecurrence(grpc::ServerContext*,
                                 const v1::DecideRecurrenceRequest* request,
                                 v1::RecurrenceLink* response) override {
    return Decide("ConfirmRecurrence", *request, v1::RecurrenceLink::CONFIRMED,
                  *response);
  }
  grpc::Status RejectRecurrence(grpc::ServerContext*,
                                const v1::DecideRecurrenceRequest* request,
                                v1::RecurrenceLink* response) override {
    return Decide("RejectRecurrence", *request, v1::RecurrenceLink::REJECTED,
                  *response);
  }

  absl::Mutex mu;
  grpc::Status status;
  std::string last_method;
  v1::ListRecurrencesRequest last_list;
  v1::DecideRecurrenceRequest last_decide;
  v1::ListRecurrencesResponse links;
  // What a decision answers, with the request's state, decider and note.
  v1::RecurrenceLink decided;

 private:
  grpc::Status Decide(const char* method,
                      const v1::DecideRecurrenceRequest& request,
                      v1::RecurrenceLink::State state,
                      v1::RecurrenceLink& response) {
    absl::MutexLock lock(&mu);
    last_decide = request;
    last_method = method;
    response = decided;
    response.set_state(state);
    response.set_decided_by(request.decided_by());
    response.set_note(request.note());
    return status;
  }
};

constexpr char kOverview[] = R"pb(
  incidents: 42
  by_severity { severity: SEV1 incidents: 2 }
  by_severity { severity: SEV2 incidents: 10 }
  by_severity { severity: SEV3 incidents: 20 }
  by_severity { severity: SEV4 incidents: 8 }
  by_severity { severity: SEV5 incidents: 2 }
  time_to_detect {
    incidents: 40
    median { seconds: 420 }
    p90 { seconds: 2700 }
    mean { seconds: 900 }
  }
  time_to_mitigate { incidents: 0 }
  time_to_resolve {
    incidents: 41
    median { seconds: 8040 }
    p90 { seconds: 273600 }
    mean { seconds: 18000 }
  }
  repeats: 7
  repeat_rate: 0.16666666
  action_items { total: 31 open: 12 overdue: 4 done: 17 wont_do: 2 }
)pb";

constexpr char kRecurrenceStats[] = R"pb(
  incidents: 42
  repeats: 7
  repeat_rate: 0.25
  median_time_between_repeats { seconds: 2358000 }
  clusters {
    member_count: 3
    members {
      postmortem_id: "11111111-2222-4333-8444-555555555555"
      title: "Checkout 5xx after resolver change"
      team: "payments"
      severity: SEV2
      started_at { seconds: 1704412800 }
    }
    members {
      postmortem_id: "0b7e5a52-3c1d-4f7a-9a39-1f2e3d4c5b6a"
      title: "Checkout 5xx after DNS change"
      team: "payments"
      severity: SEV3
      started_at { seconds: 1709301900 }
    }
    first_started_at { seconds: 1704412800 }
    last_started_at { seconds: 1709301900 }
    median_time_between { seconds: 4889100 }
    shared_signatures {
      signature: "3f2a9c1d5e6f7a8b"
      example: "dial tcp: lookup <host> on <ip>:<num>: no such host"
      incidents: 2
    }
    shared_services { key: "checkout" count: 2 }
    shared_cause_categories { key: "CONFIG_CHANGE" count: 2 }
  }
  top_signatures {
    signature: "3f2a9c1d5e6f7a8b"
    example: "dial tcp: lookup <host> on <ip>:<num>: no such host"
    incidents: 4
  }
  top_repeat_cause_categories { key: "CONFIG_CHANGE" count: 4 }
  top_repeat_cause_categories { key: "CAPACITY" count: 2 }
)pb";

constexpr char kActionItemStats[] = R"pb(
  counts { total: 31 open: 12 overdue: 3 done: 17 wont_do: 2 }
  completion_rate: 0.5862
  median_time_to_close { seconds: 785000 }
  by_kind {
    kind: PREVENT
    counts { total: 12 open: 5 overdue: 2 done: 6 wont_do: 1 }
    completion_rate: 0.5454
    median_time_to_close { seconds: 1048000 }
  }
  by_kind {
    kind: KIND_UNSPECIFIED
    counts { total: 1 open: 1 }
  }
  overdue {
    action_item_id: "8cf065eb-0000-4000-8000-000000000000"
    postmortem_id: "0b7e5a52-3c1d-4f7a-9a39-1f2e3d4c5b6a"
    postmortem_title: "Checkout 5xx after DNS change"
    description: "Lint resolver configs"
    owner: "sre"
    due_date: "2024-03-10"
    days_overdue: 22
    status: OPEN
    kind: PREVENT
  }
  overdue {
    postmortem_id: "11111111-2222-4333-8444-555555555555"
    postmortem_title: "Checkout 5xx after resolver change"
    description: "Alert on NXDOMAIN"
    due_date: "2024-03-20"
    days_overdue: 12
    status: IN_PROGRESS
    kind: DETECT
  }
  repeats_while_open_count: 1
  repeats_while_open {
    postmortem_id: "0b7e5a52-3c1d-4f7a-9a39-1f2e3d4c5b6a"
    title: "Checkout 5xx after DNS change"
    started_at { seconds: 1709301900 }
    earlier_id: "11111111-2222-4333-8444-555555555555"
    earlier_title: "Checkout 5xx after resolver change"
    earlier_started_at { seconds: 1704412800 }
    action_items {
      description: "Lint resolver configs"
      owner: "sre"
      status: OPEN
      kind: PREVENT
    }
  }
  repeats_after_fixes_count: 0
)pb";

constexpr char kLink[] = R"pb(
  postmortem_id: "0b7e5a52-3c1d-4f7a-9a39-1f2e3d4c5b6a"
  earlier_id: "11111111-2222-4333-8444-555555555555"
  source: AUTO
  state: SUGGESTED
  score: 0.91
  reasons: "shared error signature: dial tcp: lookup <host>"
  reasons: "same services: checkout"
  counted: true
  title: "Checkout 5xx after DNS change"
  started_at { seconds: 1709301900 }
  earlier_title: "Checkout 5xx after resolver change"
  earlier_started_at { seconds: 1704412800 }
)pb";

constexpr char kLater[] = "0b7e5a52-3c1d-4f7a-9a39-1f2e3d4c5b6a";
constexpr char kEarlier[] = "11111111-2222-4333-8444-555555555555";

class StatsCommandsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    builder.RegisterService(&stats_);
    builder.RegisterService(&recurrence_);
    server_ = builder.BuildAndStart();
  }
  void TearDown() override { server_->Shutdown(); }

  int Run(std::vector<std::string> argv) {
    std::istringstream in;
    std::ostringstream out, err;
    Environment env;
    env.connect = [this](const std::string&) {
      return server_->InProcessChannel(grpc::ChannelArguments());
    };
    env.now = absl::FromUnixSeconds(1711929600);
    env.in = &in;
    env.out = &out;
    env.err = &err;
    const int code = RunDeja(argv, env);
    out_ = out.str();
    err_ = err.str();
    return code;
  }

  ScriptedStatsService stats_;
  ScriptedRecurrenceService recurrence_;
  std::unique_ptr<grpc::Server> server_;
  std::string out_;
  std::string err_;
};

TEST_F(StatsCommandsTest, FiltersBecomeTheRequestAndUntilIncludesItsDay) {
  ASSERT_EQ(Run({"stats", "overview", "--team", "payments", "--service",
                 "checkout", "--since", "2024-01-01", "--until", "2024-03-31"}),
            0)
      << err_;
  EXPECT_EQ(stats_.last_method, "GetOverview");
  const v1::StatsRequest& request = stats_.last_stats;
  EXPECT_EQ(request.team(), "payments");
  EXPECT_EQ(request.service(), "checkout");
  EXPECT_EQ(request.started_after().seconds(), 1704067200);   // 2024-01-01
  EXPECT_EQ(request.started_before().seconds(), 1711929600);  // 2024-04-01
  EXPECT_EQ(request.limit(), 0);
}

TEST_F(StatsCommandsTest, RfcTimesAreTakenAsGiven) {
  ASSERT_EQ(Run({"stats", "overview", "--since", "2024-01-01T12:00:00Z",
                 "--until", "2024-01-02T06:30:00Z"}),
            0)
      << err_;
  EXPECT_EQ(stats_.last_stats.started_after().seconds(), 1704110400);
  EXPECT_EQ(stats_.last_stats.started_before().seconds(), 1704177000);
}

TEST_F(StatsCommandsTest, UntilTheLastDayTheServerKnowsEndsAtItsLastSecond) {
  ASSERT_EQ(Run({"stats", "overview", "--until", "9999-12-31"}), 0) << err_;
  EXPECT_EQ(stats_.last_stats.started_before().seconds(), 253402300799);
}

TEST_F(StatsCommandsTest, NoFiltersLeaveTheRequestOpen) {
  ASSERT_EQ(Run({"stats", "overview"}), 0) << err_;
  EXPECT_EQ(stats_.last_stats.team(), "");
  EXPECT_EQ(stats_.last_stats.service(), "");
  EXPECT_FALSE(stats_.last_stats.has_started_after());
  EXPECT_FALSE(stats_.last_stats.has_started_before());
}

TEST_F(StatsCommandsTest, OverviewShowsCountsRatesAndHumanDurations) {
  stats_.overview = Parse<v1::Overview>(kOverview);
  ASSERT_EQ(Run({"stats", "overview"}), 0) << err_;
  EXPECT_EQ(out_,
            "incidents:     42\n"
            "by severity:   SEV1 2, SEV2 10, SEV3 20, SEV4 8, SEV5 2\n"
            "repeats:       7 (16.7% of incidents)\n"
            "action items:  12 open, 4 overdue, 17 done, 2 wont-do (31 in "
            "all)\n"
            "\n"
            "TIME TO         MEDIAN  P90    MEAN  INCIDENTS\n"
            "detect (MTTD)   7m      45m    15m   40\n"
            "mitigate        -       -      -     0\n"
            "resolve (MTTR)  2h 14m  3d 4h  5h    41\n");
  EXPECT_EQ(err_, "");
}

TEST_F(StatsCommandsTest, OverviewJsonIsTheProtoMappingOnOneLine) {
  stats_.overview = Parse<v1::Overview>(kOverview);
  ASSERT_EQ(Run({"stats", "overview", "--json"}), 0) << err_;
  EXPECT_THAT(
      out_, StartsWith(R"({"incidents":"42","bySeverity":[{"severity":"SEV1",)"
                       R"("incidents":"2"},)"));
  EXPECT_THAT(out_, HasSubstr(R"("timeToDetect":{"incidents":"40",)"
                              R"("median":"420s","p90":"2700s",)"));
  EXPECT_THAT(out_, HasSubstr(R"("repeats":"7")"));
  EXPECT_EQ(std::count(out_.begin(), out_.end(), '\n'), 1);
}

TEST_F(StatsCommandsTest, TrendByWeekSplitBySeverity) {
  stats_.trend = Parse<v1::Trend>(R"pb(
    interval: WEEK
    split_by: SEVERITY
    buckets {
      start { seconds: 1734912000 }  # 2024-12-23, a Monday
      incidents: 3
      split { key: "SEV3" count: 2 }
      split { key: "SEV1" count: 1 }
    }
    buckets {
      start { seconds: 1735516800 }
      incidents: 0
    }
    buckets {
      start { seconds: 1736121600 }
      incidents: 1
      split { key: "SEV2" count: 1 }
    }
  )pb");
  ASSERT_EQ(Run({"stats", "trend", "--by", "week", "--split", "severity",
                 "--team", "payments"}),
            0)
      << err_;
  EXPECT_EQ(stats_.last_trend.interval(), v1::TrendRequest::WEEK);
  EXPECT_EQ(stats_.last_trend.split_by(), v1::TrendRequest::SEVERITY);
  EXPECT_EQ(stats_.last_trend.team(), "payments");
  EXPECT_EQ(out_,
            "WEEK               TOTAL  SEV1  SEV2  SEV3\n"
            "2024-W52 (Dec 23)  3      1     0     2\n"
            "2025-W01 (Dec 30)  0      0     0     0\n"
            "2025-W02 (Jan 6)   1      0     1     0\n");
}

TEST_F(StatsCommandsTest, TrendDefaultsToMonthsWithABar) {
  stats_.trend = Parse<v1::Trend>(R"pb(
    interval: MONTH
    buckets {
      start { seconds: 1730419200 }
      incidents: 3
    }
    buckets {
      start { seconds: 1733011200 }
      incidents: 0
    }
    buckets {
      start { seconds: 1735689600 }
      incidents: 1
    }
  )pb");
  ASSERT_EQ(Run({"stats", "trend", "--until", "2025-01-31"}), 0) << err_;
  EXPECT_EQ(stats_.last_trend.interval(), v1::TrendRequest::MONTH);
  EXPECT_EQ(stats_.last_trend.split_by(), v1::TrendRequest::SPLIT_UNSPECIFIED);
  EXPECT_EQ(stats_.last_trend.started_before().seconds(),
            1738368000);  // 2025-02-01
  EXPECT_EQ(out_,
            "MONTH    INCIDENTS\n"
            "2024-11  3          ███\n"
            "2024-12  0\n"
            "2025-01  1          █\n");
}

TEST_F(StatsCommandsTest, TrendKeepsSixSplitColumnsAndSumsTheRest) {
  stats_.trend = Parse<v1::Trend>(R"pb(
    interval: MONTH
    split_by: SERVICE
    buckets {
      start { seconds: 1733011200 }
      incidents: 9
      split { key: "checkout" count: 5 }
      split { key: "api" count: 4 }
      split { key: "cart" count: 3 }
      split { key: "db" count: 2 }
      split { key: "edge" count: 2 }
      split { key: "fx" count: 1 }
      split { key: "gw" count: 1 }
      split { key: "hr" count: 1 }
    }
  )pb");
  ASSERT_EQ(Run({"stats", "trend", "--split", "service"}), 0) << err_;
  EXPECT_EQ(stats_.last_trend.split_by(), v1::TrendRequest::SERVICE);
  EXPECT_EQ(out_,
            "MONTH    TOTAL  checkout  api  cart  db  edge  fx  OTHER\n"
            "2024-12  9      5         4    3     2   2     1   2\n"
            "(an incident with several services counts under each)\n");
}

TEST_F(StatsCommandsTest, ATrendOfEmptyBucketsSaysNoIncidents) {
  stats_.trend = Parse<v1::Trend>(R"pb(
    interval: MONTH
    buckets { start { seconds: 1733011200 } }
    buckets { start { seconds: 1735689600 } }
  )pb");
  ASSERT_EQ(Run({"stats", "trend", "--since", "2024-12-01"}), 0) << err_;
  EXPECT_EQ(out_, "no incidents\n");
}

TEST_F(StatsCommandsTest, ATrendCutToItsLatestBucketsSaysSo) {
  v1::Trend trend;
  trend.set_interval(v1::TrendRequest::MONTH);
  for (int i = 0; i < kMaxTrendBuckets; ++i) {
    v1::TrendBucket* bucket = trend.add_buckets();
    bucket->mutable_start()->set_seconds(1733011200 + i * 2678400LL);
    bucket->set_incidents(i == 0 ? 1 : 0);
  }
  stats_.trend = trend;
  ASSERT_EQ(Run({"stats", "trend", "--until", "2100-01-01"}), 0) << err_;
  EXPECT_THAT(out_, HasSubstr("(the latest 1000 buckets, the most a trend "
                              "holds: give --since, or --by month, to see "
                              "earlier ones)\n"));
}

TEST_F(StatsCommandsTest, TrendSplitNamesMapToTheApi) {
  ASSERT_EQ(Run({"stats", "trend", "--split", "cause"}), 0) << err_;
  EXPECT_EQ(stats_.last_trend.split_by(), v1::TrendRequest::CAUSE_CATEGORY);
  ASSERT_EQ(Run({"stats", "trend", "--split", "TEAM", "--by", "Month"}), 0);
  EXPECT_EQ(stats_.last_trend.split_by(), v1::TrendRequest::TEAM);
  EXPECT_EQ(stats_.last_trend.interval(), v1::TrendRequest::MONTH);
  EXPECT_EQ(out_, "no incidents\n");
}

TEST_F(StatsCommandsTest, BadStatsOptionsAreOneUsageLine) {
  EXPECT_EQ(Run({"stats", "trend", "--by", "day"}), 2);
  EXPECT_EQ(err_,
            "deja: invalid --by 'day' (expected week or month) (see 'deja "
            "stats trend --help')\n");
  EXPECT_EQ(Run({"stats", "trend", "--split", "owner"}), 2);
  EXPECT_EQ(err_,
            "deja: invalid --split 'owner' (expected severity, service, cause "
            "or team) (see 'deja stats trend --help')\n");
  EXPECT_EQ(Run({"stats", "overview", "--since", "last week"}), 2);
  EXPECT_THAT(err_, StartsWith("deja: --since: invalid date 'last week'"));
  EXPECT_EQ(Run({"stats", "overview", "--since", "2024-03-01", "--until",
                 "2024-02-01"}),
            2);
  EXPECT_EQ(err_,
            "deja: --until 2024-02-01 is not after --since 2024-03-01 (see "
            "'deja stats overview --help')\n");
  EXPECT_EQ(Run({"stats", "overview", "--since", "1800-01-01"}), 2);
  EXPECT_THAT(err_, StartsWith("deja: --since: date '1800-01-01' out of range "
                               "(1900-01-01 to 9999-12-31)"));
  EXPECT_EQ(Run({"stats", "recurrence", "--limit", "101"}), 2);
  EXPECT_THAT(err_, StartsWith("deja: invalid --limit '101' (expected 1 to "
                               "100)"));
  EXPECT_EQ(Run({"stats", "overview", "--limit", "5"}), 2);
  EXPECT_EQ(err_,
            "deja: 'deja stats overview' has no option '--limit' (see 'deja "
            "stats overview --help')\n");
  EXPECT_EQ(Run({"stats"}), 2);
  EXPECT_EQ(err_,
            "deja: missing subcommand: usage: deja stats "
            "overview|trend|recurrence|action-items (see 'deja stats "
            "--help')\n");
  EXPECT_EQ(Run({"stats", "mttr"}), 2);
  EXPECT_THAT(err_, StartsWith("deja: unknown subcommand 'mttr' (expected "
                               "overview|trend|recurrence|action-items)"));
  EXPECT_EQ(Run({"stats", "overview", "extra"}), 2);
  EXPECT_THAT(err_, StartsWith("deja: unexpected argument 'extra'"));
  EXPECT_EQ(stats_.last_method, "");  // nothing was called
}

TEST_F(StatsCommandsTest, ServerErrorIsOneLine) {
  stats_.status = grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                               "team: must not be empty\nsecond line");
  EXPECT_EQ(Run({"stats", "action-items", "--team", "x"}), 1);
  EXPECT_EQ(err_, "deja: INVALID_ARGUMENT: team: must not be empty\n");
  EXPECT_EQ(out_, "");
  stats_.status = grpc::Status(grpc::StatusCode::UNAVAILABLE, "database down");
  EXPECT_EQ(Run({"stats", "overview"}), 1);
  EXPECT_THAT(err_, StartsWith("deja: UNAVAILABLE: "));
}

TEST_F(StatsCommandsTest, RecurrenceStatsShowsClustersSignaturesAndCauses) {
  stats_.recurrence = Parse<v1::RecurrenceStats>(kRecurrenceStats);
  ASSERT_EQ(
      Run({"stats", "recurrence", "--service", "checkout", "--limit", "5"}), 0)
      << err_;
  EXPECT_EQ(stats_.last_method, "GetRecurrenceStats");
  EXPECT_EQ(stats_.last_stats.service(), "checkout");
  EXPECT_EQ(stats_.last_stats.limit(), 5);
  EXPECT_EQ(
      out_,
      "incidents:                    42\n"
      "repeats:                      7 (25% of incidents)\n"
      "median time between repeats:  27d 7h\n"
      "\n"
      "clusters (most members first):\n"
      "1. 3 incidents (the latest 2 below) from 2024-01-05 to 2024-03-01, "
      "median gap 56d 14h\n"
      "   STARTED     ID        SEV   TEAM      TITLE\n"
      "   2024-01-05  11111111  SEV2  payments  Checkout 5xx after resolver "
      "change\n"
      "   2024-03-01  0b7e5a52  SEV3  payments  Checkout 5xx after DNS "
      "change\n"
      "   shared services:  checkout 2\n"
      "   shared causes:    config-change 2\n"
      "   shared error:     3f2a9c1d5e6f7a8b (2)  dial tcp: lookup <host> on "
      "<ip>:<num>: no such host\n"
      "\n"
      "error signatures in several incidents:\n"
      "INCIDENTS  SIGNATURE         EXAMPLE\n"
      "4          3f2a9c1d5e6f7a8b  dial tcp: lookup <host> on <ip>:<num>: no "
      "such host\n"
      "\n"
      "causes of repeats: config-change 4, capacity 2\n");
}

TEST_F(StatsCommandsTest, RecurrenceStatsWithNothingSaysNone) {
  ASSERT_EQ(Run({"stats", "recurrence"}), 0) << err_;
  EXPECT_EQ(out_,
            "incidents:                    0\n"
            "repeats:                      0 (0% of incidents)\n"
            "median time between repeats:  -\n"
            "\n"
            "clusters: none\n"
            "\n"
            "error signatures in several incidents: none\n"
            "\n"
            "causes of repeats: none\n");
}

TEST_F(StatsCommandsTest, ActionItemStatsShowKindsOverdueAndRepeats) {
  stats_.action_items = Parse<v1::ActionItemStats>(kActionItemStats);
  ASSERT_EQ(Run({"stats", "action-items", "--limit", "2"}), 0) << err_;
  EXPECT_EQ(stats_.last_method, "GetActionItemStats");
  EXPECT_EQ(stats_.last_stats.limit(), 2);
  EXPECT_EQ(
      out_,
      "action items:          12 open, 3 overdue, 17 done, 2 wont-do (31 in "
      "all)\n"
      "completion:            58.6%\n"
      "median time to close:  9d 2h\n"
      "\n"
      "KIND         TOTAL  DONE  OPEN  OVERDUE  WONT-DO  COMPLETION  MEDIAN "
      "TO CLOSE\n"
      "prevent      12     6     5     2        1        54.5%       12d 3h\n"
      "unspecified  1      0     1     0        0        0%          -\n"
      "\n"
      "overdue (2 of 3; see --limit):\n"
      "OWNER  DAYS  DUE         ITEM                   INCIDENT\n"
      "sre    22    2024-03-10  Lint resolver configs  0b7e5a52  Checkout 5xx "
      "after DNS change\n"
      "-      12    2024-03-20  Alert on NXDOMAIN      11111111  Checkout 5xx "
      "after resolver change\n"
      "\n"
      "repeats while a fix was still open (1):\n"
      "  repeat  2024-03-01  0b7e5a52  Checkout 5xx after DNS change\n"
      "  of      2024-01-05  11111111  Checkout 5xx after resolver change\n"
      "    - [prevent] Lint resolver configs (owner sre, open)\n"
      "\n"
      "repeats after the fixes were done (the fix did not work): none\n");
}

TEST_F(StatsCommandsTest, ActionItemStatsJson) {
  stats_.action_items = Parse<v1::ActionItemStats>(kActionItemStats);
  ASSERT_EQ(Run({"stats", "action-items", "--json"}), 0) << err_;
  EXPECT_THAT(out_, StartsWith(R"({"counts":{"total":"31","open":"12",)"));
  EXPECT_THAT(out_, HasSubstr(R"("repeatsAfterFixesCount":"0")"));
  EXPECT_EQ(std::count(out_.begin(), out_.end(), '\n'), 1);
}

TEST_F(StatsCommandsTest, RecurrenceListMapsFiltersAndShowsEachLink) {
  *recurrence_.links.add_links() = Parse<v1::RecurrenceLink>(kLink);
  v1::RecurrenceLink confirmed = Parse<v1::RecurrenceLink>(kLink);
  confirmed.set_state(v1::RecurrenceLink::CONFIRMED);
  confirmed.set_source(v1::RecurrenceLink::DECLARED);
  confirmed.set_score(1);
  confirmed.clear_reasons();
  confirmed.set_decided_by("alice");
  confirmed.set_note("same resolver bug");
  confirmed.mutable_decided_at()->set_seconds(1709388000);
  *recurrence_.links.add_links() = confirmed;
  recurrence_.links.set_next_page_token("p2");
  ASSERT_EQ(Run({"recurrence", "list", kLater, "--state", "suggested",
                 "--state", "CONFIRMED", "--limit", "2"}),
            0)
      << err_;
  const v1::ListRecurrencesRequest& request = recurrence_.last_list;
  EXPECT_EQ(request.postmortem_id(), kLater);
  EXPECT_THAT(request.states(), ElementsAre(v1::RecurrenceLink::SUGGESTED,
                                            v1::RecurrenceLink::CONFIRMED));
  EXPECT_EQ(request.page_size(), 2);
  EXPECT_EQ(
      out_,
      "SUGGESTED  auto  score 0.91  counted\n"
      "  repeat  2024-03-01  0b7e5a52-3c1d-4f7a-9a39-1f2e3d4c5b6a  Checkout "
      "5xx after DNS change\n"
      "  of      2024-01-05  11111111-2222-4333-8444-555555555555  Checkout "
      "5xx after resolver change\n"
      "  why: shared error signature: dial tcp: lookup <host>\n"
      "       same services: checkout\n"
      "\n"
      "CONFIRMED  declared  score 1.00  counted\n"
      "  repeat  2024-03-01  0b7e5a52-3c1d-4f7a-9a39-1f2e3d4c5b6a  Checkout "
      "5xx after DNS change\n"
      "  of      2024-01-05  11111111-2222-4333-8444-555555555555  Checkout "
      "5xx after resolver change\n"
      "  confirmed by alice, 2024-03-02 14:00 UTC: same resolver bug\n"
      "more: deja recurrence list 0b7e5a52-3c1d-4f7a-9a39-1f2e3d4c5b6a "
      "--state suggested --state confirmed --limit 2 --page-token p2\n");
}

TEST_F(StatsCommandsTest, RecurrenceListEmptyAndBadState) {
  ASSERT_EQ(Run({"recurrence", "list"}), 0) << err_;
  EXPECT_EQ(out_, "no recurrence links\n");
  EXPECT_EQ(recurrence_.last_list.postmortem_id(), "");
  EXPECT_THAT(recurrence_.last_list.states(), IsEmpty());
  EXPECT_EQ(recurrence_.last_list.page_size(), 0);
  EXPECT_EQ(Run({"recurrence", "list", "--state", "maybe"}), 2);
  EXPECT_EQ(err_,
            "deja: invalid --state 'maybe' (expected suggested, confirmed or "
            "rejected) (see 'deja recurrence list --help')\n");
  EXPECT_EQ(Run({"recurrence", "list", "--limit", "501"}), 2);
  EXPECT_THAT(err_, StartsWith("deja: invalid --limit '501' (expected 1 to "
                               "500)"));
}

TEST_F(StatsCommandsTest, ConfirmSendsWhoAndWhy) {
  recurrence_.decided = Parse<v1::RecurrenceLink>(kLink);
  recurrence_.decided.mutable_decided_at()->set_seconds(1709388000);
  ASSERT_EQ(Run({"recurrence", "confirm", kLater, kEarlier, "--by", "alice",
                 "--note", "same resolver bug"}),
            0)
      << err_;
  EXPECT_EQ(recurrence_.last_method, "ConfirmRecurrence");
  const v1::DecideRecurrenceRequest& request = recurrence_.last_decide;
  EXPECT_EQ(request.postmortem_id(), kLater);
  EXPECT_EQ(request.earlier_id(), kEarlier);
  EXPECT_EQ(request.decided_by(), "alice");
  EXPECT_EQ(request.note(), "same resolver bug");
  EXPECT_THAT(out_, StartsWith("CONFIRMED  auto  score 0.91  counted\n"));
  EXPECT_THAT(out_, HasSubstr("\n  confirmed by alice, 2024-03-02 14:00 UTC: "
                              "same resolver bug\n"));
}

TEST_F(StatsCommandsTest, RejectCallsRejectAndPrintsJson) {
  recurrence_.decided = Parse<v1::RecurrenceLink>(kLink);
  ASSERT_EQ(Run({"recurrence", "reject", kLater, kEarlier, "--by=sre-team",
                 "--json"}),
            0)
      << err_;
  EXPECT_EQ(recurrence_.last_method, "RejectRecurrence");
  EXPECT_EQ(recurrence_.last_decide.decided_by(), "sre-team");
  EXPECT_EQ(recurrence_.last_decide.note(), "");
  EXPECT_THAT(out_, StartsWith(R"({"postmortemId":"0b7e5a52-)"));
  EXPECT_THAT(out_, HasSubstr(R"("state":"REJECTED")"));
  EXPECT_THAT(out_, HasSubstr(R"("decidedBy":"sre-team")"));
}

TEST_F(StatsCommandsTest, DecisionsNeedBy) {
  EXPECT_EQ(Run({"recurrence", "confirm", kLater, kEarlier}), 2);
  EXPECT_EQ(err_,
            "deja: --by WHO is required: name who decided (a person or team) "
            "(see 'deja recurrence confirm --help')\n");
  EXPECT_EQ(Run({"recurrence", "reject", kLater, kEarlier, "--by", "  "}), 2);
  EXPECT_EQ(err_,
            "deja: --by is empty: name who decided (a person or team) (see "
            "'deja recurrence reject --help')\n");
  EXPECT_EQ(Run({"recurrence", "confirm", kLater, "--by", "alice"}), 2);
  EXPECT_THAT(err_, StartsWith("deja: missing argument: usage: deja "
                               "recurrence confirm LATER_ID EARLIER_ID"));
  EXPECT_EQ(recurrence_.last_method, "");  // nothing was called
}

TEST_F(StatsCommandsTest, UnknownLinkIsOneLine) {
  recurrence_.status = grpc::Status(
      grpc::StatusCode::NOT_FOUND,
      "no recurrence link from 0b7e5a52-3c1d-4f7a-9a39-1f2e3d4c5b6a");
  EXPECT_EQ(Run({"recurrence", "confirm", kLater, kEarlier, "--by", "alice"}),
            1);
  EXPECT_EQ(err_,
            "deja: NOT_FOUND: no recurrence link from "
            "0b7e5a52-3c1d-4f7a-9a39-1f2e3d4c5b6a\n");
  EXPECT_EQ(out_, "");
}

TEST_F(StatsCommandsTest, HelpForGroupsAndSubcommands) {
  ASSERT_EQ(Run({"stats", "--help"}), 0);
  EXPECT_THAT(out_, StartsWith("usage: deja stats "
                               "overview|trend|recurrence|action-items"));
  EXPECT_THAT(out_, HasSubstr("  deja stats trend [--by week|month]"));
  ASSERT_EQ(Run({"help", "stats", "overview"}), 0);
  EXPECT_THAT(out_, StartsWith("usage: deja stats overview"));
  EXPECT_THAT(out_, HasSubstr("includes that whole day"));
  ASSERT_EQ(Run({"recurrence", "confirm", "--help"}), 0);
  EXPECT_THAT(out_, StartsWith("usage: deja recurrence confirm LATER_ID"));
  EXPECT_THAT(out_, HasSubstr("--by (a person or team) is required"));
  ASSERT_EQ(Run({"stats", "--team", "x", "--help"}), 0);
  EXPECT_THAT(out_, StartsWith("usage: deja stats "));
  ASSERT_EQ(Run({"--help"}), 0);
  EXPECT_THAT(out_, HasSubstr("  deja recurrence list"));
}

TEST(StatsCommandLineTest, SubcommandsAreOneCommand) {
  auto line = ParseCommandLine(
      {"recurrence", "confirm", "a", "b", "--by", "alice"}, "");
  ASSERT_TRUE(line.ok()) << line.status();
  EXPECT_EQ(line->command, "recurrence confirm");
  EXPECT_THAT(line->args, ElementsAre("a", "b"));
  EXPECT_EQ(line->Get("by"), "alice");

  auto states = ParseCommandLine(
      {"recurrence", "list", "--state", "a", "--state", "b"}, "");
  ASSERT_TRUE(states.ok()) << states.status();
  EXPECT_THAT(states->GetAll("state"), ElementsAre("a", "b"));
  // "recurrence" is also a stats subcommand: the group decides which.
  auto stats = ParseCommandLine({"stats", "recurrence"}, "");
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->command, "stats recurrence");
  EXPECT_FALSE(
      ParseCommandLine({"stats", "trend", "--by", "week", "--by", "month"}, "")
          .ok());
}

TEST(StatsRenderTest, BucketLabelsUseIsoWeeksAndMonths) {
  google::protobuf::Timestamp monday;
  monday.set_seconds(1735516800);  // 2024-12-30, in ISO week 2025-W01
  EXPECT_EQ(BucketLabel(monday, v1::TrendRequest::WEEK), "2025-W01 (Dec 30)");
  EXPECT_EQ(BucketLabel(monday, v1::TrendRequest::MONTH), "2024-12");
  EXPECT_EQ(BucketLabel(monday, v1::TrendRequest::INTERVAL_UNSPECIFIED),
            "2024-12");
}

TEST(StatsRenderTest, SplitKeysReadLikeTheRestOfTheCli) {
  EXPECT_EQ(SplitKeyName("2", v1::TrendRequest::SEVERITY), "SEV2");
  EXPECT_EQ(SplitKeyName("sev3", v1::TrendRequest::SEVERITY), "SEV3");
  EXPECT_EQ(SplitKeyName("SEV1", v1::TrendRequest::SEVERITY), "SEV1");
  EXPECT_EQ(SplitKeyName("CONFIG_CHANGE", v1::TrendRequest::CAUSE_CATEGORY),
            "config-change");
  EXPECT_EQ(SplitKeyName("CONFIG_CHANGE", v1::TrendRequest::SERVICE),
            "CONFIG_CHANGE");
  EXPECT_EQ(SplitKeyName("odd", v1::TrendRequest::CAUSE_CATEGORY), "odd");
}

TEST(StatsRenderTest, PercentKeepsOneDecimalOnlyWhenItMatters) {
  EXPECT_EQ(Percent(0.16666), "16.7%");
  EXPECT_EQ(Percent(0.25), "25%");
  EXPECT_EQ(Percent(0), "0%");
  EXPECT_EQ(Percent(1), "100%");
  EXPECT_EQ(Percent(0.99999), "100%");
}

TEST(StatsRenderTest, ParsesRecurrenceStates) {
  EXPECT_EQ(*ParseRecurrenceState("Rejected"), v1::RecurrenceLink::REJECTED);
  EXPECT_EQ(*ParseRecurrenceState("SUGGESTED"), v1::RecurrenceLink::SUGGESTED);
  EXPECT_FALSE(ParseRecurrenceState("state-unspecified").ok());
  EXPECT_FALSE(ParseRecurrenceState("").ok());
}

}  // namespace
}  // namespace deja::cli
