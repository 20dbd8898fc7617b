#include "services/postmortem_service.h"

#include <gmock/gmock.h>
#include <google/protobuf/dynamic_message.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>
#include <gtest/gtest.h>

#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "deja/v1/postmortem_service.grpc.pb.h"
#include "tests/testing/fake_postmortem_searcher.h"
#include "tests/testing/fake_postmortem_store.h"

namespace deja {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr absl::Duration kMaxCallTime = absl::Seconds(30);

v1::Postmortem ValidPostmortem() {
  v1::Postmortem p;
  p.set_team("payments");
  p.set_title("Checkout returned 5xx after a config push");
  p.set_summary("A bad rate-limit config rejected most checkout requests.");
  p.set_severity(v1::SEV2);
  p.mutable_started_at()->set_seconds(1700000000);
  p.mutable_detected_at()->set_seconds(1700000300);
  p.mutable_mitigated_at()->set_seconds(1700001200);
  p.mutable_resolved_at()->set_seconds(1700003600);
  p.add_services("checkout");
  p.add_tags("config");
  p.mutable_impact()->set_description("Most checkouts failed for 15 minutes.");
  v1::RootCause* cause = p.add_root_causes();
  cause->set_category(v1::RootCause::CONFIG_CHANGE);
  cause->set_description("The rate limit was set per cluster, not per pod.");
  p.set_resolution("Rolled the config back.");
  for (const char* owner : {"payments-oncall", "sre-team"}) {
    v1::ActionItem* item = p.add_action_items();
    item->set_description("Validate rate-limit configs before rollout");
    item->set_owner(owner);
    item->set_kind(v1::ActionItem::PREVENT);
    item->set_status(v1::ActionItem::OPEN);
  }
  return p;
}

v1::SubmitPostmortemRequest ValidSubmit() {
  v1::SubmitPostmortemRequest request;
  *request.mutable_postmortem() = ValidPostmortem();
  return request;
}

// Replaces the only occurrence of `placeholder` in `bytes` with `replacement`
// of the same length, so that every length prefix stays right.
std::string Patch(std::string bytes, const std::string& placeholder,
                  const std::string& replacement) {
  EXPECT_EQ(placeholder.size(), replacement.size());
  const size_t at = bytes.find(placeholder);
  EXPECT_NE(at, std::string::npos);
  EXPECT_EQ(bytes.find(placeholder, at + 1), std::string::npos);
  return bytes.replace(at, placeholder.size(), replacement);
}

class PostmortemServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::reflection::InitProtoReflectionServerBuilderPlugin();
    grpc::ServerBuilder builder;
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    channel_ = server_->InProcessChannel(grpc::ChannelArguments());
    stub_ = v1::PostmortemService::NewStub(channel_);
  }

  void TearDown() override { server_->Shutdown(); }

  // Sends `request` as it is, as a client with another encoder might.
  grpc::Status RawCall(const std::string& method, const std::string& request,
                       std::string* response = nullptr) {
    grpc::GenericStub stub(channel_);
    grpc::ClientContext context;
    grpc::Slice slice(request);
    grpc::ByteBuffer request_buffer(&slice, 1);
    grpc::ByteBuffer response_buffer;
    std::promise<grpc::Status> done;
    stub.UnaryCall(&context, method, grpc::StubOptions(), &request_buffer,
                   &response_buffer,
                   [&done](grpc::Status status) { done.set_value(status); });
    const grpc::Status status = done.get_future().get();
    if (status.ok() && response != nullptr) {
      std::vector<grpc::Slice> slices;
      EXPECT_TRUE(response_buffer.Dump(&slices).ok());
      response->clear();
      for (const grpc::Slice& s : slices) {
        response->append(reinterpret_cast<const char*>(s.begin()), s.size());
      }
    }
    return status;
  }

  grpc::Status Submit(const v1::SubmitPostmortemRequest& request,
                      v1::SubmitPostmortemResponse* response) {
    grpc::ClientContext context;
    return stub_->SubmitPostmortem(&context, request, response);
  }

  std::string SubmitValid() {
    v1::SubmitPostmortemResponse response;
    EXPECT_TRUE(Submit(ValidSubmit(), &response).ok());
    return response.postmortem().id();
  }

  grpc::Status Get(const std::string& id, v1::Postmortem* postmortem) {
    grpc::ClientContext context;
    v1::GetPostmortemRequest request;
    request.set_id(id);
    return stub_->GetPostmortem(&context, request, postmortem);
  }

  testing::FakePostmortemStore store_;
  PostmortemService service_{store_, kMaxCallTime};
  std::unique_ptr<grpc::Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::PostmortemService::Stub> stub_;
};

