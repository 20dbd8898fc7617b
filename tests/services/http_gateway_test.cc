#include "services/http_gateway.h"

#include <gmock/gmock.h>
#include <google/protobuf/util/time_util.h>
#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "deja/v1/postmortem.pb.h"
#include "deja/v1/stats_service.grpc.pb.h"
#include "services/metrics.h"
#include "services/stats_service.h"

namespace deja {
namespace {

using ::google::protobuf::util::TimeUtil;
using ::testing::HasSubstr;
using ::testing::StartsWith;

absl::Status FromQuery(const QueryParameters& parameters,
                       google::protobuf::Message& request) {
  return RequestFromQuery(parameters, request);
}

TEST(RequestFromQueryTest, SetsStringsNumbersTimesAndEnumsByFieldName) {
  v1::TrendRequest request;
  ASSERT_TRUE(FromQuery({{"team", "orders"},
                         {"service", "checkout api"},
                         {"started_after", "2024-01-01T00:00:00Z"},
                         {"started_before", "2024-02-01T12:30:00+01:00"},
                         {"interval", "week"},
                         {"split_by", "SEVERITY"}},
                        request)
                  .ok());
  EXPECT_EQ(request.team(), "orders");
  EXPECT_EQ(request.service(), "checkout api");
  EXPECT_EQ(TimeUtil::ToString(request.started_after()),
            "2024-01-01T00:00:00Z");
  EXPECT_EQ(TimeUtil::ToString(request.started_before()),
            "2024-02-01T11:30:00Z");
  EXPECT_EQ(request.interval(), v1::TrendRequest::WEEK);
  EXPECT_EQ(request.split_by(), v1::TrendRequest::SEVERITY);
}

TEST(RequestFromQueryTest, AcceptsJsonFieldNamesToo) {
  v1::StatsRequest request;
  ASSERT_TRUE(
      FromQuery({{"startedAfter", "2024-01-01T00:00:00Z"}, {"limit", "5"}},
                request)
          .ok());
  EXPECT_TRUE(request.has_started_after());
  EXPECT_EQ(request.limit(), 5);
}

TEST(RequestFromQueryTest, NoParametersLeaveTheEmptyRequest) {
  v1::StatsRequest request;
  ASSERT_TRUE(FromQuery({}, request).ok());
  EXPECT_EQ(request.ByteSizeLong(), 0u);
}

TEST(RequestFromQueryTest, UnknownParameterIsInvalidArgumentNamingIt) {
  v1::StatsRequest request;
  const absl::Status status = FromQuery({{"teem", "orders"}}, request);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()),
              StartsWith("teem: unknown query parameter"));
  EXPECT_THAT(std::string(status.message()), HasSubstr("team, service"));
}

TEST(RequestFromQueryTest, BadValuesAreInvalidArgumentNamingTheParameter) {
  struct Case {
    std::string name;
    std::string value;
    std::string message_start;
  };
  for (const Case& c : {
           Case{"limit", "ten", "limit: not an integer"},
           Case{"limit", "99999999999", "limit: not an integer"},
           Case{"started_after", "2024-13-01",
                "started_after: not an RFC 3339"},
           Case{"started_before", "yesterday", "started_before: not an RFC"},
           Case{"team", "bad\xff", "team: not valid UTF-8"},
       }) {
    v1::StatsRequest request;
    const absl::Status status = FromQuery({{c.name, c.value}}, request);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << c.value;
    EXPECT_THAT(std::string(status.message()), StartsWith(c.message_start))
        << c.value;
  }
}

TEST(RequestFromQueryTest, BadEnumNameListsTheAllowedNames) {
  v1::TrendRequest request;
  const absl::Status status = FromQuery({{"interval", "DAY"}}, request);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()),
              StartsWith("interval: must be one of"));
  EXPECT_THAT(std::string(status.message()),
              HasSubstr("WEEK, MONTH, not 'DAY'"));
}

TEST(RequestFromQueryTest, SingleFieldGivenTwiceIsInvalidArgument) {
  v1::StatsRequest request;
  const absl::Status status =
      FromQuery({{"team", "a"}, {"team", "b"}}, request);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(), "team: given more than once");
}

TEST(RequestFromQueryTest, MessageFieldsOtherThanTimesNeedAJsonBody) {
  v1::Overview not_a_request;
  const absl::Status status = FromQuery({{"action_items", "3"}}, not_a_request);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()),
              StartsWith("action_items: cannot be set"));
}

TEST(RequestFromQueryTest, RepeatedFieldTakesEveryValueInOrder) {
  // No statistics request has one yet; any message shows the mapping.
  v1::Postmortem postmortem;
  ASSERT_TRUE(FromQuery({{"services", "checkout"},
                         {"severity", "sev2"},
                         {"services", "payments"}},
                        postmortem)
                  .ok());
  EXPECT_THAT(postmortem.services(),
              ::testing::ElementsAre("checkout", "payments"));
  EXPECT_EQ(postmortem.severity(), v1::SEV2);
}

