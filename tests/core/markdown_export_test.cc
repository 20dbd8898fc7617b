#include "core/markdown_export.h"

#include <gmock/gmock.h>
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "core/markdown_import.h"

namespace deja {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

google::protobuf::Timestamp At(int64_t seconds) {
  google::protobuf::Timestamp at;
  at.set_seconds(seconds);
  return at;
}

constexpr int64_t k20230109_1042 = 1673260920;  // 2023-01-09T10:42:00Z

// Every field the template has, set; plus the ones it has no place for.
v1::Postmortem FullPostmortem() {
  v1::Postmortem pm;
  pm.set_id("pm-1");
  pm.set_version(3);
  *pm.mutable_created_at() = At(k20230109_1042 + 86400);
  *pm.mutable_updated_at() = At(k20230109_1042 + 2 * 86400);
  pm.set_title("Customers charged twice when the processor slowed down");
  pm.set_team("payments");
  pm.set_summary(
      "Some customers were charged twice.\nEvery duplicate was refunded.");
  pm.set_severity(v1::SEV2);
  pm.set_status(v1::Postmortem::PUBLISHED);
  *pm.mutable_started_at() = At(k20230109_1042);
  *pm.mutable_detected_at() = At(k20230109_1042 + 76 * 60);
  *pm.mutable_mitigated_at() = At(k20230109_1042 + 113 * 60);
  *pm.mutable_resolved_at() = At(k20230109_1042 + 388 * 60);
  pm.add_services("payments-api");
  pm.add_services("processor-adapter");
  pm.add_tags("payments");
  pm.add_tags("retries");
  pm.mutable_impact()->set_description("1,284 customers were charged twice.");
  pm.mutable_impact()->set_users_affected(1284);
  pm.mutable_impact()->mutable_duration()->set_seconds(6780);
  pm.mutable_detection()->set_source(v1::Detection::CUSTOMER_REPORT);
  pm.mutable_detection()->set_description("Support saw a cluster of tickets.");
  v1::TimelineEvent* event = pm.add_timeline();
  *event->mutable_at() = At(k20230109_1042);
  event->set_description("Capture latency rises to 8-12 s.");
  event = pm.add_timeline();
  *event->mutable_at() = At(k20230109_1042 + 113 * 60 + 30);
  event->set_description("Retries switched off.");
  v1::Why* why = pm.add_whys();
  why->set_question("Why were customers charged twice?");
  why->set_answer("A second capture was sent.");
  why = pm.add_whys();
  why->set_question("Why was a second capture sent?");
  why->set_answer("Timed-out captures were retried without a key.");
  v1::RootCause* cause = pm.add_root_causes();
  cause->set_category(v1::RootCause::SOFTWARE_BUG);
  cause->set_description("Captures were retried without an idempotency key.");
  cause = pm.add_root_causes();
  cause->set_category(v1::RootCause::DEPENDENCY);
  cause->set_description("The processor slowed down past our timeout.");
  pm.add_contributing_factors("No alert compared captures with bookings.");
  pm.set_resolution("Retries were switched off; duplicates were refunded.");
  pm.add_mitigation_steps("Set payments.capture.retry=false.");
  pm.add_mitigation_steps("Ran the bulk refund job.");
  v1::ActionItem* item = pm.add_action_items();
  item->set_id("ai-1");
  item->set_description("Send an idempotency key with every capture");
  item->set_owner("payments");
  item->set_due_date("2023-02-01");
  item->set_status(v1::ActionItem::DONE);
  item->set_kind(v1::ActionItem::PREVENT);
  item->set_tracker_url("https://tracker.example/PAY-1");
  *item->mutable_completed_at() = At(k20230109_1042 + 20 * 86400);
  item = pm.add_action_items();
  item->set_description("Alert on captures per booking above 1.05");
  item->set_owner("sam.roe");
  item->set_status(v1::ActionItem::OPEN);
  item->set_kind(v1::ActionItem::DETECT);
  pm.mutable_lessons()->add_went_well("Refunds went out the same day.");
  pm.mutable_lessons()->add_went_wrong("Support found it before we did.");
  pm.mutable_lessons()->add_got_lucky("It happened on a quiet Monday.");
  v1::Participant* participant = pm.add_participants();
  participant->set_name("alex.doe");
  participant->set_role("incident commander");
  participant->set_facilitator(true);
  participant = pm.add_participants();
  participant->set_name("sam.roe");
  participant->set_role("on-call engineer");
  pm.add_log_lines("ERROR capture timeout after 5000 ms");
  pm.add_log_lines("WARN retrying capture attempt=2");
  v1::Link* link = pm.add_links();
  link->set_title("Dashboard");
  link->set_url("https://grafana.example/d/payments");
  pm.add_recurrence_of("pm-0");
  pm.set_external_id("INC-42");
  pm.set_source_url("https://wiki.example/INC-42");
  return pm;
}

constexpr char kFullMarkdown[] = R"md(---
# id: pm-1 (assigned by Deja; not read on import)
# version: 3
title: Customers charged twice when the processor slowed down
team: payments
severity: SEV2
status: PUBLISHED
services: [payments-api, processor-adapter]
tags: [payments, retries]
started_at: 2023-01-09T10:42:00Z
detected_at: 2023-01-09T11:58:00Z
mitigated_at: 2023-01-09T12:35:00Z
resolved_at: 2023-01-09T17:10:00Z
detection_source: CUSTOMER_REPORT
participants:
  - name: alex.doe
    role: incident commander
    facilitator: true
  - name: sam.roe
    role: on-call engineer
recurrence_of: [pm-0]
external_id: INC-42
source_url: https://wiki.example/INC-42
---

# Customers charged twice when the processor slowed down

## Summary

Some customers were charged twice.
Every duplicate was refunded.

## Impact

1,284 customers were charged twice.

- Users affected: 1284
- Duration: 1h53m

## Detection

Support saw a cluster of tickets.

## Timeline

| Time | Event |
| --- | --- |
| 2023-01-09 10:42 | Capture latency rises to 8-12 s. |
| 2023-01-09 12:35:30 | Retries switched off. |

## 5 Whys

1. Why were customers charged twice? A second capture was sent.
2. Why was a second capture sent? Timed-out captures were retried without a key.

## Root causes

- SOFTWARE_BUG: Captures were retried without an idempotency key.
- DEPENDENCY: The processor slowed down past our timeout.

## Contributing factors

- No alert compared captures with bookings.

## Resolution

Retries were switched off; duplicates were refunded.

Mitigation steps:

- Set payments.capture.retry=false.
- Ran the bulk refund job.

## Action items

| Action | Owner | Due | Status | Kind | Tracker |
| --- | --- | --- | --- | --- | --- |
| Send an idempotency key with every capture | payments | 2023-02-01 | DONE | PREVENT | https://tracker.example/PAY-1 |
| Alert on captures per booking above 1.05 | sam.roe |  | OPEN | DETECT |  |

## Lessons learned

### What went well

- Refunds went out the same day.

### What went wrong

- Support found it before we did.

### Where we got lucky

- It happened on a quiet Monday.

## Log lines

```
ERROR capture timeout after 5000 ms
WARN retrying capture attempt=2
```

## Links

- [Dashboard](https://grafana.example/d/payments)
)md";

TEST(PostmortemToMarkdownTest, WritesEveryFieldInTheTemplatesForm) {
  EXPECT_EQ(PostmortemToMarkdown(FullPostmortem()), kFullMarkdown);
}

TEST(PostmortemToMarkdownTest, IsDeterministic) {
  const v1::Postmortem pm = FullPostmortem();
  const std::string first = PostmortemToMarkdown(pm);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(PostmortemToMarkdown(pm), first);
  EXPECT_EQ(PostmortemToMarkdown(v1::Postmortem(pm)), first);
}

TEST(PostmortemToMarkdownTest, LeavesOutSectionsWithNothingInThem) {
  v1::Postmortem pm;
  pm.set_title("Only a title and a summary");
  pm.set_summary("Short.");
  EXPECT_EQ(PostmortemToMarkdown(pm),
            "---\n"
            "title: Only a title and a summary\n"
            "---\n"
            "\n"
            "# Only a title and a summary\n"
            "\n"
            "## Summary\n"
            "\n"
            "Short.\n");
}

TEST(PostmortemToMarkdownTest, LeavesOutEmptyLessonGroupsAndUnsetColumns) {
  v1::Postmortem pm;
  pm.set_title("t");
  pm.mutable_lessons()->add_got_lucky("Quiet day.");
  pm.add_action_items()->set_description("Do it");
  const std::string markdown = PostmortemToMarkdown(pm);
  EXPECT_THAT(markdown, HasSubstr("## Lessons learned\n\n### Where we got "
                                  "lucky\n\n- Quiet day.\n"));
  EXPECT_THAT(markdown, Not(HasSubstr("What went well")));
  EXPECT_THAT(markdown, HasSubstr("| Action | Owner | Due | Status | Kind |\n"
                                  "| --- | --- | --- | --- | --- |\n"
                                  "| Do it |  |  |  |  |\n"));
  EXPECT_THAT(markdown, Not(HasSubstr("Tracker")));
  EXPECT_THAT(markdown, Not(HasSubstr("## Summary")));
  EXPECT_THAT(markdown, Not(HasSubstr("## Impact")));
  EXPECT_THAT(markdown, Not(HasSubstr("severity:")));
}

TEST(PostmortemToMarkdownTest, EscapesPipesNewlinesAndEntitiesInTableCells) {
  v1::Postmortem pm;
  pm.set_title("t");
  v1::ActionItem* item = pm.add_action_items();
  item->set_description(
      "Split a | b\nthen R&D &amp; ops; a literal <br> stays");
  item->set_owner("team|x");
  EXPECT_THAT(PostmortemToMarkdown(pm),
              HasSubstr("| Split a \\| b<br>then R&D &amp;amp; ops; a literal "
                        "&lt;br> stays | team\\|x |  |  |  |\n"));
}

TEST(PostmortemToMarkdownTest, EscapesProseLinesThatLookLikeStructure) {
  v1::Postmortem pm;
  pm.set_title("t");
  pm.set_summary(
      "# not a heading\n---\n```\n| not a table\n- not a list\n"
      "2. not a list\n\\ a backslash\n3.5 GB is fine\n#hashtag is fine");
  EXPECT_THAT(PostmortemToMarkdown(pm),
              HasSubstr("## Summary\n\n"
                        "\\# not a heading\n\\---\n\\```\n\\| not a table\n"
                        "\\- not a list\n\\2. not a list\n\\\\ a backslash\n"
                        "3.5 GB is fine\n\\#hashtag is fine\n"));
}

TEST(PostmortemToMarkdownTest, QuotesFrontMatterValuesYamlWouldMisread) {
  v1::Postmortem pm;
  pm.set_title("Disk full # again: \"really\"");
  pm.set_team("- ops");
  pm.add_services("a,b");
  pm.add_services("plain");
  pm.set_external_id("two\nlines");
  const std::string markdown = PostmortemToMarkdown(pm);
  EXPECT_THAT(markdown,
              HasSubstr("title: \"Disk full # again: \\\"really\\\"\"\n"));
  EXPECT_THAT(markdown, HasSubstr("team: \"- ops\"\n"));
  EXPECT_THAT(markdown, HasSubstr("services: [\"a,b\", plain]\n"));
  EXPECT_THAT(markdown, HasSubstr("external_id: \"two\\nlines\"\n"));
  // The heading stays one line.
  EXPECT_THAT(markdown, HasSubstr("\n# Disk full # again: \"really\"\n"));
}

TEST(PostmortemToMarkdownTest, KeepsLogLinesVerbatimInACodeBlock) {
  v1::Postmortem pm;
  pm.add_log_lines("  indented | with pipe # and hash");
  EXPECT_THAT(PostmortemToMarkdown(pm),
              HasSubstr("```\n  indented | with pipe # and hash\n```\n"));
}

TEST(PostmortemToMarkdownTest, NarrativeWithItsOwnHeadingGoesLastVerbatim) {
  v1::Postmortem pm;
  pm.set_title("t");
  pm.set_summary("s");
  pm.set_narrative("## Stats\n\n- Something odd");
  EXPECT_THAT(PostmortemToMarkdown(pm),
              testing::EndsWith("## Summary\n\ns\n\n## Stats\n\n- Something "
                                "odd\n"));
}

// --------------------------------------------------------------- summary

TEST(PostmortemSummaryTextTest, SaysWhatHappenedWhyAndWhatIsLeft) {
  EXPECT_EQ(PostmortemSummaryText(FullPostmortem()),
            "Customers charged twice when the processor slowed down\n"
            "Severity: SEV2   Team: payments   Date: 2023-01-09\n"
            "Services: payments-api, processor-adapter\n"
            "\n"
            "What happened: Some customers were charged twice. Every "
            "duplicate was refunded.\n"
            "\n"
            "Impact: 1,284 customers were charged twice. (1284 users "
            "affected, lasted 1h53m)\n"
            "\n"
            "Root causes:\n"
            "- SOFTWARE_BUG: Captures were retried without an idempotency "
            "key.\n"
            "- DEPENDENCY: The processor slowed down past our timeout.\n"
            "\n"
            "What fixed it: Retries were switched off; duplicates were "
            "refunded.\n"
            "\n"
            "Action items (1 of 2 not done):\n"
            "- [DONE] Send an idempotency key with every capture (owner: "
            "payments, due 2023-02-01)\n"
            "- [OPEN] Alert on captures per booking above 1.05 (owner: "
            "sam.roe)\n");
}

TEST(PostmortemSummaryTextTest, StaysWithinTheLineLimitWithoutTables) {
  v1::Postmortem pm = FullPostmortem();
  for (int i = 0; i < 100; ++i) {
    v1::ActionItem* item = pm.add_action_items();
    item->set_description("Another | item\nwith a second line");
    item->set_owner("ops");
  }
  for (int i = 0; i < 10; ++i) {
    pm.add_root_causes()->set_description("Another cause");
  }
  const std::string text = PostmortemSummaryText(pm);
  const std::vector<std::string> lines = absl::StrSplit(text, '\n');
  // The text ends with a newline, so the last piece is empty.
  EXPECT_LE(lines.size() - 1, static_cast<size_t>(kMaxSummaryLines));
  EXPECT_THAT(text, HasSubstr("- ... and 7 more\n"));  // root causes
  EXPECT_THAT(text, testing::EndsWith(" more\n"));     // action items
  EXPECT_THAT(text, Not(HasSubstr("| --- |")));
  EXPECT_THAT(text, HasSubstr("Another | item with a second line"));
}

// Many imported write-ups have contributing factors but no root causes.
TEST(PostmortemSummaryTextTest, ContributingFactorsStandInForMissingCauses) {
  v1::Postmortem pm = FullPostmortem();
  pm.clear_root_causes();
  EXPECT_THAT(PostmortemSummaryText(pm),
              HasSubstr("\nContributing factors:\n- No alert compared "
                        "captures with bookings.\n"));
  EXPECT_THAT(PostmortemSummaryText(FullPostmortem()),
              Not(HasSubstr("Contributing factors:")));
}

TEST(PostmortemSummaryTextTest, CollapsesLongTextToOneLine) {
  v1::Postmortem pm;
  pm.set_title("t");
  pm.set_resolution(std::string(1000, 'x') + "\n\nmore");
  const std::string text = PostmortemSummaryText(pm);
  EXPECT_THAT(text,
              HasSubstr("What fixed it: " + std::string(400, 'x') + "...\n"));
}

// -------------------------------------------------------------- template

TEST(FilledTemplateTest, HasTodaysDateAndNoPlaceholderLeft) {
  const std::string filled = FilledTemplate("2026-11-24");
  EXPECT_THAT(filled, Not(HasSubstr("{{DATE}}")));
  EXPECT_THAT(filled, HasSubstr("started_at: 2026-11-24T00:00:00Z"));
  EXPECT_THAT(filled, HasSubstr("| 2026-11-24 | OPEN | PREVENT |"));
  EXPECT_THAT(filled, testing::StartsWith("---\n"));
  EXPECT_THAT(filled, HasSubstr("## Lessons learned"));
}

TEST(FilledTemplateTest, IsWhatTheImporterReads) {
  absl::StatusOr<MarkdownImport> imported =
      ImportMarkdown(FilledTemplate("2026-11-24"));
  ASSERT_TRUE(imported.ok()) << imported.status();
  EXPECT_EQ(imported->postmortem.severity(), v1::SEV3);
  EXPECT_EQ(imported->postmortem.started_at().seconds(), 1795478400);
}

// ------------------------------------------------------------ round trip

// What the server assigns; a document does not carry it back.
v1::Postmortem WithoutServerFields(v1::Postmortem pm) {
  pm.clear_id();
  pm.clear_version();
  pm.clear_created_at();
  pm.clear_updated_at();
  for (v1::ActionItem& item : *pm.mutable_action_items()) {
    item.clear_id();
    item.clear_completed_at();
    item.clear_history();
  }
  return pm;
}

// "" when equal, else the fields that differ.
std::string Differences(const v1::Postmortem& expected,
                        const v1::Postmortem& actual) {
  google::protobuf::util::MessageDifferencer differencer;
  std::string report;
  differencer.ReportDifferencesToString(&report);
  differencer.Compare(expected, actual);
  return report;
}

// Postmortem -> Markdown -> Postmortem, or "" with a failure.
v1::Postmortem ThroughMarkdown(const v1::Postmortem& pm) {
  const std::string markdown = PostmortemToMarkdown(pm);
  absl::StatusOr<MarkdownImport> imported = ImportMarkdown(markdown);
  EXPECT_TRUE(imported.ok()) << imported.status() << "\n" << markdown;
  if (!imported.ok()) return {};
  return imported->postmortem;
}

std::filesystem::path SamplesDir() {
  const char* env = std::getenv("DEJA_SAMPLES_DIR");
  return env != nullptr ? std::filesystem::path(env)
                        : std::filesystem::path(__FILE__).parent_path() /
                              "../../samples/postmortems";
}

std::vector<std::pair<std::string, v1::Postmortem>> Samples() {
  std::vector<std::pair<std::string, v1::Postmortem>> samples;
  const std::filesystem::path dir = SamplesDir();
  EXPECT_TRUE(std::filesystem::is_directory(dir))
      << "no samples at " << dir << " (set DEJA_SAMPLES_DIR)";
  if (!std::filesystem::is_directory(dir)) return samples;
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() == ".json") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  for (const std::filesystem::path& file : files) {
    std::ifstream in(file);
    std::stringstream json;
    json << in.rdbuf();
    v1::Postmortem pm;
    const auto status =
        google::protobuf::util::JsonStringToMessage(json.str(), &pm);
    EXPECT_TRUE(status.ok()) << file << ": " << status.ToString();
    samples.push_back({file.filename().string(), pm});
  }
  EXPECT_GE(samples.size(), 10u) << "too few samples in " << dir;
  return samples;
}

