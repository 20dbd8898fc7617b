#include "services/search_service.h"

#include <gmock/gmock.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>
#include <gtest/gtest.h>

#include <future>
#include <memory>
#include <string>

#include "absl/time/clock.h"
#include "deja/v1/search_service.grpc.pb.h"
#include "tests/testing/fake_postmortem_searcher.h"

namespace deja {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr char kSearchPath[] = "/deja.v1.SearchService/Search";
constexpr char kPostmortemId[] = "0b7e5a52-3c1d-4f7a-9a39-1f2e3d4c5b6a";

class SearchServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    channel_ = server_->InProcessChannel(grpc::ChannelArguments());
    stub_ = v1::SearchService::NewStub(channel_);
  }

  void TearDown() override { server_->Shutdown(); }

  grpc::Status Search(const v1::SearchRequest& request,
                      v1::SearchResponse* response) {
    grpc::ClientContext context;
    return stub_->Search(&context, request, response);
  }

  grpc::Status FindSimilar(const v1::FindSimilarRequest& request,
                           v1::FindSimilarResponse* response) {
    grpc::ClientContext context;
    return stub_->FindSimilar(&context, request, response);
  }

  grpc::Status RawCall(const std::string& method, const std::string& request) {
    grpc::GenericStub stub(channel_);
    grpc::ClientContext context;
    grpc::Slice slice(request);
    grpc::ByteBuffer request_buffer(&slice, 1);
    grpc::ByteBuffer response_buffer;
    std::promise<grpc::Status> done;
    stub.UnaryCall(&context, method, grpc::StubOptions(), &request_buffer,
                   &response_buffer,
                   [&done](grpc::Status status) { done.set_value(status); });
    return done.get_future().get();
  }

  testing::FakePostmortemSearcher searcher_;
  SearchService service_{searcher_};
  std::unique_ptr<grpc::Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::SearchService::Stub> stub_;
};

TEST_F(SearchServiceTest, SearchPassesRequestAndAnswerThrough) {
  v1::SearchResponse canned;
  v1::SearchHit* hit = canned.add_hits();
  hit->mutable_incident()->set_id(kPostmortemId);
  hit->mutable_incident()->set_title("Checkout 5xx");
  hit->set_score(87);
  hit->set_snippet("<mark>checkout</mark> failed");
  canned.set_total_matches(1);
  canned.set_did_you_mean("checkout");
  canned.set_next_page_token("next");
  searcher_.SetSearchResponse(canned);

  v1::SearchRequest request;
  request.set_query("chekout");
  request.add_services("checkout");
  request.add_severities(v1::SEV2);
  request.set_page_size(5);
  const absl::Time before = absl::Now();
  v1::SearchResponse response;
  const grpc::Status status = Search(request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.SerializeAsString(), canned.SerializeAsString());
  EXPECT_EQ(searcher_.last_search().SerializeAsString(),
            request.SerializeAsString());
  EXPECT_GE(searcher_.last_now(), before);
  EXPECT_LE(searcher_.last_now(), absl::Now());
}

TEST_F(SearchServiceTest, FindSimilarPassesRequestAndAnswerThrough) {
  v1::FindSimilarResponse canned;
  canned.set_verdict(v1::SEEN_BEFORE);
  v1::SimilarIncident* incident = canned.add_incidents();
  incident->mutable_incident()->set_id(kPostmortemId);
  incident->set_score(0.91);
  incident->set_verdict(v1::SEEN_BEFORE);
  incident->add_shared_services("checkout");
  searcher_.SetFindSimilarResponse(canned);

  v1::FindSimilarRequest request;
  request.set_symptoms("checkout 503s, pods OOMKilled");
  request.add_log_lines("java.lang.OutOfMemoryError: Java heap space");
  v1::FindSimilarResponse response;
  const grpc::Status status = FindSimilar(request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.SerializeAsString(), canned.SerializeAsString());
  EXPECT_EQ(searcher_.last_find_similar().symptoms(), request.symptoms());
}

TEST_F(SearchServiceTest, TenKilobyteQueryIsInvalidArgument) {
  v1::SearchRequest request;
  request.set_query(std::string(10 * 1024, 'q'));
  v1::SearchResponse response;
  const grpc::Status status = Search(request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), StartsWith("query: too long"));
}

// A rejected request never reaches the searcher: the failure queued for its
// next call is still there afterwards.
TEST_F(SearchServiceTest, InvalidRequestsNeverReachTheSearcher) {
  searcher_.FailNextCall(absl::UnavailableError("queued by the test"));
  v1::SearchRequest search;
  search.set_page_size(101);
  v1::SearchResponse search_response;
  grpc::Status status = Search(search, &search_response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), StartsWith("page_size: "));

  v1::FindSimilarRequest similar;
  similar.set_postmortem_id(kPostmortemId);
  similar.set_symptoms("both");
  v1::FindSimilarResponse similar_response;
  status = FindSimilar(similar, &similar_response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), StartsWith("postmortem_id: "));

  status = FindSimilar(v1::FindSimilarRequest(), &similar_response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), StartsWith("symptoms: required"));

  search.set_page_size(1);
  EXPECT_EQ(Search(search, &search_response).error_code(),
            grpc::StatusCode::UNAVAILABLE);
}

TEST_F(SearchServiceTest, InvalidUtf8QueryIsInvalidArgumentNotInternal) {
  v1::SearchRequest request;
  request.set_query("disk @@ full");
  std::string bytes = request.SerializeAsString();
  bytes.replace(bytes.find("@@"), 2, "\xff\xfe");
  const grpc::Status status = RawCall(kSearchPath, bytes);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(), "query: not valid UTF-8");
}

TEST_F(SearchServiceTest, ThrowingSearcherIsInternal) {
  searcher_.ThrowNextCall("boom");
  v1::SearchResponse response;
  EXPECT_EQ(Search(v1::SearchRequest(), &response).error_code(),
            grpc::StatusCode::INTERNAL);
}

class SearcherFailureTest
    : public SearchServiceTest,
      public ::testing::WithParamInterface<absl::StatusCode> {};

TEST_P(SearcherFailureTest, PassesThroughWithTheSameCodeAndMessage) {
  searcher_.FailNextCall(absl::Status(GetParam(), "injected by the test"));
  v1::SearchResponse response;
  grpc::Status status = Search(v1::SearchRequest(), &response);
  EXPECT_EQ(static_cast<int>(status.error_code()),
            static_cast<int>(GetParam()));
  EXPECT_EQ(status.error_message(), "injected by the test");

  searcher_.FailNextCall(absl::Status(GetParam(), "again"));
  v1::FindSimilarRequest similar;
  similar.set_postmortem_id(kPostmortemId);
  v1::FindSimilarResponse similar_response;
  status = FindSimilar(similar, &similar_response);
  EXPECT_EQ(static_cast<int>(status.error_code()),
            static_cast<int>(GetParam()));
  EXPECT_EQ(status.error_message(), "again");
}

INSTANTIATE_TEST_SUITE_P(Codes, SearcherFailureTest,
                         ::testing::Values(absl::StatusCode::kInvalidArgument,
                                           absl::StatusCode::kNotFound,
                                           absl::StatusCode::kUnavailable,
                                           absl::StatusCode::kInternal));

}  // namespace
}  // namespace deja
