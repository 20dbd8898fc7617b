#include "services/recurrence_service.h"

#include <gmock/gmock.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>
#include <gtest/gtest.h>

#include <future>
#include <memory>
#include <string>

#include "deja/v1/recurrence_service.grpc.pb.h"
#include "tests/testing/fake_recurrence_store.h"

namespace deja {
namespace {

using ::deja::testing::FakeRecurrenceStore;
using ::testing::HasSubstr;
using ::testing::StartsWith;
using v1::RecurrenceLink;

constexpr char kLater[] = "0b7e5a52-3c1d-4f7a-9a39-1f2e3d4c5b6a";
constexpr char kEarlier[] = "1c8f6b63-4d2e-4a8b-8b4a-2a3f4e5d6c7b";
constexpr char kOther[] = "2d9a7c74-5e3f-4b9c-9c5b-3b4a5f6e7d8c";

RecurrenceLink Link(const std::string& later, const std::string& earlier,
                    RecurrenceLink::State state, double score,
                    int64_t started_at) {
  RecurrenceLink link;
  link.set_postmortem_id(later);
  link.set_earlier_id(earlier);
  link.set_source(RecurrenceLink::AUTO);
  link.set_state(state);
  link.set_score(score);
  link.add_reasons("shared services: orders-db");
  link.mutable_started_at()->set_seconds(started_at);
  return link;
}

v1::DecideRecurrenceRequest Decision(const std::string& later,
                                     const std::string& earlier) {
  v1::DecideRecurrenceRequest request;
  request.set_postmortem_id(later);
  request.set_earlier_id(earlier);
  request.set_decided_by("sre-payments");
  request.set_note("same pool, same job");
  return request;
}

class RecurrenceServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    channel_ = server_->InProcessChannel(grpc::ChannelArguments());
    stub_ = v1::RecurrenceService::NewStub(channel_);
  }

  void TearDown() override { server_->Shutdown(); }

  grpc::Status List(const v1::ListRecurrencesRequest& request,
                    v1::ListRecurrencesResponse* response) {
    grpc::ClientContext context;
    return stub_->ListRecurrences(&context, request, response);
  }
  grpc::Status Confirm(const v1::DecideRecurrenceRequest& request,
                       RecurrenceLink* response) {
    grpc::ClientContext context;
    return stub_->ConfirmRecurrence(&context, request, response);
  }
  grpc::Status Reject(const v1::DecideRecurrenceRequest& request,
                      RecurrenceLink* response) {
    grpc::ClientContext context;
    return stub_->RejectRecurrence(&context, request, response);
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

  FakeRecurrenceStore store_;
  RecurrenceService service_{store_};
  std::unique_ptr<grpc::Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::RecurrenceService::Stub> stub_;
};

TEST_F(RecurrenceServiceTest, ListPassesTheRequestAndReturnsTheStoresLinks) {
  store_.Put(Link(kLater, kEarlier, RecurrenceLink::SUGGESTED, 0.93, 2000));
  store_.Put(Link(kOther, kEarlier, RecurrenceLink::REJECTED, 0.75, 3000));
  v1::ListRecurrencesRequest request;
  request.set_postmortem_id(kEarlier);
  request.add_states(RecurrenceLink::SUGGESTED);
  request.set_page_size(10);
  v1::ListRecurrencesResponse response;
  const grpc::Status status = List(request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(response.links_size(), 1);
  EXPECT_EQ(response.links(0).postmortem_id(), kLater);
  EXPECT_TRUE(response.links(0).counted());
  ASSERT_TRUE(store_.last_list().has_value());
  EXPECT_EQ(store_.last_list()->SerializeAsString(),
            request.SerializeAsString());
}

TEST_F(RecurrenceServiceTest, ConfirmDecidesTheLinkConfirmedWithWhoAndWhy) {
  store_.Put(Link(kLater, kEarlier, RecurrenceLink::SUGGESTED, 0.72, 2000));
  RecurrenceLink response;
  const grpc::Status status = Confirm(Decision(kLater, kEarlier), &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(store_.last_decided_state(), RecurrenceLink::CONFIRMED);
  EXPECT_EQ(response.state(), RecurrenceLink::CONFIRMED);
  EXPECT_EQ(response.decided_by(), "sre-payments");
  EXPECT_EQ(response.note(), "same pool, same job");
  EXPECT_TRUE(response.counted()) << "a confirmed link counts at any score";
}

TEST_F(RecurrenceServiceTest, RejectDecidesTheLinkRejected) {
  store_.Put(Link(kLater, kEarlier, RecurrenceLink::SUGGESTED, 0.95, 2000));
  RecurrenceLink response;
  const grpc::Status status = Reject(Decision(kLater, kEarlier), &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(store_.last_decided_state(), RecurrenceLink::REJECTED);
  EXPECT_EQ(response.state(), RecurrenceLink::REJECTED);
  EXPECT_FALSE(response.counted());
}

TEST_F(RecurrenceServiceTest, DecidingAnUnknownLinkIsNotFoundNamingThePair) {
  RecurrenceLink response;
  const grpc::Status status = Confirm(Decision(kLater, kEarlier), &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(status.error_message(), HasSubstr(kLater));
  EXPECT_THAT(status.error_message(), HasSubstr(kEarlier));
}

TEST_F(RecurrenceServiceTest, InvalidRequestsNeverReachTheStore) {
  v1::ListRecurrencesRequest bad_list;
  bad_list.set_page_size(501);
  v1::ListRecurrencesResponse list_response;
  grpc::Status status = List(bad_list, &list_response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), StartsWith("page_size"));
  EXPECT_FALSE(store_.last_list().has_value());

  v1::DecideRecurrenceRequest no_one = Decision(kLater, kEarlier);
  no_one.clear_decided_by();
  RecurrenceLink response;
  status = Confirm(no_one, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), StartsWith("decided_by"));

  status = Reject(Decision(kLater, "not-a-uuid"), &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), StartsWith("earlier_id"));

  status = Reject(Decision(kLater, kLater), &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_FALSE(store_.last_decide().has_value());
}

TEST_F(RecurrenceServiceTest, InvalidUtf8NoteIsInvalidArgumentNotInternal) {
  // Field 4 (note), length-delimited, holding a lone continuation byte.
  v1::DecideRecurrenceRequest request = Decision(kLater, kEarlier);
  request.clear_note();
  std::string bytes = request.SerializeAsString();
  bytes += std::string("\x22\x02\xC3\x28", 4);
  const grpc::Status status =
      RawCall("/deja.v1.RecurrenceService/ConfirmRecurrence", bytes);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("note"));
  EXPECT_FALSE(store_.last_decide().has_value());
}

TEST_F(RecurrenceServiceTest, StoreErrorsKeepTheirCodeAndMessage) {
  store_.Put(Link(kLater, kEarlier, RecurrenceLink::SUGGESTED, 0.9, 2000));
  store_.FailNext(FakeRecurrenceStore::Method::kDecide,
                  absl::UnavailableError("confirm recurrence: database "
                                         "unavailable: connection refused"));
  RecurrenceLink response;
  grpc::Status status = Confirm(Decision(kLater, kEarlier), &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(status.error_message(), HasSubstr("database unavailable"));

  store_.FailNext(
      FakeRecurrenceStore::Method::kList,
      absl::NotFoundError("postmortem " + std::string(kOther) + " not found"));
  v1::ListRecurrencesRequest request;
  request.set_postmortem_id(kOther);
  v1::ListRecurrencesResponse list_response;
  status = List(request, &list_response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(status.error_message(), HasSubstr(kOther));
}

}  // namespace
}  // namespace deja
