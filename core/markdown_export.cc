#include "core/markdown_export.h"

#include <google/protobuf/duration.pb.h>
#include <google/protobuf/timestamp.pb.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"

namespace deja {

// Defined in the file generated from docs/postmortem-template.md
// (core/embed_template.cmake).
namespace template_internal {
extern const char kPostmortemTemplate[];
}  // namespace template_internal

namespace {

// ------------------------------------------------------------------ values

absl::Time ToTime(const google::protobuf::Timestamp& at) {
  return absl::FromUnixSeconds(at.seconds());
}

std::string Rfc3339(const google::protobuf::Timestamp& at) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", ToTime(at),
                          absl::UTCTimeZone());
}

// "2023-01-09 10:42", with ":SS" only when the seconds are not zero.
std::string TimelineTime(const google::protobuf::Timestamp& at) {
  const absl::Time time = ToTime(at);
  const bool has_seconds = at.seconds() % 60 != 0;
  return absl::FormatTime(has_seconds ? "%Y-%m-%d %H:%M:%S" : "%Y-%m-%d %H:%M",
                          time, absl::UTCTimeZone());
}

std::string Day(const google::protobuf::Timestamp& at) {
  return absl::FormatTime("%Y-%m-%d", ToTime(at), absl::UTCTimeZone());
}

// "1h53m", "45m", "30s", "2h0m5s": what ParseDuration in the importer reads.
std::string DurationText(const google::protobuf::Duration& duration) {
  const int64_t total = duration.seconds();
  const int64_t hours = total / 3600, minutes = total / 60 % 60,
                seconds = total % 60;
  std::string out;
  if (hours > 0) absl::StrAppend(&out, hours, "h");
  if (hours > 0 || minutes > 0) absl::StrAppend(&out, minutes, "m");
  if (seconds > 0 || out.empty()) absl::StrAppend(&out, seconds, "s");
  return out;
}

// ------------------------------------------------------------ front matter

// Plain YAML scalars are kept for readability; anything YAML or the importer
// would misread (a comment mark, quotes, a flow indicator, edge whitespace,
// control characters) is double-quoted.
bool NeedsQuotes(absl::string_view value, bool in_flow_list) {
  if (value.empty()) return true;
  if (value.front() == ' ' || value.back() == ' ') return true;
  if (absl::StrContains("[]{}&*!|>%@`'\"-?:,", value.front())) return true;
  for (size_t i = 0; i < value.size(); ++i) {
    const char c = value[i];
    if (c == '"' || c == '\\' || static_cast<unsigned char>(c) < 0x20) {
      return true;
    }
    if (c == '#' && i > 0 && (value[i - 1] == ' ' || value[i - 1] == '\t')) {
      return true;
    }
    if (in_flow_list && (c == ',' || c == '[' || c == ']' || c == '\'')) {
      return true;
    }
  }
  return false;
}

std::string YamlScalar(absl::string_view value, bool in_flow_list = false) {
  if (!NeedsQuotes(value, in_flow_list)) return std::string(value);
  std::string out = "\"";
  for (char c : value) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        out += c;
    }
  }
  out += '"';
  return out;
}

std::string YamlList(
    const google::protobuf::RepeatedPtrField<std::string>& items) {
  std::vector<std::string> quoted;
  for (const std::string& item : items) {
    quoted.push_back(YamlScalar(item, /*in_flow_list=*/true));
  }
  return absl::StrCat("[", absl::StrJoin(quoted, ", "), "]");
}