TEST(RequestFromJsonTest, ParsesTheProto3JsonMapping) {
  v1::TrendRequest request;
  ASSERT_TRUE(RequestFromJson(R"({"team": "orders", "interval": "MONTH",
                                  "started_after": "2024-01-01T00:00:00Z"})",
                              request)
                  .ok());
  EXPECT_EQ(request.team(), "orders");
  EXPECT_EQ(request.interval(), v1::TrendRequest::MONTH);
  EXPECT_TRUE(request.has_started_after());
}

TEST(RequestFromJsonTest, EmptyBodyIsTheEmptyRequest) {
  v1::StatsRequest request;
  EXPECT_TRUE(RequestFromJson("  \n", request).ok());
}

TEST(RequestFromJsonTest, UnknownFieldOrBadJsonIsInvalidArgument) {
  v1::StatsRequest request;
  for (const char* body : {R"({"teem": "orders"})", "{team:", "[1]"}) {
    const absl::Status status = RequestFromJson(body, request);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << body;
    EXPECT_THAT(std::string(status.message()), StartsWith("request body: "))
        << body;
  }
}

TEST(HttpStatusForTest, MapsGrpcCodesAsGatewaysDo) {
  EXPECT_EQ(HttpStatusFor(absl::StatusCode::kOk), 200);
  EXPECT_EQ(HttpStatusFor(absl::StatusCode::kInvalidArgument), 400);
  EXPECT_EQ(HttpStatusFor(absl::StatusCode::kFailedPrecondition), 400);
  EXPECT_EQ(HttpStatusFor(absl::StatusCode::kNotFound), 404);
  EXPECT_EQ(HttpStatusFor(absl::StatusCode::kAlreadyExists), 409);
  EXPECT_EQ(HttpStatusFor(absl::StatusCode::kResourceExhausted), 429);
  EXPECT_EQ(HttpStatusFor(absl::StatusCode::kUnimplemented), 501);
  EXPECT_EQ(HttpStatusFor(absl::StatusCode::kUnavailable), 503);
  EXPECT_EQ(HttpStatusFor(absl::StatusCode::kDeadlineExceeded), 504);
  EXPECT_EQ(HttpStatusFor(absl::StatusCode::kInternal), 500);
  EXPECT_EQ(HttpStatusFor(absl::StatusCode::kUnknown), 500);
  EXPECT_EQ(HttpStatusFor(absl::StatusCode::kDataLoss), 500);
}

TEST(ErrorJsonTest, NamesTheCodeAndEscapesTheMessage) {
  EXPECT_EQ(ErrorJson(absl::NotFoundError("no \"x\" \\ here\n")),
            R"({"code":"NOT_FOUND","message":"no \"x\" \\ here\u000a"})");
  // Bytes that are not UTF-8 cannot go into JSON.
  EXPECT_EQ(ErrorJson(absl::InvalidArgumentError("bad \xff")),
            R"({"code":"INVALID_ARGUMENT","message":"bad ?"})");
}

TEST(ResponseToJsonTest, PrintsZerosSoDashboardsSeeThem) {
  v1::Overview overview;
  const std::string json = ResponseToJson(overview);
  EXPECT_THAT(json, HasSubstr(R"("incidents":"0")"));
  EXPECT_THAT(json, HasSubstr(R"("repeatRate":0)"));
  EXPECT_THAT(json, HasSubstr(R"("bySeverity":[])"));
}

// Records the request it got and answers with canned values or an error.
class RecordingStatsStore : public StatsStore {
 public:
  absl::StatusOr<v1::Overview> Overview(const v1::StatsRequest& request,
                                        absl::Time) override {
    last_request = request;
    ++calls;
    if (!fail.ok()) return fail;
    return overview;
  }
  absl::StatusOr<v1::Trend> Trend(const v1::TrendRequest& request) override {
    last_trend_request = request;
    ++calls;
    if (!fail.ok()) return fail;
    v1::Trend trend;
    trend.set_interval(request.interval());
    return trend;
  }
  absl::StatusOr<v1::RecurrenceStats> Recurrence(
      const v1::StatsRequest& request) override {
    last_request = request;
    ++calls;
    return v1::RecurrenceStats();
  }
  absl::StatusOr<v1::ActionItemStats> ActionItems(
      const v1::StatsRequest& request, absl::Time) override {
    last_request = request;
    ++calls;
    return v1::ActionItemStats();
  }

  v1::Overview overview;
  absl::Status fail;
  v1::StatsRequest last_request;
  v1::TrendRequest last_trend_request;
  int calls = 0;
};

