#include "store/pg_transaction.h"

#include <cstdint>
#include <limits>
#include <string>

namespace deja {

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
  txn.exec_params(
      "SELECT set_config('statement_timeout', $1, true), "
      "set_config('lock_timeout', $1, true)",
      std::to_string(ms));
  return absl::OkStatus();
}

}  // namespace deja
