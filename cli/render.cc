#include "cli/render.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "cli/format.h"
#include "google/protobuf/util/json_util.h"

namespace deja::cli {
namespace {

// Prose is wrapped to this many columns.
constexpr size_t kPageWidth = 80;

// Each line of `text` indented by `indent` spaces, unwrapped (for tables).
std::string Indented(absl::string_view text, size_t indent) {
  text = absl::StripTrailingAsciiWhitespace(text);
  if (text.empty()) return "";
  std::string out;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    absl::StrAppend(&out, std::string(indent, ' '), line, "\n");
  }
  return out;
}

// `text` wrapped to the page and indented by `indent`; the first line starts
// with `prefix` ("- ", "1. ") and the others align under its text.
std::string Block(absl::string_view text, size_t indent,
                  absl::string_view prefix = "") {
  text = absl::StripTrailingAsciiWhitespace(text);
  if (text.empty()) return "";
  const size_t hang = indent + DisplayWidth(prefix);
  const size_t width = kPageWidth > hang + 30 ? kPageWidth - hang : 30;
  const std::string pad(indent, ' ');
  const std::string continuation(DisplayWidth(prefix), ' ');
  std::string out;
  bool first = true;
  for (absl::string_view line : absl::StrSplit(WrapText(text, width), '\n')) {
    if (line.empty() && !first) {
      out += "\n";
      continue;
    }
    absl::StrAppend(&out, pad, first ? prefix : continuation, line, "\n");
    first = false;
  }
  return out;
}

void AppendSection(std::string& out, absl::string_view heading,
                   absl::string_view body) {
  if (body.empty()) return;
  absl::StrAppend(&out, "\n", heading, "\n", body);
}

std::string Bullets(
    const google::protobuf::RepeatedPtrField<std::string>& items,
    size_t indent) {
  std::string out;
  for (const std::string& item : items) {
    absl::StrAppend(&out, Block(item, indent, "- "));
  }
  return out;
}

// "2024-03-01 14:12 UTC  (MTTD 7m)"; "" when unset.
std::string TimeLine(const google::protobuf::Timestamp& at,
                     const google::protobuf::Timestamp& started,
                     absl::string_view measure) {
  if (!IsSet(at)) return "";
  std::string line = absl::StrCat(FormatMinute(at), " UTC");
  if (IsSet(started)) {
    absl::StrAppend(&line, "  (", measure, " ",
                    CompactDuration(ToTime(at) - ToTime(started)), ")");
  }
  return line;
}

std::string DetectionSourceName(v1::Detection::Source source) {
  switch (source) {
    case v1::Detection::ALERT:
      return "alert";
    case v1::Detection::CUSTOMER_REPORT:
      return "customer report";
    case v1::Detection::INTERNAL_REPORT:
      return "internal report";
    case v1::Detection::AUTOMATED_CHECK:
      return "automated check";
    case v1::Detection::OTHER:
      return "other";
    default:
      return "";
  }
}

std::string StatusName(v1::Postmortem::Status status) {
  switch (status) {
    case v1::Postmortem::DRAFT:
      return "draft";
    case v1::Postmortem::IN_REVIEW:
      return "in review";
    case v1::Postmortem::PUBLISHED:
      return "published";
    default:
      return "-";
  }
}

std::string Header(const v1::Postmortem& pm) {
  // Label and value; rows without a value are left out.
  std::vector<std::pair<std::string, std::string>> rows = {
      {"id", pm.id()},
      {"team", pm.team()},
      {"severity", SeverityName(pm.severity())},
      {"status", StatusName(pm.status())},
      {"started", IsSet(pm.started_at())
                      ? absl::StrCat(FormatMinute(pm.started_at()), " UTC")
                      : ""},
      {"detected", TimeLine(pm.detected_at(), pm.started_at(), "MTTD")},
      {"mitigated",
       TimeLine(pm.mitigated_at(), pm.started_at(), "time to mitigate")},
      {"resolved", TimeLine(pm.resolved_at(), pm.started_at(), "MTTR")},
      {"services", absl::StrJoin(pm.services(), ", ")},
      {"tags", absl::StrJoin(pm.tags(), ", ")},
      {"recurrence of", absl::StrJoin(pm.recurrence_of(), ", ")},
      {"external id", pm.external_id()},
      {"source", pm.source_url()},
      {"version",
       pm.version() == 0
           ? ""
           : absl::StrCat(
                 pm.version(),
                 IsSet(pm.updated_at())
                     ? absl::StrCat("  (updated ",
                                    FormatMinute(pm.updated_at()), " UTC)")
                     : "")},
  };
  std::string out = absl::StrCat(OneLine(pm.title()), "\n");
  for (const auto& [label, value] : rows) {
    if (value.empty()) continue;
    absl::StrAppend(&out, "  ", label, ":", std::string(15 - label.size(), ' '),
                    OneLine(value), "\n");
  }
  return out;
}

std::string ImpactSection(const v1::Postmortem& pm) {
  std::string out;
  if (!pm.impact().description().empty()) {
    out += Block(pm.impact().description(), 2);
  }
  std::vector<std::string> facts;
  if (pm.impact().users_affected() > 0) {
    facts.push_back(
        absl::StrCat("users affected: ", pm.impact().users_affected()));
  }
  if (pm.impact().has_duration()) {
    facts.push_back(absl::StrCat(
        "duration: ",
        CompactDuration(absl::Seconds(pm.impact().duration().seconds()))));
  }
  if (!facts.empty()) out += Block(absl::StrJoin(facts, "; "), 2);
  const std::string source = DetectionSourceName(pm.detection().source());
  if (!source.empty() || !pm.detection().description().empty()) {
    out += Block(absl::StrCat("detected by ", source.empty() ? "-" : source,
                              pm.detection().description().empty() ? "" : ": ",
                              pm.detection().description()),
                 2);
  }
  return out;
}

std::string TimelineSection(const v1::Postmortem& pm) {
  std::string out;
  for (const v1::TimelineEvent& event : pm.timeline()) {
    out += Block(event.description(), 2,
                 absl::StrCat(FormatMinute(event.at()), "  "));
  }
  return out;
}

std::string WhysSection(const v1::Postmortem& pm) {
  std::string out;
  int number = 0;
  for (const v1::Why& why : pm.whys()) {
    ++number;
    out += Block(why.question(), 2, absl::StrCat(number, ". "));
    out += Block(why.answer(), 5);
  }
  return out;
}

std::string RootCausesSection(const v1::Postmortem& pm) {
  std::string out;
  for (const v1::RootCause& cause : pm.root_causes()) {
    out += Block(absl::StrCat("[", RootCauseCategoryName(cause.category()),
                              "] ", cause.description()),
                 2, "- ");
  }
  return out;
}

std::string LessonsSection(const v1::Postmortem& pm) {
  std::string out;
  const std::pair<absl::string_view,
                  const google::protobuf::RepeatedPtrField<std::string>*>
      groups[] = {{"went well", &pm.lessons().went_well()},
                  {"went wrong", &pm.lessons().went_wrong()},
                  {"got lucky", &pm.lessons().got_lucky()}};
  for (const auto& [label, items] : groups) {
    if (items->empty()) continue;
    absl::StrAppend(&out, "  ", label, ":\n", Bullets(*items, 4));
  }
  return out;
}

std::string ParticipantsSection(const v1::Postmortem& pm) {
  std::string out;
  for (const v1::Participant& person : pm.participants()) {
    std::string line = absl::StrCat("- ", person.name());
    if (!person.role().empty())
      absl::StrAppend(&line, " (", person.role(), ")");
    if (person.facilitator() &&
        !absl::EqualsIgnoreCase(person.role(), "facilitator")) {
      absl::StrAppend(&line, ", facilitator");
    }
    out += Block(OneLine(line), 2);
  }
  return out;
}

std::string LinksSection(const v1::Postmortem& pm) {
  std::string out;
  for (const v1::Link& link : pm.links()) {
    out += Block(OneLine(link.title().empty()
                             ? link.url()
                             : absl::StrCat(link.title(), ": ", link.url())),
                 2, "- ");
  }
  return out;
}

}  // namespace

