#include "indexer/search.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "core/status_macros.h"
#include "indexer/document_builder.h"
#include "indexer/facets.h"
#include "indexer/index_schema.h"

namespace deja::index {
namespace {

constexpr int kDefaultPageSize = 20;
constexpr int kMaxPageSize = 100;
// Deeper than anyone pages by hand; keeps a forged token from asking Xapian
// for an absurd offset.
constexpr int64_t kMaxOffset = 100000;
constexpr size_t kFacetValues = 20;
constexpr size_t kSnippetBytes = 200;
// A wildcard expands to at most this many terms, the most frequent ones, so
// "con*" never turns into a query over half the vocabulary.
constexpr Xapian::termcount kMaxWildcardExpansion = 64;
constexpr size_t kMinWildcardLetters = 3;
// "Did you mean" is offered when the query found fewer matches than this.
constexpr Xapian::doccount kFewMatches = 3;
constexpr char kPageTokenPrefix[] = "deja.search.v1:";

absl::Status QueryError(absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat("query: ", problem));
}

std::string PageToken(int64_t offset) {
  return absl::WebSafeBase64Escape(absl::StrCat(kPageTokenPrefix, offset));
}

absl::StatusOr<int64_t> OffsetOf(const std::string& page_token) {
  if (page_token.empty()) return 0;
  std::string raw;
  int64_t offset = -1;
  absl::string_view rest;
  if (absl::WebSafeBase64Unescape(page_token, &raw)) rest = raw;
  if (!absl::ConsumePrefix(&rest, kPageTokenPrefix) ||
      !absl::SimpleAtoi(rest, &offset) || offset < 0 || offset > kMaxOffset) {
    return absl::InvalidArgumentError(
        "page_token: not a token from a previous response");
  }
  return offset;
}

// The first problem met in the values of a query's fields. The parser only
// reports its own syntax errors, so the field processors collect theirs
// here rather than throw through it.
class QueryProblems {
 public:
  void Add(absl::string_view problem) {
    if (first_.empty()) first_ = std::string(problem);
  }
  const std::string& first() const { return first_; }

  // A field named a value no document can hold (a term over Xapian's
  // length limit): the query is readable and matches nothing.
  void NoteImpossibleValue() { impossible_value_ = true; }
  bool impossible_value() const { return impossible_value_; }

 private:
  std::string first_;
  bool impossible_value_ = false;
};

// Turns the text after "field:" into the term's value, or says what is
// wrong with it.
using ValueReader =
    std::function<absl::StatusOr<std::string>(absl::string_view value)>;

absl::StatusOr<std::string> PlainValue(absl::string_view value) {
  return NormalTermValue(value);
}

absl::StatusOr<std::string> SeverityValue(absl::string_view value) {
  const std::string normal = NormalTermValue(value);
  absl::string_view digits = normal;
  absl::ConsumePrefix(&digits, "sev");
  if (digits.size() != 1 || digits[0] < '1' || digits[0] > '5') {
    return absl::InvalidArgumentError(
        absl::StrCat("severity: \"", value, "\" is not 1..5 or sev1..sev5"));
  }
  return std::string(digits);
}

absl::StatusOr<std::string> CategoryValue(absl::string_view value) {
  std::string name = absl::AsciiStrToUpper(absl::StripAsciiWhitespace(value));
  std::replace(name.begin(), name.end(), '-', '_');
  v1::RootCause::Category category = v1::RootCause::CATEGORY_UNSPECIFIED;
  if (!v1::RootCause::Category_Parse(name, &category) ||
      category == v1::RootCause::CATEGORY_UNSPECIFIED) {
    std::vector<std::string> names;
    for (int i = v1::RootCause::Category_MIN + 1;
         i <= v1::RootCause::Category_MAX; ++i) {
      if (v1::RootCause::Category_IsValid(i)) {
        names.push_back(
            CategoryTermValue(static_cast<v1::RootCause::Category>(i)));
      }
    }
    return absl::InvalidArgumentError(absl::StrCat("category: \"", value,
                                                   "\" is not one of ",
                                                   absl::StrJoin(names, ", ")));
  }
  return CategoryTermValue(category);
}

// A term, or MatchNothing (an empty query) when the value is one no
// document can hold.
Xapian::Query BooleanTerm(absl::string_view prefix, absl::string_view value) {
  std::string term = absl::StrCat(prefix, value);
  if (value.empty() || term.size() > kMaxTermBytes) {
    return Xapian::Query::MatchNothing;
  }
  return Xapian::Query(term);
}

// `field:value` for a boolean filter field.
class BooleanFieldProcessor : public Xapian::FieldProcessor {
 public:
  BooleanFieldProcessor(std::string prefix, ValueReader read_value,
                        QueryProblems& problems)
      : prefix_(std::move(prefix)),
        read_value_(std::move(read_value)),
        problems_(problems) {}

