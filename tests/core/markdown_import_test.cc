#include "core/markdown_import.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace deja {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// Seconds since the epoch of a UTC wall-clock time.
int64_t Utc(int y, int mo, int d, int h, int mi) {
  return absl::ToUnixSeconds(absl::FromCivil(
      absl::CivilSecond(y, mo, d, h, mi, 0), absl::UTCTimeZone()));
}

MarkdownImport MustImport(absl::string_view text) {
  absl::StatusOr<MarkdownImport> result = ImportMarkdown(text);
  EXPECT_TRUE(result.ok()) << result.status();
  return result.ok() ? *std::move(result) : MarkdownImport{};
}

bool HasNote(const MarkdownImport& import, absl::string_view reason_part) {
  return std::any_of(import.unmapped.begin(), import.unmapped.end(),
                     [&](const UnmappedPart& part) {
                       return absl::StrContains(part.reason, reason_part);
                     });
}

std::string ErrorOf(absl::string_view text) {
  absl::StatusOr<MarkdownImport> result = ImportMarkdown(text);
  if (result.ok()) return "OK";
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(result.status().message());
}

constexpr char kFilledTemplate[] = R"md(---
# Comment lines are skipped.
title: Checkout returned 503 after a connection pool change
team: payments-oncall
severity: SEV2              # SEV1 (worst) .. SEV5
status: IN_REVIEW
services: [checkout, "payments-db"]
tags: [database, capacity]
started_at: 2024-05-06T10:00:00Z    # first user impact
detected_at: 2024-05-06T10:05:00Z
mitigated_at: 2024-05-06T10:40:00Z
resolved_at: 2024-05-07T09:00:00Z
detection_source: ALERT
participants:
  - name: alex.doe
    role: incident commander
    facilitator: true
  - name: sam.roe
    role: on-call engineer
recurrence_of: [0b7e5a52-3c1d-4f7a-9a39-1f2e3d4c5b6a]
external_id: "INC-42"
---

# Checkout returned 503 after a connection pool change

## Summary

The pool size was lowered; checkout ran out of connections.

## Impact

Customers could not pay.

- Users affected: 1,200
- Duration: 40m

## Detection

The 5xx alert paged the on-call engineer.

## Timeline

Times in UTC.

| Time | Event |
| --- | --- |
| 2024-05-06 10:00 | First 503s |
| 2024-05-06 10:05 | Alert fired |
| 10:40 | Pool size restored |

## 5 Whys

1. Why did checkout fail? Because the pool was exhausted.
2. Why was it exhausted? Because the size was lowered.

## Root causes

- CONFIG_CHANGE: The pool size change had no load test.
- Nobody knew the peak load.

## Contributing factors

- The dashboard hid pool saturation.
- The change went out on a Friday.

## Resolution

The pool size was restored.

Mitigation steps:

- Rolled back the config.

## Action items

| Action | Owner | Due | Status | Kind |
| --- | --- | --- | --- | --- |
| Load-test pool changes | payments-oncall | 2024-06-01 | OPEN | PREVENT |
| Alert on pool saturation | sre-team | 2024-05-20 | DONE | DETECT |

## Lessons learned

### What went well

- The alert fired within minutes.

### What went wrong

- The rollback took 30 minutes.

### Where we got lucky

- It was a quiet hour.

## Log lines

```
ERROR pool exhausted after 30000ms
FATAL checkout: 503
```
)md";

TEST(MarkdownImportTest, FilledTemplateFillsEveryField) {
  const MarkdownImport import = MustImport(kFilledTemplate);
  const v1::Postmortem& pm = import.postmortem;
  EXPECT_EQ(pm.title(), "Checkout returned 503 after a connection pool change");
  EXPECT_EQ(pm.team(), "payments-oncall");
  EXPECT_EQ(pm.severity(), v1::SEV2);
  EXPECT_EQ(pm.status(), v1::Postmortem::IN_REVIEW);
  EXPECT_THAT(pm.services(), ElementsAre("checkout", "payments-db"));
  EXPECT_THAT(pm.tags(), ElementsAre("database", "capacity"));
  EXPECT_EQ(pm.started_at().seconds(), Utc(2024, 5, 6, 10, 0));
  EXPECT_EQ(pm.detected_at().seconds(), Utc(2024, 5, 6, 10, 5));
  EXPECT_EQ(pm.mitigated_at().seconds(), Utc(2024, 5, 6, 10, 40));
  EXPECT_EQ(pm.resolved_at().seconds(), Utc(2024, 5, 7, 9, 0));
  EXPECT_EQ(pm.detection().source(), v1::Detection::ALERT);
  ASSERT_EQ(pm.participants_size(), 2);
  EXPECT_EQ(pm.participants(0).name(), "alex.doe");
  EXPECT_EQ(pm.participants(0).role(), "incident commander");
  EXPECT_TRUE(pm.participants(0).facilitator());
  EXPECT_FALSE(pm.participants(1).facilitator());
  EXPECT_THAT(pm.recurrence_of(),
              ElementsAre("0b7e5a52-3c1d-4f7a-9a39-1f2e3d4c5b6a"));
  EXPECT_EQ(pm.external_id(), "INC-42");

  EXPECT_EQ(pm.summary(),
            "The pool size was lowered; checkout ran out of connections.");
  EXPECT_EQ(pm.impact().description(), "Customers could not pay.");
  EXPECT_EQ(pm.impact().users_affected(), 1200);
  EXPECT_EQ(pm.impact().duration().seconds(), 40 * 60);
  EXPECT_EQ(pm.detection().description(),
            "The 5xx alert paged the on-call engineer.");

  ASSERT_EQ(pm.timeline_size(), 3);
  EXPECT_EQ(pm.timeline(0).at().seconds(), Utc(2024, 5, 6, 10, 0));
  EXPECT_EQ(pm.timeline(0).description(), "First 503s");
  // A time without a date takes the date of the row above.
  EXPECT_EQ(pm.timeline(2).at().seconds(), Utc(2024, 5, 6, 10, 40));

  ASSERT_EQ(pm.whys_size(), 2);
  EXPECT_EQ(pm.whys(0).question(), "Why did checkout fail?");
  EXPECT_EQ(pm.whys(0).answer(), "Because the pool was exhausted.");

  ASSERT_EQ(pm.root_causes_size(), 2);
  EXPECT_EQ(pm.root_causes(0).category(), v1::RootCause::CONFIG_CHANGE);
  EXPECT_EQ(pm.root_causes(0).description(),
            "The pool size change had no load test.");
  EXPECT_EQ(pm.root_causes(1).category(), v1::RootCause::CATEGORY_UNSPECIFIED);

  EXPECT_THAT(pm.contributing_factors(),
              ElementsAre("The dashboard hid pool saturation.",
                          "The change went out on a Friday."));
  EXPECT_EQ(pm.resolution(), "The pool size was restored.");
  EXPECT_THAT(pm.mitigation_steps(), ElementsAre("Rolled back the config."));

  ASSERT_EQ(pm.action_items_size(), 2);
  EXPECT_EQ(pm.action_items(0).description(), "Load-test pool changes");
  EXPECT_EQ(pm.action_items(0).owner(), "payments-oncall");
  EXPECT_EQ(pm.action_items(0).due_date(), "2024-06-01");
  EXPECT_EQ(pm.action_items(0).status(), v1::ActionItem::OPEN);
  EXPECT_EQ(pm.action_items(0).kind(), v1::ActionItem::PREVENT);
  EXPECT_EQ(pm.action_items(1).status(), v1::ActionItem::DONE);
  EXPECT_EQ(pm.action_items(1).kind(), v1::ActionItem::DETECT);

  EXPECT_THAT(pm.lessons().went_well(),
              ElementsAre("The alert fired within minutes."));
  EXPECT_THAT(pm.lessons().went_wrong(),
              ElementsAre("The rollback took 30 minutes."));
  EXPECT_THAT(pm.lessons().got_lucky(), ElementsAre("It was a quiet hour."));
  EXPECT_THAT(pm.log_lines(), ElementsAre("ERROR pool exhausted after 30000ms",
                                          "FATAL checkout: 503"));
  EXPECT_THAT(import.unmapped, IsEmpty());
  EXPECT_TRUE(pm.narrative().empty());
}

