#include "cli/format.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/numeric/int128.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"

namespace deja::cli {
namespace {

constexpr absl::string_view kEllipsis = "…";

// Length of the UTF-8 sequence starting at text[i] when it is well formed,
// else 1 (the stray byte is its own column).
size_t SequenceLength(absl::string_view text, size_t i) {
  const auto lead = static_cast<unsigned char>(text[i]);
  size_t length = 1;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
  }
  if (i + length > text.size()) return 1;
  for (size_t k = 1; k < length; ++k) {
    if ((static_cast<unsigned char>(text[i + k]) & 0xC0) != 0x80) return 1;
  }
  return length;
}

// Lower-case with "_" as "-", so "IN_PROGRESS" and "in-progress" compare
// equal.
std::string Normalize(absl::string_view text) {
  return absl::StrReplaceAll(absl::AsciiStrToLower(text), {{"_", "-"}});
}

// The enum value's name in the CLI's spelling ("IN_PROGRESS" ->
// "in-progress").
std::string CliName(const std::string& enum_name) {
  return Normalize(enum_name);
}

}  // namespace

size_t DisplayWidth(absl::string_view text) {
  size_t width = 0;
  for (size_t i = 0; i < text.size(); i += SequenceLength(text, i)) ++width;
  return width;
}

std::string TruncateToWidth(absl::string_view text, size_t width) {
  if (DisplayWidth(text) <= width) return std::string(text);
  if (width == 0) return "";
  // Keep width - 1 columns and spend the last one on the ellipsis.
  size_t end = 0;
  for (size_t kept = 0; kept + 1 < width; ++kept) {
    end += SequenceLength(text, end);
  }
  // "Checkout…" reads better than "Checkout …".
  return absl::StrCat(absl::StripTrailingAsciiWhitespace(text.substr(0, end)),
                      kEllipsis);
}

std::string TruncateLeftToWidth(absl::string_view text, size_t width) {
  const size_t total = DisplayWidth(text);
  if (total <= width) return std::string(text);
  if (width == 0) return "";
  size_t start = 0;
  for (size_t dropped = 0; dropped < total - (width - 1); ++dropped) {
    start += SequenceLength(text, start);
  }
  return absl::StrCat(kEllipsis, text.substr(start));
}

std::string TruncateMiddleToWidth(absl::string_view text, size_t width) {
  const size_t total = DisplayWidth(text);
  if (total <= width) return std::string(text);
  if (width == 0) return "";
  const size_t head_columns = (width - 1) / 2;
  const size_t tail_columns = width - 1 - head_columns;
  size_t head_end = 0;
  for (size_t kept = 0; kept < head_columns; ++kept) {
    head_end += SequenceLength(text, head_end);
  }
  size_t tail_start = head_end;
  for (size_t skipped = head_columns; skipped < total - tail_columns;
       ++skipped) {
    tail_start += SequenceLength(text, tail_start);
  }
  return absl::StrCat(text.substr(0, head_end), kEllipsis,
                      text.substr(tail_start));
}

std::string WrapText(absl::string_view text, size_t width) {
  std::vector<std::string> lines;
  for (absl::string_view paragraph : absl::StrSplit(text, '\n')) {
    std::string line;
    size_t line_width = 0;
    for (absl::string_view word :
         absl::StrSplit(paragraph, ' ', absl::SkipEmpty())) {
      const size_t word_width = DisplayWidth(word);
      if (line_width > 0 && line_width + 1 + word_width > width) {
        lines.push_back(std::move(line));
        line.clear();
        line_width = 0;
      }
      if (line_width > 0) {
        line += ' ';
        ++line_width;
      }
      absl::StrAppend(&line, word);
      line_width += word_width;
    }
    lines.push_back(std::move(line));
  }
  return absl::StrJoin(lines, "\n");
}

std::string OneLine(absl::string_view text) {
  std::string line(text);
  for (char& c : line) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7F) c = ' ';
  }
  return line;
}

