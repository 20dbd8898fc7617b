#ifndef DEJA_INDEXER_SYNONYMS_H_
#define DEJA_INDEXER_SYNONYMS_H_

// Operations jargon that names one thing several ways ("oom", "out of
// memory", "oomkilled"), applied at query time: a query word or phrase found
// in the table becomes an OP_SYNONYM of every way of writing it, so the index
// needs no rebuild when the table grows. Pure and thread-safe.

#include <xapian.h>

#include <cstddef>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace deja::index {

// The table: each group lists lowercase words or space-separated phrases
// that mean the same in an incident report.
const std::vector<std::vector<std::string>>& SynonymGroups();

// The other members of the groups that hold `phrase` (lowercase, words
// separated by single spaces); empty when it is in none.
std::vector<std::string> SynonymsOf(absl::string_view phrase);

// A run of query words that is a table entry.
struct SynonymSpan {
  size_t first_word = 0;
  size_t word_count = 0;
  // Index into SynonymGroups().
  size_t group = 0;
};

// The table entries in `words` (lowercase, in query order), longest match
// first, not overlapping.
std::vector<SynonymSpan> FindSynonymSpans(
    const std::vector<std::string>& words);

// One query for every way of writing group `group`: single words as their
// stemmed "Z" + prefix term and unstemmed term, phrases as OP_PHRASE of
// unstemmed `prefix` terms; joined with OP_SYNONYM so that the group counts
// as one term.
Xapian::Query SynonymQuery(size_t group, const std::string& prefix,
                           const Xapian::Stem& stemmer);

}  // namespace deja::index

#endif  // DEJA_INDEXER_SYNONYMS_H_
