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

absl::Status SerializeResponse(const Message& response,
                               grpc::ByteBuffer& response_bytes) {
  bool own_buffer = false;
  const grpc::Status serialized = grpc::SerializationTraits<Message>::Serialize(
      response, &response_bytes, &own_buffer);
  if (!serialized.ok()) {
    return absl::InternalError(
        absl::StrCat("response not serialized: ", serialized.error_message()));
  }
  return absl::OkStatus();
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
  return SerializeResponse(*response, response_bytes);
}

const char* TransportName(RpcTransport transport) {
  return transport == RpcTransport::kHttp ? "http" : "grpc";
}

}  // namespace

RpcMetrics::RpcMetrics(MetricsRegistry& registry)
    : requests_(registry.AddCounter(
          "deja_rpc_requests_total",
          "Calls answered, by method, status code and transport (grpc, or "
          "http for the HTTP/JSON gateway).",
          {"method", "code", "transport"})),
      duration_(registry.AddHistogram(
          "deja_rpc_duration_seconds",
          "Time from a call's arrival at its handler to its answer, by "
          "method and status code, both transports.",
          {"method", "code"}, DefaultLatencyBuckets())),
      database_errors_(registry
                           .AddCounter("deja_database_errors_total",
                                       "Calls of PostgreSQL-backed methods "
                                       "answered UNAVAILABLE or INTERNAL, and "
                                       "failed reads of /metrics' gauges.")
                           .WithLabels({})) {}

ProtoService::ProtoService(const google::protobuf::ServiceDescriptor& service)
    : service_(service) {}

void ProtoService::SetMetrics(RpcMetrics* metrics, bool database_backed) {
  metrics_ = metrics;
  database_backed_ = database_backed;
}

const MethodDescriptor* ProtoService::FindMethod(
    absl::string_view method) const {
  for (const Method& registered : methods_) {
    if (registered.descriptor->name() == method) return registered.descriptor;
  }
  return nullptr;
}

absl::Status ProtoService::Invoke(absl::string_view method,
                                  const Message& request, Message& response,
                                  RpcTransport transport) {
  Method* found = nullptr;
  for (Method& registered : methods_) {
    if (registered.descriptor->name() == method) found = &registered;
  }
  if (found == nullptr || !found->handler) {
    return absl::UnimplementedError(
        absl::StrCat(service_.full_name(), " has no unary method ", method));
  }
  if (request.GetDescriptor() != found->request_prototype->GetDescriptor() ||
      response.GetDescriptor() != found->response_prototype->GetDescriptor()) {
    return absl::InternalError(
        absl::StrCat("bug: ", found->path, " invoked with ",
                     request.GetDescriptor()->full_name(), " -> ",
                     response.GetDescriptor()->full_name()));
  }
  response.Clear();
  return Serve(*found, transport, [found, &request, &response] {
    // No call behind it: no deadline, never cancelled.
    grpc::ServerContext context;
    return found->handler(context, request, response);
  });
}

absl::Status ProtoService::Serve(Method& method, RpcTransport transport,
                                 const std::function<absl::Status()>& call) {
  const absl::Time start = absl::Now();
  absl::Status status;
  try {
    status = call();
  } catch (const std::exception& e) {
    status = absl::InternalError(absl::StrCat("unexpected error: ", e.what()));
  } catch (...) {
    status = absl::InternalError("unexpected error");
  }
  if (IsServerSideFailure(status.code())) {
    LogEvent(absl::StrCat(absl::string_view(method.path).substr(1),
                          " failed: ", absl::StatusCodeToString(status.code()),
                          ": ", status.message()));
  }
  Record(method, transport, status.code(), absl::Now() - start);
  return status;
}

absl::Status ProtoService::CountRefused(absl::string_view method,
                                        absl::Status status,
                                        RpcTransport transport) {
  for (Method& registered : methods_) {
    if (registered.descriptor->name() == method) {
      Record(registered, transport, status.code(), absl::ZeroDuration());
      break;
    }
  }
  return status;
}

