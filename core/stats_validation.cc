#include "core/stats_validation.h"

#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "core/field_checks.h"
#include "core/status_macros.h"
#include "core/validation.h"

namespace deja {
namespace {

using checks::CheckName;
using checks::CheckText;
using checks::CheckTimestamp;
using checks::ElementPath;
using checks::Instant;
using checks::Invalid;

// How many buckets (ISO weeks or calendar months, UTC) the window
// [after, before) touches: those of its first and its last instant and all
// between, as the store's date_trunc makes them.
int64_t BucketsIn(const google::protobuf::Timestamp& after,
                  const google::protobuf::Timestamp& before, bool weekly) {
  const absl::TimeZone utc = absl::UTCTimeZone();
  const absl::CivilDay first = absl::ToCivilDay(
      absl::FromUnixSeconds(after.seconds()) + absl::Nanoseconds(after.nanos()),
      utc);
  const absl::CivilDay last = absl::ToCivilDay(
      absl::FromUnixSeconds(before.seconds()) +
          absl::Nanoseconds(before.nanos()) - absl::Nanoseconds(1),
      utc);
  if (weekly) {
    const absl::CivilDay first_monday =
        absl::PrevWeekday(first + 1, absl::Weekday::monday);
    const absl::CivilDay last_monday =
        absl::PrevWeekday(last + 1, absl::Weekday::monday);
    return (last_monday - first_monday) / 7 + 1;
  }
  const absl::CivilMonth first_month(first);
  const absl::CivilMonth last_month(last);
  return (last_month - first_month) + 1;
}

template <class Request>
absl::Status CheckFilter(const Request& request) {
  if (!request.team().empty()) {
    DEJA_RETURN_IF_ERROR(CheckName(request.team(), "team"));
  }
  if (!request.service().empty()) {
    DEJA_RETURN_IF_ERROR(CheckName(request.service(), "service"));
  }
  if (request.has_started_after()) {
    DEJA_RETURN_IF_ERROR(
        CheckTimestamp(request.started_after(), "started_after"));
  }
  if (request.has_started_before()) {
    DEJA_RETURN_IF_ERROR(
        CheckTimestamp(request.started_before(), "started_before"));
  }
  if (request.has_started_after() && request.has_started_before() &&
      Instant(request.started_before()) <= Instant(request.started_after())) {
    return Invalid("started_before", "must be after started_after");
  }
  return absl::OkStatus();
}

absl::Status CheckPostmortemIdField(const std::string& id,
                                    absl::string_view path) {
  if (id.empty()) return Invalid(path, "required");
  if (!IsUuid(id)) {
    return Invalid(path, absl::StrCat("not a valid postmortem id ('", id,
                                      "'; the full 36-character id)"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateStatsRequest(const v1::StatsRequest& request) {
  DEJA_RETURN_IF_ERROR(CheckFilter(request));
  if (request.limit() < 0 || request.limit() > kMaxStatsLimit) {
    return Invalid("limit", absl::StrCat("must be 0..", kMaxStatsLimit,
                                         ", not ", request.limit()));
  }
  return absl::OkStatus();
}

absl::Status ValidateTrendRequest(const v1::TrendRequest& request) {
  DEJA_RETURN_IF_ERROR(CheckFilter(request));
  if (!v1::TrendRequest::Interval_IsValid(request.interval())) {
    return Invalid(
        "interval",
        absl::StrCat("unknown value ", request.interval(), " (WEEK or MONTH)"));
  }
  if (!v1::TrendRequest::SplitBy_IsValid(request.split_by())) {
    return Invalid(
        "split_by",
        absl::StrCat("unknown value ", request.split_by(),
                     " (SEVERITY, SERVICE, CAUSE_CATEGORY or TEAM)"));
  }
  if (request.has_started_after() && request.has_started_before()) {
    const bool weekly = request.interval() == v1::TrendRequest::WEEK;
    const int64_t buckets =
        BucketsIn(request.started_after(), request.started_before(), weekly);
    if (buckets > kMaxTrendBuckets) {
      return Invalid("started_before",
                     absl::StrCat("the window spans ", buckets,
                                  weekly ? " weeks" : " months", ", at most ",
                                  kMaxTrendBuckets, " buckets"));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateListRecurrences(
    const v1::ListRecurrencesRequest& request) {
  if (!request.postmortem_id().empty()) {
    DEJA_RETURN_IF_ERROR(
        CheckPostmortemIdField(request.postmortem_id(), "postmortem_id"));
  }
  for (int i = 0; i < request.states_size(); ++i) {
    if (!v1::RecurrenceLink::State_IsValid(request.states(i)) ||
        request.states(i) == v1::RecurrenceLink::STATE_UNSPECIFIED) {
      return Invalid(ElementPath("states", i),
                     "must be SUGGESTED, CONFIRMED or REJECTED");
    }
  }
  if (request.page_size() < 0 || request.page_size() > kMaxRecurrencePageSize) {
    return Invalid("page_size",
                   absl::StrCat("must be 0..", kMaxRecurrencePageSize, ", not ",
                                request.page_size()));
  }
  return CheckText(request.page_token(), kMaxPageToken, "page_token");
}

absl::Status ValidateDecideRecurrence(
    const v1::DecideRecurrenceRequest& request) {
  DEJA_RETURN_IF_ERROR(
      CheckPostmortemIdField(request.postmortem_id(), "postmortem_id"));
  DEJA_RETURN_IF_ERROR(
      CheckPostmortemIdField(request.earlier_id(), "earlier_id"));
  if (absl::EqualsIgnoreCase(request.postmortem_id(), request.earlier_id())) {
    return Invalid("earlier_id", "must differ from postmortem_id");
  }
  if (request.decided_by().empty()) return Invalid("decided_by", "required");
  DEJA_RETURN_IF_ERROR(CheckName(request.decided_by(), "decided_by"));
  return CheckText(request.note(), kMaxLongText, "note");
}

int StatsLimit(const v1::StatsRequest& request) {
  return request.limit() == 0 ? kDefaultStatsLimit : request.limit();
}

}  // namespace deja
