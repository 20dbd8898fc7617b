#ifndef DEJA_STORE_PG_INDEX_FEED_H_
#define DEJA_STORE_PG_INDEX_FEED_H_

// The PostgreSQL implementation of IndexFeed (core/index_feed.h), over the
// index_outbox table and the deja_index NOTIFY channel of schema/0001 and
// the link_outbox table of schema/0004.
//
// Connections are bounded: six for claimed batches (each batch keeps its
// transaction, and so one connection, until it is completed or destroyed; a
// claim that finds all held for 5 s answers RESOURCE_EXHAUSTED), two for
// Stats() and ForEachPostmortem(), and one that LISTENs for WaitForWork().
// Concurrent WaitForWork() calls take turns. Batches may outlive the feed.

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "core/index_feed.h"

namespace deja {

struct PgIndexFeedOptions {
  // libpq connection string or URL, e.g. "host=/path/run dbname=deja".
  std::string connection_string;
};

// Connects lazily: succeeds even when the database is down; calls then answer
// UNAVAILABLE until it is back, and broken connections are replaced by the
// next call, so the feed recovers from a database restart by itself.
// Migrations must already be applied (ApplyMigrations).
absl::StatusOr<std::unique_ptr<IndexFeed>> OpenPgIndexFeed(
    const PgIndexFeedOptions& options);

}  // namespace deja

#endif  // DEJA_STORE_PG_INDEX_FEED_H_
