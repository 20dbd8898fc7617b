#ifndef DEJA_INDEXER_SEARCH_H_
#define DEJA_INDEXER_SEARCH_H_

// SearchService.Search over a Xapian database: the query language of
// SearchRequest.query (protos/deja/v1/search_service.proto), the structured
// filters, both sorts, paging, facet counts over every match, snippets and
// "did you mean". Pure over a database the caller owns; thread-safe for
// distinct databases (Xapian handles are not shared between threads).

#include <xapian.h>

#include <cstdint>

#include "absl/status/statusor.h"
#include "deja/v1/search_service.pb.h"

namespace deja::index {

// Runs `request` (validated by the service) against `db`; `now` decides
// which open action items are overdue. Errors: INVALID_ARGUMENT
// "query: ..." for a query that cannot be read and "page_token: ..." for a
// token no response gave; ABORTED when the index changed under the query
// (reopen and retry); UNAVAILABLE for other Xapian errors. Never throws.
absl::StatusOr<v1::SearchResponse> RunSearch(const Xapian::Database& db,
                                             const v1::SearchRequest& request,
                                             int64_t now_unix_seconds);

}  // namespace deja::index

#endif  // DEJA_INDEXER_SEARCH_H_
