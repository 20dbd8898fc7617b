#ifndef DEJA_CORE_STATS_VALIDATION_H_
#define DEJA_CORE_STATS_VALIDATION_H_

// Checks StatsService and RecurrenceService requests before they reach the
// database: OK or INVALID_ARGUMENT whose message starts with the field path
// ("limit: must be 0..100, not 500"). Pure functions, thread-safe.

#include "absl/status/status.h"
#include "deja/v1/recurrence_service.pb.h"
#include "deja/v1/stats_service.pb.h"

namespace deja {

inline constexpr int kMaxStatsLimit = 100;
inline constexpr int kDefaultStatsLimit = 10;
// A trend over an explicit window has at most this many buckets (19 years
// of weeks); over an open window, the store keeps the latest ones.
inline constexpr int kMaxTrendBuckets = 1000;
inline constexpr int kMaxRecurrencePageSize = 500;
inline constexpr int kDefaultRecurrencePageSize = 50;

absl::Status ValidateStatsRequest(const v1::StatsRequest& request);
absl::Status ValidateTrendRequest(const v1::TrendRequest& request);
absl::Status ValidateListRecurrences(const v1::ListRecurrencesRequest& request);
absl::Status ValidateDecideRecurrence(
    const v1::DecideRecurrenceRequest& request);

// The limit a valid request asks for (0 means the default).
int StatsLimit(const v1::StatsRequest& request);

}  // namespace deja

#endif  // DEJA_CORE_STATS_VALIDATION_H_