void AppendFrontMatter(const v1::Postmortem& pm, std::string* out) {
  out->append("---\n");
  if (!pm.id().empty()) {
    absl::StrAppend(out, "# id: ", absl::StrReplaceAll(pm.id(), {{"\n", " "}}),
                    " (assigned by Deja; not read on import)\n");
  }
  if (pm.version() != 0) {
    absl::StrAppend(out, "# version: ", pm.version(), "\n");
  }
  auto scalar = [&](absl::string_view key, absl::string_view value) {
    if (!value.empty())
      absl::StrAppend(out, key, ": ", YamlScalar(value), "\n");
  };
  auto list =
      [&](absl::string_view key,
          const google::protobuf::RepeatedPtrField<std::string>& items) {
        if (!items.empty())
          absl::StrAppend(out, key, ": ", YamlList(items), "\n");
      };
  auto time = [&](absl::string_view key, bool has,
                  const google::protobuf::Timestamp& at) {
    if (has) absl::StrAppend(out, key, ": ", Rfc3339(at), "\n");
  };
  scalar("title", pm.title());
  scalar("team", pm.team());
  if (pm.severity() != v1::SEVERITY_UNSPECIFIED) {
    scalar("severity", v1::Severity_Name(pm.severity()));
  }
  if (pm.status() != v1::Postmortem::STATUS_UNSPECIFIED) {
    scalar("status", v1::Postmortem::Status_Name(pm.status()));
  }
  list("services", pm.services());
  list("tags", pm.tags());
  time("started_at", pm.has_started_at(), pm.started_at());
  time("detected_at", pm.has_detected_at(), pm.detected_at());
  time("mitigated_at", pm.has_mitigated_at(), pm.mitigated_at());
  time("resolved_at", pm.has_resolved_at(), pm.resolved_at());
  if (pm.detection().source() != v1::Detection::SOURCE_UNSPECIFIED) {
    scalar("detection_source",
           v1::Detection::Source_Name(pm.detection().source()));
  }
  if (!pm.participants().empty()) {
    out->append("participants:\n");
    for (const v1::Participant& participant : pm.participants()) {
      // The first key starts the item even when the name is empty.
      absl::StrAppend(out, "  - name: ", YamlScalar(participant.name()), "\n");
      if (!participant.role().empty()) {
        absl::StrAppend(out, "    role: ", YamlScalar(participant.role()),
                        "\n");
      }
      if (participant.facilitator()) out->append("    facilitator: true\n");
    }
  }
  list("recurrence_of", pm.recurrence_of());
  scalar("external_id", pm.external_id());
  scalar("source_url", pm.source_url());
  out->append("---\n");
}

// ------------------------------------------------------------------ body

bool IsAllOf(absl::string_view text, char c) {
  return !text.empty() &&
         std::all_of(text.begin(), text.end(), [c](char x) { return x == c; });
}

// True when a line of prose would be read as Markdown structure: a heading,
// a fence, a table row, a thematic break or front matter fence, a list item,
// a link definition, or our own escape.
bool LooksLikeStructure(absl::string_view line) {
  absl::string_view t = absl::StripLeadingAsciiWhitespace(line);
  if (t.empty()) return false;
  const char first = t.front();
  if (first == '#' || first == '|' || first == '\\' ||
      absl::StartsWith(t, "```") || absl::StartsWith(t, "~~~")) {
    return true;
  }
  const std::string squeezed = absl::StrReplaceAll(t, {{" ", ""}});
  if (squeezed.size() >= 3 &&
      (IsAllOf(squeezed, '-') || IsAllOf(squeezed, '*') ||
       IsAllOf(squeezed, '_'))) {
    return true;
  }
  if ((first == '-' || first == '*' || first == '+') &&
      (t.size() == 1 || t[1] == ' ' || t[1] == '\t')) {
    return true;
  }
  if (first == '[' && absl::StrContains(t, "]:")) return true;
  size_t digits = 0;
  while (digits < t.size() && absl::ascii_isdigit(t[digits])) ++digits;
  return digits > 0 && digits + 1 < t.size() &&
         (t[digits] == '.' || t[digits] == ')') &&
         (t[digits + 1] == ' ' || t[digits + 1] == '\t');
}

// Prose as Markdown lines: structure-looking lines get a leading "\".
std::string Prose(absl::string_view text) {
  std::vector<std::string> lines;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    lines.push_back(LooksLikeStructure(line) ? absl::StrCat("\\", line)
                                             : std::string(line));
  }
  return absl::StrJoin(lines, "\n");
}

