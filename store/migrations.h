#ifndef DEJA_STORE_MIGRATIONS_H_
#define DEJA_STORE_MIGRATIONS_H_

// Applies schema/ migrations that the database has not seen yet, each in its
// own transaction, recording them in schema_migrations. Concurrent callers
// are serialised with an advisory lock, so two servers starting at once apply
// each migration once.

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "schema/migrations.h"

namespace deja {

// Returns how many migrations were applied (0 when up to date). A failing
// migration is rolled back and named in the error; earlier ones stay.
// FAILED_PRECONDITION when the database has a version newer than any known.
// Then runs BackfillSignatures.
absl::StatusOr<int> ApplyMigrations(absl::string_view connection_string);

// The same with an explicit list, for tests.
absl::StatusOr<int> ApplyMigrations(
    absl::string_view connection_string,
    const std::vector<schema::Migration>& migrations);

// Fills in postmortem_signatures for rows written before they were stored
// (postmortems.signatures_version 0), computing the signatures from each
// stored document's log_lines, `batch_rows` postmortems per transaction.
// Returns how many it filled in. Idempotent, one query when there is nothing
// to do, and a no-op on a schema older than 0003. Concurrent callers share
// the work (rows are claimed with SKIP LOCKED).
absl::StatusOr<int64_t> BackfillSignatures(absl::string_view connection_string,
                                           int batch_rows = 200);

}  // namespace deja

#endif  // DEJA_STORE_MIGRATIONS_H_
