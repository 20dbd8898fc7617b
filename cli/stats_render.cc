#include "cli/stats_render.h"

#include <algorithm>
#include <map>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "cli/format.h"
#include "cli/render.h"
#include "cli/table.h"
#include "core/stats_validation.h"

namespace deja::cli {
namespace {

// Titles next to dates and ids: the full title is in `deja get`.
constexpr size_t kShortTitleWidth = 50;
constexpr size_t kOwnerWidth = 20;
constexpr size_t kItemWidth = 40;
constexpr size_t kExampleWidth = 60;
// The longest bar of `deja stats trend` without a split.
constexpr int64_t kBarWidth = 40;
constexpr absl::string_view kBarBlock = "█";

// "name:  value" lines, aligned: a table without its header line.
class FactBlock {
 public:
  void Add(absl::string_view name, std::string value) {
    table_.AddRow({absl::StrCat(name, ":"), std::move(value)});
  }
  std::string Render() const {
    std::string out = table_.Render();
    return out.substr(out.find('\n') + 1);
  }

 private:
  Table table_{{"", ""}};
};

// Each line of `text` indented by `indent` spaces.
std::string Indented(absl::string_view text, size_t indent) {
  std::string out;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    absl::StrAppend(&out, std::string(indent, ' '), line, "\n");
  }
  return out;
}

std::string Day(const google::protobuf::Timestamp& at) {
  return IsSet(at) ? FormatMinute(at).substr(0, 10) : "-";
}

std::string ShortId(absl::string_view id) {
  return std::string(id.substr(0, kShortIdLength));
}

std::string Duration(const google::protobuf::Duration& duration) {
  return CompactDuration(ToDuration(duration));
}

std::string Plural(int64_t n, absl::string_view one, absl::string_view many) {
  return absl::StrCat(n, " ", n == 1 ? one : many);
}

// "12 open, 4 overdue, 17 done, 2 wont-do (31 in all)".
std::string ActionCountsLine(const v1::ActionItemCounts& counts) {
  return absl::StrFormat("%d open, %d overdue, %d done, %d wont-do (%d in all)",
                         counts.open(), counts.overdue(), counts.done(),
                         counts.wont_do(), counts.total());
}

// "7 (16.7% of incidents)".
std::string RepeatsLine(int64_t repeats, double rate) {
  return absl::StrCat(repeats, " (", Percent(rate), " of incidents)");
}

// "checkout 3, api 2", with keys spelt as `deja stats trend` spells them.
std::string KeyCounts(
    const google::protobuf::RepeatedPtrField<v1::KeyCount>& counts,
    v1::TrendRequest::SplitBy split_by) {
  std::vector<std::string> parts;
  for (const v1::KeyCount& count : counts) {
    parts.push_back(absl::StrCat(OneLine(SplitKeyName(count.key(), split_by)),
                                 " ", count.count()));
  }
  return absl::StrJoin(parts, ", ");
}

// "(14)", or "(10 of 14; see --limit)" when the request's limit cut the
// list.
std::string Count(int shown, int64_t total) {
  if (total <= shown) return absl::StrCat("(", total, ")");
  return absl::StrCat("(", shown, " of ", total, "; see --limit)");
}

// Incidents without both timestamps are left out of the measure: none at
// all shows "-" rather than a misleading "0s".
void AddDurationRow(const v1::DurationStats& stats, absl::string_view name,
                    Table& table) {
  if (stats.incidents() == 0) {
    table.AddRow({std::string(name), "-", "-", "-", "0"});
  } else {
    table.AddRow({std::string(name), Duration(stats.median()),
                  Duration(stats.p90()), Duration(stats.mean()),
                  absl::StrCat(stats.incidents())});
  }
}

// The columns of a split trend: the kTrendSplitColumns keys with the most
// incidents over the window (severities in their own order, since there are
// only five), and whether the others need an OTHER column.
std::vector<std::string> SplitColumns(const v1::Trend& trend, bool& has_other) {
  std::map<std::string, int64_t> totals;
  for (const v1::TrendBucket& bucket : trend.buckets()) {
    for (const v1::KeyCount& count : bucket.split()) {
      totals[count.key()] += count.count();
    }
  }
  std::vector<std::pair<std::string, int64_t>> ranked(totals.begin(),
                                                      totals.end());
  std::stable_sort(
      ranked.begin(), ranked.end(),
      [](const auto& a, const auto& b) { return a.second > b.second; });
  has_other = ranked.size() > static_cast<size_t>(kTrendSplitColumns);
  if (has_other) ranked.resize(kTrendSplitColumns);
  std::vector<std::string> keys;
  for (const auto& [key, total] : ranked) keys.push_back(key);
  if (trend.split_by() == v1::TrendRequest::SEVERITY) {
    std::sort(keys.begin(), keys.end(),
              [&](const std::string& a, const std::string& b) {
                return SplitKeyName(a, trend.split_by()) <
                       SplitKeyName(b, trend.split_by());
              });
  }
  return keys;
}

std::string IntervalName(v1::TrendRequest::Interval interval) {
  return interval == v1::TrendRequest::WEEK ? "WEEK" : "MONTH";
}

std::string Bar(int64_t count, int64_t max) {
  if (count <= 0 || max <= 0) return "";
  // One block per incident while they fit; at least one for any incident.
  int64_t blocks = max <= kBarWidth ? count : count * kBarWidth / max;
  blocks = std::max<int64_t>(blocks, 1);
  std::string bar;
  for (int64_t i = 0; i < blocks; ++i) absl::StrAppend(&bar, kBarBlock);
  return bar;
}

std::string UnsplitTrend(const v1::Trend& trend) {
  int64_t max = 0;
  for (const v1::TrendBucket& bucket : trend.buckets()) {
    max = std::max(max, bucket.incidents());
  }
  Table table({IntervalName(trend.interval()), "INCIDENTS", ""});
  for (const v1::TrendBucket& bucket : trend.buckets()) {
    table.AddRow({BucketLabel(bucket.start(), trend.interval()),
                  absl::StrCat(bucket.incidents()),
                  Bar(bucket.incidents(), max)});
  }
  return table.Render();
}

std::string SplitTrend(const v1::Trend& trend) {
  bool has_other = false;
  const std::vector<std::string> keys = SplitColumns(trend, has_other);
  std::vector<std::string> headers = {IntervalName(trend.interval()), "TOTAL"};
  for (const std::string& key : keys) {
    headers.push_back(TruncateToWidth(
        OneLine(SplitKeyName(key, trend.split_by())), kOwnerWidth));
  }
  if (has_other) headers.push_back("OTHER");
  Table table(headers);
  for (const v1::TrendBucket& bucket : trend.buckets()) {
    std::vector<std::string> row = {
        BucketLabel(bucket.start(), trend.interval()),
        absl::StrCat(bucket.incidents())};
    std::map<std::string, int64_t> counts;
    int64_t other = 0;
    for (const v1::KeyCount& count : bucket.split()) {
      if (std::find(keys.begin(), keys.end(), count.key()) == keys.end()) {
        other += count.count();
      } else {
        counts[count.key()] += count.count();
      }
    }
    for (const std::string& key : keys)
      row.push_back(absl::StrCat(counts[key]));
    if (has_other) row.push_back(absl::StrCat(other));
    table.AddRow(std::move(row));
  }
  std::string out = table.Render();
  if (trend.split_by() == v1::TrendRequest::SERVICE ||
      trend.split_by() == v1::TrendRequest::CAUSE_CATEGORY) {
    absl::StrAppend(&out, "(an incident with several ",
                    trend.split_by() == v1::TrendRequest::SERVICE
                        ? "services"
                        : "cause categories",
                    " counts under each)\n");
  }
  return out;
}

// "2024-01-05  11111111  SEV2  payments  Checkout 5xx…" for each member.
std::string MemberTable(const v1::RecurrenceCluster& cluster) {
  Table table({"STARTED", "ID", "SEV", "TEAM", "TITLE"});
  table.SetMaxWidth(3, kOwnerWidth);
  table.SetMaxWidth(4, kShortTitleWidth);
  for (const v1::ClusterMember& member : cluster.members()) {
    table.AddRow({Day(member.started_at()), ShortId(member.postmortem_id()),
                  SeverityName(member.severity()), member.team(),
                  member.title()});
  }
  return table.Render();
}

std::string SignatureLine(const v1::ErrorSignatureCount& signature) {
  return absl::StrCat(
      signature.signature(), " (", signature.incidents(), ")  ",
      TruncateToWidth(OneLine(signature.example()), kExampleWidth));
}

std::string RenderCluster(int rank, const v1::RecurrenceCluster& cluster) {
  // The server lists at most --limit members (the latest ones).
  const int64_t count =
      std::max<int64_t>(cluster.member_count(), cluster.members_size());
  std::string out =
      absl::StrCat(rank, ". ", Plural(count, "incident", "incidents"));
  if (count > cluster.members_size()) {
    absl::StrAppend(&out, " (the latest ", cluster.members_size(), " below)");
  }
  absl::StrAppend(&out, " from ", Day(cluster.first_started_at()), " to ",
                  Day(cluster.last_started_at()));
  if (cluster.has_median_time_between()) {
    absl::StrAppend(&out, ", median gap ",
                    Duration(cluster.median_time_between()));
  }
  absl::StrAppend(&out, "\n", Indented(MemberTable(cluster), 3));
  FactBlock shared;
  if (!cluster.shared_services().empty()) {
    shared.Add("shared services",
               KeyCounts(cluster.shared_services(), v1::TrendRequest::SERVICE));
  }
  if (!cluster.shared_cause_categories().empty()) {
    shared.Add("shared causes", KeyCounts(cluster.shared_cause_categories(),
                                          v1::TrendRequest::CAUSE_CATEGORY));
  }
  for (const v1::ErrorSignatureCount& signature : cluster.shared_signatures()) {
    shared.Add("shared error", SignatureLine(signature));
  }
  absl::StrAppend(&out, Indented(shared.Render(), 3));
  return out;
}

// "[prevent] Lint resolver configs (owner sre, open)"; done items say when.
std::string ActionItemRefLine(const v1::ActionItemRef& item) {
  std::string state = ActionStatusName(item.status());
  if (IsSet(item.completed_at())) {
    absl::StrAppend(&state, " ", Day(item.completed_at()));
  }
  return absl::StrCat(
      "[", ActionKindName(item.kind()), "] ",
      TruncateToWidth(OneLine(item.description()), kDescriptionWidth), " (",
      item.owner().empty() ? "no owner" : "owner ", OneLine(item.owner()), ", ",
      state, ")");
}

std::string RepeatsSection(
    absl::string_view heading, int64_t total,
    const google::protobuf::RepeatedPtrField<v1::RepeatAgainstFixes>& repeats) {
  if (total == 0 && repeats.empty()) {
    return absl::StrCat("\n", heading, ": none\n");
  }
  std::string out =
      absl::StrCat("\n", heading, " ", Count(repeats.size(), total), ":\n");
  for (const v1::RepeatAgainstFixes& repeat : repeats) {
    Table pair({"", "", "", ""});
    pair.SetMaxWidth(3, kShortTitleWidth);
    pair.AddRow({"repeat", Day(repeat.started_at()),
                 ShortId(repeat.postmortem_id()), repeat.title()});
    pair.AddRow({"of", Day(repeat.earlier_started_at()),
                 ShortId(repeat.earlier_id()), repeat.earlier_title()});
    const std::string rows = pair.Render();
    absl::StrAppend(&out, Indented(rows.substr(rows.find('\n') + 1), 2));
    for (const v1::ActionItemRef& item : repeat.action_items()) {
      absl::StrAppend(&out, "    - ", ActionItemRefLine(item), "\n");
    }
  }
  return out;
}

std::string KindName(v1::ActionItem::Kind kind) {
  return kind == v1::ActionItem::KIND_UNSPECIFIED ? "unspecified"
                                                  : ActionKindName(kind);
}

}  // namespace

