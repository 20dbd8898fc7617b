#include "services/admin_service.h"

#include <gmock/gmock.h>
#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <utility>

#include "deja/v1/admin_service.grpc.pb.h"
#include "tests/testing/fake_postmortem_searcher.h"

namespace deja {
namespace {

using ::testing::HasSubstr;

// Only Stats() matters to AdminService; the rest is never called.
class StatsOnlyFeed : public IndexFeed {
 public:
  absl::StatusOr<std::unique_ptr<OutboxBatch>> Claim(int) override {
    return absl::UnimplementedError("not in this test");
  }
  absl::StatusOr<std::unique_ptr<OutboxBatch>> ClaimLinks(int) override {
    return absl::UnimplementedError("not in this test");
  }
  absl::StatusOr<WaitOutcome> WaitForWork(absl::Duration) override {
    return absl::UnimplementedError("not in this test");
  }
  absl::StatusOr<OutboxStats> Stats() override { return stats; }
  absl::Status ForEachPostmortem(
      const std::function<absl::Status(const v1::Postmortem&)>&) override {
    return absl::UnimplementedError("not in this test");
  }

  absl::StatusOr<OutboxStats> stats = OutboxStats{};
};

class ScriptedIndexSync : public IndexSync {
 public:
  void Start() override {}
  void Stop() override {}
  absl::StatusOr<int64_t> RunOnce() override { return 0; }
  absl::StatusOr<v1::RebuildIndexResponse> Rebuild() override {
    ++rebuilds;
    return rebuild_result;
  }
  v1::IndexStatus Status() override { return status; }

  v1::IndexStatus status;
  absl::StatusOr<v1::RebuildIndexResponse> rebuild_result;
  int rebuilds = 0;
};

class AdminServiceTest : public ::testing::Test {
 protected:
  void Serve(IndexSync* sync) {
    service_ = std::make_unique<AdminService>(sync, feed_, searcher_,
                                              "/var/lib/deja/index");
    grpc::ServerBuilder builder;
    builder.RegisterService(service_.get());
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    stub_ = v1::AdminService::NewStub(
        server_->InProcessChannel(grpc::ChannelArguments()));
  }

  void TearDown() override {
    if (server_ != nullptr) server_->Shutdown();
  }

  grpc::Status GetStatus(v1::IndexStatus* status) {
    grpc::ClientContext context;
    return stub_->GetIndexStatus(&context, v1::GetIndexStatusRequest(), status);
  }

  grpc::Status Rebuild(v1::RebuildIndexResponse* response) {
    grpc::ClientContext context;
    return stub_->RebuildIndex(&context, v1::RebuildIndexRequest(), response);
  }

  StatsOnlyFeed feed_;
  testing::FakePostmortemSearcher searcher_;
  ScriptedIndexSync sync_;
  std::unique_ptr<AdminService> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::AdminService::Stub> stub_;
};

TEST_F(AdminServiceTest, StatusComesFromTheRunningIndexer) {
  sync_.status.set_pending(3);
  sync_.status.set_lag_seconds(1.5);
  sync_.status.set_documents(42);
  sync_.status.set_index_path("/data/index/gen-2");
  sync_.status.mutable_last_rebuild()->set_seconds(1700000000);
  sync_.status.set_indexer_running(true);
  Serve(&sync_);
  v1::IndexStatus status;
  ASSERT_TRUE(GetStatus(&status).ok());
  EXPECT_EQ(status.pending(), 3);
  EXPECT_DOUBLE_EQ(status.lag_seconds(), 1.5);
  EXPECT_EQ(status.documents(), 42);
  EXPECT_TRUE(status.indexer_running());
  EXPECT_EQ(status.index_path(), "/data/index/gen-2");
  EXPECT_EQ(status.last_rebuild().seconds(), 1700000000);
}

TEST_F(AdminServiceTest, AStoppedIndexerLoopIsReportedAsNotRunning) {
  sync_.status.set_documents(42);
  sync_.status.set_indexer_running(false);
  Serve(&sync_);
  v1::IndexStatus status;
  ASSERT_TRUE(GetStatus(&status).ok());
  EXPECT_EQ(status.documents(), 42);
  EXPECT_FALSE(status.indexer_running());
}

TEST_F(AdminServiceTest, WithoutIndexerStatusComesFromFeedAndSearcher) {
  feed_.stats = OutboxStats{7, absl::Seconds(12)};
  searcher_.SetDocumentCount(99);
  Serve(nullptr);
  v1::IndexStatus status;
  ASSERT_TRUE(GetStatus(&status).ok());
  EXPECT_EQ(status.pending(), 7);
  EXPECT_DOUBLE_EQ(status.lag_seconds(), 12);
  EXPECT_EQ(status.documents(), 99);
  EXPECT_FALSE(status.indexer_running());
  EXPECT_EQ(status.index_path(), "/var/lib/deja/index");
  EXPECT_EQ(status.last_error(), "");
}

TEST_F(AdminServiceTest, WithoutIndexerMissingIndexIsReportedNotFailed) {
  searcher_.FailNextCall(absl::UnavailableError("no index yet"));
  Serve(nullptr);
  v1::IndexStatus status;
  ASSERT_TRUE(GetStatus(&status).ok());
  EXPECT_EQ(status.documents(), 0);
  EXPECT_THAT(status.last_error(), HasSubstr("no index yet"));
}

TEST_F(AdminServiceTest, WithoutIndexerUnreachableDatabaseIsUnavailable) {
  feed_.stats = absl::UnavailableError("database down");
  Serve(nullptr);
  v1::IndexStatus status;
  const grpc::Status result = GetStatus(&status);
  EXPECT_EQ(result.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(result.error_message(), "database down");
}

TEST_F(AdminServiceTest, RebuildRunsOnTheIndexer) {
  v1::RebuildIndexResponse done;
  done.set_documents(42);
  done.set_seconds(0.25);
  done.set_index_path("/data/index/gen-3");
  sync_.rebuild_result = done;
  Serve(&sync_);
  v1::RebuildIndexResponse response;
  ASSERT_TRUE(Rebuild(&response).ok());
  EXPECT_EQ(response.SerializeAsString(), done.SerializeAsString());
  EXPECT_EQ(sync_.rebuilds, 1);
}

TEST_F(AdminServiceTest, RebuildFailurePassesThrough) {
  sync_.rebuild_result = absl::UnavailableError("database down");
  Serve(&sync_);
  v1::RebuildIndexResponse response;
  const grpc::Status status = Rebuild(&response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(status.error_message(), "database down");
}

TEST_F(AdminServiceTest, RebuildWithoutIndexerIsFailedPrecondition) {
  Serve(nullptr);
  v1::RebuildIndexResponse response;
  const grpc::Status status = Rebuild(&response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(status.error_message(),
              HasSubstr("stop the running deja-indexer"));
  EXPECT_THAT(status.error_message(), HasSubstr("`deja-indexer --rebuild`"));
}

}  // namespace
}  // namespace deja
