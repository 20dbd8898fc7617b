#include "indexer/synonym_table.h"

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "indexer/synonyms.h"

namespace deja::index {

void InstallSynonyms(Xapian::WritableDatabase& db) {
  const Xapian::Stem stemmer("english");
  std::vector<std::string> old_keys;
  for (Xapian::TermIterator key = db.synonym_keys_begin();
       key != db.synonym_keys_end(); ++key) {
    old_keys.push_back(*key);
  }
  for (const std::string& key : old_keys) db.clear_synonyms(key);

  for (const std::vector<std::string>& group : SynonymGroups()) {
    for (const std::string& key : group) {
      const bool single_word = !absl::StrContains(key, ' ');
      for (const std::string& value : group) {
        if (value == key || absl::StrContains(value, ' ')) continue;
        db.add_synonym(key, value);
        if (single_word) db.add_synonym(absl::StrCat("Z", stemmer(key)), value);
      }
    }
  }
}

}  // namespace deja::index
