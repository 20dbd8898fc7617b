#include "services/http_gateway.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/duration.pb.h>
#include <google/protobuf/timestamp.pb.h>
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/time_util.h>
#include <httplib.h>
#include <sys/socket.h>

#include <chrono>
#include <cstdint>
#include <exception>
#include <limits>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/event_log.h"
#include "core/status_macros.h"
#include "core/validation.h"

namespace deja {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::EnumValueDescriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

constexpr char kPrometheusContentType[] =
    "text/plain; version=0.0.4; charset=utf-8";
// POST bodies are small filters; anything bigger is a mistake.
constexpr size_t kMaxBodyBytes = 1 << 20;
// Connections served at once, and how long one may sit idle or half-sent.
constexpr size_t kHttpWorkers = 32;
constexpr time_t kHttpReadTimeoutSeconds = 2;

// A string quoted for an error message, cut short: the value came from the
// client and may be anything.
std::string Quoted(absl::string_view value) {
  constexpr size_t kMax = 64;
  const std::string shown = value.size() > kMax
                                ? absl::StrCat(value.substr(0, kMax), "...")
                                : std::string(value);
  return absl::StrCat("'", OneLine(shown), "'");
}

absl::Status BadParameter(absl::string_view name, absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat(name, ": ", problem));
}

const FieldDescriptor* FindField(const Descriptor& type,
                                 const std::string& name) {
  if (const FieldDescriptor* field = type.FindFieldByName(name)) return field;
  for (int i = 0; i < type.field_count(); ++i) {
    if (type.field(i)->json_name() == name) return type.field(i);
  }
  return nullptr;
}

std::string FieldNames(const Descriptor& type) {
  std::vector<std::string> names;
  for (int i = 0; i < type.field_count(); ++i) {
    names.push_back(type.field(i)->name());
  }
  return absl::StrJoin(names, ", ");
}

template <class Int>
absl::StatusOr<Int> ParseInteger(const std::string& name,
                                 const std::string& value) {
  Int parsed;
  if (!absl::SimpleAtoi(value, &parsed)) {
    return BadParameter(
        name, absl::StrCat("not an integer in range: ", Quoted(value)));
  }
  return parsed;
}

absl::StatusOr<const EnumValueDescriptor*> ParseEnum(
    const FieldDescriptor& field, const std::string& value) {
  const EnumValueDescriptor* found =
      field.enum_type()->FindValueByName(absl::AsciiStrToUpper(value));
  if (found != nullptr) return found;
  std::vector<std::string> names;
  for (int i = 0; i < field.enum_type()->value_count(); ++i) {
    names.push_back(field.enum_type()->value(i)->name());
  }
  return BadParameter(
      field.name(), absl::StrCat("must be one of ", absl::StrJoin(names, ", "),
                                 ", not ", Quoted(value)));
}

// Timestamp and Duration, the message types a query parameter can spell.
absl::Status SetWellKnownMessage(const FieldDescriptor& field,
                                 const std::string& value, Message& target) {
  const std::string& type = field.message_type()->full_name();
  if (type == google::protobuf::Timestamp::descriptor()->full_name()) {
    google::protobuf::Timestamp timestamp;
    if (!google::protobuf::util::TimeUtil::FromString(value, &timestamp)) {
      return BadParameter(field.name(),
                          absl::StrCat("not an RFC 3339 time such as "
                                       "2024-01-31T00:00:00Z: ",
                                       Quoted(value)));
    }
    target.CopyFrom(timestamp);
    return absl::OkStatus();
  }
  if (type == google::protobuf::Duration::descriptor()->full_name()) {
    google::protobuf::Duration duration;
    if (!google::protobuf::util::TimeUtil::FromString(value, &duration)) {
      return BadParameter(
          field.name(), absl::StrCat("not a duration in seconds such as 90s: ",
                                     Quoted(value)));
    }
    target.CopyFrom(duration);
    return absl::OkStatus();
  }
  return BadParameter(field.name(),
                      "cannot be set from a query parameter; POST a JSON body");
}

