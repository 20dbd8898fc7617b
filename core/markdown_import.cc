#include "core/markdown_import.h"

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "core/status_macros.h"
#include "core/validation.h"

namespace deja {
namespace {

struct Line {
  int number = 0;
  absl::string_view text;
};

absl::Status LineError(int line, absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat("line ", line, ": ", problem));
}

bool IsBlankLine(absl::string_view text) {
  return absl::StripAsciiWhitespace(text).empty();
}

size_t Indent(absl::string_view text) {
  size_t i = 0, width = 0;
  while (i < text.size() && (text[i] == ' ' || text[i] == '\t')) {
    width += text[i] == '\t' ? 4 : 1;
    ++i;
  }
  return width;
}

// Splits into lines (LF or CRLF) and rejects binary data with its line.
absl::StatusOr<std::vector<Line>> SplitLines(absl::string_view text) {
  std::vector<Line> lines;
  int number = 0;
  for (absl::string_view piece : absl::StrSplit(text, '\n')) {
    ++number;
    absl::ConsumeSuffix(&piece, "\r");
    if (absl::StrContains(piece, '\0')) {
      return LineError(number, "binary data (a NUL byte)");
    }
    if (!IsCleanUtf8(piece)) {
      return LineError(number, "binary data (invalid UTF-8)");
    }
    lines.push_back({number, piece});
  }
  if (!lines.empty() && lines.back().text.empty()) lines.pop_back();
  return lines;
}

// ---------------------------------------------------------------- times

struct Zone {
  bool known = true;
  int offset_seconds = 0;
  std::string name = "UTC";
};

// Fixed-offset zones only. Ambiguous abbreviations (CST: US Central, China or
// Cuba; IST: India, Ireland or Israel) are not converted: a guess would put
// the event hours off without anyone noticing.
std::optional<Zone> ZoneNamed(absl::string_view name) {
  static const struct {
    const char* name;
    int hours;
  } kZones[] = {{"UTC", 0},  {"GMT", 0},  {"Z", 0},    {"CET", 1},
                {"CEST", 2}, {"BST", 1},  {"EST", -5}, {"EDT", -4},
                {"MST", -7}, {"MDT", -6}, {"PST", -8}, {"PDT", -7}};
  const std::string upper = absl::AsciiStrToUpper(name);
  for (const auto& zone : kZones) {
    if (upper == zone.name) {
      if (zone.hours == 0) return Zone{};
      return Zone{true, zone.hours * 3600, zone.name};
    }
  }
  return std::nullopt;
}

bool ReadDigits(absl::string_view s, size_t* pos, size_t min, size_t max,
                int* value) {
  size_t n = 0;
  int v = 0;
  while (*pos + n < s.size() && n < max && absl::ascii_isdigit(s[*pos + n])) {
    v = v * 10 + (s[*pos + n] - '0');
    ++n;
  }
  if (n < min) return false;
  if (*pos + n < s.size() && absl::ascii_isdigit(s[*pos + n])) return false;
  *pos += n;
  *value = v;
  return true;
}

// "+2", "-5", "+02:00", "-0500", "+5:30" after "UTC"/"GMT" (at `*pos`, the
// sign): the offset in seconds. Offsets beyond 14 hours do not exist.
bool ReadOffset(absl::string_view s, size_t* pos, int* offset_seconds) {
  if (*pos >= s.size() || (s[*pos] != '+' && s[*pos] != '-')) return false;
  size_t p = *pos + 1;
  int hh = 0, mm = 0;
  size_t start = p;
  if (ReadDigits(s, &p, 4, 4, &hh)) {  // "0500"
    mm = hh % 100;
    hh /= 100;
  } else {
    p = start;
    if (!ReadDigits(s, &p, 1, 2, &hh)) return false;
    if (p + 1 < s.size() && s[p] == ':' && absl::ascii_isdigit(s[p + 1])) {
      ++p;
      if (!ReadDigits(s, &p, 2, 2, &mm)) return false;
    }
  }
  if (hh > 14 || mm > 59) return false;
  *offset_seconds = (s[*pos] == '-' ? -1 : 1) * (hh * 3600 + mm * 60);
  *pos = p;
  return true;
}

// A zone name at `*pos`, with the offset of "UTC+2" / "GMT-5" when written.
std::optional<Zone> ReadZoneName(absl::string_view s, size_t* pos) {
  size_t q = *pos;
  while (q < s.size() && absl::ascii_isupper(s[q])) ++q;
  std::optional<Zone> zone = ZoneNamed(s.substr(*pos, q - *pos));
  if (!zone) return std::nullopt;
  int offset = 0;
  if (zone->offset_seconds == 0 && q - *pos == 3 &&
      ReadOffset(s, &q, &offset)) {
    zone = Zone{true, offset, std::string(s.substr(*pos, q - *pos))};
  }
  *pos = q;
  return zone;
}

// The first zone name ("UTC", "CET", "UTC+2", ...) mentioned in `text` as a
// word.
std::optional<Zone> ZoneMentioned(absl::string_view text) {
  for (absl::string_view word : absl::StrSplit(
           text, absl::ByAnyChar(" \t.,;:()[]"), absl::SkipEmpty())) {
    size_t letters = 0;
    while (letters < word.size() && absl::ascii_isalpha(word[letters])) {
      ++letters;
    }
    const absl::string_view name = word.substr(0, letters);
    if (name.size() >= 3 && name.size() <= 4 &&
        absl::AsciiStrToUpper(name) == name) {
      size_t pos = 0;
      if (auto zone = ReadZoneName(word, &pos); zone && pos == word.size()) {
        return zone;
      }
    }
  }
  return std::nullopt;
}

struct TimeText {
  std::optional<absl::CivilDay> day;
  bool has_clock = false;
  int hour = 0, minute = 0, second = 0;
  std::optional<Zone> zone;  // written next to the time
  std::string unknown_zone;  // a zone name we do not convert
  size_t consumed = 0;
};

bool MakeDay(int y, int m, int d, absl::CivilDay* day) {
  const absl::CivilDay parsed(y, m, d);
  if (parsed.year() != y || parsed.month() != m || parsed.day() != d) {
    return false;
  }
  *day = parsed;
  return true;
}

// "YYYY-MM-DD", "YYYY/MM/DD", "YYYY.MM.DD" (one separator throughout).
bool ReadNumericDate(absl::string_view s, size_t* pos, absl::CivilDay* day) {
  size_t p = *pos;
  int y, m, d;
  if (!ReadDigits(s, &p, 4, 4, &y) || p >= s.size()) return false;
  const char separator = s[p];
  if (separator != '-' && separator != '/' && separator != '.') return false;
  ++p;
  if (!ReadDigits(s, &p, 1, 2, &m) || p >= s.size() || s[p] != separator) {
    return false;
  }
  ++p;
  if (!ReadDigits(s, &p, 1, 2, &d) || !MakeDay(y, m, d, day)) return false;
  *pos = p;
  return true;
}

// An English month name or abbreviation ("Nov", "Sept.", "NOVEMBER") as a
// whole word: its number, 1-12.
bool ReadMonthName(absl::string_view s, size_t* pos, int* month) {
  static const char* kNames[] = {
      "january", "february", "march",     "april",   "may",      "june",
      "july",    "august",   "september", "october", "november", "december"};
  size_t q = *pos;
  while (q < s.size() && absl::ascii_isalpha(s[q])) ++q;
  const std::string word = absl::AsciiStrToLower(s.substr(*pos, q - *pos));
  if (word.size() < 3) return false;
  for (int m = 0; m < 12; ++m) {
    const absl::string_view name = kNames[m];
    const bool abbreviation = word.size() < name.size() &&
                              (word.size() == 3 || (m == 8 && word == "sept"));
    if (word == name || (abbreviation && absl::StartsWith(name, word))) {
      if (abbreviation && q < s.size() && s[q] == '.') ++q;
      *month = m + 1;
      *pos = q;
      return true;
    }
  }
  return false;
}

bool SkipSpaces(absl::string_view s, size_t* pos) {
  const size_t start = *pos;
  while (*pos < s.size() && s[*pos] == ' ') ++*pos;
  return *pos > start;
}

// "17 Nov 2023", "17 November 2023", "Nov 17 2023", "November 17, 2023".
bool ReadWordDate(absl::string_view s, size_t* pos, absl::CivilDay* day) {
  size_t p = *pos;
  int y, m, d;
  if (ReadDigits(s, &p, 1, 2, &d)) {
    if (!SkipSpaces(s, &p) || !ReadMonthName(s, &p, &m)) return false;
    if (p < s.size() && s[p] == ',') ++p;
  } else {
    if (!ReadMonthName(s, &p, &m) || !SkipSpaces(s, &p) ||
        !ReadDigits(s, &p, 1, 2, &d)) {
      return false;
    }
    if (p < s.size() && s[p] == ',') ++p;
  }
  if (!SkipSpaces(s, &p) || !ReadDigits(s, &p, 4, 4, &y) ||
      (p < s.size() && absl::ascii_isalpha(s[p])) || !MakeDay(y, m, d, day)) {
    return false;
  }
  *pos = p;
  return true;
}

bool ReadDate(absl::string_view s, size_t* pos, absl::CivilDay* day) {
  return ReadNumericDate(s, pos, day) || ReadWordDate(s, pos, day);
}

// "17/11/2023" or "11.17.23": day-first and month-first cannot be told apart
// (even 17/11 only looks unambiguous), so such dates are reported, not
// guessed.
bool IsAmbiguousNumericDate(absl::string_view s) {
  size_t p = 0;
  int a, b, c;
  if (!ReadDigits(s, &p, 1, 2, &a) || p >= s.size()) return false;
  const char separator = s[p];
  if (separator != '/' && separator != '.' && separator != '-') return false;
  ++p;
  if (!ReadDigits(s, &p, 1, 2, &b) || p >= s.size() || s[p] != separator) {
    return false;
  }
  ++p;
  return ReadDigits(s, &p, 2, 4, &c);
}

// " AM", "pm", " a.m." after a clock: sets `*pm`.
bool ReadMeridiem(absl::string_view s, size_t* pos, bool* pm) {
  size_t p = *pos;
  SkipSpaces(s, &p);
  if (p >= s.size()) return false;
  const char first = absl::ascii_tolower(s[p]);
  if (first != 'a' && first != 'p') return false;
  ++p;
  const bool dotted = p < s.size() && s[p] == '.';
  if (dotted) ++p;
  if (p >= s.size() || absl::ascii_tolower(s[p]) != 'm') return false;
  ++p;
  if (dotted && p < s.size() && s[p] == '.') ++p;
  if (p < s.size() && absl::ascii_isalnum(s[p])) return false;
  *pm = first == 'p';
  *pos = p;
  return true;
}

bool ReadClock(absl::string_view s, size_t* pos, TimeText* out) {
  size_t p = *pos;
  int h, m, sec = 0;
  if (!ReadDigits(s, &p, 1, 2, &h) || p >= s.size() || s[p] != ':') {
    return false;
  }
  ++p;
  if (!ReadDigits(s, &p, 2, 2, &m)) return false;
  if (p < s.size() && s[p] == ':') {
    size_t q = p + 1;
    if (ReadDigits(s, &q, 2, 2, &sec)) {
      p = q;
      if (p < s.size() && s[p] == '.') {
        ++p;
        while (p < s.size() && absl::ascii_isdigit(s[p])) ++p;
      }
    }
  }
  bool pm = false;
  if (ReadMeridiem(s, &p, &pm)) {
    if (h < 1 || h > 12) return false;
    h = h % 12 + (pm ? 12 : 0);  // 12:05 AM is 00:05, 12:30 PM is 12:30
  }
  if (h > 23 || m > 59 || sec > 60) return false;
  out->has_clock = true;
  out->hour = h;
  out->minute = m;
  out->second = sec;
  *pos = p;
  return true;
}

void ReadZone(absl::string_view s, size_t* pos, TimeText* out) {
  size_t p = *pos;
  SkipSpaces(s, &p);
  int offset = 0;
  if (p < s.size() && (s[p] == '+' || s[p] == '-') && p == *pos) {
    // "06:10+02:00", "06:10-0500"; "12:26-12:??" is a range.
    size_t q = p;
    if (ReadOffset(s, &q, &offset) &&
        !(q + 1 < s.size() && s[q] == ':' && s[q + 1] != ' ')) {
      out->zone = Zone{true, offset, std::string(s.substr(p, q - p))};
      *pos = q;
    }
    return;
  }
  // After a space only "+HH:MM", "+HHMM" or "-HHMM": "09:00 - 10:00" and
  // "09:00 -10:00" are ranges.
  if (p < s.size() && (s[p] == '+' || s[p] == '-')) {
    size_t q = p;
    size_t digits = p + 1;
    while (digits < s.size() && absl::ascii_isdigit(s[digits])) ++digits;
    const bool four_digits = digits - p - 1 == 4;
    if ((s[p] == '+' || four_digits) && ReadOffset(s, &q, &offset) &&
        (q >= s.size() || !absl::ascii_isalnum(s[q]))) {
      out->zone = Zone{true, offset, std::string(s.substr(p, q - p))};
      *pos = q;
    }
    return;
  }
  size_t q = p;
  while (q < s.size() && absl::ascii_isupper(s[q])) ++q;
  const size_t length = q - p;
  if (length == 0 || length > 5 ||
      (q < s.size() && absl::ascii_isalnum(s[q]))) {
    return;
  }
  if (length == 1 && s[p] != 'Z') return;
  size_t end = p;
  if (auto zone = ReadZoneName(s, &end)) {
    out->zone = zone;
    q = end;
  } else if (length >= 2) {
    out->unknown_zone = std::string(s.substr(p, length));
  } else {
    return;
  }
  *pos = q;
}

// True when `t` is the start of a range such as "09:00 - 11:00" or
// "12:26-12:??": the start is the event's time.
bool IsRangeStart(absl::string_view text, const TimeText& t) {
  if (!t.has_clock) return false;
  const absl::string_view rest =
      absl::StripLeadingAsciiWhitespace(text.substr(t.consumed));
  return absl::StartsWith(rest, "-") || absl::StartsWith(rest, "\xE2\x80\x93");
}

// Reads a date ("2023-11-17", "2023/11/17", "2023.11.17", "17 Nov 2023",
// "Nov 17, 2023"), a date and clock ("2023-11-17 06:10[:42]",
// "2023-11-17T06:10:42Z", "November 17, 2023, 6:10 AM") or a clock alone
// ("06:10", "6:10pm"), each with an optional "~" and zone, from the start of
// `s`.
std::optional<TimeText> ReadTime(absl::string_view s) {
  TimeText out;
  size_t pos = 0;
  if (!s.empty() && s[0] == '~') ++pos;  // "~2025-03-03 19:30": about then
  absl::CivilDay day;
  if (ReadDate(s, &pos, &day)) {
    out.day = day;
    size_t clock_at = pos;
    if (clock_at < s.size() && s[clock_at] == 'T') {
      ++clock_at;
    } else {
      if (clock_at < s.size() && s[clock_at] == ',') ++clock_at;
      SkipSpaces(s, &clock_at);
    }
    if (ReadClock(s, &clock_at, &out)) pos = clock_at;
  } else if (!ReadClock(s, &pos, &out)) {
    return std::nullopt;
  }
  if (pos < s.size() && s[pos] == '~') ++pos;
  if (out.has_clock) ReadZone(s, &pos, &out);
  out.consumed = pos;
  return out;
}
google::protobuf::Timestamp ToTimestamp(absl::CivilSecond when,
                                        int offset_seconds) {
  const absl::Time time =
      absl::FromCivil(when, absl::FixedTimeZone(offset_seconds));
  google::protobuf::Timestamp out;
  out.set_seconds(absl::ToUnixSeconds(time));
  return out;
}

absl::CivilDay DayOf(const google::protobuf::Timestamp& at,
                     int offset_seconds) {
  return absl::ToCivilDay(absl::FromUnixSeconds(at.seconds()),
                          absl::FixedTimeZone(offset_seconds));
}

// "31 minutes", "4 hours 42 minutes", "45m", "1h30m", "22 hours.".
std::optional<absl::Duration> ParseDuration(absl::string_view text) {
  std::string cleaned(text);
  if (auto footnote = cleaned.find("[^"); footnote != std::string::npos) {
    cleaned.resize(footnote);
  }
  absl::string_view s = absl::StripAsciiWhitespace(cleaned);
  absl::ConsumeSuffix(&s, ".");
  absl::Duration total;
  bool any = false;
  size_t pos = 0;
  while (pos < s.size()) {
    while (pos < s.size() && (s[pos] == ' ' || s[pos] == ',')) ++pos;
    if (absl::StartsWithIgnoreCase(s.substr(pos), "and ")) pos += 4;
    if (pos >= s.size()) break;
    int64_t value = 0;
    size_t digits = 0;
    while (pos < s.size() && absl::ascii_isdigit(s[pos]) && digits < 9) {
      value = value * 10 + (s[pos] - '0');
      ++pos;
      ++digits;
    }
    if (digits == 0) return std::nullopt;
    while (pos < s.size() && s[pos] == ' ') ++pos;
    size_t start = pos;
    while (pos < s.size() && absl::ascii_isalpha(s[pos])) ++pos;
    const std::string unit =
        absl::AsciiStrToLower(s.substr(start, pos - start));
    if (unit == "s" || unit == "sec" || unit == "secs" || unit == "second" ||
        unit == "seconds") {
      total += absl::Seconds(value);
    } else if (unit == "m" || unit == "min" || unit == "mins" ||
               unit == "minute" || unit == "minutes") {
      total += absl::Minutes(value);
    } else if (unit == "h" || unit == "hr" || unit == "hrs" || unit == "hour" ||
               unit == "hours") {
      total += absl::Hours(value);
    } else if (unit == "d" || unit == "day" || unit == "days") {
      total += absl::Hours(24 * value);
    } else {
      return std::nullopt;
    }
    any = true;
  }
  if (!any) return std::nullopt;
  return total;
}

// ------------------------------------------------------------- the import

class Importer {
 public:
  explicit Importer(MarkdownImport* out) : out_(*out), pm_(out->postmortem) {}

