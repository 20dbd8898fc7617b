#include "store/pg_transaction.h"

#include <cstdint>
#include <functional>
#include <limits>
#include <string>

#include "absl/strings/str_cat.h"

namespace deja {

std::string PreparedStatementName(const std::string& sql) {
  // 64 bits of hash over a few dozen statements: a collision would show as
  // pqxx's "inconsistent redefinition" error, never as the wrong statement.
  return absl::StrCat("deja_", absl::Hex(std::hash<std::string>{}(sql)));
}

absl::Status LimitStatementTime(pqxx::transaction_base& txn,
                                absl::Time deadline) {
  if (deadline == absl::InfiniteFuture()) return absl::OkStatus();
  const absl::Duration left = deadline - absl::Now();
  if (left <= absl::ZeroDuration()) {
    return absl::DeadlineExceededError("deadline passed before the query");
  }
  const int64_t ms = std::clamp<int64_t>(
      absl::ToInt64Milliseconds(absl::Ceil(left, absl::Milliseconds(1))), 1,
      std::numeric_limits<int32_t>::max());
  ExecPrepared(txn,
               "SELECT set_config('statement_timeout', $1, true), "
               "set_config('lock_timeout', $1, true)",
               std::to_string(ms));
  return absl::OkStatus();
}

}  // namespace deja
