#include "services/recurrence_service.h"

#include "core/stats_validation.h"
#include "core/status_macros.h"
#include "deja/v1/recurrence_service.pb.h"

namespace deja {
namespace {

// C++ generic services are off, so the descriptor comes from the file that
// declares the request types.
const google::protobuf::ServiceDescriptor& Descriptor() {
  return *v1::RecurrenceLink::descriptor()->file()->FindServiceByName(
      "RecurrenceService");
}

}  // namespace

RecurrenceService::RecurrenceService(RecurrenceStore& store)
    : ProtoService(Descriptor()), store_(store) {
  AddUnary<v1::ListRecurrencesRequest, v1::ListRecurrencesResponse>(
      "ListRecurrences", [this](auto&, const auto& request, auto& response) {
        DEJA_RETURN_IF_ERROR(ValidateListRecurrences(request));
        DEJA_ASSIGN_OR_RETURN(response, store_.List(request));
        return absl::OkStatus();
      });
  AddUnary<v1::DecideRecurrenceRequest, v1::RecurrenceLink>(
      "ConfirmRecurrence", [this](auto&, const auto& request, auto& response) {
        DEJA_RETURN_IF_ERROR(ValidateDecideRecurrence(request));
        DEJA_ASSIGN_OR_RETURN(
            response, store_.Decide(request, v1::RecurrenceLink::CONFIRMED));
        return absl::OkStatus();
      });
  AddUnary<v1::DecideRecurrenceRequest, v1::RecurrenceLink>(
      "RejectRecurrence", [this](auto&, const auto& request, auto& response) {
        DEJA_RETURN_IF_ERROR(ValidateDecideRecurrence(request));
        DEJA_ASSIGN_OR_RETURN(
            response, store_.Decide(request, v1::RecurrenceLink::REJECTED));
        return absl::OkStatus();
      });
}

}  // namespace deja
