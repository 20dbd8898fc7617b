#include "tests/testing/pg_test_cluster.h"

#include <stdlib.h>

#include <cstdio>
#include <filesystem>
#include <pqxx/pqxx>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "store/migrations.h"

namespace deja {
namespace {

constexpr char kTemplateDatabase[] = "deja_template";

EmbeddedPostgresOptions ClusterOptions(const std::string& root_dir) {
  EmbeddedPostgresOptions options;
  options.root_dir = root_dir;
  options.database = kTemplateDatabase;
  options.unsafe_fast = true;
  return options;
}

}  // namespace

PgTestCluster& PgTestCluster::Get() {
  // Destroyed at exit, which stops the server and removes its directory.
  static PgTestCluster cluster;
  return cluster;
}

PgTestCluster::PgTestCluster() {
  std::string dir = "/tmp/deja-pgtest-XXXXXX";
  if (mkdtemp(dir.data()) == nullptr) {
    startup_status_ = absl::InternalError("mkdtemp /tmp/deja-pgtest-XXXXXX");
    return;
  }
  root_dir_ = dir;
  absl::StatusOr<std::unique_ptr<EmbeddedPostgres>> server =
      EmbeddedPostgres::Start(ClusterOptions(root_dir_));
  if (!server.ok()) {
    startup_status_ = server.status();
    std::fprintf(stderr, "test PostgreSQL cluster did not start: %s\n",
                 startup_status_.ToString().c_str());
    return;
  }
  server_ = *std::move(server);
  absl::StatusOr<int> migrated =
      ApplyMigrations(server_->ConnectionString(kTemplateDatabase));
  if (!migrated.ok()) startup_status_ = migrated.status();
}

PgTestCluster::~PgTestCluster() {
  server_.reset();
  if (!root_dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(root_dir_, ec);
  }
}

absl::StatusOr<std::string> PgTestCluster::CreateDatabase(
    const char* template_name) {
  if (!startup_status_.ok()) return startup_status_;
  std::string name;
  {
    absl::MutexLock lock(&mu_);
    name = absl::StrCat("test_", next_database_++);
  }
  try {
    pqxx::connection conn(server_->ConnectionString("postgres"));
    pqxx::nontransaction tx(conn);
    // Identifiers cannot be parameters; both names are ours.
    tx.exec0(
        absl::StrCat("CREATE DATABASE ", name, " TEMPLATE ", template_name));
  } catch (const std::exception& e) {
    return absl::UnavailableError(
        absl::StrCat("create test database ", name, ": ",
                     absl::StripTrailingAsciiWhitespace(e.what())));
  }
  return server_->ConnectionString(name);
}

absl::StatusOr<std::string> PgTestCluster::CreateMigratedDatabase() {
  return CreateDatabase(kTemplateDatabase);
}

absl::StatusOr<std::string> PgTestCluster::CreateEmptyDatabase() {
  return CreateDatabase("template0");
}

std::string PgTestCluster::FreshDatabase() {
  absl::StatusOr<std::string> database = CreateMigratedDatabase();
  if (!database.ok()) {
    ADD_FAILURE() << database.status();
    return "";
  }
  return *database;
}

void PgTest::SetUp() {
  absl::StatusOr<std::string> database =
      PgTestCluster::Get().CreateMigratedDatabase();
  ASSERT_TRUE(database.ok()) << database.status();
  connection_string_ = *database;
}

}  // namespace deja