TEST(MarkdownImportTest, FirstHeadingIsTheTitleWithoutFrontMatter) {
  const MarkdownImport import =
      MustImport("# Disk full on db-1\n\n## Summary\n\nIt filled up.\n");
  EXPECT_EQ(import.postmortem.title(), "Disk full on db-1");
  EXPECT_EQ(import.postmortem.summary(), "It filled up.");
}

// Each synonym fills the same field as the template's heading.
TEST(MarkdownImportTest, HeadingSynonymsMapToTheirFields) {
  struct Case {
    const char* heading;
    std::function<int(const v1::Postmortem&)> count;
  };
  const auto summary = [](const v1::Postmortem& pm) {
    return pm.summary().empty() ? 0 : 1;
  };
  const auto resolution = [](const v1::Postmortem& pm) {
    return pm.mitigation_steps_size();
  };
  const auto actions = [](const v1::Postmortem& pm) {
    return pm.action_items_size();
  };
  const auto causes = [](const v1::Postmortem& pm) {
    return pm.root_causes_size();
  };
  const auto factors = [](const v1::Postmortem& pm) {
    return pm.contributing_factors_size();
  };
  const auto whys = [](const v1::Postmortem& pm) { return pm.whys_size(); };
  const Case cases[] = {
      {"Summary", summary},
      {"OVERVIEW", summary},
      {"Description", summary},
      {"5 Whys", whys},
      {"Five whys", whys},
      {"Root causes", causes},
      {"Root cause", causes},
      {"Cause", causes},
      {"Contributing factors", factors},
      {"Contributing Factors (findings)", factors},
      {"Root cause analysis", factors},  // a plain list of findings
      {"Resolution", resolution},
      {"Resolution and recovery", resolution},
      {"Mitigation", resolution},
      {"Action items", actions},
      {"Follow-ups", actions},
      {"Remediation", actions},
      {"Next steps", actions},
  };
  constexpr absl::string_view kSummaryHeadings = "Summary OVERVIEW Description";
  for (const Case& c : cases) {
    const MarkdownImport import = MustImport(
        absl::StrCat("# T\n\n## ", c.heading, "\n\n- one thing\n- another\n"));
    const int expected = absl::StrContains(kSummaryHeadings, c.heading) ? 1 : 2;
    EXPECT_EQ(c.count(import.postmortem), expected) << c.heading;
    EXPECT_TRUE(import.postmortem.narrative().empty()) << c.heading;
  }
  EXPECT_EQ(
      MustImport("## impact\n\nslow pages\n").postmortem.impact().description(),
      "slow pages");
  EXPECT_EQ(MustImport("## DETECTION\n\nan alert\n")
                .postmortem.detection()
                .description(),
            "an alert");
}

TEST(MarkdownImportTest, RootCauseAnalysisWithCategoriesIsRootCauses) {
  const MarkdownImport import = MustImport(
      "## Root cause analysis\n\n- NETWORK: a route flapped\n- a second\n");
  ASSERT_EQ(import.postmortem.root_causes_size(), 2);
  EXPECT_EQ(import.postmortem.root_causes(0).category(),
            v1::RootCause::NETWORK);
  EXPECT_EQ(import.postmortem.contributing_factors_size(), 0);
}

TEST(MarkdownImportTest, FlatLessonsListGoesToWentWrong) {
  const MarkdownImport import =
      MustImport("## Lessons Learned\n\n- Test more\n- Alert sooner\n");
  EXPECT_THAT(import.postmortem.lessons().went_wrong(),
              ElementsAre("Test more", "Alert sooner"));
}