// Text inside a list item: continuation lines are indented under the item.
std::string ItemText(absl::string_view text) {
  return absl::StrReplaceAll(text, {{"\n", "\n  "}});
}

// Whether `text` starts with a tag the importer reads as a line break in a
// table cell: <br>, <br/> or <br /> (any letter case).
bool IsLineBreakTag(absl::string_view text) {
  for (absl::string_view tag : {"<br>", "<br/>", "<br />"}) {
    if (text.size() >= tag.size() &&
        absl::EqualsIgnoreCase(text.substr(0, tag.size()), tag)) {
      return true;
    }
  }
  return false;
}

std::string TableCell(absl::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '|') {
      out += "\\|";
    } else if (c == '\n') {
      out += "<br>";
    } else if (c == '\r') {
      // dropped: a cell is one line
    } else if (c == '<' && IsLineBreakTag(text.substr(i))) {
      out += "&lt;";  // a literal "<br>" must not read back as a newline
    } else if (c == '&') {
      // Only an "&" that the importer would decode as an entity needs it.
      const absl::string_view rest = text.substr(i + 1);
      bool entity = false;
      for (absl::string_view name :
           {"amp;", "lt;", "gt;", "quot;", "#39;", "nbsp;"}) {
        entity = entity || absl::StartsWith(rest, name);
      }
      out += entity ? "&amp;" : "&";
    } else {
      out += c;
    }
  }
  return out;
}

std::string TableRow(const std::vector<std::string>& cells) {
  std::vector<std::string> escaped;
  for (const std::string& cell : cells) escaped.push_back(TableCell(cell));
  return absl::StrCat("| ", absl::StrJoin(escaped, " | "), " |\n");
}

void StartSection(absl::string_view heading, std::string* out) {
  absl::StrAppend(out, "\n## ", heading, "\n\n");
}

void AppendBullets(const google::protobuf::RepeatedPtrField<std::string>& items,
                   std::string* out) {
  for (const std::string& item : items) {
    absl::StrAppend(out, "- ", ItemText(item), "\n");
  }
}

void AppendImpact(const v1::Impact& impact, std::string* out) {
  const bool has_duration =
      impact.has_duration() && impact.duration().seconds() > 0;
  if (impact.description().empty() && impact.users_affected() <= 0 &&
      !has_duration) {
    return;
  }
  StartSection("Impact", out);
  if (!impact.description().empty()) {
    absl::StrAppend(out, Prose(impact.description()), "\n");
    if (impact.users_affected() > 0 || has_duration) out->append("\n");
  }
  if (impact.users_affected() > 0) {
    absl::StrAppend(out, "- Users affected: ", impact.users_affected(), "\n");
  }
  if (has_duration) {
    absl::StrAppend(out, "- Duration: ", DurationText(impact.duration()), "\n");
  }
}

void AppendTimeline(const v1::Postmortem& pm, std::string* out) {
  if (pm.timeline().empty()) return;
  StartSection("Timeline", out);
  out->append("| Time | Event |\n| --- | --- |\n");
  for (const v1::TimelineEvent& event : pm.timeline()) {
    out->append(TableRow(
        {event.has_at() ? TimelineTime(event.at()) : "", event.description()}));
  }
}

void AppendWhys(const v1::Postmortem& pm, std::string* out) {
  if (pm.whys().empty()) return;
  StartSection("5 Whys", out);
  int number = 0;
  for (const v1::Why& why : pm.whys()) {
    std::string text = why.question();
    if (!text.empty() && !why.answer().empty()) text += ' ';
    text += why.answer();
    absl::StrAppend(out, ++number, ". ", ItemText(text), "\n");
  }
}

