#ifndef DEJA_CORE_POSTMORTEM_STORE_H_
#define DEJA_CORE_POSTMORTEM_STORE_H_

// The system of record for postmortems, as the services see it. The
// PostgreSQL implementation lives in store/ (OpenPgStore); tests use fakes
// from tests/testing/.
//
// Every method is thread-safe. Errors come back as absl::Status with gRPC's
// codes: NOT_FOUND for an unknown or deleted id, ABORTED for a stale
// expected_version, FAILED_PRECONDITION for a request_id reused with other
// content, UNAVAILABLE when the database cannot be reached,
// DEADLINE_EXCEEDED when `deadline` passes first. A failed call writes
// nothing.

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "deja/v1/postmortem.pb.h"
#include "deja/v1/postmortem_service.pb.h"

namespace deja {

struct SubmitResult {
  v1::Postmortem postmortem;
  // True when request_id was seen before: nothing was written, and
  // `postmortem` is the one that request created, as it is now (a retry after
  // an update sees the current version, not the version 1 it first got).
  bool replayed = false;
};

struct ListResult {
  std::vector<v1::Postmortem> postmortems;
  std::string next_page_token;
};

class PostmortemStore {
 public:
  virtual ~PostmortemStore() = default;

  // Stores `postmortem` (already validated) as version 1, assigning its id,
  // action item ids and created/updated times. A request_id seen before with
  // the same content replays (SubmitResult::replayed); with other content, or
  // when its postmortem was deleted since, it is FAILED_PRECONDITION. An empty
  // request_id disables deduplication.
  virtual absl::StatusOr<SubmitResult> Submit(const v1::Postmortem& postmortem,
                                              absl::string_view request_id,
                                              absl::Time deadline) = 0;

  // Several submits in one transaction (bulk import), with one durable
  // commit instead of one each: one that fails (a request_id reused for
  // other content, say, or a row the database refuses) is undone alone and
  // reported in its slot, and the others are committed together.
  // Results come in the order of `items`. An error for the whole call means
  // nothing was stored. The default runs Submit once per item.
  struct SubmitItem {
    const v1::Postmortem* postmortem;  // not owned
    std::string request_id;
  };
  virtual absl::StatusOr<std::vector<absl::StatusOr<SubmitResult>>> SubmitMany(
      const std::vector<SubmitItem>& items, absl::Time deadline) {
    std::vector<absl::StatusOr<SubmitResult>> results;
    results.reserve(items.size());
    for (const SubmitItem& item : items) {
      results.push_back(Submit(*item.postmortem, item.request_id, deadline));
    }
    return results;
  }

  virtual absl::StatusOr<v1::Postmortem> Get(absl::string_view id,
                                             absl::Time deadline) = 0;

  // `request` is already validated (page_size in 1..100 or 0).
  virtual absl::StatusOr<ListResult> List(
      const v1::ListPostmortemsRequest& request, absl::Time deadline) = 0;

  // Replaces the postmortem named by postmortem.id when its current version is
  // expected_version; returns the stored result (version + 1). Action items
  // whose id matches an existing one keep their id and history.
  virtual absl::StatusOr<v1::Postmortem> Update(
      const v1::Postmortem& postmortem, int64_t expected_version,
      absl::Time deadline) = 0;

  // Applies the set fields of `request` and records one history entry per
  // changed field. Bumps the postmortem's version.
  virtual absl::StatusOr<v1::ActionItem> UpdateActionItem(
      const v1::UpdateActionItemRequest& request, absl::Time deadline) = 0;

  // Retracts the postmortem; expected_version 0 means any version.
  virtual absl::Status Delete(absl::string_view id, int64_t expected_version,
                              absl::Time deadline) = 0;
};

}  // namespace deja

#endif  // DEJA_CORE_POSTMORTEM_STORE_H_
