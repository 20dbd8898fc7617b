#ifndef DEJA_CORE_FIELD_CHECKS_H_
#define DEJA_CORE_FIELD_CHECKS_H_

// Field checks shared by the request validators of the read services
// (search, stats, recurrence): each returns OK or INVALID_ARGUMENT whose
// message starts with the field path ("team: too long (...)").

#include <google/protobuf/repeated_field.h>
#include <google/protobuf/timestamp.pb.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace deja::checks {

absl::Status Invalid(absl::string_view path, absl::string_view problem);

std::string ElementPath(absl::string_view list, int index);

// Valid UTF-8 without NUL, at most `max_bytes`.
absl::Status CheckText(absl::string_view text, size_t max_bytes,
                       absl::string_view path);

// A filter value: one line, not blank, at most kMaxShortText.
absl::Status CheckName(absl::string_view text, absl::string_view path);

absl::Status CheckNameList(
    const google::protobuf::RepeatedPtrField<std::string>& names,
    absl::string_view path);

// 1900..9999, the range a postmortem's times may have.
absl::Status CheckTimestamp(const google::protobuf::Timestamp& time,
                            absl::string_view path);

// For ordering timestamps.
std::pair<int64_t, int32_t> Instant(const google::protobuf::Timestamp& time);

}  // namespace deja::checks

#endif  // DEJA_CORE_FIELD_CHECKS_H_
