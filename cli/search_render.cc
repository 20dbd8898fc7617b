#include "cli/search_render.h"

#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "cli/format.h"
#include "cli/render.h"
#include "cli/table.h"

namespace deja::cli {
namespace {

constexpr size_t kPageWidth = 80;
constexpr size_t kTeamWidth = 20;
constexpr size_t kSnippetWidth = 76;
// Values shown per facet line; the rest are in --json.
constexpr int kFacetValues = 8;

// `text` wrapped to the page, every line indented by `indent` spaces.
std::string Wrapped(absl::string_view text, size_t indent) {
  text = absl::StripAsciiWhitespace(text);
  if (text.empty()) return "";
  const std::string pad(indent, ' ');
  std::string out;
  for (absl::string_view line :
       absl::StrSplit(WrapText(text, kPageWidth - indent), '\n')) {
    absl::StrAppend(&out, pad, line, "\n");
  }
  return out;
}

// The same with a first-line prefix ("- ") that later lines align under.
std::string Bullet(absl::string_view text, size_t indent,
                   absl::string_view prefix) {
  text = absl::StripAsciiWhitespace(text);
  if (text.empty()) return "";
  const size_t hang = indent + DisplayWidth(prefix);
  std::string out;
  bool first = true;
  for (absl::string_view line :
       absl::StrSplit(WrapText(OneLine(text), kPageWidth - hang), '\n')) {
    absl::StrAppend(
        &out, std::string(indent, ' '),
        first ? std::string(prefix) : std::string(DisplayWidth(prefix), ' '),
        line, "\n");
    first = false;
  }
  return out;
}

std::string StartedDay(const google::protobuf::Timestamp& at) {
  return IsSet(at) ? FormatMinute(at).substr(0, 10) : "-";
}

std::string Plural(int64_t n, absl::string_view one, absl::string_view many) {
  return absl::StrCat(n, " ", n == 1 ? one : many);
}

// `estimated`: the server scaled the counts from the matches it checked.
std::string FacetLine(const v1::Facet& facet, bool estimated) {
  std::vector<std::string> counts;
  for (const v1::FacetCount& count : facet.counts()) {
    if (static_cast<int>(counts.size()) == kFacetValues) {
      counts.push_back("…");
      break;
    }
    std::string value = count.value();
    if (facet.field() == "severity") {
      // The index may name severities "2" or "sev2"; show them as SEV2.
      int number = 0;
      absl::string_view digits = value;
      absl::ConsumePrefix(&digits, "sev");
      absl::ConsumePrefix(&digits, "SEV");
      if (absl::SimpleAtoi(digits, &number) && number > 0 &&
          v1::Severity_IsValid(number)) {
        value = SeverityName(static_cast<v1::Severity>(number));
      }
    }
    counts.push_back(absl::StrCat(OneLine(value), estimated ? " about " : " ",
                                  count.count()));
  }
  return absl::StrCat(facet.field(), ": ", absl::StrJoin(counts, ", "));
}

std::string ActionItemFlags(const v1::ActionItemSummary& item) {
  std::vector<absl::string_view> flags;
  if (item.open()) flags.push_back("OPEN");
  if (item.overdue()) flags.push_back("OVERDUE");
  return absl::StrJoin(flags, " ");
}

std::string WhyLines(const v1::SimilarIncident& incident) {
  std::string out;
  for (const v1::FieldMatch& match : incident.matched_terms()) {
    absl::StrAppend(&out, Bullet(absl::StrJoin(match.terms(), ", "), 5,
                                 absl::StrCat(match.field(), ": ")));
  }
  for (const v1::SharedSignature& signature : incident.shared_signatures()) {
    absl::StrAppend(
        &out, Bullet(absl::StrCat(signature.id(), "  ", signature.normalized()),
                     5, "same error: "));
  }
  if (!incident.shared_services().empty()) {
    absl::StrAppend(&out,
                    Bullet(absl::StrJoin(incident.shared_services(), ", "), 5,
                           "same services: "));
  }
  return out;
}

std::string RenderIncident(int rank, const v1::SimilarIncident& similar) {
  const v1::IncidentSummary& incident = similar.incident();
  std::string out = absl::StrFormat(
      "%d. %s  score %.2f  %s\n", rank, VerdictName(similar.verdict()),
      similar.score(), TruncateToWidth(OneLine(incident.title()), kTitleWidth));
  std::vector<std::string> facts = {
      absl::StrCat(
          "started ",
          IsSet(incident.started_at())
              ? absl::StrCat(FormatMinute(incident.started_at()), " UTC")
              : "-"),
      SeverityName(incident.severity())};
  if (!incident.team().empty()) {
    facts.push_back(absl::StrCat("team ", OneLine(incident.team())));
  }
  if (!incident.services().empty()) {
    facts.push_back(absl::StrCat(
        "services ", OneLine(absl::StrJoin(incident.services(), ", "))));
  }
  absl::StrAppend(&out, "   ", absl::StrJoin(facts, "  "), "\n");
  absl::StrAppend(&out, "   id ", incident.id(), "\n");

  if (const std::string why = WhyLines(similar); !why.empty()) {
    absl::StrAppend(&out, "   why it matches:\n", why);
  }
  if (!incident.root_causes().empty()) {
    absl::StrAppend(&out, "   root causes:\n");
    for (const v1::RootCause& cause : incident.root_causes()) {
      absl::StrAppend(
          &out,
          Bullet(cause.description(), 5,
                 absl::StrCat("[", RootCauseCategoryName(cause.category()),
                              "] ")));
    }
  }
  if (!incident.resolution().empty() || !incident.mitigation_steps().empty()) {
    absl::StrAppend(&out, "   what fixed it:\n",
                    Wrapped(incident.resolution(), 5));
    for (const std::string& step : incident.mitigation_steps()) {
      absl::StrAppend(&out, Bullet(step, 5, "- "));
    }
  }
  if (!incident.action_items().empty()) {
    absl::StrAppend(&out, "   action items (", similar.open_action_items(),
                    " open, ", similar.overdue_action_items(), " overdue):\n");
    Table table({"STATUS", "OWNER", "DUE", "FLAGS", "DESCRIPTION"});
    table.SetMaxWidth(1, kTeamWidth);
    table.SetMaxWidth(4, kDescriptionWidth);
    for (const v1::ActionItemSummary& item : incident.action_items()) {
      table.AddRow({ActionStatusName(item.status()), item.owner(),
                    item.due_date().empty() ? "-" : item.due_date(),
                    ActionItemFlags(item), item.description()});
    }
    for (absl::string_view line :
         absl::StrSplit(table.Render(), '\n', absl::SkipEmpty())) {
      absl::StrAppend(&out, "     ", line, "\n");
    }
  }
  return out;
}

}  // namespace

std::string SnippetText(absl::string_view html) {
  std::string text;
  text.reserve(html.size());
  static constexpr struct {
    absl::string_view from;
    absl::string_view to;
  } kReplacements[] = {
      {"<mark>", "*"}, {"</mark>", "*"}, {"&amp;", "&"},
      {"&lt;", "<"},   {"&gt;", ">"},    {"&quot;", "\""},
      {"&#39;", "'"},  {"&#x27;", "'"},  {"&apos;", "'"},
  };
  size_t i = 0;
  while (i < html.size()) {
    bool replaced = false;
    if (html[i] == '<' || html[i] == '&') {
      for (const auto& replacement : kReplacements) {
        if (absl::StartsWith(html.substr(i), replacement.from)) {
          text.append(replacement.to.data(), replacement.to.size());
          i += replacement.from.size();
          replaced = true;
          break;
        }
      }
    }
    if (!replaced) text += html[i++];
  }
  return OneLine(text);
}

std::string VerdictName(v1::Verdict verdict) {
  switch (verdict) {
    case v1::SEEN_BEFORE:
      return "SEEN BEFORE";
    case v1::POSSIBLY_RELATED:
      return "POSSIBLY RELATED";
    case v1::NEW:
      return "NEW";
    default:
      return "-";
  }
}

std::string RenderSearchResults(const v1::SearchResponse& response) {
  if (response.hits().empty()) return "no matches\n";
  std::string out =
      absl::StrCat(response.counts_estimated() ? "about " : "",
                   Plural(response.total_matches(), "match", "matches"), "\n");
  Table table({"SCORE", "STARTED", "SEV", "TEAM", "TITLE", "ID"});
  table.SetMaxWidth(3, kTeamWidth);
  table.SetMaxWidth(4, kTitleWidth);
  for (const v1::SearchHit& hit : response.hits()) {
    const v1::IncidentSummary& incident = hit.incident();
    table.AddRow({hit.score() > 0 ? absl::StrCat(hit.score()) : "-",
                  StartedDay(incident.started_at()),
                  SeverityName(incident.severity()), incident.team(),
                  incident.title(), incident.id()});
  }
  // Rows are single lines, so the snippet of hit i goes after line i + 1.
  const std::vector<std::string> lines =
      absl::StrSplit(table.Render(), '\n', absl::SkipEmpty());
  absl::StrAppend(&out, lines[0], "\n");
  for (int i = 0; i < response.hits_size(); ++i) {
    absl::StrAppend(&out, lines[i + 1], "\n");
    const std::string snippet = SnippetText(response.hits(i).snippet());
    if (!snippet.empty()) {
      absl::StrAppend(&out, "    ", TruncateToWidth(snippet, kSnippetWidth),
                      "\n");
    }
  }
  if (!response.facets().empty()) {
    absl::StrAppend(&out, "\n");
    for (const v1::Facet& facet : response.facets()) {
      if (facet.counts().empty()) continue;
      absl::StrAppend(&out, FacetLine(facet, response.counts_estimated()),
                      "\n");
    }
  }
  return out;
}

std::string RenderSimilar(const v1::FindSimilarResponse& response) {
  int seen = 0;
  int related = 0;
  for (const v1::SimilarIncident& incident : response.incidents()) {
    if (incident.verdict() == v1::SEEN_BEFORE) ++seen;
    if (incident.verdict() == v1::POSSIBLY_RELATED) ++related;
  }
  std::string out;
  switch (response.verdict()) {
    case v1::SEEN_BEFORE:
      out = absl::StrCat("SEEN BEFORE: ",
                         Plural(seen, "past incident is", "past incidents are"),
                         " the same failure");
      if (related > 0) {
        absl::StrAppend(&out, "; ", related, " more possibly related");
      }
      break;
    case v1::POSSIBLY_RELATED:
      out = absl::StrCat(
          "POSSIBLY RELATED: ",
          Plural(related, "past incident shares", "past incidents share"),
          " symptoms or components");
      break;
    default:
      out = "NEW: nothing in the knowledge base is like this incident";
      if (!response.incidents().empty()) {
        absl::StrAppend(&out, " (weak candidates below)");
      }
      break;
  }
  out += "\n";
  for (const v1::SharedSignature& signature : response.query_signatures()) {
    absl::StrAppend(&out, "your error signature ", signature.id(), "  ",
                    OneLine(signature.normalized()), "\n");
  }
  int rank = 0;
  for (const v1::SimilarIncident& incident : response.incidents()) {
    absl::StrAppend(&out, "\n", RenderIncident(++rank, incident));
  }
  return out;
}

std::string RenderIndexStatus(const v1::IndexStatus& status) {
  Table table({"", ""});
  table.AddRow({"indexer:", status.indexer_running()
                                ? "running in this dejad"
                                : "not in this dejad (--indexer=off: "
                                  "deja-indexer writes the index)"});
  table.AddRow(
      {"index:", status.index_path().empty() ? "-" : status.index_path()});
  table.AddRow({"documents:", absl::StrCat(status.documents())});
  table.AddRow(
      {"pending:", Plural(status.pending(), "outbox row", "outbox rows")});
  table.AddRow(
      {"lag:", status.pending() == 0 && status.lag_seconds() == 0
                   ? "none (up to date)"
                   : CompactDuration(absl::Seconds(status.lag_seconds()))});
  table.AddRow(
      {"to link:",
       status.link_pending() == 0
           ? "none (recurrence links up to date)"
           : absl::StrCat(
                 Plural(status.link_pending(), "postmortem", "postmortems"),
                 ", oldest ",
                 CompactDuration(absl::Seconds(status.link_lag_seconds())))});
  table.AddRow({"last rebuild:",
                IsSet(status.last_rebuild())
                    ? absl::StrCat(FormatMinute(status.last_rebuild()), " UTC")
                    : "never"});
  table.AddRow({"last error:",
                status.last_error().empty() ? "none" : status.last_error()});
  // The empty header line is not wanted here.
  std::string out = table.Render();
  return out.substr(out.find('\n') + 1);
}

}  // namespace deja::cli