TEST(MarkdownImportTest, EmptyLessonsSectionLeavesLessonsUnset) {
  const MarkdownImport import =
      MustImport("# T\n\n## Lessons Learned\n\n## Attendees\n\nSC, SD\n");
  EXPECT_FALSE(import.postmortem.has_lessons());
  const MarkdownImport only_headings = MustImport(
      "## Lessons learned\n\n### What went well\n\n### Where we got lucky\n");
  EXPECT_FALSE(only_headings.postmortem.has_lessons());
}

TEST(MarkdownImportTest, LinksSectionReadsLinksInEveryForm) {
  const MarkdownImport import = MustImport(
      "# T\n\n## Links\n\n"
      "- [Dashboard](https://grafana.example/d/payments)\n"
      "- [A \\] and \\\\ title](https://en.wikipedia.org/wiki/X_(y))\n"
      "- [Runbook](https://wiki.example/run) for the pager\n"
      "- https://bare.example/x\n"
      "- <https://angle.example/y>\n"
      "- Incident channel: https://chat.example/c/1\n"
      "- [Empty]()\n");
  const auto& links = import.postmortem.links();
  ASSERT_EQ(links.size(), 7);
  EXPECT_EQ(links[0].title(), "Dashboard");
  EXPECT_EQ(links[0].url(), "https://grafana.example/d/payments");
  EXPECT_EQ(links[1].title(), "A ] and \\ title");
  EXPECT_EQ(links[1].url(), "https://en.wikipedia.org/wiki/X_(y)");
  EXPECT_EQ(links[2].title(), "Runbook for the pager");
  EXPECT_EQ(links[2].url(), "https://wiki.example/run");
  EXPECT_EQ(links[3].title(), "");
  EXPECT_EQ(links[3].url(), "https://bare.example/x");
  EXPECT_EQ(links[4].url(), "https://angle.example/y");
  EXPECT_EQ(links[5].title(), "Incident channel");
  EXPECT_EQ(links[5].url(), "https://chat.example/c/1");
  EXPECT_EQ(links[6].title(), "Empty");
  EXPECT_EQ(links[6].url(), "");
  EXPECT_EQ(import.postmortem.narrative(), "");
  for (const UnmappedPart& part : import.unmapped) {
    EXPECT_NE(part.section, "Links") << part.reason;
  }
}

TEST(MarkdownImportTest, LinksSectionSynonymsAndLinkDefinitions) {
  const MarkdownImport import = MustImport(
      "## References\n\n[pr]: https://github.example/pr/1\n\n"
      "## Related links\n\n- https://x.example\n");
  ASSERT_EQ(import.postmortem.links_size(), 2);
  EXPECT_EQ(import.postmortem.links(0).title(), "pr");
  EXPECT_EQ(import.postmortem.links(1).url(), "https://x.example");
}

TEST(MarkdownImportTest, WhatInTheLinksSectionIsNoLinkIsReported) {
  const MarkdownImport import =
      MustImport("## Links\n\n- ask the on-call\n\nSee also the wiki.\n");
  EXPECT_EQ(import.postmortem.links_size(), 0);
  EXPECT_TRUE(HasNote(import, "'ask the on-call' is not a link"));
  EXPECT_TRUE(HasNote(import, "text beside the links"));
}

// The API keeps only absolute http(s) links; a link to a sibling document
// (as the DFDS write-ups have) is reported, not stored where the server
// would refuse the whole postmortem.
TEST(MarkdownImportTest, RelativeLinksAreReportedNotKept) {
  const MarkdownImport import = MustImport(
      "# T\n\n## Links\n\n- [earlier](PM2019-009%20-%20IP.md)\n"
      "- [runbook](https://wiki.example/runbook)\n\n"
      "[PM2019-009]: PM2019-009%20-%20IP.md\n");
  ASSERT_EQ(import.postmortem.links_size(), 1);
  EXPECT_EQ(import.postmortem.links(0).url(), "https://wiki.example/runbook");
  EXPECT_TRUE(HasNote(
      import, "link to 'PM2019-009%20-%20IP.md' is not an http(s) URL"));
  int reported = 0;
  for (const UnmappedPart& part : import.unmapped) {
    reported += absl::StrContains(part.reason, "is not an http(s) URL");
  }
  EXPECT_EQ(reported, 2);
}

TEST(MarkdownImportTest, ByteOrderMarkDoesNotHideTheFrontMatter) {
  const MarkdownImport import =
      MustImport("\xEF\xBB\xBF---\nteam: payments\nseverity: SEV2\n---\n# T\n");
  EXPECT_EQ(import.postmortem.team(), "payments");
  EXPECT_EQ(import.postmortem.severity(), v1::SEV2);
  EXPECT_EQ(import.postmortem.title(), "T");
}

TEST(MarkdownImportTest, OneLeadingBackslashIsRemovedFromProseLines) {
  const MarkdownImport import = MustImport(
      "# T\n\n\\- under the title\n\n"
      "## Summary\n\n\\# not a heading\n\\---\n\\- not a list\n"
      "\\\\ a backslash\n3.5 GB \\ stays\n\n"
      "## Impact\n\n\\- Users affected: 3 is prose\n\n- Users affected: 4\n\n"
      "## Detection\n\n\\| not a table\n\n"
      "## Resolution\n\n\\```\nrolled back\n\\```\n");
  const v1::Postmortem& pm = import.postmortem;
  EXPECT_EQ(pm.summary(),
            "# not a heading\n---\n- not a list\n\\ a backslash\n"
            "3.5 GB \\ stays");
  EXPECT_EQ(pm.narrative(), "- under the title");
  EXPECT_EQ(pm.impact().description(), "- Users affected: 3 is prose");
  EXPECT_EQ(pm.impact().users_affected(), 4);
  EXPECT_EQ(pm.detection().description(), "| not a table");
  EXPECT_EQ(pm.resolution(), "```\nrolled back\n```");
}

