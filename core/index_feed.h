#ifndef DEJA_CORE_INDEX_FEED_H_
#define DEJA_CORE_INDEX_FEED_H_

// The indexer's view of PostgreSQL: the index_outbox queue, a wake-up when it
// grows, the link_outbox queue behind it, and a full scan for rebuilds. The
// PostgreSQL implementation is store/pg_index_feed.h; tests use
// tests/testing/fake_index_feed.h.
//
// The cycle: Claim() locks a batch of outbox rows (FOR UPDATE SKIP LOCKED, so
// a second indexer never takes the same rows), the indexer applies the
// changes to Xapian and commits there (now they are searchable), then
// OutboxBatch::CompleteAndQueueLinks() deletes the rows and queues the
// upserted postmortems for recurrence linking, in one transaction. The
// linker claims those with ClaimLinks(), records their links and completes
// them. A crash anywhere before a Complete leaves the rows in place, and the
// next claim hands them out again: applying or linking twice is harmless.
//
// Errors are absl::Status with gRPC's codes (UNAVAILABLE when the database
// cannot be reached). Each method is thread-safe; one OutboxBatch is used by
// one thread.

#include <cstdint>
#include <functional>
#include <limits>
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
  // The outbox rows behind this change.
  std::vector<int64_t> row_ids;
};

// Outbox rows read without claiming them (IndexFeed::Peek).
struct PendingChanges {
  // The highest row id read; the `after_row` given when none was.
  int64_t last_row = 0;
  // A full page: at least `max_rows` rows wait after `after_row`. Their
  // changes are not read (left empty); last_row is the page's last row.
  bool backlog = false;
  std::vector<IndexChange> changes;
};

// A postmortem version the index has committed, whose recurrence links are
// still to be recorded (a link_outbox row).
struct LinkRequest {
  std::string postmortem_id;
  int64_t version = 0;
};

// A claimed batch of index_outbox rows (Claim) or of link_outbox rows
// (ClaimLinks). Its rows stay locked until completed or destroyed (which
// releases them for the next claim without deleting them).
class OutboxBatch {
 public:
  virtual ~OutboxBatch() = default;
  virtual const std::vector<IndexChange>& changes() const = 0;
  // Queue rows behind changes() (at least changes().size()).
  virtual int64_t row_count() const = 0;
  // Deletes the claimed rows and adds `to_link` to link_outbox, in one
  // transaction. Call only after the index has committed the changes (or,
  // for a batch of ClaimLinks, recorded the links, with `to_link` empty).
  virtual absl::Status CompleteAndQueueLinks(
      const std::vector<LinkRequest>& to_link) = 0;
  // Deletes the claimed rows, queueing nothing.
  absl::Status Complete() { return CompleteAndQueueLinks({}); }
};

struct OutboxStats {
  // index_outbox rows waiting (queue depth): changes not yet searchable.
  int64_t pending = 0;
  // now - enqueued_at of the oldest waiting row; zero when none wait.
  absl::Duration oldest_age = absl::ZeroDuration();
  // The same for link_outbox: searchable postmortems whose recurrence
  // links are not recorded yet.
  int64_t link_pending = 0;
  absl::Duration link_oldest_age = absl::ZeroDuration();
};

enum class WaitOutcome { kWoken, kTimedOut };

class IndexFeed {
 public:
  virtual ~IndexFeed() = default;

  // Claims up to `max_rows` waiting outbox rows, oldest first. An empty batch
  // (no changes) when nothing waits or every waiting row is claimed by
  // another indexer.
  virtual absl::StatusOr<std::unique_ptr<OutboxBatch>> Claim(int max_rows) = 0;

  // Claim(max_rows) of the rows up to `through_row` only (those of `rows`
  // among them count), plus the waiting rows among `rows` wherever they are
  // in the queue: for the indexer's recent layers, whose rows its commit must
  // take in together, and whose reader has not seen the rows after
  // `through_row` yet. The default handles only an empty `rows` and no bound.
  virtual absl::StatusOr<std::unique_ptr<OutboxBatch>> ClaimIncluding(
      int max_rows, const std::vector<int64_t>& rows, int64_t through_row) {
    if (rows.empty() && through_row == std::numeric_limits<int64_t>::max()) {
      return Claim(max_rows);
    }
    return absl::UnimplementedError("this feed cannot claim given rows");
  }

  // The outbox rows with ids above `after_row`, oldest first, as changes
  // (like Claim's) but without claiming or locking them: the indexer reads
  // them ahead of its commits to make them searchable in a recent layer.
  // When `max_rows` or more wait, only the page's last row id (backlog). A
  // row that commits later with a lower id than one read already is not
  // returned by later calls. UNIMPLEMENTED when the feed cannot (the indexer
  // then has no recent layers).
  virtual absl::StatusOr<PendingChanges> Peek(int64_t after_row, int max_rows) {
    (void)after_row;
    (void)max_rows;
    return absl::UnimplementedError("this feed cannot read rows ahead");
  }

  // The same for link_outbox rows: each change names a postmortem to link,
  // as it is now (deleted when it is gone).
  virtual absl::StatusOr<std::unique_ptr<OutboxBatch>> ClaimLinks(
      int max_rows) = 0;

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