constexpr char kSubmitPath[] = "/deja.v1.PostmortemService/SubmitPostmortem";

TEST_F(PostmortemServiceTest, SubmitValidPostmortemStoresIt) {
  v1::SubmitPostmortemResponse response;
  const grpc::Status status = Submit(ValidSubmit(), &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_FALSE(response.postmortem().id().empty());
  EXPECT_EQ(response.postmortem().version(), 1);
  EXPECT_FALSE(response.replayed());

  v1::Postmortem stored;
  ASSERT_TRUE(Get(response.postmortem().id(), &stored).ok());
  EXPECT_EQ(stored.title(), ValidPostmortem().title());
}

TEST_F(PostmortemServiceTest, SubmitRetryWithSameRequestIdIsReplayed) {
  v1::SubmitPostmortemRequest request = ValidSubmit();
  request.set_request_id("3f1c2a9e-retry");
  v1::SubmitPostmortemResponse first, second;
  ASSERT_TRUE(Submit(request, &first).ok());
  ASSERT_TRUE(Submit(request, &second).ok());
  EXPECT_TRUE(second.replayed());
  EXPECT_EQ(second.postmortem().id(), first.postmortem().id());

  request.mutable_postmortem()->set_title("Other content, same request_id");
  EXPECT_EQ(Submit(request, &second).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
}

TEST_F(PostmortemServiceTest, MissingTitleIsInvalidArgumentNamingTheField) {
  v1::SubmitPostmortemRequest request = ValidSubmit();
  request.mutable_postmortem()->clear_title();
  v1::SubmitPostmortemResponse response;
  const grpc::Status status = Submit(request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), StartsWith("postmortem.title"));
}

TEST_F(PostmortemServiceTest, MissingOwnerIsInvalidArgumentNamingTheItem) {
  v1::SubmitPostmortemRequest request = ValidSubmit();
  request.mutable_postmortem()->mutable_action_items(1)->clear_owner();
  v1::SubmitPostmortemResponse response;
  const grpc::Status status = Submit(request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(),
              StartsWith("postmortem.action_items[1].owner"));
}

TEST_F(PostmortemServiceTest, InvalidUtf8TitleIsInvalidArgumentNotInternal) {
  v1::SubmitPostmortemRequest request = ValidSubmit();
  request.mutable_postmortem()->set_title("Checkout @@@@ failed");
  const std::string bytes =
      Patch(request.SerializeAsString(), "@@@@", "\xff\xfe\xc3\x28");
  const grpc::Status status = RawCall(kSubmitPath, bytes);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(), "postmortem.title: not valid UTF-8");
}

TEST_F(PostmortemServiceTest, InvalidUtf8DeepInsideNamesTheRepeatedField) {
  v1::SubmitPostmortemRequest request = ValidSubmit();
  request.mutable_postmortem()->mutable_action_items(1)->set_owner("sre-@@");
  const std::string bytes =
      Patch(request.SerializeAsString(), "sre-@@", "sre-\xc0\xaf");
  const grpc::Status status = RawCall(kSubmitPath, bytes);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(),
            "postmortem.action_items[1].owner: not valid UTF-8");
}

TEST_F(PostmortemServiceTest, GarbageBytesAreInvalidArgument) {
  const grpc::Status status = RawCall(kSubmitPath, "\xff\xff\xff\xff");
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(),
            "request is not a valid deja.v1.SubmitPostmortemRequest message");
}

TEST_F(PostmortemServiceTest, RawCallWithValidBytesWorksLikeTheStub) {
  std::string response_bytes;
  ASSERT_TRUE(
      RawCall(kSubmitPath, ValidSubmit().SerializeAsString(), &response_bytes)
          .ok());
  v1::SubmitPostmortemResponse response;
  ASSERT_TRUE(response.ParseFromString(response_bytes));
  EXPECT_EQ(response.postmortem().version(), 1);
}

TEST_F(PostmortemServiceTest, UnknownMethodIsUnimplemented) {
  EXPECT_EQ(RawCall("/deja.v1.PostmortemService/Nope", "").error_code(),
            grpc::StatusCode::UNIMPLEMENTED);
}

