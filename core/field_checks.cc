#include "core/field_checks.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "core/status_macros.h"
#include "core/validation.h"

namespace deja::checks {
namespace {

// The same instant range core/validation.cc accepts for postmortems, so a
// filter can name any time a postmortem can hold.
constexpr int64_t kMinTimestampSeconds = -2208988800;   // 1900-01-01
constexpr int64_t kMaxTimestampSeconds = 253402300799;  // 9999-12-31
constexpr int32_t kMaxNanos = 999999999;

}  // namespace

absl::Status Invalid(absl::string_view path, absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat(path, ": ", problem));
}

std::string ElementPath(absl::string_view list, int index) {
  return absl::StrCat(list, "[", index, "]");
}

absl::Status CheckText(absl::string_view text, size_t max_bytes,
                       absl::string_view path) {
  // Size first: a 10 KB query hears that it is too long, whatever else.
  if (text.size() > max_bytes) {
    return Invalid(path, absl::StrCat("too long (", text.size(),
                                      " bytes, at most ", max_bytes, ")"));
  }
  if (!IsCleanUtf8(text)) {
    return Invalid(path, "not valid UTF-8 or contains a NUL byte");
  }
  return absl::OkStatus();
}

absl::Status CheckName(absl::string_view text, absl::string_view path) {
  DEJA_RETURN_IF_ERROR(CheckText(text, kMaxShortText, path));
  if (absl::StripAsciiWhitespace(text).empty()) return Invalid(path, "empty");
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7F) {
      return Invalid(path, "control characters are not allowed");
    }
  }
  return absl::OkStatus();
}

absl::Status CheckNameList(
    const google::protobuf::RepeatedPtrField<std::string>& names,
    absl::string_view path) {
  if (static_cast<size_t>(names.size()) > kMaxListItems) {
    return Invalid(path, absl::StrCat("too many entries (", names.size(),
                                      ", at most ", kMaxListItems, ")"));
  }
  for (int i = 0; i < names.size(); ++i) {
    DEJA_RETURN_IF_ERROR(CheckName(names[i], ElementPath(path, i)));
  }
  return absl::OkStatus();
}

absl::Status CheckTimestamp(const google::protobuf::Timestamp& time,
                            absl::string_view path) {
  if (time.seconds() < kMinTimestampSeconds ||
      time.seconds() > kMaxTimestampSeconds) {
    return Invalid(path, "out of range (1900..9999)");
  }
  if (time.nanos() < 0 || time.nanos() > kMaxNanos) {
    return Invalid(path, "not a valid time (nanos must be 0..999999999)");
  }
  return absl::OkStatus();
}

std::pair<int64_t, int32_t> Instant(const google::protobuf::Timestamp& time) {
  return {time.seconds(), time.nanos()};
}

}  // namespace deja::checks
