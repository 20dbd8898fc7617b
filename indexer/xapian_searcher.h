#ifndef DEJA_INDEXER_XAPIAN_SEARCHER_H_
#define DEJA_INDEXER_XAPIAN_SEARCHER_H_

// The Xapian implementation of PostmortemSearcher: read-only databases (one
// per concurrent query, pooled), reopened before each query so that commits
// and rebuild swaps (index_directory.h) are seen at once, together with the
// recent layers the index does not hold yet (recent_layers.h); a query that
// meets DatabaseModifiedError is retried.

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "core/postmortem_searcher.h"

namespace deja {

struct XapianSearcherOptions {
  // The directory IndexSync writes (it holds `current`).
  std::string index_dir;
};

// Succeeds even before the index exists; queries answer UNAVAILABLE until
// the indexer has created it.
absl::StatusOr<std::unique_ptr<PostmortemSearcher>> OpenXapianSearcher(
    const XapianSearcherOptions& options);

}  // namespace deja

#endif  // DEJA_INDEXER_XAPIAN_SEARCHER_H_
