#ifndef DEJA_CORE_POSTMORTEM_SEARCHER_H_
#define DEJA_CORE_POSTMORTEM_SEARCHER_H_

// The read side of the search index, as the services see it. The Xapian
// implementation is indexer/xapian_searcher.h; tests use
// tests/testing/fake_postmortem_searcher.h.
//
// Requests arrive validated by the service (core/search_validation.h).
// Errors: INVALID_ARGUMENT for a query that cannot be read, NOT_FOUND for an
// unknown FindSimilarRequest.postmortem_id, UNAVAILABLE when the index cannot
// be opened, DEADLINE_EXCEEDED from WaitUntilSearchable. Thread-safe.

#include <cstdint>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "deja/v1/search_service.pb.h"

namespace deja {

class PostmortemSearcher {
 public:
  virtual ~PostmortemSearcher() = default;

  // `now` decides which open action items are overdue.
  virtual absl::StatusOr<v1::SearchResponse> Search(
      const v1::SearchRequest& request, absl::Time now) = 0;

  virtual absl::StatusOr<v1::FindSimilarResponse> FindSimilar(
      const v1::FindSimilarRequest& request, absl::Time now) = 0;

  // OK once the index holds `postmortem_id` at `version` or newer (for a
  // deleted postmortem pass version 0: OK once it is gone);
  // DEADLINE_EXCEEDED when `deadline` passes first.
  virtual absl::Status WaitUntilSearchable(absl::string_view postmortem_id,
                                           int64_t version,
                                           absl::Time deadline) = 0;

  // Postmortems in the index.
  virtual absl::StatusOr<int64_t> DocumentCount() = 0;
};

}  // namespace deja

#endif  // DEJA_CORE_POSTMORTEM_SEARCHER_H_
