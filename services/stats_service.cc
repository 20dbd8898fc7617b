#include "services/stats_service.h"

#include "absl/time/clock.h"
#include "core/stats_validation.h"
#include "core/status_macros.h"
#include "deja/v1/stats_service.pb.h"

namespace deja {
namespace {

// C++ generic services are off, so the descriptor comes from the file that
// declares the request types.
const google::protobuf::ServiceDescriptor& Descriptor() {
  return *v1::StatsRequest::descriptor()->file()->FindServiceByName(
      "StatsService");
}

}  // namespace

StatsService::StatsService(StatsStore& store)
    : ProtoService(Descriptor()), store_(store) {
  AddUnary<v1::StatsRequest, v1::Overview>(
      "GetOverview", [this](auto&, const auto& request, auto& response) {
        DEJA_RETURN_IF_ERROR(ValidateStatsRequest(request));
        DEJA_ASSIGN_OR_RETURN(response, store_.Overview(request, absl::Now()));
        return absl::OkStatus();
      });
  AddUnary<v1::TrendRequest, v1::Trend>(
      "GetTrend", [this](auto&, const auto& request, auto& response) {
        DEJA_RETURN_IF_ERROR(ValidateTrendRequest(request));
        DEJA_ASSIGN_OR_RETURN(response, store_.Trend(request));
        return absl::OkStatus();
      });
  AddUnary<v1::StatsRequest, v1::RecurrenceStats>(
      "GetRecurrenceStats", [this](auto&, const auto& request, auto& response) {
        DEJA_RETURN_IF_ERROR(ValidateStatsRequest(request));
        DEJA_ASSIGN_OR_RETURN(response, store_.Recurrence(request));
        return absl::OkStatus();
      });
  AddUnary<v1::StatsRequest, v1::ActionItemStats>(
      "GetActionItemStats", [this](auto&, const auto& request, auto& response) {
        DEJA_RETURN_IF_ERROR(ValidateStatsRequest(request));
        DEJA_ASSIGN_OR_RETURN(response,
                              store_.ActionItems(request, absl::Now()));
        return absl::OkStatus();
      });
}

}  // namespace deja
