#include "core/error_signature.h"

#include <algorithm>
#include <cstdint>
#include <string>
#include <unordered_set>
#include <vector>

#include "absl/algorithm/container.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

// Normalisation runs these steps, in this order:
//  1. Bound and clean: read at most kMaxScannedLogLineBytes, drop invalid
//     UTF-8, turn control characters into spaces. Bounded work on any input.
//  2. Strip the log prefix: timestamps, time zones, bracketed pids / levels /
//     dmesg times, syslog "Mar 14 09:12:01 host prog[pid]:", klog
//     "I0314 09:12:01.123456  1 file.go:123]", nginx "1234#1234: *5678",
//     PostgreSQL "user@db". Prefixes differ per collector, not per error.
//  3. Quoted values ('…', "…") become <str>: they hold keys, paths, urls and
//     thread names that vary between occurrences. Consequence: KeyError
//     'customer_id' and KeyError 'order_id' share a signature; we accept that
//     (the exception class and message shape are the identity, and matching
//     related incidents loosely is better than missing them).
//  4. Every remaining word is classified, first match wins: uuid, ip, time,
//     hex (0x… or ≥6 hex chars with a digit), duration ("30000ms", "1m30s"
//     → <dur>), number (size units kept: "<num>kB"), path (id-like segments
//     become <id>), words joined by
//     ':' '@' '#' (each part classified), host/pod names with numeric or
//     random parts, letters+≥4 digits ids; a key=value value still holding a
//     digit becomes <v>. Other words are kept: class names
//     and service names such as tracking-api.internal are identity.
//  5. Collapse whitespace and cap at kMaxNormalizedBytes.
// The id hashes the ASCII-lowercased template so "Connection refused" and
// "connection refused" from two library versions match; the template keeps
// its case for display.

namespace deja {
namespace {

bool IsAsciiDigit(char c) { return c >= '0' && c <= '9'; }
bool IsAsciiAlpha(char c) {
  return absl::ascii_isalpha(static_cast<unsigned char>(c));
}
bool IsHexDigit(char c) {
  return absl::ascii_isxdigit(static_cast<unsigned char>(c));
}
bool IsNonAscii(char c) { return static_cast<unsigned char>(c) >= 0x80; }
bool IsOneOf(char c, absl::string_view chars) {
  return chars.find(c) != absl::string_view::npos;
}
bool IsWordChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || IsNonAscii(c);
}

// Step 1. Keeps valid UTF-8 sequences (checked by lead byte and continuation
// bytes), replaces anything else and control characters by a space.
std::string CleanInput(absl::string_view line) {
  line = line.substr(0, kMaxScannedLogLineBytes);
  std::string out;
  out.reserve(line.size());
  size_t i = 0;
  while (i < line.size()) {
    const auto lead = static_cast<unsigned char>(line[i]);
    if (lead < 0x80) {
      out.push_back(lead < 0x20 || lead == 0x7f ? ' ' : line[i]);
      ++i;
      continue;
    }
    // Lead byte: sequence length and the allowed range of the second byte,
    // which rules out overlong forms, surrogates and code points > U+10FFFF.
    size_t length = 0;
    unsigned char low = 0x80;
    unsigned char high = 0xbf;
    if (lead >= 0xc2 && lead <= 0xdf) {
      length = 2;
    } else if (lead >= 0xe0 && lead <= 0xef) {
      length = 3;
      if (lead == 0xe0) low = 0xa0;
      if (lead == 0xed) high = 0x9f;
    } else if (lead >= 0xf0 && lead <= 0xf4) {
      length = 4;
      if (lead == 0xf0) low = 0x90;
      if (lead == 0xf4) high = 0x8f;
    }
    bool valid = length > 0 && i + length <= line.size();
    if (valid) {
      const auto second = static_cast<unsigned char>(line[i + 1]);
      valid = second >= low && second <= high;
    }
    for (size_t k = 2; valid && k < length; ++k) {
      valid = (static_cast<unsigned char>(line[i + k]) & 0xc0) == 0x80;
    }
    if (valid) {
      out.append(line.data() + i, length);
      i += length;
    } else {
      out.push_back(' ');
      ++i;
    }
  }
  return out;
}

// Consumes `n` digits (min..max) from the front of `s`.
bool ConsumeDigits(absl::string_view& s, size_t min, size_t max) {
  size_t n = 0;
  while (n < s.size() && n < max && IsAsciiDigit(s[n])) ++n;
  if (n < min) return false;
  s.remove_prefix(n);
  return true;
}

// "2025-02-11", "2025/03/14", "09:12:01", "10:22:37.118", "09:12:01,118",
// "2024-12-30T07:01:12Z", "2025-02-11T10:22:37.118+01:00", "+0000".
bool IsTimeWord(absl::string_view s) {
  if (s.empty()) return false;
  bool has_date = false;
  bool has_clock = false;
  absl::string_view rest = s;
  {
    absl::string_view probe = rest;
    if (ConsumeDigits(probe, 4, 4) && !probe.empty() &&
        (probe[0] == '-' || probe[0] == '/')) {
      const char sep = probe[0];
      probe.remove_prefix(1);
      if (ConsumeDigits(probe, 1, 2) &&
          absl::ConsumePrefix(&probe, std::string(1, sep)) &&
          ConsumeDigits(probe, 1, 2)) {
        has_date = true;
        rest = probe;
        if (!rest.empty() && (rest[0] == 'T' || rest[0] == '_'))
          rest.remove_prefix(1);
      }
    }
  }
  {
    absl::string_view probe = rest;
    if (ConsumeDigits(probe, 1, 2) && absl::ConsumePrefix(&probe, ":") &&
        ConsumeDigits(probe, 2, 2)) {
      if (absl::ConsumePrefix(&probe, ":") && !ConsumeDigits(probe, 2, 2)) {
        return false;
      }
      if (!probe.empty() && (probe[0] == '.' || probe[0] == ',')) {
        probe.remove_prefix(1);
        if (!ConsumeDigits(probe, 1, 9)) return false;
      }
      has_clock = true;
      rest = probe;
    }
  }
  if (!has_date && !has_clock) {
    // A bare zone offset, as in "10:22:37 +0000".
    absl::string_view probe = rest;
    return !probe.empty() && (probe[0] == '+' || probe[0] == '-') &&
           (probe.remove_prefix(1), ConsumeDigits(probe, 4, 4)) &&
           probe.empty();
  }
  if (absl::ConsumePrefix(&rest, "Z")) return rest.empty();
  if (!rest.empty() && (rest[0] == '+' || rest[0] == '-')) {
    rest.remove_prefix(1);
    if (!ConsumeDigits(rest, 2, 2)) return false;
    absl::ConsumePrefix(&rest, ":");
    if (!ConsumeDigits(rest, 2, 2)) return false;
  }
  return rest.empty();
}

bool IsUuidWord(absl::string_view s) {
  if (s.size() != 36) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (s[i] != '-') return false;
    } else if (!IsHexDigit(s[i])) {
      return false;
    }
  }
  return true;
}