// Sets (or, for a repeated field, appends) one value.
absl::Status SetField(const FieldDescriptor& field, const std::string& value,
                      Message& request) {
  const Reflection& reflection = *request.GetReflection();
  const bool repeated = field.is_repeated();
  const std::string& name = field.name();
  switch (field.cpp_type()) {
    case FieldDescriptor::CPPTYPE_STRING:
      if (field.type() == FieldDescriptor::TYPE_STRING && !IsCleanUtf8(value)) {
        return BadParameter(name, "not valid UTF-8 text");
      }
      repeated ? reflection.AddString(&request, &field, value)
               : reflection.SetString(&request, &field, value);
      return absl::OkStatus();
    case FieldDescriptor::CPPTYPE_INT32: {
      DEJA_ASSIGN_OR_RETURN(const int32_t parsed,
                            ParseInteger<int32_t>(name, value));
      repeated ? reflection.AddInt32(&request, &field, parsed)
               : reflection.SetInt32(&request, &field, parsed);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_INT64: {
      DEJA_ASSIGN_OR_RETURN(const int64_t parsed,
                            ParseInteger<int64_t>(name, value));
      repeated ? reflection.AddInt64(&request, &field, parsed)
               : reflection.SetInt64(&request, &field, parsed);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_UINT32: {
      DEJA_ASSIGN_OR_RETURN(const uint32_t parsed,
                            ParseInteger<uint32_t>(name, value));
      repeated ? reflection.AddUInt32(&request, &field, parsed)
               : reflection.SetUInt32(&request, &field, parsed);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_UINT64: {
      DEJA_ASSIGN_OR_RETURN(const uint64_t parsed,
                            ParseInteger<uint64_t>(name, value));
      repeated ? reflection.AddUInt64(&request, &field, parsed)
               : reflection.SetUInt64(&request, &field, parsed);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_DOUBLE:
    case FieldDescriptor::CPPTYPE_FLOAT: {
      double parsed;
      if (!absl::SimpleAtod(value, &parsed)) {
        return BadParameter(name,
                            absl::StrCat("not a number: ", Quoted(value)));
      }
      if (field.cpp_type() == FieldDescriptor::CPPTYPE_FLOAT) {
        const float narrowed = static_cast<float>(parsed);
        repeated ? reflection.AddFloat(&request, &field, narrowed)
                 : reflection.SetFloat(&request, &field, narrowed);
      } else {
        repeated ? reflection.AddDouble(&request, &field, parsed)
                 : reflection.SetDouble(&request, &field, parsed);
      }
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_BOOL: {
      bool parsed;
      if (!absl::SimpleAtob(value, &parsed)) {
        return BadParameter(
            name, absl::StrCat("must be true or false, not ", Quoted(value)));
      }
      repeated ? reflection.AddBool(&request, &field, parsed)
               : reflection.SetBool(&request, &field, parsed);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_ENUM: {
      DEJA_ASSIGN_OR_RETURN(const EnumValueDescriptor* parsed,
                            ParseEnum(field, value));
      repeated ? reflection.AddEnum(&request, &field, parsed)
               : reflection.SetEnum(&request, &field, parsed);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_MESSAGE: {
      Message* target = repeated ? reflection.AddMessage(&request, &field)
                                 : reflection.MutableMessage(&request, &field);
      return SetWellKnownMessage(field, value, *target);
    }
  }
  return BadParameter(name, "cannot be set from a query parameter");
}

// A JSON string literal. Messages may quote client text: bytes that are not
// UTF-8 become '?' so that the body stays valid JSON.
std::string JsonString(absl::string_view text) {
  const bool utf8 = IsCleanUtf8(text);
  std::string out = "\"";
  for (const char c : text) {
    const unsigned char byte = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (byte < 0x20) {
      absl::StrAppend(&out, "\\u00", absl::Hex(byte, absl::kZeroPad2));
    } else if (byte >= 0x80 && !utf8) {
      out += '?';
    } else {
      out += c;
    }
  }
  out += '"';
  return out;
}

HttpAnswer JsonAnswer(int status, std::string body) {
  HttpAnswer answer;
  answer.status = status;
  answer.body = std::move(body);
  return answer;
}

HttpAnswer ErrorAnswer(const absl::Status& status) {
  return JsonAnswer(HttpStatusFor(status.code()), ErrorJson(status));
}

// "host:port" -> host and port; "[::1]:8080" -> "::1" and 8080; an empty
// host listens on every IPv4 address.
absl::Status SplitHostPort(const std::string& listen, std::string& host,
                           int& port) {
  const size_t colon = listen.rfind(':');
  if (colon == std::string::npos ||
      !absl::SimpleAtoi(listen.substr(colon + 1), &port) || port < 0 ||
      port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("--http-listen: want host:port, not ", Quoted(listen)));
  }
  host = listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host.empty()) host = "0.0.0.0";
  return absl::OkStatus();
}

}  // namespace

absl::Status RequestFromQuery(const QueryParameters& parameters,
                              Message& request) {
  const Descriptor& type = *request.GetDescriptor();
  std::map<const FieldDescriptor*, std::string> seen;
  for (const auto& [name, value] : parameters) {
    const FieldDescriptor* field = FindField(type, name);
    if (field == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat(OneLine(name), ": unknown query parameter (",
                       type.name(), " takes ", FieldNames(type), ")"));
    }
    if (!field->is_repeated()) {
      auto [it, inserted] = seen.emplace(field, name);
      if (!inserted) {
        return BadParameter(field->name(), "given more than once");
      }
    }
    DEJA_RETURN_IF_ERROR(SetField(*field, value, request));
  }
  return absl::OkStatus();
}

absl::Status RequestFromJson(absl::string_view body, Message& request) {
  if (absl::StripAsciiWhitespace(body).empty()) return absl::OkStatus();
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  const auto status = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(body.data(), body.size()), &request,
      options);
  if (!status.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("request body: ", OneLine(status.message().ToString())));
  }
  return absl::OkStatus();
}

std::string ResponseToJson(const Message& response) {
  google::protobuf::util::JsonPrintOptions options;
  options.always_print_primitive_fields = true;
  std::string json;
  const auto status =
      google::protobuf::util::MessageToJsonString(response, &json, options);
  if (!status.ok()) {
    return ErrorJson(absl::InternalError(absl::StrCat(
        "response not converted to JSON: ", status.message().ToString())));
  }
  return json;
}

int HttpStatusFor(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kOk:
      return 200;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kOutOfRange:
      return 400;
    case absl::StatusCode::kUnauthenticated:
      return 401;
    case absl::StatusCode::kPermissionDenied:
      return 403;
    case absl::StatusCode::kNotFound:
      return 404;
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kAborted:
      return 409;
    case absl::StatusCode::kResourceExhausted:
      return 429;
    case absl::StatusCode::kUnimplemented:
      return 501;
    case absl::StatusCode::kUnavailable:
      return 503;
    case absl::StatusCode::kDeadlineExceeded:
      return 504;
    default:
      return 500;
  }
}

