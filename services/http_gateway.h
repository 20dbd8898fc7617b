#ifndef DEJA_SERVICES_HTTP_GATEWAY_H_
#define DEJA_SERVICES_HTTP_GATEWAY_H_

// dejad's HTTP/JSON front for dashboards and monitoring (dejad
// --http-listen): statistics as JSON, a health check, and Prometheus
// metrics. It is a gateway, not a second implementation: every JSON route
// runs a ProtoService method in-process (ProtoService::Invoke), so HTTP and
// gRPC give the same answers and count in the same metrics.
//
//   GET  /v1/stats/overview?team=orders&started_after=2024-01-01T00:00:00Z
//   POST /v1/stats/overview   {"team": "orders"}      (proto3 JSON mapping)
//   GET  /healthz, /v1/health  200 {"status":"SERVING"} or 503
//   GET  /metrics              Prometheus text format 0.0.4
//
// Query parameters name the request message's fields (proto names, or their
// JSON names), so a new field needs no code here. Answers use the proto3
// JSON mapping with zeros and empty lists printed. Errors answer
// {"code": "INVALID_ARGUMENT", "message": "..."} with the HTTP status of
// HttpStatusFor(). Thread-safe; the services and registry must outlive it.

#include <google/protobuf/message.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "services/metrics.h"
#include "services/proto_service.h"

namespace httplib {
class Server;
}  // namespace httplib

namespace deja {

// A request's query parameters, decoded, in order per name (httplib::Params).
using QueryParameters = std::multimap<std::string, std::string>;

// Sets `request`'s fields from `parameters`: strings as given; numbers,
// bools and enum names (any case) parsed; google.protobuf.Timestamp as
// RFC 3339 ("2024-01-31T00:00:00Z"), Duration as "90s"; a repeated field
// takes the parameter once per value. INVALID_ARGUMENT whose message starts
// with the parameter's name for an unknown parameter, a bad value, a
// non-repeated field given twice, or a field that only a JSON body can set.
absl::Status RequestFromQuery(const QueryParameters& parameters,
                              google::protobuf::Message& request);

// Parses a proto3 JSON body into `request` (unknown fields rejected); an
// empty body is the empty request. INVALID_ARGUMENT "request body: ...".
absl::Status RequestFromJson(absl::string_view body,
                             google::protobuf::Message& request);

// The proto3 JSON mapping with every primitive field printed, zeros
// included, so that a dashboard never meets a missing count.
std::string ResponseToJson(const google::protobuf::Message& response);

// INVALID_ARGUMENT, FAILED_PRECONDITION, OUT_OF_RANGE 400; UNAUTHENTICATED
// 401; PERMISSION_DENIED 403; NOT_FOUND 404; ALREADY_EXISTS, ABORTED 409;
// RESOURCE_EXHAUSTED 429; UNIMPLEMENTED 501; UNAVAILABLE 503;
// DEADLINE_EXCEEDED 504; anything else 500.
int HttpStatusFor(absl::StatusCode code);

// {"code":"NOT_FOUND","message":"..."}
std::string ErrorJson(const absl::Status& status);

struct HttpAnswer {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

class HttpGateway {
 public:
  // `serving` says whether dejad's gRPC health status is SERVING; `metrics`
  // may be null (then /metrics is 404).
  HttpGateway(std::function<bool()> serving, MetricsRegistry* metrics);
  ~HttpGateway();  // Stop()
  HttpGateway(const HttpGateway&) = delete;
  HttpGateway& operator=(const HttpGateway&) = delete;

  // Serves `service`'s unary `method` at `path` (GET with query parameters,
  // POST with a JSON body). Call before Start().
  void AddMethodRoute(std::string path, ProtoService& service,
                      std::string method);

  // Answers one request; what the HTTP server calls for every request, and
  // what tests call without a socket.
  HttpAnswer Handle(absl::string_view http_method, absl::string_view path,
                    const QueryParameters& parameters, absl::string_view body);

  // Binds `listen` ("host:port"; port 0 picks a free one) and serves on
  // background threads. Returns the bound port. INVALID_ARGUMENT for a
  // malformed address, FAILED_PRECONDITION when it cannot be bound (in use,
  // or not an address of this machine). At most once.
  absl::StatusOr<int> Start(const std::string& listen);

  // Stops accepting, and waits for the requests in progress. Idempotent.
  void Stop();

 private:
  struct Route {
    ProtoService* service;
    std::string method;
  };
  HttpAnswer CallMethod(const Route& route, absl::string_view http_method,
                        const QueryParameters& parameters,
                        absl::string_view body);

  const std::function<bool()> serving_;
  MetricsRegistry* const metrics_;
  std::map<std::string, Route, std::less<>> routes_;
  std::unique_ptr<httplib::Server> server_;
  std::thread listener_;
};

// /v1/stats/overview, /v1/stats/trend, /v1/stats/recurrence and
// /v1/stats/action-items over deja.v1.StatsService `stats`.
void AddStatsRoutes(HttpGateway& gateway, ProtoService& stats);

}  // namespace deja

#endif  // DEJA_SERVICES_HTTP_GATEWAY_H_