bool IsIpv4(absl::string_view s) {
  std::vector<absl::string_view> parts = absl::StrSplit(s, '.');
  if (parts.size() != 4) return false;
  for (absl::string_view part : parts) {
    if (part.empty() || part.size() > 3) return false;
    int value = 0;
    for (char c : part) {
      if (!IsAsciiDigit(c)) return false;
      value = value * 10 + (c - '0');
    }
    if (value > 255) return false;
  }
  return true;
}

// "fe80::1", "2001:db8::8a2e:370:7334", "::ffff:10.0.0.1".
bool IsIpv6(absl::string_view s) {
  size_t colons = 0;
  bool has_hex = false;
  for (char c : s) {
    if (c == ':') {
      ++colons;
    } else if (IsHexDigit(c)) {
      has_hex = true;
    } else if (c != '.') {
      return false;
    }
  }
  return has_hex && (absl::StrContains(s, "::") ? colons >= 2 : colons == 7);
}

bool IsPrefixedHex(absl::string_view s) {
  if (s.size() < 3 || s[0] != '0' || (s[1] != 'x' && s[1] != 'X')) return false;
  for (char c : s.substr(2)) {
    if (!IsHexDigit(c)) return false;
  }
  return true;
}

// Commit hashes, addresses, request ids: ≥6 hex chars with a digit and a
// letter, so plain numbers stay numbers and words like "facade" stay words.
bool IsHexBlob(absl::string_view s) {
  if (s.size() < 6) return false;
  bool digit = false;
  bool letter = false;
  for (char c : s) {
    if (!IsHexDigit(c)) return false;
    (IsAsciiDigit(c) ? digit : letter) = true;
  }
  return digit && letter;
}