std::string BucketLabel(const google::protobuf::Timestamp& start,
                        v1::TrendRequest::Interval interval) {
  const absl::Time time = ToTime(start);
  const absl::TimeZone utc = absl::UTCTimeZone();
  if (interval != v1::TrendRequest::WEEK) {
    return absl::FormatTime("%Y-%m", time, utc);
  }
  const absl::CivilDay day = absl::ToCivilDay(time, utc);
  // %G-W%V is the ISO week: 2024-12-30 is in 2025-W01.
  return absl::StrCat(absl::FormatTime("%G-W%V (%b ", time, utc), day.day(),
                      ")");
}

std::string SplitKeyName(absl::string_view key,
                         v1::TrendRequest::SplitBy split_by) {
  if (split_by == v1::TrendRequest::SEVERITY) {
    absl::string_view digits = key;
    if (!absl::ConsumePrefix(&digits, "SEV")) {
      absl::ConsumePrefix(&digits, "sev");
    }
    int number = 0;
    if (absl::SimpleAtoi(digits, &number) && number > 0 &&
        v1::Severity_IsValid(number)) {
      return SeverityName(static_cast<v1::Severity>(number));
    }
  }
  if (split_by == v1::TrendRequest::CAUSE_CATEGORY) {
    v1::RootCause::Category category;
    if (v1::RootCause::Category_Parse(std::string(key), &category)) {
      return RootCauseCategoryName(category);
    }
  }
  return std::string(key);
}

