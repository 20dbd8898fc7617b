#ifndef DEJA_CLI_STATS_RENDER_H_
#define DEJA_CLI_STATS_RENDER_H_

// How `deja stats` and `deja recurrence` show their answers to people: short
// "name:  value" blocks, then tables. Times in UTC, durations as
// CompactDuration ("7m", "2h 14m", "3d 4h"), shares as percentages. Pure
// functions, thread-safe; --json output is the commands' business.

#include <string>

#include "absl/strings/string_view.h"
#include "deja/v1/recurrence_service.pb.h"
#include "deja/v1/stats_service.pb.h"
#include "google/protobuf/timestamp.pb.h"

namespace deja::cli {

// How many split values `deja stats trend` shows as columns; the rest are
// summed under OTHER, so the table stays readable.
inline constexpr int kTrendSplitColumns = 6;

// Incidents and by severity, repeats and the repeat rate, action items, then
// a table of time to detect / mitigate / resolve (median, p90, mean).
std::string RenderOverview(const v1::Overview& overview);

// One row per bucket: its label, the incidents and a bar, or with a split the
// kTrendSplitColumns largest values over the window and OTHER.
std::string RenderTrend(const v1::Trend& trend);

// Repeats and the rate, each cluster with its members and what they share,
// the error signatures seen in several incidents, the causes of repeats.
std::string RenderRecurrenceStats(const v1::RecurrenceStats& stats);

// Follow-through overall and by kind, the overdue items, the repeats while a
// fix was open and those after the fixes were done.
std::string RenderActionItemStats(const v1::ActionItemStats& stats);

// A link: state, source, score, the two incidents, why, and who decided.
std::string RenderRecurrenceLink(const v1::RecurrenceLink& link);
// Every link of the page, separated by blank lines; "no recurrence links"
// when there is none.
std::string RenderRecurrenceLinks(const v1::ListRecurrencesResponse& response);

// "2024-W52 (Dec 23)" (ISO week, its Monday) for WEEK, "2024-12" otherwise.
std::string BucketLabel(const google::protobuf::Timestamp& start,
                        v1::TrendRequest::Interval interval);

// A split key as the CLI spells it: "2", "sev2" or "SEV2" as "SEV2",
// "CONFIG_CHANGE" as "config-change"; other keys unchanged.
std::string SplitKeyName(absl::string_view key,
                         v1::TrendRequest::SplitBy split_by);

}  // namespace deja::cli

#endif  // DEJA_CLI_STATS_RENDER_H_