class HttpGatewayTest : public ::testing::Test {
 protected:
  HttpGatewayTest() {
    service_.SetMetrics(&rpc_metrics_, /*database_backed=*/true);
    AddStatsRoutes(gateway_, service_);
    store_.overview.set_incidents(3);
  }

  HttpAnswer Get(const std::string& path, const QueryParameters& query = {}) {
    return gateway_.Handle("GET", path, query, "");
  }

  RecordingStatsStore store_;
  StatsService service_{store_};
  MetricsRegistry metrics_;
  RpcMetrics rpc_metrics_{metrics_};
  bool serving_ = true;
  HttpGateway gateway_{[this] { return serving_; }, &metrics_};
};

TEST_F(HttpGatewayTest, GetRunsTheServiceWithTheQueryAndAnswersJson) {
  const HttpAnswer answer =
      Get("/v1/stats/overview",
          {{"team", "orders"}, {"started_after", "2024-01-01T00:00:00Z"}});
  EXPECT_EQ(answer.status, 200);
  EXPECT_EQ(answer.content_type, "application/json");
  EXPECT_THAT(answer.body, HasSubstr(R"("incidents":"3")"));
  EXPECT_THAT(answer.body, HasSubstr(R"("repeats":"0")"));
  EXPECT_EQ(store_.last_request.team(), "orders");
  EXPECT_TRUE(store_.last_request.has_started_after());
}

TEST_F(HttpGatewayTest, EveryStatsRouteReachesItsMethod) {
  EXPECT_EQ(
      Get("/v1/stats/trend", {{"interval", "WEEK"}}).body,
      R"({"interval":"WEEK","splitBy":"SPLIT_UNSPECIFIED","buckets":[]})");
  EXPECT_EQ(store_.last_trend_request.interval(), v1::TrendRequest::WEEK);
  EXPECT_EQ(Get("/v1/stats/recurrence", {{"limit", "7"}}).status, 200);
  EXPECT_EQ(store_.last_request.limit(), 7);
  EXPECT_EQ(Get("/v1/stats/action-items", {{"team", "t"}}).status, 200);
  EXPECT_EQ(store_.last_request.team(), "t");
  EXPECT_EQ(store_.calls, 3);
}