  Xapian::Query operator()(const std::string& value) override {
    absl::StatusOr<std::string> term_value = read_value_(value);
    if (!term_value.ok()) {
      problems_.Add(term_value.status().message());
      return Xapian::Query::MatchNothing;
    }
    Xapian::Query term = BooleanTerm(prefix_, *term_value);
    if (term.empty()) problems_.NoteImpossibleValue();
    return term;
  }

 private:
  const std::string prefix_;
  const ValueReader read_value_;
  QueryProblems& problems_;
};

std::string SortableSeconds(int64_t seconds) {
  return Xapian::sortable_serialise(static_cast<double>(seconds));
}

// `started:FROM..TO` with YYYY-MM-DD dates, either end open; TO includes
// the whole of its day (UTC).
class StartedRangeProcessor : public Xapian::RangeProcessor {
 public:
  explicit StartedRangeProcessor(QueryProblems& problems)
      : Xapian::RangeProcessor(kStartedAtSlot, "started:"),
        problems_(problems) {}

  Xapian::Query operator()(const std::string& begin,
                           const std::string& end) override {
    std::optional<int64_t> from;
    std::optional<int64_t> to;
    if (!begin.empty()) {
      std::optional<absl::CivilDay> day = ParseDay(begin);
      if (!day) return Invalid(begin);
      from = DayStart(*day);
    }
    if (!end.empty()) {
      std::optional<absl::CivilDay> day = ParseDay(end);
      if (!day) return Invalid(end);
      to = DayStart(*day + 1) - 1;
    }
    if (from && to) {
      // Xapian would quietly match nothing; the dates are likely swapped.
      if (*from > *to) {
        problems_.Add(absl::StrCat("started range \"", begin, "..", end,
                                   "\" ends before it starts"));
        return Xapian::Query::MatchNothing;
      }
      return Xapian::Query(Xapian::Query::OP_VALUE_RANGE, slot,
                           SortableSeconds(*from), SortableSeconds(*to));
    }
    if (from) {
      return Xapian::Query(Xapian::Query::OP_VALUE_GE, slot,
                           SortableSeconds(*from));
    }
    if (to) {
      return Xapian::Query(Xapian::Query::OP_VALUE_LE, slot,
                           SortableSeconds(*to));
    }
    return Invalid("..");
  }

 private:
  static std::optional<absl::CivilDay> ParseDay(const std::string& text) {
    absl::CivilDay day;
    // The round trip rejects what ParseCivilTime would normalise
    // ("2024-02-30") or read loosely.
    if (!absl::ParseCivilTime(text, &day) ||
        absl::FormatCivilTime(day) != text) {
      return std::nullopt;
    }
    return day;
  }

  static int64_t DayStart(absl::CivilDay day) {
    return absl::ToUnixSeconds(absl::FromCivil(day, absl::UTCTimeZone()));
  }

  Xapian::Query Invalid(absl::string_view text) {
    problems_.Add(absl::StrCat("started: \"", text,
                               "\" is not a date (YYYY-MM-DD..YYYY-MM-DD, "
                               "either end may be left open)"));
    return Xapian::Query::MatchNothing;
  }

  QueryProblems& problems_;
};

bool IsWordByte(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) ||
         static_cast<unsigned char>(c) >= 0x80 || c == '_';
}

// The fields whose `field:value` is a boolean filter (ParseQuery).
constexpr const char* kBooleanFields[] = {"team",     "service",  "tag",
                                          "severity", "category", "signature"};