std::string ToJson(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.always_print_primitive_fields = true;
  std::string json;
  // Printing a well-formed message cannot fail; an empty object is the
  // fallback for the impossible case.
  if (!google::protobuf::util::MessageToJsonString(message, &json, options)
           .ok()) {
    return "{}";
  }
  return json;
}

bool IsOverdue(const v1::ActionItem& item, absl::Time now) {
  if (item.status() != v1::ActionItem::OPEN &&
      item.status() != v1::ActionItem::IN_PROGRESS) {
    return false;
  }
  if (!IsCalendarDate(item.due_date())) return false;
  // Dates compare correctly as strings in this format.
  return item.due_date() <
         absl::FormatTime("%Y-%m-%d", now, absl::UTCTimeZone());
}

Table ActionItemTable(const std::vector<const v1::ActionItem*>& items,
                      absl::Time now) {
  Table table({"ID", "STATUS", "KIND", "OWNER", "DUE", "DESCRIPTION"});
  table.SetMaxWidth(3, kServicesWidth);
  table.SetMaxWidth(5, kDescriptionWidth);
  for (const v1::ActionItem* item : items) {
    std::string due = item->due_date().empty() ? "-" : item->due_date();
    if (IsOverdue(*item, now)) due += " OVERDUE";
    table.AddRow({item->id().substr(0, kShortIdLength),
                  ActionStatusName(item->status()),
                  ActionKindName(item->kind()), item->owner(), due,
                  item->description()});
  }
  return table;
}

