#ifndef DEJA_INDEXER_FACETS_H_
#define DEJA_INDEXER_FACETS_H_

// Facet counts for search results. The document builder stores each
// postmortem's facet values in the facet value slots of index_schema.h (a
// slot may hold several values: services, tags, causes); a FacetCounter
// attached to the query's Enquire counts them over every match it sees.
// Values are lowercased as the query language writes them ("orders-db",
// "sev2", "config_change", "2024"), so a facet value can be searched for
// as it is shown.

#include <xapian.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "deja/v1/postmortem.pb.h"
#include "deja/v1/search_service.pb.h"

namespace deja::index {

// Adds the facet value slots of `postmortem` to `document`.
void AddFacetValues(const v1::Postmortem& postmortem,
                    Xapian::Document& document);

// The values a facet slot holds (the inverse of the slot encoding); an
// empty or malformed slot yields what could be read.
std::vector<std::string> DecodeFacetValues(const std::string& slot_value);

// Counts, per facet, the documents that hold each value. Each document
// counts once per value. Not thread-safe: one per query.
class FacetCounter : public Xapian::MatchSpy {
 public:
  void operator()(const Xapian::Document& document, double weight) override;
  Xapian::MatchSpy* clone() const override;
  std::string name() const override;

  // "service", "severity", "cause", "team", "tag", "year" in that order,
  // each with at most `max_values` counts, most frequent first (ties by
  // value).
  std::vector<v1::Facet> Facets(size_t max_values) const;

 private:
  // slot -> value -> documents.
  std::map<unsigned, std::map<std::string, int64_t>> counts_;
};

}  // namespace deja::index

#endif  // DEJA_INDEXER_FACETS_H_
