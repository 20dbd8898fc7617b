#ifndef DEJA_CORE_STATUS_MACROS_H_
#define DEJA_CORE_STATUS_MACROS_H_

// Debian's abseil (20220623) has no RETURN_IF_ERROR / ASSIGN_OR_RETURN.

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define DEJA_CONCAT_INNER_(a, b) a##b
#define DEJA_CONCAT_(a, b) DEJA_CONCAT_INNER_(a, b)

// Returns from the calling function when `expr` yields a non-OK absl::Status.
#define DEJA_RETURN_IF_ERROR(expr)                                \
  do {                                                            \
    if (absl::Status deja_status_ = (expr); !deja_status_.ok()) { \
      return deja_status_;                                        \
    }                                                             \
  } while (false)

// `DEJA_ASSIGN_OR_RETURN(auto x, StatusOrExpr());` declares x from the value
// or returns the error.
#define DEJA_ASSIGN_OR_RETURN(lhs, expr) \
  DEJA_ASSIGN_OR_RETURN_IMPL_(DEJA_CONCAT_(deja_statusor_, __LINE__), lhs, expr)
#define DEJA_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, expr) \
  auto statusor = (expr);                                \
  if (!statusor.ok()) return statusor.status();          \
  lhs = std::move(statusor).value()

#endif  // DEJA_CORE_STATUS_MACROS_H_
