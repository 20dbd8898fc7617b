#ifndef DEJA_SERVICES_PROTO_SERVICE_H_
#define DEJA_SERVICES_PROTO_SERVICE_H_

// A sync gRPC service whose unary and client-streaming methods receive the
// raw request bytes and parse them here, instead of letting gRPC parse them.
// The reason: a proto3 string holding invalid UTF-8 fails to parse, and gRPC
// would answer INTERNAL before any handler runs; here the client gets
// INVALID_ARGUMENT naming the field ("postmortem.title: not valid UTF-8").
//
// This needs grpc::internal::RpcServiceMethod and RpcMethodHandler, which are
// not gRPC's stable API: it is pinned to gRPC 1.51 (Debian 12), and the
// raw-bytes tests (unit and e2e) catch a gRPC that changes them.
//
// Method paths come from the generated ServiceDescriptor, so clients,
// generated stubs and server reflection see the usual service. Every
// handler's exception becomes INTERNAL (gRPC would say UNKNOWN), and failures
// that point at the server (UNAVAILABLE, INTERNAL, DEADLINE_EXCEEDED, ...) are
// logged one line each; client mistakes (INVALID_ARGUMENT, NOT_FOUND,
// ABORTED, ...) are not. Register every method in the subclass constructor,
// before the service is added to a server. Handlers run on gRPC's threads
// concurrently.
//
// Invoke() runs a registered method in-process (the HTTP/JSON gateway uses
// it), through the same handler, error handling, logging and metrics as a
// gRPC call, so both transports give the same answers and the same counts.

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>
#include <grpcpp/impl/service_type.h>
#include <grpcpp/server_context.h>
#include <grpcpp/support/byte_buffer.h>

#include <array>
#include <atomic>
#include <deque>
#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "services/metrics.h"

namespace deja {

// How a call reached its handler, for the metrics' `transport` label.
// kInternal is dejad asking itself (e.g. /metrics reading the index status):
// not client traffic, so not counted.
enum class RpcTransport { kGrpc = 0, kHttp = 1, kInternal = 2 };

// The metrics every ProtoService call updates: deja_rpc_requests_total
// {method, code, transport}, deja_rpc_duration_seconds{method, code} and
// deja_database_errors_total. `method` is the gRPC path without the
// leading slash ("deja.v1.StatsService/GetOverview"). One RpcMetrics serves
// any number of services; it must outlive them.
class RpcMetrics {
 public:
  explicit RpcMetrics(MetricsRegistry& registry);

  Family<Counter>& requests() { return requests_; }
  Family<Histogram>& duration() { return duration_; }
  Counter& database_errors() { return database_errors_; }

 private:
  Family<Counter>& requests_;
  Family<Histogram>& duration_;
  Counter& database_errors_;
};

class ProtoService : public grpc::Service {
 public:
  template <class Req, class Resp>
  using UnaryHandler =
      std::function<absl::Status(grpc::ServerContext&, const Req&, Resp&)>;

  // Reads the next message of a client stream into its argument: true when
  // one was read, false at the end of the stream, INVALID_ARGUMENT (named as
  // for a unary request) when a message does not parse.
  template <class Req>
  using StreamReader = std::function<absl::StatusOr<bool>(Req&)>;
  template <class Req, class Resp>
  using ClientStreamingHandler = std::function<absl::Status(
      grpc::ServerContext&, const StreamReader<Req>&, Resp&)>;

  // Counts and times every call in `metrics` from now on. With
  // `database_backed`, calls answered UNAVAILABLE or INTERNAL also count as
  // deja_database_errors_total (the service's handlers talk to PostgreSQL,
  // whose adapter reports those two codes). Call before serving, once.
  void SetMetrics(RpcMetrics* metrics, bool database_backed);

  // Runs `method` (e.g. "GetOverview") in-process on `request`, filling
  // `response` (cleared first) when the answer is OK. UNIMPLEMENTED when
  // there is no such unary method; INTERNAL when the message types do not match
  // (a programming error). Thread-safe like a gRPC call.
  absl::Status Invoke(absl::string_view method,
                      const google::protobuf::Message& request,
                      google::protobuf::Message& response,
                      RpcTransport transport = RpcTransport::kHttp);

