#ifndef DEJA_STORE_EMBEDDED_POSTGRES_H_
#define DEJA_STORE_EMBEDDED_POSTGRES_H_

// A private PostgreSQL cluster under a directory, reachable only through a
// Unix socket: dejad's default when no --database-url is given, and the
// disposable cluster of the PostgreSQL tests.
//
// The server binaries are found with `pg_config --bindir` or under
// /usr/lib/postgresql/*/bin. When the process runs as root, initdb and
// postgres run as the unprivileged user `run_as_user` (they refuse root), and
// the cluster directory is owned by that user.

#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace deja {

struct EmbeddedPostgresOptions {
  // The cluster lives in <root_dir>/pg, its socket in <root_dir>/run (or a
  // short directory under /tmp when that path is too long for a socket).
  std::string root_dir;
  // Database created on first start.
  std::string database = "deja";
  // For throwaway test clusters: initdb --no-sync, fsync=off.
  bool unsafe_fast = false;
  // Used only when running as root.
  std::string run_as_user = "postgres";
};

class EmbeddedPostgres {
 public:
  // initdb on first use, then starts postgres and waits until it accepts
  // connections. Not thread-safe; one instance per directory. A postgres
  // left running on the directory by a killed process is stopped first.
  // The server gets SIGINT if the thread that called Start()/Restart() exits
  // (PR_SET_PDEATHSIG), so call them from a thread that outlives the server,
  // such as main. FAILED_PRECONDITION when no server binaries are found or
  // the server user cannot reach root_dir; UNAVAILABLE (with the end of
  // <root_dir>/postgres.log) when postgres does not come up within 30 s.
  static absl::StatusOr<std::unique_ptr<EmbeddedPostgres>> Start(
      const EmbeddedPostgresOptions& options);

  // Stops the server (fast shutdown) if still running.
  virtual ~EmbeddedPostgres() = default;

  // Fast shutdown; waits until the server has exited. Idempotent.
  virtual absl::Status Stop() = 0;
  // Starts the server again after Stop() (used to test reconnects); when it
  // is running, stops it first.
  virtual absl::Status Restart() = 0;

  // libpq connection string for `database`, e.g. "host=/x/run port=5432
  // dbname=deja user=postgres".
  virtual std::string ConnectionString() const = 0;
  // The same for another database of the cluster.
  virtual std::string ConnectionString(const std::string& database) const = 0;
};

}  // namespace deja

#endif  // DEJA_STORE_EMBEDDED_POSTGRES_H_