Table PostmortemListTable(const std::vector<v1::Postmortem>& postmortems) {
  Table table({"ID", "STARTED", "SEV", "TEAM", "SERVICES", "TITLE"});
  table.SetMaxWidth(3, kServicesWidth);
  table.SetMaxWidth(4, kServicesWidth);
  table.SetMaxWidth(5, kTitleWidth);
  for (const v1::Postmortem& pm : postmortems) {
    table.AddRow({pm.id(), FormatMinute(pm.started_at()),
                  SeverityName(pm.severity()), pm.team(),
                  absl::StrJoin(pm.services(), ","), pm.title()});
  }
  return table;
}

std::string RenderPostmortem(const v1::Postmortem& pm, absl::Time now) {
  std::string out = Header(pm);
  AppendSection(out, "Summary", Block(pm.summary(), 2));
  AppendSection(out, "Impact", ImpactSection(pm));
  AppendSection(out, "Timeline (UTC)", TimelineSection(pm));
  AppendSection(out, "5 Whys", WhysSection(pm));
  AppendSection(out, "Root causes", RootCausesSection(pm));
  AppendSection(out, "Contributing factors",
                Bullets(pm.contributing_factors(), 2));
  AppendSection(out, "Resolution", Block(pm.resolution(), 2));
  AppendSection(out, "Mitigation steps", Bullets(pm.mitigation_steps(), 2));
  if (!pm.action_items().empty()) {
    std::vector<const v1::ActionItem*> items;
    for (const v1::ActionItem& item : pm.action_items()) items.push_back(&item);
    AppendSection(out, "Action items",
                  Indented(ActionItemTable(items, now).Render(), 2));
  }
  AppendSection(out, "Lessons", LessonsSection(pm));
  AppendSection(out, "Participants", ParticipantsSection(pm));
  AppendSection(out, "Links", LinksSection(pm));
  std::string log_lines;
  for (const std::string& line : pm.log_lines()) {
    absl::StrAppend(&log_lines, "  ", OneLine(line), "\n");
  }
  AppendSection(out, "Log lines", log_lines);
  return out;
}

}  // namespace deja::cli