void ProtoService::Record(Method& method, RpcTransport transport,
                          absl::StatusCode code, absl::Duration elapsed) {
  if (metrics_ == nullptr || transport == RpcTransport::kInternal) return;
  int code_index = static_cast<int>(code);
  if (code_index < 0 || code_index >= kStatusCodes) {
    code = absl::StatusCode::kUnknown;
    code_index = static_cast<int>(code);
  }
  const absl::string_view name = absl::string_view(method.path).substr(1);
  // Lookups race harmlessly: WithLabels returns the same metric to both.
  std::atomic<Counter*>& slot =
      method.requests[static_cast<int>(transport) * kStatusCodes + code_index];
  Counter* requests = slot.load(std::memory_order_acquire);
  if (requests == nullptr) {
    requests = &metrics_->requests().WithLabels({std::string(name),
                                                 absl::StatusCodeToString(code),
                                                 TransportName(transport)});
    slot.store(requests, std::memory_order_release);
  }
  requests->Increment();
  std::atomic<Histogram*>& duration_slot = method.duration[code_index];
  Histogram* duration = duration_slot.load(std::memory_order_acquire);
  if (duration == nullptr) {
    duration = &metrics_->duration().WithLabels(
        {std::string(name), absl::StatusCodeToString(code)});
    duration_slot.store(duration, std::memory_order_release);
  }
  duration->Observe(absl::ToDoubleSeconds(elapsed));
  if (database_backed_ && (code == absl::StatusCode::kUnavailable ||
                           code == absl::StatusCode::kInternal)) {
    metrics_->database_errors().Increment();
  }
}

ProtoService::Method& ProtoService::Register(
    absl::string_view method, bool client_streaming,
    const Message& request_prototype, const Message& response_prototype) {
  const MethodDescriptor* descriptor =
      service_.FindMethodByName(std::string(method));
  if (descriptor == nullptr ||
      descriptor->client_streaming() != client_streaming ||
      descriptor->server_streaming() ||
      descriptor->input_type() != request_prototype.GetDescriptor() ||
      descriptor->output_type() != response_prototype.GetDescriptor()) {
    LogEvent(absl::StrCat("bug: ", service_.full_name(), " has no ",
                          client_streaming ? "client-streaming" : "unary",
                          " method ", method, " with these types"));
    std::abort();
  }
  Method& registered = methods_.emplace_back();
  registered.descriptor = descriptor;
  registered.path =
      absl::StrCat("/", service_.full_name(), "/", descriptor->name());
  registered.request_prototype = &request_prototype;
  registered.response_prototype = &response_prototype;
  return registered;
}

void ProtoService::AddMessageMethod(absl::string_view method,
                                    const Message& request_prototype,
                                    const Message& response_prototype,
                                    MessageHandler handler) {
  Method& registered = Register(method, /*client_streaming=*/false,
                                request_prototype, response_prototype);
  registered.handler = std::move(handler);
  auto serve = [this, &registered](ProtoService*, grpc::ServerContext* context,
                                   const grpc::ByteBuffer* request,
                                   grpc::ByteBuffer* response) {
    return ToGrpcStatus(Serve(registered, RpcTransport::kGrpc,
                              [&registered, context, request, response] {
                                return Run(*registered.request_prototype,
                                           *registered.response_prototype,
                                           registered.handler, *context,
                                           *request, *response);
                              }));
  };
  AddMethod(new grpc::internal::RpcServiceMethod(
      registered.path.c_str(), grpc::internal::RpcMethod::NORMAL_RPC,
      new grpc::internal::RpcMethodHandler<ProtoService, grpc::ByteBuffer,
                                           grpc::ByteBuffer>(std::move(serve),
                                                             this)));
}

void ProtoService::AddStreamMethod(absl::string_view method,
                                   const Message& request_prototype,
                                   const Message& response_prototype,
                                   StreamHandler handler) {
  Method& registered = Register(method, /*client_streaming=*/true,
                                request_prototype, response_prototype);
  registered.stream_handler = std::move(handler);
  auto serve = [this, &registered](ProtoService*, grpc::ServerContext* context,
                                   grpc::ServerReader<grpc::ByteBuffer>* reader,
                                   grpc::ByteBuffer* response_bytes) {
    return ToGrpcStatus(
        Serve(registered, RpcTransport::kGrpc,
              [&registered, context, reader, response_bytes]() -> absl::Status {
                const StreamReader<Message> next =
                    [reader](Message& request) -> absl::StatusOr<bool> {
                  grpc::ByteBuffer buffer;
                  if (!reader->Read(&buffer)) return false;
                  request.Clear();
                  DEJA_RETURN_IF_ERROR(ParseRequest(buffer, request));
                  return true;
                };
                std::unique_ptr<Message> response(
                    registered.response_prototype->New());
                DEJA_RETURN_IF_ERROR(
                    registered.stream_handler(*context, next, *response));
                return SerializeResponse(*response, *response_bytes);
              }));
  };
  AddMethod(new grpc::internal::RpcServiceMethod(
      registered.path.c_str(), grpc::internal::RpcMethod::CLIENT_STREAMING,
      new grpc::internal::ClientStreamingHandler<ProtoService, grpc::ByteBuffer,
                                                 grpc::ByteBuffer>(
          std::move(serve), this)));
}

}  // namespace deja