std::string RenderOverview(const v1::Overview& overview) {
  FactBlock facts;
  facts.Add("incidents", absl::StrCat(overview.incidents()));
  std::vector<std::string> severities;
  for (const v1::SeverityCount& count : overview.by_severity()) {
    severities.push_back(
        absl::StrCat(SeverityName(count.severity()), " ", count.incidents()));
  }
  facts.Add("by severity",
            severities.empty() ? "-" : absl::StrJoin(severities, ", "));
  facts.Add("repeats", RepeatsLine(overview.repeats(), overview.repeat_rate()));
  facts.Add("action items", ActionCountsLine(overview.action_items()));

  Table times({"TIME TO", "MEDIAN", "P90", "MEAN", "INCIDENTS"});
  AddDurationRow(overview.time_to_detect(), "detect (MTTD)", times);
  AddDurationRow(overview.time_to_mitigate(), "mitigate", times);
  AddDurationRow(overview.time_to_resolve(), "resolve (MTTR)", times);
  return absl::StrCat(facts.Render(), "\n", times.Render());
}

std::string RenderTrend(const v1::Trend& trend) {
  const bool any = std::any_of(
      trend.buckets().begin(), trend.buckets().end(),
      [](const v1::TrendBucket& bucket) { return bucket.incidents() > 0; });
  if (!any) return "no incidents\n";
  std::string out = trend.split_by() == v1::TrendRequest::SPLIT_UNSPECIFIED
                        ? UnsplitTrend(trend)
                        : SplitTrend(trend);
  // The server keeps the latest kMaxTrendBuckets of an open window.
  if (trend.buckets_size() >= kMaxTrendBuckets) {
    absl::StrAppend(&out, "(the latest ", trend.buckets_size(),
                    " buckets, the most a trend holds: give --since, or "
                    "--by month, to see earlier ones)\n");
  }
  return out;
}

