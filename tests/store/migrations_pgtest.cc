#include <pqxx/pqxx>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "schema/migrations.h"
#include "store/migrations.h"
#include "tests/testing/pg_test_cluster.h"

namespace deja {
namespace {

using ::testing::HasSubstr;

int CountRows(const std::string& connection_string, const std::string& sql) {
  pqxx::connection conn(connection_string);
  pqxx::nontransaction tx(conn);
  return tx.exec1(sql)[0].as<int>();
}

class MigrationsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::string> database =
        PgTestCluster::Get().CreateEmptyDatabase();
    ASSERT_TRUE(database.ok()) << database.status();
    empty_database_ = *database;
  }

  std::vector<schema::Migration> KnownPlus(schema::Migration extra) {
    std::vector<schema::Migration> list = schema::Migrations();
    list.push_back(extra);
    return list;
  }

  std::string empty_database_;
};

TEST_F(MigrationsTest, FreshDatabaseGetsEveryMigration) {
  absl::StatusOr<int> applied = ApplyMigrations(empty_database_);
  ASSERT_TRUE(applied.ok()) << applied.status();
  EXPECT_EQ(*applied, static_cast<int>(schema::Migrations().size()));
  EXPECT_EQ(
      CountRows(empty_database_, "SELECT count(*) FROM schema_migrations"),
      *applied);
}

TEST_F(MigrationsTest, SecondRunAppliesNothing) {
  ASSERT_TRUE(ApplyMigrations(empty_database_).ok());
  absl::StatusOr<int> again = ApplyMigrations(empty_database_);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*again, 0);
}

TEST_F(MigrationsTest, NewMigrationIsAppliedExactlyOnce) {
  ASSERT_TRUE(ApplyMigrations(empty_database_).ok());
  const auto list = KnownPlus({9999, "9999_synthetic",
                               "CREATE TABLE synthetic (x int);"
                               "INSERT INTO synthetic VALUES (1);"});
  absl::StatusOr<int> applied = ApplyMigrations(empty_database_, list);
  ASSERT_TRUE(applied.ok()) << applied.status();
  EXPECT_EQ(*applied, 1);
  EXPECT_EQ(ApplyMigrations(empty_database_, list).value_or(-1), 0);
  EXPECT_EQ(CountRows(empty_database_, "SELECT count(*) FROM synthetic"), 1);
  EXPECT_EQ(CountRows(empty_database_,
                      "SELECT count(*) FROM schema_migrations "
                      "WHERE version = 9999 AND name = '9999_synthetic'"),
            1);
}