TEST(MarkdownImportTest, HeadingKeepsAHashThatIsNoClosingSequence) {
  const MarkdownImport import =
      MustImport("# T\n\n## Ports in C# ##\n\n## C#\n");
  EXPECT_EQ(import.postmortem.narrative(), "## Ports in C#\n\n## C#");
}

TEST(MarkdownImportTest, MitigationLabelIsTextUnlessAListFollows) {
  const MarkdownImport with_steps = MustImport(
      "## Resolution\n\nRolled back.\n\nMitigation steps:\n\n- Drain\n");
  EXPECT_EQ(with_steps.postmortem.resolution(), "Rolled back.");
  EXPECT_THAT(with_steps.postmortem.mitigation_steps(), ElementsAre("Drain"));
  const MarkdownImport without =
      MustImport("## Resolution\n\nRolled back.\n\nMitigation steps:\n");
  EXPECT_EQ(without.postmortem.resolution(),
            "Rolled back.\n\nMitigation steps:");
}

TEST(MarkdownImportTest, UnknownSectionsKeepTheirBackslashes) {
  const MarkdownImport import =
      MustImport("# T\n\n## Weather\n\n\\- verbatim\n");
  EXPECT_EQ(import.postmortem.narrative(), "## Weather\n\n\\- verbatim");
}

TEST(MarkdownImportTest, TableCellEscapesAreUndone) {
  const MarkdownImport import = MustImport(
      "## Action items\n\n| Action | Owner |\n| --- | --- |\n"
      "| Split a \\| b<br>then R&D &amp;amp; ops &amp;lt; x | team\\|x |\n"
      "| one<br/>two<br />three &lt;br&gt; | ops |\n");
  ASSERT_EQ(import.postmortem.action_items_size(), 2);
  EXPECT_EQ(import.postmortem.action_items(0).description(),
            "Split a | b\nthen R&D &amp; ops &lt; x");
  EXPECT_EQ(import.postmortem.action_items(0).owner(), "team|x");
  EXPECT_EQ(import.postmortem.action_items(1).description(),
            "one\ntwo\nthree <br>");
}

TEST(MarkdownImportTest, UnknownSectionIsKeptInNarrativeAndReported) {
  const MarkdownImport import = MustImport("# T\n\n## Weather\n\nSunny.\n");
  EXPECT_THAT(import.postmortem.narrative(), HasSubstr("Sunny."));
  ASSERT_TRUE(HasNote(import, "no field for section 'Weather'"));
  EXPECT_EQ(import.unmapped[0].line, 3);
  EXPECT_EQ(import.unmapped[0].section, "Weather");
}

TEST(MarkdownImportTest, TimelineTableColumnsInAnyOrderWithExtras) {
  const MarkdownImport import = MustImport(
      "## Timeline\n\n| What | Who | When |\n|--|--|--|\n"
      "| Paged | bot | 2020-02-03 11:21 |\n");
  ASSERT_EQ(import.postmortem.timeline_size(), 1);
  EXPECT_EQ(import.postmortem.timeline(0).description(), "Paged; Who: bot");
  EXPECT_EQ(import.postmortem.timeline(0).at().seconds(),
            Utc(2020, 2, 3, 11, 21));
}

TEST(MarkdownImportTest, TimelineBulletsInAssortedFormats) {
  const MarkdownImport import = MustImport(
      "---\nstarted_at: 2020-02-03T09:00:00Z\n---\n## Timeline\n\n"
      "- 11:21 first\n"
      "- **2020-02-04 11:21** - second\n"
      "* 14:05 UTC: third\n"
      "- 15:00 CET fourth\n"
      "- 16:00 CEST: fifth\n"
      "- 17:00 PST: sixth\n"
      "- 18:00 IST: seventh\n"
      "- no time here\n");
  const v1::Postmortem& pm = import.postmortem;
  ASSERT_EQ(pm.timeline_size(), 8);
  EXPECT_EQ(pm.timeline(0).at().seconds(), Utc(2020, 2, 3, 11, 21));
  EXPECT_EQ(pm.timeline(0).description(), "first");
  EXPECT_EQ(pm.timeline(1).at().seconds(), Utc(2020, 2, 4, 11, 21));
  EXPECT_EQ(pm.timeline(1).description(), "second");
  EXPECT_EQ(pm.timeline(2).at().seconds(), Utc(2020, 2, 4, 14, 5));
  EXPECT_EQ(pm.timeline(2).description(), "third");
  EXPECT_EQ(pm.timeline(3).at().seconds(), Utc(2020, 2, 4, 14, 0));
  EXPECT_EQ(pm.timeline(4).at().seconds(), Utc(2020, 2, 4, 14, 0));
  // 17:00 PST (-8) is 01:00 UTC the next day.
  EXPECT_EQ(pm.timeline(5).at().seconds(), Utc(2020, 2, 5, 1, 0));
  EXPECT_EQ(pm.timeline(5).description(), "sixth");
  // IST is India, Ireland or Israel: not guessed.
  EXPECT_FALSE(pm.timeline(6).has_at());
  EXPECT_THAT(pm.timeline(6).description(), HasSubstr("seventh"));
  EXPECT_TRUE(HasNote(import, "time zone 'IST' not supported"));
  EXPECT_FALSE(pm.timeline(7).has_at());
  EXPECT_TRUE(HasNote(import, "timeline entry without a time"));
}

// The times of `import`'s timeline, 0 where unset.
std::vector<int64_t> TimesOf(const MarkdownImport& import) {
  std::vector<int64_t> times;
  for (const v1::TimelineEvent& event : import.postmortem.timeline()) {
    times.push_back(event.has_at() ? event.at().seconds() : 0);
  }
  return times;
}