std::string RenderRecurrenceStats(const v1::RecurrenceStats& stats) {
  FactBlock facts;
  facts.Add("incidents", absl::StrCat(stats.incidents()));
  facts.Add("repeats", RepeatsLine(stats.repeats(), stats.repeat_rate()));
  facts.Add("median time between repeats",
            stats.has_median_time_between_repeats()
                ? Duration(stats.median_time_between_repeats())
                : "-");
  std::string out = facts.Render();

  if (stats.clusters().empty()) {
    absl::StrAppend(&out, "\nclusters: none\n");
  } else {
    absl::StrAppend(&out, "\nclusters (most members first):\n");
    for (int i = 0; i < stats.clusters_size(); ++i) {
      absl::StrAppend(&out, i > 0 ? "\n" : "",
                      RenderCluster(i + 1, stats.clusters(i)));
    }
  }

  if (stats.top_signatures().empty()) {
    absl::StrAppend(&out, "\nerror signatures in several incidents: none\n");
  } else {
    absl::StrAppend(&out, "\nerror signatures in several incidents:\n");
    Table signatures({"INCIDENTS", "SIGNATURE", "EXAMPLE"});
    signatures.SetMaxWidth(2, kExampleWidth);
    for (const v1::ErrorSignatureCount& signature : stats.top_signatures()) {
      signatures.AddRow({absl::StrCat(signature.incidents()),
                         signature.signature(), signature.example()});
    }
    absl::StrAppend(&out, signatures.Render());
  }

  absl::StrAppend(&out, "\ncauses of repeats: ",
                  stats.top_repeat_cause_categories().empty()
                      ? "none"
                      : KeyCounts(stats.top_repeat_cause_categories(),
                                  v1::TrendRequest::CAUSE_CATEGORY),
                  "\n");
  return out;
}