// "110", "1.5", "8123456kB", "30000ms", "3m12s"; returns the unit ("kB")
// through `unit`, or "" when the number has several parts ("3m12s").
bool IsNumber(absl::string_view s, absl::string_view* unit) {
  if (s.empty() || !IsAsciiDigit(s[0])) return false;
  size_t groups = 0;
  absl::string_view last_unit;
  while (!s.empty()) {
    if (!ConsumeDigits(s, 1, s.size())) return false;
    while (s.size() >= 2 && (s[0] == '.' || s[0] == ',') &&
           IsAsciiDigit(s[1])) {
      s.remove_prefix(1);
      ConsumeDigits(s, 1, s.size());
    }
    size_t letters = 0;
    while (letters < s.size() &&
           (IsAsciiAlpha(s[letters]) || s[letters] == '%')) {
      ++letters;
    }
    if (letters > 3) return false;
    last_unit = s.substr(0, letters);
    s.remove_prefix(letters);
    ++groups;
    if (letters == 0 && !s.empty()) return false;
  }
  *unit = groups == 1 ? last_unit : absl::string_view();
  return true;
}

// A k8s pod suffix such as "x2k4q": 5 lowercase alphanumerics with a digit.
bool IsRandomSuffix(absl::string_view s) {
  if (s.size() != 5) return false;
  bool digit = false;
  for (char c : s) {
    if (IsAsciiDigit(c)) {
      digit = true;
    } else if (!(c >= 'a' && c <= 'z')) {
      return false;
    }
  }
  return digit;
}

// Hosts, pods, nodes with a numeric or random part: "web-03",
// "ip-10-0-3-17.ec2.internal", "route-planner-7c9d8f6b5-x2k4q",
// "node-7f3c". Names without one ("tracking-api.internal",
// "java.lang.OutOfMemoryError", "psycopg2.OperationalError") are identity.
bool IsVariableHost(absl::string_view s) {
  if (s.find_first_of("-.") == absl::string_view::npos) return false;
  std::vector<absl::string_view> segments =
      absl::StrSplit(s, absl::ByAnyChar("-."), absl::SkipEmpty());
  if (segments.size() < 2) return false;
  bool variable = false;
  for (absl::string_view segment : segments) {
    for (char c : segment) {
      if (!IsWordChar(c) && c != '_') return false;
    }
    const bool all_digits = absl::c_all_of(segment, IsAsciiDigit);
    // One-digit segments alone ("utf-8") are too often part of a name.
    if (all_digits && (segment.size() >= 2 || segments.size() >= 3)) {
      variable = true;
    } else if (!all_digits && IsAsciiDigit(segment[0])) {
      variable = true;  // "7c9d8f6b5", "7f3c"
    }
  }
  if (IsRandomSuffix(segments.back().substr(0, segments.back().find('_')))) {
    variable = true;
  }
  return variable;
}

// "NW123456", "order123456": letters with ≥4 digits, unlike "x509" or
// "sha256".
bool IsMixedId(absl::string_view s) {
  size_t digits = 0;
  size_t letters = 0;
  for (char c : s) {
    if (IsAsciiDigit(c)) {
      ++digits;
    } else if (IsAsciiAlpha(c)) {
      ++letters;
    } else if (c != '_') {
      return false;
    }
  }
  return digits >= 4 && letters > 0;
}

std::string ClassifyWord(absl::string_view word, int depth);

// A word with no leading or trailing punctuation.
std::string ClassifyCore(absl::string_view core, int depth) {
  absl::string_view unit;
  if (IsUuidWord(core)) return "<uuid>";
  if (IsIpv4(core) || IsIpv6(core)) return "<ip>";
  if (IsTimeWord(core)) return "<time>";
  if (IsPrefixedHex(core) || IsHexBlob(core)) return "<hex>";
  if (IsNumber(core, &unit)) {
    // Durations differ in unit as well as value ("45s ago", "2m ago"); sizes
    // keep their unit ("<num>kB").
    if (unit.empty() && !IsAsciiDigit(core.back())) return "<dur>";
    if (unit == "ns" || unit == "us" || unit == "ms" || unit == "s" ||
        unit == "m" || unit == "h" || unit == "d") {
      return "<dur>";
    }
    return absl::StrCat("<num>", unit);
  }
  // Paths and urls: numeric, hex and uuid segments are ids.
  if (absl::StrContains(core, '/') && depth < 3) {
    std::vector<std::string> segments;
    for (absl::string_view segment : absl::StrSplit(core, '/')) {
      std::string classified = ClassifyWord(segment, depth + 1);
      if (classified == "<num>" || classified == "<hex>" ||
          classified == "<uuid>") {
        classified = "<id>";
      }
      segments.push_back(std::move(classified));
    }
    return absl::StrJoin(segments, "/");
  }
  // "total-vm:8123456kB", "10.0.0.10:53", "main.go:42", "user@10.0.0.1".
  if (core.find_first_of(":@#") != absl::string_view::npos && depth < 3) {
    std::vector<std::string> parts;
    for (absl::string_view part :
         absl::StrSplit(core, absl::ByAnyChar(":@#"))) {
      parts.push_back(ClassifyWord(part, depth + 1));
    }
    // Rejoin with the original separators.
    std::string out;
    size_t part_index = 0;
    for (char c : core) {
      if (c == ':' || c == '@' || c == '#') {
        absl::StrAppend(&out, parts[part_index++], std::string(1, c));
      }
    }
    absl::StrAppend(&out, parts[part_index]);
    return out;
  }
  if (IsVariableHost(core)) return "<host>";
  if (IsMixedId(core)) return "<id>";
  return std::string(core);
}