  void Note(int line, absl::string_view section, std::string reason) {
    out_.unmapped.push_back({line, std::string(section), std::move(reason)});
  }

  MarkdownImport& out_;
  v1::Postmortem& pm_;
};

// ---------------------------------------------------------- front matter

std::string StripComment(absl::string_view value) {
  char quote = 0;
  for (size_t i = 0; i < value.size(); ++i) {
    const char c = value[i];
    if (quote != 0) {
      if (c == '\\' && quote == '"') {
        ++i;
      } else if (c == quote) {
        quote = 0;
      }
    } else if (c == '"' || c == '\'') {
      quote = c;
    } else if (c == '#' &&
               (i == 0 || value[i - 1] == ' ' || value[i - 1] == '\t')) {
      return std::string(absl::StripAsciiWhitespace(value.substr(0, i)));
    }
  }
  return std::string(absl::StripAsciiWhitespace(value));
}

std::string Unquote(absl::string_view value) {
  value = absl::StripAsciiWhitespace(value);
  if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
    std::string out;
    for (size_t i = 1; i + 1 < value.size(); ++i) {
      if (value[i] == '\\' && i + 2 < value.size()) {
        const char next = value[++i];
        out += next == 'n' ? '\n' : next == 't' ? '\t' : next;
      } else {
        out += value[i];
      }
    }
    return out;
  }
  if (value.size() >= 2 && value.front() == '\'' && value.back() == '\'') {
    return absl::StrReplaceAll(value.substr(1, value.size() - 2),
                               {{"''", "'"}});
  }
  return std::string(value);
}