TEST(MarkdownImportTest, TimelineBulletsWithMonthNamesAndOtherSeparators) {
  const MarkdownImport import = MustImport(
      "## Timeline\n\n"
      "- 17 Nov 2023 06:10: one\n"
      "- 17 November 2023 06:11 - two\n"
      "- Nov 17 2023 06:12 three\n"
      "- **Nov 17, 2023 06:13** - four\n"
      "- November 17, 2023, 06:14: five\n"
      "- 2023/11/17 06:15: six\n"
      "- 2023.11.17 06:16: seven\n"
      "- 18 SEPT. 2023 06:17: eight\n"
      "- sep 19 2023 06:18:42: nine\n"
      "- 20 Nov 2023: ten\n"
      "- Dec 1, 2023 - eleven\n"
      "- 2023/12/02: twelve\n");
  EXPECT_THAT(TimesOf(import),
              ElementsAre(Utc(2023, 11, 17, 6, 10), Utc(2023, 11, 17, 6, 11),
                          Utc(2023, 11, 17, 6, 12), Utc(2023, 11, 17, 6, 13),
                          Utc(2023, 11, 17, 6, 14), Utc(2023, 11, 17, 6, 15),
                          Utc(2023, 11, 17, 6, 16), Utc(2023, 9, 18, 6, 17),
                          Utc(2023, 9, 19, 6, 18) + 42, Utc(2023, 11, 20, 0, 0),
                          Utc(2023, 12, 1, 0, 0), Utc(2023, 12, 2, 0, 0)));
  const v1::Postmortem& pm = import.postmortem;
  EXPECT_EQ(pm.timeline(0).description(), "one");
  EXPECT_EQ(pm.timeline(2).description(), "three");
  EXPECT_EQ(pm.timeline(3).description(), "four");
  EXPECT_EQ(pm.timeline(4).description(), "five");
  EXPECT_EQ(pm.timeline(10).description(), "eleven");
  EXPECT_FALSE(HasNote(import, "timeline"));
}

TEST(MarkdownImportTest, TimelineTableCellsWithMonthNamesAndSlashes) {
  const MarkdownImport import = MustImport(
      "## Timeline\n\n| Time | Event |\n|---|---|\n"
      "| 17 Nov 2023 06:10 | a |\n"
      "| November 17, 2023, 06:10:42 | b |\n"
      "| Nov 17, 2023 6:10 PM | c |\n"
      "| 2023.11.17 | d |\n"
      "| 2023/11/18 06:10 UTC+2 | e |\n");
  EXPECT_THAT(
      TimesOf(import),
      ElementsAre(Utc(2023, 11, 17, 6, 10), Utc(2023, 11, 17, 6, 10) + 42,
                  Utc(2023, 11, 17, 18, 10), Utc(2023, 11, 17, 0, 0),
                  Utc(2023, 11, 18, 4, 10)));
  EXPECT_EQ(import.postmortem.timeline(2).description(), "c");
  EXPECT_FALSE(HasNote(import, "timeline"));
}

TEST(MarkdownImportTest, TwelveHourClockWithAndWithoutADate) {
  const MarkdownImport import = MustImport(
      "---\nstarted_at: 2023-11-17T00:00:00Z\n---\n## Timeline\n\n"
      "- 12:05 AM: just after midnight\n"
      "- 6:10 AM: morning\n"
      "- 06:10 a.m. - dotted\n"
      "- 12:30 PM noon\n"
      "- 6:10pm: evening\n"
      "- 18 Nov 2023 6:10 P.M.: next day\n"
      "- 11:59:30 pm: carried day\n");
  EXPECT_THAT(TimesOf(import),
              ElementsAre(Utc(2023, 11, 17, 0, 5), Utc(2023, 11, 17, 6, 10),
                          Utc(2023, 11, 17, 6, 10), Utc(2023, 11, 17, 12, 30),
                          Utc(2023, 11, 17, 18, 10), Utc(2023, 11, 18, 18, 10),
                          Utc(2023, 11, 18, 23, 59) + 30));
  EXPECT_EQ(import.postmortem.timeline(2).description(), "dotted");
  EXPECT_EQ(import.postmortem.timeline(3).description(), "noon");
}

TEST(MarkdownImportTest, ThirteenPmIsNotReadAsAClock) {
  const MarkdownImport import =
      MustImport("## Timeline\n\n- 2023-11-17 13:10 PM: odd\n");
  ASSERT_EQ(import.postmortem.timeline_size(), 1);
  EXPECT_EQ(import.postmortem.timeline(0).at().seconds(),
            Utc(2023, 11, 17, 0, 0));
  EXPECT_EQ(import.postmortem.timeline(0).description(), "13:10 PM: odd");
}

TEST(MarkdownImportTest, FixedOffsetZoneNamesAndNumericOffsets) {
  const MarkdownImport import = MustImport(
      "## Timeline\n\n"
      "- 2023-11-17 06:00 PDT: pdt\n"
      "- 2023-11-17 06:00 MST: mst\n"
      "- 2023-11-17 06:00 MDT: mdt\n"
      "- 2023-11-17 06:00 EST: est\n"
      "- 2023-11-17 06:00 EDT: edt\n"
      "- 2023-11-17 06:00 BST: bst\n"
      "- 2023-11-17 06:00 +02:00: plus colon\n"
      "- 2023-11-17 06:00 -0500: minus four digits\n"
      "- 2023-11-17 06:00+0530: glued\n"
      "- 2023-11-17 06:00 UTC+2: utc plus\n"
      "- 2023-11-17 06:00 GMT-5: gmt minus\n"
      "- 2023-11-17 06:00 PST: pst\n"
      "- 2023-11-17 06:00 CST: cst\n"
      "- 2023-11-17 06:00 - 07:00: a range, not an offset\n");
  EXPECT_THAT(TimesOf(import),
              ElementsAre(Utc(2023, 11, 17, 13, 0), Utc(2023, 11, 17, 13, 0),
                          Utc(2023, 11, 17, 12, 0), Utc(2023, 11, 17, 11, 0),
                          Utc(2023, 11, 17, 10, 0), Utc(2023, 11, 17, 5, 0),
                          Utc(2023, 11, 17, 4, 0), Utc(2023, 11, 17, 11, 0),
                          Utc(2023, 11, 17, 0, 30), Utc(2023, 11, 17, 4, 0),
                          Utc(2023, 11, 17, 11, 0), Utc(2023, 11, 17, 14, 0), 0,
                          Utc(2023, 11, 17, 6, 0)));
  const v1::Postmortem& pm = import.postmortem;
  EXPECT_EQ(pm.timeline(6).description(), "plus colon");
  EXPECT_EQ(pm.timeline(9).description(), "utc plus");
  // CST is US Central, China or Cuba: not guessed.
  EXPECT_TRUE(HasNote(import, "time zone 'CST' not supported"));
  EXPECT_EQ(pm.timeline(13).description(), "07:00: a range, not an offset");
}