TEST_F(MigrationsTest, FailingMigrationIsNamedAndRolledBack) {
  ASSERT_TRUE(ApplyMigrations(empty_database_).ok());
  const auto list =
      KnownPlus({9998, "9998_broken",
                 "CREATE TABLE half_done (x int); SELEC 'not sql';"});
  absl::StatusOr<int> applied = ApplyMigrations(empty_database_, list);
  ASSERT_FALSE(applied.ok());
  EXPECT_EQ(applied.status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(std::string(applied.status().message()),
              HasSubstr("9998_broken"));
  EXPECT_EQ(CountRows(empty_database_,
                      "SELECT count(*) FROM schema_migrations "
                      "WHERE version = 9998"),
            0);
  EXPECT_EQ(CountRows(empty_database_,
                      "SELECT count(*) FROM pg_tables "
                      "WHERE tablename = 'half_done'"),
            0);
  // The earlier migrations stay.
  EXPECT_EQ(
      CountRows(empty_database_, "SELECT count(*) FROM schema_migrations"),
      static_cast<int>(schema::Migrations().size()));
}

TEST_F(MigrationsTest, NewerDatabaseIsRefused) {
  ASSERT_TRUE(ApplyMigrations(empty_database_).ok());
  {
    pqxx::connection conn(empty_database_);
    pqxx::work tx(conn);
    tx.exec_params0(
        "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", 424242,
        "424242_from_the_future");
    tx.commit();
  }
  absl::StatusOr<int> applied = ApplyMigrations(empty_database_);
  ASSERT_FALSE(applied.ok());
  EXPECT_EQ(applied.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(applied.status().message()),
              HasSubstr("database schema version 424242 is newer"));
}

TEST_F(MigrationsTest, ConcurrentRunsApplyEachMigrationOnce) {
  absl::StatusOr<int> results[2];
  std::thread first([&] { results[0] = ApplyMigrations(empty_database_); });
  std::thread second([&] { results[1] = ApplyMigrations(empty_database_); });
  first.join();
  second.join();
  ASSERT_TRUE(results[0].ok()) << results[0].status();
  ASSERT_TRUE(results[1].ok()) << results[1].status();
  const int known = static_cast<int>(schema::Migrations().size());
  EXPECT_EQ(*results[0] + *results[1], known);
  EXPECT_EQ(
      CountRows(empty_database_, "SELECT count(*) FROM schema_migrations"),
      known);
}

TEST_F(MigrationsTest, UnreachableDatabaseIsUnavailable) {
  absl::StatusOr<int> applied =
      ApplyMigrations("host=/nonexistent-deja-socket-dir dbname=deja");
  ASSERT_FALSE(applied.ok());
  EXPECT_EQ(applied.status().code(), absl::StatusCode::kUnavailable);
}

class MigratedSchemaTest : public PgTest {};

TEST_F(MigratedSchemaTest, BiViewsAreQueryable) {
  pqxx::connection conn(connection_string());
  pqxx::nontransaction tx(conn);
  EXPECT_NO_THROW(tx.exec(
      "SELECT id, team, title, severity, status, started_at, detected_at, "
      "mitigated_at, resolved_at, time_to_detect, time_to_resolve, "
      "users_affected, detection_source, services, tags, cause_categories, "
      "version, created_at, updated_at FROM incidents"));
  EXPECT_NO_THROW(tx.exec(
      "SELECT id, postmortem_id, team, postmortem_title, description, owner, "
      "due_date, status, kind, tracker_url, is_open, is_overdue, created_at, "
      "completed_at FROM action_items"));
}

// 0005: the PostgreSQL of Debian 12 has lz4, so documents use it.
TEST_F(MigratedSchemaTest, DocumentsAreCompressedWithLz4) {
  pqxx::connection conn(connection_string());
  pqxx::nontransaction tx(conn);
  EXPECT_EQ(tx.exec1("SELECT attcompression FROM pg_attribute "
                     "WHERE attrelid = 'postmortems'::regclass "
                     "AND attname = 'document'")[0]
                .as<std::string>(),
            "l");
}

TEST_F(MigratedSchemaTest, ViewsShowInsertedRows) {
  pqxx::connection conn(connection_string());
  pqxx::work tx(conn);
  const std::string id =
      tx.exec_params1(
            "INSERT INTO postmortems (team, title, summary, severity, status, "
            "started_at, detected_at, resolved_at, document) VALUES ($1, $2, "
            "$3, 2, 'PUBLISHED', '2024-01-01 10:00Z', '2024-01-01 10:05Z', "
            "'2024-01-01 11:00Z', '{}') RETURNING id",
            "payments", "Checkout 5xx", "pool exhausted")[0]
          .as<std::string>();
  tx.exec_params0(
      "INSERT INTO postmortem_services (postmortem_id, service) VALUES ($1, "
      "$2)",
      id, "checkout");
  tx.exec_params0(
      "INSERT INTO action_item_records (postmortem_id, position, description, "
      "owner, due_date, status, kind) VALUES ($1, 1, $2, $3, '2000-01-01', "
      "'OPEN', 'PREVENT')",
      id, "raise pool size", "alice");
  const pqxx::row incident = tx.exec_params1(
      "SELECT severity, services[1], extract(epoch FROM time_to_detect)::int "
      "FROM incidents WHERE id = $1",
      id);
  EXPECT_EQ(incident[0].as<std::string>(), "SEV2");
  EXPECT_EQ(incident[1].as<std::string>(), "checkout");
  EXPECT_EQ(incident[2].as<int>(), 300);
  const pqxx::row item = tx.exec_params1(
      "SELECT owner, is_open, is_overdue FROM action_items "
      "WHERE postmortem_id = $1",
      id);
  EXPECT_EQ(item[0].as<std::string>(), "alice");
  EXPECT_TRUE(item[1].as<bool>());
  EXPECT_TRUE(item[2].as<bool>());
}

}  // namespace
}  // namespace deja
