#include <pwd.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <pqxx/pqxx>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "store/embedded_postgres.h"
#include "store/pg_errors.h"
#include "tests/testing/pg_test_cluster.h"

namespace deja {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::StartsWith;

// A directory under /tmp, removed with everything in it. Searchable by
// others, so that a server running as `postgres` reaches clusters in
// subdirectories when the test runs as root.
class ScratchDir {
 public:
  ScratchDir() {
    std::string dir = "/tmp/deja-epgtest-XXXXXX";
    if (mkdtemp(dir.data()) != nullptr) {
      path_ = dir;
      chmod(path_.c_str(), 0711);
    }
  }
  ~ScratchDir() {
    std::error_code ec;
    if (!path_.empty()) fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

EmbeddedPostgresOptions FastOptions(const std::string& root) {
  EmbeddedPostgresOptions options;
  options.root_dir = root;
  options.unsafe_fast = true;
  return options;
}

std::string QueryOne(const std::string& connection_string,
                     const std::string& sql) {
  pqxx::connection conn(connection_string);
  pqxx::nontransaction tx(conn);
  return tx.exec1(sql)[0].as<std::string>();
}

pid_t PostmasterPid(const fs::path& data_dir) {
  std::ifstream in(data_dir / "postmaster.pid");
  std::string line;
  std::getline(in, line);
  return std::atoi(line.c_str());
}

TEST(EmbeddedPostgresTest, StartsAndAcceptsQueries) {
  ScratchDir dir;
  auto server = EmbeddedPostgres::Start(FastOptions(dir.path()));
  ASSERT_TRUE(server.ok()) << server.status();
  EXPECT_EQ(
      QueryOne((*server)->ConnectionString(), "SELECT current_database()"),
      "deja");
  EXPECT_EQ(QueryOne((*server)->ConnectionString("postgres"), "SELECT 1 + 1"),
            "2");
  EXPECT_THAT((*server)->ConnectionString(),
              StartsWith(absl::StrCat("host=", dir.path(), "/run ")));
  // Unix socket only.
  EXPECT_EQ(QueryOne((*server)->ConnectionString(),
                     "SELECT current_setting('listen_addresses')"),
            "");
}

TEST(EmbeddedPostgresTest, StopIsIdempotentAndRestartServesAgain) {
  ScratchDir dir;
  auto server = EmbeddedPostgres::Start(FastOptions(dir.path()));
  ASSERT_TRUE(server.ok()) << server.status();
  ASSERT_TRUE((*server)->Stop().ok());
  EXPECT_TRUE((*server)->Stop().ok());
  EXPECT_THROW(pqxx::connection((*server)->ConnectionString()),
               pqxx::broken_connection);
  ASSERT_TRUE((*server)->Restart().ok());
  EXPECT_EQ(QueryOne((*server)->ConnectionString(), "SELECT 'back'"), "back");
  // Restart while running is a stop and a start.
  ASSERT_TRUE((*server)->Restart().ok());
  EXPECT_EQ(QueryOne((*server)->ConnectionString(), "SELECT 'again'"), "again");
}

TEST(EmbeddedPostgresTest, SecondStartReusesTheCluster) {
  ScratchDir dir;
  struct stat before;
  {
    auto server = EmbeddedPostgres::Start(FastOptions(dir.path()));
    ASSERT_TRUE(server.ok()) << server.status();
    pqxx::connection conn((*server)->ConnectionString());
    pqxx::work tx(conn);
    tx.exec0("CREATE TABLE kept (x int); INSERT INTO kept VALUES (7)");
    tx.commit();
    ASSERT_EQ(stat((fs::path(dir.path()) / "pg/PG_VERSION").c_str(), &before),
              0);
  }
  auto server = EmbeddedPostgres::Start(FastOptions(dir.path()));
  ASSERT_TRUE(server.ok()) << server.status();
  EXPECT_EQ(QueryOne((*server)->ConnectionString(), "SELECT x FROM kept"), "7");
  struct stat after;
  ASSERT_EQ(stat((fs::path(dir.path()) / "pg/PG_VERSION").c_str(), &after), 0);
  EXPECT_EQ(before.st_ino, after.st_ino) << "initdb ran again";
  EXPECT_EQ(before.st_mtim.tv_nsec, after.st_mtim.tv_nsec);
}

TEST(EmbeddedPostgresTest, LeftoverServerOnTheSameDirectoryIsStopped) {
  ScratchDir dir;
  auto first = EmbeddedPostgres::Start(FastOptions(dir.path()));
  ASSERT_TRUE(first.ok()) << first.status();
  const pid_t old_pid = PostmasterPid(fs::path(dir.path()) / "pg");
  ASSERT_GT(old_pid, 0);
  // As if the dejad that owned `first` had been killed -9 and its postgres
  // had survived: a new launcher on the same directory takes over.
  auto second = EmbeddedPostgres::Start(FastOptions(dir.path()));
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_NE(PostmasterPid(fs::path(dir.path()) / "pg"), old_pid);
  EXPECT_EQ(QueryOne((*second)->ConnectionString(), "SELECT 1"), "1");
  waitpid(old_pid, nullptr, 0);
}

TEST(EmbeddedPostgresTest, StaleLockFileOfARecycledPidIsIgnored) {
  ScratchDir dir;
  auto server = EmbeddedPostgres::Start(FastOptions(dir.path()));
  ASSERT_TRUE(server.ok()) << server.status();
  const fs::path pid_file = fs::path(dir.path()) / "pg/postmaster.pid";
  std::string contents;
  {
    std::ifstream in(pid_file);
    std::getline(in, contents);  // the pid line, replaced below
    contents.clear();
    for (std::string line; std::getline(in, line);) contents += line + "\n";
  }
  ASSERT_TRUE((*server)->Stop().ok());
  // A crash left the lock file behind and the pid now belongs to another
  // live process (this test).
  {
    std::ofstream out(pid_file);
    out << getpid() << "\n" << contents;
  }
  ASSERT_TRUE((*server)->Restart().ok());
  EXPECT_EQ(QueryOne((*server)->ConnectionString(), "SELECT 1"), "1");
}

TEST(EmbeddedPostgresTest, LongRootDirectoryGetsAShortSocketDirectory) {
  ScratchDir dir;
  const std::string root = absl::StrCat(dir.path(), "/", std::string(60, 'd'),
                                        "/", std::string(60, 'e'));
  std::string host;
  {
    auto server = EmbeddedPostgres::Start(FastOptions(root));
    ASSERT_TRUE(server.ok()) << server.status();
    EXPECT_THAT((*server)->ConnectionString(),
                StartsWith("host=/tmp/deja-pg-"));
    EXPECT_EQ(QueryOne((*server)->ConnectionString(), "SELECT 1"), "1");
    host = (*server)->ConnectionString().substr(5);
    host = host.substr(0, host.find(' '));
  }
  EXPECT_FALSE(fs::exists(host)) << "temporary socket dir left behind";
}

TEST(EmbeddedPostgresTest, AsRootTheClusterBelongsToThePostgresUser) {
  if (geteuid() != 0) GTEST_SKIP() << "only meaningful as root";
  ScratchDir dir;
  auto server = EmbeddedPostgres::Start(FastOptions(dir.path()));
  ASSERT_TRUE(server.ok()) << server.status();
  const struct passwd* pw = getpwnam("postgres");
  ASSERT_NE(pw, nullptr);
  for (const char* sub : {"pg", "pg/PG_VERSION", "pg/base", "run"}) {
    struct stat st;
    ASSERT_EQ(stat((fs::path(dir.path()) / sub).c_str(), &st), 0) << sub;
    EXPECT_EQ(st.st_uid, pw->pw_uid) << sub;
  }
  // The server process runs as postgres too.
  const pid_t pid = PostmasterPid(fs::path(dir.path()) / "pg");
  struct stat proc;
  ASSERT_EQ(stat(absl::StrCat("/proc/", pid).c_str(), &proc), 0);
  EXPECT_EQ(proc.st_uid, pw->pw_uid);
}

TEST(EmbeddedPostgresTest, UnknownRunAsUserFailsClearlyAsRoot) {
  if (geteuid() != 0) GTEST_SKIP() << "only meaningful as root";
  ScratchDir dir;
  EmbeddedPostgresOptions options = FastOptions(dir.path());
  options.run_as_user = "no-such-user-deja";
  auto server = EmbeddedPostgres::Start(options);
  ASSERT_FALSE(server.ok());
  EXPECT_EQ(server.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(server.status().message()),
              HasSubstr("no-such-user-deja"));
}

// pg_errors against a real server.

absl::Status RunSql(const std::string& connection_string,
                    const std::string& sql) {
  return RunPg("test query", [&] {
    pqxx::connection conn(connection_string);
    pqxx::work tx(conn);
    tx.exec(sql);
    tx.commit();
    return absl::OkStatus();
  });
}

class PgErrorsTest : public PgTest {};

TEST_F(PgErrorsTest, StatementTimeoutIsDeadlineExceeded) {
  absl::Status status = RunSql(connection_string(),
                               "SET statement_timeout = 50;"
                               "SELECT pg_sleep(1)");
  EXPECT_EQ(status.code(), absl::StatusCode::kDeadlineExceeded) << status;
  EXPECT_THAT(std::string(status.message()), StartsWith("test query: "));
}

TEST_F(PgErrorsTest, LockTimeoutIsDeadlineExceeded) {
  ASSERT_TRUE(
      RunSql(connection_string(),
             "CREATE TABLE locked (k int); INSERT INTO locked VALUES (1)")
          .ok());
  pqxx::connection holder_conn(connection_string());
  pqxx::work holder(holder_conn);
  holder.exec("SELECT 1 FROM locked FOR UPDATE");
  absl::Status status = RunSql(connection_string(),
                               "SET lock_timeout = 50;"
                               "SELECT 1 FROM locked FOR UPDATE");
  EXPECT_EQ(status.code(), absl::StatusCode::kDeadlineExceeded) << status;
  EXPECT_THAT(std::string(status.message()), HasSubstr("lock wait timed out"));
}

TEST_F(PgErrorsTest, UniqueViolationIsAlreadyExists) {
  ASSERT_TRUE(RunSql(connection_string(),
                     "CREATE TABLE once (k text PRIMARY KEY);"
                     "INSERT INTO once VALUES ('a')")
                  .ok());
  absl::Status status =
      RunSql(connection_string(), "INSERT INTO once VALUES ('a')");
  EXPECT_EQ(status.code(), absl::StatusCode::kAlreadyExists) << status;
}

TEST_F(PgErrorsTest, OtherViolationsAndBadData) {
  ASSERT_TRUE(RunSql(connection_string(),
                     "CREATE TABLE checked (n int NOT NULL CHECK (n > 0))")
                  .ok());
  EXPECT_EQ(
      RunSql(connection_string(), "INSERT INTO checked VALUES (-1)").code(),
      absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(
      RunSql(connection_string(), "INSERT INTO checked VALUES (NULL)").code(),
      absl::StatusCode::kFailedPrecondition);
  // Validation refuses bad client data first: a data exception is a bug.
  absl::Status division = RunSql(connection_string(), "SELECT 1 / 0");
  EXPECT_EQ(division.code(), absl::StatusCode::kInternal) << division;
  EXPECT_THAT(std::string(division.message()), HasSubstr("SQLSTATE 22012"));
  absl::Status syntax = RunSql(connection_string(), "SELEC 1");
  EXPECT_EQ(syntax.code(), absl::StatusCode::kInternal);
  EXPECT_THAT(std::string(syntax.message()), HasSubstr("42601"));
}

TEST_F(PgErrorsTest, SerializationFailureIsAborted) {
  absl::Status status = RunSql(connection_string(),
                               "DO $$ BEGIN RAISE EXCEPTION 'conflict' "
                               "USING ERRCODE = 'serialization_failure'; "
                               "END $$");
  EXPECT_EQ(status.code(), absl::StatusCode::kAborted) << status;
}

TEST(PgErrorsServerTest, StoppedServerIsUnavailable) {
  ScratchDir dir;
  auto server = EmbeddedPostgres::Start(FastOptions(dir.path()));
  ASSERT_TRUE(server.ok()) << server.status();
  pqxx::connection conn((*server)->ConnectionString());
  ASSERT_TRUE((*server)->Stop().ok());
  absl::Status on_open_connection = RunPg("query after stop", [&] {
    pqxx::nontransaction tx(conn);
    tx.exec("SELECT 1");
    return absl::OkStatus();
  });
  EXPECT_EQ(on_open_connection.code(), absl::StatusCode::kUnavailable)
      << on_open_connection;
  absl::Status on_new_connection =
      RunSql((*server)->ConnectionString(), "SELECT 1");
  EXPECT_EQ(on_new_connection.code(), absl::StatusCode::kUnavailable)
      << on_new_connection;
  EXPECT_THAT(std::string(on_new_connection.message()),
              HasSubstr("database unavailable"));
}

TEST(PgErrorsServerTest, NonDatabaseExceptionIsInternal) {
  absl::Status status = RunPg(
      "parse", []() -> absl::Status { throw std::runtime_error("boom"); });
  EXPECT_EQ(status.code(), absl::StatusCode::kInternal);
  EXPECT_EQ(status.message(), "parse: boom");
}

}  // namespace
}  // namespace deja
