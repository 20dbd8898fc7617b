#ifndef DEJA_INDEXER_FACETS_H_
#define DEJA_INDEXER_FACETS_H_

// Facet counts for search results. The document builder stores each
// postmortem's facet values in the value slot kFacetsSlot of index_schema.h
// (a facet may have several values: services, tags, causes); a FacetCounter
// attached to the query's Enquire counts them over every match it sees
// (every match, or a sample when the query checks only some: search.h).
// Values are lowercased as the query language writes them ("orders-db",
// "sev2", "config_change", "2024"), so a facet value can be searched for
// as it is shown.

#include <xapian.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <unordered_map>
#include <vector>

#include "deja/v1/postmortem.pb.h"
#include "deja/v1/search_service.pb.h"

namespace deja::index {

// Adds the facet values of `postmortem` to `document` (kFacetsSlot).
void AddFacetValues(const v1::Postmortem& postmortem,
                    Xapian::Document& document);

// The values of facet number `facet` (SearchResponse.facets order: 0
// service, 1 severity, 2 cause, 3 team, 4 tag, 5 year) in a kFacetsSlot
// value (the inverse of its encoding); an empty or malformed value yields
// what could be read.
std::vector<std::string> DecodeFacetValues(const std::string& slot_value,
                                           size_t facet);

// Counts, per facet, the documents that hold each value. Each document
// counts once per value. Not thread-safe: one per query.
//
// The matcher decides which matches it shows the counter: every one, or,
// ranking by relevance past a bound, only those that could still reach the
// page. Sorted by date it shows every match; so past the first `count_all`
// documents the counter reads only every `stride`-th, which stands for
// `stride` documents: a sample spread over all of them.
class FacetCounter : public Xapian::MatchSpy {
 public:
  // The facets, in SearchResponse.facets order.
  static constexpr size_t kFacetFields = 6;

  // Counts every document shown.
  FacetCounter() = default;
  // `stride` 0 is read as 1.
  FacetCounter(Xapian::doccount count_all, Xapian::doccount stride);

  void operator()(const Xapian::Document& document, double weight) override;
  Xapian::MatchSpy* clone() const override;
  std::string name() const override;

  // The documents the matcher showed this counter.
  Xapian::doccount documents_shown() const { return documents_shown_; }
  // Whether some of them were skipped (counted through another).
  bool sampled() const { return documents_shown_ > count_all_ && stride_ > 1; }

  // "service", "severity", "cause", "team", "tag", "year" in that order,
  // each with at most `max_values` counts, most frequent first (ties by
  // value). When the query has more `matches` than the documents counted
  // stand for, each count is scaled by the ratio (what Xapian advises for
  // its ValueCountMatchSpy), and kept between the count seen and `matches`.
  std::vector<v1::Facet> Facets(size_t max_values,
                                Xapian::doccount matches) const;

 private:
  Xapian::doccount count_all_ = std::numeric_limits<Xapian::doccount>::max();
  Xapian::doccount stride_ = 1;
  Xapian::doccount documents_shown_ = 0;
  // The documents the counted ones stand for.
  int64_t represented_ = 0;
  // Per facet (kFacetFields order): value -> documents.
  std::array<std::unordered_map<std::string, int64_t>, kFacetFields> counts_;
  // The lookup key, reused so that a value already counted costs no
  // allocation.
  std::string key_;
};

}  // namespace deja::index

#endif  // DEJA_INDEXER_FACETS_H_
