#include "indexer/similarity.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <initializer_list>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "core/error_signature.h"
#include "core/status_macros.h"
#include "indexer/document_builder.h"
#include "indexer/index_schema.h"
#include "indexer/synonyms.h"

namespace deja::index {
namespace {

constexpr int kDefaultLimit = 10;
constexpr int kMaxLimit = 50;
// Terms taken from the document in "more like this" mode.
constexpr int kLikeThisTerms = 40;

// Function words and the filler of incident prose. Sorted (binary search).
constexpr const char* kStopWords[] = {
    "a",       "about",  "above",   "after",  "again",   "against", "all",
    "also",    "am",     "an",      "and",    "any",     "are",     "as",
    "at",      "be",     "because", "been",   "before",  "being",   "below",
    "between", "both",   "but",     "by",     "can",     "could",   "did",
    "do",      "does",   "doing",   "don",    "down",    "during",  "each",
    "even",    "ever",   "few",     "for",    "from",    "further", "get",
    "gets",    "got",    "had",     "has",    "hasn",    "have",    "having",
    "he",      "her",    "here",    "hers",   "him",     "his",     "how",
    "i",       "if",     "in",      "into",   "is",      "isn",     "it",
    "its",     "itself", "just",    "keep",   "keeps",   "like",    "looks",
    "many",    "me",     "might",   "more",   "most",    "much",    "must",
    "my",      "no",     "nor",     "not",    "now",     "of",      "off",
    "on",      "once",   "one",     "only",   "or",      "other",   "our",
    "ours",    "out",    "over",    "own",    "same",    "seems",   "she",
    "should",  "so",     "some",    "still",  "such",    "than",    "that",
    "the",     "their",  "them",    "then",   "there",   "these",   "they",
    "this",    "those",  "through", "to",     "too",     "under",   "until",
    "up",      "us",     "very",    "was",    "wasn",    "we",      "were",
    "what",    "when",   "where",   "which",  "while",   "who",     "whom",
    "why",     "will",   "with",    "within", "without", "won",     "would",
    "yet",     "you",    "your",    "yours",
};

bool IsStopWord(const std::string& word) {
  return std::binary_search(
      std::begin(kStopWords), std::end(kStopWords), word,
      [](const std::string& a, const std::string& b) { return a < b; });
}

// Words that carry no identity: one letter, or numbers other than the
// three-digit codes (HTTP statuses, ports) engineers quote.
bool IsNoise(const std::string& word) {
  if (word.size() < 2) return true;
  const bool digits = std::all_of(word.begin(), word.end(), [](char c) {
    return absl::ascii_isdigit(static_cast<unsigned char>(c));
  });
  return digits && word.size() != 3;
}

struct Field {
  const char* prefix;
  const char* name;
};

constexpr Field kFields[] = {
    {kTitlePrefix, "title"},
    {kSummaryPrefix, "summary"},
    {kImpactPrefix, "impact"},
    {kDetectionPrefix, "detection"},
    {kTimelinePrefix, "timeline"},
    {kWhysPrefix, "whys"},
    {kRootCausePrefix, "root_causes"},
    {kContributingPrefix, "contributing_factors"},
    {kResolutionPrefix, "resolution"},
    {kActionItemPrefix, "action_items"},
    {kLessonsPrefix, "lessons"},
    {kLogPrefix, "log_lines"},
    {kNarrativePrefix, "narrative"},
};

// One unit of meaning in the description: a word (by its stem) or a
// synonym-table group.
struct QueryTerm {
  // As the description wrote it.
  std::string surface;
  // Set for a word.
  std::string stem;
  // Set for a synonym group.
  std::optional<size_t> group;
  // Summed weight of its occurrences.
  double weight = 0;
  // How many documents hold it, its inverse document frequency in the
  // index, and whether any document holds it (set by Weigh).
  double frequency = 0;
  double idf = 0;
  bool held = false;
};

struct Description {
  std::vector<QueryTerm> terms;
  // Key ("w:" + stem or "g:" + group) -> index in terms.
  std::map<std::string, size_t> by_key;
  // Over every term the description wrote, before KeepStrongest (set by
  // Weigh): the summed saturated weight, and that weight times idf and idf
  // squared (the denominators of coverage).
  double total_weight = 0;
  double total_mass = 0;
  double total_distinctive_mass = 0;
  // Adjacent content words, unstemmed, for proximity.
  std::vector<std::pair<std::string, std::string>> bigrams;
  // Lowercased service names -> as written.
  std::map<std::string, std::string> services;
  std::vector<v1::SharedSignature> signatures;
  // The document itself in "more like this" mode.
  std::optional<Xapian::docid> self;
  // Every index term a match can hold for the description (each term over
  // all text and in each field), sorted: what Measure looks up in a
  // candidate's term list (set by ListReasonTerms).
  std::vector<std::string> reason_terms;
};

// `text`'s words as the index splits them, lowercase, in order.
std::vector<std::string> Words(const std::string& text) {
  Xapian::Document scratch;
  Xapian::TermGenerator generator;
  generator.set_document(scratch);
  generator.set_max_word_length(64);
  generator.index_text(Xapian::Unicode::tolower(text));
  std::vector<std::pair<Xapian::termpos, std::string>> at;
  for (auto term = scratch.termlist_begin(); term != scratch.termlist_end();
       ++term) {
    for (auto pos = term.positionlist_begin(); pos != term.positionlist_end();
         ++pos) {
      at.emplace_back(*pos, *term);
    }
  }
  std::sort(at.begin(), at.end());
  std::vector<std::string> words;
  words.reserve(at.size());
  for (auto& [pos, word] : at) words.push_back(std::move(word));
  return words;
}

class DescriptionBuilder {
 public:
  DescriptionBuilder(const SimilarityOptions& options, Description& out)
      : options_(options), out_(out) {}