// Whether `token` (from the start of a whitespace-separated word) is a
// boolean filter's value: the parser takes its `*` literally, not as a
// wildcard.
bool InBooleanValue(absl::string_view token) {
  while (!token.empty() &&
         (token[0] == '(' || token[0] == '-' || token[0] == '+')) {
    token.remove_prefix(1);
  }
  for (const char* field : kBooleanFields) {
    if (absl::StartsWith(token, absl::StrCat(field, ":"))) return true;
  }
  return false;
}

// The parser only accepts "x*" expansions; require a few letters so that a
// wildcard names something ("a*" would match a sample of everything).
absl::Status CheckWildcards(absl::string_view text) {
  bool in_phrase = false;
  size_t token_start = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '"') in_phrase = !in_phrase;
    if (!in_phrase &&
        absl::ascii_isspace(static_cast<unsigned char>(text[i]))) {
      token_start = i + 1;
    }
    if (text[i] != '*' || in_phrase) continue;
    if (InBooleanValue(text.substr(token_start, i - token_start))) continue;
    size_t letters = 0;
    for (size_t j = i; j > 0 && IsWordByte(text[j - 1]); --j) {
      // Counts characters, not UTF-8 continuation bytes.
      if ((static_cast<unsigned char>(text[j - 1]) & 0xC0) != 0x80) ++letters;
    }
    if (letters < kMinWildcardLetters) {
      return QueryError(absl::StrCat("a wildcard needs at least ",
                                     kMinWildcardLetters,
                                     " letters before the *"));
    }
  }
  return absl::OkStatus();
}

// The parser reads any "a..b" as a range and rejects the query when no
// range processor claims it. Only started: ranges exist, so elsewhere dots
// are punctuation ("the pool halved... then").
std::string BlankStrayRanges(absl::string_view text) {
  std::string out(text);
  size_t token_start = 0;
  for (size_t i = 0; i < out.size(); ++i) {
    if (absl::ascii_isspace(static_cast<unsigned char>(out[i]))) {
      token_start = i + 1;
      continue;
    }
    if (out[i] != '.' || i + 1 == out.size() || out[i + 1] != '.') continue;
    absl::string_view token = absl::string_view(out).substr(token_start);
    while (!token.empty() &&
           (token[0] == '(' || token[0] == '-' || token[0] == '+')) {
      token.remove_prefix(1);
    }
    if (absl::StartsWith(token, "started:")) continue;
    for (; i < out.size() && out[i] == '.'; ++i) out[i] = ' ';
    token_start = i;
  }
  return out;
}

bool IsOperator(absl::string_view word) {
  for (const char* op : {"AND", "OR", "NOT", "XOR", "NEAR", "ADJ"}) {
    if (word == op) return true;
  }
  return false;
}

// Lowercases every word but the boolean operators. The parser's STEM_SOME
// leaves capitalised words unstemmed, and the index holds the stems of
// lowercased text (document_builder.cc): "Certificates" must find
// "certificate" as "certificates" does. ASCII only, like the boolean
// terms' values.
std::string LowercaseWords(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    if (!absl::ascii_isalpha(static_cast<unsigned char>(text[i]))) {
      out.push_back(text[i++]);
      continue;
    }
    size_t end = i;
    while (end < text.size() &&
           absl::ascii_isalpha(static_cast<unsigned char>(text[end]))) {
      ++end;
    }
    const absl::string_view word = text.substr(i, end - i);
    const bool whole_word = (i == 0 || !IsWordByte(text[i - 1])) &&
                            (end == text.size() || !IsWordByte(text[end]));
    if (whole_word && IsOperator(word)) {
      absl::StrAppend(&out, word);
    } else {
      absl::StrAppend(&out, absl::AsciiStrToLower(word));
    }
    i = end;
  }
  return out;
}

struct FreeTextField {
  const char* name;
  const char* prefix;
};

constexpr FreeTextField kFreeTextFields[] = {
    {"title", kTitlePrefix},
    {"summary", kSummaryPrefix},
    {"impact", kImpactPrefix},
    {"detection", kDetectionPrefix},
    {"timeline", kTimelinePrefix},
    {"why", kWhysPrefix},
    {"whys", kWhysPrefix},
    {"cause", kRootCausePrefix},
    {"contributing", kContributingPrefix},
    {"resolution", kResolutionPrefix},
    {"action", kActionItemPrefix},
    {"owner", kOwnerPrefix},
    {"lessons", kLessonsPrefix},
    {"log", kLogPrefix},
    {"narrative", kNarrativePrefix},
};

