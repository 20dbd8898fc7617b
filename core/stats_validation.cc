#include "core/stats_validation.h"

#include <string>

#include "absl/strings/str_cat.h"
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

// The longest span a bucket can have, for the explicit-window bucket bound.
constexpr int64_t kSecondsPerWeek = 7 * 24 * 3600;
constexpr int64_t kSecondsPerMonth = 28 * 24 * 3600;  // the shortest month

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
  if (!IsUuid(id)) return Invalid(path, "not a valid postmortem id");
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
    const int64_t span =
        request.started_before().seconds() - request.started_after().seconds();
    const int64_t buckets =
        span / (weekly ? kSecondsPerWeek : kSecondsPerMonth) + 1;
    if (buckets > kMaxTrendBuckets) {
      return Invalid("started_before",
                     absl::StrCat("the window spans about ", buckets,
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
  if (request.postmortem_id() == request.earlier_id()) {
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
