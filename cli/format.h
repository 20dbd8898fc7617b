#ifndef DEJA_CLI_FORMAT_H_
#define DEJA_CLI_FORMAT_H_

// Text conversions of the `deja` CLI: how values are shown to people and how
// their typed arguments are read. Pure functions, thread-safe. Parsers return
// INVALID_ARGUMENT with a message fit for a usage error.

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "deja/v1/postmortem.pb.h"
#include "deja/v1/recurrence_service.pb.h"
#include "google/protobuf/duration.pb.h"
#include "google/protobuf/timestamp.pb.h"

namespace deja::cli {

// Columns `text` takes on a terminal: one per code point (wide CJK glyphs are
// not special-cased); a stray byte of invalid UTF-8 counts as one.
size_t DisplayWidth(absl::string_view text);

// `text` cut to at most `width` columns, ending in "…" when something was
// cut. Never splits a UTF-8 sequence.
std::string TruncateToWidth(absl::string_view text, size_t width);

// `text` cut from the front instead, for paths whose end says the most:
// "…/postmortems/03-orders.json".
std::string TruncateLeftToWidth(absl::string_view text, size_t width);

// `text` cut in the middle, for names whose start and end both matter:
// "2023-11-17 - Label printers…firmware push.md".
std::string TruncateMiddleToWidth(absl::string_view text, size_t width);

// `text` re-flowed to lines of at most `width` columns, breaking at spaces;
// existing line breaks are kept, a word longer than `width` gets a line of
// its own. No trailing newline.
std::string WrapText(absl::string_view text, size_t width);

// `text` on one line: newlines, tabs and other control characters become
// single spaces, so a table cell cannot break the table.
std::string OneLine(absl::string_view text);

// "45s", "5m", "1h 23m", "2d 4h"; the two largest units, rounded down.
// Negative durations get a leading "-".
std::string CompactDuration(absl::Duration duration);

// "2024-03-01 14:05" in UTC; "" for an unset timestamp.
std::string FormatMinute(const google::protobuf::Timestamp& at);

absl::Time ToTime(const google::protobuf::Timestamp& at);
bool IsSet(const google::protobuf::Timestamp& at);
google::protobuf::Timestamp ToTimestamp(absl::Time time);
absl::Duration ToDuration(const google::protobuf::Duration& duration);

// A share 0..1 as a percentage with at most one decimal: "25%", "16.7%",
// "0%".
std::string Percent(double rate);

// "SEV2", "sev2" or "2".
absl::StatusOr<v1::Severity> ParseSeverity(absl::string_view text);
// "SEV2"; "-" for SEVERITY_UNSPECIFIED.
std::string SeverityName(v1::Severity severity);

// "open", "in-progress", "done", "wont-do" (also the enum names, any case,
// with "-" or "_").
absl::StatusOr<v1::ActionItem::Status> ParseActionStatus(
    absl::string_view text);
// "open", "in-progress", "done", "wont-do"; "-" when unspecified.
std::string ActionStatusName(v1::ActionItem::Status status);
// "prevent", "mitigate", "detect", "process"; "-" when unspecified.
std::string ActionKindName(v1::ActionItem::Kind kind);
// "config-change", "software-bug", ...; "unspecified".
std::string RootCauseCategoryName(v1::RootCause::Category category);

// "suggested", "confirmed", "rejected" (also the enum names, any case).
absl::StatusOr<v1::RecurrenceLink::State> ParseRecurrenceState(
    absl::string_view text);
// "suggested", "confirmed", "rejected"; "-" when unspecified.
std::string RecurrenceStateName(v1::RecurrenceLink::State state);
// "auto", "declared"; "-" when unspecified.
std::string RecurrenceSourceName(v1::RecurrenceLink::Source source);

// Which end of a day a bare date stands for.
enum class DayEdge { kStart, kEnd };
// "YYYY-MM-DD" (UTC midnight at the start of that day, or of the next day for
// kEnd, so that "--until 2024-03-31" includes March 31) or RFC 3339
// ("2024-03-01T14:05:00Z", taken as is).
absl::StatusOr<absl::Time> ParseDateArgument(absl::string_view text,
                                             DayEdge edge);

// True for a calendar date "YYYY-MM-DD".
bool IsCalendarDate(absl::string_view text);

// The 128-bit FNV-1a hash of `bytes` as 32 lowercase hex digits. Stable
// across releases: request ids are made of it.
std::string Fnv1a128Hex(absl::string_view bytes);

// The request_id `deja submit` sends when none is given: a hash of the
// postmortem's deterministic binary encoding, so the same content (however
// the JSON is laid out) is submitted once. Stable across releases:
// "cli-" followed by 32 hex digits (128-bit FNV-1a).
std::string DefaultRequestId(const v1::Postmortem& postmortem);

}  // namespace deja::cli

#endif  // DEJA_CLI_FORMAT_H_
