#ifndef DEJA_CORE_SEARCH_VALIDATION_H_
#define DEJA_CORE_SEARCH_VALIDATION_H_

// Checks SearchService requests before they reach the index. OK or
// INVALID_ARGUMENT whose message starts with the field path, e.g.
// "query: too long (10240 bytes, at most 4096)", as in core/validation.h.
// Pure functions, thread-safe.

#include <cstddef>

#include "absl/status/status.h"
#include "deja/v1/search_service.pb.h"

namespace deja {

inline constexpr size_t kMaxQuery = 4096;
inline constexpr size_t kMaxSymptoms = 16 * 1024;
// All of a FindSimilar request's log lines together: each line may be
// kMaxLogLine long, but 200 of them would make one request a megabyte of
// words to weigh.
inline constexpr size_t kMaxLogLinesTotal = 64 * 1024;
inline constexpr int kMaxSearchPageSize = 100;
inline constexpr int kMaxSimilarLimit = 50;

absl::Status ValidateSearch(const v1::SearchRequest& request);

// Needs symptoms, log_lines or postmortem_id; postmortem_id excludes the
// other descriptions (symptoms, log_lines, services).
absl::Status ValidateFindSimilar(const v1::FindSimilarRequest& request);

}  // namespace deja

#endif  // DEJA_CORE_SEARCH_VALIDATION_H_