std::string CompactDuration(absl::Duration duration) {
  if (duration < absl::ZeroDuration()) {
    return absl::StrCat("-", CompactDuration(-duration));
  }
  const int64_t total = absl::ToInt64Seconds(duration);
  const int64_t days = total / 86400;
  const int64_t hours = total % 86400 / 3600;
  const int64_t minutes = total % 3600 / 60;
  const int64_t seconds = total % 60;
  if (days > 0) {
    return hours > 0 ? absl::StrFormat("%dd %dh", days, hours)
                     : absl::StrFormat("%dd", days);
  }
  if (hours > 0) {
    return minutes > 0 ? absl::StrFormat("%dh %dm", hours, minutes)
                       : absl::StrFormat("%dh", hours);
  }
  if (minutes > 0) {
    return seconds > 0 ? absl::StrFormat("%dm %ds", minutes, seconds)
                       : absl::StrFormat("%dm", minutes);
  }
  return absl::StrFormat("%ds", seconds);
}

absl::Time ToTime(const google::protobuf::Timestamp& at) {
  return absl::FromUnixSeconds(at.seconds()) + absl::Nanoseconds(at.nanos());
}

bool IsSet(const google::protobuf::Timestamp& at) {
  return at.seconds() != 0 || at.nanos() != 0;
}

google::protobuf::Timestamp ToTimestamp(absl::Time time) {
  google::protobuf::Timestamp at;
  const int64_t seconds = absl::ToUnixSeconds(time);
  at.set_seconds(seconds);
  at.set_nanos(static_cast<int32_t>(
      absl::ToInt64Nanoseconds(time - absl::FromUnixSeconds(seconds))));
  return at;
}

absl::Duration ToDuration(const google::protobuf::Duration& duration) {
  return absl::Seconds(duration.seconds()) +
         absl::Nanoseconds(duration.nanos());
}

std::string Percent(double rate) {
  if (!std::isfinite(rate)) return "-";
  // Rounded to a tenth first, so 0.1666 is "16.7%" and 0.25 is "25%".
  const double tenths = std::round(rate * 1000);
  if (std::fmod(tenths, 10) == 0) {
    return absl::StrFormat("%.0f%%", tenths / 10);
  }
  return absl::StrFormat("%.1f%%", tenths / 10);
}

std::string FormatMinute(const google::protobuf::Timestamp& at) {
  if (!IsSet(at)) return "";
  return absl::FormatTime("%Y-%m-%d %H:%M", ToTime(at), absl::UTCTimeZone());
}

absl::StatusOr<v1::Severity> ParseSeverity(absl::string_view text) {
  std::string name = absl::AsciiStrToUpper(text);
  if (name.size() == 1) name = absl::StrCat("SEV", name);
  v1::Severity severity;
  if (!v1::Severity_Parse(name, &severity) ||
      severity == v1::SEVERITY_UNSPECIFIED) {
    return absl::InvalidArgumentError(absl::StrCat(
        "invalid severity '", text, "' (expected SEV1..SEV5 or 1..5)"));
  }
  return severity;
}

std::string SeverityName(v1::Severity severity) {
  if (severity == v1::SEVERITY_UNSPECIFIED) return "-";
  return v1::Severity_Name(severity);
}

absl::StatusOr<v1::ActionItem::Status> ParseActionStatus(
    absl::string_view text) {
  const std::string wanted = Normalize(text);
  for (int value : {v1::ActionItem::OPEN, v1::ActionItem::IN_PROGRESS,
                    v1::ActionItem::DONE, v1::ActionItem::WONT_DO}) {
    const auto status = static_cast<v1::ActionItem::Status>(value);
    if (CliName(v1::ActionItem::Status_Name(status)) == wanted) return status;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("invalid status '", text,
                   "' (expected open, in-progress, done or wont-do)"));
}

std::string ActionStatusName(v1::ActionItem::Status status) {
  if (status == v1::ActionItem::STATUS_UNSPECIFIED) return "-";
  return CliName(v1::ActionItem::Status_Name(status));
}