std::vector<std::string> InlineList(absl::string_view value) {
  std::vector<std::string> items;
  value = absl::StripAsciiWhitespace(value);
  value.remove_prefix(1);
  value.remove_suffix(1);
  std::string current;
  char quote = 0;
  auto flush = [&] {
    std::string item = Unquote(current);
    if (!item.empty()) items.push_back(std::move(item));
    current.clear();
  };
  for (char c : value) {
    if (quote != 0) {
      if (c == quote) quote = 0;
    } else if (c == '"' || c == '\'') {
      quote = c;
    } else if (c == ',') {
      flush();
      continue;
    }
    current += c;
  }
  flush();
  return items;
}

bool IsInlineList(absl::string_view value) {
  return value.size() >= 2 && value.front() == '[' && value.back() == ']';
}

struct FrontMatterEntry {
  int line = 0;
  std::string key;
  std::string scalar;  // when written on the key's line
  bool has_list = false;
  std::vector<std::pair<int, std::string>> items;  // "- value"
  // "- key: value" maps: key -> (line, value).
  std::vector<std::vector<std::pair<std::string, std::pair<int, std::string>>>>
      maps;
};

// "key: value"; `spaced_key` allows "Time to detection: 5 minutes".
bool SplitKeyValue(absl::string_view text, std::string* key, std::string* value,
                   bool spaced_key = false) {
  const size_t colon = text.find(':');
  if (colon == absl::string_view::npos || colon == 0) return false;
  const absl::string_view k = absl::StripAsciiWhitespace(text.substr(0, colon));
  for (char c : k) {
    if (!absl::ascii_isalnum(c) && c != '_' && c != '-' &&
        !(spaced_key && c == ' ')) {
      return false;
    }
  }
  *key = absl::AsciiStrToLower(k);
  *value = StripComment(text.substr(colon + 1));
  return true;
}

absl::StatusOr<std::vector<FrontMatterEntry>> ReadFrontMatter(
    const std::vector<Line>& lines) {
  std::vector<FrontMatterEntry> entries;
  for (const Line& line : lines) {
    const absl::string_view trimmed = absl::StripAsciiWhitespace(line.text);
    if (trimmed.empty() || trimmed.front() == '#') continue;
    std::string key, value;
    if (Indent(line.text) == 0) {
      if (!SplitKeyValue(trimmed, &key, &value)) {
        return LineError(line.number, "front matter: expected 'key: value'");
      }
      FrontMatterEntry entry;
      entry.line = line.number;
      entry.key = std::move(key);
      if (IsInlineList(value)) {
        entry.has_list = true;
        for (std::string& item : InlineList(value)) {
          entry.items.push_back({line.number, std::move(item)});
        }
      } else {
        entry.scalar = Unquote(value);
      }
      entries.push_back(std::move(entry));
      continue;
    }
    if (entries.empty() || !entries.back().scalar.empty()) {
      return LineError(line.number, "front matter: unexpected indented line");
    }
    FrontMatterEntry& entry = entries.back();
    entry.has_list = true;
    absl::string_view rest = trimmed;
    const bool starts_item = absl::ConsumePrefix(&rest, "- ") || rest == "-";
    if (starts_item) rest = absl::StripAsciiWhitespace(rest);
    if (SplitKeyValue(rest, &key, &value) && !absl::StartsWith(rest, "\"")) {
      if (starts_item || entry.maps.empty()) entry.maps.emplace_back();
      entry.maps.back().push_back({key, {line.number, Unquote(value)}});
    } else if (starts_item) {
      entry.items.push_back({line.number, Unquote(StripComment(rest))});
    } else {
      return LineError(line.number, "front matter: expected '- value'");
    }
  }
  return entries;
}

absl::StatusOr<google::protobuf::Timestamp> FrontMatterTime(
    int line, absl::string_view key, absl::string_view value) {
  std::optional<TimeText> time = ReadTime(value);
  if (!time || !time->day || time->consumed != value.size() ||
      !time->unknown_zone.empty()) {
    return LineError(line,
                     absl::StrCat(key, ": cannot read time '", value, "'"));
  }
  const Zone zone = time->zone.value_or(Zone{});
  return ToTimestamp(
      absl::CivilSecond(time->day->year(), time->day->month(), time->day->day(),
                        time->hour, time->minute, time->second),
      zone.offset_seconds);
}

std::string EnumName(absl::string_view value) {
  std::string name = absl::AsciiStrToUpper(absl::StripAsciiWhitespace(value));
  absl::StrReplaceAll({{" ", "_"}, {"-", "_"}, {"'", ""}}, &name);
  return name;
}