std::string RenderActionItemStats(const v1::ActionItemStats& stats) {
  FactBlock facts;
  facts.Add("action items", ActionCountsLine(stats.counts()));
  facts.Add("completion", Percent(stats.completion_rate()));
  facts.Add("median time to close", stats.has_median_time_to_close()
                                        ? Duration(stats.median_time_to_close())
                                        : "-");
  std::string out = facts.Render();

  if (!stats.by_kind().empty()) {
    Table kinds({"KIND", "TOTAL", "DONE", "OPEN", "OVERDUE", "WONT-DO",
                 "COMPLETION", "MEDIAN TO CLOSE"});
    for (const v1::KindFollowThrough& kind : stats.by_kind()) {
      const v1::ActionItemCounts& counts = kind.counts();
      kinds.AddRow(
          {KindName(kind.kind()), absl::StrCat(counts.total()),
           absl::StrCat(counts.done()), absl::StrCat(counts.open()),
           absl::StrCat(counts.overdue()), absl::StrCat(counts.wont_do()),
           Percent(kind.completion_rate()),
           counts.done() > 0 ? Duration(kind.median_time_to_close()) : "-"});
    }
    absl::StrAppend(&out, "\n", kinds.Render());
  }

  if (stats.overdue().empty()) {
    absl::StrAppend(&out, "\noverdue: none\n");
  } else {
    absl::StrAppend(&out, "\noverdue ",
                    Count(stats.overdue_size(), stats.counts().overdue()),
                    ":\n");
    Table overdue({"OWNER", "DAYS", "DUE", "ITEM", "INCIDENT"});
    overdue.SetMaxWidth(0, kOwnerWidth);
    overdue.SetMaxWidth(3, kItemWidth);
    overdue.SetMaxWidth(4, kShortTitleWidth);
    for (const v1::OverdueActionItem& item : stats.overdue()) {
      overdue.AddRow({item.owner().empty() ? "-" : item.owner(),
                      absl::StrCat(item.days_overdue()), item.due_date(),
                      item.description(),
                      absl::StrCat(ShortId(item.postmortem_id()), "  ",
                                   OneLine(item.postmortem_title()))});
    }
    absl::StrAppend(&out, overdue.Render());
  }

  absl::StrAppend(&out,
                  RepeatsSection("repeats while a fix was still open",
                                 stats.repeats_while_open_count(),
                                 stats.repeats_while_open()),
                  RepeatsSection("repeats after the fixes were done (the fix "
                                 "did not work)",
                                 stats.repeats_after_fixes_count(),
                                 stats.repeats_after_fixes()));
  return out;
}

std::string RenderRecurrenceLink(const v1::RecurrenceLink& link) {
  std::string out =
      absl::StrCat(absl::AsciiStrToUpper(RecurrenceStateName(link.state())),
                   "  ", RecurrenceSourceName(link.source()), "  score ",
                   absl::StrFormat("%.2f", link.score()), "  ",
                   link.counted() ? "counted" : "not counted", "\n");
  Table pair({"", "", "", ""});
  pair.SetMaxWidth(3, kShortTitleWidth);
  pair.AddRow(
      {"repeat", Day(link.started_at()), link.postmortem_id(), link.title()});
  pair.AddRow({"of", Day(link.earlier_started_at()), link.earlier_id(),
               link.earlier_title()});
  const std::string rows = pair.Render();
  absl::StrAppend(&out, Indented(rows.substr(rows.find('\n') + 1), 2));
  bool first = true;
  for (const std::string& reason : link.reasons()) {
    absl::StrAppend(&out, first ? "  why: " : "       ",
                    TruncateToWidth(OneLine(reason), kDescriptionWidth + 10),
                    "\n");
    first = false;
  }
  if (!link.decided_by().empty()) {
    absl::StrAppend(&out, "  ", RecurrenceStateName(link.state()), " by ",
                    OneLine(link.decided_by()));
    if (IsSet(link.decided_at())) {
      absl::StrAppend(&out, ", ", FormatMinute(link.decided_at()), " UTC");
    }
    if (!link.note().empty()) {
      absl::StrAppend(&out, ": ", OneLine(link.note()));
    }
    absl::StrAppend(&out, "\n");
  }
  return out;
}

std::string RenderRecurrenceLinks(const v1::ListRecurrencesResponse& response) {
  if (response.links().empty()) return "no recurrence links\n";
  std::vector<std::string> blocks;
  for (const v1::RecurrenceLink& link : response.links()) {
    blocks.push_back(RenderRecurrenceLink(link));
  }
  return absl::StrJoin(blocks, "\n");
}

}  // namespace deja::cli
