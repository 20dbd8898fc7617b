#ifndef DEJA_SERVICES_PROTO_SERVICE_H_
#define DEJA_SERVICES_PROTO_SERVICE_H_

// A sync gRPC service whose unary methods receive the raw request bytes and
// parse them here, instead of letting gRPC parse them. The reason: a proto3
// string holding invalid UTF-8 fails to parse, and gRPC would answer INTERNAL
// before any handler runs; here the client gets INVALID_ARGUMENT naming the
// field ("postmortem.title: not valid UTF-8").
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

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>
#include <grpcpp/impl/service_type.h>
#include <grpcpp/server_context.h>
#include <grpcpp/support/byte_buffer.h>

#include <deque>
#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace deja {

class ProtoService : public grpc::Service {
 public:
  template <class Req, class Resp>
  using UnaryHandler =
      std::function<absl::Status(grpc::ServerContext&, const Req&, Resp&)>;

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

 private:
  using MessageHandler = std::function<absl::Status(
      grpc::ServerContext&, const google::protobuf::Message&,
      google::protobuf::Message&)>;

  void AddMessageMethod(absl::string_view method,
                        const google::protobuf::Message& request_prototype,
                        const google::protobuf::Message& response_prototype,
                        MessageHandler handler);

  const google::protobuf::ServiceDescriptor& service_;
  // "/deja.v1.PostmortemService/SubmitPostmortem": grpc keeps only the
  // const char*, and a deque never moves its elements.
  std::deque<std::string> method_paths_;
};

}  // namespace deja

#endif  // DEJA_SERVICES_PROTO_SERVICE_H_