struct ParsedQuery {
  Xapian::Query query;
  // The text as parsed (operators kept, words lowercased).
  std::string text;
  // The text with misspelt words corrected; empty when none was or when
  // the correction was not asked for.
  std::string corrected;
};

// Parses SearchRequest.query; with `correct_spelling`, also looks for a
// correction (a lookup per word, so only done when one may be shown).
// Throws Xapian::QueryParserError (the caller catches it).
absl::StatusOr<ParsedQuery> ParseQuery(const Xapian::Database& db,
                                       const Xapian::Stem& stemmer,
                                       const std::string& query,
                                       bool correct_spelling) {
  DEJA_RETURN_IF_ERROR(CheckWildcards(query));
  QueryProblems problems;
  BooleanFieldProcessor team(kTeamPrefix, PlainValue, problems);
  BooleanFieldProcessor service(kServicePrefix, PlainValue, problems);
  BooleanFieldProcessor tag(kTagPrefix, PlainValue, problems);
  BooleanFieldProcessor severity(kSeverityPrefix, SeverityValue, problems);
  BooleanFieldProcessor category(kCauseCategoryPrefix, CategoryValue, problems);
  BooleanFieldProcessor signature(kSignaturePrefix, PlainValue, problems);
  StartedRangeProcessor started(problems);

  Xapian::QueryParser parser;
  parser.set_database(db);
  parser.set_stemmer(stemmer);
  parser.set_stemming_strategy(Xapian::QueryParser::STEM_SOME);
  parser.set_max_expansion(kMaxWildcardExpansion,
                           Xapian::Query::WILDCARD_LIMIT_MOST_FREQUENT,
                           Xapian::QueryParser::FLAG_WILDCARD);
  for (const FreeTextField& field : kFreeTextFields) {
    parser.add_prefix(field.name, field.prefix);
  }
  // The processors are owned here (not release()d): they live until the
  // parser is done.
  parser.add_boolean_prefix("team", &team);
  parser.add_boolean_prefix("service", &service);
  parser.add_boolean_prefix("tag", &tag);
  parser.add_boolean_prefix("severity", &severity);
  parser.add_boolean_prefix("category", &category);
  parser.add_boolean_prefix("signature", &signature);
  parser.add_rangeprocessor(&started);

  ParsedQuery parsed;
  parsed.text = LowercaseWords(BlankStrayRanges(query));
  unsigned flags = Xapian::QueryParser::FLAG_DEFAULT |
                   Xapian::QueryParser::FLAG_WILDCARD |
                   Xapian::QueryParser::FLAG_AUTO_SYNONYMS |
                   Xapian::QueryParser::FLAG_AUTO_MULTIWORD_SYNONYMS;
  if (correct_spelling) flags |= Xapian::QueryParser::FLAG_SPELLING_CORRECTION;
  parsed.query = parser.parse_query(parsed.text, flags);
  if (!problems.first().empty()) return QueryError(problems.first());
  // "((((" or a lone "*" parse to nothing at all; a value no document can
  // hold makes its part of the query match nothing (and so, often, all of
  // it).
  if (parsed.query.empty() && !problems.impossible_value()) {
    return QueryError(
        "nothing to search for: write words, \"phrases\" or field:value");
  }
  if (correct_spelling) parsed.corrected = parser.get_corrected_query_string();
  return parsed;
}

template <typename Values, typename ToTermValue>
Xapian::Query AnyOf(absl::string_view prefix, const Values& values,
                    ToTermValue to_term_value) {
  std::vector<Xapian::Query> terms;
  for (const auto& value : values) {
    terms.push_back(BooleanTerm(prefix, to_term_value(value)));
  }
  return Xapian::Query(Xapian::Query::OP_OR, terms.begin(), terms.end());
}