TEST(MarkdownRoundTripTest, FullPostmortemComesBackEqual) {
  const v1::Postmortem expected = WithoutServerFields(FullPostmortem());
  EXPECT_EQ(Differences(expected, ThroughMarkdown(FullPostmortem())), "");
}

// Every field except links.
TEST(MarkdownRoundTripTest, EveryFieldButLinksComesBackEqual) {
  v1::Postmortem pm = FullPostmortem();
  pm.clear_links();
  const v1::Postmortem expected = WithoutServerFields(pm);
  const v1::Postmortem once = ThroughMarkdown(pm);
  EXPECT_EQ(Differences(expected, once), "");
  EXPECT_EQ(PostmortemToMarkdown(once),
            PostmortemToMarkdown(WithoutServerFields(pm)));
}

TEST(MarkdownRoundTripTest, EverySampleComesBackEqual) {
  for (const auto& [name, pm] : Samples()) {
    const v1::Postmortem expected = WithoutServerFields(pm);
    EXPECT_EQ(Differences(expected, ThroughMarkdown(pm)), "") << name;
  }
}

TEST(MarkdownRoundTripTest, MarkdownToPostmortemAndBackIsStable) {
  std::vector<std::pair<std::string, v1::Postmortem>> samples = Samples();
  samples.push_back({"full", FullPostmortem()});
  for (const auto& [name, pm] : samples) {
    const v1::Postmortem once = ThroughMarkdown(pm);
    const std::string markdown = PostmortemToMarkdown(once);
    const v1::Postmortem twice = ThroughMarkdown(once);
    EXPECT_EQ(Differences(once, twice), "") << name;
    EXPECT_EQ(PostmortemToMarkdown(twice), markdown) << name;
  }
}

