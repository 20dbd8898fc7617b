#include "core/validation.h"

#include <functional>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace deja {
namespace {

using ::deja::testing::IsInvalidAt;
using ::deja::testing::IsOk;

using ::testing::IsEmpty;

constexpr char kPostmortemId[] = "0b7e5a52-3c1d-4f7a-9a39-1f2e3d4c5b6a";
constexpr char kActionItemId[] = "9F1C2D3E-4B5A-4C6D-8E7F-0A1B2C3D4E5F";

google::protobuf::Timestamp At(int64_t seconds) {
  google::protobuf::Timestamp time;
  time.set_seconds(seconds);
  return time;
}

// A postmortem that passes every rule; each test breaks one thing.
v1::Postmortem ValidPostmortem() {
  v1::Postmortem pm;
  pm.set_team("payments-oncall");
  pm.set_title("Checkout 5xx after rate-limit config push");
  pm.set_summary("A config push halved the rate limit; checkout failed.");
  pm.set_severity(v1::SEV2);
  *pm.mutable_started_at() = At(1700000000);
  *pm.mutable_detected_at() = At(1700000300);
  *pm.mutable_mitigated_at() = At(1700001200);
  *pm.mutable_resolved_at() = At(1700003600);
  pm.add_services("checkout");
  pm.add_services("rate-limiter");
  pm.add_tags("config");
  pm.mutable_impact()->set_description("12% of checkouts failed");
  pm.mutable_impact()->mutable_duration()->set_seconds(1200);
  pm.mutable_detection()->set_source(v1::Detection::ALERT);
  auto* event = pm.add_timeline();
  *event->mutable_at() = At(1700000000);
  event->set_description("Config pushed");
  auto* why = pm.add_whys();
  why->set_question("Why did checkout fail?");
  why->set_answer("The limiter rejected requests.");
  pm.add_root_causes()->set_category(v1::RootCause::CONFIG_CHANGE);
  for (const char* owner : {"alice", "SRE team", "payments-oncall"}) {
    auto* item = pm.add_action_items();
    item->set_description("Validate rate-limit configs before rollout");
    item->set_owner(owner);
    item->set_due_date("2024-02-29");
    item->set_status(v1::ActionItem::OPEN);
    item->set_kind(v1::ActionItem::PREVENT);
    item->set_tracker_url("https://tracker.example.com/PAY-12");
  }
  auto* facilitator = pm.add_participants();
  facilitator->set_name("Dana");
  facilitator->set_role("facilitator");
  facilitator->set_facilitator(true);
  pm.add_participants()->set_name("Lee");
  pm.add_log_lines("ERROR rate limit exceeded for client 10.0.0.7");
  auto* link = pm.add_links();
  link->set_title("Dashboard");
  link->set_url("http://grafana.example.com/d/checkout");
  pm.add_recurrence_of(kPostmortemId);
  pm.set_source_url("https://wiki.example.com/pm/42");
  pm.mutable_lessons()->add_went_well("Alert fired within 5 minutes");
  return pm;
}

TEST(ValidatePostmortemTest, AcceptsBaseline) {
  EXPECT_THAT(ValidatePostmortem(ValidPostmortem()), IsOk());
}

TEST(ValidatePostmortemTest, AcceptsUnspecifiedStatusesAndOptionalParts) {
  v1::Postmortem pm = ValidPostmortem();
  pm.set_status(v1::Postmortem::STATUS_UNSPECIFIED);
  pm.mutable_action_items(0)->set_status(v1::ActionItem::STATUS_UNSPECIFIED);
  pm.mutable_action_items(0)->clear_due_date();
  pm.mutable_action_items(0)->clear_tracker_url();
  pm.clear_detected_at();
  pm.clear_mitigated_at();
  pm.clear_resolved_at();
  EXPECT_THAT(ValidatePostmortem(pm), IsOk());
}

TEST(ValidatePostmortemTest, IgnoresOutputOnlyFields) {
  v1::Postmortem pm = ValidPostmortem();
  pm.set_id("not-a-uuid\xff");
  pm.set_version(-3);
  pm.mutable_created_at()->set_seconds(-(int64_t{1} << 60));
  auto* change = pm.mutable_action_items(0)->add_history();
  change->set_old_value(std::string("a\0b", 3));
  EXPECT_THAT(ValidatePostmortem(pm), IsOk());
}

TEST(ValidatePostmortemTest, UsesThePathPrefix) {
  v1::Postmortem pm = ValidPostmortem();
  pm.clear_team();
  EXPECT_THAT(ValidatePostmortem(pm, "draft"), IsInvalidAt("draft.team"));
}

struct BrokenCase {
  std::string name;
  std::function<void(v1::Postmortem&)> mutate;
  std::string path;
};

// Names the case instead of dumping its bytes in test names and failures.
void PrintTo(const BrokenCase& broken, std::ostream* out) {
  *out << broken.name;
}

class BrokenPostmortemTest : public ::testing::TestWithParam<BrokenCase> {};

TEST_P(BrokenPostmortemTest, RejectedNamingTheField) {
  v1::Postmortem pm = ValidPostmortem();
  GetParam().mutate(pm);
  EXPECT_THAT(ValidatePostmortem(pm), IsInvalidAt(GetParam().path));
}

std::vector<BrokenCase> BrokenCases() {
  using PM = v1::Postmortem;
  return {
      // Required fields.
      {"MissingTeam", [](PM& pm) { pm.clear_team(); }, "postmortem.team"},
      {"BlankTitle", [](PM& pm) { pm.set_title(" \t "); }, "postmortem.title"},
      {"MissingSummary", [](PM& pm) { pm.clear_summary(); },
       "postmortem.summary"},
      {"MissingSeverity", [](PM& pm) { pm.clear_severity(); },
       "postmortem.severity"},
      {"MissingStartedAt", [](PM& pm) { pm.clear_started_at(); },
       "postmortem.started_at"},
      {"NoServices", [](PM& pm) { pm.clear_services(); },
       "postmortem.services"},
      {"BlankService", [](PM& pm) { pm.set_services(1, "  "); },
       "postmortem.services[1]"},
      {"ServiceWithNewline", [](PM& pm) { pm.set_services(0, "a\nb"); },
       "postmortem.services[0]"},
      {"TagWithTab", [](PM& pm) { pm.add_tags("db\tpool"); },
       "postmortem.tags[1]"},
      // Time order and validity.
      {"DetectedBeforeStart",
       [](PM& pm) { *pm.mutable_detected_at() = At(1699999999); },
       "postmortem.detected_at"},
      {"MitigatedBeforeStart",
       [](PM& pm) { *pm.mutable_mitigated_at() = At(1600000000); },
       "postmortem.mitigated_at"},
      {"ResolvedBeforeStart",
       [](PM& pm) {
         pm.clear_mitigated_at();
         *pm.mutable_resolved_at() = At(1600000000);
       },
       "postmortem.resolved_at"},
      {"ResolvedBeforeMitigated",
       [](PM& pm) { *pm.mutable_resolved_at() = At(1700000600); },
       "postmortem.resolved_at"},
      {"StartedAfterYear9999",
       [](PM& pm) { pm.mutable_started_at()->set_seconds(253402300800); },
       "postmortem.started_at"},
      {"StartedBefore1900",
       [](PM& pm) { pm.mutable_started_at()->set_seconds(-2208988801); },
       "postmortem.started_at"},
      {"TimelineTimeBeforeYear1900",
       [](PM& pm) {
         pm.mutable_timeline(0)->mutable_at()->set_seconds(-2208988801);
       },
       "postmortem.timeline[0].at"},
      {"NegativeUsersAffected",
       [](PM& pm) { pm.mutable_impact()->set_users_affected(-1); },
       "postmortem.impact.users_affected"},
      {"NanosOutOfRange",
       [](PM& pm) { pm.mutable_detected_at()->set_nanos(1000000000); },
       "postmortem.detected_at"},
      {"TimelineTimeBeforeYear1",
       [](PM& pm) {
         pm.mutable_timeline(0)->mutable_at()->set_seconds(-(int64_t{1} << 40));
       },
       "postmortem.timeline[0].at"},
      {"NegativeImpactDuration",
       [](PM& pm) { pm.mutable_impact()->mutable_duration()->set_seconds(-5); },
       "postmortem.impact.duration"},
      // Action items.
      {"ActionItemWithoutOwner",
       [](PM& pm) { pm.mutable_action_items(2)->clear_owner(); },
       "postmortem.action_items[2].owner"},
      {"ActionItemWithoutDescription",
       [](PM& pm) { pm.mutable_action_items(1)->set_description(" "); },
       "postmortem.action_items[1].description"},
      {"OwnersWithComma",
       [](PM& pm) { pm.mutable_action_items(1)->set_owner("alice, bob"); },
       "postmortem.action_items[1].owner"},
      {"OwnersWithAnd",
       [](PM& pm) { pm.mutable_action_items(1)->set_owner("alice and bob"); },
       "postmortem.action_items[1].owner"},
      {"OwnersWithSlash",
       [](PM& pm) { pm.mutable_action_items(0)->set_owner("alice/bob"); },
       "postmortem.action_items[0].owner"},
      {"OwnersWithAmpersand",
       [](PM& pm) { pm.mutable_action_items(0)->set_owner("alice & bob"); },
       "postmortem.action_items[0].owner"},
      {"TwoMentions",
       [](PM& pm) { pm.mutable_action_items(0)->set_owner("@a @b"); },
       "postmortem.action_items[0].owner"},
      {"DueDateNotADate",
       [](PM& pm) { pm.mutable_action_items(0)->set_due_date("next week"); },
       "postmortem.action_items[0].due_date"},
      {"DueDateFebruary30",
       [](PM& pm) { pm.mutable_action_items(0)->set_due_date("2024-02-30"); },
       "postmortem.action_items[0].due_date"},
      {"DueDateNotLeapYear",
       [](PM& pm) { pm.mutable_action_items(0)->set_due_date("2023-02-29"); },
       "postmortem.action_items[0].due_date"},
      {"TrackerUrlNotHttp",
       [](PM& pm) {
         pm.mutable_action_items(0)->set_tracker_url("javascript:alert(1)");
       },
       "postmortem.action_items[0].tracker_url"},
      {"ActionItemUnknownStatus",
       [](PM& pm) {
         pm.mutable_action_items(1)->set_status(
             static_cast<v1::ActionItem::Status>(42));
       },
       "postmortem.action_items[1].status"},
      // Other parts.
      {"TwoFacilitators",
       [](PM& pm) { pm.mutable_participants(1)->set_facilitator(true); },
       "postmortem.participants[1].facilitator"},
      {"LinkUrlWithoutHost",
       [](PM& pm) { pm.mutable_links(0)->set_url("https:///path"); },
       "postmortem.links[0].url"},
      {"SourceUrlFtp",
       [](PM& pm) { pm.set_source_url("ftp://example.com/pm"); },
       "postmortem.source_url"},
      {"RecurrenceOfNotUuid", [](PM& pm) { pm.add_recurrence_of("PM-42"); },
       "postmortem.recurrence_of[1]"},
      // Unknown enum values, which proto3 keeps.
      {"UnknownSeverity",
       [](PM& pm) { pm.set_severity(static_cast<v1::Severity>(9)); },
       "postmortem.severity"},
      {"UnknownStatus",
       [](PM& pm) { pm.set_status(static_cast<PM::Status>(-1)); },
       "postmortem.status"},
      {"UnknownDetectionSource",
       [](PM& pm) {
         pm.mutable_detection()->set_source(
             static_cast<v1::Detection::Source>(77));
       },
       "postmortem.detection.source"},
      {"UnknownRootCauseCategory",
       [](PM& pm) {
         pm.add_root_causes()->set_category(
             static_cast<v1::RootCause::Category>(12));
       },
       "postmortem.root_causes[1].category"},
      // Text: UTF-8, NUL, sizes, list lengths, anywhere in the message.
      {"TitleInvalidUtf8", [](PM& pm) { pm.set_title("bad \xc3\x28 title"); },
       "postmortem.title"},
      {"OwnerWithNul",
       [](PM& pm) {
         pm.mutable_action_items(2)->set_owner(std::string("al\0ice", 6));
       },
       "postmortem.action_items[2].owner"},
      {"WhyAnswerOverlongUtf8",
       [](PM& pm) { pm.mutable_whys(0)->set_answer("\xc0\xaf"); },
       "postmortem.whys[0].answer"},
      {"LessonSurrogate",
       [](PM& pm) { pm.mutable_lessons()->add_went_wrong("\xed\xa0\x80"); },
       "postmortem.lessons.went_wrong[0]"},
      {"ImpactDescriptionNul",
       [](PM& pm) {
         pm.mutable_impact()->set_description(std::string("x\0", 2));
       },
       "postmortem.impact.description"},
      {"TitleTooLong",
       [](PM& pm) { pm.set_title(std::string(kMaxTitle + 1, 't')); },
       "postmortem.title"},
      {"TeamTooLong",
       [](PM& pm) { pm.set_team(std::string(kMaxShortText + 1, 't')); },
       "postmortem.team"},
      {"LogLineTooLong",
       [](PM& pm) { pm.add_log_lines(std::string(kMaxLogLine + 1, 'x')); },
       "postmortem.log_lines[1]"},
      {"SummaryTooLong",
       [](PM& pm) { pm.set_summary(std::string(kMaxLongText + 1, 's')); },
       "postmortem.summary"},
      {"ParticipantRoleTooLong",
       [](PM& pm) {
         pm.mutable_participants(0)->set_role(
             std::string(kMaxShortText + 1, 'r'));
       },
       "postmortem.participants[0].role"},
      {"TimelineDescriptionTooLong",
       [](PM& pm) {
         pm.mutable_timeline(0)->set_description(
             std::string(kMaxLongText + 1, 'd'));
       },
       "postmortem.timeline[0].description"},
      {"TooManyTags",
       [](PM& pm) {
         for (size_t i = 0; i < kMaxListItems; ++i) pm.add_tags("t");
       },
       "postmortem.tags"},
      {"TooManyTimelineEvents",
       [](PM& pm) {
         for (size_t i = 0; i < kMaxListItems; ++i) pm.add_timeline();
       },
       "postmortem.timeline"},
  };
}

INSTANTIATE_TEST_SUITE_P(Rules, BrokenPostmortemTest,
                         ::testing::ValuesIn(BrokenCases()),
                         [](const auto& test_case) {
                           return test_case.param.name;
                         });

TEST(ValidatePostmortemTest, SeveralOwnersMessageQuotesTheOwner) {
  v1::Postmortem pm = ValidPostmortem();
  pm.mutable_action_items(1)->set_owner("alice, bob");
  EXPECT_EQ(ValidatePostmortem(pm).message(),
            "postmortem.action_items[1].owner: exactly one owner, got several "
            "(\"alice, bob\")");
}

TEST(ValidatePostmortemTest, MissingOwnerMessage) {
  v1::Postmortem pm = ValidPostmortem();
  pm.mutable_action_items(2)->clear_owner();
  EXPECT_EQ(ValidatePostmortem(pm).message(),
            "postmortem.action_items[2].owner: required");
}

TEST(ValidatePostmortemTest, UnknownEnumMessageNamesTheValue) {
  v1::Postmortem pm = ValidPostmortem();
  pm.set_severity(static_cast<v1::Severity>(9));
  EXPECT_EQ(ValidatePostmortem(pm).message(),
            "postmortem.severity: unknown value 9");
}

TEST(ValidatePostmortemTest, ListAtTheLimitIsAccepted) {
  v1::Postmortem pm = ValidPostmortem();
  pm.clear_log_lines();
  for (size_t i = 0; i < kMaxListItems; ++i) pm.add_log_lines("line");
  pm.set_title(std::string(kMaxTitle, 't'));
  EXPECT_THAT(ValidatePostmortem(pm), IsOk());
}

TEST(NamesSeveralOwnersTest, TellsListsFromSingleOwners) {
  for (const char* several :
       {"alice, bob", "alice and bob", "alice/bob", "alice & bob", "@a @b",
        "alice; bob", "alice or bob", "a@example.com b@example.com"}) {
    EXPECT_TRUE(NamesSeveralOwners(several)) << several;
  }
  for (const char* one : {"alice", "payments-oncall", "SRE team", "@alice",
                          "alice+oncall@example.com", "Brandon"}) {
    EXPECT_FALSE(NamesSeveralOwners(one)) << one;
  }
}

TEST(IsCalendarDateTest, AcceptsRealDatesOnly) {
  EXPECT_TRUE(IsCalendarDate("2024-02-29"));
  EXPECT_TRUE(IsCalendarDate("2000-02-29"));
  EXPECT_TRUE(IsCalendarDate("2024-12-31"));
  EXPECT_FALSE(IsCalendarDate("1900-02-29"));
  EXPECT_FALSE(IsCalendarDate("2024-04-31"));
  EXPECT_FALSE(IsCalendarDate("2024-13-01"));
  EXPECT_FALSE(IsCalendarDate("2024-00-10"));
  EXPECT_FALSE(IsCalendarDate("0000-01-01"));
  EXPECT_FALSE(IsCalendarDate("2024-1-01"));
  EXPECT_FALSE(IsCalendarDate("2024/01/01"));
  EXPECT_FALSE(IsCalendarDate("2024-01-01T00"));
  EXPECT_FALSE(IsCalendarDate(""));
}

TEST(IsUuidTest, AcceptsEitherCase) {
  EXPECT_TRUE(IsUuid(kPostmortemId));
  EXPECT_TRUE(IsUuid(kActionItemId));
  EXPECT_FALSE(IsUuid("0b7e5a52-3c1d-4f7a-9a39-1f2e3d4c5b6"));
  EXPECT_FALSE(IsUuid("0b7e5a52x3c1d-4f7a-9a39-1f2e3d4c5b6a"));
  EXPECT_FALSE(IsUuid("0b7e5a52-3c1d-4f7a-9a39-1f2e3d4c5b6g"));
  EXPECT_FALSE(IsUuid("{0b7e5a52-3c1d-4f7a-9a39-1f2e3d4c5b6}"));
}

TEST(IsCleanUtf8Test, StrictDecoding) {
  EXPECT_TRUE(IsCleanUtf8(""));
  EXPECT_TRUE(IsCleanUtf8("plain ascii"));
  EXPECT_TRUE(IsCleanUtf8("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\xa5"));
  EXPECT_TRUE(IsCleanUtf8("\xf4\x8f\xbf\xbf"));  // U+10FFFF
  EXPECT_FALSE(IsCleanUtf8(std::string("a\0b", 3)));
  EXPECT_FALSE(IsCleanUtf8("\xc0\x80"));          // overlong NUL
  EXPECT_FALSE(IsCleanUtf8("\xe0\x80\xaf"));      // overlong '/'
  EXPECT_FALSE(IsCleanUtf8("\xf0\x82\x82\xac"));  // overlong euro sign
  EXPECT_FALSE(IsCleanUtf8("\xed\xbf\xbf"));      // surrogate U+DFFF
  EXPECT_FALSE(IsCleanUtf8("\xf4\x90\x80\x80"));  // U+110000
  EXPECT_FALSE(IsCleanUtf8("\xf8\x88\x80\x80\x80"));
  EXPECT_FALSE(IsCleanUtf8("\x80"));      // lone continuation
  EXPECT_FALSE(IsCleanUtf8("\xe2\x82"));  // truncated
  EXPECT_FALSE(IsCleanUtf8("\xff\xfe"));
}

v1::SubmitPostmortemRequest ValidSubmit() {
  v1::SubmitPostmortemRequest request;
  *request.mutable_postmortem() = ValidPostmortem();
  request.set_request_id("import-2024-02-01/pm-42");
  return request;
}

TEST(ValidateSubmitTest, AcceptsBaseline) {
  EXPECT_THAT(ValidateSubmit(ValidSubmit()), IsOk());
}

TEST(ValidateSubmitTest, RequiresPostmortem) {
  v1::SubmitPostmortemRequest request = ValidSubmit();
  request.clear_postmortem();
  EXPECT_EQ(ValidateSubmit(request).message(), "postmortem: required");
}

TEST(ValidateSubmitTest, ChecksRequestId) {
  v1::SubmitPostmortemRequest request = ValidSubmit();
  request.set_request_id(std::string(kMaxRequestId + 1, 'r'));
  EXPECT_THAT(ValidateSubmit(request), IsInvalidAt("request_id"));
  request.set_request_id("caf\xc3\xa9");
  EXPECT_THAT(ValidateSubmit(request), IsInvalidAt("request_id"));
  request.set_request_id("tab\there");
  EXPECT_THAT(ValidateSubmit(request), IsInvalidAt("request_id"));
}

TEST(ValidateSubmitTest, ValidatesThePostmortemUnderItsField) {
  v1::SubmitPostmortemRequest request = ValidSubmit();
  request.mutable_postmortem()->mutable_action_items(2)->clear_owner();
  EXPECT_EQ(ValidateSubmit(request).message(),
            "postmortem.action_items[2].owner: required");
}

TEST(ValidateGetTest, RequiresUuid) {
  v1::GetPostmortemRequest request;
  EXPECT_THAT(ValidateGet(request), IsInvalidAt("id"));
  request.set_id("42");
  EXPECT_EQ(ValidateGet(request).message(), "id: not a valid postmortem id");
  request.set_id(kPostmortemId);
  EXPECT_THAT(ValidateGet(request), IsOk());
}

TEST(ValidateDeleteTest, RequiresUuidAndNonNegativeVersion) {
  v1::DeletePostmortemRequest request;
  EXPECT_THAT(ValidateDelete(request), IsInvalidAt("id"));
  request.set_id("' OR 1=1 --");
  EXPECT_EQ(ValidateDelete(request).message(), "id: not a valid postmortem id");
  request.set_id(kPostmortemId);
  EXPECT_THAT(ValidateDelete(request), IsOk());
  request.set_expected_version(-1);
  EXPECT_THAT(ValidateDelete(request), IsInvalidAt("expected_version"));
  request.set_expected_version(3);
  EXPECT_THAT(ValidateDelete(request), IsOk());
}

TEST(ValidateListTest, AcceptsFilters) {
  v1::ListPostmortemsRequest request;
  EXPECT_THAT(ValidateList(request), IsOk());
  request.set_team("payments-oncall");
  request.set_service("checkout");
  request.set_severity(v1::SEV1);
  request.set_tag("config");
  *request.mutable_started_after() = At(1600000000);
  *request.mutable_started_before() = At(1700000000);
  request.set_page_size(kMaxPageSize);
  request.set_page_token("opaque-token");
  EXPECT_THAT(ValidateList(request), IsOk());
}

TEST(ValidateListTest, RejectsBadFilters) {
  v1::ListPostmortemsRequest request;
  request.set_page_size(-1);
  EXPECT_THAT(ValidateList(request), IsInvalidAt("page_size"));
  request.set_page_size(kMaxPageSize + 1);
  EXPECT_THAT(ValidateList(request), IsInvalidAt("page_size"));
  request.clear_page_size();

  request.set_severity(static_cast<v1::Severity>(6));
  EXPECT_EQ(ValidateList(request).message(), "severity: unknown value 6");
  request.clear_severity();

  request.set_team("pay\xffments");
  EXPECT_THAT(ValidateList(request), IsInvalidAt("team"));
  request.clear_team();
  request.set_tag(std::string("a\0", 2));
  EXPECT_THAT(ValidateList(request), IsInvalidAt("tag"));
  request.clear_tag();
  request.set_service(std::string(kMaxShortText + 1, 's'));
  EXPECT_THAT(ValidateList(request), IsInvalidAt("service"));
  request.clear_service();

  *request.mutable_started_after() = At(1700000000);
  *request.mutable_started_before() = At(1600000000);
  EXPECT_THAT(ValidateList(request), IsInvalidAt("started_before"));
}

TEST(ValidatePostmortemTest, TimesOutside1900To9999AreOutOfRange) {
  v1::Postmortem pm = ValidPostmortem();
  pm.clear_detected_at();
  pm.clear_mitigated_at();
  pm.clear_resolved_at();
  pm.clear_timeline();
  // Year 12 would be written "12-01-02..." without padding, which PostgreSQL
  // reads as 2012 or 2002.
  pm.mutable_started_at()->set_seconds(-61788441600);  // 0012-01-02
  EXPECT_EQ(ValidatePostmortem(pm).message(),
            "postmortem.started_at: out of range (1900..9999)");
  pm.mutable_started_at()->set_seconds(-2208988800);  // 1900-01-01T00:00:00Z
  EXPECT_THAT(ValidatePostmortem(pm), IsOk());
  pm.mutable_started_at()->set_seconds(253402300799);  // 9999-12-31T23:59:59Z
  pm.mutable_started_at()->set_nanos(999999999);
  EXPECT_THAT(ValidatePostmortem(pm), IsOk());
  pm.mutable_started_at()->set_seconds(253402300800);
  pm.mutable_started_at()->set_nanos(0);
  EXPECT_EQ(ValidatePostmortem(pm).message(),
            "postmortem.started_at: out of range (1900..9999)");
}

TEST(ValidatePostmortemTest, NegativeUsersAffectedIsNamed) {
  v1::Postmortem pm = ValidPostmortem();
  pm.mutable_impact()->set_users_affected(-5);
  EXPECT_EQ(ValidatePostmortem(pm).message(),
            "postmortem.impact.users_affected: must not be negative");
  pm.mutable_impact()->set_users_affected(0);
  EXPECT_THAT(ValidatePostmortem(pm), IsOk());
}

TEST(ValidateListTest, TimeFiltersOutside1900To9999AreOutOfRange) {
  v1::ListPostmortemsRequest request;
  *request.mutable_started_after() = At(-2208988801);
  EXPECT_EQ(ValidateList(request).message(),
            "started_after: out of range (1900..9999)");
  *request.mutable_started_after() = At(-2208988800);
  EXPECT_THAT(ValidateList(request), IsOk());
  request.clear_started_after();
  *request.mutable_started_before() = At(253402300800);
  EXPECT_EQ(ValidateList(request).message(),
            "started_before: out of range (1900..9999)");
}

v1::UpdatePostmortemRequest ValidUpdate() {
  v1::UpdatePostmortemRequest request;
  *request.mutable_postmortem() = ValidPostmortem();
  request.mutable_postmortem()->set_id(kPostmortemId);
  request.set_expected_version(2);
  return request;
}

TEST(ValidateUpdateTest, AcceptsBaseline) {
  EXPECT_THAT(ValidateUpdate(ValidUpdate()), IsOk());
}

TEST(ValidateUpdateTest, RequiresIdAndVersion) {
  v1::UpdatePostmortemRequest request = ValidUpdate();
  request.mutable_postmortem()->clear_id();
  EXPECT_THAT(ValidateUpdate(request), IsInvalidAt("postmortem.id"));
  request.mutable_postmortem()->set_id("pm-1");
  EXPECT_EQ(ValidateUpdate(request).message(),
            "postmortem.id: not a valid postmortem id");

  request = ValidUpdate();
  request.set_expected_version(0);
  EXPECT_EQ(ValidateUpdate(request).message(),
            "expected_version: required (the version you read)");

  request = ValidUpdate();
  request.clear_postmortem();
  EXPECT_THAT(ValidateUpdate(request), IsInvalidAt("postmortem"));
}

TEST(ValidateUpdateTest, ValidatesTheNewContent) {
  v1::UpdatePostmortemRequest request = ValidUpdate();
  request.mutable_postmortem()->clear_title();
  EXPECT_THAT(ValidateUpdate(request), IsInvalidAt("postmortem.title"));
}

v1::UpdateActionItemRequest ValidActionItemUpdate() {
  v1::UpdateActionItemRequest request;
  request.set_postmortem_id(kPostmortemId);
  request.set_action_item_id(kActionItemId);
  request.set_status(v1::ActionItem::DONE);
  return request;
}

TEST(ValidateUpdateActionItemTest, AcceptsEachChange) {
  EXPECT_THAT(ValidateUpdateActionItem(ValidActionItemUpdate()), IsOk());
  v1::UpdateActionItemRequest request = ValidActionItemUpdate();
  request.clear_status();
  request.set_owner("SRE team");
  EXPECT_THAT(ValidateUpdateActionItem(request), IsOk());
  request.clear_owner();
  request.set_due_date("");  // clears the date
  EXPECT_THAT(ValidateUpdateActionItem(request), IsOk());
  request.set_due_date("2025-01-31");
  EXPECT_THAT(ValidateUpdateActionItem(request), IsOk());
}

TEST(ValidateUpdateActionItemTest, RequiresIds) {
  v1::UpdateActionItemRequest request = ValidActionItemUpdate();
  request.clear_postmortem_id();
  EXPECT_THAT(ValidateUpdateActionItem(request), IsInvalidAt("postmortem_id"));
  request = ValidActionItemUpdate();
  request.set_action_item_id("1");
  EXPECT_THAT(ValidateUpdateActionItem(request), IsInvalidAt("action_item_id"));
}

TEST(ValidateUpdateActionItemTest, RequiresSomethingToChange) {
  v1::UpdateActionItemRequest request = ValidActionItemUpdate();
  request.clear_status();
  const absl::Status status = ValidateUpdateActionItem(request);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(),
            "nothing to change: set status, owner or due_date");
}

