#ifndef DEJA_INDEXER_SEARCH_H_
#define DEJA_INDEXER_SEARCH_H_

// SearchService.Search over a Xapian database: the query language of
// SearchRequest.query (protos/deja/v1/search_service.proto), the structured
// filters, both sorts, paging, match and facet counts, snippets and "did you
// mean". Pure over a database the caller owns; thread-safe for distinct
// databases (Xapian handles are not shared between threads).

#include <xapian.h>

#include <cstdint>

#include "absl/status/statusor.h"
#include "deja/v1/search_service.pb.h"

namespace deja::index {

// Matches checked per query (at least to the end of the page): up to this
// many, total_matches and the facet counts are exact; beyond it they are
// estimated from the matches checked (SearchResponse.counts_estimated).
// Checking every match made a search's cost grow with the index; reading
// the facet values of 5,000 matches instead of 1,000 cost about 0.7 ms more
// CPU per search at 30,000 postmortems, for estimates no one needs finer.
inline constexpr Xapian::doccount kExactCountBound = 1000;

struct SearchOptions {
  // Tests set a small bound rather than index thousands of documents.
  Xapian::doccount exact_count_bound = kExactCountBound;
};

// Runs `request` (validated by the service) against `db`; `now` decides
// which open action items are overdue. Errors: INVALID_ARGUMENT
// "query: ..." for a query that cannot be read and "page_token: ..." for a
// token no response gave; ABORTED when the index changed under the query
// (reopen and retry); UNAVAILABLE for other Xapian errors. Never throws.
absl::StatusOr<v1::SearchResponse> RunSearch(
    const Xapian::Database& db, const v1::SearchRequest& request,
    int64_t now_unix_seconds, const SearchOptions& options = SearchOptions());

}  // namespace deja::index

#endif  // DEJA_INDEXER_SEARCH_H_
