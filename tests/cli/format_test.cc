#include "cli/format.h"

#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"

namespace deja::cli {
namespace {

using ::testing::StartsWith;

TEST(DisplayWidthTest, CountsCodePointsNotBytes) {
  EXPECT_EQ(DisplayWidth(""), 0u);
  EXPECT_EQ(DisplayWidth("abc"), 3u);
  EXPECT_EQ(DisplayWidth("café"), 4u);              // é is 2 bytes
  EXPECT_EQ(DisplayWidth("€→✓"), 3u);               // 3 bytes each
  EXPECT_EQ(DisplayWidth("\xF0\x9F\x94\xA5"), 1u);  // 4-byte emoji
}

TEST(DisplayWidthTest, StrayBytesCountOneEach) {
  EXPECT_EQ(DisplayWidth("a\xFF"
                         "b"),
            3u);
  EXPECT_EQ(DisplayWidth("\xE2\x82"), 2u);  // truncated 3-byte sequence
}

TEST(TruncateToWidthTest, ShortTextIsUnchanged) {
  EXPECT_EQ(TruncateToWidth("checkout", 8), "checkout");
  EXPECT_EQ(TruncateToWidth("café", 4), "café");
}

TEST(TruncateToWidthTest, CutsAndEndsInEllipsis) {
  EXPECT_EQ(TruncateToWidth("checkout latency", 9), "checkout…");
  EXPECT_EQ(DisplayWidth(TruncateToWidth("checkout latency", 9)), 9u);
  EXPECT_EQ(TruncateToWidth("abc", 1), "…");
  EXPECT_EQ(TruncateToWidth("checkout latency", 10), "checkout…");
  EXPECT_EQ(TruncateToWidth("abc", 0), "");
}

TEST(TruncateToWidthTest, NeverSplitsUtf8Sequences) {
  // Each of these is 3 bytes; a byte-based cut would leave half a character.
  EXPECT_EQ(TruncateToWidth("€€€€€", 3), "€€…");
  EXPECT_EQ(TruncateToWidth("ééééé", 4), "ééé…");
  EXPECT_EQ(TruncateToWidth("a\xF0\x9F\x94\xA5\xF0\x9F\x94\xA5", 2), "a…");
}

TEST(TruncateMiddleToWidthTest, KeepsBothEnds) {
  EXPECT_EQ(TruncateMiddleToWidth("short.md", 10), "short.md");
  EXPECT_EQ(TruncateMiddleToWidth("INC-0042 - node deletion.md", 15),
            "INC-004\xE2\x80\xA6tion.md");
  EXPECT_EQ(DisplayWidth(TruncateMiddleToWidth("\xC3\xA9t\xC3\xA9 \xC3\xA0 "
                                               "l'\xC3\xA9"
                                               "cole.md",
                                               8)),
            8u);
  EXPECT_EQ(TruncateMiddleToWidth("abc", 0), "");
}

TEST(TruncateLeftToWidthTest, KeepsTheEnd) {
  EXPECT_EQ(TruncateLeftToWidth("a.json", 10), "a.json");
  EXPECT_EQ(TruncateLeftToWidth("samples/postmortems/03.json", 12),
            "…ems/03.json");
  EXPECT_EQ(TruncateLeftToWidth("ééé/é.json", 8), "…/é.json");
}

TEST(WrapTextTest, BreaksAtSpacesWithinWidth) {
  EXPECT_EQ(WrapText("the pool had five connections", 12),
            "the pool had\nfive\nconnections");
  EXPECT_EQ(WrapText("short", 12), "short");
  EXPECT_EQ(WrapText("", 12), "");
}

TEST(WrapTextTest, KeepsLineBreaksAndLongWords) {
  EXPECT_EQ(WrapText("one\n\ntwo", 10), "one\n\ntwo");
  EXPECT_EQ(WrapText("a verylongwordindeed b", 5), "a\nverylongwordindeed\nb");
  // Width is counted in columns, not bytes.
  EXPECT_EQ(WrapText("ééé ééé", 7), "ééé ééé");
}

TEST(OneLineTest, ControlCharactersBecomeSpaces) {
  EXPECT_EQ(OneLine("a\nb\tc\rd"), "a b c d");
  EXPECT_EQ(OneLine("café"), "café");
}

TEST(CompactDurationTest, TwoLargestUnits) {
  EXPECT_EQ(CompactDuration(absl::ZeroDuration()), "0s");
  EXPECT_EQ(CompactDuration(absl::Seconds(45)), "45s");
  EXPECT_EQ(CompactDuration(absl::Minutes(5)), "5m");
  EXPECT_EQ(CompactDuration(absl::Seconds(5 * 60 + 7)), "5m 7s");
  EXPECT_EQ(CompactDuration(absl::Hours(1) + absl::Minutes(23)), "1h 23m");
  EXPECT_EQ(
      CompactDuration(absl::Hours(1) + absl::Minutes(23) + absl::Seconds(59)),
      "1h 23m");
  EXPECT_EQ(CompactDuration(absl::Hours(2)), "2h");
  EXPECT_EQ(CompactDuration(absl::Hours(52) + absl::Minutes(10)), "2d 4h");
  EXPECT_EQ(CompactDuration(absl::Hours(72)), "3d");
  EXPECT_EQ(CompactDuration(absl::Milliseconds(900)), "0s");
  EXPECT_EQ(CompactDuration(-absl::Minutes(3)), "-3m");
}

TEST(FormatMinuteTest, UtcAndEmptyWhenUnset) {
  google::protobuf::Timestamp at;
  EXPECT_EQ(FormatMinute(at), "");
  at.set_seconds(1709301930);  // 2024-03-01T14:05:30Z
  EXPECT_EQ(FormatMinute(at), "2024-03-01 14:05");
}

TEST(ParseSeverityTest, AcceptsNamesAndNumbers) {
  EXPECT_EQ(*ParseSeverity("SEV2"), v1::SEV2);
  EXPECT_EQ(*ParseSeverity("sev1"), v1::SEV1);
  EXPECT_EQ(*ParseSeverity("5"), v1::SEV5);
}

TEST(ParseSeverityTest, RejectsOthers) {
  for (const char* bad :
       {"", "0", "6", "SEV0", "SEV6", "high", "SEVERITY_UNSPECIFIED", "22"}) {
    auto severity = ParseSeverity(bad);
    EXPECT_FALSE(severity.ok()) << bad;
    EXPECT_EQ(severity.status().code(), absl::StatusCode::kInvalidArgument);
  }
  EXPECT_THAT(std::string(ParseSeverity("high").status().message()),
              StartsWith("invalid severity 'high'"));
}

TEST(SeverityNameTest, NamesAndDash) {
  EXPECT_EQ(SeverityName(v1::SEV3), "SEV3");
  EXPECT_EQ(SeverityName(v1::SEVERITY_UNSPECIFIED), "-");
}

TEST(ParseActionStatusTest, CliSpellingsAndEnumNames) {
  EXPECT_EQ(*ParseActionStatus("open"), v1::ActionItem::OPEN);
  EXPECT_EQ(*ParseActionStatus("in-progress"), v1::ActionItem::IN_PROGRESS);
  EXPECT_EQ(*ParseActionStatus("IN_PROGRESS"), v1::ActionItem::IN_PROGRESS);
  EXPECT_EQ(*ParseActionStatus("done"), v1::ActionItem::DONE);
  EXPECT_EQ(*ParseActionStatus("wont-do"), v1::ActionItem::WONT_DO);
  EXPECT_FALSE(ParseActionStatus("closed").ok());
  EXPECT_FALSE(ParseActionStatus("status-unspecified").ok());
}

TEST(EnumNamesTest, CliSpelling) {
  EXPECT_EQ(ActionStatusName(v1::ActionItem::WONT_DO), "wont-do");
  EXPECT_EQ(ActionKindName(v1::ActionItem::PREVENT), "prevent");
  EXPECT_EQ(ActionKindName(v1::ActionItem::KIND_UNSPECIFIED), "-");
  EXPECT_EQ(RootCauseCategoryName(v1::RootCause::CONFIG_CHANGE),
            "config-change");
}

TEST(ParseDateArgumentTest, BareDatesCoverWholeDays) {
  EXPECT_EQ(*ParseDateArgument("2024-03-01", DayEdge::kStart),
            absl::FromUnixSeconds(1709251200));
  // --until 2024-03-01 includes all of March 1st.
  EXPECT_EQ(*ParseDateArgument("2024-03-01", DayEdge::kEnd),
            absl::FromUnixSeconds(1709251200 + 86400));
}

TEST(ParseDateArgumentTest, Rfc3339IsTakenAsIs) {
  EXPECT_EQ(*ParseDateArgument("2024-03-01T14:05:30Z", DayEdge::kEnd),
            absl::FromUnixSeconds(1709301930));
  EXPECT_EQ(*ParseDateArgument("2024-03-01T15:05:30+01:00", DayEdge::kStart),
            absl::FromUnixSeconds(1709301930));
}

TEST(ParseDateArgumentTest, RejectsOthers) {
  for (const char* bad : {"", "yesterday", "2024-13-01", "2024-3-1",
                          "01/03/2024", "2024-03-01 14:05"}) {
    EXPECT_FALSE(ParseDateArgument(bad, DayEdge::kStart).ok()) << bad;
  }
}

TEST(IsCalendarDateTest, OnlyYyyyMmDd) {
  EXPECT_TRUE(IsCalendarDate("2024-02-29"));
  EXPECT_FALSE(IsCalendarDate("2024-02-30"));
  EXPECT_FALSE(IsCalendarDate("2024-2-1"));
  EXPECT_FALSE(IsCalendarDate(""));
}

v1::Postmortem FromJson(const std::string& json) {
  v1::Postmortem postmortem;
  EXPECT_TRUE(
      google::protobuf::util::JsonStringToMessage(json, &postmortem).ok());
  return postmortem;
}

TEST(DefaultRequestIdTest, IsPinned) {
  // Changing this value makes every earlier `deja submit` of an unchanged
  // file create a second postmortem: don't.
  EXPECT_EQ(DefaultRequestId(v1::Postmortem()),
            "cli-6c62272e07bb014262b821756295c58d");
  EXPECT_EQ(DefaultRequestId(FromJson(R"({"title": "Checkout down"})")),
            "cli-84534c62e7cab7290d105845f3a8f5e8");
}

TEST(DefaultRequestIdTest, IgnoresJsonLayoutButNotContent) {
  const std::string a = DefaultRequestId(
      FromJson(R"({"title": "Checkout down", "services": ["checkout"]})"));
  const std::string b =
      DefaultRequestId(FromJson("{\n  \"services\" : [ \"checkout\" ],\n  "
                                "\"title\":\"Checkout down\"\n}"));
  const std::string c = DefaultRequestId(
      FromJson(R"({"title": "Checkout down", "services": ["payments"]})"));
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  EXPECT_EQ(a.size(), 4u + 32u);
}

}  // namespace
}  // namespace deja::cli
