#ifndef DEJA_STORE_MIGRATIONS_H_
#define DEJA_STORE_MIGRATIONS_H_

// Applies schema/ migrations that the database has not seen yet, each in its
// own transaction, recording them in schema_migrations. Concurrent callers
// are serialised with an advisory lock, so two servers starting at once apply
// each migration once.

#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "schema/migrations.h"

namespace deja {

// Returns how many migrations were applied (0 when up to date). A failing
// migration is rolled back and named in the error; earlier ones stay.
// FAILED_PRECONDITION when the database has a version newer than any known.
absl::StatusOr<int> ApplyMigrations(absl::string_view connection_string);

// The same with an explicit list, for tests.
absl::StatusOr<int> ApplyMigrations(
    absl::string_view connection_string,
    const std::vector<schema::Migration>& migrations);

}  // namespace deja

#endif  // DEJA_STORE_MIGRATIONS_H_
