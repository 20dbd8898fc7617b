#ifndef DEJA_STORE_PG_ERRORS_H_
#define DEJA_STORE_PG_ERRORS_H_

// Turns exceptions thrown by libpqxx into absl::Status with gRPC codes, so
// nothing above store/ sees an exception. Private to store/.
//
//   broken connection, 08xxx, 53xxx, 57P01..57P03   UNAVAILABLE
//   in doubt / statement completion unknown          UNAVAILABLE ("outcome
//                                                    unknown")
//   57014 query canceled (statement_timeout)         DEADLINE_EXCEEDED
//   55P03 lock not available (lock_timeout)          DEADLINE_EXCEEDED
//   40001 serialization, 40P01 deadlock              ABORTED (retry)
//   23505 unique violation                           ALREADY_EXISTS
//   other 23xxx integrity violations                 FAILED_PRECONDITION
//   any other SQL error, 22xxx data exceptions too   INTERNAL (with SQLSTATE;
//     (validation catches bad client data first)     a 22xxx is a server bug)
//   any other exception                              INTERNAL

#include <exception>
#include <string>
#include <type_traits>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace deja {

// `what` names the operation ("insert postmortem") and prefixes the message.
absl::Status StatusFromPqxx(const std::exception& e, absl::string_view what);

// The SQLSTATE carried by `e`, or "" when it has none.
std::string SqlStateOf(const std::exception& e);

// Runs `f`, which returns absl::Status or absl::StatusOr<T>, and returns its
// result; an exception thrown by `f` becomes the mapped status instead.
//
//   absl::StatusOr<int> n = RunPg("count postmortems", [&] {
//     pqxx::work tx(conn);
//     return absl::StatusOr<int>(tx.exec1("SELECT count(*) ...")[0].as<int>());
//   });
template <class F>
auto RunPg(absl::string_view what, F&& f) -> decltype(std::forward<F>(f)()) {
  using Result = decltype(std::forward<F>(f)());
  static_assert(std::is_convertible_v<absl::Status, Result>,
                "RunPg: the callable must return absl::Status or StatusOr");
  try {
    return std::forward<F>(f)();
  } catch (const std::exception& e) {
    return StatusFromPqxx(e, what);
  } catch (...) {
    return absl::InternalError(std::string(what) +
                               ": unknown exception from the database layer");
  }
}

}  // namespace deja

#endif  // DEJA_STORE_PG_ERRORS_H_