class StoreFailureTest
    : public PostmortemServiceTest,
      public ::testing::WithParamInterface<absl::StatusCode> {};

TEST_P(StoreFailureTest, PassesThroughWithTheSameCodeAndMessage) {
  const std::string id = SubmitValid();
  store_.FailNextCall(absl::Status(GetParam(), "injected by the test"));
  v1::Postmortem postmortem;
  const grpc::Status status = Get(id, &postmortem);
  EXPECT_EQ(static_cast<int>(status.error_code()),
            static_cast<int>(GetParam()));
  EXPECT_EQ(status.error_message(), "injected by the test");
}

INSTANTIATE_TEST_SUITE_P(Codes, StoreFailureTest,
                         ::testing::Values(absl::StatusCode::kUnavailable,
                                           absl::StatusCode::kDeadlineExceeded,
                                           absl::StatusCode::kAborted,
                                           absl::StatusCode::kNotFound,
                                           absl::StatusCode::kInternal));

// "Nothing written" for a rejected request means the store never hears of
// it: a failure queued for the next store call is still there afterwards.
TEST_F(PostmortemServiceTest, RejectedRequestsNeverReachTheStore) {
  const std::string id = SubmitValid();
  store_.FailNextCall(absl::UnavailableError("queued by the test"));

  v1::SubmitPostmortemRequest request = ValidSubmit();
  request.mutable_postmortem()->clear_title();
  v1::SubmitPostmortemResponse response;
  EXPECT_EQ(Submit(request, &response).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  request = ValidSubmit();
  request.mutable_postmortem()->set_title("Checkout @@@@ failed");
  EXPECT_EQ(RawCall(kSubmitPath, Patch(request.SerializeAsString(), "@@@@",
                                       "\xff\xfe\xc3\x28"))
                .error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  v1::Postmortem postmortem;
  EXPECT_EQ(Get("not an id", &postmortem).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);

  const grpc::Status status = Get(id, &postmortem);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(status.error_message(), "queued by the test");
}

TEST_F(PostmortemServiceTest, ThrowingStoreIsInternalNotUnknown) {
  const std::string id = SubmitValid();
  store_.ThrowNextCall("connection object in a bad state");
  v1::Postmortem postmortem;
  const grpc::Status status = Get(id, &postmortem);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INTERNAL);
  EXPECT_THAT(status.error_message(),
              HasSubstr("connection object in a bad state"));
}

TEST_F(PostmortemServiceTest, ClientDeadlineReachesTheStore) {
  const std::string id = SubmitValid();
  const absl::Time before = absl::Now();
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(before + absl::Seconds(5)));
  v1::GetPostmortemRequest request;
  request.set_id(id);
  v1::Postmortem postmortem;
  ASSERT_TRUE(stub_->GetPostmortem(&context, request, &postmortem).ok());
  // gRPC sends the deadline as a timeout rounded up, so allow some slack.
  EXPECT_GT(store_.last_deadline(), before + absl::Seconds(4));
  EXPECT_LT(store_.last_deadline(), before + absl::Seconds(6));
}

TEST_F(PostmortemServiceTest, NoClientDeadlineIsCappedForTheStore) {
  const std::string id = SubmitValid();
  v1::Postmortem postmortem;
  ASSERT_TRUE(Get(id, &postmortem).ok());
  const absl::Duration left = store_.last_deadline() - absl::Now();
  EXPECT_GT(left, kMaxCallTime - absl::Seconds(5));
  EXPECT_LE(left, kMaxCallTime);
}

