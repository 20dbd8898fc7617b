// IndexSync over the real outbox: PgStore writes, PgIndexFeed feeds, Xapian
// on a temp dir, against a disposable PostgreSQL cluster.

#include <stdlib.h>
#include <xapian.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "indexer/document_builder.h"
#include "indexer/index_directory.h"
#include "indexer/index_sync.h"
#include "store/pg_index_feed.h"
#include "store/pg_store.h"
#include "tests/testing/pg_test_cluster.h"

namespace deja {
namespace {

namespace fs = std::filesystem;

using ::testing::HasSubstr;

absl::Time Soon() { return absl::Now() + absl::Seconds(10); }

v1::Postmortem Draft(const std::string& title) {
  v1::Postmortem postmortem;
  postmortem.set_team("payments");
  postmortem.set_title(title);
  postmortem.set_summary("Checkout returned 5xx while the pool was full.");
  postmortem.set_severity(v1::SEV2);
  postmortem.add_services("orders-db");
  postmortem.mutable_started_at()->set_seconds(1704067200);
  return postmortem;
}

// A feed whose batches fail Complete() while `fail_completes` > 0: the
// crash between the Xapian commit and the outbox delete. The real batch is
// then destroyed uncompleted, which rolls its claim back.
class CompleteFailingFeed : public IndexFeed {
 public:
  explicit CompleteFailingFeed(IndexFeed& feed) : feed_(feed) {}

  int fail_completes = 0;

  absl::StatusOr<std::unique_ptr<OutboxBatch>> Claim(int max_rows) override {
    absl::StatusOr<std::unique_ptr<OutboxBatch>> batch = feed_.Claim(max_rows);
    if (!batch.ok()) return batch;
    return std::unique_ptr<OutboxBatch>(
        new Batch(*std::move(batch), &fail_completes));
  }
  absl::StatusOr<std::unique_ptr<OutboxBatch>> ClaimLinks(
      int max_rows) override {
    return feed_.ClaimLinks(max_rows);
  }
  absl::StatusOr<WaitOutcome> WaitForWork(absl::Duration timeout) override {
    return feed_.WaitForWork(timeout);
  }
  absl::StatusOr<OutboxStats> Stats() override { return feed_.Stats(); }
  absl::Status ForEachPostmortem(
      const std::function<absl::Status(const v1::Postmortem&)>& visit)
      override {
    return feed_.ForEachPostmortem(visit);
  }

 private:
  class Batch : public OutboxBatch {
   public:
    Batch(std::unique_ptr<OutboxBatch> batch, int* fail_completes)
        : batch_(std::move(batch)), fail_completes_(fail_completes) {}
    const std::vector<IndexChange>& changes() const override {
      return batch_->changes();
    }
    int64_t row_count() const override { return batch_->row_count(); }
    absl::Status CompleteAndQueueLinks(
        const std::vector<LinkRequest>& to_link) override {
      if (*fail_completes_ > 0) {
        --*fail_completes_;
        return absl::UnavailableError("crashed before the outbox delete");
      }
      return batch_->CompleteAndQueueLinks(to_link);
    }

   private:
    std::unique_ptr<OutboxBatch> batch_;
    int* fail_completes_;
  };