void AppendRootCauses(const v1::Postmortem& pm, std::string* out) {
  if (pm.root_causes().empty()) return;
  StartSection("Root causes", out);
  for (const v1::RootCause& cause : pm.root_causes()) {
    out->append("- ");
    if (cause.category() != v1::RootCause::CATEGORY_UNSPECIFIED) {
      absl::StrAppend(out, v1::RootCause::Category_Name(cause.category()),
                      ": ");
    }
    absl::StrAppend(out, ItemText(cause.description()), "\n");
  }
}

void AppendResolution(const v1::Postmortem& pm, std::string* out) {
  if (pm.resolution().empty() && pm.mitigation_steps().empty()) return;
  StartSection("Resolution", out);
  if (!pm.resolution().empty()) {
    absl::StrAppend(out, Prose(pm.resolution()), "\n");
    if (!pm.mitigation_steps().empty()) out->append("\n");
  }
  if (!pm.mitigation_steps().empty()) {
    out->append("Mitigation steps:\n\n");
    AppendBullets(pm.mitigation_steps(), out);
  }
}

void AppendActionItems(const v1::Postmortem& pm, std::string* out) {
  if (pm.action_items().empty()) return;
  const bool any_tracker = std::any_of(
      pm.action_items().begin(), pm.action_items().end(),
      [](const v1::ActionItem& i) { return !i.tracker_url().empty(); });
  StartSection("Action items", out);
  std::vector<std::string> header = {"Action", "Owner", "Due", "Status",
                                     "Kind"};
  if (any_tracker) header.push_back("Tracker");
  out->append(TableRow(header));
  out->append(TableRow(std::vector<std::string>(header.size(), "---")));
  for (const v1::ActionItem& item : pm.action_items()) {
    std::vector<std::string> cells = {
        item.description(), item.owner(), item.due_date(),
        item.status() == v1::ActionItem::STATUS_UNSPECIFIED
            ? ""
            : v1::ActionItem::Status_Name(item.status()),
        item.kind() == v1::ActionItem::KIND_UNSPECIFIED
            ? ""
            : v1::ActionItem::Kind_Name(item.kind())};
    if (any_tracker) cells.push_back(item.tracker_url());
    out->append(TableRow(cells));
  }
}

void AppendLessons(const v1::LessonsLearned& lessons, std::string* out) {
  if (lessons.went_well().empty() && lessons.went_wrong().empty() &&
      lessons.got_lucky().empty()) {
    return;
  }
  StartSection("Lessons learned", out);
  bool first = true;
  auto group =
      [&](absl::string_view heading,
          const google::protobuf::RepeatedPtrField<std::string>& items) {
        if (items.empty()) return;
        absl::StrAppend(out, first ? "" : "\n", "### ", heading, "\n\n");
        first = false;
        AppendBullets(items, out);
      };
  group("What went well", lessons.went_well());
  group("What went wrong", lessons.went_wrong());
  group("Where we got lucky", lessons.got_lucky());
}

void AppendLogLines(const v1::Postmortem& pm, std::string* out) {
  if (pm.log_lines().empty()) return;
  StartSection("Log lines", out);
  out->append("```\n");
  for (const std::string& line : pm.log_lines()) {
    absl::StrAppend(out, line, "\n");
  }
  out->append("```\n");
}

void AppendLinks(const v1::Postmortem& pm, std::string* out) {
  if (pm.links().empty()) return;
  StartSection("Links", out);
  for (const v1::Link& link : pm.links()) {
    const std::string title = absl::StrReplaceAll(
        link.title(), {{"\\", "\\\\"}, {"]", "\\]"}, {"\n", " "}});
    absl::StrAppend(out, "- [", title, "](", link.url(), ")\n");
  }
}

bool NarrativeHasOwnHeading(absl::string_view narrative) {
  return absl::StartsWith(narrative, "## ");
}

// ---------------------------------------------------------------- summary

