#ifndef DEJA_INDEXER_INDEX_SYNC_H_
#define DEJA_INDEXER_INDEX_SYNC_H_

// The one Xapian writer: keeps the index in step with PostgreSQL by draining
// the outbox (core/index_feed.h). Each cycle claims a batch, applies it
// (replace_document on "Q"+id unless the index already holds a newer
// version; delete_document for deletions), commits Xapian, then completes
// the batch. It wakes on NOTIFY and also polls, so a lost notification only
// delays a change by one poll interval. With recent layers on (the default),
// another thread makes new postmortems searchable ahead of their commit
// (recent_layers.h) and wakes the committing loop. With recurrence linking
// on, two more threads (the linkers) record the links of what was indexed,
// behind it and at a lower CPU priority, from the link rows each completed
// batch queues.
//
// Open() takes the index's write lock: a second writer on the same index_dir
// waits up to options.lock_wait, then fails with FAILED_PRECONDITION naming
// the directory. It rebuilds from the feed when there is no index yet, when
// the index cannot be opened (corrupt) or when it was built in another format
// (IndexFormatVersion(): the schema version and the synonym table).
//
// Thread-safe. Runs its loop on its own thread between Start() and Stop();
// RunOnce() and Rebuild() may be called at any time (they take turns with
// the loop). The feed (and options.recurrences) must outlive the IndexSync.

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/index_feed.h"
#include "core/recurrence_store.h"
#include "deja/v1/admin_service.pb.h"

namespace deja {

struct IndexSyncOptions {
  std::string index_dir;
  // Outbox rows per Xapian commit.
  int batch_rows = 500;
  // Longest sleep between polls of the outbox when no NOTIFY arrives.
  absl::Duration poll_interval = absl::Seconds(1);
  // How long Open() waits for another writer to let go of the index.
  absl::Duration lock_wait = absl::ZeroDuration();
  // Where recurrence suggestions go (it must outlive the IndexSync); null
  // turns auto-linking off. Each batch's completion queues its upserted
  // postmortems (link_outbox); the linker then records each one's "more
  // like this" matches scoring at least `link_threshold` (the best
  // `max_links`) with RecordSuggestions. When recording fails the link rows
  // stay and are tried again. Rebuilds do not link.
  RecurrenceStore* recurrences = nullptr;
  double link_threshold = 0.7;
  int max_links = 3;
  // Recent layers (recent_layers.h): a thread reads the outbox ahead of the
  // commits and makes new postmortems searchable in a layer, long before the
  // commit that takes them in; once a few layers are live, one layer per
  // `layer_interval` at most.
  // Off, or with a feed that cannot Peek, a change is searchable at its
  // commit.
  bool recent_layers = true;
  absl::Duration layer_interval = absl::Milliseconds(100);
};

// Copies the queue figures of `stats` into `status`. Inline: deja_services
// sees the indexer only through this header.
inline void SetOutboxStats(const OutboxStats& stats, v1::IndexStatus& status) {
  status.set_pending(stats.pending);
  status.set_lag_seconds(absl::ToDoubleSeconds(stats.oldest_age));
  status.set_link_pending(stats.link_pending);
  status.set_link_lag_seconds(absl::ToDoubleSeconds(stats.link_oldest_age));
}

class IndexSync {
 public:
  static absl::StatusOr<std::unique_ptr<IndexSync>> Open(
      IndexFeed& feed, const IndexSyncOptions& options);
  virtual ~IndexSync() = default;

  // Starts / stops the background loop. Stop() waits for the cycle in
  // progress to finish and cancels a running Rebuild(), which then answers
  // CANCELLED (as do rebuilds asked for before the next Start()); the
  // destructor stops too.
  virtual void Start() = 0;
  virtual void Stop() = 0;

  // Drains the outbox now, until no waiting row is left, then the link rows
  // (with linking on); returns the number of outbox rows applied.
  virtual absl::StatusOr<int64_t> RunOnce() = 0;

  // Rebuilds the whole index from the feed into a new generation and swaps
  // it in (index_directory.h); changes that arrive meanwhile stay in the
  // outbox and are applied right after. ABORTED when a rebuild is already
  // running.
  virtual absl::StatusOr<v1::RebuildIndexResponse> Rebuild() = 0;

  // Outbox depth and lag, documents, path, last rebuild and last error.
  virtual v1::IndexStatus Status() = 0;
};

}  // namespace deja

#endif  // DEJA_INDEXER_INDEX_SYNC_H_
