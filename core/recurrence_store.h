#ifndef DEJA_CORE_RECURRENCE_STORE_H_
#define DEJA_CORE_RECURRENCE_STORE_H_

// Recurrence links ("this incident is another one of that one") as the
// indexer and RecurrenceService see them. The PostgreSQL implementation is
// store/pg_recurrence_store.h; the table is recurrence_links
// (schema/0003_recurrence_and_stats.sql).
//
// Every method is thread-safe. Errors: NOT_FOUND for an unknown link or
// postmortem, INVALID_ARGUMENT for a malformed id, UNAVAILABLE when the
// database cannot be reached. A failed call writes nothing.

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "deja/v1/recurrence_service.pb.h"

namespace deja {

// One pair the indexer found alike: `later_id` repeats `earlier_id` (by
// started_at).
struct SuggestedLink {
  std::string later_id;
  std::string earlier_id;
  double score = 0;  // 0..1
  std::vector<std::string> reasons;
};

class RecurrenceStore {
 public:
  virtual ~RecurrenceStore() = default;

  // What indexing `postmortem_id` found: every link in `links` (each has
  // `postmortem_id` on one side) is added as AUTO / SUGGESTED, or has its
  // score and reasons refreshed; CONFIRMED and REJECTED links keep their
  // state, and a REJECTED one is never brought back. SUGGESTED AUTO links
  // with `postmortem_id` as the later side that are not in `links` are
  // removed (its latest indexing no longer finds them); links to it as the
  // earlier side stay, since they come from the later incidents' own
  // matches. Links to a postmortem that no longer exists are skipped.
  // Idempotent.
  virtual absl::Status RecordSuggestions(
      const std::string& postmortem_id,
      const std::vector<SuggestedLink>& links) = 0;

  virtual absl::StatusOr<v1::ListRecurrencesResponse> List(
      const v1::ListRecurrencesRequest& request) = 0;

  // Sets the link's state to CONFIRMED or REJECTED, with who and why.
  virtual absl::StatusOr<v1::RecurrenceLink> Decide(
      const v1::DecideRecurrenceRequest& request,
      v1::RecurrenceLink::State state) = 0;
};

}  // namespace deja

#endif  // DEJA_CORE_RECURRENCE_STORE_H_
