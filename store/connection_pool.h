#ifndef DEJA_STORE_CONNECTION_POOL_H_
#define DEJA_STORE_CONNECTION_POOL_H_

// A bounded set of libpqxx connections shared by the store's callers. Private
// to store/.
//
// Connections are opened lazily, at most `size` at a time. Acquire() hands one
// out exclusively until the returned lease is destroyed. A lease marked broken
// closes its connection instead of returning it, and also drops the idle ones:
// a broken connection usually means the server restarted, and every idle
// connection then died with it. Thread-safe.

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <pqxx/connection>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace deja {

// `connection_string` (libpq key=value form or postgres:// URL) with a
// connect_timeout of the whole seconds in `time_left` (2..30) and TCP
// keepalives, so neither connecting nor a silently dead server outlasts the
// caller. Settings it already names are kept. Pure.
std::string WithConnectLimits(absl::string_view connection_string,
                              absl::Duration time_left);

class ConnectionPool {
 public:
  // Exclusive use of one connection; returns it to the pool when destroyed.
  class Lease {
   public:
    Lease(ConnectionPool* pool, std::unique_ptr<pqxx::connection> connection)
        : pool_(pool), connection_(std::move(connection)) {}
    Lease(Lease&& other) noexcept
        : pool_(other.pool_),
          connection_(std::move(other.connection_)),
          broken_(other.broken_) {}
    Lease& operator=(Lease&&) = delete;
    ~Lease();

    pqxx::connection& connection() { return *connection_; }
    // The connection failed; close it rather than reuse it.
    void MarkBroken() { broken_ = true; }

   private:
    ConnectionPool* pool_;
    std::unique_ptr<pqxx::connection> connection_;
    bool broken_ = false;
  };

  // `session_setup` (SQL, may be empty) runs once on every new connection,
  // before its first lease: the session settings its owner's statements are
  // planned with.
  ConnectionPool(std::string connection_string, int size,
                 std::string session_setup = "");
  ConnectionPool(const ConnectionPool&) = delete;
  ConnectionPool& operator=(const ConnectionPool&) = delete;

  // Waits until a connection is free or may be opened. DEADLINE_EXCEEDED when
  // `deadline` passes first; UNAVAILABLE ("database unavailable: ...") when a
  // new connection cannot be opened.
  absl::StatusOr<Lease> Acquire(absl::Time deadline);

 private:
  void Release(std::unique_ptr<pqxx::connection> connection, bool broken);
  // Waits for a free slot; false when `deadline` passed first.
  bool WaitForSlot(std::unique_lock<std::mutex>& lock, absl::Time deadline);

  const std::string connection_string_;
  const int size_;
  const std::string session_setup_;

  std::mutex mu_;
  std::condition_variable slot_freed_;
  std::vector<std::unique_ptr<pqxx::connection>> idle_;  // guarded by mu_
  int open_ = 0;  // connections idle or leased; guarded by mu_
};

}  // namespace deja

#endif  // DEJA_STORE_CONNECTION_POOL_H_
