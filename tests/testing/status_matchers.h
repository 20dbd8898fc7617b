#ifndef DEJA_TESTS_TESTING_STATUS_MATCHERS_H_
#define DEJA_TESTS_TESTING_STATUS_MATCHERS_H_

// Matchers for the validators' answers. Debian's abseil has no StatusIs.

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"

namespace deja::testing {

// INVALID_ARGUMENT whose message starts with `path` followed by ": ".
MATCHER_P(IsInvalidAt, path,
          absl::StrCat("is INVALID_ARGUMENT naming ", path)) {
  if (arg.code() != absl::StatusCode::kInvalidArgument) {
    *result_listener << "status is " << arg;
    return false;
  }
  if (!absl::StartsWith(arg.message(), absl::StrCat(path, ": "))) {
    *result_listener << "message is \"" << arg.message() << "\"";
    return false;
  }
  return true;
}

MATCHER(IsOk, "is OK") {
  *result_listener << "status is " << arg;
  return arg.ok();
}

}  // namespace deja::testing

#endif  // DEJA_TESTS_TESTING_STATUS_MATCHERS_H_
