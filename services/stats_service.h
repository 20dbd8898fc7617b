#ifndef DEJA_SERVICES_STATS_SERVICE_H_
#define DEJA_SERVICES_STATS_SERVICE_H_

// deja.v1.StatsService over a StatsStore: each call is validated
// (core/stats_validation.h: INVALID_ARGUMENT naming the field), then passed
// to the store with the current time (which decides what is overdue). Store
// errors reach the client with their code and message unchanged.
//
// Thread-safe as far as the store is. The store must outlive the service.

#include "core/stats_store.h"
#include "services/proto_service.h"

namespace deja {

class StatsService : public ProtoService {
 public:
  explicit StatsService(StatsStore& store);

 private:
  StatsStore& store_;
};

}  // namespace deja

#endif  // DEJA_SERVICES_STATS_SERVICE_H_