  void AddWords(const std::vector<std::string>& words, double weight,
                bool bigrams) {
    std::vector<SynonymSpan> spans;
    if (options_.synonyms) spans = FindSynonymSpans(words);
    auto span = spans.begin();
    std::string previous;
    for (size_t i = 0; i < words.size();) {
      if (span != spans.end() && span->first_word == i) {
        std::vector<std::string> parts(words.begin() + i,
                                       words.begin() + i + span->word_count);
        Add(absl::StrCat("g:", span->group), absl::StrJoin(parts, " "), "",
            span->group, weight);
        i += span->word_count;
        ++span;
        previous.clear();
        continue;
      }
      const std::string& word = words[i++];
      if (IsStopWord(word) || IsNoise(word)) {
        previous.clear();
        continue;
      }
      const std::string stem = stemmer_(word);
      Add(absl::StrCat("w:", stem), word, stem, std::nullopt, weight);
      if (bigrams && !previous.empty())
        out_.bigrams.emplace_back(previous, word);
      previous = word;
    }
  }

  void AddStem(const std::string& stem, const std::string& surface,
               double weight) {
    Add(absl::StrCat("w:", stem), surface, stem, std::nullopt, weight);
  }

 private:
  void Add(const std::string& key, const std::string& surface,
           const std::string& stem, std::optional<size_t> group,
           double weight) {
    auto [it, inserted] = out_.by_key.emplace(key, out_.terms.size());
    if (inserted) {
      QueryTerm term;
      term.surface = surface;
      term.stem = stem;
      term.group = group;
      out_.terms.push_back(std::move(term));
    }
    out_.terms[it->second].weight += weight;
  }

