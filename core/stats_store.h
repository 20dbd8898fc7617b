#ifndef DEJA_CORE_STATS_STORE_H_
#define DEJA_CORE_STATS_STORE_H_

// Statistics over the system of record, as StatsService and /metrics see
// them. The PostgreSQL implementation (store/pg_stats_store.h) answers with
// SQL aggregates over the views of schema/0003_recurrence_and_stats.sql.
//
// Every method is thread-safe and takes a request that ValidateStatsRequest()
// (core/stats_validation.h) accepted. `now` decides which open action items
// are overdue (due before now's UTC date) and the "last 30 days". Errors:
// UNAVAILABLE when the database cannot be reached.

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "deja/v1/stats_service.pb.h"

namespace deja {

class StatsStore {
 public:
  virtual ~StatsStore() = default;

  virtual absl::StatusOr<v1::Overview> Overview(const v1::StatsRequest& request,
                                                absl::Time now) = 0;
  virtual absl::StatusOr<v1::Trend> Trend(const v1::TrendRequest& request) = 0;
  virtual absl::StatusOr<v1::RecurrenceStats> Recurrence(
      const v1::StatsRequest& request) = 0;
  virtual absl::StatusOr<v1::ActionItemStats> ActionItems(
      const v1::StatsRequest& request, absl::Time now) = 0;
};

}  // namespace deja

#endif  // DEJA_CORE_STATS_STORE_H_