std::string ActionKindName(v1::ActionItem::Kind kind) {
  if (kind == v1::ActionItem::KIND_UNSPECIFIED) return "-";
  return CliName(v1::ActionItem::Kind_Name(kind));
}

std::string RootCauseCategoryName(v1::RootCause::Category category) {
  if (category == v1::RootCause::CATEGORY_UNSPECIFIED) return "unspecified";
  return CliName(v1::RootCause::Category_Name(category));
}

absl::StatusOr<v1::RecurrenceLink::State> ParseRecurrenceState(
    absl::string_view text) {
  const std::string wanted = Normalize(text);
  for (int value :
       {v1::RecurrenceLink::SUGGESTED, v1::RecurrenceLink::CONFIRMED,
        v1::RecurrenceLink::REJECTED}) {
    const auto state = static_cast<v1::RecurrenceLink::State>(value);
    if (CliName(v1::RecurrenceLink::State_Name(state)) == wanted) return state;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("invalid --state '", text,
                   "' (expected suggested, confirmed or rejected)"));
}

std::string RecurrenceStateName(v1::RecurrenceLink::State state) {
  if (state == v1::RecurrenceLink::STATE_UNSPECIFIED) return "-";
  return CliName(v1::RecurrenceLink::State_Name(state));
}

std::string RecurrenceSourceName(v1::RecurrenceLink::Source source) {
  if (source == v1::RecurrenceLink::SOURCE_UNSPECIFIED) return "-";
  return CliName(v1::RecurrenceLink::Source_Name(source));
}

bool IsCalendarDate(absl::string_view text) {
  absl::Time unused;
  std::string error;
  return text.size() == 10 &&
         absl::ParseTime("%Y-%m-%d", text, absl::UTCTimeZone(), &unused,
                         &error);
}

absl::StatusOr<absl::Time> ParseDateArgument(absl::string_view text,
                                             DayEdge edge) {
  // The range the server accepts for any time (core/validation.h).
  const absl::Time earliest = absl::FromUnixSeconds(-2208988800);  // 1900
  const absl::Time latest = absl::FromUnixSeconds(253402300799);   // 9999
  absl::Time time;
  std::string error;
  bool parsed = false;
  if (text.size() == 10 &&
      absl::ParseTime("%Y-%m-%d", text, absl::UTCTimeZone(), &time, &error)) {
    parsed = true;
    // The end of 9999-12-31 is the last second the server accepts.
    if (edge == DayEdge::kEnd) time = std::min(time + absl::Hours(24), latest);
  } else if (absl::ParseTime(absl::RFC3339_full, text, absl::UTCTimeZone(),
                             &time, &error)) {
    parsed = true;
  }
  if (parsed) {
    if (time < earliest || time > latest) {
      return absl::InvalidArgumentError(absl::StrCat(
          "date '", text, "' out of range (1900-01-01 to 9999-12-31)"));
    }
    return time;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("invalid date '", text,
                   "' (expected YYYY-MM-DD or RFC 3339, e.g. "
                   "2024-03-01T14:05:00Z)"));
}

std::string Fnv1a128Hex(absl::string_view bytes) {
  // 128-bit FNV-1a: no crypto library needed, and 128 bits make an accidental
  // collision between two postmortems (which the server would reject as
  // FAILED_PRECONDITION) practically impossible.
  const absl::uint128 kPrime =
      absl::MakeUint128(0x0000000001000000ULL, 0x000000000000013BULL);
  absl::uint128 hash =
      absl::MakeUint128(0x6c62272e07bb0142ULL, 0x62b821756295c58dULL);
  for (char c : bytes) {
    hash ^= static_cast<unsigned char>(c);
    hash *= kPrime;
  }
  return absl::StrFormat("%016x%016x", absl::Uint128High64(hash),
                         absl::Uint128Low64(hash));
}

std::string DefaultRequestId(const v1::Postmortem& postmortem) {
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream stream(&bytes);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    postmortem.SerializeToCodedStream(&coded);
  }
  return absl::StrCat("cli-", Fnv1a128Hex(bytes));
}

}  // namespace deja::cli