std::filesystem::path DfdsDir() {
  const char* env = std::getenv("DEJA_DFDS_DIR");
  return env != nullptr ? env : "/work/shared/corpus/dfds-markdown";
}

// Real-world write-ups: what the importer made of them survives the trip
// through our own form unchanged.
TEST(MarkdownRoundTripTest, DfdsPostmortemsAreStableThroughOurForm) {
  const std::filesystem::path dir = DfdsDir();
  ASSERT_TRUE(std::filesystem::is_directory(dir))
      << "DFDS corpus not found at " << dir << " (set DEJA_DFDS_DIR)";
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() == ".md") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  EXPECT_GE(files.size(), 38u);
  for (const std::filesystem::path& file : files) {
    std::ifstream in(file);
    std::stringstream text;
    text << in.rdbuf();
    absl::StatusOr<MarkdownImport> imported = ImportMarkdown(text.str());
    ASSERT_TRUE(imported.ok()) << file << ": " << imported.status();
    const v1::Postmortem once = imported->postmortem;
    const v1::Postmortem twice = ThroughMarkdown(once);
    EXPECT_EQ(Differences(once, twice), "") << file.filename();
    EXPECT_EQ(Differences(twice, ThroughMarkdown(twice)), "")
        << file.filename();
  }
}

// The escapes the exporter writes must be read back as the original text.
TEST(MarkdownRoundTripTest, EscapedTextComesBackEqual) {
  v1::Postmortem pm;
  pm.set_title("Disk full # again: \"really\" \\ ok");
  pm.set_team("- ops");
  pm.add_services("a,b");
  pm.set_summary("# not a heading\n---\n- not a list\n\\ a backslash");
  v1::ActionItem* item = pm.add_action_items();
  item->set_description(
      "Split a | b\nthen R&D &amp; ops; a literal <br> stays");
  item->set_owner("ops");
  v1::TimelineEvent* event = pm.add_timeline();
  *event->mutable_at() = At(k20230109_1042);
  event->set_description("a | b\nc");
  *pm.mutable_started_at() = At(k20230109_1042);
  EXPECT_EQ(Differences(pm, ThroughMarkdown(pm)), "");
}

}  // namespace
}  // namespace deja