  IndexFeed& feed_;
};

class IndexSyncPgTest : public PgTest {
 protected:
  void SetUp() override {
    PgTest::SetUp();
    ASSERT_FALSE(connection_string().empty());
    absl::StatusOr<std::unique_ptr<PostmortemStore>> store =
        OpenPgStore({connection_string(), 2});
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
    absl::StatusOr<std::unique_ptr<IndexFeed>> feed =
        OpenPgIndexFeed({connection_string()});
    ASSERT_TRUE(feed.ok()) << feed.status();
    feed_ = *std::move(feed);

    std::string pattern =
        (fs::temp_directory_path() / "deja-sync-pg-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    root_ = pattern;
    options_.index_dir = (fs::path(root_) / "index").string();
  }
  void TearDown() override {
    if (!root_.empty()) fs::remove_all(root_);
  }

  std::unique_ptr<IndexSync> OpenSync(IndexFeed& feed) {
    absl::StatusOr<std::unique_ptr<IndexSync>> sync =
        IndexSync::Open(feed, options_);
    EXPECT_TRUE(sync.ok()) << sync.status();
    return sync.ok() ? *std::move(sync) : nullptr;
  }

  v1::Postmortem Submit(const std::string& title) {
    absl::StatusOr<SubmitResult> result =
        store_->Submit(Draft(title), "", Soon());
    EXPECT_TRUE(result.ok()) << result.status();
    return result.ok() ? result->postmortem : v1::Postmortem();
  }

  int64_t OutboxRows() {
    pqxx::connection conn(connection_string());
    pqxx::nontransaction tx(conn);
    return tx.exec1("SELECT count(*) FROM index_outbox")[0].as<int64_t>();
  }

  std::string CurrentPath() {
    absl::StatusOr<std::string> path =
        index::CurrentIndexPath(options_.index_dir);
    EXPECT_TRUE(path.ok()) << path.status();
    return path.value_or("");
  }

  // The version the index in use holds for `id`; -1 when absent.
  int64_t IndexedVersion(const std::string& id) {
    Xapian::Database db(CurrentPath());
    const std::string term = index::IdTerm(id);
    Xapian::PostingIterator it = db.postlist_begin(term);
    if (it == db.postlist_end(term)) return -1;
    return index::VersionOf(db.get_document(*it));
  }

  Xapian::doccount DocumentCount() {
    return Xapian::Database(CurrentPath()).get_doccount();
  }

  std::unique_ptr<PostmortemStore> store_;
  std::unique_ptr<IndexFeed> feed_;
  std::string root_;
  IndexSyncOptions options_;
};

TEST_F(IndexSyncPgTest, SubmitUpdateAndDeleteReachTheIndex) {
  std::unique_ptr<IndexSync> sync = OpenSync(*feed_);
  ASSERT_NE(sync, nullptr);
  const v1::Postmortem first = Submit("Orders pool exhausted");
  const v1::Postmortem second = Submit("DNS resolver timeouts");
  ASSERT_EQ(OutboxRows(), 2);

  absl::StatusOr<int64_t> applied = sync->RunOnce();
  ASSERT_TRUE(applied.ok()) << applied.status();
  EXPECT_EQ(*applied, 2);
  EXPECT_EQ(OutboxRows(), 0);
  EXPECT_EQ(IndexedVersion(first.id()), 1);
  EXPECT_EQ(IndexedVersion(second.id()), 1);
  EXPECT_EQ(sync->Status().documents(), 2);
  EXPECT_EQ(sync->Status().pending(), 0);

  v1::Postmortem edited = first;
  edited.set_title("Orders pool exhausted, again");
  absl::StatusOr<v1::Postmortem> updated =
      store_->Update(edited, first.version(), Soon());
  ASSERT_TRUE(updated.ok()) << updated.status();
  ASSERT_TRUE(store_->Delete(second.id(), 0, Soon()).ok());
  EXPECT_EQ(sync->Status().pending(), 2);

  ASSERT_TRUE(sync->RunOnce().ok());
  EXPECT_EQ(IndexedVersion(first.id()), updated->version());
  EXPECT_EQ(IndexedVersion(second.id()), -1);
  EXPECT_EQ(DocumentCount(), 1u);
  EXPECT_EQ(OutboxRows(), 0);
}

TEST_F(IndexSyncPgTest, ACrashBeforeTheOutboxDeleteIsReplayedHarmlessly) {
  CompleteFailingFeed feed(*feed_);
  std::unique_ptr<IndexSync> sync = OpenSync(feed);
  ASSERT_NE(sync, nullptr);
  const v1::Postmortem stored = Submit("Replayed after a crash");

  feed.fail_completes = 1;
  absl::StatusOr<int64_t> crashed = sync->RunOnce();
  EXPECT_EQ(crashed.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(sync->Status().last_error(), HasSubstr("outbox delete"));
  // Xapian committed; the outbox row is still there.
  EXPECT_EQ(IndexedVersion(stored.id()), 1);
  EXPECT_EQ(OutboxRows(), 1);

  absl::StatusOr<int64_t> replayed = sync->RunOnce();
  ASSERT_TRUE(replayed.ok()) << replayed.status();
  EXPECT_EQ(*replayed, 1);
  EXPECT_EQ(OutboxRows(), 0);
  EXPECT_EQ(DocumentCount(), 1u);
  EXPECT_EQ(IndexedVersion(stored.id()), 1);
  EXPECT_TRUE(sync->Status().last_error().empty());
}

TEST_F(IndexSyncPgTest, ARestartedIndexerKeepsItsIndexAndCatchesUp) {
  const v1::Postmortem before = Submit("Indexed before the restart");
  std::string path;
  {
    std::unique_ptr<IndexSync> sync = OpenSync(*feed_);
    ASSERT_NE(sync, nullptr);
    ASSERT_TRUE(sync->RunOnce().ok());
    path = CurrentPath();
  }
  // Written while no indexer runs: waits in the outbox.
  const v1::Postmortem during = Submit("Written while it was down");
  EXPECT_EQ(OutboxRows(), 1);

  std::unique_ptr<IndexSync> sync = OpenSync(*feed_);
  ASSERT_NE(sync, nullptr);
  EXPECT_EQ(CurrentPath(), path) << "reopened, not rebuilt";
  absl::StatusOr<int64_t> applied = sync->RunOnce();
  ASSERT_TRUE(applied.ok()) << applied.status();
  EXPECT_EQ(*applied, 1);
  EXPECT_EQ(IndexedVersion(before.id()), 1);
  EXPECT_EQ(IndexedVersion(during.id()), 1);
  EXPECT_EQ(OutboxRows(), 0);
}

TEST_F(IndexSyncPgTest, TheLoopIndexesASubmitOnNotifyWithinASecond) {
  // Far longer than the wait below: only NOTIFY can wake the loop in time.
  options_.poll_interval = absl::Seconds(30);
  std::unique_ptr<IndexSync> sync = OpenSync(*feed_);
  ASSERT_NE(sync, nullptr);
  sync->Start();
  // The loop drains the empty outbox and starts listening.
  absl::SleepFor(absl::Milliseconds(500));

  const absl::Time submitted = absl::Now();
  const v1::Postmortem stored = Submit("Indexed on NOTIFY");
  while (sync->Status().documents() < 1 &&
         absl::Now() - submitted < absl::Seconds(5)) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  const absl::Duration took = absl::Now() - submitted;
  EXPECT_LT(took, absl::Seconds(1));
  EXPECT_EQ(IndexedVersion(stored.id()), 1);
  EXPECT_TRUE(sync->Status().indexer_running());

  // Nor does Stop() wait out the 30 s poll.
  const absl::Time stopping = absl::Now();
  sync->Stop();
  EXPECT_LT(absl::Now() - stopping, absl::Seconds(1));
  EXPECT_FALSE(sync->Status().indexer_running());
}

TEST_F(IndexSyncPgTest, RebuildFromPostgresGivesTheSameDocuments) {
  std::unique_ptr<IndexSync> sync = OpenSync(*feed_);
  ASSERT_NE(sync, nullptr);
  std::vector<v1::Postmortem> stored;
  for (int i = 0; i < 6; ++i) {
    stored.push_back(Submit(absl::StrCat("Incident ", i)));
  }
  ASSERT_TRUE(store_->Delete(stored[2].id(), 0, Soon()).ok());
  ASSERT_TRUE(sync->RunOnce().ok());
  ASSERT_EQ(DocumentCount(), 5u);
  const std::string old_path = CurrentPath();

  absl::StatusOr<v1::RebuildIndexResponse> rebuilt = sync->Rebuild();
  ASSERT_TRUE(rebuilt.ok()) << rebuilt.status();
  EXPECT_EQ(rebuilt->documents(), 5);
  EXPECT_NE(rebuilt->index_path(), old_path);
  EXPECT_EQ(CurrentPath(), rebuilt->index_path());
  EXPECT_EQ(DocumentCount(), 5u);
  EXPECT_EQ(IndexedVersion(stored[2].id()), -1);
  EXPECT_EQ(IndexedVersion(stored[5].id()), 1);

  // A fresh index directory is built from PostgreSQL on Open.
  sync.reset();
  fs::remove_all(options_.index_dir);
  sync = OpenSync(*feed_);
  ASSERT_NE(sync, nullptr);
  EXPECT_EQ(DocumentCount(), 5u);
  EXPECT_EQ(sync->Status().documents(), 5);
  EXPECT_TRUE(sync->Status().has_last_rebuild());
}

}  // namespace
}  // namespace deja