std::string ErrorJson(const absl::Status& status) {
  return absl::StrCat("{\"code\":\"", absl::StatusCodeToString(status.code()),
                      "\",\"message\":", JsonString(status.message()), "}");
}

HttpGateway::HttpGateway(std::function<bool()> serving,
                         MetricsRegistry* metrics)
    : serving_(std::move(serving)), metrics_(metrics) {}

HttpGateway::~HttpGateway() { Stop(); }

void HttpGateway::AddMethodRoute(std::string path, ProtoService& service,
                                 std::string method) {
  if (service.FindMethod(method) == nullptr) {
    LogEvent(absl::StrCat("bug: HTTP route ", path, ": no method ", method));
    std::abort();
  }
  routes_[std::move(path)] = Route{&service, std::move(method)};
}

HttpAnswer HttpGateway::Handle(absl::string_view http_method,
                               absl::string_view path,
                               const QueryParameters& parameters,
                               absl::string_view body) {
  const bool get = http_method == "GET" || http_method == "HEAD";
  if (path == "/healthz" || path == "/v1/health") {
    if (!get) {
      HttpAnswer answer = ErrorAnswer(absl::InvalidArgumentError(
          absl::StrCat(path, " takes GET, not ", http_method)));
      answer.status = 405;
      answer.headers.emplace_back("Allow", "GET, HEAD");
      return answer;
    }
    return serving_() ? JsonAnswer(200, "{\"status\":\"SERVING\"}")
                      : JsonAnswer(503, "{\"status\":\"NOT_SERVING\"}");
  }
  if (path == "/metrics" && metrics_ != nullptr) {
    if (!get) {
      HttpAnswer answer = ErrorAnswer(absl::InvalidArgumentError(
          absl::StrCat("/metrics takes GET, not ", http_method)));
      answer.status = 405;
      answer.headers.emplace_back("Allow", "GET, HEAD");
      return answer;
    }
    HttpAnswer answer;
    answer.content_type = kPrometheusContentType;
    answer.body = metrics_->Render();
    return answer;
  }
  const auto route = routes_.find(path);
  if (route == routes_.end()) {
    return ErrorAnswer(
        absl::NotFoundError(absl::StrCat("no such path: ", OneLine(path))));
  }
  if (!get && http_method != "POST") {
    HttpAnswer answer = ErrorAnswer(absl::InvalidArgumentError(absl::StrCat(
        std::string(path), " takes GET or POST, not ", http_method)));
    answer.status = 405;
    answer.headers.emplace_back("Allow", "GET, HEAD, POST");
    return answer;
  }
  return CallMethod(route->second, http_method, parameters, body);
}

