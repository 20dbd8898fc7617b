#ifndef DEJA_STORE_PG_STATS_STORE_H_
#define DEJA_STORE_PG_STATS_STORE_H_

// The PostgreSQL implementation of StatsStore: SQL aggregates over the views
// of schema/0003_recurrence_and_stats.sql.

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "core/stats_store.h"

namespace deja {

struct PgStatsStoreOptions {
  // libpq connection string or URL.
  std::string connection_string;
  // Connections kept open.
  int pool_size = 4;
};

// Connects lazily, like OpenPgStore: calls answer UNAVAILABLE while the
// database is down and recover when it is back. Migrations must be applied.
absl::StatusOr<std::unique_ptr<StatsStore>> OpenPgStatsStore(
    const PgStatsStoreOptions& options);

}  // namespace deja

#endif  // DEJA_STORE_PG_STATS_STORE_H_