TEST(MarkdownImportTest, GluedRangeWithAnOpenEndIsNoOffset) {
  const MarkdownImport import = MustImport(
      "## Timeline\n\n| Time | Event |\n|--|--|\n"
      "| 2022-08-03 12:26-12:?? | fix deployed |\n"
      "| 2022-08-03 12:30-04:00 | offset |\n");
  EXPECT_THAT(TimesOf(import),
              ElementsAre(Utc(2022, 8, 3, 12, 26), Utc(2022, 8, 3, 16, 30)));
}

TEST(MarkdownImportTest, ZoneNoteWithAnOffsetAppliesToTheTable) {
  const MarkdownImport import = MustImport(
      "## Timeline\n\nAll times are PST.\n\n| Time | Event |\n|--|--|\n"
      "| 17 Nov 2023 06:10 | a |\n");
  EXPECT_THAT(TimesOf(import), ElementsAre(Utc(2023, 11, 17, 14, 10)));
  const MarkdownImport offset = MustImport(
      "## Timeline\n\n| Time (UTC+2) | Event |\n|--|--|\n"
      "| 17 Nov 2023 06:10 | a |\n");
  EXPECT_THAT(TimesOf(offset), ElementsAre(Utc(2023, 11, 17, 4, 10)));
}

TEST(MarkdownImportTest, DayFirstNumericDatesAreNotGuessed) {
  const MarkdownImport import = MustImport(
      "## Timeline\n\n- 17/11/2023 06:10: bullet\n- 11.05.2023: dotted\n\n"
      "| Time | Event |\n|--|--|\n| 17/11/2023 06:10 | row |\n");
  const v1::Postmortem& pm = import.postmortem;
  ASSERT_EQ(pm.timeline_size(), 3);
  for (const v1::TimelineEvent& event : pm.timeline()) {
    EXPECT_FALSE(event.has_at()) << event.description();
  }
  EXPECT_EQ(pm.timeline(0).description(), "17/11/2023 06:10: bullet");
  EXPECT_THAT(pm.timeline(2).description(), HasSubstr("17/11/2023 06:10"));
  EXPECT_TRUE(HasNote(import, "timeline time '17/11/2023' not understood"));
  EXPECT_TRUE(HasNote(import, "timeline time '11.05.2023' not understood"));
  EXPECT_TRUE(
      HasNote(import, "timeline time '17/11/2023 06:10' not understood"));
  EXPECT_TRUE(HasNote(import, "day-first or month-first"));
}

TEST(MarkdownImportTest, FrontMatterTimesWithMonthNames) {
  const MarkdownImport import =
      MustImport("---\nstarted_at: 17 Nov 2023 6:10 PM EST\n---\n# T\n");
  EXPECT_EQ(import.postmortem.started_at().seconds(),
            Utc(2023, 11, 17, 23, 10));
}

TEST(MarkdownImportTest, WriteUpWithMonthNameTimesStartsAtTheFirstOne) {
  const MarkdownImport import = MustImport(
      "# Label printers offline\n## Summary\nPrinters stopped.\n"
      "## Timeline\n"
      "- 17 Nov 2023 06:10 UTC: firmware pushed\n"
      "- 17 Nov 2023 06:14 UTC: first report\n"
      "- 17 Nov 2023 07:00 UTC: rolled back\n");
  const v1::Postmortem& pm = import.postmortem;
  EXPECT_EQ(pm.title(), "Label printers offline");
  EXPECT_EQ(pm.summary(), "Printers stopped.");
  EXPECT_EQ(pm.started_at().seconds(), Utc(2023, 11, 17, 6, 10));
  EXPECT_THAT(TimesOf(import),
              ElementsAre(Utc(2023, 11, 17, 6, 10), Utc(2023, 11, 17, 6, 14),
                          Utc(2023, 11, 17, 7, 0)));
  EXPECT_EQ(pm.timeline(1).description(), "first report");
  EXPECT_FALSE(HasNote(import, "timeline"));
  EXPECT_FALSE(HasNote(import, "no start time"));
}

TEST(MarkdownImportTest, ZoneNoteAboveTheTableApplies) {
  const MarkdownImport import = MustImport(
      "## Timeline\n\nAll times in CET.\n\n| Time | Event |\n| :-- | --- |\n"
      "| 2020-01-20 13:50 | disk full |\n| 2020-01-20 --:-- | unknown |\n"
      "| 2020-01-20 14:00 - 15:00 | a range |\n| ~2020-01-20 16:00 | about "
      "|\n");
  const v1::Postmortem& pm = import.postmortem;
  ASSERT_EQ(pm.timeline_size(), 4);
  EXPECT_EQ(pm.timeline(2).at().seconds(), Utc(2020, 1, 20, 13, 0));
  EXPECT_EQ(pm.timeline(2).description(), "a range");
  EXPECT_EQ(pm.timeline(3).at().seconds(), Utc(2020, 1, 20, 15, 0));
  EXPECT_EQ(pm.timeline(0).at().seconds(), Utc(2020, 1, 20, 12, 50));
  EXPECT_FALSE(pm.timeline(1).has_at());
  EXPECT_THAT(pm.timeline(1).description(), HasSubstr("unknown"));
  EXPECT_TRUE(HasNote(import, "not understood"));
  // Without front matter the first timeline time is the start.
  EXPECT_EQ(pm.started_at().seconds(), Utc(2020, 1, 20, 12, 50));
}

