#include "core/search_validation.h"

#include <string>

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

constexpr char kPostmortemId[] = "0b7e5a52-3c1d-4f7a-9a39-1f2e3d4c5b6a";

v1::SearchRequest FullSearch() {
  v1::SearchRequest request;
  request.set_query("checkout 5xx \"rate limit\" -staging");
  request.add_services("checkout");
  request.add_teams("payments");
  request.add_tags("config");
  request.add_severities(v1::SEV1);
  request.add_severities(v1::SEV5);
  request.add_cause_categories(v1::RootCause::CONFIG_CHANGE);
  request.mutable_started_after()->set_seconds(1600000000);
  request.mutable_started_before()->set_seconds(1700000000);
  request.set_sort(v1::SearchRequest::NEWEST);
  request.set_page_size(100);
  request.set_page_token("abc");
  return request;
}

TEST(ValidateSearchTest, AcceptsFullAndEmptyRequests) {
  EXPECT_THAT(ValidateSearch(FullSearch()), IsOk());
  EXPECT_THAT(ValidateSearch(v1::SearchRequest()), IsOk());
}

TEST(ValidateSearchTest, QueryAtTheLimitIsFineOneMoreByteIsNot) {
  v1::SearchRequest request;
  request.set_query(std::string(kMaxQuery, 'a'));
  EXPECT_THAT(ValidateSearch(request), IsOk());
  request.set_query(std::string(kMaxQuery + 1, 'a'));
  EXPECT_THAT(ValidateSearch(request), IsInvalidAt("query"));
}

TEST(ValidateSearchTest, TenKilobyteQuerySaysTooLong) {
  v1::SearchRequest request;
  request.set_query(std::string(10 * 1024, 'x'));
  const absl::Status status = ValidateSearch(request);
  EXPECT_THAT(status, IsInvalidAt("query"));
  EXPECT_THAT(std::string(status.message()),
              ::testing::HasSubstr("too long (10240 bytes, at most 4096)"));
}

TEST(ValidateSearchTest, RejectsInvalidUtf8AndNul) {
  v1::SearchRequest request;
  request.set_query("bad \xff byte");
  EXPECT_THAT(ValidateSearch(request), IsInvalidAt("query"));
  request.set_query(std::string("nul\0inside", 10));
  EXPECT_THAT(ValidateSearch(request), IsInvalidAt("query"));
  request = FullSearch();
  request.set_services(0, "\xc0\xaf");
  EXPECT_THAT(ValidateSearch(request), IsInvalidAt("services[0]"));
}

TEST(ValidateSearchTest, RejectsBadFilterValues) {
  v1::SearchRequest request = FullSearch();
  request.add_teams("");
  EXPECT_THAT(ValidateSearch(request), IsInvalidAt("teams[1]"));
  request = FullSearch();
  request.add_tags(std::string(kMaxShortText + 1, 't'));
  EXPECT_THAT(ValidateSearch(request), IsInvalidAt("tags[1]"));
  request = FullSearch();
  request.add_services("two\nlines");
  EXPECT_THAT(ValidateSearch(request), IsInvalidAt("services[1]"));
  request = FullSearch();
  for (size_t i = 0; i <= kMaxListItems; ++i) request.add_services("s");
  EXPECT_THAT(ValidateSearch(request), IsInvalidAt("services"));
}

TEST(ValidateSearchTest, RejectsUnknownEnums) {
  v1::SearchRequest request = FullSearch();
  request.add_severities(static_cast<v1::Severity>(9));
  EXPECT_THAT(ValidateSearch(request), IsInvalidAt("severities[2]"));
  request = FullSearch();
  request.add_severities(v1::SEVERITY_UNSPECIFIED);
  EXPECT_THAT(ValidateSearch(request), IsInvalidAt("severities[2]"));
  request = FullSearch();
  request.add_cause_categories(static_cast<v1::RootCause::Category>(99));
  EXPECT_THAT(ValidateSearch(request), IsInvalidAt("cause_categories[1]"));
  request = FullSearch();
  request.set_sort(static_cast<v1::SearchRequest::Sort>(7));
  EXPECT_THAT(ValidateSearch(request), IsInvalidAt("sort"));
}

TEST(ValidateSearchTest, RejectsBadOrUnorderedTimes) {
  v1::SearchRequest request = FullSearch();
  request.mutable_started_after()->set_nanos(-1);
  EXPECT_THAT(ValidateSearch(request), IsInvalidAt("started_after"));
  request = FullSearch();
  request.mutable_started_before()->set_seconds(300000000000);
  EXPECT_THAT(ValidateSearch(request), IsInvalidAt("started_before"));
  request = FullSearch();
  request.mutable_started_before()->set_seconds(1600000000);
  EXPECT_THAT(ValidateSearch(request), IsInvalidAt("started_before"));
  request.clear_started_after();
  EXPECT_THAT(ValidateSearch(request), IsOk());
}

TEST(ValidateSearchTest, PageSizeIsZeroToHundred) {
  v1::SearchRequest request;
  request.set_page_size(0);
  EXPECT_THAT(ValidateSearch(request), IsOk());
  request.set_page_size(101);
  EXPECT_THAT(ValidateSearch(request), IsInvalidAt("page_size"));
  request.set_page_size(-1);
  EXPECT_THAT(ValidateSearch(request), IsInvalidAt("page_size"));
  request.set_page_size(1);
  request.set_page_token(std::string(kMaxPageToken + 1, 'p'));
  EXPECT_THAT(ValidateSearch(request), IsInvalidAt("page_token"));
}

