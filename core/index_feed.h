#ifndef DEJA_CORE_INDEX_FEED_H_
#define DEJA_CORE_INDEX_FEED_H_

// The indexer's view of PostgreSQL: the index_outbox queue, a wake-up when it
// grows, and a full scan for rebuilds. The PostgreSQL implementation is
// store/pg_index_feed.h; tests use tests/testing/fake_index_feed.h.
//
// The cycle: Claim() locks a batch of outbox rows (FOR UPDATE SKIP LOCKED, so
// a second indexer never takes the same rows), the indexer applies the
// changes to Xapian and commits there, then OutboxBatch::Complete() deletes
// the rows. A crash anywhere before Complete() leaves the rows in place, and
// the next Claim() hands them out again: applying a change twice is harmless.
//
// Errors are absl::Status with gRPC's codes (UNAVAILABLE when the database
// cannot be reached). Each method is thread-safe; one OutboxBatch is used by
// one thread.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "deja/v1/postmortem.pb.h"

namespace deja {

// What the index must do for one postmortem. Several outbox rows for the
// same postmortem in one batch become one change.
struct IndexChange {
  std::string postmortem_id;
  // The newest version the outbox names for it.
  int64_t version = 0;
  // True when the postmortem is deleted (retracted) or gone: remove it.
  bool deleted = false;
  // The postmortem as it is now (its version may be newer than `version`);
  // unset when deleted.
  v1::Postmortem postmortem;
};

// A claimed batch. Its rows stay locked until Complete() or destruction
// (which releases them for the next Claim without deleting them).
class OutboxBatch {
 public:
  virtual ~OutboxBatch() = default;
  virtual const std::vector<IndexChange>& changes() const = 0;
  // Outbox rows behind changes() (at least changes().size()).
  virtual int64_t row_count() const = 0;
  // Deletes the claimed rows. Call only after the index has committed them.
  virtual absl::Status Complete() = 0;
};

struct OutboxStats {
  // Rows waiting (queue depth).
  int64_t pending = 0;
  // now - enqueued_at of the oldest waiting row; zero when none wait.
  absl::Duration oldest_age = absl::ZeroDuration();
};

enum class WaitOutcome { kWoken, kTimedOut };

class IndexFeed {
 public:
  virtual ~IndexFeed() = default;

  // Claims up to `max_rows` waiting outbox rows, oldest first. An empty batch
  // (no changes) when nothing waits or every waiting row is claimed by
  // another indexer.
  virtual absl::StatusOr<std::unique_ptr<OutboxBatch>> Claim(int max_rows) = 0;

  // Returns kWoken when new outbox rows may have arrived (NOTIFY deja_index,
  // or a wait that could not listen the whole time), kTimedOut when
  // `timeout` passed quietly, whichever is first. Spurious kWoken is allowed;
  // a missed wake-up is not: the caller claims after every kWoken, and how
  // long the call took says nothing (a woken thread may be scheduled late).
  virtual absl::StatusOr<WaitOutcome> WaitForWork(absl::Duration timeout) = 0;

  virtual absl::StatusOr<OutboxStats> Stats() = 0;

  // Calls `visit` with every live (not deleted) postmortem, from one
  // consistent snapshot, in no particular order; stops at the first error
  // `visit` returns and returns it.
  virtual absl::Status ForEachPostmortem(
      const std::function<absl::Status(const v1::Postmortem&)>& visit) = 0;
};

}  // namespace deja

#endif  // DEJA_CORE_INDEX_FEED_H_