// The structured filters, to be AND-ed. An element is MatchNothing (empty)
// when its list names no value a document can hold.
std::vector<Xapian::Query> Filters(const v1::SearchRequest& request) {
  std::vector<Xapian::Query> filters;
  if (request.services_size() > 0) {
    filters.push_back(
        AnyOf(kServicePrefix, request.services(), NormalTermValue));
  }
  if (request.teams_size() > 0) {
    filters.push_back(AnyOf(kTeamPrefix, request.teams(), NormalTermValue));
  }
  if (request.tags_size() > 0) {
    filters.push_back(AnyOf(kTagPrefix, request.tags(), NormalTermValue));
  }
  if (request.severities_size() > 0) {
    filters.push_back(
        AnyOf(kSeverityPrefix, request.severities(),
              [](int severity) { return absl::StrCat(severity); }));
  }
  if (request.cause_categories_size() > 0) {
    filters.push_back(AnyOf(
        kCauseCategoryPrefix, request.cause_categories(), [](int category) {
          return CategoryTermValue(
              static_cast<v1::RootCause::Category>(category));
        }));
  }
  // The slot holds whole seconds: started_at >= after and < before, with
  // the instants' nanoseconds rounded the right way.
  if (request.has_started_after()) {
    const google::protobuf::Timestamp& after = request.started_after();
    filters.emplace_back(
        Xapian::Query::OP_VALUE_GE, kStartedAtSlot,
        SortableSeconds(after.seconds() + (after.nanos() > 0 ? 1 : 0)));
  }
  if (request.has_started_before()) {
    const google::protobuf::Timestamp& before = request.started_before();
    filters.emplace_back(
        Xapian::Query::OP_VALUE_LE, kStartedAtSlot,
        SortableSeconds(before.seconds() - (before.nanos() > 0 ? 0 : 1)));
  }
  return filters;
}

// The MSet's hit at `index` as a SearchHit.
absl::Status AddHit(const Xapian::MSet& matches, Xapian::doccount index,
                    const Xapian::Stem& stemmer, bool scored,
                    int64_t now_unix_seconds, v1::SearchResponse& response) {
  const Xapian::MSetIterator it = matches[index];
  v1::SearchHit* hit = response.add_hits();
  v1::IncidentSummary* incident = hit->mutable_incident();
  if (!incident->ParseFromString(it.get_document().get_data())) {
    return absl::InternalError(
        absl::StrCat("search index document ", *it,
                     " holds no readable summary (rebuild the index)"));
  }
  MarkOverdue(*incident, now_unix_seconds);
  hit->set_score(scored ? it.get_percent() : 0);
  // The window holding most of the query's weight; without
  // SNIPPET_BACKGROUND_MODEL, which would look up the document frequency of
  // every other word of the summary to weigh it too (a sixth of a search's
  // time at 10,000 postmortems, for a choice among a few sentences).
  hit->set_snippet(matches.snippet(incident->summary(), kSnippetBytes, stemmer,
                                   Xapian::MSet::SNIPPET_EXHAUSTIVE, "<mark>",
                                   "</mark>", "\xE2\x80\xA6"));
  return absl::OkStatus();
}