// One line: runs of whitespace become one space; cut at `max_bytes` on a
// UTF-8 boundary with "...".
std::string OneLine(absl::string_view text, size_t max_bytes) {
  std::string out;
  for (absl::string_view word :
       absl::StrSplit(text, absl::ByAnyChar(" \t\r\n"), absl::SkipEmpty())) {
    if (!out.empty()) out += ' ';
    absl::StrAppend(&out, word);
  }
  if (out.size() <= max_bytes) return out;
  size_t cut = max_bytes;
  while (cut > 0 && (static_cast<unsigned char>(out[cut]) & 0xC0) == 0x80) {
    --cut;
  }
  out.resize(cut);
  absl::StripTrailingAsciiWhitespace(&out);
  return out + "...";
}

constexpr size_t kSummaryLineBytes = 400;

std::string ActionItemLine(const v1::ActionItem& item) {
  std::string line = absl::StrCat(
      "- [",
      item.status() == v1::ActionItem::STATUS_UNSPECIFIED
          ? "NO STATUS"
          : v1::ActionItem::Status_Name(item.status()),
      "] ", OneLine(item.description(), 200),
      " (owner: ", item.owner().empty() ? "none" : OneLine(item.owner(), 80));
  if (!item.due_date().empty())
    absl::StrAppend(&line, ", due ", item.due_date());
  return line + ")";
}

}  // namespace

std::string PostmortemToMarkdown(const v1::Postmortem& pm) {
  std::string out;
  AppendFrontMatter(pm, &out);
  const bool narrative_at_end = NarrativeHasOwnHeading(pm.narrative());
  if (!pm.title().empty()) {
    absl::StrAppend(&out, "\n# ",
                    absl::StrReplaceAll(pm.title(), {{"\n", " "}}), "\n");
  }
  if (!pm.narrative().empty() && !narrative_at_end) {
    absl::StrAppend(&out, "\n", Prose(pm.narrative()), "\n");
  }
  if (!pm.summary().empty()) {
    StartSection("Summary", &out);
    absl::StrAppend(&out, Prose(pm.summary()), "\n");
  }
  AppendImpact(pm.impact(), &out);
  if (!pm.detection().description().empty()) {
    StartSection("Detection", &out);
    absl::StrAppend(&out, Prose(pm.detection().description()), "\n");
  }
  AppendTimeline(pm, &out);
  AppendWhys(pm, &out);
  AppendRootCauses(pm, &out);
  if (!pm.contributing_factors().empty()) {
    StartSection("Contributing factors", &out);
    AppendBullets(pm.contributing_factors(), &out);
  }
  AppendResolution(pm, &out);
  AppendActionItems(pm, &out);
  AppendLessons(pm.lessons(), &out);
  AppendLogLines(pm, &out);
  AppendLinks(pm, &out);
  if (narrative_at_end) absl::StrAppend(&out, "\n", pm.narrative(), "\n");
  return out;
}