bool IsPeelable(char c) {
  return !IsWordChar(c) && c != '/' && c != '<' && c != '>';
}

// Peels punctuation ("*5678", "misbehaving:", "+0x1d") off both ends, then
// classifies what is left.
std::string ClassifyWord(absl::string_view word, int depth) {
  size_t begin = 0;
  while (begin < word.size() && IsPeelable(word[begin])) ++begin;
  size_t end = word.size();
  while (end > begin && IsPeelable(word[end - 1])) --end;
  if (begin == end) return std::string(word);
  return absl::StrCat(word.substr(0, begin),
                      ClassifyCore(word.substr(begin, end - begin), depth),
                      word.substr(end));
}

// Step 2 helpers.
bool IsLevelWord(absl::string_view s) {
  static const auto* const kLevels = new std::unordered_set<std::string>{
      "trace",   "debug", "info",  "notice", "warn",
      "warning", "error", "err",   "crit",   "critical",
      "alert",   "emerg", "fatal", "panic",  "severe"};
  return kLevels->count(absl::AsciiStrToLower(s)) > 0;
}

bool IsZoneWord(absl::string_view s) {
  static const auto* const kZones = new std::unordered_set<std::string>{
      "UTC", "GMT", "Z",   "CET", "CEST", "EET", "EEST", "EST",
      "EDT", "CST", "CDT", "PST", "PDT",  "BST", "IST",  "JST"};
  return kZones->count(std::string(s)) > 0;
}