absl::StatusOr<v1::SearchResponse> Search(const Xapian::Database& db,
                                          const v1::SearchRequest& request,
                                          int64_t now_unix_seconds,
                                          const SearchOptions& options) {
  DEJA_ASSIGN_OR_RETURN(const int64_t offset, OffsetOf(request.page_token()));
  const int page_size = request.page_size() <= 0
                            ? kDefaultPageSize
                            : std::min(request.page_size(), kMaxPageSize);
  const Xapian::Stem stemmer("english");

  ParsedQuery parsed;
  const bool has_words = !absl::StripAsciiWhitespace(request.query()).empty();
  if (has_words) {
    DEJA_ASSIGN_OR_RETURN(parsed, ParseQuery(db, stemmer, request.query(),
                                             /*correct_spelling=*/false));
  } else {
    parsed.query = Xapian::Query::MatchAll;
  }
  Xapian::Query query = parsed.query;
  const std::vector<Xapian::Query> filters = Filters(request);
  if (std::any_of(filters.begin(), filters.end(),
                  [](const Xapian::Query& filter) { return filter.empty(); })) {
    query = Xapian::Query::MatchNothing;
  } else if (!filters.empty()) {
    query = Xapian::Query(
        Xapian::Query::OP_FILTER, query,
        Xapian::Query(Xapian::Query::OP_AND, filters.begin(), filters.end()));
  }

  Xapian::Enquire enquire(db);
  enquire.set_query(query);
  if (request.sort() == v1::SearchRequest::NEWEST) {
    enquire.set_sort_by_value_then_relevance(kStartedAtSlot, true);
  } else {
    // Equal scores (a query without words) come newest first.
    enquire.set_sort_by_relevance_then_value(kStartedAtSlot, true);
  }
  const auto first = static_cast<Xapian::doccount>(offset);
  const auto shown = static_cast<Xapian::doccount>(page_size);
  // One match past the page says whether another page exists: with
  // estimated counts, total_matches cannot.
  const Xapian::doccount wanted = shown + 1;
  // Past the bound one more is checked: the limit keeps that from wrapping.
  const Xapian::doccount bound = std::clamp<Xapian::doccount>(
      options.exact_count_bound, 1,
      std::numeric_limits<Xapian::doccount>::max() - 1);
  // Xapian's estimate (nothing matched yet: get_mset stops there when asked
  // to check nothing) spreads the facet sample over the matches.
  const Xapian::doccount estimate =
      enquire.get_mset(0, 0, Xapian::doccount{0}).get_matches_estimated();
  FacetCounter facets(bound, estimate / bound);
  enquire.add_matchspy(&facets);
  // The matcher checks more than `bound` matches (so that exactly `bound`
  // are known to be all), then stops as soon as no later match can reach
  // the page (it can when ranking by relevance).
  const Xapian::MSet matches =
      enquire.get_mset(first, wanted, std::max(bound + 1, first + wanted));

  v1::SearchResponse response;
  // Without weighted words every match scores the same: no relevance.
  const bool scored = has_words && matches.get_max_possible() > 0;
  const Xapian::doccount hits = std::min(matches.size(), shown);
  for (Xapian::doccount i = 0; i < hits; ++i) {
    DEJA_RETURN_IF_ERROR(
        AddHit(matches, i, stemmer, scored, now_unix_seconds, response));
  }
  // Exact when the counter counted every match there can be. An estimate
  // never claims fewer matches than the pages have shown.
  const bool estimated =
      facets.sampled() ||
      facets.documents_shown() < matches.get_matches_upper_bound();
  const Xapian::doccount total =
      std::max(matches.get_matches_estimated(), first + matches.size());
  response.set_total_matches(total);
  response.set_counts_estimated(estimated);
  for (v1::Facet& facet : facets.Facets(kFacetValues, total)) {
    *response.add_facets() = std::move(facet);
  }
  if (has_words && total < kFewMatches) {
    DEJA_ASSIGN_OR_RETURN(const ParsedQuery corrected,
                          ParseQuery(db, stemmer, request.query(),
                                     /*correct_spelling=*/true));
    if (!corrected.corrected.empty() && corrected.corrected != parsed.text) {
      response.set_did_you_mean(corrected.corrected);
    }
  }
  const int64_t next = offset + static_cast<int64_t>(hits);
  if (matches.size() > shown && next <= kMaxOffset) {
    response.set_next_page_token(PageToken(next));
  }
  return response;
}

}  // namespace

absl::StatusOr<v1::SearchResponse> RunSearch(const Xapian::Database& db,
                                             const v1::SearchRequest& request,
                                             int64_t now_unix_seconds,
                                             const SearchOptions& options) {
  try {
    return Search(db, request, now_unix_seconds, options);
  } catch (const Xapian::QueryParserError& e) {
    return QueryError(absl::StrCat("cannot be read (", e.get_msg(), ")"));
  } catch (const Xapian::WildcardError& e) {
    return QueryError(absl::StrCat("wildcard: ", e.get_msg()));
  } catch (const Xapian::DatabaseModifiedError& e) {
    return absl::AbortedError(absl::StrCat(
        "the search index changed during the query: ", e.get_msg()));
  } catch (const Xapian::Error& e) {
    return absl::UnavailableError(
        absl::StrCat("search index: ", e.get_type(), ": ", e.get_msg()));
  }
}

}  // namespace deja::index
