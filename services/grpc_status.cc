#include "services/grpc_status.h"

#include <string>

namespace deja {

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  const int code = static_cast<int>(status.code());
  // absl::StatusCode and grpc::StatusCode share their numbering (0..16).
  const bool known = code > 0 && code <= grpc::StatusCode::UNAUTHENTICATED;
  return grpc::Status(
      known ? static_cast<grpc::StatusCode>(code) : grpc::StatusCode::UNKNOWN,
      std::string(status.message()));
}

}  // namespace deja