bool IsMonthWord(absl::string_view s) {
  static const auto* const kMonths = new std::unordered_set<std::string>{
      "Jan", "Feb", "Mar", "Apr", "May", "Jun",
      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  return kMonths->count(std::string(s)) > 0;
}

bool IsAllDigits(absl::string_view s) {
  return !s.empty() && absl::c_all_of(s, IsAsciiDigit);
}

// The next whitespace-delimited token of `s` (leading spaces skipped).
absl::string_view PeekToken(absl::string_view s) {
  s = absl::StripLeadingAsciiWhitespace(s);
  return s.substr(0, s.find(' '));
}

void DropToken(absl::string_view& s) {
  s = absl::StripLeadingAsciiWhitespace(s);
  const size_t space = s.find(' ');
  s.remove_prefix(space == absl::string_view::npos ? s.size() : space);
}

// "[77104]", "[77104-1]", "[ 12345.678901]", "[error]", "[2025-03-14 …]":
// the length of the group to drop, or 0 to keep it ("[signal SIGSEGV: …]").
size_t PrefixBracketLength(absl::string_view s) {
  if (s.empty() || s[0] != '[') return 0;
  const size_t close = s.find(']');
  if (close == absl::string_view::npos || close > 48) return 0;
  absl::string_view inside = absl::StripAsciiWhitespace(s.substr(1, close - 1));
  if (inside.empty()) return 0;
  bool numeric = true;
  for (char c : inside) {
    if (!IsAsciiDigit(c) && !IsOneOf(c, " .,:-/+TZ#")) {
      numeric = false;
    }
  }
  if (!numeric && !IsLevelWord(inside)) return 0;
  size_t length = close + 1;
  if (length < s.size() && s[length] == ':') ++length;
  return length;
}

// Step 2. Each pass drops one prefix element; words that are only a prefix
// after another one (bare pids, levels, "user@db") are dropped only then, so
// "500 Internal Server Error" or "ERROR: deadlock detected" stay whole.
absl::string_view StripLogPrefix(absl::string_view s) {
  bool in_prefix = false;
  bool after_time = false;
  for (int pass = 0; pass < 24; ++pass) {
    s = absl::StripLeadingAsciiWhitespace(s);
    if (s.empty()) break;
    if (const size_t bracket = PrefixBracketLength(s); bracket > 0) {
      s.remove_prefix(bracket);
      in_prefix = true;
      after_time = false;
      continue;
    }
    const absl::string_view token = PeekToken(s);
    absl::string_view bare = token;
    while (!bare.empty() && (bare.back() == ':' || bare.back() == ',')) {
      bare.remove_suffix(1);
    }
    if (IsTimeWord(bare) || (after_time && IsZoneWord(bare))) {
      DropToken(s);
      in_prefix = after_time = true;
      continue;
    }
    after_time = false;
    // Syslog: "Mar 14 09:12:01 host kernel:" / "host sshd[812]:".
    if (IsMonthWord(token)) {
      absl::string_view probe = s;
      DropToken(probe);
      if (IsAllDigits(PeekToken(probe))) {
        DropToken(probe);
        if (IsTimeWord(PeekToken(probe))) {
          DropToken(probe);
          DropToken(probe);  // host
          if (absl::EndsWith(PeekToken(probe), ":")) DropToken(probe);
          s = probe;
          in_prefix = true;
          continue;
        }
      }
    }
    // klog: "I0314 09:12:01.123456   1 file.go:123]".
    if (token.size() == 5 && IsOneOf(token[0], "IWEF") &&
        IsAllDigits(token.substr(1))) {
      absl::string_view probe = s;
      DropToken(probe);
      if (IsTimeWord(PeekToken(probe))) {
        DropToken(probe);
        if (IsAllDigits(PeekToken(probe))) DropToken(probe);
        const absl::string_view source = PeekToken(probe);
        if (absl::EndsWith(source, "]") && absl::StrContains(source, ':')) {
          DropToken(probe);
        }
        s = probe;
        in_prefix = true;
        continue;
      }
    }
    if (!in_prefix) break;
    // nginx "1234#1234:" and "*5678", bare pids, bare levels, "user@db",
    // separators such as "-" or "|".
    const bool nginx_pid =
        absl::StrContains(bare, '#') && absl::c_all_of(bare, [](char c) {
          return IsAsciiDigit(c) || c == '#';
        });
    const bool connection =
        bare.size() > 1 && bare[0] == '*' && IsAllDigits(bare.substr(1));
    const bool user_at_db =
        absl::StrContains(token, '@') && !absl::StrContains(token, ':') &&
        absl::c_all_of(token, [](char c) {
          return IsWordChar(c) || c == '@' || c == '_' || c == '-' ||
                 c == '.' || c == '[' || c == ']';
        });
    const bool separator =
        absl::c_all_of(token, [](char c) { return !IsWordChar(c); }) &&
        token.size() <= 3;
    const bool bare_level =
        token == bare && IsLevelWord(token) &&
        absl::ascii_isupper(static_cast<unsigned char>(token[0]));
    if (nginx_pid || connection || IsAllDigits(token) || user_at_db ||
        separator || bare_level) {
      DropToken(s);
      continue;
    }
    break;
  }
  return absl::StripLeadingAsciiWhitespace(s);
}

bool IsHardSeparator(char c) { return IsOneOf(c, "()[]{}<>,;=\"'` "); }

// Step 3: a quote opens only after a non-word character (so "can't" is not a
// quote) and closes at the same quote followed by a non-word character.
// Returns the length of the quoted value, or 0.
size_t QuotedLength(absl::string_view s, size_t i) {
  const char quote = s[i];
  if (quote != '"' && quote != '\'') return 0;
  if (i > 0 && IsWordChar(s[i - 1])) return 0;
  const size_t limit = std::min(s.size(), i + 512);
  for (size_t j = i + 1; j < limit; ++j) {
    if (s[j] == '\\') {
      ++j;
      continue;
    }
    if (s[j] == quote && (j + 1 == s.size() || !IsWordChar(s[j + 1]))) {
      return j - i + 1;
    }
  }
  return 0;
}

// Steps 3–5 over the text after the prefix.
std::string RewriteWords(absl::string_view s) {
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    if (const size_t quoted = QuotedLength(s, i); quoted > 0) {
      out.append("<str>");
      i += quoted;
      continue;
    }
    if (IsHardSeparator(s[i])) {
      if (s[i] != ' ' || (!out.empty() && out.back() != ' ')) {
        out.push_back(s[i]);
      }
      ++i;
      continue;
    }
    size_t end = i;
    while (end < s.size() && !IsHardSeparator(s[end])) ++end;
    const absl::string_view word = s.substr(i, end - i);
    std::string classified = ClassifyWord(word, 0);
    // key=value: a value left alone but holding a digit is still an id
    // ("req=Xy7kQ2pLm9"); "level=error" keeps its value.
    if (!out.empty() && out.back() == '=' && classified == word &&
        absl::c_any_of(word, IsAsciiDigit)) {
      classified = "<v>";
    }
    out.append(classified);
    i = end;
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

// Cuts at a UTF-8 boundary.
void CapLength(std::string& text) {
  if (text.size() <= kMaxNormalizedBytes) return;
  size_t end = kMaxNormalizedBytes;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xc0) == 0x80) {
    --end;
  }
  text.resize(end);
  while (!text.empty() && text.back() == ' ') text.pop_back();
}