std::string PostmortemSummaryText(const v1::Postmortem& pm) {
  std::vector<std::string> lines;
  lines.push_back(pm.title().empty() ? "(untitled postmortem)"
                                     : OneLine(pm.title(), kSummaryLineBytes));
  std::vector<std::string> facts;
  if (pm.severity() != v1::SEVERITY_UNSPECIFIED) {
    facts.push_back(
        absl::StrCat("Severity: ", v1::Severity_Name(pm.severity())));
  }
  if (!pm.team().empty()) facts.push_back("Team: " + OneLine(pm.team(), 80));
  if (pm.has_started_at()) facts.push_back("Date: " + Day(pm.started_at()));
  if (!facts.empty()) lines.push_back(absl::StrJoin(facts, "   "));
  if (!pm.services().empty()) {
    lines.push_back(
        OneLine(absl::StrCat("Services: ", absl::StrJoin(pm.services(), ", ")),
                kSummaryLineBytes));
  }

  if (!pm.summary().empty()) {
    lines.push_back("");
    lines.push_back("What happened: " +
                    OneLine(pm.summary(), kSummaryLineBytes));
  }

  const v1::Impact& impact = pm.impact();
  std::vector<std::string> numbers;
  if (impact.users_affected() > 0) {
    numbers.push_back(absl::StrCat(impact.users_affected(), " users affected"));
  }
  if (impact.has_duration() && impact.duration().seconds() > 0) {
    numbers.push_back("lasted " + DurationText(impact.duration()));
  }
  if (!impact.description().empty() || !numbers.empty()) {
    std::string line = "Impact:";
    if (!impact.description().empty()) {
      absl::StrAppend(&line, " ",
                      OneLine(impact.description(), kSummaryLineBytes));
    }
    if (!numbers.empty()) {
      absl::StrAppend(&line, " (", absl::StrJoin(numbers, ", "), ")");
    }
    lines.push_back("");
    lines.push_back(line);
  }

  constexpr int kMaxRootCauses = 5;
  auto cause_text = [](const v1::RootCause& cause) {
    std::string text = OneLine(cause.description(), kSummaryLineBytes);
    if (cause.category() != v1::RootCause::CATEGORY_UNSPECIFIED) {
      text = absl::StrCat(v1::RootCause::Category_Name(cause.category()), ": ",
                          text);
    }
    return text;
  };
  if (pm.root_causes_size() == 1) {
    lines.push_back("");
    lines.push_back("Root cause: " + cause_text(pm.root_causes(0)));
  } else if (pm.root_causes_size() > 1) {
    lines.push_back("");
    lines.push_back("Root causes:");
    for (int i = 0; i < pm.root_causes_size() && i < kMaxRootCauses; ++i) {
      lines.push_back("- " + cause_text(pm.root_causes(i)));
    }
    if (pm.root_causes_size() > kMaxRootCauses) {
      lines.push_back(absl::StrCat(
          "- ... and ", pm.root_causes_size() - kMaxRootCauses, " more"));
    }
  }

  // Write-ups without root causes often list contributing factors instead:
  // the closest thing they have to a "why".
  if (pm.root_causes().empty() && !pm.contributing_factors().empty()) {
    lines.push_back("");
    lines.push_back("Contributing factors:");
    const int total = pm.contributing_factors_size();
    for (int i = 0; i < total && i < kMaxRootCauses; ++i) {
      lines.push_back("- " +
                      OneLine(pm.contributing_factors(i), kSummaryLineBytes));
    }
    if (total > kMaxRootCauses) {
      lines.push_back(
          absl::StrCat("- ... and ", total - kMaxRootCauses, " more"));
    }
  }

  std::string fix = pm.resolution();
  if (fix.empty()) fix = absl::StrJoin(pm.mitigation_steps(), "; ");
  if (!fix.empty()) {
    lines.push_back("");
    lines.push_back("What fixed it: " + OneLine(fix, kSummaryLineBytes));
  }

  if (!pm.action_items().empty()) {
    const int open = static_cast<int>(
        std::count_if(pm.action_items().begin(), pm.action_items().end(),
                      [](const v1::ActionItem& item) {
                        return item.status() != v1::ActionItem::DONE &&
                               item.status() != v1::ActionItem::WONT_DO;
                      }));
    lines.push_back("");
    lines.push_back(absl::StrCat("Action items (", open, " of ",
                                 pm.action_items_size(), " not done):"));
    const int total = pm.action_items_size();
    // Room left under the limit; the last line may be needed for "more".
    const int room = kMaxSummaryLines - static_cast<int>(lines.size());
    const int shown = total <= room ? total : std::max(0, room - 1);
    for (int i = 0; i < shown; ++i) {
      lines.push_back(ActionItemLine(pm.action_items(i)));
    }
    if (shown < total) {
      lines.push_back(absl::StrCat("- ... and ", total - shown, " more"));
    }
  }
  return absl::StrCat(absl::StrJoin(lines, "\n"), "\n");
}

std::string FilledTemplate(absl::string_view today) {
  return absl::StrReplaceAll(template_internal::kPostmortemTemplate,
                             {{"{{DATE}}", today}});
}

}  // namespace deja
