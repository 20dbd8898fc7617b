#ifndef DEJA_SERVICES_RECURRENCE_SERVICE_H_
#define DEJA_SERVICES_RECURRENCE_SERVICE_H_

// deja.v1.RecurrenceService over a RecurrenceStore: each call is validated
// (core/stats_validation.h: INVALID_ARGUMENT naming the field), then passed
// to the store; ConfirmRecurrence and RejectRecurrence decide the link
// CONFIRMED or REJECTED. Store errors (NOT_FOUND naming the pair,
// UNAVAILABLE, ...) reach the client with their code and message unchanged.
//
// Thread-safe as far as the store is. The store must outlive the service.

#include "core/recurrence_store.h"
#include "services/proto_service.h"

namespace deja {

class RecurrenceService : public ProtoService {
 public:
  explicit RecurrenceService(RecurrenceStore& store);

 private:
  RecurrenceStore& store_;
};

}  // namespace deja

#endif  // DEJA_SERVICES_RECURRENCE_SERVICE_H_