TEST_F(HttpGatewayTest, BadParameterIs400NamingItAndNeverReachesTheStore) {
  const HttpAnswer answer =
      Get("/v1/stats/overview", {{"started_after", "last week"}});
  EXPECT_EQ(answer.status, 400);
  EXPECT_THAT(answer.body, StartsWith(R"({"code":"INVALID_ARGUMENT",)"
                                      R"("message":"started_after: )"));
  EXPECT_EQ(store_.calls, 0);
}

TEST_F(HttpGatewayTest, ServiceValidationErrorsAre400Too) {
  const HttpAnswer answer = Get("/v1/stats/overview", {{"limit", "500"}});
  EXPECT_EQ(answer.status, 400);
  EXPECT_THAT(answer.body, HasSubstr(R"("message":"limit: )"));
  EXPECT_EQ(store_.calls, 0);
}

TEST_F(HttpGatewayTest, StoreErrorsKeepTheirCodeAndMessage) {
  store_.fail = absl::UnavailableError("database not reachable");
  const HttpAnswer answer = Get("/v1/stats/overview");
  EXPECT_EQ(answer.status, 503);
  EXPECT_EQ(answer.body,
            R"({"code":"UNAVAILABLE","message":"database not reachable"})");
}

TEST_F(HttpGatewayTest, PostTakesAJsonBody) {
  const HttpAnswer answer = gateway_.Handle(
      "POST", "/v1/stats/trend", {},
      R"({"team": "orders", "interval": "MONTH", "splitBy": "SERVICE"})");
  EXPECT_EQ(answer.status, 200);
  EXPECT_EQ(store_.last_trend_request.team(), "orders");
  EXPECT_EQ(store_.last_trend_request.split_by(), v1::TrendRequest::SERVICE);

  const HttpAnswer bad =
      gateway_.Handle("POST", "/v1/stats/trend", {}, R"({"teem": "x"})");
  EXPECT_EQ(bad.status, 400);
  EXPECT_THAT(bad.body, HasSubstr("request body: "));
}

TEST_F(HttpGatewayTest, UnknownPathIs404AndOtherVerbsAre405) {
  const HttpAnswer missing = Get("/v1/stats/nothing");
  EXPECT_EQ(missing.status, 404);
  EXPECT_THAT(missing.body, HasSubstr(R"("code":"NOT_FOUND")"));
  const HttpAnswer put = gateway_.Handle("PUT", "/v1/stats/overview", {}, "");
  EXPECT_EQ(put.status, 405);
  ASSERT_EQ(put.headers.size(), 1u);
  EXPECT_EQ(put.headers[0].first, "Allow");
}

TEST_F(HttpGatewayTest, HealthFollowsTheServingState) {
  for (const char* path : {"/healthz", "/v1/health"}) {
    serving_ = true;
    HttpAnswer answer = Get(path);
    EXPECT_EQ(answer.status, 200);
    EXPECT_EQ(answer.body, R"({"status":"SERVING"})");
    serving_ = false;
    answer = Get(path);
    EXPECT_EQ(answer.status, 503);
    EXPECT_EQ(answer.body, R"({"status":"NOT_SERVING"})");
  }
}

TEST_F(HttpGatewayTest, HttpCallsCountInTheSameMetricsAsGrpcCalls) {
  Get("/v1/stats/overview");
  Get("/v1/stats/overview", {{"limit", "500"}});  // refused by validation
  Get("/v1/stats/overview", {{"limit", "abc"}});  // refused while reading
  store_.fail = absl::UnavailableError("down");
  Get("/v1/stats/overview");
  const HttpAnswer answer = Get("/metrics");
  EXPECT_EQ(answer.status, 200);
  EXPECT_EQ(answer.content_type, "text/plain; version=0.0.4; charset=utf-8");
  constexpr char kMethod[] = "method=\"deja.v1.StatsService/GetOverview\"";
  EXPECT_THAT(answer.body,
              HasSubstr(absl::StrCat("deja_rpc_requests_total{", kMethod,
                                     ",code=\"OK\",transport=\"http\"} 1\n")));
  EXPECT_THAT(answer.body, HasSubstr(absl::StrCat(
                               "deja_rpc_requests_total{", kMethod,
                               ",code=\"INVALID_ARGUMENT\",transport=\"http\"} "
                               "2\n")));
  // Latency by status.
  for (const auto& [code, count] : std::vector<std::pair<std::string, int>>{
           {"OK", 1}, {"INVALID_ARGUMENT", 2}, {"UNAVAILABLE", 1}}) {
    EXPECT_THAT(answer.body, HasSubstr(absl::StrCat(
                                 "deja_rpc_duration_seconds_count{", kMethod,
                                 ",code=\"", code, "\"} ", count, "\n")));
  }
  EXPECT_THAT(answer.body, HasSubstr("deja_database_errors_total 1\n"));
}

TEST_F(HttpGatewayTest, GrpcCallsCountUnderTheSameMethodWithTheirTransport) {
  grpc::ServerBuilder builder;
  builder.RegisterService(&service_);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  ASSERT_NE(server, nullptr);
  auto stub = v1::StatsService::NewStub(server->InProcessChannel({}));
  grpc::ClientContext context;
  v1::Overview overview;
  ASSERT_TRUE(stub->GetOverview(&context, v1::StatsRequest(), &overview).ok());
  Get("/v1/stats/overview");
  const std::string text = Get("/metrics").body;
  constexpr char kMethod[] = "method=\"deja.v1.StatsService/GetOverview\"";
  EXPECT_THAT(text,
              HasSubstr(absl::StrCat("deja_rpc_requests_total{", kMethod,
                                     ",code=\"OK\",transport=\"grpc\"} 1\n")));
  EXPECT_THAT(text,
              HasSubstr(absl::StrCat("deja_rpc_requests_total{", kMethod,
                                     ",code=\"OK\",transport=\"http\"} 1\n")));
  server->Shutdown();
}

TEST_F(HttpGatewayTest, ARequestRefusedWhileReadingItIsStillCounted) {
  // A bad query parameter or body never reaches the handler, but the
  // client got an answer: it counts as INVALID_ARGUMENT for the method.
  Get("/v1/stats/overview", {{"nope", "1"}});
  EXPECT_EQ(store_.calls, 0);
  EXPECT_THAT(Get("/metrics").body,
              HasSubstr("deja_rpc_requests_total{method=\"deja.v1.StatsService/"
                        "GetOverview\",code=\"INVALID_ARGUMENT\",transport="
                        "\"http\"} 1\n"));
}

TEST_F(HttpGatewayTest, StartsOnAFreePortAndRefusesATakenOne) {
  const absl::StatusOr<int> port = gateway_.Start("127.0.0.1:0");
  ASSERT_TRUE(port.ok()) << port.status();
  EXPECT_GT(*port, 0);
  HttpGateway second([] { return true; }, nullptr);
  const absl::StatusOr<int> taken =
      second.Start(absl::StrCat("127.0.0.1:", *port));
  EXPECT_EQ(taken.status().code(), absl::StatusCode::kFailedPrecondition);
  gateway_.Stop();
  gateway_.Stop();  // idempotent
}

TEST_F(HttpGatewayTest, BadListenAddressIsInvalidArgument) {
  EXPECT_EQ(gateway_.Start("localhost").status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace deja
