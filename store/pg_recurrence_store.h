#ifndef DEJA_STORE_PG_RECURRENCE_STORE_H_
#define DEJA_STORE_PG_RECURRENCE_STORE_H_

// The PostgreSQL implementation of RecurrenceStore, over the
// recurrence_links table (schema/0003_recurrence_and_stats.sql).

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "core/recurrence_store.h"

namespace deja {

struct PgRecurrenceStoreOptions {
  // libpq connection string or URL.
  std::string connection_string;
  // Connections kept open.
  int pool_size = 2;
};

// Connects lazily, like OpenPgStore. Migrations must be applied.
absl::StatusOr<std::unique_ptr<RecurrenceStore>> OpenPgRecurrenceStore(
    const PgRecurrenceStoreOptions& options);

}  // namespace deja

#endif  // DEJA_STORE_PG_RECURRENCE_STORE_H_
