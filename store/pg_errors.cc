#include "store/pg_errors.h"

#include <pqxx/pqxx>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "core/event_log.h"

namespace deja {
namespace {

// libpq messages end with a newline and sometimes carry a second line
// ("DETAIL: ..."): OneLine keeps them on one line for the event log.
absl::Status Unavailable(absl::string_view what, absl::string_view message) {
  return absl::UnavailableError(
      absl::StrCat(what, ": database unavailable: ", OneLine(message)));
}

absl::Status FromSqlState(const std::string& state, absl::string_view what,
                          absl::string_view message) {
  const std::string text = OneLine(message);
  if (state == "57014") {
    return absl::DeadlineExceededError(
        absl::StrCat(what, ": statement canceled or timed out: ", text));
  }
  // lock_timeout, which the store sets to the time left (no NOWAIT is used).
  if (state == "55P03") {
    return absl::DeadlineExceededError(
        absl::StrCat(what, ": lock wait timed out: ", text));
  }
  if (state == "40001" || state == "40P01") {
    return absl::AbortedError(
        absl::StrCat(what, ": transaction conflict, retry: ", text));
  }
  if (state == "40003") {
    return absl::UnavailableError(
        absl::StrCat(what, ": database unavailable, outcome unknown: ", text));
  }
  if (state == "23505")
    return absl::AlreadyExistsError(absl::StrCat(what, ": ", text));
  if (absl::StartsWith(state, "23")) {
    return absl::FailedPreconditionError(absl::StrCat(what, ": ", text));
  }
  if (absl::StartsWith(state, "53") || absl::StartsWith(state, "08") ||
      state == "57P01" || state == "57P02" || state == "57P03") {
    return Unavailable(what, text);
  }
  // Including 22xxx (data exception): validation refuses bad client data
  // before any SQL runs, so one reaching the database is a server bug.
  return absl::InternalError(absl::StrCat(
      what, ": SQLSTATE ", state.empty() ? "unknown" : state, ": ", text));
}

}  // namespace

std::string SqlStateOf(const std::exception& e) {
  if (const auto* sql = dynamic_cast<const pqxx::sql_error*>(&e)) {
    return sql->sqlstate();
  }
  // libpqxx 6.4 throws these outside the sql_error hierarchy, without the
  // SQLSTATE; restore it from the class.
  if (dynamic_cast<const pqxx::serialization_failure*>(&e)) return "40001";
  if (dynamic_cast<const pqxx::deadlock_detected*>(&e)) return "40P01";
  if (dynamic_cast<const pqxx::statement_completion_unknown*>(&e)) {
    return "40003";
  }
  return "";
}

absl::Status StatusFromPqxx(const std::exception& e, absl::string_view what) {
  if (dynamic_cast<const pqxx::broken_connection*>(&e)) {
    return Unavailable(what, e.what());
  }
  if (dynamic_cast<const pqxx::in_doubt_error*>(&e)) {
    return absl::UnavailableError(absl::StrCat(
        what, ": database unavailable, outcome unknown: ", OneLine(e.what())));
  }
  if (dynamic_cast<const pqxx::sql_error*>(&e) ||
      dynamic_cast<const pqxx::transaction_rollback*>(&e)) {
    return FromSqlState(SqlStateOf(e), what, e.what());
  }
  // libpqxx reports a connection lost in the middle of a commit or a query
  // as a plain failure in some paths; its message says so.
  if (dynamic_cast<const pqxx::failure*>(&e)) {
    const absl::string_view message = e.what();
    if (absl::StrContains(message, "onnection") &&
        (absl::StrContains(message, "lost") ||
         absl::StrContains(message, "closed") ||
         absl::StrContains(message, "broken"))) {
      return Unavailable(what, message);
    }
  }
  return absl::InternalError(absl::StrCat(what, ": ", OneLine(e.what())));
}

}  // namespace deja