TEST_F(PostmortemServiceTest, ListUpdateActionItemAndDeleteGoThroughTheStore) {
  const std::string id = SubmitValid();
  v1::Postmortem current;
  ASSERT_TRUE(Get(id, &current).ok());

  {
    grpc::ClientContext context;
    v1::ListPostmortemsRequest request;
    request.set_team("payments");
    v1::ListPostmortemsResponse response;
    ASSERT_TRUE(stub_->ListPostmortems(&context, request, &response).ok());
    ASSERT_EQ(response.postmortems_size(), 1);
    EXPECT_EQ(response.postmortems(0).id(), id);
  }
  {
    grpc::ClientContext context;
    v1::UpdatePostmortemRequest request;
    *request.mutable_postmortem() = current;
    request.mutable_postmortem()->set_summary("Updated after the review.");
    request.set_expected_version(current.version());
    v1::Postmortem updated;
    const grpc::Status status =
        stub_->UpdatePostmortem(&context, request, &updated);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(updated.version(), current.version() + 1);
  }
  {
    grpc::ClientContext context;
    v1::UpdatePostmortemRequest request;
    *request.mutable_postmortem() = current;
    request.set_expected_version(current.version());  // stale now
    v1::Postmortem updated;
    EXPECT_EQ(stub_->UpdatePostmortem(&context, request, &updated).error_code(),
              grpc::StatusCode::ABORTED);
  }
  {
    grpc::ClientContext context;
    v1::UpdateActionItemRequest request;
    request.set_postmortem_id(id);
    request.set_action_item_id(current.action_items(0).id());
    request.set_status(v1::ActionItem::DONE);
    v1::ActionItem item;
    const grpc::Status status =
        stub_->UpdateActionItem(&context, request, &item);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(item.status(), v1::ActionItem::DONE);
    EXPECT_EQ(item.history_size(), 1);
  }
  {
    grpc::ClientContext context;
    v1::DeletePostmortemRequest request;
    request.set_id(id);
    v1::DeletePostmortemResponse response;
    const grpc::Status status =
        stub_->DeletePostmortem(&context, request, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }
  v1::Postmortem gone;
  EXPECT_EQ(Get(id, &gone).error_code(), grpc::StatusCode::NOT_FOUND);
}

// dejad's health wiring (SERVING at start, NOT_SERVING while draining) is
// covered end to end by tests/e2e/dejad_lifecycle_e2e.py.

// Server reflection finds services by the names in their method paths and
// their descriptors in the generated pool; raw registration must keep both.
class ReflectionTest : public PostmortemServiceTest {
 protected:
  // One request/response exchange on the reflection stream; the reflection
  // messages come from the generated pool that libgrpc++_reflection fills.
  std::unique_ptr<google::protobuf::Message> Ask(const std::string& field,
                                                 const std::string& value) {
    const google::protobuf::DescriptorPool* pool =
        google::protobuf::DescriptorPool::generated_pool();
    const google::protobuf::Descriptor* request_type =
        pool->FindMessageTypeByName(
            "grpc.reflection.v1alpha.ServerReflectionRequest");
    const google::protobuf::Descriptor* response_type =
        pool->FindMessageTypeByName(
            "grpc.reflection.v1alpha.ServerReflectionResponse");
    if (request_type == nullptr || response_type == nullptr) {
      ADD_FAILURE() << "reflection messages are not in the generated pool";
      return nullptr;
    }
    std::unique_ptr<google::protobuf::Message> request(
        factory_.GetPrototype(request_type)->New());
    request->GetReflection()->SetString(
        request.get(), request_type->FindFieldByName(field), value);

    grpc::ClientContext context;
    std::unique_ptr<
        grpc::ClientReaderWriter<grpc::ByteBuffer, grpc::ByteBuffer>>
        stream(grpc::internal::ClientReaderWriterFactory<grpc::ByteBuffer,
                                                         grpc::ByteBuffer>::
                   Create(channel_.get(),
                          grpc::internal::RpcMethod(
                              "/grpc.reflection.v1alpha.ServerReflection/"
                              "ServerReflectionInfo",
                              grpc::internal::RpcMethod::BIDI_STREAMING),
                          &context));
    grpc::Slice slice(request->SerializeAsString());
    EXPECT_TRUE(stream->Write(grpc::ByteBuffer(&slice, 1)));
    stream->WritesDone();
    grpc::ByteBuffer reply;
    EXPECT_TRUE(stream->Read(&reply));
    EXPECT_TRUE(stream->Finish().ok());
    std::vector<grpc::Slice> slices;
    EXPECT_TRUE(reply.Dump(&slices).ok());
    std::string bytes;
    for (const grpc::Slice& s : slices) {
      bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
    }
    std::unique_ptr<google::protobuf::Message> response(
        factory_.GetPrototype(response_type)->New());
    EXPECT_TRUE(response->ParseFromString(bytes));
    return response;
  }

  google::protobuf::DynamicMessageFactory factory_;
};

TEST_F(ReflectionTest, ListsPostmortemService) {
  std::unique_ptr<google::protobuf::Message> response =
      Ask("list_services", "");
  ASSERT_NE(response, nullptr);
  EXPECT_THAT(response->DebugString(),
              HasSubstr("name: \"deja.v1.PostmortemService\""));
}

TEST_F(ReflectionTest, DescribesPostmortemService) {
  std::unique_ptr<google::protobuf::Message> response =
      Ask("file_containing_symbol", "deja.v1.PostmortemService");
  ASSERT_NE(response, nullptr);
  const std::string text = response->DebugString();
  EXPECT_THAT(text, HasSubstr("file_descriptor_response"));
  EXPECT_THAT(text, HasSubstr("deja/v1/postmortem_service.proto"));
}

// Read-your-writes: the same service with a searcher to wait on.
class ReadYourWritesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    stub_ = v1::PostmortemService::NewStub(
        server_->InProcessChannel(grpc::ChannelArguments()));
  }

  void TearDown() override { server_->Shutdown(); }

  grpc::Status Submit(const v1::SubmitPostmortemRequest& request,
                      v1::SubmitPostmortemResponse* response,
                      absl::Duration timeout = absl::Seconds(30)) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
    return stub_->SubmitPostmortem(&context, request, response);
  }

  static v1::SubmitPostmortemRequest Waiting() {
    v1::SubmitPostmortemRequest request = ValidSubmit();
    request.set_wait_searchable(true);
    return request;
  }

  testing::FakePostmortemStore store_;
  testing::FakePostmortemSearcher searcher_;
  PostmortemService service_{store_, kMaxCallTime, &searcher_};
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::PostmortemService::Stub> stub_;
};

