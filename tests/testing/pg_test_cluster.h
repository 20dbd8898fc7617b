#ifndef DEJA_TESTS_TESTING_PG_TEST_CLUSTER_H_
#define DEJA_TESTS_TESTING_PG_TEST_CLUSTER_H_

// One disposable PostgreSQL cluster per test process: started on first use
// in a fresh directory under /tmp (unsafe_fast), stopped and deleted at exit.
// A template database is migrated once; each test takes its own copy, so
// tests never see each other's rows. Works as root (the server then runs as
// the `postgres` user) and as a normal user.
//
//   TEST_F(PgTest, Something) {           // a fresh migrated database
//     auto store = OpenPgStore({connection_string()});
//   }
//   std::string db = PgTestCluster::Get().FreshDatabase();   // another one

#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"
#include "store/embedded_postgres.h"

namespace deja {

class PgTestCluster {
 public:
  // The cluster of this process, started on the first call (from the main
  // thread: the server is tied to the thread that started it). When it cannot
  // start, server() is null and the database calls report the error.
  static PgTestCluster& Get();

  PgTestCluster(const PgTestCluster&) = delete;
  PgTestCluster& operator=(const PgTestCluster&) = delete;

  // A new database with every migration applied (a copy of the template).
  // Thread-safe.
  absl::StatusOr<std::string> CreateMigratedDatabase();
  // A new database with no tables at all, for migration tests.
  absl::StatusOr<std::string> CreateEmptyDatabase();

  // Connection string of a new migrated database; on failure adds a
  // gtest failure and returns "".
  std::string FreshDatabase();

  // For tests that stop and restart the server. Null if it did not start.
  EmbeddedPostgres* server() { return server_.get(); }
  // The status of the first start.
  const absl::Status& startup_status() const { return startup_status_; }
  const std::string& root_dir() const { return root_dir_; }

 private:
  PgTestCluster();
  ~PgTestCluster();

  absl::StatusOr<std::string> CreateDatabase(const char* template_name);

  std::string root_dir_;
  std::unique_ptr<EmbeddedPostgres> server_;
  absl::Status startup_status_;
  absl::Mutex mu_;
  int next_database_ ABSL_GUARDED_BY(mu_) = 0;
};

// Fixture giving each test its own migrated database.
class PgTest : public ::testing::Test {
 protected:
  void SetUp() override;

  PgTestCluster& cluster() { return PgTestCluster::Get(); }
  const std::string& connection_string() const { return connection_string_; }

 private:
  std::string connection_string_;
};

}  // namespace deja

#endif  // DEJA_TESTS_TESTING_PG_TEST_CLUSTER_H_
