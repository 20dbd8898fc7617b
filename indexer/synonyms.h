#ifndef DEJA_INDEXER_SYNONYMS_H_
#define DEJA_INDEXER_SYNONYMS_H_

// Operations jargon that names one thing several ways ("oom", "out of
// memory", "oomkilled"). The index holds each group as one term per field,
// counting every form of it written there, so that FindSimilar matches a
// group with one posting list instead of a synonym query of words and
// phrases (which read positions). The table is part of the index format:
// IndexFormatVersion() changes with it, and an index built with another
// table is rebuilt on start. Pure and thread-safe.

#include <xapian.h>

#include <cstddef>
#include <cstdint>
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

// The term of group `group` in the field with `prefix` ("" for all text):
// "Z" + prefix + "#" + the group's first entry, spaces as '_' ("Z#oom",
// "ZS#disk_full"). No stem starts with '#'.
std::string SynonymGroupTerm(size_t group, absl::string_view prefix);

// A free-text field as the document builder indexes it.
struct IndexedField {
  std::string prefix;
  // wdf per occurrence of a word.
  int weight = 1;
  // Also indexed without a prefix (the all-text terms).
  bool in_all_text = true;
};

// Adds the group terms of `document`, whose free text is indexed already
// ("Z" + prefix + stem, and prefix + word with positions, for each of
// `fields`): for each field and group, the summed wdf of the group's single
// words (by stem) plus the field's weight for each occurrence of one of its
// phrases; the all-text term sums the fields that are in all text.
void AddSynonymGroupTerms(const std::vector<IndexedField>& fields,
                          Xapian::Document& document);

// A fingerprint of the table (FNV-1a of its entries), part of the index
// format.
uint64_t SynonymTableFingerprint();

}  // namespace deja::index

#endif  // DEJA_INDEXER_SYNONYMS_H_