  // Counts a call of `method` refused before its handler ran (an HTTP
  // request whose parameters or body could not be read) like any other
  // answer with `status`'s code; returns `status`.
  absl::Status CountRefused(absl::string_view method, absl::Status status,
                            RpcTransport transport = RpcTransport::kHttp);

  // The method named `method`, or nullptr; for building its request.
  const google::protobuf::MethodDescriptor* FindMethod(
      absl::string_view method) const;

 protected:
  // `service` is a generated descriptor (e.g.
  // v1::PostmortemService::descriptor()); it lives as long as the program.
  explicit ProtoService(const google::protobuf::ServiceDescriptor& service);

  // Serves `method` (its name in `service`, e.g. "SubmitPostmortem") with
  // `handler`. The response is sent only when the handler returns OK. Aborts
  // when the method is unknown or its types are not Req/Resp: a programming
  // error that every test catches.
  template <class Req, class Resp>
  void AddUnary(absl::string_view method, UnaryHandler<Req, Resp> handler) {
    AddMessageMethod(
        method, Req::default_instance(), Resp::default_instance(),
        [handler = std::move(handler)](grpc::ServerContext& context,
                                       const google::protobuf::Message& request,
                                       google::protobuf::Message& response) {
          return handler(context, static_cast<const Req&>(request),
                         static_cast<Resp&>(response));
        });
  }

  // Serves the client-streaming `method` with `handler`, as AddUnary does
  // for a unary one: the handler reads the stream's messages one at a time
  // and fills the single response.
  template <class Req, class Resp>
  void AddClientStreaming(absl::string_view method,
                          ClientStreamingHandler<Req, Resp> handler) {
    AddStreamMethod(method, Req::default_instance(), Resp::default_instance(),
                    [handler = std::move(handler)](
                        grpc::ServerContext& context,
                        const StreamReader<google::protobuf::Message>& next,
                        google::protobuf::Message& response) {
                      return handler(
                          context,
                          [&next](Req& request) { return next(request); },
                          static_cast<Resp&>(response));
                    });
  }

 private:
  using MessageHandler = std::function<absl::Status(
      grpc::ServerContext&, const google::protobuf::Message&,
      google::protobuf::Message&)>;
  using StreamHandler = std::function<absl::Status(
      grpc::ServerContext&, const StreamReader<google::protobuf::Message>&,
      google::protobuf::Message&)>;

  static constexpr int kStatusCodes = 17;  // OK .. UNAUTHENTICATED
  static constexpr int kTransports = 2;

  struct Method {
    const google::protobuf::MethodDescriptor* descriptor;
    // "/deja.v1.PostmortemService/SubmitPostmortem": grpc keeps only the
    // const char*, and a deque never moves its elements.
    std::string path;
    const google::protobuf::Message* request_prototype;
    const google::protobuf::Message* response_prototype;
    MessageHandler handler;        // unary methods
    StreamHandler stream_handler;  // client-streaming methods
    // This method's metrics, looked up on first use so that the hot path
    // takes no lock; indexed by transport * kStatusCodes + code.
    std::array<std::atomic<Counter*>, kStatusCodes * kTransports> requests{};
    std::array<std::atomic<Histogram*>, kStatusCodes> duration{};
  };

  void AddMessageMethod(absl::string_view method,
                        const google::protobuf::Message& request_prototype,
                        const google::protobuf::Message& response_prototype,
                        MessageHandler handler);
  void AddStreamMethod(absl::string_view method,
                       const google::protobuf::Message& request_prototype,
                       const google::protobuf::Message& response_prototype,
                       StreamHandler handler);
  // Registers a method whose descriptor must have these types and
  // streaming kind; aborts otherwise.
  Method& Register(absl::string_view method, bool client_streaming,
                   const google::protobuf::Message& request_prototype,
                   const google::protobuf::Message& response_prototype);

  // Runs `call` as `method`'s handler: exceptions become INTERNAL, server
  // side failures are logged, and the metrics are updated.
  absl::Status Serve(Method& method, RpcTransport transport,
                     const std::function<absl::Status()>& call);
  void Record(Method& method, RpcTransport transport, absl::StatusCode code,
              absl::Duration elapsed);

  const google::protobuf::ServiceDescriptor& service_;
  std::deque<Method> methods_;
  RpcMetrics* metrics_ = nullptr;
  bool database_backed_ = false;
};

}  // namespace deja

#endif  // DEJA_SERVICES_PROTO_SERVICE_H_