TEST(MarkdownImportTest, ActionItemTablesWithDifferingColumns) {
  const MarkdownImport import = MustImport(
      "## Follow-ups\n\n"
      "| State | Task | Assignee | Deadline | Type | Notes |\n"
      "|---|---|---|---|---|---|\n"
      "| done | Add alert | sre | 2024-01-02 | detect | easy |\n"
      "| In progress | Fix pool | | soon | | |\n");
  const v1::Postmortem& pm = import.postmortem;
  ASSERT_EQ(pm.action_items_size(), 2);
  EXPECT_EQ(pm.action_items(0).description(), "Add alert; Notes: easy");
  EXPECT_EQ(pm.action_items(0).owner(), "sre");
  EXPECT_EQ(pm.action_items(0).due_date(), "2024-01-02");
  EXPECT_EQ(pm.action_items(0).status(), v1::ActionItem::DONE);
  EXPECT_EQ(pm.action_items(0).kind(), v1::ActionItem::DETECT);
  EXPECT_EQ(pm.action_items(1).status(), v1::ActionItem::IN_PROGRESS);
  EXPECT_EQ(pm.action_items(1).owner(), "");
  EXPECT_TRUE(HasNote(import, "action item without an owner"));
  EXPECT_TRUE(HasNote(import, "due date 'soon'"));
}

TEST(MarkdownImportTest, ActionItemCheckboxesAndNestedBullets) {
  const MarkdownImport import = MustImport(
      "## Action Items\n\n- [x] shipped\n- [ ] pending\n  - detail\n- plain\n");
  const v1::Postmortem& pm = import.postmortem;
  ASSERT_EQ(pm.action_items_size(), 3);
  EXPECT_EQ(pm.action_items(0).status(), v1::ActionItem::DONE);
  EXPECT_EQ(pm.action_items(1).status(), v1::ActionItem::OPEN);
  EXPECT_EQ(pm.action_items(1).description(), "pending; detail");
  EXPECT_EQ(pm.action_items(2).status(), v1::ActionItem::STATUS_UNSPECIFIED);
}

TEST(MarkdownImportTest, RaggedTableRowIsAnErrorWithItsLine) {
  EXPECT_EQ(ErrorOf("## Action items\n\n| Action | Owner |\n|---|---|\n"
                    "| a | b | c |\n"),
            "line 5: table row has 3 cells; the header has 2");
  // A short row is padded.
  const MarkdownImport import =
      MustImport("## Action items\n\n| Action | Owner |\n|---|---|\n| a |\n");
  ASSERT_EQ(import.postmortem.action_items_size(), 1);
  EXPECT_EQ(import.postmortem.action_items(0).owner(), "");
}

TEST(MarkdownImportTest, FrontMatterErrorsNameTheLine) {
  EXPECT_EQ(ErrorOf("---\ntitle: x\nseverity: SEV9\n---\n"),
            "line 3: severity: unknown value 'SEV9' (SEV1 .. SEV5)");
  EXPECT_EQ(ErrorOf("---\nstarted_at: {{DATE}}T00:00:00Z\n---\n"),
            "line 2: started_at: cannot read time '{{DATE}}T00:00:00Z'");
  EXPECT_EQ(ErrorOf("---\nstarted_at: 2024-02-30T00:00:00Z\n---\n"),
            "line 2: started_at: cannot read time '2024-02-30T00:00:00Z'");
  EXPECT_EQ(ErrorOf("---\nstatus: FINAL\n---\n"),
            "line 2: status: unknown value 'FINAL' (DRAFT, IN_REVIEW or "
            "PUBLISHED)");
  EXPECT_EQ(ErrorOf("---\njust words\n---\n"),
            "line 2: front matter: expected 'key: value'");
}

TEST(MarkdownImportTest, UnknownFrontMatterKeyIsReported) {
  const MarkdownImport import = MustImport("---\nmood: calm\n---\n# T\n");
  ASSERT_EQ(import.unmapped.size(), 2u);  // the key, and no start time
  EXPECT_EQ(import.unmapped[0].line, 2);
  EXPECT_EQ(import.unmapped[0].reason, "no field for front matter key 'mood'");
}

TEST(MarkdownImportTest, UnterminatedFrontMatterIsAnError) {
  EXPECT_EQ(ErrorOf("---\ntitle: x\n\n# Heading\n"),
            "line 1: front matter block is not terminated (no closing '---')");
}

TEST(MarkdownImportTest, BinaryDataIsAnErrorWithItsLine) {
  EXPECT_EQ(ErrorOf(absl::string_view("# T\n\nab\0c\n", 9)),
            "line 3: binary data (a NUL byte)");
  EXPECT_EQ(ErrorOf("# T\nok\n\xff\xfe\n"),
            "line 3: binary data (invalid UTF-8)");
}

TEST(MarkdownImportTest, FiveMegabyteDocumentIsRefused) {
  const std::string big(5 * 1000 * 1000, 'a');
  EXPECT_THAT(ErrorOf(big), HasSubstr("limit is 1048576"));
  EXPECT_THAT(ErrorOf(big), ::testing::Not(HasSubstr("line")));
}