// The fake store numbers ids from 1 in UUID shape.
constexpr char kFirstId[] = "00000000-0000-4000-8000-000000000001";

TEST_F(ReadYourWritesTest, WaitsUntilTheIndexHasTheVersion) {
  std::thread indexer([this] {
    absl::SleepFor(absl::Milliseconds(200));
    searcher_.MarkIndexed(kFirstId, 1);
  });
  const absl::Time start = absl::Now();
  v1::SubmitPostmortemResponse response;
  const grpc::Status status = Submit(Waiting(), &response);
  indexer.join();
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(response.postmortem().id(), kFirstId);
  EXPECT_TRUE(response.searchable());
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(200));
  // The wait goes in slices, to notice a cancelled call.
  EXPECT_GE(searcher_.wait_calls(), 1);
}

TEST_F(ReadYourWritesTest, WithoutWaitSearchableNothingWaits) {
  v1::SubmitPostmortemResponse response;
  ASSERT_TRUE(Submit(ValidSubmit(), &response).ok());
  EXPECT_FALSE(response.searchable());
  EXPECT_EQ(searcher_.wait_calls(), 0);
}

TEST_F(ReadYourWritesTest, TimeoutIsNotAnErrorButSearchableFalse) {
  v1::SubmitPostmortemResponse response;
  const absl::Time start = absl::Now();
  const grpc::Status status = Submit(Waiting(), &response, absl::Seconds(1));
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_FALSE(response.searchable());
  EXPECT_EQ(response.postmortem().version(), 1);
  // It waited, but answered before the client's deadline.
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(500));
  EXPECT_LT(absl::Now() - start, absl::Seconds(1));
}

TEST(SearchableDeadlineTest, WaitNeverExceedsTenSeconds) {
  const absl::Time start = absl::FromUnixSeconds(1700000000);
  const absl::Time now = start + absl::Seconds(1);
  EXPECT_EQ(PostmortemService::SearchableDeadline(
                start, now, absl::InfiniteFuture(), absl::Hours(1)),
            now + PostmortemService::kMaxSearchableWait);
  EXPECT_EQ(PostmortemService::SearchableDeadline(
                start, now, start + absl::Hours(1), absl::Hours(1)),
            now + PostmortemService::kMaxSearchableWait);
}

TEST(SearchableDeadlineTest, EndsBeforeTheCallStartPlusMaxCallTime) {
  // The store took 8 s of a 12 s call: 4 s are left, not 10.
  const absl::Time start = absl::FromUnixSeconds(1700000000);
  const absl::Time now = start + absl::Seconds(8);
  const absl::Time end = PostmortemService::SearchableDeadline(
      start, now, absl::InfiniteFuture(), absl::Seconds(12));
  EXPECT_LT(end, start + absl::Seconds(12));
  EXPECT_GT(end, start + absl::Seconds(11));
}