v1::FindSimilarRequest Similar() {
  v1::FindSimilarRequest request;
  request.set_symptoms("checkout returns 503, pods OOMKilled");
  request.add_log_lines("java.lang.OutOfMemoryError: Java heap space");
  request.add_services("checkout");
  request.mutable_started_before()->set_seconds(1700000000);
  request.set_limit(50);
  return request;
}

TEST(ValidateFindSimilarTest, AcceptsDescriptions) {
  EXPECT_THAT(ValidateFindSimilar(Similar()), IsOk());
  v1::FindSimilarRequest only_logs;
  only_logs.add_log_lines("connection refused");
  EXPECT_THAT(ValidateFindSimilar(only_logs), IsOk());
  v1::FindSimilarRequest like;
  like.set_postmortem_id(kPostmortemId);
  like.set_limit(3);
  EXPECT_THAT(ValidateFindSimilar(like), IsOk());
}

TEST(ValidateFindSimilarTest, NeedsSomethingToMatch) {
  v1::FindSimilarRequest request;
  EXPECT_THAT(ValidateFindSimilar(request), IsInvalidAt("symptoms"));
  request.set_symptoms("   ");
  request.add_log_lines("");
  request.add_services("checkout");
  EXPECT_THAT(ValidateFindSimilar(request), IsInvalidAt("symptoms"));
}

TEST(ValidateFindSimilarTest, PostmortemIdExcludesTheRest) {
  v1::FindSimilarRequest request = Similar();
  request.set_postmortem_id(kPostmortemId);
  EXPECT_THAT(ValidateFindSimilar(request), IsInvalidAt("postmortem_id"));
  request = v1::FindSimilarRequest();
  request.set_postmortem_id(kPostmortemId);
  request.add_services("checkout");
  EXPECT_THAT(ValidateFindSimilar(request), IsInvalidAt("postmortem_id"));
  request.clear_services();
  request.set_postmortem_id("not-a-uuid");
  EXPECT_THAT(ValidateFindSimilar(request), IsInvalidAt("postmortem_id"));
}

TEST(ValidateFindSimilarTest, LimitIsZeroToFifty) {
  v1::FindSimilarRequest request = Similar();
  request.set_limit(0);
  EXPECT_THAT(ValidateFindSimilar(request), IsOk());
  request.set_limit(51);
  EXPECT_THAT(ValidateFindSimilar(request), IsInvalidAt("limit"));
  request.set_limit(-5);
  EXPECT_THAT(ValidateFindSimilar(request), IsInvalidAt("limit"));
}

TEST(ValidateFindSimilarTest, TextLimitsAndUtf8) {
  v1::FindSimilarRequest request = Similar();
  request.add_log_lines(std::string(kMaxLogLine + 1, 'l'));
  EXPECT_THAT(ValidateFindSimilar(request), IsInvalidAt("log_lines[1]"));
  request = Similar();
  request.add_log_lines("bad \xfe");
  EXPECT_THAT(ValidateFindSimilar(request), IsInvalidAt("log_lines[1]"));
  request = Similar();
  request.set_symptoms(std::string(kMaxSymptoms + 1, 's'));
  EXPECT_THAT(ValidateFindSimilar(request), IsInvalidAt("symptoms"));
  request = Similar();
  request.set_symptoms("\xed\xa0\x80");  // a UTF-16 surrogate
  EXPECT_THAT(ValidateFindSimilar(request), IsInvalidAt("symptoms"));
  request = Similar();
  request.add_services("");
  EXPECT_THAT(ValidateFindSimilar(request), IsInvalidAt("services[1]"));
  request = Similar();
  for (size_t i = 0; i <= kMaxListItems; ++i) request.add_log_lines("x");
  EXPECT_THAT(ValidateFindSimilar(request), IsInvalidAt("log_lines"));
  request = Similar();
  request.mutable_started_before()->set_seconds(-3000000000);
  EXPECT_THAT(ValidateFindSimilar(request), IsInvalidAt("started_before"));
}

TEST(ValidateFindSimilarTest, LogLinesTogetherAreAtMost64KiB) {
  // Every line within its own limit, 200 of them over the total.
  v1::FindSimilarRequest request = Similar();
  request.clear_log_lines();
  for (size_t i = 0; i < kMaxListItems; ++i) {
    request.add_log_lines(std::string(kMaxLogLine, 'l'));
  }
  const absl::Status status = ValidateFindSimilar(request);
  EXPECT_THAT(status, IsInvalidAt("log_lines"));
  EXPECT_THAT(std::string(status.message()),
              ::testing::HasSubstr(absl::StrCat(kMaxListItems * kMaxLogLine,
                                                " bytes, at most 65536")));

  // Exactly at the total is fine.
  request.clear_log_lines();
  for (size_t i = 0; i < kMaxLogLinesTotal / kMaxLogLine; ++i) {
    request.add_log_lines(std::string(kMaxLogLine, 'l'));
  }
  EXPECT_THAT(ValidateFindSimilar(request), IsOk());
  request.add_log_lines("l");
  EXPECT_THAT(ValidateFindSimilar(request), IsInvalidAt("log_lines"));
}

}  // namespace
}  // namespace deja
