#ifndef DEJA_STORE_PG_TRANSACTION_H_
#define DEJA_STORE_PG_TRANSACTION_H_

// One transaction on a pooled connection, the way the stores of store/ run
// their work: bounded by a deadline, exceptions mapped to absl::Status
// (pg_errors.h), one retry on a fresh connection when the first one turned
// out to be dead before anything was committed (after a database restart
// every pooled connection is). Private to store/.

#include <algorithm>
#include <exception>
#include <pqxx/pqxx>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "store/connection_pool.h"
#include "store/pg_errors.h"

namespace deja {

// Makes the time left before `deadline` the transaction's statement_timeout
// and lock_timeout, so a slow statement (57014) or a lock wait (55P03) ends,
// as DEADLINE_EXCEEDED, when the caller stops waiting. Throws pqxx
// exceptions; DEADLINE_EXCEEDED when the deadline already passed.
absl::Status LimitStatementTime(pqxx::transaction_base& txn,
                                absl::Time deadline);

// The name ExecPrepared gives the statement `sql` on every connection.
std::string PreparedStatementName(const std::string& sql);

// Runs `sql` with `args` as a prepared statement of the transaction's
// connection, prepared there on its first use: PostgreSQL parses and plans
// it once per connection instead of on every call, which is most of the
// server's work for the short statements of the write path. Not for
// queries whose plan depends on which optional filters are NULL (a generic
// plan would serve them all alike): run those with exec_params.
template <typename... Args>
pqxx::result ExecPrepared(pqxx::transaction_base& txn, const std::string& sql,
                          Args&&... args) {
  const std::string name = PreparedStatementName(sql);
  // Defining the same name with the same text again changes nothing.
  txn.conn().prepare(name, sql);
  return txn.exec_prepared(name, std::forward<Args>(args)...);
}

namespace pg_transaction_internal {

// One try of RunInTransaction; sets `retry` when the connection broke before
// anything could have been committed.
template <
    typename Txn, typename Body,
    typename Result = decltype(std::declval<Body&>()(std::declval<Txn&>()))>
Result Attempt(absl::string_view what, absl::Time deadline,
               ConnectionPool::Lease& lease, Body& body, bool& retry) {
  bool committing = false;
  try {
    Txn txn(lease.connection());
    if (absl::Status s = LimitStatementTime(txn, deadline); !s.ok()) return s;
    Result result = body(txn);
    if (!result.ok()) return result;  // ~Txn rolls back
    committing = true;
    txn.commit();
    return result;
  } catch (const std::exception& e) {
    absl::Status status = StatusFromPqxx(e, what);
    if (dynamic_cast<const pqxx::broken_connection*>(&e) != nullptr ||
        !lease.connection().is_open() ||
        status.code() == absl::StatusCode::kUnavailable) {
      lease.MarkBroken();
      retry = !committing;
    }
    return status;
  } catch (...) {
    lease.MarkBroken();
    return absl::InternalError(absl::StrCat(what, ": unknown exception"));
  }
}

}  // namespace pg_transaction_internal

// Runs `body(Txn&)`, which returns absl::Status or absl::StatusOr<T> and may
// throw pqxx exceptions, in one transaction of type `Txn` (pqxx::work, or
// e.g. a read-only repeatable-read transaction for a consistent set of
// reads) and commits when it returns OK; an error or exception rolls back.
// `what` names the operation in error messages.
template <typename Txn = pqxx::work, typename Body>
auto RunInTransaction(ConnectionPool& pool, absl::string_view what,
                      absl::Time deadline, Body body)
    -> decltype(body(std::declval<Txn&>())) {
  using Result = decltype(body(std::declval<Txn&>()));
  Result result =
      absl::UnavailableError(absl::StrCat(what, ": database unavailable"));
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (absl::Now() >= deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat(what, ": deadline exceeded"));
    }
    absl::StatusOr<ConnectionPool::Lease> lease = pool.Acquire(deadline);
    if (!lease.ok()) return lease.status();
    bool retry = false;
    result = pg_transaction_internal::Attempt<Txn>(what, deadline, *lease, body,
                                                   retry);
    if (!retry) return result;
  }
  return result;
}

}  // namespace deja

#endif  // DEJA_STORE_PG_TRANSACTION_H_