  const SimilarityOptions& options_;
  Description& out_;
  Xapian::Stem stemmer_{"english"};
};

// Placeholders of a normalised log line ("<num>", "<host>") are not words.
std::string WithoutPlaceholders(const std::string& normalized) {
  std::string out;
  bool inside = false;
  for (char c : normalized) {
    if (c == '<') inside = true;
    if (!inside) out.push_back(c);
    if (c == '>') {
      inside = false;
      out.push_back(' ');
    }
  }
  return out;
}

Description DescribeRequest(const v1::FindSimilarRequest& request,
                            const SimilarityOptions& options) {
  Description description;
  DescriptionBuilder builder(options, description);
  builder.AddWords(Words(request.symptoms()), 1.0, true);
  for (const std::string& line : request.log_lines()) {
    builder.AddWords(Words(WithoutPlaceholders(NormalizeErrorLine(line))),
                     options.log_word_weight, false);
  }
  const std::vector<std::string> lines(request.log_lines().begin(),
                                       request.log_lines().end());
  for (const ErrorSignature& signature : SignaturesOf(lines)) {
    v1::SharedSignature shared;
    shared.set_id(signature.id);
    shared.set_normalized(signature.normalized);
    description.signatures.push_back(std::move(shared));
  }
  for (const std::string& service : request.services()) {
    const std::string key = NormalTermValue(service);
    if (key.empty()) continue;
    description.services.emplace(key, service);
    builder.AddWords(Words(service), options.service_word_weight, false);
  }
  return description;
}

// Unprefixed stemmed terms ("Z" + a lowercase stem) that are not stop words.
class ContentStemDecider : public Xapian::ExpandDecider {
 public:
  bool operator()(const std::string& term) const override {
    // Not a field's term, nor a synonym group's ("Z#oom").
    if (term.size() < 3 || term[0] != 'Z' || term[1] == '#' ||
        absl::ascii_isupper(static_cast<unsigned char>(term[1]))) {
      return false;
    }
    const std::string stem = term.substr(1);
    return !IsStopWord(stem) && !IsNoise(stem);
  }
};

// "More like this": the document's most distinctive stems stand for it.
Description DescribeDocument(const Xapian::Database& db, Xapian::docid docid,
                             const SimilarityOptions& options) {
  Description description;
  description.self = docid;
  DescriptionBuilder builder(options, description);
  Xapian::Enquire enquire(db);
  Xapian::RSet rset;
  rset.add_document(docid);
  const ContentStemDecider decider;
  const Xapian::ESet eset = enquire.get_eset(kLikeThisTerms, rset, &decider);
  double top = 0;
  for (auto it = eset.begin(); it != eset.end(); ++it) {
    top = std::max(top, it.get_weight());
  }
  // A readable form of each stem: the document's own word for it.
  std::map<std::string, std::string> surface;
  const Xapian::Stem stemmer("english");
  const Xapian::Document document = db.get_document(docid);
  for (auto term = document.termlist_begin(); term != document.termlist_end();
       ++term) {
    const std::string& word = *term;
    if (word.empty() ||
        !absl::ascii_islower(static_cast<unsigned char>(word[0])))
      continue;
    surface.emplace(stemmer(word), word);
  }
  for (auto it = eset.begin(); it != eset.end(); ++it) {
    const std::string stem = (*it).substr(1);
    const auto found = surface.find(stem);
    builder.AddStem(stem, found == surface.end() ? stem : found->second,
                    top > 0 ? 2.0 * it.get_weight() / top : 1.0);
  }
  for (auto term = document.termlist_begin(); term != document.termlist_end();
       ++term) {
    const std::string& value = *term;
    if (value.rfind(kServicePrefix, 0) == 0) {
      const std::string name = value.substr(std::strlen(kServicePrefix));
      description.services.emplace(name, name);
    } else if (value.rfind(kSignaturePrefix, 0) == 0) {
      v1::SharedSignature shared;
      // The template is not kept in the index; the id is what matches.
      shared.set_id(value.substr(std::strlen(kSignaturePrefix)));
      description.signatures.push_back(std::move(shared));
    }
  }
  return description;
}

// Diminishing returns for a word repeated in the description.
double Saturate(double weight) {
  return weight <= 1.0 ? weight : 1.0 + std::log(weight);
}

double Idf(double n, double docs) {
  return std::log(1.0 + (docs - n + 0.5) / (n + 0.5));
}

// The index term of `term` in the field with `prefix` ("" for all text):
// the stemmed one, or as written for a word Xapian does not stem (one that
// starts with a digit: "404").
std::string TermOf(const QueryTerm& term, absl::string_view prefix) {
  if (term.group) return SynonymGroupTerm(*term.group, prefix);
  if (!term.stem.empty() &&
      absl::ascii_isdigit(static_cast<unsigned char>(term.stem[0]))) {
    return absl::StrCat(prefix, term.stem);
  }
  return absl::StrCat("Z", prefix, term.stem);
}

// Sets each term's idf from the index's document frequencies (a group: the
// documents holding any of its forms, phrases included; a group written only
// as phrases, "replication lag", is not a word nobody wrote, and its idf
// squared would otherwise outweigh the rest of the description in the
// verdict's coverage).
void Weigh(const Xapian::Database& db, Description& description) {
  const double docs = std::max<double>(1, db.get_doccount());
  for (QueryTerm& term : description.terms) {
    const double n = db.get_termfreq(TermOf(term, ""));
    term.frequency = n;
    term.idf = Idf(n, docs);
    term.held = n > 0;
  }
  for (const QueryTerm& term : description.terms) {
    description.total_weight += Saturate(term.weight);
    description.total_mass += Saturate(term.weight) * term.idf;
    description.total_distinctive_mass +=
        Saturate(term.weight) * term.idf * term.idf;
  }
}

// Bounds the work of a long description (16 KiB of symptoms and 64 KiB of
// log lines hold thousands of distinct words, each ~2 subqueries and a check
// per candidate and field): keeps the `max_terms` strongest terms that some
// document holds. A term no document holds matches nothing; past the
// strongest few hundred, the rest cannot change a ranking meaningfully. Both
// still count in the totals, so a description full of words nobody wrote
// stays new.
void KeepStrongest(Description& description, int max_terms) {
  std::vector<size_t> held;
  for (size_t i = 0; i < description.terms.size(); ++i) {
    if (description.terms[i].held) held.push_back(i);
  }
  const size_t kept =
      std::min(held.size(), static_cast<size_t>(std::max(0, max_terms)));
  const auto strength = [&description](size_t i) {
    const QueryTerm& term = description.terms[i];
    return Saturate(term.weight) * term.idf;
  };
  // Ties go to the earlier word; the kept keep the description's order.
  std::stable_sort(held.begin(), held.end(), [&](size_t a, size_t b) {
    return strength(a) > strength(b);
  });
  held.resize(kept);
  std::sort(held.begin(), held.end());
  std::vector<QueryTerm> terms;
  terms.reserve(kept);
  for (size_t i : held) terms.push_back(std::move(description.terms[i]));
  description.terms = std::move(terms);
  description.by_key.clear();
  for (size_t i = 0; i < description.terms.size(); ++i) {
    const QueryTerm& term = description.terms[i];
    description.by_key.emplace(term.group ? absl::StrCat("g:", *term.group)
                                          : absl::StrCat("w:", term.stem),
                               i);
  }
}

// Sets description.reason_terms from the kept terms.
void ListReasonTerms(Description& description) {
  std::vector<std::string>& wanted = description.reason_terms;
  wanted.clear();
  for (const QueryTerm& term : description.terms) {
    wanted.push_back(TermOf(term, ""));
    for (const Field& field : kFields) {
      wanted.push_back(TermOf(term, field.prefix));
    }
  }
  std::sort(wanted.begin(), wanted.end());
  wanted.erase(std::unique(wanted.begin(), wanted.end()), wanted.end());
}

// Whether `term` is held by more than options.common_word_share of the
// documents: idf log(1 + (1 - share) / share) or less.
bool IsCommon(const QueryTerm& term, const SimilarityOptions& options) {
  const double share = options.common_word_share;
  return share < 1 && term.idf <= std::log(1 + (1 - share) / share);
}

enum class TermSet { kAll, kUncommon };

// The description's uncommon words (IsCommon) in titles and summaries.
Xapian::Query HeadlineQuery(const Description& description,
                            const SimilarityOptions& options) {
  std::vector<Xapian::Query> parts;
  for (const QueryTerm& term : description.terms) {
    if (IsCommon(term, options)) continue;
    parts.emplace_back(Xapian::Query::OP_SCALE_WEIGHT,
                       Xapian::Query(TermOf(term, kHeadlinePrefix)),
                       Saturate(term.weight));
  }
  return Xapian::Query(Xapian::Query::OP_OR, parts.begin(), parts.end());
}

Xapian::Query TextQuery(const Description& description,
                        const SimilarityOptions& options,
                        TermSet words = TermSet::kAll) {
  const auto left_out = [&](const QueryTerm& term) {
    return words == TermSet::kUncommon && IsCommon(term, options);
  };
  std::vector<Xapian::Query> parts;
  for (const QueryTerm& term : description.terms) {
    if (left_out(term)) continue;
    parts.emplace_back(Xapian::Query::OP_SCALE_WEIGHT,
                       Xapian::Query(TermOf(term, "")), Saturate(term.weight));
  }
  if (options.title_summary_weight > 0) {
    // The headline holds title and summary, so twice the weight of one.
    for (const QueryTerm& term : description.terms) {
      if (left_out(term)) continue;
      parts.emplace_back(
          Xapian::Query::OP_SCALE_WEIGHT,
          Xapian::Query(TermOf(term, kHeadlinePrefix)),
          2 * Saturate(term.weight) * options.title_summary_weight);
    }
  }
  if (options.proximity_weight > 0) {
    for (const auto& [first, second] : description.bigrams) {
      const Xapian::Query pair[] = {Xapian::Query(first),
                                    Xapian::Query(second)};
      parts.emplace_back(Xapian::Query::OP_SCALE_WEIGHT,
                         Xapian::Query(Xapian::Query::OP_PHRASE,
                                       std::begin(pair), std::end(pair), 2),
                         options.proximity_weight);
    }
  }
  return Xapian::Query(Xapian::Query::OP_OR, parts.begin(), parts.end());
}

// The stem of a stemmed term of a field that states what failed (title,
// summary, root causes: "ZXS" + stem), or "" for any other term.
std::string ShortFieldStem(const std::string& term) {
  for (const char* prefix : {kTitlePrefix, kSummaryPrefix, kRootCausePrefix}) {
    const size_t length = 1 + std::strlen(prefix);
    if (term.size() > length && term[0] == 'Z' &&
        term.compare(1, length - 1, prefix) == 0 &&
        // A lowercase stem, not the next letter of a longer prefix.
        absl::ascii_islower(static_cast<unsigned char>(term[length]))) {
      return term.substr(length);
    }
  }
  return "";
}

// The expansion words, and those of them that few reports hold.
struct Expansion {
  // Each weighted by its vote.
  std::vector<Xapian::Query> words;
  // Those held by at most options.feedback_gap_max_share of the index (or
  // 50 documents): what searches for the reports that share none of the
  // engineer's words.
  std::vector<Xapian::Query> rare;
};

// Pseudo-relevance feedback after RM3 (Lavrenko and Croft's relevance model
// interpolated with the query): the first pass's best documents, each
// trusted in proportion to its score, vote for their terms by relative
// frequency times idf (a Rocchio centroid of tf-idf vectors, so that the
// filler every report shares does not win). The strongest terms not already
// in the description join it; together they weigh `feedback_weight` of the
// description's own weight. They bridge the vocabulary gap: another report
// of the same failure names it with the words the best matches share. The
// votes come from the short fields that state what failed (title, summary,
// root causes) unless told otherwise: a long narrative also tells its own
// story (hosts, people, the timeline), and those words drift the topic.
Expansion FeedbackQuery(const Xapian::Database& db, const Xapian::MSet& mset,
                        const Description& description,
                        const SimilarityOptions& options) {
  double score_sum = 0;
  int taken = 0;
  for (auto it = mset.begin();
       it != mset.end() && taken < options.feedback_documents; ++it, ++taken) {
    score_sum += it.get_weight();
  }
  if (score_sum <= 0) return {};
  const double docs = std::max<double>(1, db.get_doccount());
  const ContentStemDecider decider;
  // term -> (vote, feedback documents holding it).
  std::map<std::string, std::pair<double, int>> votes;
  // Document frequencies, each looked up once: the feedback documents share
  // many of their words.
  std::unordered_map<std::string, double> frequency;
  const auto df = [&db, &frequency](const std::string& term) {
    auto [it, inserted] = frequency.try_emplace(term, 0);
    if (inserted) it->second = db.get_termfreq(term);
    return it->second;
  };
  taken = 0;
  for (auto it = mset.begin();
       it != mset.end() && taken < options.feedback_documents; ++it, ++taken) {
    // Stem ("Z" + stem) -> wdf in the fields that vote.
    std::map<std::string, double> counts;
    for (auto term = db.termlist_begin(*it); term != db.termlist_end(*it);
         ++term) {
      if (options.feedback_from_short_fields) {
        const std::string stem = ShortFieldStem(*term);
        if (!stem.empty()) counts[absl::StrCat("Z", stem)] += term.get_wdf();
      } else if (decider(*term)) {
        counts[*term] += term.get_wdf();
      }
    }
    std::vector<std::pair<std::string, double>> terms;
    double length = 0;
    for (const auto& [term, wdf] : counts) {
      if (!decider(term)) continue;
      const double holders = df(term);
      // A word no other report uses cannot find another report, and one
      // that many use names no particular failure (and is costly to match).
      // (Shares of a small index say little: 50 documents always pass.)
      if (holders < 2 ||
          holders > std::max(50.0, options.feedback_max_share * docs)) {
        continue;
      }
      terms.emplace_back(term, wdf * Idf(holders, docs));
      length += wdf;
    }
    if (length <= 0) continue;
    const double trust = it.get_weight() / score_sum;
    for (const auto& [term, weight] : terms) {
      auto& [vote, holders] = votes[term];
      vote += trust * weight / length;
      ++holders;
    }
  }
  std::vector<std::pair<double, std::string>> ranked;
  for (const auto& [term, vote_holders] : votes) {
    const auto& [vote, holders] = vote_holders;
    // What one document alone says is its own story, not the failure's.
    if (holders < options.feedback_min_documents) continue;
    if (description.by_key.count(absl::StrCat("w:", term.substr(1)))) continue;
    ranked.emplace_back(vote, term);
  }
  const size_t kept =
      std::min(ranked.size(), static_cast<size_t>(options.feedback_terms));
  std::partial_sort(ranked.begin(), ranked.begin() + kept, ranked.end(),
                    [](const auto& a, const auto& b) {
                      return a.first != b.first ? a.first > b.first
                                                : a.second < b.second;
                    });
  ranked.resize(kept);
  double vote_sum = 0;
  for (const auto& [vote, term] : ranked) vote_sum += vote;
  Expansion expansion;
  for (const auto& [vote, term] : ranked) {
    Xapian::Query word(
        Xapian::Query::OP_SCALE_WEIGHT, Xapian::Query(term),
        options.feedback_weight * description.total_weight * vote / vote_sum);
    if (df(term) <= std::max(50.0, options.feedback_gap_max_share * docs)) {
      expansion.rare.push_back(word);
    }
    expansion.words.push_back(std::move(word));
  }
  return expansion;
}

// Applies the time bound and drops the "more like this" document.
Xapian::Query Restrict(Xapian::Query query, const Description& description,
                       const v1::FindSimilarRequest& request,
                       const std::string& self_term) {
  if (request.has_started_before()) {
    // started_at < started_before; started_at is whole seconds.
    const google::protobuf::Timestamp& before = request.started_before();
    const int64_t last =
        before.nanos() > 0 ? before.seconds() : before.seconds() - 1;
    query = Xapian::Query(
        Xapian::Query::OP_FILTER, query,
        Xapian::Query(Xapian::Query::OP_VALUE_LE, kStartedAtSlot,
                      Xapian::sortable_serialise(static_cast<double>(last))));
  }
  if (description.self) {
    query = Xapian::Query(Xapian::Query::OP_AND_NOT, query,
                          Xapian::Query(self_term));
  }
  return query;
}

struct Candidate {
  Xapian::docid docid = 0;
  double text_weight = 0;
  double rank = 0;
  double score = 0;
  // The description's reason terms it holds (set by Measure).
  std::unordered_set<std::string> terms;
  std::vector<v1::SharedSignature> signatures;
  std::vector<std::string> services;
};

// Whether `terms` hold `term` under `prefix` (a group: any of its forms).
bool Holds(const std::unordered_set<std::string>& terms, const QueryTerm& term,
           absl::string_view prefix) {
  return terms.count(TermOf(term, prefix)) > 0;
}

v1::Verdict VerdictOf(double score, const SimilarityOptions& options) {
  if (score >= options.seen_before_score) return v1::SEEN_BEFORE;
  if (score >= options.related_score) return v1::POSSIBLY_RELATED;
  return v1::NEW;
}

// The time bound and the "more like this" document, applied to every pass.
struct Scope {
  const Xapian::Database& db;
  const Description& description;
  const v1::FindSimilarRequest& request;
  const std::string& self_term;

