// PostmortemService.ImportPostmortems over a real in-process gRPC channel
// against the in-memory store: outcomes per record, counts, idempotence, the
// dry run, the blameless check and the failures that end the call.

#include <gmock/gmock.h>
#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "deja/v1/postmortem_service.grpc.pb.h"
#include "services/postmortem_service.h"
#include "tests/testing/fake_postmortem_store.h"

namespace deja {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr absl::Duration kMaxCallTime = absl::Seconds(30);

v1::ImportRecord Record(int n) {
  v1::ImportRecord record;
  record.set_source(absl::StrCat("incidents/", n, ".md"));
  record.set_request_id(absl::StrCat("import-", n));
  v1::Postmortem& p = *record.mutable_postmortem();
  p.set_team("storage");
  p.set_title(absl::StrCat("Disk filled up on db-", n));
  p.set_summary("Write-ahead logs filled the data disk.");
  p.set_severity(v1::SEV3);
  p.mutable_started_at()->set_seconds(1700000000 + n);
  p.add_services("postgres");
  return record;
}

class ImportServiceTest : public ::testing::Test {
 protected:
  void SetUp() override { Start(PostmortemServiceOptions()); }
  void TearDown() override { server_->Shutdown(); }

  void Start(PostmortemServiceOptions options) {
    if (server_ != nullptr) server_->Shutdown();
    service_ = std::make_unique<PostmortemService>(store_, kMaxCallTime,
                                                   nullptr, options);
    grpc::ServerBuilder builder;
    builder.RegisterService(service_.get());
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    stub_ = v1::PostmortemService::NewStub(
        server_->InProcessChannel(grpc::ChannelArguments()));
  }

  // Streams `batches` as one call.
  grpc::Status Import(const std::vector<v1::ImportPostmortemsRequest>& batches,
                      v1::ImportPostmortemsResponse* response) {
    grpc::ClientContext context;
    std::unique_ptr<grpc::ClientWriter<v1::ImportPostmortemsRequest>> writer =
        stub_->ImportPostmortems(&context, response);
    for (const v1::ImportPostmortemsRequest& batch : batches) {
      if (!writer->Write(batch)) break;
    }
    writer->WritesDone();
    return writer->Finish();
  }

  // Records 1..n in batches of `per_batch`.
  static std::vector<v1::ImportPostmortemsRequest> Batches(int n,
                                                           int per_batch) {
    std::vector<v1::ImportPostmortemsRequest> batches;
    for (int i = 1; i <= n; ++i) {
      if ((i - 1) % per_batch == 0) batches.emplace_back();
      *batches.back().add_records() = Record(i);
    }
    return batches;
  }