TEST(SearchableDeadlineTest, EndsBeforeTheClientsDeadline) {
  const absl::Time start = absl::FromUnixSeconds(1700000000);
  const absl::Time end = PostmortemService::SearchableDeadline(
      start, start, start + absl::Seconds(2), absl::Seconds(30));
  EXPECT_LT(end, start + absl::Seconds(2));
  EXPECT_GT(end, start + absl::Seconds(1));
}

TEST(SearchableDeadlineTest, AlreadyLateIsInThePast) {
  const absl::Time start = absl::FromUnixSeconds(1700000000);
  const absl::Time now = start + absl::Seconds(20);
  EXPECT_LT(PostmortemService::SearchableDeadline(
                start, now, absl::InfiniteFuture(), absl::Seconds(12)),
            now);
}

TEST_F(ReadYourWritesTest, CancelledCallStopsWaiting) {
  grpc::ClientContext context;  // no deadline: only kMaxSearchableWait
  std::thread canceller([&context] {
    absl::SleepFor(absl::Milliseconds(300));
    context.TryCancel();
  });
  v1::SubmitPostmortemResponse response;
  const grpc::Status status =
      stub_->SubmitPostmortem(&context, Waiting(), &response);
  canceller.join();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::CANCELLED);
  // Shutdown waits for the handler: it must have stopped waiting too.
  const absl::Time before = absl::Now();
  server_->Shutdown();
  EXPECT_LT(absl::Now() - before, absl::Seconds(2));
}

TEST(ReadYourWritesCallTimeTest, WaitEndsWithinMaxCallTimeOfTheCallStart) {
  testing::FakePostmortemStore store;
  testing::FakePostmortemSearcher searcher;  // never indexes anything
  PostmortemService service(store, absl::Seconds(1), &searcher);
  grpc::ServerBuilder builder;
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  ASSERT_NE(server, nullptr);
  std::unique_ptr<v1::PostmortemService::Stub> stub =
      v1::PostmortemService::NewStub(
          server->InProcessChannel(grpc::ChannelArguments()));
  v1::SubmitPostmortemRequest request = ValidSubmit();
  request.set_wait_searchable(true);
  grpc::ClientContext context;  // no deadline
  v1::SubmitPostmortemResponse response;
  const absl::Time start = absl::Now();
  const grpc::Status status =
      stub->SubmitPostmortem(&context, request, &response);
  const absl::Duration took = absl::Now() - start;
  server->Shutdown();
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_FALSE(response.searchable());
  EXPECT_GE(took, absl::Milliseconds(500));
  EXPECT_LT(took, absl::Seconds(1));
}

