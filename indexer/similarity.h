#ifndef DEJA_INDEXER_SIMILARITY_H_
#define DEJA_INDEXER_SIMILARITY_H_

// "Have we seen this before?": ranks the indexed postmortems against a
// description of a new incident (symptoms, pasted log lines, services) or
// against one indexed postmortem ("more like this"), and explains each
// match. Pure over a Xapian database the caller owns; thread-safe for
// distinct databases (Xapian handles are not shared between threads).

#include <xapian.h>

#include <cstdint>

#include "absl/status/statusor.h"
#include "deja/v1/search_service.pb.h"

namespace deja::index {

// The method's knobs. The defaults are the tuned method (measured with
// bench/similarity-lab); the lab varies them.
struct SimilarityOptions {
  // BM25 over the field-weighted unprefixed terms.
  double k1 = 1.2;
  double b = 0.75;
  // Weight of a word of a pasted log line (its normalised template) and of
  // a word of a service name, relative to a word of the symptoms.
  double log_word_weight = 0.5;
  double service_word_weight = 1.0;
  // Adjacent symptom words found next to each other in a document add this
  // share of their weight again (phrase-ish proximity); 0 turns it off.
  double proximity_weight = 0.0;
  // The description's words are also matched against the title and summary
  // alone at this share of their weight: the short fields that state what
  // failed; 0 turns it off.
  double title_summary_weight = 0.3;
  // The ranking mixes BM25 with the share of the description's weight a
  // document covers (distinct words matter more than one word repeated):
  // rank = (1 - coverage_mix) * bm25 / best bm25 + coverage_mix * coverage.
  double coverage_mix = 0.0;
  // Expand jargon through the synonym table (synonyms.h).
  bool synonyms = true;
  // Pseudo-relevance feedback after RM3: the best `feedback_documents`
  // results of the first pass, trusted by their scores, give up to
  // `feedback_terms` expansion terms (each held by at least
  // `feedback_min_documents` of them, and by at most `feedback_max_share`
  // of the index or 50 documents) that together weigh `feedback_weight` of the
  // description; 0 documents turns it off.
  int feedback_documents = 10;
  int feedback_terms = 30;
  int feedback_min_documents = 2;
  double feedback_weight = 0.3;
  double feedback_max_share = 0.1;
  // The feedback documents vote with the words of their title, summary and
  // root causes only; false: with all their text.
  bool feedback_from_short_fields = true;
  // The ranking fuses the two passes' best-normalised scores, this share to
  // the first (the engineer's own words); 0 ranks by the expanded pass.
  double feedback_fusion = 0.7;
  // The expanded pass scores only the first pass's candidates and the best
  // matches of the rare expansion words alone (feedback_gap_max_share)
  // (true), or searches the whole index with the description and the
  // expansion again (false). Searching again cost about two thirds of a
  // query at 100,000 postmortems.
  bool feedback_rescores_only = true;
  // The expansion words that search for reports sharing none of the
  // engineer's words (with feedback_rescores_only): those held by at most
  // this share of the index (or 50 documents). Rarer words name a failure
  // more precisely and have shorter posting lists: at 0.01 against all
  // expansion words, 0.79x the CPU at 100,000 postmortems and 0.69x at
  // 1,000,000, for the same recall@10 of the generated families (0.390
  // against 0.388; 0.096 both) and the same evaluation figures
  // (bench/find_similar_lab, docs/BENCHMARKS.md); 1: every expansion word.
  double feedback_gap_max_share = 0.01;
  // Ranking bonus (in units of the text score's 0..1 scale) for sharing an
  // error signature / a service with the request.
  double signature_bonus = 1.0;
  double service_bonus = 0.1;
  // Candidates considered before the final ranking.
  int candidates = 100;
  // Words held by more than this share of the documents find no candidates
  // (the others do) but score the ones found; 1 turns it off. Classic BM25
  // gives them no weight at all (idf log((N - n + 0.5) / (n + 0.5)) <= 0);
  // walking their posting lists was half of a query's work at 100,000
  // postmortems.
  double common_word_share = 0.5;
  // When the posting lists of the description's uncommon words over all
  // text hold more than this many postings, those words find the first
  // pass's candidates in titles and summaries (the headline field), and in
  // all text only when that finds fewer than `candidates`; otherwise, and
  // for "more like this", in all text, which is then cheap. INT_MAX: always
  // in all text.
  int headline_above_postings = 20000;
  // How many candidates the uncommon words find (at least `candidates`)
  // before all the words score them and keep the best `candidates`.
  int first_pass_candidates = 400;
  // The description's strongest terms (saturated weight times idf) that the
  // query and the reasons use; bounds the work of a long description.
  int max_query_terms = 256;
  // Verdict thresholds on the calibrated score.
  double seen_before_score = 0.7;
  double related_score = 0.44;
};

// The options for linking a postmortem to its earlier occurrences ("more
// like this" on every indexed postmortem): a whole write-up describes
// itself well, so pseudo-relevance feedback and the title and summary
// boosts add little to it, and its 32 strongest terms find its repeats.
// About a twentieth of the default's work, which matters because the
// indexer links every postmortem it indexes (bench/linking-lab).
SimilarityOptions LinkingOptions();

// Runs `request` (validated by the service) against `db`; `now` decides
// which open action items are overdue. Errors: NOT_FOUND for an unknown
// postmortem_id; ABORTED when the index changed under the query (reopen and
// retry); UNAVAILABLE for other Xapian errors. Never throws.
absl::StatusOr<v1::FindSimilarResponse> RunFindSimilar(
    const Xapian::Database& db, const v1::FindSimilarRequest& request,
    int64_t now_unix_seconds, const SimilarityOptions& options = {});

}  // namespace deja::index

#endif  // DEJA_INDEXER_SIMILARITY_H_