  Xapian::Query Apply(Xapian::Query query) const {
    return Restrict(std::move(query), description, request, self_term);
  }
};

// CombSUM of the two passes' best-normalised scores: a document the
// expansion lifts must also score on the engineer's own words, which keeps
// topic drift away from the top. The scale stays 0..1, the one the bonuses
// are measured in.
void FusePasses(const Xapian::MSet& first, const Xapian::MSet& expanded,
                double first_share,
                std::map<Xapian::docid, Candidate>& candidates) {
  std::map<Xapian::docid, double> fused;
  const auto add = [&fused](const Xapian::MSet& pass, double share) {
    const double best = pass.empty() ? 0 : pass.begin().get_weight();
    if (best <= 0) return;
    for (auto it = pass.begin(); it != pass.end(); ++it) {
      fused[*it] += share * it.get_weight() / best;
    }
  };
  add(first, first_share);
  add(expanded, 1 - first_share);
  for (const auto& [docid, weight] : fused) {
    Candidate& candidate = candidates[docid];
    candidate.docid = docid;
    candidate.text_weight = weight;
  }
}

// Matches exactly the given documents (ascending docids), weighing nothing:
// a filter that lets the matcher skip from one to the next instead of
// walking every posting list of the query it filters.
//
// On a database of several shards (the index and its recent layers), Xapian
// runs a clone per shard, and init() hands each its shard, whose docids are
// local: shard i of n holds the documents whose docid d has (d - 1) % n ==
// i, as its document (d - 1) / n + 1. A clone knows its shard by the UUID.
class DocumentListSource final : public Xapian::PostingSource {
 public:
  DocumentListSource(std::vector<Xapian::docid> docids,
                     std::vector<std::string> shard_uuids)
      : all_(std::move(docids)), shard_uuids_(std::move(shard_uuids)) {}