TEST(ValidateUpdateActionItemTest, RejectsBadValues) {
  v1::UpdateActionItemRequest request = ValidActionItemUpdate();
  request.set_status(v1::ActionItem::STATUS_UNSPECIFIED);
  EXPECT_THAT(ValidateUpdateActionItem(request), IsInvalidAt("status"));
  request.set_status(static_cast<v1::ActionItem::Status>(9));
  EXPECT_EQ(ValidateUpdateActionItem(request).message(),
            "status: unknown value 9");

  request = ValidActionItemUpdate();
  request.set_owner(" ");
  EXPECT_THAT(ValidateUpdateActionItem(request), IsInvalidAt("owner"));
  request.set_owner("alice & bob");
  EXPECT_THAT(ValidateUpdateActionItem(request), IsInvalidAt("owner"));
  request.set_owner("bo\xc3");
  EXPECT_THAT(ValidateUpdateActionItem(request), IsInvalidAt("owner"));

  request = ValidActionItemUpdate();
  request.set_due_date("31/01/2025");
  EXPECT_THAT(ValidateUpdateActionItem(request), IsInvalidAt("due_date"));
}

// Serializes `request`, then overwrites the bytes of `placeholder` (which
// must occur once) with `replacement` of the same length.
std::string SerializeWithPatch(const google::protobuf::Message& request,
                               const std::string& placeholder,
                               const std::string& replacement) {
  std::string bytes = request.SerializeAsString();
  const size_t at = bytes.find(placeholder);
  EXPECT_NE(at, std::string::npos);
  EXPECT_EQ(bytes.find(placeholder, at + 1), std::string::npos);
  EXPECT_EQ(placeholder.size(), replacement.size());
  bytes.replace(at, placeholder.size(), replacement);
  return bytes;
}

