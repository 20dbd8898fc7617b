#ifndef DEJA_SERVICES_GRPC_STATUS_H_
#define DEJA_SERVICES_GRPC_STATUS_H_

// The one place where the code's errors become gRPC's: absl::Status uses
// gRPC's codes, so the code and message pass through unchanged.

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace deja {

// Same code, same message. A code outside gRPC's range becomes UNKNOWN.
grpc::Status ToGrpcStatus(const absl::Status& status);

}  // namespace deja

#endif  // DEJA_SERVICES_GRPC_STATUS_H_