HttpAnswer HttpGateway::CallMethod(const Route& route,
                                   absl::string_view http_method,
                                   const QueryParameters& parameters,
                                   absl::string_view body) {
  const google::protobuf::MethodDescriptor& method =
      *route.service->FindMethod(route.method);
  google::protobuf::MessageFactory& factory =
      *google::protobuf::MessageFactory::generated_factory();
  std::unique_ptr<Message> request(
      factory.GetPrototype(method.input_type())->New());
  std::unique_ptr<Message> response(
      factory.GetPrototype(method.output_type())->New());
  if (http_method == "POST") {
    if (absl::Status parsed = RequestFromJson(body, *request); !parsed.ok()) {
      return ErrorAnswer(route.service->CountRefused(route.method, parsed));
    }
  }
  // On a POST they refine the body, field by field.
  if (absl::Status parsed = RequestFromQuery(parameters, *request);
      !parsed.ok()) {
    return ErrorAnswer(route.service->CountRefused(route.method, parsed));
  }
  const absl::Status status =
      route.service->Invoke(route.method, *request, *response);
  if (!status.ok()) return ErrorAnswer(status);
  return JsonAnswer(200, ResponseToJson(*response));
}

absl::StatusOr<int> HttpGateway::Start(const std::string& listen) {
  if (server_ != nullptr) {
    return absl::FailedPreconditionError("HTTP gateway already started");
  }
  std::string host;
  int port = 0;
  DEJA_RETURN_IF_ERROR(SplitHostPort(listen, host, port));
  server_ = std::make_unique<httplib::Server>();
  // httplib sets SO_REUSEPORT by default: a second dejad on the same port
  // would start "fine" and take half the requests. Fail instead.
  server_->set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  server_->set_payload_max_length(kMaxBodyBytes);
  // httplib holds a worker per open connection until it sends a request or
  // the read timeout passes: more workers and short timeouts keep a few idle
  // or slow clients from starving a health probe or a scrape.
  server_->new_task_queue = [] {
    return new httplib::ThreadPool(kHttpWorkers);
  };
  server_->set_read_timeout(kHttpReadTimeoutSeconds);
  server_->set_keep_alive_timeout(kHttpReadTimeoutSeconds);
  // Answers httplib makes itself (413 body too large, 414 URI too long, 400
  // unreadable request, 404 for a method it has no route for) get the same
  // JSON error body as ours; ours already have a body and pass through.
  server_->set_error_handler(httplib::Server::HandlerWithResponse(
      [](const httplib::Request& request, httplib::Response& response) {
        using Handled = httplib::Server::HandlerResponse;
        if (!response.body.empty()) return Handled::Unhandled;
        absl::Status status;
        if (response.status == 413) {
          status = absl::InvalidArgumentError(absl::StrCat(
              "request body too large (at most ", kMaxBodyBytes, " bytes)"));
        } else if (response.status == 414) {
          status = absl::InvalidArgumentError("request URI too long");
        } else if (response.status == 404) {
          response.status = 405;
          status = absl::InvalidArgumentError(
              absl::StrCat("method ", request.method,
                           " not allowed (GET, or POST for /v1/stats/*)"));
        } else {
          status = absl::InvalidArgumentError(
              absl::StrCat("the HTTP request could not be read (status ",
                           response.status, ")"));
        }
        response.set_content(ErrorJson(status), "application/json");
        return Handled::Handled;
      }));
  const auto serve = [this](const httplib::Request& request,
                            httplib::Response& response) {
    // From the target, not request.params: httplib also puts the fields
    // of a form-encoded body there, and a JSON body sent by `curl -d` would
    // look like a query parameter.
    QueryParameters query;
    const size_t question = request.target.find('?');
    if (question != std::string::npos) {
      httplib::detail::parse_query_text(request.target.substr(question + 1),
                                        query);
    }
    HttpAnswer answer =
        Handle(request.method, request.path, query, request.body);
    response.status = answer.status;
    for (const auto& [name, value] : answer.headers) {
      response.set_header(name, value);
    }
    response.set_content(std::move(answer.body), answer.content_type.c_str());
  };
  server_->Get(".*", serve);
  server_->Post(".*", serve);
  server_->Put(".*", serve);
  server_->Patch(".*", serve);
  server_->Delete(".*", serve);
  server_->set_exception_handler([](const httplib::Request&,
                                    httplib::Response& response,
                                    std::exception_ptr) {
    response.status = 500;
    response.set_content(ErrorJson(absl::InternalError("unexpected error")),
                         "application/json");
  });
  int bound = -1;
  if (port == 0) {
    bound = server_->bind_to_any_port(host);
  } else if (server_->bind_to_port(host, port)) {
    bound = port;
  }
  if (bound <= 0) {
    server_.reset();
    return absl::FailedPreconditionError(
        absl::StrCat("cannot listen for HTTP on ", listen,
                     " (address in use or not valid)"));
  }
  listener_ =
      std::thread([server = server_.get()] { server->listen_after_bind(); });
  // stop() only works on a running server: wait until it is, so that a
  // Stop() right after Start() cannot miss it.
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!server_->is_running() &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  if (!server_->is_running()) {
    Stop();
    return absl::InternalError("the HTTP server did not start");
  }
  return bound;
}

void HttpGateway::Stop() {
  if (server_ == nullptr) return;
  server_->stop();
  if (listener_.joinable()) listener_.join();
  server_.reset();
}

void AddStatsRoutes(HttpGateway& gateway, ProtoService& stats) {
  gateway.AddMethodRoute("/v1/stats/overview", stats, "GetOverview");
  gateway.AddMethodRoute("/v1/stats/trend", stats, "GetTrend");
  gateway.AddMethodRoute("/v1/stats/recurrence", stats, "GetRecurrenceStats");
  gateway.AddMethodRoute("/v1/stats/action-items", stats, "GetActionItemStats");
}

}  // namespace deja