TEST(FindInvalidUtf8FieldTest, NamesNestedRepeatedField) {
  v1::SubmitPostmortemRequest request = ValidSubmit();
  request.mutable_postmortem()->mutable_action_items(2)->set_owner("XXXX");
  const std::string bytes =
      SerializeWithPatch(request, "XXXX", "\xff\xfe\xfd\xfc");
  v1::SubmitPostmortemRequest parsed;
  ASSERT_FALSE(parsed.ParseFromString(bytes));  // what the server sees
  EXPECT_EQ(FindInvalidUtf8Field(*request.GetDescriptor(), bytes),
            "postmortem.action_items[2].owner");
}

TEST(FindInvalidUtf8FieldTest, NamesTopLevelAndDeeperFields) {
  v1::SubmitPostmortemRequest request = ValidSubmit();
  request.set_request_id("YYYY");
  EXPECT_EQ(FindInvalidUtf8Field(
                *request.GetDescriptor(),
                SerializeWithPatch(request, "YYYY", "\xc0\xaf\xc0\xaf")),
            "request_id");

  request = ValidSubmit();
  request.mutable_postmortem()->mutable_lessons()->add_went_wrong("ZZZZ");
  EXPECT_EQ(
      FindInvalidUtf8Field(*request.GetDescriptor(),
                           SerializeWithPatch(request, "ZZZZ", "ab\xed\xa0")),
      "postmortem.lessons.went_wrong[0]");

  request = ValidSubmit();
  request.mutable_postmortem()->set_log_lines(0, "QQQQ");
  EXPECT_EQ(FindInvalidUtf8Field(
                *request.GetDescriptor(),
                SerializeWithPatch(request, "QQQQ", std::string("q\0qq", 4))),
            "postmortem.log_lines[0]");
}

TEST(FindInvalidUtf8FieldTest, EmptyWhenNothingWrong) {
  const v1::SubmitPostmortemRequest request = ValidSubmit();
  EXPECT_THAT(FindInvalidUtf8Field(*request.GetDescriptor(),
                                   request.SerializeAsString()),
              IsEmpty());
  EXPECT_THAT(FindInvalidUtf8Field(*request.GetDescriptor(), "\x0a\xff"),
              IsEmpty());  // truncated, not a text problem
}

TEST(FindInvalidUtf8FieldTest, WorksForOtherRequests) {
  v1::UpdateActionItemRequest request = ValidActionItemUpdate();
  request.set_owner("OOOO");
  EXPECT_EQ(
      FindInvalidUtf8Field(*request.GetDescriptor(),
                           SerializeWithPatch(request, "OOOO", "o\x80oo")),
      "owner");
}

}  // namespace
}  // namespace deja
