#include "store/migrations.h"

#include <algorithm>
#include <map>
#include <memory>
#include <pqxx/pqxx>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "core/event_log.h"
#include "store/pg_errors.h"
#include "store/postmortem_rows.h"

namespace deja {
namespace {

// pg_advisory_lock key shared by every dejad and test fixture migrating a
// database: "deja" in ASCII.
constexpr int64_t kMigrationLockKey = 0x64656a61;
constexpr int kBackfillBatchRows = 200;

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

// Rows of up to $1 postmortems still at signatures_version 0, one per log
// line (or one with a NULL line when it has none), in line order. Rows
// another backfill holds are skipped: it is filling them in.
constexpr char kClaimUnsignedPostmortems[] = R"sql(
WITH batch AS (
  SELECT id, document FROM postmortems
  WHERE signatures_version = 0
  ORDER BY id
  LIMIT $1::int
  FOR UPDATE SKIP LOCKED)
SELECT b.id::text, l.line
FROM batch b
LEFT JOIN LATERAL jsonb_array_elements_text(
    CASE WHEN jsonb_typeof(b.document->'log_lines') = 'array'
         THEN b.document->'log_lines' ELSE '[]' END)
  WITH ORDINALITY AS l(line, position) ON true
ORDER BY b.id, l.position
)sql";

// Fills in one batch; returns how many postmortems it did (0: done).
absl::StatusOr<int64_t> BackfillBatch(pqxx::connection& conn, int batch_rows) {
  return RunPg("backfill error signatures", [&]() -> absl::StatusOr<int64_t> {
    pqxx::work tx(conn);
    std::map<std::string, std::vector<std::string>> lines_by_id;
    for (const pqxx::row& row :
         tx.exec_params(kClaimUnsignedPostmortems, batch_rows)) {
      std::vector<std::string>& lines = lines_by_id[row[0].as<std::string>()];
      if (!row[1].is_null()) lines.push_back(row[1].as<std::string>());
    }
    std::vector<std::string> ids;
    std::vector<std::vector<std::string>> lines;
    for (auto& [id, id_lines] : lines_by_id) {
      ids.push_back(id);
      lines.push_back(std::move(id_lines));
    }
    if (!ids.empty()) RewriteSignatureRows(tx, ids, lines);
    tx.commit();
    return static_cast<int64_t>(lines_by_id.size());
  });
}

absl::StatusOr<int64_t> BackfillOn(pqxx::connection& conn, int batch_rows) {
  absl::StatusOr<bool> has_column =
      RunPg("backfill error signatures", [&]() -> absl::StatusOr<bool> {
        pqxx::nontransaction tx(conn);
        return tx
            .exec1(
                "SELECT EXISTS (SELECT 1 FROM pg_attribute "
                "WHERE attrelid = to_regclass('postmortems') "
                "AND attname = 'signatures_version' AND NOT attisdropped)")[0]
            .as<bool>();
      });
  if (!has_column.ok()) return has_column.status();
  if (!*has_column) return 0;
  const absl::Time begin = absl::Now();
  int64_t total = 0;
  while (true) {
    absl::StatusOr<int64_t> done = BackfillBatch(conn, batch_rows);
    if (!done.ok()) return done.status();
    if (*done == 0) break;
    total += *done;
  }
  if (total > 0) {
    LogEvent(absl::StrCat(
        "error signatures filled in for ", total, " postmortems in ",
        absl::ToInt64Milliseconds(absl::Now() - begin), " ms"));
  }
  return total;
}

}  // namespace

absl::StatusOr<int64_t> BackfillSignatures(absl::string_view connection_string,
                                           int batch_rows) {
  if (batch_rows < 1) {
    return absl::InvalidArgumentError("batch_rows: must be at least 1");
  }
  std::unique_ptr<pqxx::connection> conn;
  absl::Status status = RunPg("backfill error signatures: connect", [&] {
    conn = std::make_unique<pqxx::connection>(std::string(connection_string));
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return BackfillOn(*conn, batch_rows);
}

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
  if (!result.ok()) return result;
  // Outside the migration lock: concurrent starts share the batches instead
  // of waiting for each other.
  if (absl::StatusOr<int64_t> filled = BackfillOn(*conn, kBackfillBatchRows);
      !filled.ok()) {
    return MigrationError(filled.status());
  }
  return result;
}

}  // namespace deja
