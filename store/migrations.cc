#include "store/migrations.h"

#include <algorithm>
#include <memory>
#include <pqxx/pqxx>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "core/event_log.h"
#include "store/pg_errors.h"

namespace deja {
namespace {

// pg_advisory_lock key shared by every dejad and test fixture migrating a
// database: "deja" in ASCII.
constexpr int64_t kMigrationLockKey = 0x64656a61;

constexpr char kCreateMigrationsTable[] =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " version int PRIMARY KEY,"
    " name text NOT NULL,"
    " applied_at timestamptz NOT NULL DEFAULT now())";

// Keeps codes that tell the caller to retry or wait; any other failure of a
// migration is a defect of the migration or the database, not of a request.
absl::Status MigrationError(absl::Status status) {
  switch (status.code()) {
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
    case absl::StatusCode::kAborted:
    case absl::StatusCode::kFailedPrecondition:
      return status;
    default:
      return absl::InternalError(status.message());
  }
}

// Runs with the advisory lock held on `conn`.
absl::StatusOr<int> ApplyLocked(pqxx::connection& conn,
                                std::vector<schema::Migration> migrations) {
  std::sort(migrations.begin(), migrations.end(),
            [](const schema::Migration& a, const schema::Migration& b) {
              return a.version < b.version;
            });
  std::set<int> applied;
  absl::Status status = RunPg("read schema_migrations", [&] {
    pqxx::nontransaction tx(conn);
    tx.exec0(kCreateMigrationsTable);
    for (const pqxx::row& row :
         tx.exec("SELECT version FROM schema_migrations")) {
      applied.insert(row[0].as<int>());
    }
    return absl::OkStatus();
  });
  if (!status.ok()) return MigrationError(status);

  const int newest_known = migrations.empty() ? 0 : migrations.back().version;
  if (!applied.empty() && *applied.rbegin() > newest_known) {
    return absl::FailedPreconditionError(
        absl::StrCat("database schema version ", *applied.rbegin(),
                     " is newer than this dejad (", newest_known, ")"));
  }

  int count = 0;
  for (const schema::Migration& migration : migrations) {
    if (applied.count(migration.version) > 0) continue;
    const absl::Time begin = absl::Now();
    status = RunPg(absl::StrCat("migration ", migration.name), [&] {
      pqxx::work tx(conn);
      // The file may hold many statements: exec sends it as one simple
      // query, inside this transaction.
      tx.exec(migration.sql);
      tx.exec_params0(
          "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
          migration.version, std::string(migration.name));
      tx.commit();
      return absl::OkStatus();
    });
    if (!status.ok()) return MigrationError(status);
    applied.insert(migration.version);
    ++count;
    LogEvent(absl::StrCat("migration ", migration.name, " applied in ",
                          absl::ToInt64Milliseconds(absl::Now() - begin),
                          " ms"));
  }
  return count;
}

}  // namespace

absl::StatusOr<int> ApplyMigrations(absl::string_view connection_string) {
  return ApplyMigrations(connection_string, schema::Migrations());
}

absl::StatusOr<int> ApplyMigrations(
    absl::string_view connection_string,
    const std::vector<schema::Migration>& migrations) {
  std::unique_ptr<pqxx::connection> conn;
  absl::Status status = RunPg("migrations: lock", [&] {
    conn = std::make_unique<pqxx::connection>(std::string(connection_string));
    pqxx::nontransaction tx(*conn);
    tx.exec_params("SELECT pg_advisory_lock($1)", kMigrationLockKey);
    return absl::OkStatus();
  });
  if (!status.ok()) return MigrationError(status);
  absl::StatusOr<int> result = ApplyLocked(*conn, migrations);
  // Closing the session would release the lock too; unlock explicitly so a
  // pooled or long-lived connection never keeps it.
  RunPg("migrations: unlock", [&] {
    pqxx::nontransaction tx(*conn);
    tx.exec_params("SELECT pg_advisory_unlock($1)", kMigrationLockKey);
    return absl::OkStatus();
  }).IgnoreError();
  return result;
}

}  // namespace deja