// FNV-1a 64 (offset basis 14695981039346656037, prime 1099511628211): fixed
// and documented, so ids survive rebuilds, unlike std::hash or absl::Hash.
uint64_t Fnv1a64(absl::string_view bytes) {
  uint64_t hash = 14695981039346656037ULL;
  for (char c : bytes) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 1099511628211ULL;
  }
  return hash;
}

struct WordCount {
  int words = 0;
  size_t longest = 0;
};

// Words of at least two letters outside placeholders.
WordCount CountMeaningfulWords(absl::string_view normalized) {
  WordCount count;
  size_t i = 0;
  while (i < normalized.size()) {
    if (normalized[i] == '<') {
      const size_t close = normalized.find('>', i);
      if (close != absl::string_view::npos) {
        i = close + 1;
        continue;
      }
    }
    if (!IsAsciiAlpha(normalized[i]) && !IsNonAscii(normalized[i])) {
      ++i;
      continue;
    }
    size_t end = i;
    while (end < normalized.size() &&
           (IsAsciiAlpha(normalized[end]) || IsNonAscii(normalized[end]))) {
      ++end;
    }
    if (end - i >= 2) ++count.words;
    count.longest = std::max(count.longest, end - i);
    i = end;
  }
  return count;
}

// Stack frames and traceback headers say where, not what: the exception or
// panic line carries the identity.
bool IsFrameOrHeader(absl::string_view normalized) {
  if (absl::StartsWith(normalized, "Traceback (most recent call last)") ||
      absl::StartsWith(normalized, "at ") ||
      absl::StartsWith(normalized, "File <str>, line") ||
      absl::StartsWith(normalized, "goroutine <num> [") ||
      (absl::StartsWith(normalized, "...") &&
       absl::EndsWith(normalized, "more"))) {
    return true;
  }
  // Go frames: "main.handler(<hex>, <hex>)" and "/app/main.go:<num> +<hex>".
  const absl::string_view first = normalized.substr(0, normalized.find(' '));
  return absl::StrContains(first, ".go:") ||
         (absl::EndsWith(normalized, ")") &&
          !absl::StrContains(normalized.substr(0, normalized.find('(')), ' '));
}

}  // namespace

std::string NormalizeErrorLine(absl::string_view line) {
  const std::string clean = CleanInput(line);
  std::string normalized = RewriteWords(StripLogPrefix(clean));
  CapLength(normalized);
  return normalized;
}

std::optional<ErrorSignature> SignatureOf(absl::string_view line) {
  std::string normalized = NormalizeErrorLine(line);
  // One long word ("OOMKilled", "CrashLoopBackOff") is enough; one short
  // one ("Error", "Killed") is not.
  const WordCount count = CountMeaningfulWords(normalized);
  if (count.words == 0 || (count.words == 1 && count.longest < 8) ||
      IsFrameOrHeader(normalized)) {
    return std::nullopt;
  }
  ErrorSignature signature;
  signature.id = absl::StrCat(
      absl::Hex(Fnv1a64(absl::AsciiStrToLower(normalized)), absl::kZeroPad16));
  signature.normalized = std::move(normalized);
  return signature;
}

std::vector<ErrorSignature> SignaturesOf(
    const std::vector<std::string>& log_lines) {
  std::vector<ErrorSignature> signatures;
  std::unordered_set<std::string> seen;
  for (const std::string& line : log_lines) {
    std::optional<ErrorSignature> signature = SignatureOf(line);
    if (signature && seen.insert(signature->id).second) {
      signatures.push_back(*std::move(signature));
    }
  }
  return signatures;
}

}  // namespace deja
