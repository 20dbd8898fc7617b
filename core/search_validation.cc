#include "core/search_validation.h"

#include <cstdint>
#include <string>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "core/field_checks.h"
#include "core/status_macros.h"
#include "core/validation.h"

namespace deja {
namespace {

using checks::CheckName;
using checks::CheckNameList;
using checks::CheckText;
using checks::CheckTimestamp;
using checks::ElementPath;
using checks::Instant;
using checks::Invalid;

}  // namespace

absl::Status ValidateSearch(const v1::SearchRequest& request) {
  DEJA_RETURN_IF_ERROR(CheckText(request.query(), kMaxQuery, "query"));
  DEJA_RETURN_IF_ERROR(CheckNameList(request.services(), "services"));
  DEJA_RETURN_IF_ERROR(CheckNameList(request.teams(), "teams"));
  DEJA_RETURN_IF_ERROR(CheckNameList(request.tags(), "tags"));
  if (static_cast<size_t>(request.severities_size()) > kMaxListItems) {
    return Invalid("severities", "too many entries");
  }
  for (int i = 0; i < request.severities_size(); ++i) {
    const int value = request.severities(i);
    if (value == v1::SEVERITY_UNSPECIFIED || !v1::Severity_IsValid(value)) {
      return Invalid(ElementPath("severities", i),
                     absl::StrCat("unknown value ", value, " (SEV1 to SEV5)"));
    }
  }
  if (static_cast<size_t>(request.cause_categories_size()) > kMaxListItems) {
    return Invalid("cause_categories", "too many entries");
  }
  for (int i = 0; i < request.cause_categories_size(); ++i) {
    const int value = request.cause_categories(i);
    if (value == v1::RootCause::CATEGORY_UNSPECIFIED ||
        !v1::RootCause::Category_IsValid(value)) {
      return Invalid(ElementPath("cause_categories", i),
                     absl::StrCat("unknown value ", value));
    }
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
  if (!v1::SearchRequest::Sort_IsValid(request.sort())) {
    return Invalid("sort", absl::StrCat("unknown value ", request.sort()));
  }
  if (request.page_size() < 0) {
    return Invalid("page_size", "must not be negative");
  }
  if (request.page_size() > kMaxSearchPageSize) {
    return Invalid("page_size", absl::StrCat("at most ", kMaxSearchPageSize));
  }
  return CheckText(request.page_token(), kMaxPageToken, "page_token");
}

absl::Status ValidateFindSimilar(const v1::FindSimilarRequest& request) {
  DEJA_RETURN_IF_ERROR(CheckText(request.symptoms(), kMaxSymptoms, "symptoms"));
  if (static_cast<size_t>(request.log_lines_size()) > kMaxListItems) {
    return Invalid("log_lines",
                   absl::StrCat("too many entries (", request.log_lines_size(),
                                ", at most ", kMaxListItems, ")"));
  }
  size_t log_bytes = 0;
  for (int i = 0; i < request.log_lines_size(); ++i) {
    DEJA_RETURN_IF_ERROR(CheckText(request.log_lines(i), kMaxLogLine,
                                   ElementPath("log_lines", i)));
    log_bytes += request.log_lines(i).size();
  }
  if (log_bytes > kMaxLogLinesTotal) {
    return Invalid("log_lines",
                   absl::StrCat("too long in total (", log_bytes,
                                " bytes, at most ", kMaxLogLinesTotal, ")"));
  }
  DEJA_RETURN_IF_ERROR(CheckNameList(request.services(), "services"));
  if (request.has_started_before()) {
    DEJA_RETURN_IF_ERROR(
        CheckTimestamp(request.started_before(), "started_before"));
  }
  if (request.limit() < 0) return Invalid("limit", "must not be negative");
  if (request.limit() > kMaxSimilarLimit) {
    return Invalid("limit", absl::StrCat("at most ", kMaxSimilarLimit));
  }
  DEJA_RETURN_IF_ERROR(
      CheckText(request.postmortem_id(), kMaxShortText, "postmortem_id"));

  bool has_log_line = false;
  for (const std::string& line : request.log_lines()) {
    if (!absl::StripAsciiWhitespace(line).empty()) has_log_line = true;
  }
  const bool has_symptoms =
      !absl::StripAsciiWhitespace(request.symptoms()).empty();
  if (!request.postmortem_id().empty()) {
    if (!IsUuid(request.postmortem_id())) {
      return Invalid("postmortem_id", "not a valid postmortem id");
    }
    if (!request.symptoms().empty() || request.log_lines_size() > 0 ||
        request.services_size() > 0) {
      return Invalid("postmortem_id",
                     "describes the incident by itself: leave symptoms, "
                     "log_lines and services empty");
    }
    return absl::OkStatus();
  }
  if (!has_symptoms && !has_log_line) {
    return Invalid("symptoms",
                   "required: give symptoms, log_lines or postmortem_id");
  }
  return absl::OkStatus();
}

}  // namespace deja