  Xapian::doccount get_termfreq_min() const override { return docids_.size(); }
  Xapian::doccount get_termfreq_est() const override { return docids_.size(); }
  Xapian::doccount get_termfreq_max() const override { return docids_.size(); }
  Xapian::PostingSource* clone() const override {
    return new DocumentListSource(all_, shard_uuids_);
  }
  void init(const Xapian::Database& db) override {
    at_ = kBefore;
    const size_t shards = shard_uuids_.size();
    if (shards <= 1) {
      docids_ = all_;
      return;
    }
    docids_.clear();
    const auto shard =
        std::find(shard_uuids_.begin(), shard_uuids_.end(), db.get_uuid());
    if (shard == shard_uuids_.end()) return;  // not one of ours: none
    const size_t index = shard - shard_uuids_.begin();
    for (const Xapian::docid docid : all_) {
      if ((docid - 1) % shards == index) {
        docids_.push_back((docid - 1) / shards + 1);
      }
    }
  }
  void next(double /*min_wt*/) override { at_ = at_ == kBefore ? 0 : at_ + 1; }
  void skip_to(Xapian::docid did, double /*min_wt*/) override {
    const size_t from = at_ == kBefore ? 0 : at_;
    at_ = std::lower_bound(docids_.begin() + from, docids_.end(), did) -
          docids_.begin();
  }
  bool at_end() const override {
    return at_ != kBefore && at_ >= docids_.size();
  }
  Xapian::docid get_docid() const override { return docids_[at_]; }
  std::string get_description() const override {
    return absl::StrCat("DocumentListSource(", all_.size(), " documents)");
  }

