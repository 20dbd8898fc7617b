#ifndef DEJA_STORE_PG_STORE_H_
#define DEJA_STORE_PG_STORE_H_

// The PostgreSQL implementation of PostmortemStore.

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "core/postmortem_store.h"

namespace deja {

struct PgStoreOptions {
  // libpq connection string or URL, e.g. "host=/path/run dbname=deja".
  std::string connection_string;
  // Connections kept open; size it to the server's worker threads. A call
  // waits (until its deadline) when all are busy.
  int pool_size = 8;
};

// Connects lazily: succeeds even when the database is down, and every call
// then answers UNAVAILABLE until it is back. Broken connections are replaced
// on the next call, so the store recovers from a database restart by itself.
// Migrations must already be applied (ApplyMigrations).
absl::StatusOr<std::unique_ptr<PostmortemStore>> OpenPgStore(
    const PgStoreOptions& options);

}  // namespace deja

#endif  // DEJA_STORE_PG_STORE_H_