TEST_F(ReadYourWritesTest, SearcherErrorIsSearchableFalse) {
  searcher_.FailNextCall(absl::UnavailableError("no index yet"));
  v1::SubmitPostmortemResponse response;
  const grpc::Status status = Submit(Waiting(), &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_FALSE(response.searchable());
}

TEST_F(ReadYourWritesTest, ReplayWaitsToo) {
  v1::SubmitPostmortemRequest request = Waiting();
  request.set_request_id("retry-me");
  searcher_.MarkIndexed(kFirstId, 1);
  v1::SubmitPostmortemResponse first, second;
  ASSERT_TRUE(Submit(request, &first).ok());
  ASSERT_TRUE(Submit(request, &second).ok());
  EXPECT_TRUE(second.replayed());
  EXPECT_TRUE(second.searchable());
  EXPECT_EQ(searcher_.wait_calls(), 2);

  // Once the index loses it, a replay says so.
  searcher_.MarkIndexed(kFirstId, 0);
  ASSERT_TRUE(Submit(request, &second, absl::Milliseconds(600)).ok());
  EXPECT_TRUE(second.replayed());
  EXPECT_FALSE(second.searchable());
}

TEST_F(ReadYourWritesTest, FailedSubmitDoesNotWait) {
  v1::SubmitPostmortemRequest request = Waiting();
  request.mutable_postmortem()->clear_title();
  v1::SubmitPostmortemResponse response;
  EXPECT_EQ(Submit(request, &response).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(searcher_.wait_calls(), 0);
}

TEST_F(PostmortemServiceTest, WithoutSearcherWaitSearchableAnswersFalse) {
  v1::SubmitPostmortemRequest request = ValidSubmit();
  request.set_wait_searchable(true);
  v1::SubmitPostmortemResponse response;
  ASSERT_TRUE(Submit(request, &response).ok());
  EXPECT_FALSE(response.searchable());
  EXPECT_EQ(response.postmortem().version(), 1);
}

// ---- Blameless-language check ---------------------------------------------

v1::SubmitPostmortemRequest BlamefulSubmit() {
  v1::SubmitPostmortemRequest request = ValidSubmit();
  request.mutable_postmortem()->mutable_root_causes(0)->set_description(
      "Human error: the rate limit was set per cluster.");
  request.mutable_postmortem()->set_resolution(
      "Rolled back; the on-call engineer failed to check the dashboard.");
  return request;
}

TEST_F(PostmortemServiceTest, BlamelessSubmitHasNoWarnings) {
  v1::SubmitPostmortemResponse response;
  ASSERT_TRUE(Submit(ValidSubmit(), &response).ok());
  EXPECT_EQ(response.warnings_size(), 0);
}

TEST_F(PostmortemServiceTest, BlamingLanguageIsStoredWithWarnings) {
  v1::SubmitPostmortemResponse response;
  const grpc::Status status = Submit(BlamefulSubmit(), &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(response.warnings_size(), 2);
  EXPECT_EQ(response.warnings(0).field(), "root_causes[0].description");
  EXPECT_EQ(response.warnings(0).phrase(), "Human error");
  EXPECT_EQ(response.warnings(0).rule(), "human-error");
  EXPECT_FALSE(response.warnings(0).suggestion().empty());
  EXPECT_EQ(response.warnings(1).field(), "resolution");
  EXPECT_EQ(response.warnings(1).rule(), "failed-to");

  v1::Postmortem stored;
  ASSERT_TRUE(Get(response.postmortem().id(), &stored).ok());
  EXPECT_EQ(stored.resolution(), BlamefulSubmit().postmortem().resolution());
}

TEST_F(PostmortemServiceTest, ReplayReportsTheSameWarnings) {
  v1::SubmitPostmortemRequest request = BlamefulSubmit();
  request.set_request_id("blame-replay");
  v1::SubmitPostmortemResponse first, second;
  ASSERT_TRUE(Submit(request, &first).ok());
  ASSERT_TRUE(Submit(request, &second).ok());
  EXPECT_TRUE(second.replayed());
  EXPECT_EQ(second.warnings_size(), first.warnings_size());
  EXPECT_EQ(second.warnings_size(), 2);
}

// The same service started with require_blameless.
class RequireBlamelessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    stub_ = v1::PostmortemService::NewStub(
        server_->InProcessChannel(grpc::ChannelArguments()));
  }

  void TearDown() override { server_->Shutdown(); }

  grpc::Status Submit(const v1::SubmitPostmortemRequest& request,
                      v1::SubmitPostmortemResponse* response) {
    grpc::ClientContext context;
    return stub_->SubmitPostmortem(&context, request, response);
  }

  static PostmortemServiceOptions Strict() {
    PostmortemServiceOptions options;
    options.require_blameless = true;
    return options;
  }

  testing::FakePostmortemStore store_;
  PostmortemService service_{store_, kMaxCallTime, nullptr, Strict()};
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::PostmortemService::Stub> stub_;
};

TEST_F(RequireBlamelessTest, BlamingLanguageIsFailedPreconditionNamingIt) {
  v1::SubmitPostmortemResponse response;
  const grpc::Status status = Submit(BlamefulSubmit(), &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(status.error_message(),
              StartsWith("root_causes[0].description: \"Human error\" "
                         "blames people; "));
  EXPECT_THAT(status.error_message(), HasSubstr("(rule human-error)"));
}

// As in RejectedRequestsNeverReachTheStore: a failure queued for the next
// store call is still there after the rejected submit.
TEST_F(RequireBlamelessTest, RejectedSubmitWritesNothing) {
  store_.FailNextCall(absl::UnavailableError("queued by the test"));
  v1::SubmitPostmortemResponse response;
  EXPECT_EQ(Submit(BlamefulSubmit(), &response).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(Submit(ValidSubmit(), &response).error_code(),
            grpc::StatusCode::UNAVAILABLE);
}

TEST_F(RequireBlamelessTest, BlamelessSubmitIsStored) {
  v1::SubmitPostmortemResponse response;
  const grpc::Status status = Submit(ValidSubmit(), &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.postmortem().version(), 1);
  EXPECT_EQ(response.warnings_size(), 0);
}

}  // namespace
}  // namespace deja