 private:
  static constexpr size_t kBefore = static_cast<size_t>(-1);
  const std::vector<Xapian::docid> all_;
  const std::vector<std::string> shard_uuids_;
  // The documents of the shard init() was given, in its docids.
  std::vector<Xapian::docid> docids_;
  size_t at_ = kBefore;
};

// `query` on `db`, matching only the documents of `passes`.
Xapian::Query Within(const Xapian::Database& db, const Xapian::Query& query,
                     std::initializer_list<const Xapian::MSet*> passes) {
  std::vector<Xapian::docid> docids;
  for (const Xapian::MSet* pass : passes) {
    for (auto it = pass->begin(); it != pass->end(); ++it) {
      docids.push_back(*it);
    }
  }
  std::sort(docids.begin(), docids.end());
  docids.erase(std::unique(docids.begin(), docids.end()), docids.end());
  std::vector<std::string> shard_uuids = absl::StrSplit(db.get_uuid(), ':');
  if (shard_uuids.size() > 1 &&
      std::find(shard_uuids.begin(), shard_uuids.end(), "") !=
          shard_uuids.end()) {
    // A shard without a UUID (in-memory): the clones could not tell their
    // shards apart. Unfiltered, the passes score more documents, the same
    // way; only the index and its layers (glass, with UUIDs) are sharded.
    return query;
  }
  // The query owns the source once released.
  return Xapian::Query(
      Xapian::Query::OP_FILTER, query,
      Xapian::Query(
          (new DocumentListSource(std::move(docids), std::move(shard_uuids)))
              ->release()));
}

// The best options.candidates documents for the description's words. The
// common words (IsCommon) match most of the index and weigh little, yet
// walking their posting lists is most of the work of a search over all of
// it: so the other words find the candidates, and all the words score them.
// When the other words' posting lists are long
// (options.headline_above_postings), they look in titles and summaries
// first, where the words that name a failure are, in shorter lists; in all
// text when that finds too few. "More like this" (a whole report's
// distinctive words, not measured with the headline) keeps to all text. At
// 100,000 postmortems the headline cut the search for candidates from
// 13-15 ms of CPU to 3.6 for the same recall@10 of the generated families
// (0.388); at 1,000,000 it halved a whole query's CPU, for recall@10 0.096
// against 0.103 (bench/find_similar_lab, docs/BENCHMARKS.md).
Xapian::MSet FirstPass(Xapian::Enquire& enquire, const Scope& scope,
                       const Xapian::Query& text,
                       const SimilarityOptions& options) {
  const Description& description = scope.description;
  const std::vector<QueryTerm>& terms = description.terms;
  const auto common = [&options](const QueryTerm& term) {
    return IsCommon(term, options);
  };
  const auto all_text = [&]() {
    enquire.set_query(scope.Apply(text));
    return enquire.get_mset(0, options.candidates);
  };
  const auto scored = [&](const Xapian::MSet& found) {
    enquire.set_query(Within(scope.db, scope.Apply(text), {&found}));
    return enquire.get_mset(0, options.candidates);
  };
  if (std::all_of(terms.begin(), terms.end(), common)) return all_text();
  // More found than kept, so that the common words' share of a score
  // rarely decides whether a document is a candidate (at 100,000
  // postmortems, four times as many: recall@10 of the generated families
  // 0.412, against 0.414 with all words and 0.407 with as many; the b7e495a
  // harness in docs/BENCHMARKS.md).
  const int wanted =
      std::max(options.first_pass_candidates, options.candidates);
  const auto enough = [&options](const Xapian::MSet& found) {
    return found.size() >= static_cast<Xapian::doccount>(options.candidates);
  };
  double postings = 0;
  for (const QueryTerm& term : terms) {
    if (!common(term)) postings += term.frequency;
  }
  if (!description.self && postings > options.headline_above_postings) {
    enquire.set_query(scope.Apply(HeadlineQuery(description, options)));
    const Xapian::MSet found = enquire.get_mset(0, wanted);
    if (enough(found)) return scored(found);
  }
  if (std::none_of(terms.begin(), terms.end(), common)) return all_text();
  enquire.set_query(
      scope.Apply(TextQuery(description, options, TermSet::kUncommon)));
  const Xapian::MSet found = enquire.get_mset(0, wanted);
  // Too few: the common words' matches may fill the rest.
  return enough(found) ? scored(found) : all_text();
}

// The documents the description's words find (with feedback, fused with the
// first pass), text_weight set.
void AddTextCandidates(const Xapian::Database& db, const Scope& scope,
                       const SimilarityOptions& options,
                       std::map<Xapian::docid, Candidate>& candidates) {
  const Description& description = scope.description;
  if (description.terms.empty()) return;
  Xapian::Enquire enquire(db);
  enquire.set_weighting_scheme(
      Xapian::BM25Weight(options.k1, 0, 1, options.b, 0.5));
  Xapian::Query text = TextQuery(description, options);
  Xapian::MSet mset = FirstPass(enquire, scope, text, options);
  if (options.feedback_documents > 0 && !mset.empty()) {
    const Expansion expansion = FeedbackQuery(db, mset, description, options);
    if (!expansion.words.empty()) {
      const Xapian::MSet first = mset;  // cheap: MSet is reference-counted
      text = Xapian::Query(
          Xapian::Query::OP_OR, text,
          Xapian::Query(Xapian::Query::OP_OR, expansion.words.begin(),
                        expansion.words.end()));
      Xapian::Query expanded = scope.Apply(text);
      if (options.feedback_rescores_only) {
        // The first pass's candidates, and the documents the rare expansion
        // words alone find best: reports of the same failure that share
        // none of the engineer's words (the point of the expansion).
        Xapian::MSet gap;
        if (!expansion.rare.empty()) {
          Xapian::Enquire by_expansion(db);
          by_expansion.set_weighting_scheme(
              Xapian::BM25Weight(options.k1, 0, 1, options.b, 0.5));
          by_expansion.set_query(scope.Apply(
              Xapian::Query(Xapian::Query::OP_OR, expansion.rare.begin(),
                            expansion.rare.end())));
          gap = by_expansion.get_mset(0, options.candidates);
        }
        expanded = Within(db, expanded, {&first, &gap});
      }
      enquire.set_query(expanded);
      mset = enquire.get_mset(0, options.candidates);
      if (options.feedback_fusion > 0) {
        FusePasses(first, mset, options.feedback_fusion, candidates);
        return;
      }
    }
  }
  for (auto it = mset.begin(); it != mset.end(); ++it) {
    Candidate& candidate = candidates[*it];
    candidate.docid = *it;
    candidate.text_weight = it.get_weight();
  }
}

// Every document sharing an error signature is a candidate, whatever its
// words.
void AddSignatureCandidates(const Xapian::Database& db, const Scope& scope,
                            const SimilarityOptions& options,
                            std::map<Xapian::docid, Candidate>& candidates) {
  const Description& description = scope.description;
  if (description.signatures.empty()) return;
  std::vector<Xapian::Query> signature_terms;
  for (const v1::SharedSignature& signature : description.signatures) {
    signature_terms.emplace_back(
        absl::StrCat(kSignaturePrefix, signature.id()));
  }
  Xapian::Enquire by_signature(db);
  by_signature.set_weighting_scheme(Xapian::BoolWeight());
  by_signature.set_query(scope.Apply(Xapian::Query(
      Xapian::Query::OP_OR, signature_terms.begin(), signature_terms.end())));
  const Xapian::MSet mset = by_signature.get_mset(0, options.candidates);
  for (auto it = mset.begin(); it != mset.end(); ++it) {
    candidates[*it].docid = *it;
  }
}

std::map<Xapian::docid, Candidate> GatherCandidates(
    const Xapian::Database& db, const Scope& scope,
    const SimilarityOptions& options) {
  std::map<Xapian::docid, Candidate> candidates;
  AddTextCandidates(db, scope, options, candidates);
  AddSignatureCandidates(db, scope, options, candidates);
  return candidates;
}

// Which of `candidates` (ascending docids, as the map keeps them) index
// `term`: one walk of its posting list, skipping from candidate to candidate.
std::vector<Xapian::docid> HoldersOf(
    const Xapian::Database& db, const std::string& term,
    const std::map<Xapian::docid, Candidate>& candidates) {
  std::vector<Xapian::docid> holders;
  Xapian::PostingIterator posting = db.postlist_begin(term);
  const Xapian::PostingIterator end = db.postlist_end(term);
  for (const auto& [docid, candidate] : candidates) {
    posting.skip_to(docid);
    if (posting == end) break;
    if (*posting == docid) holders.push_back(docid);
  }
  return holders;
}

// Sets each candidate's shared signatures and services (from the posting
// lists of those few terms) and its rank. Reading every candidate's term
// list instead would cost a hundred decoded term lists a query.
void Rank(const Xapian::Database& db, const Description& description,
          const SimilarityOptions& options,
          std::map<Xapian::docid, Candidate>& candidates) {
  double top_text = 0;
  for (const auto& [docid, candidate] : candidates) {
    top_text = std::max(top_text, candidate.text_weight);
  }
  for (const v1::SharedSignature& signature : description.signatures) {
    const std::string term = absl::StrCat(kSignaturePrefix, signature.id());
    for (Xapian::docid docid : HoldersOf(db, term, candidates)) {
      candidates[docid].signatures.push_back(signature);
    }
  }
  for (const auto& [key, written] : description.services) {
    const std::string term = absl::StrCat(kServicePrefix, key);
    for (Xapian::docid docid : HoldersOf(db, term, candidates)) {
      candidates[docid].services.push_back(written);
    }
  }
  for (auto& [docid, candidate] : candidates) {
    candidate.rank =
        (1 - options.coverage_mix) *
            (top_text > 0 ? candidate.text_weight / top_text : 0) +
        (candidate.signatures.empty() ? 0 : options.signature_bonus) +
        (candidate.services.empty() ? 0 : options.service_bonus);
  }
}

// Finds which of the description's reason terms the candidate holds (one
// walk of its sorted term list, keeping only those: a report holds
// thousands of terms) and sets its calibrated score (for the verdict); with
// options.coverage_mix, adds coverage to its rank.
void Measure(const Xapian::Database& db, const Description& description,
             const SimilarityOptions& options, Candidate& candidate) {
  Xapian::TermIterator held = db.termlist_begin(candidate.docid);
  const Xapian::TermIterator end = db.termlist_end(candidate.docid);
  for (const std::string& wanted : description.reason_terms) {
    held.skip_to(wanted);
    if (held == end) break;
    if (*held == wanted) candidate.terms.insert(wanted);
  }
  // Coverage weighs each term by idf squared: whether a past incident is the
  // same one shows in the description's distinctive words, and a
  // description full of words nobody wrote before is new.
  double covered = 0;
  double distinctive = 0;
  for (const QueryTerm& term : description.terms) {
    if (Holds(candidate.terms, term, "")) {
      covered += Saturate(term.weight) * term.idf;
      distinctive += Saturate(term.weight) * term.idf * term.idf;
    }
  }
  const double query_mass = description.total_mass;
  const double distinctive_mass = description.total_distinctive_mass;
  const double coverage = query_mass > 0 ? covered / query_mass : 0;
  // The square root spreads the useful range (coverage 0.2 .. 0.5) over the
  // scale the thresholds read.
  candidate.score =
      distinctive_mass > 0 ? std::sqrt(distinctive / distinctive_mass) : 0;
  if (!candidate.signatures.empty()) {
    candidate.score = std::max(candidate.score, 0.9);
  }
  if (!candidate.services.empty()) {
    candidate.score = std::min(1.0, candidate.score + 0.05);
  }
  candidate.rank += options.coverage_mix * coverage;
}

// The best `limit` candidates by rank (ties: the older document first),
// measured.
std::vector<const Candidate*> Best(
    const Xapian::Database& db, const Description& description,
    const SimilarityOptions& options,
    std::map<Xapian::docid, Candidate>& candidates, int limit) {
  Rank(db, description, options, candidates);
  // Coverage only moves the ranking when it is mixed in; then every
  // candidate is measured first, else only the ones returned.
  if (options.coverage_mix > 0) {
    for (auto& [docid, candidate] : candidates) {
      Measure(db, description, options, candidate);
    }
  }
  std::vector<Candidate*> ranked;
  for (auto& [docid, candidate] : candidates) ranked.push_back(&candidate);
  std::sort(ranked.begin(), ranked.end(),
            [](const Candidate* a, const Candidate* b) {
              if (a->rank != b->rank) return a->rank > b->rank;
              return a->docid < b->docid;
            });
  if (ranked.size() > static_cast<size_t>(limit)) ranked.resize(limit);
  if (options.coverage_mix <= 0) {
    for (Candidate* candidate : ranked) {
      Measure(db, description, options, *candidate);
    }
  }
  return {ranked.begin(), ranked.end()};
}

// Fills `incident` with the candidate's summary, score, verdict and reasons:
// the description's terms it holds, per field, most important first.
absl::Status Explain(const Xapian::Database& db, const Candidate& candidate,
                     const std::vector<const QueryTerm*>& by_importance,
                     int64_t now_unix_seconds, const SimilarityOptions& options,
                     v1::SimilarIncident& incident) {
  v1::IncidentSummary summary;
  if (!summary.ParseFromString(db.get_document(candidate.docid).get_data())) {
    return absl::InternalError(absl::StrCat("index document ", candidate.docid,
                                            " has unreadable data"));
  }
  MarkOverdue(summary, now_unix_seconds);
  int open = 0;
  int overdue = 0;
  for (const v1::ActionItemSummary& item : summary.action_items()) {
    open += item.open() ? 1 : 0;
    overdue += item.overdue() ? 1 : 0;
  }
  *incident.mutable_incident() = std::move(summary);
  incident.set_score(candidate.score);
  incident.set_verdict(VerdictOf(candidate.score, options));
  for (const Field& field : kFields) {
    v1::FieldMatch match;
    for (const QueryTerm* term : by_importance) {
      if (Holds(candidate.terms, *term, field.prefix)) {
        match.add_terms(term->surface);
      }
    }
    if (match.terms_size() > 0) {
      match.set_field(field.name);
      *incident.add_matched_terms() = std::move(match);
    }
  }
  for (const v1::SharedSignature& signature : candidate.signatures) {
    *incident.add_shared_signatures() = signature;
  }
  for (const std::string& service : candidate.services) {
    incident.add_shared_services(service);
  }
  incident.set_open_action_items(open);
  incident.set_overdue_action_items(overdue);
  return absl::OkStatus();
}

absl::StatusOr<v1::FindSimilarResponse> Run(
    const Xapian::Database& db, const v1::FindSimilarRequest& request,
    int64_t now_unix_seconds, const SimilarityOptions& options) {
  const int limit = request.limit() <= 0 ? kDefaultLimit
                                         : std::min(request.limit(), kMaxLimit);

  Description description;
  std::string self_term;
  if (!request.postmortem_id().empty()) {
    self_term = IdTerm(request.postmortem_id());
    Xapian::PostingIterator posting = db.postlist_begin(self_term);
    if (posting == db.postlist_end(self_term)) {
      return absl::NotFoundError(absl::StrCat(
          "postmortem ", request.postmortem_id(), " is not in the index"));
    }
    description = DescribeDocument(db, *posting, options);
  } else {
    description = DescribeRequest(request, options);
  }
  Weigh(db, description);
  KeepStrongest(description, options.max_query_terms);
  ListReasonTerms(description);

  v1::FindSimilarResponse response;
  for (const v1::SharedSignature& signature : description.signatures) {
    if (!signature.normalized().empty()) {
      *response.add_query_signatures() = signature;
    }
  }

  const Scope scope{db, description, request, self_term};
  std::map<Xapian::docid, Candidate> candidates =
      GatherCandidates(db, scope, options);

  // Most important query terms first in the reasons.
  std::vector<const QueryTerm*> by_importance;
  for (const QueryTerm& term : description.terms) {
    by_importance.push_back(&term);
  }
  std::stable_sort(by_importance.begin(), by_importance.end(),
                   [](const QueryTerm* a, const QueryTerm* b) {
                     return Saturate(a->weight) * a->idf >
                            Saturate(b->weight) * b->idf;
                   });

  v1::Verdict overall = v1::NEW;
  for (const Candidate* candidate :
       Best(db, description, options, candidates, limit)) {
    v1::SimilarIncident* incident = response.add_incidents();
    DEJA_RETURN_IF_ERROR(Explain(db, *candidate, by_importance,
                                 now_unix_seconds, options, *incident));
    if (incident->verdict() == v1::SEEN_BEFORE ||
        (incident->verdict() == v1::POSSIBLY_RELATED && overall == v1::NEW)) {
      overall = incident->verdict();
    }
  }
  response.set_verdict(overall);
  return response;
}

}  // namespace

SimilarityOptions LinkingOptions() {
  SimilarityOptions options;
  options.feedback_documents = 0;
  options.title_summary_weight = 0;
  options.max_query_terms = 32;
  options.candidates = 30;
  options.first_pass_candidates = 120;
  options.headline_above_postings = std::numeric_limits<int>::max();
  return options;
}

absl::StatusOr<v1::FindSimilarResponse> RunFindSimilar(
    const Xapian::Database& db, const v1::FindSimilarRequest& request,
    int64_t now_unix_seconds, const SimilarityOptions& options) {
  try {
    return Run(db, request, now_unix_seconds, options);
  } catch (const Xapian::DatabaseModifiedError& e) {
    return absl::AbortedError(
        absl::StrCat("index changed during the query: ", e.get_msg()));
  } catch (const Xapian::Error& e) {
    return absl::UnavailableError(
        absl::StrCat("index error: ", e.get_description()));
  }
}

}  // namespace deja::index