// Every prefix and some mutations of a real document import or fail cleanly.
TEST(MarkdownImportTest, NeverCrashesOnTruncatedOrMangledInput) {
  const std::string doc = kFilledTemplate;
  for (size_t n = 0; n <= doc.size(); n += 7) {
    (void)ImportMarkdown(absl::string_view(doc).substr(0, n));
  }
  std::string mangled = doc;
  for (size_t i = 0; i < mangled.size(); i += 13) {
    mangled[i] = "|-#*`:[\n "[i % 9];
    (void)ImportMarkdown(mangled);
  }
  // Documents built from Markdown's special characters, a deterministic
  // pseudo-random sequence.
  const std::vector<std::string> pieces = {"---\n",
                                           "# ",
                                           "## Timeline\n",
                                           "## Action items\n",
                                           "| ",
                                           " |",
                                           "\n",
                                           "- ",
                                           "  - ",
                                           "1. ",
                                           "```\n",
                                           "2020-02-03 ",
                                           "11:21 ",
                                           "CET ",
                                           "~",
                                           "[x] ",
                                           "title: ",
                                           "[a, b]",
                                           "\"",
                                           "#",
                                           ":",
                                           "\xC3\xA9",
                                           "?",
                                           " "};
  uint32_t state = 12345;
  for (int doc_index = 0; doc_index < 3000; ++doc_index) {
    std::string random_doc;
    for (int k = 0; k < 40; ++k) {
      state = state * 1103515245 + 12345;
      random_doc += pieces[(state >> 16) % pieces.size()];
    }
    (void)ImportMarkdown(random_doc);
  }
  (void)ImportMarkdown("");
  (void)ImportMarkdown("---");
  (void)ImportMarkdown("|");
  (void)ImportMarkdown("- ");
  (void)ImportMarkdown("```");
}

// ------------------------------------------------- the DFDS corpus

std::filesystem::path DfdsDir() {
  const char* env = std::getenv("DEJA_DFDS_DIR");
  return env != nullptr ? env : "/work/shared/corpus/dfds-markdown";
}

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// An independent count: table data rows or top-level bullets under the first
// heading whose text starts with `heading` (case-insensitive).
int CountEntries(const std::string& doc, absl::string_view heading) {
  int count = 0;
  bool inside = false;
  bool table_header_seen = false;
  for (absl::string_view line : absl::StrSplit(doc, '\n')) {
    if (absl::StartsWith(line, "#")) {
      if (inside) break;
      absl::string_view text = absl::StripLeadingAsciiWhitespace(
          absl::StripLeadingAsciiWhitespace(line).substr(line.find(' ') + 1));
      inside = absl::StartsWithIgnoreCase(text, heading);
      continue;
    }
    if (!inside) continue;
    if (absl::StartsWith(line, "|")) {
      if (!table_header_seen) {
        table_header_seen = true;
      } else if (!absl::StartsWith(line, "|:") &&
                 !absl::StartsWith(line, "| :") &&
                 !absl::StartsWith(line, "|--") &&
                 !absl::StartsWith(line, "| -")) {
        ++count;
      }
    } else if (absl::StartsWith(line, "- ") || absl::StartsWith(line, "* ")) {
      ++count;
    }
  }
  return count;
}

TEST(MarkdownImportTest, ImportsEveryDfdsPostmortem) {
  const std::filesystem::path dir = DfdsDir();
  ASSERT_TRUE(std::filesystem::is_directory(dir))
      << "DFDS corpus not found at " << dir
      << "; set DEJA_DFDS_DIR to the folder of Markdown postmortems";
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() == ".md") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  ASSERT_EQ(files.size(), 38u);

  std::printf("%-14s %9s %8s %8s %8s %8s %9s\n", "file", "timeline", "(timed)",
              "factors", "actions", "lessons", "unmapped");
  for (const auto& path : files) {
    const std::string name = path.filename().string();
    SCOPED_TRACE(name);
    const std::string doc = ReadFile(path);
    absl::StatusOr<MarkdownImport> result = ImportMarkdown(doc);
    ASSERT_TRUE(result.ok()) << result.status();
    const v1::Postmortem& pm = result->postmortem;
    EXPECT_FALSE(pm.title().empty());
    EXPECT_FALSE(pm.summary().empty());
    // PM2020-003 writes its years as "20202": no start time, reported.
    EXPECT_TRUE(pm.has_started_at() || HasNote(*result, "no start time"));
    EXPECT_EQ(pm.timeline_size(), CountEntries(doc, "Timeline"));
    EXPECT_EQ(pm.contributing_factors_size(),
              CountEntries(doc, "Contributing Factors"));
    EXPECT_EQ(pm.action_items_size(), CountEntries(doc, "Action Items"));
    EXPECT_GT(pm.timeline_size(), 0);
    EXPECT_GT(pm.action_items_size(), 0);
    // Action items have no owner in this format; each is reported.
    int ownerless = 0;
    for (const UnmappedPart& part : result->unmapped) {
      ownerless += part.reason == "action item without an owner";
    }
    EXPECT_EQ(ownerless, pm.action_items_size());
    // A Stats value that has no field ("?", "N/A") is reported.
    for (absl::string_view stat :
         {"Time to detection: ?", "Time to detection: N/A",
          "Time to recovery: ?", "Time to recovery: N/A"}) {
      if (absl::StrContains(doc, stat)) {
        EXPECT_TRUE(HasNote(*result, "not understood")) << stat;
      }
    }
    // The Stats category becomes a tag.
    if (absl::StrContains(doc, "- Category: Kubernetes\n")) {
      EXPECT_THAT(pm.tags(), ::testing::Contains("kubernetes"));
    }
    EXPECT_EQ(pm.tags_size(), absl::StrContains(doc, "- Category:") ? 1 : 0);
    int timed = 0;
    for (const auto& event : pm.timeline()) timed += event.has_at();
    const int lessons = pm.lessons().went_well_size() +
                        pm.lessons().went_wrong_size() +
                        pm.lessons().got_lucky_size();
    std::printf("%-14s %9d %8d %8d %8d %8d %9zu\n",
                name.substr(0, name.find(' ')).c_str(), pm.timeline_size(),
                timed, pm.contributing_factors_size(), pm.action_items_size(),
                lessons, result->unmapped.size());
    // DEJA_SHOW_UNMAPPED=1 lists what each file could not map.
    if (std::getenv("DEJA_SHOW_UNMAPPED") != nullptr) {
      for (const UnmappedPart& part : result->unmapped) {
        std::printf("    line %d [%s] %s\n", part.line, part.section.c_str(),
                    part.reason.c_str());
      }
    }
  }
}

}  // namespace
}  // namespace deja