absl::Status ApplyFrontMatterEntry(const FrontMatterEntry& e, Importer& in) {
  v1::Postmortem& pm = in.pm_;
  const std::string& v = e.scalar;
  auto list = [&](google::protobuf::RepeatedPtrField<std::string>* field) {
    for (const auto& [line, item] : e.items) field->Add(std::string(item));
    if (!e.has_list && !v.empty()) field->Add(std::string(v));
  };
  if (e.key == "title") {
    pm.set_title(v);
  } else if (e.key == "team") {
    pm.set_team(v);
  } else if (e.key == "summary") {
    pm.set_summary(v);
  } else if (e.key == "external_id") {
    pm.set_external_id(v);
  } else if (e.key == "source_url") {
    pm.set_source_url(v);
  } else if (e.key == "services") {
    list(pm.mutable_services());
  } else if (e.key == "tags") {
    list(pm.mutable_tags());
  } else if (e.key == "recurrence_of") {
    list(pm.mutable_recurrence_of());
  } else if (e.key == "severity") {
    if (v.empty()) return absl::OkStatus();
    std::string name = EnumName(v);
    if (name.size() == 1) name = absl::StrCat("SEV", name);
    v1::Severity severity;
    if (!v1::Severity_Parse(name, &severity) ||
        severity == v1::SEVERITY_UNSPECIFIED) {
      return LineError(e.line, absl::StrCat("severity: unknown value '", v,
                                            "' (SEV1 .. SEV5)"));
    }
    pm.set_severity(severity);
  } else if (e.key == "status") {
    if (v.empty()) return absl::OkStatus();
    v1::Postmortem::Status status;
    if (!v1::Postmortem::Status_Parse(EnumName(v), &status) ||
        status == v1::Postmortem::STATUS_UNSPECIFIED) {
      return LineError(e.line,
                       absl::StrCat("status: unknown value '", v,
                                    "' (DRAFT, IN_REVIEW or PUBLISHED)"));
    }
    pm.set_status(status);
  } else if (e.key == "detection_source") {
    if (v.empty()) return absl::OkStatus();
    v1::Detection::Source source;
    if (!v1::Detection::Source_Parse(EnumName(v), &source) ||
        source == v1::Detection::SOURCE_UNSPECIFIED) {
      return LineError(
          e.line, absl::StrCat("detection_source: unknown value '", v, "'"));
    }
    pm.mutable_detection()->set_source(source);
  } else if (e.key == "started_at" || e.key == "detected_at" ||
             e.key == "mitigated_at" || e.key == "resolved_at") {
    if (v.empty()) return absl::OkStatus();
    DEJA_ASSIGN_OR_RETURN(google::protobuf::Timestamp at,
                          FrontMatterTime(e.line, e.key, v));
    google::protobuf::Timestamp* field =
        e.key == "started_at"     ? pm.mutable_started_at()
        : e.key == "detected_at"  ? pm.mutable_detected_at()
        : e.key == "mitigated_at" ? pm.mutable_mitigated_at()
                                  : pm.mutable_resolved_at();
    *field = at;
  } else if (e.key == "participants") {
    for (const auto& [line, name] : e.items) {
      pm.add_participants()->set_name(name);
    }
    for (const auto& map : e.maps) {
      v1::Participant* participant = pm.add_participants();
      for (const auto& [key, where] : map) {
        const auto& [line, value] = where;
        if (key == "name") {
          participant->set_name(value);
        } else if (key == "role") {
          participant->set_role(value);
        } else if (key == "facilitator") {
          const std::string flag = absl::AsciiStrToLower(value);
          if (flag == "true" || flag == "yes") {
            participant->set_facilitator(true);
          } else if (flag != "false" && flag != "no" && !flag.empty()) {
            return LineError(line, absl::StrCat("facilitator: expected true or "
                                                "false, got '",
                                                value, "'"));
          }
        } else {
          in.Note(line, "",
                  absl::StrCat("no field for participant key '", key, "'"));
        }
      }
    }
  } else {
    in.Note(e.line, "",
            absl::StrCat("no field for front matter key '", e.key, "'"));
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------- blocks

enum class BlockKind { kParagraph, kList, kTable, kCode, kHeading, kLinkDef };

struct ListItem {
  int line = 0;
  std::string text;
  int checkbox = -1;  // -1 none, 0 "[ ]", 1 "[x]"
};

struct Block {
  BlockKind kind = BlockKind::kParagraph;
  int line = 0;
  std::string text;  // paragraph, heading text, link label
  std::string url;   // link definition
  std::vector<ListItem> items;
  std::vector<std::string> header;
  std::vector<std::pair<int, std::vector<std::string>>> rows;
  std::vector<std::string> code;
};

Block MakeBlock(BlockKind kind, int line, std::string text = "") {
  Block block;
  block.kind = kind;
  block.line = line;
  block.text = std::move(text);
  return block;
}

struct Heading {
  int level = 0;
  std::string text;
};

std::optional<Heading> ReadHeading(absl::string_view text) {
  if (Indent(text) > 3) return std::nullopt;
  text = absl::StripLeadingAsciiWhitespace(text);
  int level = 0;
  while (level < static_cast<int>(text.size()) && text[level] == '#') ++level;
  if (level == 0 || level > 6) return std::nullopt;
  if (level < static_cast<int>(text.size()) && text[level] != ' ' &&
      text[level] != '\t') {
    return std::nullopt;
  }
  absl::string_view rest = absl::StripAsciiWhitespace(text.substr(level));
  // A closing "###" only when it stands alone: "## C#" keeps its "#".
  size_t closing = rest.size();
  while (closing > 0 && rest[closing - 1] == '#') --closing;
  if (closing == 0 || rest[closing - 1] == ' ' || rest[closing - 1] == '\t') {
    rest = rest.substr(0, closing);
  }
  return Heading{level, std::string(absl::StripAsciiWhitespace(rest))};
}

bool IsFence(absl::string_view text) {
  const absl::string_view t = absl::StripLeadingAsciiWhitespace(text);
  return absl::StartsWith(t, "```") || absl::StartsWith(t, "~~~");
}

struct Bullet {
  size_t indent = 0;
  bool ordered = false;
  absl::string_view text;
};

std::optional<Bullet> ReadBullet(absl::string_view line) {
  Bullet bullet;
  bullet.indent = Indent(line);
  absl::string_view t = absl::StripLeadingAsciiWhitespace(line);
  if (t.size() >= 2 && (t[0] == '-' || t[0] == '*' || t[0] == '+') &&
      (t[1] == ' ' || t[1] == '\t')) {
    bullet.text = absl::StripAsciiWhitespace(t.substr(2));
    return bullet;
  }
  size_t digits = 0;
  while (digits < t.size() && digits < 9 && absl::ascii_isdigit(t[digits])) {
    ++digits;
  }
  if (digits > 0 && digits + 1 < t.size() &&
      (t[digits] == '.' || t[digits] == ')') &&
      (t[digits + 1] == ' ' || t[digits + 1] == '\t')) {
    bullet.ordered = true;
    bullet.text = absl::StripAsciiWhitespace(t.substr(digits + 2));
    return bullet;
  }
  return std::nullopt;
}

bool IsRule(absl::string_view text) {
  const std::string t =
      absl::StrReplaceAll(absl::StripAsciiWhitespace(text), {{" ", ""}});
  if (t.size() < 3) return false;
  for (char c : t) {
    if (c != t[0]) return false;
  }
  return t[0] == '-' || t[0] == '*' || t[0] == '_';
}

// A table cell's text: entities decoded and "<br>" read as a line break,
// in one pass so that the exporter's "&amp;lt;" stays "&lt;" and a "<br>"
// spelled "&lt;br&gt;" stays text.
std::string DecodeCell(absl::string_view text) {
  return absl::StrReplaceAll(text, {{"&amp;", "&"},
                                    {"&lt;", "<"},
                                    {"&gt;", ">"},
                                    {"&quot;", "\""},
                                    {"&#39;", "'"},
                                    {"&nbsp;", " "},
                                    {"<br>", "\n"},
                                    {"<br/>", "\n"},
                                    {"<br />", "\n"}});
}

std::vector<std::string> TableCells(absl::string_view row) {
  row = absl::StripAsciiWhitespace(row);
  absl::ConsumePrefix(&row, "|");
  if (absl::EndsWith(row, "|") && !absl::EndsWith(row, "\\|")) {
    row.remove_suffix(1);
  }
  std::vector<std::string> cells;
  std::string current;
  for (size_t i = 0; i < row.size(); ++i) {
    if (row[i] == '\\' && i + 1 < row.size() && row[i + 1] == '|') {
      current += '|';
      ++i;
    } else if (row[i] == '|') {
      cells.push_back(DecodeCell(absl::StripAsciiWhitespace(current)));
      current.clear();
    } else {
      current += row[i];
    }
  }
  cells.push_back(DecodeCell(absl::StripAsciiWhitespace(current)));
  return cells;
}

bool IsSeparatorRow(const std::vector<std::string>& cells) {
  for (const std::string& cell : cells) {
    if (cell.empty()) return false;
    for (char c : cell) {
      if (c != '-' && c != ':' && c != ' ') return false;
    }
  }
  return true;
}

bool IsTableLine(absl::string_view text) {
  return absl::StartsWith(absl::StripLeadingAsciiWhitespace(text), "|");
}

// A link reference definition "[label]: url"; footnotes ("[^1]: ...") are
// text.
bool ReadLinkDef(absl::string_view text, Block* block) {
  absl::string_view t = absl::StripAsciiWhitespace(text);
  if (!absl::ConsumePrefix(&t, "[") || absl::StartsWith(t, "^")) return false;
  const size_t close = t.find("]:");
  if (close == absl::string_view::npos || close == 0) return false;
  const absl::string_view url = absl::StripAsciiWhitespace(t.substr(close + 2));
  if (url.empty() || absl::StrContains(url, ' ')) return false;
  block->kind = BlockKind::kLinkDef;
  block->text = std::string(t.substr(0, close));
  block->url = std::string(url);
  return true;
}

absl::StatusOr<std::vector<Block>> ReadBlocks(const std::vector<Line>& lines) {
  std::vector<Block> blocks;
  size_t list_indent = 0;
  bool list_open = false;  // the last block is a list that may continue
  bool after_blank = false;
  for (size_t i = 0; i < lines.size(); ++i) {
    const Line& line = lines[i];
    if (IsBlankLine(line.text)) {
      after_blank = true;
      continue;
    }
    const bool was_blank = after_blank;
    after_blank = false;
    if (IsFence(line.text)) {
      Block code = MakeBlock(BlockKind::kCode, line.number);
      for (++i; i < lines.size() && !IsFence(lines[i].text); ++i) {
        code.code.emplace_back(lines[i].text);
      }
      blocks.push_back(std::move(code));
      list_open = false;
      continue;
    }
    if (std::optional<Heading> heading = ReadHeading(line.text)) {
      Block block = MakeBlock(BlockKind::kHeading, line.number, heading->text);
      blocks.push_back(std::move(block));
      list_open = false;
      continue;
    }
    if (IsTableLine(line.text)) {
      Block table = MakeBlock(BlockKind::kTable, line.number);
      table.header = TableCells(line.text);
      for (++i; i < lines.size() && IsTableLine(lines[i].text); ++i) {
        std::vector<std::string> cells = TableCells(lines[i].text);
        if (table.rows.empty() && IsSeparatorRow(cells)) continue;
        if (cells.size() > table.header.size()) {
          return LineError(
              lines[i].number,
              absl::StrCat("table row has ", cells.size(),
                           " cells; the header has ", table.header.size()));
        }
        cells.resize(table.header.size());
        table.rows.push_back({lines[i].number, std::move(cells)});
      }
      --i;
      blocks.push_back(std::move(table));
      list_open = false;
      continue;
    }
    if (IsRule(line.text)) {
      list_open = false;
      continue;
    }
    std::optional<Bullet> bullet = ReadBullet(line.text);
    if (bullet && list_open && bullet->indent >= list_indent + 2) {
      // A nested item belongs to its parent.
      ListItem& parent = blocks.back().items.back();
      absl::StrAppend(&parent.text, "; ", bullet->text);
      continue;
    }
    if (bullet) {
      if (!list_open) {
        blocks.push_back(MakeBlock(BlockKind::kList, line.number));
        list_indent = bullet->indent;
        list_open = true;
      }
      ListItem item{line.number, std::string(bullet->text)};
      absl::string_view t = item.text;
      if (absl::ConsumePrefix(&t, "[ ] ")) {
        item.checkbox = 0;
      } else if (absl::ConsumePrefix(&t, "[x] ") ||
                 absl::ConsumePrefix(&t, "[X] ")) {
        item.checkbox = 1;
      }
      if (item.checkbox >= 0) item.text = std::string(t);
      blocks.back().items.push_back(std::move(item));
      continue;
    }
    Block link;
    if (ReadLinkDef(line.text, &link)) {
      link.line = line.number;
      blocks.push_back(std::move(link));
      list_open = false;
      continue;
    }
    const absl::string_view text = absl::StripAsciiWhitespace(line.text);
    if (list_open && (!was_blank || Indent(line.text) >= list_indent + 2)) {
      absl::StrAppend(&blocks.back().items.back().text, " ", text);
      continue;
    }
    list_open = false;
    if (!was_blank && !blocks.empty() &&
        blocks.back().kind == BlockKind::kParagraph &&
        blocks.back().line < line.number) {
      absl::StrAppend(&blocks.back().text, "\n", text);
      continue;
    }
    blocks.push_back(
        MakeBlock(BlockKind::kParagraph, line.number, std::string(text)));
  }
  return blocks;
}

// --------------------------------------------------------------- sections

enum class Kind {
  kUnknown,
  kPreamble,  // the title's own text, or text before any heading
  kSummary,
  kImpact,
  kDetection,
  kTimeline,
  kWhys,
  kRootCauses,
  kRootCauseAnalysis,
  kFactors,
  kResolution,
  kActionItems,
  kLessons,
  kLogLines,
  kLinks,
  kAttendees,
  kStats,
};

std::string NormalizeHeading(absl::string_view heading) {
  std::string h = absl::AsciiStrToLower(absl::StripAsciiWhitespace(heading));
  absl::StrReplaceAll({{"*", ""}, {"_", " "}}, &h);
  if (const size_t paren = h.find('('); paren != std::string::npos) {
    h.resize(paren);
  }
  absl::string_view v = absl::StripAsciiWhitespace(h);
  while (!v.empty() && (v.back() == ':' || v.back() == '.')) v.remove_suffix(1);
  // "1. Summary" / "2) Impact".
  size_t digits = 0;
  while (digits < v.size() && absl::ascii_isdigit(v[digits])) ++digits;
  if (digits > 0 && digits < v.size() &&
      (v[digits] == '.' || v[digits] == ')')) {
    v.remove_prefix(digits + 1);
  }
  return std::string(absl::StripAsciiWhitespace(v));
}

Kind Classify(absl::string_view heading) {
  static const struct {
    const char* name;
    Kind kind;
  } kSynonyms[] = {
      {"summary", Kind::kSummary},
      {"overview", Kind::kSummary},
      {"description", Kind::kSummary},
      {"incident summary", Kind::kSummary},
      {"executive summary", Kind::kSummary},
      {"impact", Kind::kImpact},
      {"customer impact", Kind::kImpact},
      {"user impact", Kind::kImpact},
      {"detection", Kind::kDetection},
      {"timeline", Kind::kTimeline},
      {"incident timeline", Kind::kTimeline},
      {"5 whys", Kind::kWhys},
      {"five whys", Kind::kWhys},
      {"the 5 whys", Kind::kWhys},
      {"root causes", Kind::kRootCauses},
      {"root cause", Kind::kRootCauses},
      {"cause", Kind::kRootCauses},
      {"causes", Kind::kRootCauses},
      {"root cause analysis", Kind::kRootCauseAnalysis},
      {"contributing factors", Kind::kFactors},
      {"contributing factor", Kind::kFactors},
      {"resolution", Kind::kResolution},
      {"resolution and recovery", Kind::kResolution},
      {"mitigation", Kind::kResolution},
      {"recovery", Kind::kResolution},
      {"action items", Kind::kActionItems},
      {"action item", Kind::kActionItems},
      {"follow-ups", Kind::kActionItems},
      {"follow ups", Kind::kActionItems},
      {"followups", Kind::kActionItems},
      {"remediation", Kind::kActionItems},
      {"next steps", Kind::kActionItems},
      {"lessons learned", Kind::kLessons},
      {"lessons learnt", Kind::kLessons},
      {"lessons", Kind::kLessons},
      {"log lines", Kind::kLogLines},
      {"logs", Kind::kLogLines},
      {"error lines", Kind::kLogLines},
      {"links", Kind::kLinks},
      {"related links", Kind::kLinks},
      {"references", Kind::kLinks},
      {"attendees", Kind::kAttendees},
      {"atendees", Kind::kAttendees},
      {"participants", Kind::kAttendees},
      {"stats", Kind::kStats},
      {"statistics", Kind::kStats},
  };
  const std::string normalized = NormalizeHeading(heading);
  for (const auto& synonym : kSynonyms) {
    if (normalized == synonym.name) return synonym.kind;
  }
  return Kind::kUnknown;
}

struct Section {
  Kind kind = Kind::kPreamble;
  int level = 0;
  int line = 0;
  std::string heading;
  std::vector<Line> body;
};

// Splits the body at headings. A heading with no known meaning nested under a
// known section stays inside it (e.g. "### What went well").
std::vector<Section> SplitSections(const std::vector<Line>& lines,
                                   bool* saw_title, std::string* title) {
  std::vector<Section> sections(1);
  bool in_fence = false;
  for (const Line& line : lines) {
    if (IsFence(line.text)) in_fence = !in_fence;
    std::optional<Heading> heading;
    if (!in_fence) heading = ReadHeading(line.text);
    if (!heading) {
      sections.back().body.push_back(line);
      continue;
    }
    const Kind kind = Classify(heading->text);
    Section& current = sections.back();
    if (kind == Kind::kUnknown && !*saw_title && heading->level == 1) {
      *saw_title = true;
      *title = heading->text;
      sections.push_back(
          {Kind::kPreamble, heading->level, line.number, heading->text, {}});
      continue;
    }
    if (kind == Kind::kUnknown && current.kind != Kind::kUnknown &&
        current.kind != Kind::kPreamble && heading->level > current.level) {
      current.body.push_back(line);
      continue;
    }
    sections.push_back({kind, heading->level, line.number, heading->text, {}});
  }
  return sections;
}

std::string SectionText(const std::vector<Line>& body) {
  size_t begin = 0, end = body.size();
  while (begin < end && IsBlankLine(body[begin].text)) ++begin;
  while (end > begin && IsBlankLine(body[end - 1].text)) --end;
  std::vector<absl::string_view> texts;
  for (size_t i = begin; i < end; ++i) {
    texts.push_back(absl::StripTrailingAsciiWhitespace(body[i].text));
  }
  return absl::StrJoin(texts, "\n");
}

// Undoes the exporter's prose escape: it puts one backslash before every
// line that Markdown would read as structure and before every line that
// starts with a backslash, so a leading one is always the exporter's (or, in
// a document written by hand, a Markdown escape, which means the same).
std::string UnescapeProse(absl::string_view text) {
  std::vector<absl::string_view> lines = absl::StrSplit(text, '\n');
  for (absl::string_view& line : lines) absl::ConsumePrefix(&line, "\\");
  return absl::StrJoin(lines, "\n");
}

// A prose section's text, unescaped.
std::string ProseText(const std::vector<Line>& body) {
  return UnescapeProse(SectionText(body));
}

void AppendText(std::string* field, absl::string_view text) {
  if (text.empty()) return;
  if (!field->empty()) field->append("\n\n");
  field->append(text.data(), text.size());
}

bool IsUrl(absl::string_view text) {
  return (absl::StartsWith(text, "http://") ||
          absl::StartsWith(text, "https://")) &&
         !absl::StrContains(text, ' ');
}

// "[title](url)" as the exporter writes it: in the title, a backslash
// escapes the next punctuation character (the exporter escapes backslash and
// "]"). Text after the ")" is kept in the title.
std::optional<v1::Link> ReadMarkdownLink(absl::string_view text) {
  if (!absl::ConsumePrefix(&text, "[")) return std::nullopt;
  std::string title;
  size_t i = 0;
  for (; i < text.size() && text[i] != ']'; ++i) {
    if (text[i] == '\\' && i + 1 < text.size() &&
        absl::ascii_ispunct(text[i + 1])) {
      ++i;
    }
    title += text[i];
  }
  if (i + 1 >= text.size() || text[i + 1] != '(') return std::nullopt;
  absl::string_view rest = text.substr(i + 2);
  // A URL may hold ")" (Wikipedia); when the item ends with ")" it is all URL.
  size_t close = absl::EndsWith(rest, ")") ? rest.size() - 1 : rest.find(')');
  if (close == absl::string_view::npos) return std::nullopt;
  v1::Link link;
  link.set_url(std::string(rest.substr(0, close)));
  const absl::string_view after =
      absl::StripAsciiWhitespace(rest.substr(close + 1));
  if (!after.empty()) absl::StrAppend(&title, " ", after);
  link.set_title(std::move(title));
  return link;
}

// A bullet of a "Links" section: "[title](url)", a bare URL (also "<url>"),
// or "title: url".
std::optional<v1::Link> ReadLinkBullet(absl::string_view text) {
  if (std::optional<v1::Link> link = ReadMarkdownLink(text)) return link;
  absl::string_view bare = text;
  if (absl::ConsumePrefix(&bare, "<")) absl::ConsumeSuffix(&bare, ">");
  v1::Link link;
  if (IsUrl(bare)) {
    link.set_url(std::string(bare));
    return link;
  }
  for (absl::string_view scheme : {": http://", ": https://"}) {
    const size_t at = text.find(scheme);
    if (at == absl::string_view::npos || !IsUrl(text.substr(at + 2))) continue;
    link.set_title(std::string(absl::StripAsciiWhitespace(text.substr(0, at))));
    link.set_url(std::string(text.substr(at + 2)));
    return link;
  }
  return std::nullopt;
}

class SectionReader {
 public:
  // `preamble` collects the text under the title (see ReadUnknown).
  SectionReader(Importer& in, const Section& section, std::string* preamble)
      : in_(in), pm_(in.pm_), section_(section), preamble_(*preamble) {}

  absl::Status Read() {
    DEJA_ASSIGN_OR_RETURN(blocks_, ReadBlocks(section_.body));
    switch (section_.kind) {
      case Kind::kSummary:
        AppendText(pm_.mutable_summary(), ProseText(section_.body));
        break;
      case Kind::kImpact:
        ReadImpact();
        break;
      case Kind::kDetection:
        AppendText(pm_.mutable_detection()->mutable_description(),
                   ProseText(section_.body));
        break;
      case Kind::kTimeline:
        ReadTimeline();
        break;
      case Kind::kWhys:
        for (const ListItem& item : Items()) ReadWhy(item.text);
        break;
      case Kind::kRootCauses:
        for (const ListItem& item : Items()) ReadRootCause(item.text);
        break;
      case Kind::kRootCauseAnalysis:
        ReadRootCauseAnalysis();
        break;
      case Kind::kFactors:
        for (const ListItem& item : Items()) {
          pm_.add_contributing_factors(item.text);
        }
        break;
      case Kind::kResolution:
        ReadResolution();
        break;
      case Kind::kActionItems:
        ReadActionItems();
        break;
      case Kind::kLessons:
        ReadLessons();
        break;
      case Kind::kLogLines:
        ReadLogLines();
        break;
      case Kind::kLinks:
        ReadLinks();
        break;
      case Kind::kAttendees:
        for (const ListItem& item : Items()) ReadAttendees(item.text);
        break;
      case Kind::kStats:
        ReadStats();
        break;
      case Kind::kPreamble:
      case Kind::kUnknown:
        ReadUnknown();
        break;
    }
    return absl::OkStatus();
  }

 private:
  void Note(int line, std::string reason) {
    in_.Note(line, section_.heading, std::move(reason));
  }

  // The section's list items; when it has no list, each paragraph is one.
  // Anything else is reported.
  std::vector<ListItem> Items() {
    std::vector<ListItem> items;
    bool has_list = false;
    for (const Block& block : blocks_) {
      has_list = has_list || block.kind == BlockKind::kList;
    }
    for (const Block& block : blocks_) {
      switch (block.kind) {
        case BlockKind::kList:
          items.insert(items.end(), block.items.begin(), block.items.end());
          break;
        case BlockKind::kParagraph:
          if (!has_list) {
            items.push_back(
                {block.line, absl::StrReplaceAll(block.text, {{"\n", " "}})});
          } else {
            Note(block.line, "text beside the list, not imported");
          }
          break;
        case BlockKind::kLinkDef:
          AddLink(block);
          break;
        default:
          Note(block.line,
               absl::StrCat("no field for a ", BlockName(block),
                            " in section '", section_.heading, "'"));
      }
    }
    return items;
  }

  static const char* BlockName(const Block& block) {
    switch (block.kind) {
      case BlockKind::kTable:
        return "table";
      case BlockKind::kCode:
        return "code block";
      case BlockKind::kHeading:
        return "subheading";
      default:
        return "block";
    }
  }

  void AddLink(const Block& block) {
    v1::Link link;
    link.set_title(block.text);
    link.set_url(block.url);
    KeepLink(block.line, std::move(link));
  }

  // A link is kept only when its URL is empty or an absolute http(s) URL,
  // as the API requires; a relative one (another document in the same
  // repository) has nowhere to point once imported, so it is reported.
  void KeepLink(int line, v1::Link link) {
    if (link.url().empty() || IsWebUrl(link.url())) {
      *pm_.add_links() = std::move(link);
      return;
    }
    Note(line, absl::StrCat("link to '", link.url(),
                            "' is not an http(s) URL; not imported"));
  }

  void ReadUnknown() {
    if (section_.kind == Kind::kPreamble) {
      // Text right under the title: the summary when there is no Summary
      // section (decided after all sections are read).
      AppendText(&preamble_, ProseText(section_.body));
      return;
    }
    // Kept verbatim: the exporter writes such a narrative back unescaped.
    const std::string text = SectionText(section_.body);
    AppendText(pm_.mutable_narrative(),
               text.empty()
                   ? absl::StrCat("## ", section_.heading)
                   : absl::StrCat("## ", section_.heading, "\n\n", text));
    Note(section_.line, absl::StrCat("no field for section '", section_.heading,
                                     "'; kept in narrative"));
  }

  void ReadImpact() {
    std::vector<absl::string_view> rest;
    for (const Line& line : section_.body) {
      std::optional<Bullet> bullet = ReadBullet(line.text);
      std::string key, value;
      if (bullet && SplitKeyValue(bullet->text, &key, &value, true)) {
        if (key == "users affected" || key == "users_affected" ||
            key == "users") {
          int64_t users;
          if (absl::SimpleAtoi(absl::StrReplaceAll(value, {{",", ""}}),
                               &users) &&
              users >= 0) {
            pm_.mutable_impact()->set_users_affected(users);
            continue;
          }
        } else if (key == "duration") {
          if (std::optional<absl::Duration> d = ParseDuration(value)) {
            if (*d > absl::ZeroDuration()) {
              pm_.mutable_impact()->mutable_duration()->set_seconds(
                  absl::ToInt64Seconds(*d));
            }
            continue;
          }
        }
      }
      rest.push_back(line.text);
    }
    std::vector<Line> kept;
    for (const Line& line : section_.body) {
      for (absl::string_view r : rest) {
        if (r.data() == line.text.data()) kept.push_back(line);
      }
    }
    AppendText(pm_.mutable_impact()->mutable_description(), ProseText(kept));
  }

  void ReadWhy(absl::string_view text) {
    v1::Why* why = pm_.add_whys();
    const size_t mark = text.find('?');
    if (mark == absl::string_view::npos) {
      why->set_answer(std::string(text));
      return;
    }
    why->set_question(std::string(text.substr(0, mark + 1)));
    why->set_answer(
        std::string(absl::StripAsciiWhitespace(text.substr(mark + 1))));
  }

  static bool CategoryPrefix(absl::string_view text,
                             v1::RootCause::Category* category,
                             absl::string_view* rest) {
    const size_t colon = text.find(':');
    if (colon == absl::string_view::npos || colon > 40) return false;
    const std::string name = EnumName(
        absl::StrReplaceAll(text.substr(0, colon), {{"*", ""}, {"`", ""}}));
    if (!v1::RootCause::Category_Parse(name, category) ||
        *category == v1::RootCause::CATEGORY_UNSPECIFIED) {
      return false;
    }
    *rest = absl::StripAsciiWhitespace(text.substr(colon + 1));
    return true;
  }

  void ReadRootCause(absl::string_view text) {
    v1::RootCause* cause = pm_.add_root_causes();
    v1::RootCause::Category category;
    absl::string_view rest;
    if (CategoryPrefix(text, &category, &rest)) {
      cause->set_category(category);
      cause->set_description(std::string(rest));
    } else {
      cause->set_description(std::string(text));
    }
  }

  // A plain bullet list of findings is contributing factors; anything with
  // categories, or prose, is root causes.
  void ReadRootCauseAnalysis() {
    bool has_list = false, has_category = false;
    for (const Block& block : blocks_) {
      if (block.kind != BlockKind::kList) continue;
      has_list = true;
      for (const ListItem& item : block.items) {
        v1::RootCause::Category category;
        absl::string_view rest;
        has_category =
            has_category || CategoryPrefix(item.text, &category, &rest);
      }
    }
    for (const ListItem& item : Items()) {
      if (has_list && !has_category) {
        pm_.add_contributing_factors(item.text);
      } else {
        ReadRootCause(item.text);
      }
    }
  }

  // A "Mitigation steps:" paragraph is a label only right before its list;
  // elsewhere it is resolution text (the exporter does not escape it).
  bool IsMitigationLabel(size_t index) const {
    const std::string label = NormalizeHeading(blocks_[index].text);
    return (label == "mitigation steps" || label == "mitigation") &&
           index + 1 < blocks_.size() &&
           blocks_[index + 1].kind == BlockKind::kList;
  }

  void ReadResolution() {
    for (size_t index = 0; index < blocks_.size(); ++index) {
      const Block& block = blocks_[index];
      if (block.kind == BlockKind::kList) {
        for (const ListItem& item : block.items) {
          pm_.add_mitigation_steps(item.text);
        }
      } else if (block.kind == BlockKind::kParagraph) {
        if (IsMitigationLabel(index)) continue;
        AppendText(pm_.mutable_resolution(), UnescapeProse(block.text));
      } else if (block.kind == BlockKind::kCode) {
        AppendText(
            pm_.mutable_resolution(),
            absl::StrCat("```\n", absl::StrJoin(block.code, "\n"), "\n```"));
      } else if (block.kind == BlockKind::kLinkDef) {
        AddLink(block);
      } else {
        Note(block.line, absl::StrCat("no field for a ", BlockName(block),
                                      " in section '", section_.heading, "'"));
      }
    }
  }

  void ReadLogLines() {
    bool any_code = false;
    for (const Block& block : blocks_) {
      if (block.kind != BlockKind::kCode) continue;
      any_code = true;
      for (const std::string& line : block.code) {
        if (!IsBlankLine(line)) pm_.add_log_lines(line);
      }
    }
    for (const Block& block : blocks_) {
      if (block.kind == BlockKind::kCode) continue;
      if (!any_code && block.kind == BlockKind::kList) {
        for (const ListItem& item : block.items) pm_.add_log_lines(item.text);
        continue;
      }
      Note(block.line, "text outside the code block, not imported");
    }
  }

  void ReadLinks() {
    for (const Block& block : blocks_) {
      if (block.kind == BlockKind::kLinkDef) {
        AddLink(block);
      } else if (block.kind == BlockKind::kList) {
        for (const ListItem& item : block.items) {
          if (std::optional<v1::Link> link = ReadLinkBullet(item.text)) {
            KeepLink(item.line, *std::move(link));
          } else {
            Note(item.line,
                 absl::StrCat("'", item.text, "' is not a link; not imported"));
          }
        }
      } else {
        Note(block.line, "text beside the links, not imported");
      }
    }
  }

  void ReadAttendees(absl::string_view text) {
    std::vector<std::string> names;
    for (absl::string_view piece :
         absl::StrSplit(text, absl::ByAnyChar(",;"), absl::SkipWhitespace())) {
      piece = absl::StripAsciiWhitespace(piece);
      std::vector<absl::string_view> words =
          absl::StrSplit(piece, ' ', absl::SkipEmpty());
      bool initials = words.size() > 1;
      for (absl::string_view word : words) {
        initials = initials && word.size() <= 3;
      }
      if (initials) {
        for (absl::string_view word : words) names.emplace_back(word);
      } else {
        names.emplace_back(piece);
      }
    }
    for (std::string& name : names) pm_.add_participants()->set_name(name);
  }

  // Lists are chosen by subheading but created only when an item goes in:
  // an empty "Lessons learned" section leaves `lessons` unset, as the
  // exporter leaves the section out when `lessons` is empty.
  enum class LessonKind { kWentWell, kWentWrong, kGotLucky };

  void AddLesson(LessonKind kind, std::string text) {
    v1::LessonsLearned* lessons = pm_.mutable_lessons();
    switch (kind) {
      case LessonKind::kWentWell:
        lessons->add_went_well(std::move(text));
        break;
      case LessonKind::kWentWrong:
        lessons->add_went_wrong(std::move(text));
        break;
      case LessonKind::kGotLucky:
        lessons->add_got_lucky(std::move(text));
        break;
    }
  }

  void ReadLessons() {
    LessonKind bucket = LessonKind::kWentWrong;
    bool has_list = false;
    for (const Block& block : blocks_) {
      has_list = has_list || block.kind == BlockKind::kList;
    }
    for (const Block& block : blocks_) {
      switch (block.kind) {
        case BlockKind::kHeading: {
          const std::string h = NormalizeHeading(block.text);
          if (absl::StrContains(h, "well")) {
            bucket = LessonKind::kWentWell;
          } else if (absl::StrContains(h, "lucky")) {
            bucket = LessonKind::kGotLucky;
          } else {
            bucket = LessonKind::kWentWrong;
          }
          break;
        }
        case BlockKind::kList:
          for (const ListItem& item : block.items) AddLesson(bucket, item.text);
          break;
        case BlockKind::kParagraph:
          if (has_list) {
            Note(block.line, "text beside the list, not imported");
          } else {
            AddLesson(bucket, absl::StrReplaceAll(block.text, {{"\n", " "}}));
          }
          break;
        case BlockKind::kLinkDef:
          AddLink(block);
          break;
        default:
          Note(block.line,
               absl::StrCat("no field for a ", BlockName(block),
                            " in section '", section_.heading, "'"));
      }
    }
  }

  // ------------------------------------------------------------ timeline

  void ReadTimeline() {
    Zone zone;
    std::optional<absl::CivilDay> last_day;
    for (const Block& block : blocks_) {
      switch (block.kind) {
        case BlockKind::kParagraph:
          if (std::optional<Zone> noted = ZoneMentioned(block.text)) {
            zone = *noted;
          } else {
            Note(block.line, "text beside the timeline, not imported");
          }
          break;
        case BlockKind::kTable:
          ReadTimelineTable(block, zone, &last_day);
          break;
        case BlockKind::kList:
          for (const ListItem& item : block.items) {
            ReadTimelineBullet(item, zone, &last_day);
          }
          break;
        case BlockKind::kLinkDef:
          AddLink(block);
          break;
        default:
          Note(block.line,
               absl::StrCat("no field for a ", BlockName(block),
                            " in section '", section_.heading, "'"));
      }
    }
  }

  // Sets `event->at` from a time read from `t`; false (with a note) when it
  // cannot be placed.
  bool Place(int line, const TimeText& t, const Zone& zone,
             std::optional<absl::CivilDay>* last_day,
             v1::TimelineEvent* event) {
    if (!t.unknown_zone.empty()) {
      Note(line, absl::StrCat("time zone '", t.unknown_zone,
                              "' not supported; time left unset"));
      return false;
    }
    const Zone& used = t.zone ? *t.zone : zone;
    std::optional<absl::CivilDay> day = t.day;
    if (!day && *last_day) day = *last_day;
    if (!day && pm_.has_started_at()) {
      day = DayOf(pm_.started_at(), used.offset_seconds);
    }
    if (!day) {
      Note(line, "timeline time without a date; time left unset");
      return false;
    }
    *last_day = day;
    *event->mutable_at() =
        ToTimestamp(absl::CivilSecond(day->year(), day->month(), day->day(),
                                      t.hour, t.minute, t.second),
                    used.offset_seconds);
    return true;
  }

  static std::string NotUnderstood(absl::string_view when) {
    return absl::StrCat(
        "timeline time '", when, "' not understood",
        IsAmbiguousNumericDate(when)
            ? " (day-first or month-first? write 2023-11-17 or 17 Nov 2023)"
            : "",
        "; kept in the text");
  }

  void ReadTimelineTable(const Block& table, Zone zone,
                         std::optional<absl::CivilDay>* last_day) {
    int time_column = -1, event_column = -1;
    for (size_t c = 0; c < table.header.size(); ++c) {
      const std::string h = absl::AsciiStrToLower(table.header[c]);
      if (time_column < 0 &&
          (absl::StrContains(h, "time") || absl::StrContains(h, "date") ||
           absl::StrContains(h, "when"))) {
        time_column = static_cast<int>(c);
        if (std::optional<Zone> noted = ZoneMentioned(table.header[c])) {
          zone = *noted;
        }
      } else if (event_column < 0 && (absl::StrContains(h, "event") ||
                                      absl::StrContains(h, "description") ||
                                      absl::StrContains(h, "what"))) {
        event_column = static_cast<int>(c);
      }
    }
    if (time_column < 0) time_column = 0;
    if (event_column < 0) {
      event_column = time_column == 0 && table.header.size() > 1 ? 1 : 0;
    }
    for (const auto& [line, cells] : table.rows) {
      std::string text = cells[event_column];
      for (size_t c = 0; c < cells.size(); ++c) {
        if (static_cast<int>(c) == time_column ||
            static_cast<int>(c) == event_column || cells[c].empty()) {
          continue;
        }
        absl::StrAppend(&text, "; ", table.header[c], ": ", cells[c]);
      }
      const std::string& when = cells[time_column];
      v1::TimelineEvent event;
      std::optional<TimeText> t = ReadTime(when);
      if (when.empty()) {
        Note(line, "timeline row without a time");
      } else if (!t ||
                 (t->consumed != when.size() && !IsRangeStart(when, *t))) {
        Note(line, NotUnderstood(when));
        text = absl::StrCat("(", when, ") ", text);
      } else if (!Place(line, *t, zone, last_day, &event)) {
        text = absl::StrCat("(", when, ") ", text);
      }
      if (time_column == event_column) text = cells[event_column];
      event.set_description(std::move(text));
      *pm_.add_timeline() = std::move(event);
    }
  }

  // "11:21 text", "**2020-02-03 11:21** - text", "14:05 UTC: text".
  void ReadTimelineBullet(const ListItem& item, const Zone& zone,
                          std::optional<absl::CivilDay>* last_day) {
    absl::string_view s = item.text;
    const bool bold = absl::ConsumePrefix(&s, "**");
    v1::TimelineEvent event;
    std::optional<TimeText> t = ReadTime(s);
    if (t) {
      absl::string_view rest = s.substr(t->consumed);
      if (bold) absl::ConsumePrefix(&rest, "**");
      const absl::string_view after = absl::StripLeadingAsciiWhitespace(rest);
      const bool separated = after.size() < rest.size() ||
                             absl::StartsWith(after, ":") ||
                             absl::StartsWith(after, "-");
      rest = after;
      for (absl::string_view sep :
           {":", "-", "\xE2\x80\x93", "\xE2\x80\x94", "|"}) {
        if (absl::ConsumePrefix(&rest, sep)) break;
      }
      if (separated || rest.empty()) {
        const std::string raw(s.substr(0, t->consumed));
        std::string text(absl::StripAsciiWhitespace(rest));
        if (!Place(item.line, *t, zone, last_day, &event)) {
          text = absl::StrCat("(", raw, ") ", text);
        }
        event.set_description(std::move(text));
        *pm_.add_timeline() = std::move(event);
        return;
      }
    }
    if (IsAmbiguousNumericDate(s)) {
      Note(item.line, NotUnderstood(s.substr(0, s.find_first_of(" :|*"))));
    } else {
      Note(item.line, "timeline entry without a time");
    }
    event.set_description(item.text);
    *pm_.add_timeline() = std::move(event);
  }

  // -------------------------------------------------------- action items

  enum class Column {
    kDescription,
    kOwner,
    kDue,
    kStatus,
    kKind,
    kTracker,
    kOther
  };

  static Column ClassifyColumn(absl::string_view header) {
    const std::string h = NormalizeHeading(header);
    auto any = [&](std::initializer_list<const char*> names) {
      for (const char* name : names) {
        if (h == name) return true;
      }
      return false;
    };
    if (any({"action", "action item", "actions", "item", "task", "description",
             "what", "todo", "follow-up"})) {
      return Column::kDescription;
    }
    if (any({"owner", "assignee", "who", "responsible", "owned by",
             "assigned to"})) {
      return Column::kOwner;
    }
    if (any({"due", "due date", "deadline", "by", "when", "target date"})) {
      return Column::kDue;
    }
    if (any({"status", "state"})) return Column::kStatus;
    if (any({"kind", "type", "category"})) return Column::kKind;
    if (any({"ticket", "issue", "link", "tracker", "jira", "tracker url"})) {
      return Column::kTracker;
    }
    return Column::kOther;
  }

  void SetStatus(int line, absl::string_view text, v1::ActionItem* item) {
    const std::string name = EnumName(text);
    if (name.empty()) return;
    v1::ActionItem::Status status = v1::ActionItem::STATUS_UNSPECIFIED;
    if (name == "TODO" || name == "NEW" || name == "NOT_STARTED") {
      status = v1::ActionItem::OPEN;
    } else if (name == "DOING" || name == "STARTED" || name == "WIP") {
      status = v1::ActionItem::IN_PROGRESS;
    } else if (name == "CLOSED" || name == "COMPLETE" || name == "COMPLETED" ||
               name == "FIXED" || name == "RESOLVED") {
      status = v1::ActionItem::DONE;
    } else if (name == "WONTFIX" || name == "WONT_FIX" ||
               name == "WILL_NOT_DO" || name == "CANCELLED") {
      status = v1::ActionItem::WONT_DO;
    } else if (!v1::ActionItem::Status_Parse(name, &status)) {
      status = v1::ActionItem::STATUS_UNSPECIFIED;
    }
    if (status == v1::ActionItem::STATUS_UNSPECIFIED) {
      Note(line, absl::StrCat("action item status '", text, "' not known"));
      return;
    }
    item->set_status(status);
  }

  void SetKind(int line, absl::string_view text, v1::ActionItem* item) {
    const std::string name = EnumName(text);
    if (name.empty()) return;
    v1::ActionItem::Kind kind;
    if (!v1::ActionItem::Kind_Parse(name, &kind) ||
        kind == v1::ActionItem::KIND_UNSPECIFIED) {
      Note(line, absl::StrCat("action item kind '", text, "' not known"));
      return;
    }
    item->set_kind(kind);
  }

  void CheckOwnerOf(int line, const v1::ActionItem& item) {
    if (item.owner().empty()) {
      Note(line, "action item without an owner");
    } else if (NamesSeveralOwners(item.owner())) {
      Note(line, absl::StrCat("action item with several owners ('",
                              item.owner(), "')"));
    }
  }

  void ReadActionItems() {
    bool has_items = false;
    for (const Block& block : blocks_) {
      has_items = has_items || block.kind == BlockKind::kTable ||
                  block.kind == BlockKind::kList;
    }
    for (const Block& block : blocks_) {
      if (block.kind == BlockKind::kTable) {
        ReadActionTable(block);
      } else if (block.kind == BlockKind::kList) {
        for (const ListItem& bullet : block.items) {
          v1::ActionItem* item = pm_.add_action_items();
          item->set_description(bullet.text);
          if (bullet.checkbox >= 0) {
            item->set_status(bullet.checkbox == 1 ? v1::ActionItem::DONE
                                                  : v1::ActionItem::OPEN);
          }
          CheckOwnerOf(bullet.line, *item);
        }
      } else if (block.kind == BlockKind::kParagraph && !has_items) {
        v1::ActionItem* item = pm_.add_action_items();
        item->set_description(absl::StrReplaceAll(block.text, {{"\n", " "}}));
        CheckOwnerOf(block.line, *item);
      } else if (block.kind == BlockKind::kLinkDef) {
        AddLink(block);
      } else if (block.kind == BlockKind::kParagraph) {
        Note(block.line, "text beside the action items, not imported");
      } else {
        Note(block.line, absl::StrCat("no field for a ", BlockName(block),
                                      " in section '", section_.heading, "'"));
      }
    }
  }

  void ReadActionTable(const Block& table) {
    std::vector<Column> columns;
    bool has_description = false;
    for (const std::string& header : table.header) {
      columns.push_back(ClassifyColumn(header));
      has_description =
          has_description || columns.back() == Column::kDescription;
    }
    if (!has_description) {
      for (Column& column : columns) {
        if (column == Column::kOther) {
          column = Column::kDescription;
          break;
        }
      }
    }
    for (const auto& [line, cells] : table.rows) {
      v1::ActionItem* item = pm_.add_action_items();
      std::string extra;
      for (size_t c = 0; c < cells.size(); ++c) {
        const std::string& cell = cells[c];
        switch (columns[c]) {
          case Column::kDescription:
            if (item->description().empty()) {
              item->set_description(cell);
            } else if (!cell.empty()) {
              absl::StrAppend(&extra, "; ", table.header[c], ": ", cell);
            }
            break;
          case Column::kOwner:
            item->set_owner(absl::StrCat(item->owner(), cell));
            break;
          case Column::kDue:
            if (IsCalendarDate(cell)) {
              item->set_due_date(cell);
            } else if (!cell.empty()) {
              Note(line, absl::StrCat("due date '", cell,
                                      "' is not YYYY-MM-DD; left unset"));
            }
            break;
          case Column::kStatus:
            SetStatus(line, cell, item);
            break;
          case Column::kKind:
            SetKind(line, cell, item);
            break;
          case Column::kTracker:
            if (absl::StartsWith(cell, "http://") ||
                absl::StartsWith(cell, "https://")) {
              item->set_tracker_url(cell);
            } else if (!cell.empty()) {
              absl::StrAppend(&extra, "; ", table.header[c], ": ", cell);
            }
            break;
          case Column::kOther:
            if (!cell.empty()) {
              absl::StrAppend(&extra, "; ", table.header[c], ": ", cell);
            }
            break;
        }
      }
      item->mutable_description()->append(extra);
      CheckOwnerOf(line, *item);
    }
  }

  // --------------------------------------------------------------- stats

  void ReadStats() {
    for (const Block& block : blocks_) {
      if (block.kind != BlockKind::kList) {
        Note(block.line, "text in the stats section, not imported");
        continue;
      }
      for (const ListItem& item : block.items) ReadStat(item);
    }
  }

  void ReadStat(const ListItem& item) {
    std::string key, value;
    if (!SplitKeyValue(item.text, &key, &value, true)) {
      Note(item.line, absl::StrCat("no field for stat '", item.text, "'"));
      return;
    }
    if (key == "category") {
      for (absl::string_view tag :
           absl::StrSplit(value, ',', absl::SkipWhitespace())) {
        std::string name =
            absl::AsciiStrToLower(absl::StripAsciiWhitespace(tag));
        absl::StrReplaceAll({{" ", "-"}}, &name);
        pm_.add_tags(name);
      }
      return;
    }
    const bool detection = key == "time to detection" || key == "ttd";
    const bool recovery = key == "time to recovery" || key == "ttr";
    if (!detection && !recovery) {
      Note(item.line, absl::StrCat("no field for stat '", key, "'"));
      return;
    }
    std::optional<absl::Duration> d = ParseDuration(value);
    if (!d) {
      Note(item.line,
           absl::StrCat("stat '", key, "' value '", value, "' not understood"));
      return;
    }
    if (recovery) {
      if (!pm_.impact().has_duration()) {
        pm_.mutable_impact()->mutable_duration()->set_seconds(
            absl::ToInt64Seconds(*d));
      }
      return;
    }
    if (!pm_.has_started_at()) {
      Note(item.line, "time to detection without a start time to count from");
      return;
    }
    if (!pm_.has_detected_at()) {
      pm_.mutable_detected_at()->set_seconds(pm_.started_at().seconds() +
                                             absl::ToInt64Seconds(*d));
    }
  }

  Importer& in_;
  v1::Postmortem& pm_;
  const Section& section_;
  std::string& preamble_;
  std::vector<Block> blocks_;
};

// "2019-11-29" or "29 November 2019" in free text.
std::optional<absl::CivilDay> DateInText(absl::string_view text) {
  for (size_t i = 0; i + 10 <= text.size(); ++i) {
    if (!absl::ascii_isdigit(text[i]) ||
        (i > 0 && absl::ascii_isdigit(text[i - 1]))) {
      continue;
    }
    size_t pos = i;
    absl::CivilDay day;
    if (ReadDate(text, &pos, &day)) return day;
  }
  static const char* kMonths[] = {
      "january", "february", "march",     "april",   "may",      "june",
      "july",    "august",   "september", "october", "november", "december"};
  std::vector<absl::string_view> words =
      absl::StrSplit(text, absl::ByAnyChar(" \t\n,."), absl::SkipEmpty());
  for (size_t i = 0; i + 2 < words.size(); ++i) {
    int day, year;
    if (!absl::SimpleAtoi(words[i], &day) ||
        !absl::SimpleAtoi(words[i + 2], &year) || year < 1900 || year > 9999) {
      continue;
    }
    const std::string month = absl::AsciiStrToLower(words[i + 1]);
    for (int m = 0; m < 12; ++m) {
      if (month == kMonths[m]) {
        const absl::CivilDay parsed(year, m + 1, day);
        if (parsed.day() == day) return parsed;
      }
    }
  }
  return std::nullopt;
}

void FillStartedAt(Importer& in) {
  v1::Postmortem& pm = in.pm_;
  if (pm.has_started_at()) return;
  const google::protobuf::Timestamp* earliest = nullptr;
  for (const v1::TimelineEvent& event : pm.timeline()) {
    if (event.has_at() &&
        (earliest == nullptr || event.at().seconds() < earliest->seconds())) {
      earliest = &event.at();
    }
  }
  if (earliest != nullptr) {
    *pm.mutable_started_at() = *earliest;
    return;
  }
  std::optional<absl::CivilDay> day = DateInText(pm.title());
  if (!day) day = DateInText(pm.summary());
  if (day) {
    *pm.mutable_started_at() = ToTimestamp(absl::CivilSecond(*day), 0);
    return;
  }
  in.Note(0, "",
          "no start time (front matter, timeline or a date in the text)");
}

}  // namespace

absl::StatusOr<MarkdownImport> ImportMarkdown(absl::string_view text) {
  if (text.size() > kMaxMarkdownBytes) {
    return absl::InvalidArgumentError(absl::StrCat("document is ", text.size(),
                                                   " bytes; the limit is ",
                                                   kMaxMarkdownBytes));
  }
  // Editors on Windows often start a UTF-8 file with a byte-order mark;
  // it would hide the front matter's opening "---".
  absl::ConsumePrefix(&text, "\xEF\xBB\xBF");
  DEJA_ASSIGN_OR_RETURN(std::vector<Line> lines, SplitLines(text));
  MarkdownImport result;
  Importer in(&result);

  size_t body_start = 0;
  if (!lines.empty() &&
      absl::StripTrailingAsciiWhitespace(lines[0].text) == "---") {
    size_t close = 1;
    while (close < lines.size()) {
      const absl::string_view t =
          absl::StripTrailingAsciiWhitespace(lines[close].text);
      if (t == "---" || t == "...") break;
      ++close;
    }
    if (close == lines.size()) {
      return LineError(1,
                       "front matter block is not terminated (no closing "
                       "'---')");
    }
    DEJA_ASSIGN_OR_RETURN(std::vector<FrontMatterEntry> entries,
                          ReadFrontMatter(std::vector<Line>(
                              lines.begin() + 1, lines.begin() + close)));
    for (const FrontMatterEntry& entry : entries) {
      DEJA_RETURN_IF_ERROR(ApplyFrontMatterEntry(entry, in));
    }
    body_start = close + 1;
  }

  bool saw_title = false;
  std::string title;
  const std::vector<Section> sections =
      SplitSections(std::vector<Line>(lines.begin() + body_start, lines.end()),
                    &saw_title, &title);
  if (in.pm_.title().empty()) in.pm_.set_title(title);

  std::string preamble;
  std::vector<const Section*> stats;
  for (const Section& section : sections) {
    if (section.kind == Kind::kStats) {
      stats.push_back(&section);  // needs started_at, read last
      continue;
    }
    DEJA_RETURN_IF_ERROR(SectionReader(in, section, &preamble).Read());
  }
  if (!preamble.empty()) {
    if (in.pm_.summary().empty()) {
      in.pm_.set_summary(preamble);
    } else {
      AppendText(in.pm_.mutable_narrative(), preamble);
      in.Note(sections.size() > 1 ? sections[1].line : 1, title,
              "text under the title kept in narrative");
    }
  }
  FillStartedAt(in);
  for (const Section* section : stats) {
    DEJA_RETURN_IF_ERROR(SectionReader(in, *section, &preamble).Read());
  }
  return result;
}

}  // namespace deja
