#ifndef DEJA_INDEXER_SYNONYM_TABLE_H_
#define DEJA_INDEXER_SYNONYM_TABLE_H_

// The jargon table of synonyms.h, stored in the index for Search: the
// QueryParser's FLAG_AUTO_SYNONYMS and FLAG_AUTO_MULTIWORD_SYNONYMS read the
// database's synonym table, so "oom" in a people's query also finds
// "oomkilled". FindSimilar reads the groups' own terms instead (synonyms.h).

#include <xapian.h>

namespace deja::index {

// Replaces the synonym table of `db` with the jargon table. Keys are every
// member (single words also in their stemmed "Z" form, as the parser looks
// them up); values are the group's single-word members, since Xapian 1.4
// reads a value as one term. Does not commit.
void InstallSynonyms(Xapian::WritableDatabase& db);

}  // namespace deja::index

#endif  // DEJA_INDEXER_SYNONYM_TABLE_H_