  testing::FakePostmortemStore store_;
  std::unique_ptr<PostmortemService> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::PostmortemService::Stub> stub_;
};

TEST_F(ImportServiceTest, StoresEveryRecordAcrossBatchesInOrder) {
  v1::ImportPostmortemsResponse response;
  const grpc::Status status = Import(Batches(5, 2), &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(response.results_size(), 5);
  EXPECT_EQ(response.imported(), 5);
  EXPECT_EQ(response.unchanged() + response.rejected() + response.valid(), 0);
  for (int i = 0; i < 5; ++i) {
    const v1::ImportResult& result = response.results(i);
    EXPECT_EQ(result.source(), absl::StrCat("incidents/", i + 1, ".md"));
    EXPECT_EQ(result.outcome(), v1::ImportResult::IMPORTED);
    EXPECT_FALSE(result.postmortem_id().empty());
  }
}

TEST_F(ImportServiceTest, ImportingAgainCreatesNothing) {
  v1::ImportPostmortemsResponse first;
  ASSERT_TRUE(Import(Batches(3, 10), &first).ok());
  v1::ImportPostmortemsResponse second;
  ASSERT_TRUE(Import(Batches(3, 10), &second).ok());
  EXPECT_EQ(second.unchanged(), 3);
  EXPECT_EQ(second.imported(), 0);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(second.results(i).outcome(), v1::ImportResult::UNCHANGED);
    EXPECT_EQ(second.results(i).postmortem_id(),
              first.results(i).postmortem_id());
  }
}

TEST_F(ImportServiceTest, BadRecordIsRejectedWithItsReasonAndTheRestGoOn) {
  std::vector<v1::ImportPostmortemsRequest> batches = Batches(3, 10);
  batches[0].mutable_records(1)->mutable_postmortem()->clear_severity();
  v1::ImportPostmortemsResponse response;
  ASSERT_TRUE(Import(batches, &response).ok());
  EXPECT_EQ(response.imported(), 2);
  EXPECT_EQ(response.rejected(), 1);
  const v1::ImportResult& rejected = response.results(1);
  EXPECT_EQ(rejected.source(), "incidents/2.md");
  EXPECT_EQ(rejected.outcome(), v1::ImportResult::REJECTED);
  EXPECT_EQ(rejected.reason(),
            "INVALID_ARGUMENT: postmortem.severity: required (SEV1 to SEV5)");
  EXPECT_TRUE(rejected.postmortem_id().empty());
  EXPECT_EQ(response.results(2).outcome(), v1::ImportResult::IMPORTED);
}

TEST_F(ImportServiceTest, SourceAndRequestIdAreRequired) {
  std::vector<v1::ImportPostmortemsRequest> batches = Batches(2, 10);
  batches[0].mutable_records(0)->clear_source();
  batches[0].mutable_records(1)->clear_request_id();
  v1::ImportPostmortemsResponse response;
  ASSERT_TRUE(Import(batches, &response).ok());
  EXPECT_EQ(response.rejected(), 2);
  EXPECT_THAT(response.results(0).reason(),
              StartsWith("INVALID_ARGUMENT: source: required"));
  EXPECT_THAT(response.results(1).reason(),
              StartsWith("INVALID_ARGUMENT: request_id: required"));
}

TEST_F(ImportServiceTest, SameRequestIdWithOtherContentIsRejected) {
  v1::ImportPostmortemsResponse first;
  ASSERT_TRUE(Import(Batches(1, 10), &first).ok());
  std::vector<v1::ImportPostmortemsRequest> changed = Batches(1, 10);
  changed[0].mutable_records(0)->mutable_postmortem()->set_title("Edited");
  v1::ImportPostmortemsResponse response;
  ASSERT_TRUE(Import(changed, &response).ok());
  EXPECT_EQ(response.results(0).outcome(), v1::ImportResult::REJECTED);
  EXPECT_THAT(response.results(0).reason(), StartsWith("FAILED_PRECONDITION"));
}

// As in the Submit tests: a failure queued for the next store call is still
// there after a dry run, so the dry run never reached the store.
TEST_F(ImportServiceTest, DryRunValidatesAndStoresNothing) {
  std::vector<v1::ImportPostmortemsRequest> batches = Batches(3, 2);
  batches[0].set_dry_run(true);
  batches[1].mutable_records(0)->mutable_postmortem()->clear_services();
  store_.FailNextCall(absl::UnavailableError("queued by the test"));
  v1::ImportPostmortemsResponse response;
  ASSERT_TRUE(Import(batches, &response).ok());
  EXPECT_EQ(response.valid(), 2);
  EXPECT_EQ(response.rejected(), 1);
  EXPECT_EQ(response.imported(), 0);
  EXPECT_EQ(response.results(0).outcome(), v1::ImportResult::VALID);
  EXPECT_THAT(response.results(2).reason(),
              HasSubstr("at least one service is required"));

  v1::ImportPostmortemsResponse real;
  EXPECT_EQ(Import(Batches(1, 1), &real).error_code(),
            grpc::StatusCode::UNAVAILABLE);
}

TEST_F(ImportServiceTest, BlamingLanguageComesBackAsWarnings) {
  std::vector<v1::ImportPostmortemsRequest> batches = Batches(1, 1);
  batches[0].mutable_records(0)->mutable_postmortem()->set_summary(
      "The outage was caused by human error during the failover.");
  v1::ImportPostmortemsResponse response;
  ASSERT_TRUE(Import(batches, &response).ok());
  EXPECT_EQ(response.results(0).outcome(), v1::ImportResult::IMPORTED);
  ASSERT_EQ(response.results(0).warnings_size(), 1);
  EXPECT_EQ(response.results(0).warnings(0).field(), "summary");
  EXPECT_EQ(response.results(0).warnings(0).rule(), "human-error");
}

TEST_F(ImportServiceTest, RequireBlamelessRejectsOnlyTheBlamingRecord) {
  PostmortemServiceOptions strict;
  strict.require_blameless = true;
  Start(strict);
  std::vector<v1::ImportPostmortemsRequest> batches = Batches(2, 2);
  batches[0].mutable_records(0)->mutable_postmortem()->set_summary(
      "The outage was caused by human error during the failover.");
  v1::ImportPostmortemsResponse response;
  ASSERT_TRUE(Import(batches, &response).ok());
  EXPECT_EQ(response.rejected(), 1);
  EXPECT_EQ(response.imported(), 1);
  EXPECT_THAT(response.results(0).reason(),
              StartsWith("FAILED_PRECONDITION: summary: \"human error\" "
                         "blames people; "));
}

TEST_F(ImportServiceTest, UnavailableDatabaseEndsTheCall) {
  store_.FailNextCall(absl::UnavailableError("database unavailable: down"));
  v1::ImportPostmortemsResponse response;
  const grpc::Status status = Import(Batches(3, 10), &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(status.error_message(), "database unavailable: down");
}

TEST_F(ImportServiceTest, OversizedMessageIsInvalidArgument) {
  v1::ImportPostmortemsResponse response;
  const grpc::Status status =
      Import(Batches(PostmortemService::kMaxImportBatch + 1,
                     PostmortemService::kMaxImportBatch + 1),
             &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(),
              HasSubstr("at most 1000 per message, got 1001"));
}

TEST_F(ImportServiceTest, TooManyRecordsInOneCallIsInvalidArgument) {
  // Cheap records: each is rejected (no source), which still counts.
  std::vector<v1::ImportPostmortemsRequest> batches(11);
  for (v1::ImportPostmortemsRequest& batch : batches) {
    for (int i = 0; i < PostmortemService::kMaxImportBatch; ++i) {
      batch.add_records();
    }
  }
  v1::ImportPostmortemsResponse response;
  const grpc::Status status = Import(batches, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("at most 10000 per call"));
}

// The one answer must stay under gRPC's 4 MiB: once it is full the server
// stops reading, says so, and has stored nothing it did not answer for.
TEST_F(ImportServiceTest, FullAnswerStopsReadingAndStoresNothingUnanswered) {
  const std::string long_source(PostmortemService::kMaxImportSourceBytes - 8,
                                's');
  std::vector<v1::ImportPostmortemsRequest> batches = Batches(4000, 1000);
  for (v1::ImportPostmortemsRequest& batch : batches) {
    for (v1::ImportRecord& record : *batch.mutable_records()) {
      record.set_source(long_source + record.source().substr(10));
    }
  }
  v1::ImportPostmortemsResponse first;
  ASSERT_TRUE(Import(batches, &first).ok());
  EXPECT_FALSE(first.complete());
  const int answered = first.results_size();
  EXPECT_GT(answered, 2000);
  EXPECT_LT(answered, 4000);
  EXPECT_LE(first.ByteSizeLong(), 4u << 20);
  EXPECT_EQ(first.imported(), answered);

  // Sending everything again: what was answered is unchanged, the rest is
  // new, so nothing unanswered had been stored.
  v1::ImportPostmortemsResponse again;
  ASSERT_TRUE(Import(batches, &again).ok());
  EXPECT_EQ(again.unchanged(), answered);
  EXPECT_EQ(again.imported(), again.results_size() - answered);
}

TEST_F(ImportServiceTest, SourceIsBoundedAndWarningsCapped) {
  std::vector<v1::ImportPostmortemsRequest> batches = Batches(2, 2);
  batches[0].mutable_records(0)->set_source(
      std::string(PostmortemService::kMaxImportSourceBytes + 1, 's'));
  std::string blaming;
  for (int i = 0; i < 15; ++i) blaming += "It was human error. ";
  batches[0].mutable_records(1)->mutable_postmortem()->set_summary(blaming);
  v1::ImportPostmortemsResponse response;
  ASSERT_TRUE(Import(batches, &response).ok());
  EXPECT_TRUE(response.complete());
  EXPECT_EQ(response.results(0).source().size(),
            PostmortemService::kMaxImportSourceBytes);
  EXPECT_THAT(response.results(0).reason(),
              HasSubstr("source: too long (1025 bytes"));
  EXPECT_EQ(response.results(1).warnings_size(),
            PostmortemService::kMaxImportWarnings);
}

TEST_F(ImportServiceTest, EmptyStreamAnswersNothingImported) {
  v1::ImportPostmortemsResponse response;
  ASSERT_TRUE(Import({}, &response).ok());
  EXPECT_TRUE(response.complete());
  EXPECT_EQ(response.results_size(), 0);
  EXPECT_EQ(response.imported(), 0);
}

}  // namespace
}  // namespace deja
