#include "services/proto_service.h"

#include <grpcpp/impl/codegen/proto_utils.h>
#include <grpcpp/impl/rpc_service_method.h>
#include <grpcpp/support/method_handler.h>

#include <cstdlib>
#include <exception>
#include <memory>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/event_log.h"
#include "core/status_macros.h"
#include "core/validation.h"
#include "services/grpc_status.h"

namespace deja {
namespace {

using google::protobuf::Message;
using google::protobuf::MethodDescriptor;

// Codes that say the server or its database is in trouble: worth a log line.
// The others are the client's own mistakes and would only add noise.
bool IsServerSideFailure(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kUnknown:
    case absl::StatusCode::kDeadlineExceeded:
    case absl::StatusCode::kResourceExhausted:
    case absl::StatusCode::kUnimplemented:
    case absl::StatusCode::kInternal:
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDataLoss:
      return true;
    default:
      return false;
  }
}

absl::Status ParseRequest(const grpc::ByteBuffer& buffer, Message& request) {
  std::vector<grpc::Slice> slices;
  if (!buffer.Dump(&slices).ok()) {
    return absl::InvalidArgumentError("request could not be read");
  }
  std::string bytes;
  for (const grpc::Slice& slice : slices) {
    bytes.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
  }
  if (request.ParseFromString(bytes)) return absl::OkStatus();
  const std::string field =
      FindInvalidUtf8Field(*request.GetDescriptor(), bytes);
  if (!field.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": not valid UTF-8"));
  }
  return absl::InvalidArgumentError(
      absl::StrCat("request is not a valid ",
                   request.GetDescriptor()->full_name(), " message"));
}

absl::Status Run(
    const Message& request_prototype, const Message& response_prototype,
    const std::function<absl::Status(grpc::ServerContext&, const Message&,
                                     Message&)>& handler,
    grpc::ServerContext& context, const grpc::ByteBuffer& request_bytes,
    grpc::ByteBuffer& response_bytes) {
  std::unique_ptr<Message> request(request_prototype.New());
  DEJA_RETURN_IF_ERROR(ParseRequest(request_bytes, *request));
  std::unique_ptr<Message> response(response_prototype.New());
  DEJA_RETURN_IF_ERROR(handler(context, *request, *response));
  bool own_buffer = false;
  const grpc::Status serialized = grpc::SerializationTraits<Message>::Serialize(
      *response, &response_bytes, &own_buffer);
  if (!serialized.ok()) {
    return absl::InternalError(
        absl::StrCat("response not serialized: ", serialized.error_message()));
  }
  return absl::OkStatus();
}

}  // namespace

ProtoService::ProtoService(const google::protobuf::ServiceDescriptor& service)
    : service_(service) {}

void ProtoService::AddMessageMethod(absl::string_view method,
                                    const Message& request_prototype,
                                    const Message& response_prototype,
                                    MessageHandler handler) {
  const MethodDescriptor* descriptor =
      service_.FindMethodByName(std::string(method));
  if (descriptor == nullptr || descriptor->client_streaming() ||
      descriptor->server_streaming() ||
      descriptor->input_type() != request_prototype.GetDescriptor() ||
      descriptor->output_type() != response_prototype.GetDescriptor()) {
    LogEvent(absl::StrCat("bug: ", service_.full_name(),
                          " has no unary method ", method,
                          " with these types"));
    std::abort();
  }
  const std::string& path = method_paths_.emplace_back(
      absl::StrCat("/", service_.full_name(), "/", descriptor->name()));
  auto serve = [&request_prototype, &response_prototype, &path,
                handler = std::move(handler)](ProtoService*,
                                              grpc::ServerContext* context,
                                              const grpc::ByteBuffer* request,
                                              grpc::ByteBuffer* response) {
    absl::Status status;
    try {
      status = Run(request_prototype, response_prototype, handler, *context,
                   *request, *response);
    } catch (const std::exception& e) {
      status =
          absl::InternalError(absl::StrCat("unexpected error: ", e.what()));
    } catch (...) {
      status = absl::InternalError("unexpected error");
    }
    if (IsServerSideFailure(status.code())) {
      LogEvent(absl::StrCat(absl::string_view(path).substr(1), " failed: ",
                            absl::StatusCodeToString(status.code()), ": ",
                            status.message()));
    }
    return ToGrpcStatus(status);
  };
  AddMethod(new grpc::internal::RpcServiceMethod(
      path.c_str(), grpc::internal::RpcMethod::NORMAL_RPC,
      new grpc::internal::RpcMethodHandler<ProtoService, grpc::ByteBuffer,
                                           grpc::ByteBuffer>(std::move(serve),
                                                             this)));
}

}  // namespace deja
