#include "core/stats_validation.h"

#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/validation.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace deja {
namespace {

using ::deja::testing::IsInvalidAt;
using ::deja::testing::IsOk;

using ::testing::HasSubstr;

constexpr char kLater[] = "0b7e5a52-3c1d-4f7a-9a39-1f2e3d4c5b6a";
constexpr char kEarlier[] = "5f0c2d1e-8a9b-4c3d-8e7f-0a1b2c3d4e5f";
constexpr int64_t kJan2024 = 1704067200;  // 2024-01-01T00:00:00Z
constexpr int64_t kWeek = 7 * 86400;

v1::StatsRequest FullStatsRequest() {
  v1::StatsRequest request;
  request.set_team("payments");
  request.set_service("checkout");
  request.mutable_started_after()->set_seconds(kJan2024);
  request.mutable_started_before()->set_seconds(kJan2024 + 90 * 86400);
  request.set_limit(kMaxStatsLimit);
  return request;
}

v1::DecideRecurrenceRequest FullDecision() {
  v1::DecideRecurrenceRequest request;
  request.set_postmortem_id(kLater);
  request.set_earlier_id(kEarlier);
  request.set_decided_by("ana");
  request.set_note("same pool exhaustion");
  return request;
}

// ---- StatsRequest ----

TEST(ValidateStatsRequestTest, AcceptsFullAndEmptyRequests) {
  EXPECT_THAT(ValidateStatsRequest(FullStatsRequest()), IsOk());
  EXPECT_THAT(ValidateStatsRequest(v1::StatsRequest()), IsOk());
}

TEST(ValidateStatsRequestTest, LimitMustBeZeroToOneHundred) {
  v1::StatsRequest request;
  request.set_limit(-1);
  EXPECT_THAT(ValidateStatsRequest(request), IsInvalidAt("limit"));
  request.set_limit(kMaxStatsLimit + 1);
  const absl::Status status = ValidateStatsRequest(request);
  EXPECT_THAT(status, IsInvalidAt("limit"));
  EXPECT_THAT(std::string(status.message()), HasSubstr("not 101"));
  request.set_limit(0);
  EXPECT_THAT(ValidateStatsRequest(request), IsOk());
}

TEST(ValidateStatsRequestTest, ZeroLimitMeansTheDefault) {
  v1::StatsRequest request;
  EXPECT_EQ(StatsLimit(request), kDefaultStatsLimit);
  request.set_limit(1);
  EXPECT_EQ(StatsLimit(request), 1);
  request.set_limit(kMaxStatsLimit);
  EXPECT_EQ(StatsLimit(request), kMaxStatsLimit);
}

TEST(ValidateStatsRequestTest, ReversedOrEmptyWindowIsRejected) {
  v1::StatsRequest request = FullStatsRequest();
  request.mutable_started_before()->set_seconds(kJan2024 - 1);
  EXPECT_THAT(ValidateStatsRequest(request), IsInvalidAt("started_before"));
  // [t, t) holds nothing: also a mistake.
  request.mutable_started_before()->set_seconds(kJan2024);
  EXPECT_THAT(ValidateStatsRequest(request), IsInvalidAt("started_before"));
  // Either bound alone is fine.
  request.clear_started_before();
  EXPECT_THAT(ValidateStatsRequest(request), IsOk());
}

TEST(ValidateStatsRequestTest, TimestampsOutOfRangeAreRejected) {
  v1::StatsRequest request;
  request.mutable_started_after()->set_seconds(-1000LL * 365 * 86400 * 10);
  EXPECT_THAT(ValidateStatsRequest(request), IsInvalidAt("started_after"));
  request.clear_started_after();
  request.mutable_started_before()->set_seconds(kJan2024);
  request.mutable_started_before()->set_nanos(-1);
  EXPECT_THAT(ValidateStatsRequest(request), IsInvalidAt("started_before"));
}

TEST(ValidateStatsRequestTest, TeamAndServiceMustBeOneLineNames) {
  v1::StatsRequest request;
  request.set_team("   ");
  EXPECT_THAT(ValidateStatsRequest(request), IsInvalidAt("team"));
  request.set_team("pay\nments");
  EXPECT_THAT(ValidateStatsRequest(request), IsInvalidAt("team"));
  request.set_team(std::string(kMaxShortText + 1, 'a'));
  EXPECT_THAT(ValidateStatsRequest(request), IsInvalidAt("team"));
  request.set_team("payments");
  request.set_service("bad \xff byte");
  EXPECT_THAT(ValidateStatsRequest(request), IsInvalidAt("service"));
  request.set_service(std::string("nul\0inside", 10));
  EXPECT_THAT(ValidateStatsRequest(request), IsInvalidAt("service"));
}

// ---- TrendRequest ----

TEST(ValidateTrendRequestTest, AcceptsEveryIntervalAndSplit) {
  v1::TrendRequest request;
  EXPECT_THAT(ValidateTrendRequest(request), IsOk());
  request.set_interval(v1::TrendRequest::WEEK);
  for (auto split :
       {v1::TrendRequest::SPLIT_UNSPECIFIED, v1::TrendRequest::SEVERITY,
        v1::TrendRequest::SERVICE, v1::TrendRequest::CAUSE_CATEGORY,
        v1::TrendRequest::TEAM}) {
    request.set_split_by(split);
    EXPECT_THAT(ValidateTrendRequest(request), IsOk()) << split;
  }
}

TEST(ValidateTrendRequestTest, UnknownEnumValuesAreRejected) {
  v1::TrendRequest request;
  request.set_interval(static_cast<v1::TrendRequest::Interval>(7));
  EXPECT_THAT(ValidateTrendRequest(request), IsInvalidAt("interval"));
  request.set_interval(v1::TrendRequest::MONTH);
  request.set_split_by(static_cast<v1::TrendRequest::SplitBy>(99));
  const absl::Status status = ValidateTrendRequest(request);
  EXPECT_THAT(status, IsInvalidAt("split_by"));
  EXPECT_THAT(std::string(status.message()), HasSubstr("99"));
}

TEST(ValidateTrendRequestTest, ExplicitWindowHasAtMostMaxBuckets) {
  v1::TrendRequest request;
  request.set_interval(v1::TrendRequest::WEEK);
  request.mutable_started_after()->set_seconds(kJan2024);  // a Monday
  // [Monday, Monday + 1000 weeks) is exactly 1000 ISO weeks; a second more
  // touches week 1001.
  request.mutable_started_before()->set_seconds(kJan2024 +
                                                kMaxTrendBuckets * kWeek);
  EXPECT_THAT(ValidateTrendRequest(request), IsOk());
  request.mutable_started_before()->set_seconds(kJan2024 +
                                                kMaxTrendBuckets * kWeek + 1);
  EXPECT_THAT(ValidateTrendRequest(request), IsInvalidAt("started_before"));
  // From a Sunday the window touches the week before as well: 999 weeks
  // and a day is 1001 buckets, not 1000.
  request.mutable_started_after()->set_seconds(kJan2024 - 86400);
  request.mutable_started_before()->set_seconds(
      kJan2024 + (kMaxTrendBuckets - 1) * kWeek + 1);
  const absl::Status status = ValidateTrendRequest(request);
  EXPECT_THAT(status, IsInvalidAt("started_before"));
  EXPECT_THAT(std::string(status.message()), HasSubstr("weeks"));
  // The same window in months is about 250 buckets: fine.
  request.set_interval(v1::TrendRequest::MONTH);
  EXPECT_THAT(ValidateTrendRequest(request), IsOk());
}

TEST(ValidateTrendRequestTest, OpenWindowIsNotBoundedHere) {
  // The store keeps the latest buckets of an open window.
  v1::TrendRequest request;
  request.set_interval(v1::TrendRequest::WEEK);
  request.mutable_started_before()->set_seconds(kJan2024);
  EXPECT_THAT(ValidateTrendRequest(request), IsOk());
}

TEST(ValidateTrendRequestTest, FilterIsCheckedLikeStatsRequest) {
  v1::TrendRequest request;
  request.set_team("\t");
  EXPECT_THAT(ValidateTrendRequest(request), IsInvalidAt("team"));
  request.clear_team();
  request.mutable_started_after()->set_seconds(kJan2024);
  request.mutable_started_before()->set_seconds(kJan2024 - kWeek);
  EXPECT_THAT(ValidateTrendRequest(request), IsInvalidAt("started_before"));
}

// ---- ListRecurrencesRequest ----

TEST(ValidateListRecurrencesTest, AcceptsFullAndEmptyRequests) {
  v1::ListRecurrencesRequest request;
  EXPECT_THAT(ValidateListRecurrences(request), IsOk());
  request.set_postmortem_id(kLater);
  request.add_states(v1::RecurrenceLink::SUGGESTED);
  request.add_states(v1::RecurrenceLink::REJECTED);
  request.set_page_size(kMaxRecurrencePageSize);
  request.set_page_token("abc");
  EXPECT_THAT(ValidateListRecurrences(request), IsOk());
}

TEST(ValidateListRecurrencesTest, BadPostmortemIdIsRejected) {
  v1::ListRecurrencesRequest request;
  request.set_postmortem_id("not-a-uuid");
  EXPECT_THAT(ValidateListRecurrences(request), IsInvalidAt("postmortem_id"));
}

TEST(ValidateListRecurrencesTest, StatesMustBeKnownAndSpecified) {
  v1::ListRecurrencesRequest request;
  request.add_states(v1::RecurrenceLink::CONFIRMED);
  request.add_states(v1::RecurrenceLink::STATE_UNSPECIFIED);
  EXPECT_THAT(ValidateListRecurrences(request), IsInvalidAt("states[1]"));
  request.set_states(1, static_cast<v1::RecurrenceLink::State>(42));
  EXPECT_THAT(ValidateListRecurrences(request), IsInvalidAt("states[1]"));
}

TEST(ValidateListRecurrencesTest, PageSizeAndTokenAreBounded) {
  v1::ListRecurrencesRequest request;
  request.set_page_size(-1);
  EXPECT_THAT(ValidateListRecurrences(request), IsInvalidAt("page_size"));
  request.set_page_size(kMaxRecurrencePageSize + 1);
  EXPECT_THAT(ValidateListRecurrences(request), IsInvalidAt("page_size"));
  request.set_page_size(0);
  request.set_page_token(std::string(kMaxPageToken + 1, 'a'));
  EXPECT_THAT(ValidateListRecurrences(request), IsInvalidAt("page_token"));
}

// ---- DecideRecurrenceRequest ----

TEST(ValidateDecideRecurrenceTest, AcceptsAFullDecision) {
  EXPECT_THAT(ValidateDecideRecurrence(FullDecision()), IsOk());
}

TEST(ValidateDecideRecurrenceTest, BothIdsAreRequiredUuids) {
  v1::DecideRecurrenceRequest request = FullDecision();
  request.clear_postmortem_id();
  EXPECT_THAT(ValidateDecideRecurrence(request), IsInvalidAt("postmortem_id"));
  request = FullDecision();
  request.set_earlier_id("1234");
  EXPECT_THAT(ValidateDecideRecurrence(request), IsInvalidAt("earlier_id"));
}

TEST(ValidateDecideRecurrenceTest, AnIncidentCannotRepeatItself) {
  v1::DecideRecurrenceRequest request = FullDecision();
  request.set_earlier_id(kLater);
  EXPECT_THAT(ValidateDecideRecurrence(request), IsInvalidAt("earlier_id"));
  // Ids ignore case, like UUIDs.
  request.set_earlier_id(absl::AsciiStrToUpper(kLater));
  EXPECT_THAT(ValidateDecideRecurrence(request), IsInvalidAt("earlier_id"));
}

TEST(ValidateDecideRecurrenceTest, DecidedByIsRequired) {
  v1::DecideRecurrenceRequest request = FullDecision();
  request.clear_decided_by();
  const absl::Status status = ValidateDecideRecurrence(request);
  EXPECT_THAT(status, IsInvalidAt("decided_by"));
  EXPECT_THAT(std::string(status.message()), HasSubstr("required"));
  request.set_decided_by("ana\x01");
  EXPECT_THAT(ValidateDecideRecurrence(request), IsInvalidAt("decided_by"));
}

TEST(ValidateDecideRecurrenceTest, NoteIsBoundedText) {
  v1::DecideRecurrenceRequest request = FullDecision();
  request.set_note(std::string(kMaxLongText + 1, 'n'));
  EXPECT_THAT(ValidateDecideRecurrence(request), IsInvalidAt("note"));
  request.set_note("bad \xc3 byte");
  EXPECT_THAT(ValidateDecideRecurrence(request), IsInvalidAt("note"));
  request.clear_note();
  EXPECT_THAT(ValidateDecideRecurrence(request), IsOk());
}

}  // namespace
}  // namespace deja
