#include "indexer/index_sync.h"

#include <stdlib.h>
#include <xapian.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "deja/v1/search_service.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "indexer/document_builder.h"
#include "indexer/index_directory.h"
#include "indexer/index_schema.h"
#include "tests/testing/fake_index_feed.h"
#include "tests/testing/fake_recurrence_store.h"
#include "tests/testing/numbered_postmortem.h"

namespace deja {
namespace {

namespace fs = std::filesystem;

using ::deja::testing::FakeIndexFeed;
using ::deja::testing::IdOf;
using ::deja::testing::MakePostmortem;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// What a reader sees in the index in use, opened afresh.
struct IndexedDocument {
  bool present = false;
  int64_t version = 0;
  std::string title;
};

class IndexSyncTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern =
        (fs::temp_directory_path() / "deja-sync-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    root_ = pattern;
    options_.index_dir = (fs::path(root_) / "index").string();
    options_.poll_interval = absl::Milliseconds(200);
  }
  void TearDown() override { fs::remove_all(root_); }

  std::unique_ptr<IndexSync> OpenOrDie() {
    absl::StatusOr<std::unique_ptr<IndexSync>> sync =
        IndexSync::Open(feed_, options_);
    EXPECT_TRUE(sync.ok()) << sync.status();
    return sync.ok() ? *std::move(sync) : nullptr;
  }

  std::string CurrentPath() {
    absl::StatusOr<std::string> path =
        index::CurrentIndexPath(options_.index_dir);
    EXPECT_TRUE(path.ok()) << path.status();
    return path.value_or("");
  }

  IndexedDocument Lookup(int n) {
    IndexedDocument found;
    Xapian::Database db(CurrentPath());
    const std::string term = index::IdTerm(IdOf(n));
    Xapian::PostingIterator it = db.postlist_begin(term);
    if (it == db.postlist_end(term)) return found;
    EXPECT_EQ(db.get_termfreq(term), 1u) << "one document per postmortem";
    const Xapian::Document document = db.get_document(*it);
    found.present = true;
    found.version = index::VersionOf(document);
    v1::IncidentSummary summary;
    EXPECT_TRUE(summary.ParseFromString(document.get_data()));
    found.title = summary.title();
    return found;
  }

  // The generation directories ("gen-...") in the index directory.
  int Generations() {
    int generations = 0;
    for (const fs::directory_entry& entry :
         fs::directory_iterator(options_.index_dir)) {
      if (entry.path().filename().string().rfind("gen-", 0) == 0) {
        ++generations;
      }
    }
    return generations;
  }

  Xapian::doccount DocumentCount() {
    return Xapian::Database(CurrentPath()).get_doccount();
  }

  // Polls `done` until it holds or `limit` passes; returns the time taken.
  template <typename Predicate>
  absl::Duration WaitUntil(Predicate done, absl::Duration limit) {
    const absl::Time start = absl::Now();
    while (!done() && absl::Now() - start < limit) {
      absl::SleepFor(absl::Milliseconds(10));
    }
    return absl::Now() - start;
  }

  std::string root_;
  IndexSyncOptions options_;
  FakeIndexFeed feed_;
};

TEST_F(IndexSyncTest, OpenWithoutIndexBuildsAnEmptyOne) {
  std::unique_ptr<IndexSync> sync = OpenOrDie();
  ASSERT_NE(sync, nullptr);
  EXPECT_EQ(feed_.for_each_calls(), 1);
  EXPECT_EQ(DocumentCount(), 0u);
  Xapian::Database db(CurrentPath());
  EXPECT_EQ(db.get_metadata(index::kSchemaVersionKey),
            index::IndexFormatVersion());
  EXPECT_TRUE(fs::exists(fs::path(options_.index_dir) / "writer.lock"));
}

TEST_F(IndexSyncTest, OpenRejectsBadOptions) {
  IndexSyncOptions no_dir = options_;
  no_dir.index_dir = "";
  EXPECT_EQ(IndexSync::Open(feed_, no_dir).status().code(),
            absl::StatusCode::kInvalidArgument);
  IndexSyncOptions no_rows = options_;
  no_rows.batch_rows = 0;
  EXPECT_EQ(IndexSync::Open(feed_, no_rows).status().code(),
            absl::StatusCode::kInvalidArgument);
  IndexSyncOptions no_poll = options_;
  no_poll.poll_interval = absl::ZeroDuration();
  EXPECT_EQ(IndexSync::Open(feed_, no_poll).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(fs::exists(options_.index_dir)) << "nothing created";
}

TEST_F(IndexSyncTest, SubmittedPostmortemsBecomeSearchableDocuments) {
  std::unique_ptr<IndexSync> sync = OpenOrDie();
  ASSERT_NE(sync, nullptr);
  feed_.Put(MakePostmortem(1, 1, "Zebra pool exhausted"));
  feed_.Put(MakePostmortem(2, 3, "DNS resolver timeouts"));

  absl::StatusOr<int64_t> applied = sync->RunOnce();
  ASSERT_TRUE(applied.ok()) << applied.status();
  EXPECT_EQ(*applied, 2);
  EXPECT_EQ(feed_.outbox_rows(), 0);

  const IndexedDocument first = Lookup(1);
  EXPECT_TRUE(first.present);
  EXPECT_EQ(first.version, 1);
  EXPECT_EQ(first.title, "Zebra pool exhausted");
  EXPECT_EQ(Lookup(2).version, 3);
  // Searchable by a word of its title, through the same index readers open.
  Xapian::Database db(CurrentPath());
  Xapian::Enquire enquire(db);
  enquire.set_query(Xapian::Query("zebra"));
  Xapian::MSet matches = enquire.get_mset(0, 10);
  ASSERT_EQ(matches.size(), 1u);
  EXPECT_EQ(*matches.begin(), *db.postlist_begin(index::IdTerm(IdOf(1))));
}

TEST_F(IndexSyncTest, SeveralRowsOfOnePostmortemAreOneDocument) {
  std::unique_ptr<IndexSync> sync = OpenOrDie();
  ASSERT_NE(sync, nullptr);
  feed_.Put(MakePostmortem(1, 1, "First draft"));
  feed_.Put(MakePostmortem(1, 2, "Second draft"));
  absl::StatusOr<int64_t> applied = sync->RunOnce();
  ASSERT_TRUE(applied.ok()) << applied.status();
  EXPECT_EQ(*applied, 2);  // rows, not changes
  EXPECT_EQ(DocumentCount(), 1u);
  EXPECT_EQ(Lookup(1).title, "Second draft");
  EXPECT_EQ(Lookup(1).version, 2);
}

TEST_F(IndexSyncTest, DrainsInBatchesUntilAClaimComesBackEmpty) {
  options_.batch_rows = 2;
  std::unique_ptr<IndexSync> sync = OpenOrDie();
  ASSERT_NE(sync, nullptr);
  for (int n = 1; n <= 5; ++n) feed_.Put(MakePostmortem(n, 1, "Batch"));
  const int claims_before = feed_.claim_calls();
  absl::StatusOr<int64_t> applied = sync->RunOnce();
  ASSERT_TRUE(applied.ok()) << applied.status();
  EXPECT_EQ(*applied, 5);
  EXPECT_EQ(feed_.claim_calls() - claims_before, 4);  // 2 + 2 + 1 + empty
  EXPECT_EQ(DocumentCount(), 5u);
  EXPECT_EQ(feed_.outbox_rows(), 0);
}

TEST_F(IndexSyncTest, AStaleChangeNeverOverwritesANewerVersion) {
  std::unique_ptr<IndexSync> sync = OpenOrDie();
  ASSERT_NE(sync, nullptr);
  feed_.Put(MakePostmortem(1, 3, "Version three"));
  ASSERT_TRUE(sync->RunOnce().ok());

  feed_.EnqueueSnapshot(MakePostmortem(1, 2, "Version two, late"));
  absl::StatusOr<int64_t> applied = sync->RunOnce();
  ASSERT_TRUE(applied.ok()) << applied.status();
  EXPECT_EQ(*applied, 1);  // the row is consumed, the document untouched
  EXPECT_EQ(feed_.outbox_rows(), 0);
  EXPECT_EQ(Lookup(1).version, 3);
  EXPECT_EQ(Lookup(1).title, "Version three");

  // The same version again is also skipped; a newer one wins.
  feed_.EnqueueSnapshot(MakePostmortem(1, 3, "Version three, replayed"));
  ASSERT_TRUE(sync->RunOnce().ok());
  EXPECT_EQ(Lookup(1).title, "Version three");
  feed_.Put(MakePostmortem(1, 4, "Version four"));
  ASSERT_TRUE(sync->RunOnce().ok());
  EXPECT_EQ(Lookup(1).version, 4);
  EXPECT_EQ(Lookup(1).title, "Version four");
}

TEST_F(IndexSyncTest, DeleteRemovesTheDocument) {
  std::unique_ptr<IndexSync> sync = OpenOrDie();
  ASSERT_NE(sync, nullptr);
  feed_.Put(MakePostmortem(1, 1, "Kept"));
  feed_.Put(MakePostmortem(2, 1, "Deleted"));
  ASSERT_TRUE(sync->RunOnce().ok());
  ASSERT_TRUE(Lookup(2).present);

  feed_.Remove(IdOf(2), 2);
  absl::StatusOr<int64_t> applied = sync->RunOnce();
  ASSERT_TRUE(applied.ok()) << applied.status();
  EXPECT_EQ(*applied, 1);
  EXPECT_FALSE(Lookup(2).present);
  EXPECT_TRUE(Lookup(1).present);
  EXPECT_EQ(DocumentCount(), 1u);

  // Deleting what the index does not hold is harmless.
  feed_.Remove(IdOf(9), 1);
  EXPECT_TRUE(sync->RunOnce().ok());
  EXPECT_EQ(DocumentCount(), 1u);
}

TEST_F(IndexSyncTest, ReplayAfterAFailedCompleteIsHarmless) {
  std::unique_ptr<IndexSync> sync = OpenOrDie();
  ASSERT_NE(sync, nullptr);
  feed_.Put(MakePostmortem(1, 1, "Replayed"));
  feed_.Put(MakePostmortem(2, 1, "Deleted then replayed"));
  ASSERT_TRUE(sync->RunOnce().ok());
  feed_.Remove(IdOf(2), 2);
  feed_.Put(MakePostmortem(1, 2, "Replayed, second version"));

  // The Xapian commit happens, the outbox delete does not (a crash there).
  feed_.FailNext(FakeIndexFeed::Method::kComplete,
                 absl::UnavailableError("connection lost"));
  absl::StatusOr<int64_t> failed = sync->RunOnce();
  EXPECT_EQ(failed.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(failed.status().message(), HasSubstr("connection lost"));
  EXPECT_EQ(feed_.outbox_rows(), 2);
  EXPECT_THAT(sync->Status().last_error(), HasSubstr("connection lost"));
  EXPECT_EQ(Lookup(1).version, 2);
  EXPECT_FALSE(Lookup(2).present);

  // The rows come back and are applied again: same index.
  absl::StatusOr<int64_t> replayed = sync->RunOnce();
  ASSERT_TRUE(replayed.ok()) << replayed.status();
  EXPECT_EQ(*replayed, 2);
  EXPECT_EQ(feed_.outbox_rows(), 0);
  EXPECT_EQ(DocumentCount(), 1u);
  EXPECT_EQ(Lookup(1).version, 2);
  EXPECT_EQ(Lookup(1).title, "Replayed, second version");
  EXPECT_FALSE(Lookup(2).present);
  EXPECT_THAT(sync->Status().last_error(), IsEmpty());
}

TEST_F(IndexSyncTest, AFailedClaimChangesNothingAndIsReported) {
  std::unique_ptr<IndexSync> sync = OpenOrDie();
  ASSERT_NE(sync, nullptr);
  feed_.Put(MakePostmortem(1, 1, "Waiting"));
  feed_.FailNext(FakeIndexFeed::Method::kClaim,
                 absl::UnavailableError("database is down"));
  absl::StatusOr<int64_t> failed = sync->RunOnce();
  EXPECT_EQ(failed.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_FALSE(Lookup(1).present);
  EXPECT_THAT(sync->Status().last_error(), HasSubstr("database is down"));

  ASSERT_TRUE(sync->RunOnce().ok());
  EXPECT_TRUE(Lookup(1).present);
  EXPECT_THAT(sync->Status().last_error(), IsEmpty());
}

TEST_F(IndexSyncTest, RestartKeepsTheIndexWithoutRebuilding) {
  std::string path;
  {
    std::unique_ptr<IndexSync> sync = OpenOrDie();
    ASSERT_NE(sync, nullptr);
    feed_.Put(MakePostmortem(1, 1, "Survives a restart"));
    ASSERT_TRUE(sync->RunOnce().ok());
    path = CurrentPath();
  }
  const int rebuilds = feed_.for_each_calls();
  std::unique_ptr<IndexSync> sync = OpenOrDie();
  ASSERT_NE(sync, nullptr);
  EXPECT_EQ(feed_.for_each_calls(), rebuilds);
  EXPECT_EQ(CurrentPath(), path);
  EXPECT_EQ(Lookup(1).title, "Survives a restart");
  EXPECT_EQ(sync->Status().documents(), 1);

  // And it still writes.
  feed_.Put(MakePostmortem(2, 1, "After the restart"));
  ASSERT_TRUE(sync->RunOnce().ok());
  EXPECT_EQ(DocumentCount(), 2u);
}

TEST_F(IndexSyncTest, ASecondWriterIsRefusedQuickly) {
  std::unique_ptr<IndexSync> first = OpenOrDie();
  ASSERT_NE(first, nullptr);
  const absl::Time start = absl::Now();
  absl::StatusOr<std::unique_ptr<IndexSync>> second =
      IndexSync::Open(feed_, options_);
  EXPECT_LT(absl::Now() - start, absl::Seconds(1));
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(second.status().message(), HasSubstr(options_.index_dir));
  EXPECT_THAT(second.status().message(), HasSubstr("only one may write it"));

  // With lock_wait, a bounded wait that still fails while the first lives.
  IndexSyncOptions waiting = options_;
  waiting.lock_wait = absl::Milliseconds(300);
  const absl::Time waited = absl::Now();
  EXPECT_EQ(IndexSync::Open(feed_, waiting).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_GE(absl::Now() - waited, absl::Milliseconds(250));
}

TEST_F(IndexSyncTest, AWaitingWriterTakesOverOnceTheFirstIsGone) {
  std::unique_ptr<IndexSync> first = OpenOrDie();
  ASSERT_NE(first, nullptr);
  feed_.Put(MakePostmortem(1, 1, "Handed over"));
  ASSERT_TRUE(first->RunOnce().ok());

  IndexSyncOptions waiting = options_;
  waiting.lock_wait = absl::Seconds(10);
  absl::StatusOr<std::unique_ptr<IndexSync>> second =
      absl::InternalError("not run");
  std::thread opener([&] { second = IndexSync::Open(feed_, waiting); });
  absl::SleepFor(absl::Milliseconds(300));
  const absl::Time released = absl::Now();
  first.reset();
  opener.join();
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_LT(absl::Now() - released, absl::Seconds(2));
  feed_.Put(MakePostmortem(2, 1, "Written by the second"));
  ASSERT_TRUE((*second)->RunOnce().ok());
  EXPECT_EQ(DocumentCount(), 2u);
}

TEST_F(IndexSyncTest, ACorruptIndexIsRebuiltOnOpen) {
  std::string broken;
  {
    std::unique_ptr<IndexSync> sync = OpenOrDie();
    ASSERT_NE(sync, nullptr);
    feed_.Put(MakePostmortem(1, 1, "Rebuilt from the feed"));
    ASSERT_TRUE(sync->RunOnce().ok());
    broken = CurrentPath();
  }
  int files = 0;
  for (const fs::directory_entry& entry : fs::directory_iterator(broken)) {
    std::ofstream(entry.path(), std::ios::trunc) << "this is not xapian";
    ++files;
  }
  ASSERT_GT(files, 0);
  const int rebuilds = feed_.for_each_calls();

  std::unique_ptr<IndexSync> sync = OpenOrDie();
  ASSERT_NE(sync, nullptr);
  EXPECT_EQ(feed_.for_each_calls(), rebuilds + 1);
  EXPECT_NE(CurrentPath(), broken);
  EXPECT_EQ(Lookup(1).title, "Rebuilt from the feed");
  EXPECT_EQ(sync->Status().documents(), 1);
}

TEST_F(IndexSyncTest, ADeletedIndexDirectoryIsRebuiltOnOpen) {
  {
    std::unique_ptr<IndexSync> sync = OpenOrDie();
    ASSERT_NE(sync, nullptr);
    feed_.Put(MakePostmortem(1, 1, "Back again"));
    ASSERT_TRUE(sync->RunOnce().ok());
  }
  fs::remove_all(options_.index_dir);
  std::unique_ptr<IndexSync> sync = OpenOrDie();
  ASSERT_NE(sync, nullptr);
  EXPECT_EQ(Lookup(1).title, "Back again");
}

TEST_F(IndexSyncTest, AMissingGenerationIsRebuiltOnOpen) {
  {
    std::unique_ptr<IndexSync> sync = OpenOrDie();
    ASSERT_NE(sync, nullptr);
    feed_.Put(MakePostmortem(1, 1, "Dangling link"));
    ASSERT_TRUE(sync->RunOnce().ok());
    fs::remove_all(CurrentPath());  // `current` now points nowhere
  }
  std::unique_ptr<IndexSync> sync = OpenOrDie();
  ASSERT_NE(sync, nullptr);
  EXPECT_EQ(Lookup(1).title, "Dangling link");
}

// Another schema version, or the same one with another synonym table: the
// group terms would not match what queries look up.
class IndexSyncFormatTest : public IndexSyncTest,
                            public ::testing::WithParamInterface<std::string> {
};

INSTANTIATE_TEST_SUITE_P(OlderFormats, IndexSyncFormatTest,
                         ::testing::Values("1",
                                           absl::StrCat(index::kSchemaVersion,
                                                        "-0000000000000000")));

TEST_P(IndexSyncFormatTest, AnIndexOfAnotherFormatIsRebuiltOnOpen) {
  std::string old_path;
  {
    std::unique_ptr<IndexSync> sync = OpenOrDie();
    ASSERT_NE(sync, nullptr);
    old_path = CurrentPath();
  }
  {
    Xapian::WritableDatabase db(old_path, Xapian::DB_OPEN);
    db.set_metadata(index::kSchemaVersionKey, GetParam());
    db.commit();
  }
  feed_.Put(MakePostmortem(1, 1, "Reindexed for the new schema"));
  std::unique_ptr<IndexSync> sync = OpenOrDie();
  ASSERT_NE(sync, nullptr);
  EXPECT_NE(CurrentPath(), old_path);
  EXPECT_EQ(
      Xapian::Database(CurrentPath()).get_metadata(index::kSchemaVersionKey),
      index::IndexFormatVersion());
  EXPECT_EQ(Lookup(1).title, "Reindexed for the new schema");
}

TEST_F(IndexSyncTest, RebuildSwapsInWhileAReaderOfTheOldOneStillAnswers) {
  std::unique_ptr<IndexSync> sync = OpenOrDie();
  ASSERT_NE(sync, nullptr);
  for (int n = 1; n <= 3; ++n) feed_.Put(MakePostmortem(n, 1, "Zebra"));
  ASSERT_TRUE(sync->RunOnce().ok());
  const std::string old_path = CurrentPath();
  Xapian::Database reader(old_path);
  feed_.Put(MakePostmortem(4, 1, "Zebra four"));  // waits in the outbox

  absl::StatusOr<v1::RebuildIndexResponse> rebuilt = sync->Rebuild();
  ASSERT_TRUE(rebuilt.ok()) << rebuilt.status();
  EXPECT_EQ(rebuilt->documents(), 4);
  EXPECT_EQ(rebuilt->index_path(), CurrentPath());
  EXPECT_NE(rebuilt->index_path(), old_path);
  EXPECT_GE(rebuilt->seconds(), 0);
  EXPECT_EQ(DocumentCount(), 4u);

  // The old reader is unaffected and still answers queries.
  EXPECT_EQ(reader.get_doccount(), 3u);
  Xapian::Enquire enquire(reader);
  enquire.set_query(Xapian::Query("zebra"));
  EXPECT_EQ(enquire.get_mset(0, 10).size(), 3u);

  // The writer moved to the new generation, and the outbox still drains.
  absl::StatusOr<int64_t> applied = sync->RunOnce();
  ASSERT_TRUE(applied.ok()) << applied.status();
  EXPECT_EQ(*applied, 1);
  feed_.Put(MakePostmortem(5, 1, "After the swap"));
  ASSERT_TRUE(sync->RunOnce().ok());
  EXPECT_EQ(Lookup(5).title, "After the swap");
  const v1::IndexStatus status = sync->Status();
  EXPECT_EQ(status.index_path(), rebuilt->index_path());
  EXPECT_EQ(status.documents(), 5);

  // Two swaps later the first generation is gone, the previous one kept.
  ASSERT_TRUE(sync->Rebuild().ok());
  EXPECT_FALSE(fs::exists(old_path));
  EXPECT_TRUE(fs::exists(rebuilt->index_path()));
}

TEST_F(IndexSyncTest, ARebuildCommittedInStepsHoldsEveryPostmortem) {
  std::unique_ptr<IndexSync> sync = OpenOrDie();
  ASSERT_NE(sync, nullptr);
  // More than two of the rebuild's commit steps (1,000), and a part step.
  constexpr int kPostmortems = 2500;
  for (int n = 1; n <= kPostmortems; ++n) {
    feed_.Put(MakePostmortem(n, 1, absl::StrCat("Rebuilt ", n)));
  }
  absl::StatusOr<v1::RebuildIndexResponse> rebuilt = sync->Rebuild();
  ASSERT_TRUE(rebuilt.ok()) << rebuilt.status();
  EXPECT_EQ(rebuilt->documents(), kPostmortems);
  EXPECT_EQ(DocumentCount(), static_cast<Xapian::doccount>(kPostmortems));
  for (int n : {1, 1000, 1001, 2000, 2001, kPostmortems}) {
    EXPECT_EQ(Lookup(n).title, absl::StrCat("Rebuilt ", n)) << n;
  }
  // The rebuilt index carries its format, so a restart keeps it.
  sync.reset();
  sync = OpenOrDie();
  ASSERT_NE(sync, nullptr);
  EXPECT_EQ(CurrentPath(), rebuilt->index_path());
}

TEST_F(IndexSyncTest, ARebuildFailingAfterSomeCommitsLeavesNoTrace) {
  std::unique_ptr<IndexSync> sync = OpenOrDie();
  ASSERT_NE(sync, nullptr);
  feed_.Put(MakePostmortem(1, 1, "In use"));
  ASSERT_TRUE(sync->RunOnce().ok());
  const std::string path = CurrentPath();
  for (int n = 2; n <= 2500; ++n) {
    feed_.Put(MakePostmortem(n, 1, absl::StrCat("Rebuilt ", n)));
  }
  // Past two of the rebuild's commits (every 1,000).
  feed_.FailForEachAfter(2100, absl::UnavailableError("connection lost"));
  absl::StatusOr<v1::RebuildIndexResponse> rebuilt = sync->Rebuild();
  EXPECT_EQ(rebuilt.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(rebuilt.status().message(), HasSubstr("connection lost"));
  EXPECT_EQ(CurrentPath(), path);
  EXPECT_EQ(Generations(), 1) << "the half-built generation is removed";
  EXPECT_EQ(Lookup(1).title, "In use");
  EXPECT_EQ(DocumentCount(), 1u);
}

TEST_F(IndexSyncTest, ChangesDuringARebuildAreAppliedByTheNextCycle) {
  std::unique_ptr<IndexSync> sync = OpenOrDie();
  ASSERT_NE(sync, nullptr);
  feed_.Put(MakePostmortem(1, 1, "Before the rebuild"));
  ASSERT_TRUE(sync->RunOnce().ok());
  // After the rebuild's snapshot: postmortem 2 appears, 1 gets a new version.
  feed_.OnForEachPostmortem([this] {
    feed_.Put(MakePostmortem(2, 1, "During the rebuild"));
    feed_.Put(MakePostmortem(1, 2, "Edited during the rebuild"));
  });
  absl::StatusOr<v1::RebuildIndexResponse> rebuilt = sync->Rebuild();
  ASSERT_TRUE(rebuilt.ok()) << rebuilt.status();
  EXPECT_EQ(rebuilt->documents(), 1);
  feed_.OnForEachPostmortem(nullptr);

  ASSERT_TRUE(sync->RunOnce().ok());
  EXPECT_EQ(Lookup(2).title, "During the rebuild");
  EXPECT_EQ(Lookup(1).version, 2);
  EXPECT_EQ(Lookup(1).title, "Edited during the rebuild");
}

TEST_F(IndexSyncTest, AFailedRebuildKeepsTheIndexInUse) {
  std::unique_ptr<IndexSync> sync = OpenOrDie();
  ASSERT_NE(sync, nullptr);
  feed_.Put(MakePostmortem(1, 1, "Still here"));
  ASSERT_TRUE(sync->RunOnce().ok());
  const std::string path = CurrentPath();

  feed_.FailNext(FakeIndexFeed::Method::kForEach,
                 absl::UnavailableError("snapshot failed"));
  absl::StatusOr<v1::RebuildIndexResponse> rebuilt = sync->Rebuild();
  EXPECT_EQ(rebuilt.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(rebuilt.status().message(), HasSubstr("snapshot failed"));
  EXPECT_EQ(CurrentPath(), path);
  EXPECT_EQ(Generations(), 1) << "the half-built generation is removed";

  feed_.Put(MakePostmortem(2, 1, "Written after"));
  ASSERT_TRUE(sync->RunOnce().ok());
  EXPECT_EQ(DocumentCount(), 2u);
}

TEST_F(IndexSyncTest, AnIndexRemovedUnderTheWriterIsRebuiltByTheNextCycle) {
  std::unique_ptr<IndexSync> sync = OpenOrDie();
  ASSERT_NE(sync, nullptr);
  feed_.Put(MakePostmortem(1, 1, "First"));
  ASSERT_TRUE(sync->RunOnce().ok());
  fs::remove_all(CurrentPath());

  feed_.Put(MakePostmortem(2, 1, "Second"));
  // Xapian notices at the commit: reported, and the rows stay.
  absl::StatusOr<int64_t> first_try = sync->RunOnce();
  EXPECT_EQ(first_try.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(first_try.status().message(), HasSubstr(options_.index_dir));
  EXPECT_THAT(sync->Status().last_error(), HasSubstr("apply outbox changes"));
  EXPECT_EQ(feed_.outbox_rows(), 1);

  // The next cycle finds no index to reopen, rebuilds it and drains.
  absl::StatusOr<int64_t> second_try = sync->RunOnce();
  ASSERT_TRUE(second_try.ok()) << second_try.status();
  EXPECT_EQ(feed_.outbox_rows(), 0);
  EXPECT_EQ(DocumentCount(), 2u);
  EXPECT_TRUE(Lookup(1).present);
  EXPECT_TRUE(Lookup(2).present);
}

TEST_F(IndexSyncTest, StatusReportsOutboxIndexAndLoop) {
  std::unique_ptr<IndexSync> sync = OpenOrDie();
  ASSERT_NE(sync, nullptr);
  v1::IndexStatus status = sync->Status();
  EXPECT_EQ(status.documents(), 0);
  EXPECT_EQ(status.pending(), 0);
  EXPECT_EQ(status.index_path(), CurrentPath());
  EXPECT_FALSE(status.indexer_running());
  EXPECT_THAT(status.last_error(), IsEmpty());
  // Built from scratch just now (there was no index).
  EXPECT_NEAR(static_cast<double>(status.last_rebuild().seconds()),
              static_cast<double>(absl::ToUnixSeconds(absl::Now())), 5);

  feed_.Put(MakePostmortem(1, 1, "One"));
  feed_.Put(MakePostmortem(2, 1, "Two"));
  absl::SleepFor(absl::Milliseconds(20));
  status = sync->Status();
  EXPECT_EQ(status.pending(), 2);
  EXPECT_GT(status.lag_seconds(), 0);

  ASSERT_TRUE(sync->RunOnce().ok());
  status = sync->Status();
  EXPECT_EQ(status.pending(), 0);
  EXPECT_EQ(status.lag_seconds(), 0);
  EXPECT_EQ(status.documents(), 2);

  feed_.FailNext(FakeIndexFeed::Method::kStats,
                 absl::UnavailableError("stats unavailable"));
  EXPECT_THAT(sync->Status().last_error(), HasSubstr("stats unavailable"));

  sync->Start();
  EXPECT_TRUE(sync->Status().indexer_running());
  sync->Stop();
  EXPECT_FALSE(sync->Status().indexer_running());
}

TEST_F(IndexSyncTest, StatusAnswersWhileARebuildRuns) {
  std::unique_ptr<IndexSync> sync = OpenOrDie();
  ASSERT_NE(sync, nullptr);
  feed_.Put(MakePostmortem(1, 1, "One"));
  ASSERT_TRUE(sync->RunOnce().ok());
  absl::Notification in_rebuild;
  absl::Notification release;
  feed_.OnForEachPostmortem([&] {
    in_rebuild.Notify();
    release.WaitForNotification();
  });
  std::thread rebuild([&] { EXPECT_TRUE(sync->Rebuild().ok()); });
  in_rebuild.WaitForNotification();
  EXPECT_EQ(sync->Status().documents(), 1);
  release.Notify();
  rebuild.join();
}

TEST_F(IndexSyncTest, TheLoopAppliesANotifiedChangePromptly) {
  // A poll far longer than the wait below: only the notification can wake
  // the loop in time.
  options_.poll_interval = absl::Seconds(10);
  std::unique_ptr<IndexSync> sync = OpenOrDie();
  ASSERT_NE(sync, nullptr);
  sync->Start();
  absl::SleepFor(absl::Milliseconds(100));  // the loop is waiting by now

  feed_.Put(MakePostmortem(1, 1, "Notified"));
  // Searchable, and the outbox row completed.
  const absl::Duration took = WaitUntil(
      [&] {
        return sync->Status().documents() == 1 && feed_.outbox_rows() == 0;
      },
      absl::Seconds(5));
  EXPECT_LT(took, absl::Seconds(2));
  EXPECT_TRUE(Lookup(1).present);
  EXPECT_EQ(feed_.outbox_rows(), 0);
  // Stop() does not wait out the 10 s poll either.
  const absl::Time stopping = absl::Now();
  sync->Stop();
  EXPECT_LT(absl::Now() - stopping, absl::Seconds(1));
}

TEST_F(IndexSyncTest, AWakeUpReportedLateIsStillAWakeUp) {
  // The waiting thread is scheduled late: the wake-up returns after the
  // loop's whole stop-check slice. It must still claim, not wait out the poll.
  options_.poll_interval = absl::Seconds(30);
  feed_.WakeLate(absl::Milliseconds(400));
  std::unique_ptr<IndexSync> sync = OpenOrDie();
  ASSERT_NE(sync, nullptr);
  sync->Start();
  absl::SleepFor(absl::Milliseconds(100));

  feed_.Put(MakePostmortem(1, 1, "Woken late"));
  // Searchable, and the outbox row completed.
  const absl::Duration took = WaitUntil(
      [&] {
        return sync->Status().documents() == 1 && feed_.outbox_rows() == 0;
      },
      absl::Seconds(5));
  EXPECT_LT(took, absl::Seconds(3));
  EXPECT_EQ(feed_.outbox_rows(), 0);
  sync->Stop();
}

TEST_F(IndexSyncTest, TheLoopPollsWhenNoNotificationComes) {
  options_.poll_interval = absl::Milliseconds(300);
  std::unique_ptr<IndexSync> sync = OpenOrDie();
  ASSERT_NE(sync, nullptr);
  sync->Start();
  absl::SleepFor(absl::Milliseconds(100));
  // An outbox row with no NOTIFY (a lost notification).
  feed_.EnqueueSnapshot(MakePostmortem(1, 1, "Found by the poll"));
  WaitUntil(
      [&] {
        return sync->Status().documents() == 1 && feed_.outbox_rows() == 0;
      },
      absl::Seconds(5));
  EXPECT_EQ(sync->Status().documents(), 1);
  EXPECT_EQ(feed_.outbox_rows(), 0);
  sync->Stop();
}

TEST_F(IndexSyncTest, StopIsPromptEvenWithALongPoll) {
  options_.poll_interval = absl::Seconds(30);
  std::unique_ptr<IndexSync> sync = OpenOrDie();
  ASSERT_NE(sync, nullptr);
  sync->Start();
  sync->Start();  // a no-op while running
  absl::SleepFor(absl::Milliseconds(50));
  const absl::Time start = absl::Now();
  sync->Stop();
  EXPECT_LT(absl::Now() - start, absl::Seconds(1));
  EXPECT_FALSE(sync->Status().indexer_running());
  sync->Stop();  // a no-op when stopped

  // It can start again, and the destructor stops it.
  sync->Start();
  feed_.Put(MakePostmortem(1, 1, "Second run"));
  WaitUntil(
      [&] {
        return sync->Status().documents() == 1 && feed_.outbox_rows() == 0;
      },
      absl::Seconds(5));
  EXPECT_EQ(sync->Status().documents(), 1);
  const absl::Time destroyed = absl::Now();
  sync.reset();
  EXPECT_LT(absl::Now() - destroyed, absl::Seconds(1));
}

TEST_F(IndexSyncTest, TheLoopBacksOffOnErrorsLogsThemOnceAndRecovers) {
  options_.poll_interval = absl::Seconds(10);
  std::unique_ptr<IndexSync> sync = OpenOrDie();
  ASSERT_NE(sync, nullptr);
  feed_.FailNext(FakeIndexFeed::Method::kClaim,
                 absl::UnavailableError("outbox unreachable"), 4);
  feed_.Put(MakePostmortem(1, 1, "Applied after the outage"));
  ::testing::internal::CaptureStderr();
  sync->Start();
  WaitUntil([&] { return !sync->Status().last_error().empty(); },
            absl::Seconds(2));
  EXPECT_THAT(sync->Status().last_error(), HasSubstr("outbox unreachable"));
  // 100 + 200 + 400 + 800 ms of backoff, then success.
  WaitUntil([&] { return sync->Status().documents() == 1; }, absl::Seconds(8));
  sync->Stop();
  const std::string log = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(sync->Status().documents(), 1);
  EXPECT_THAT(sync->Status().last_error(), IsEmpty());
  EXPECT_GE(feed_.claim_calls(), 5);
  // One line for the error, one for the recovery: not one per retry.
  size_t lines = 0;
  for (size_t at = log.find("outbox unreachable"); at != std::string::npos;
       at = log.find("outbox unreachable", at + 1)) {
    ++lines;
  }
  EXPECT_EQ(lines, 2u) << log;
  EXPECT_THAT(log, HasSubstr("recovered"));
}

TEST_F(IndexSyncTest, StopIsPromptWhileTheLoopBacksOff) {
  options_.poll_interval = absl::Seconds(10);
  std::unique_ptr<IndexSync> sync = OpenOrDie();
  ASSERT_NE(sync, nullptr);
  feed_.FailNext(FakeIndexFeed::Method::kClaim,
                 absl::UnavailableError("still down"), 1000);
  sync->Start();
  // Long enough for the backoff to grow past a second.
  absl::SleepFor(absl::Milliseconds(1800));
  const absl::Time start = absl::Now();
  sync->Stop();
  EXPECT_LT(absl::Now() - start, absl::Milliseconds(500));
  EXPECT_THAT(sync->Status().last_error(), HasSubstr("still down"));
  // Backoff, not a spin: 100, 200, 400, 800 ms ... makes a handful of tries.
  EXPECT_LT(feed_.claim_calls(), 10);
}

TEST_F(IndexSyncTest, StopCancelsARunningRebuildAndKeepsTheIndexInUse) {
  std::unique_ptr<IndexSync> sync = OpenOrDie();
  ASSERT_NE(sync, nullptr);
  feed_.Put(MakePostmortem(1, 1, "Still here"));
  ASSERT_TRUE(sync->RunOnce().ok());
  const std::string path = CurrentPath();
  absl::Notification in_rebuild;
  absl::Notification release;
  feed_.OnForEachPostmortem([&] {
    in_rebuild.Notify();
    release.WaitForNotification();
  });
  absl::StatusOr<v1::RebuildIndexResponse> rebuilt;
  std::thread rebuild([&] { rebuilt = sync->Rebuild(); });
  in_rebuild.WaitForNotification();
  sync->Stop();
  release.Notify();
  rebuild.join();
  feed_.OnForEachPostmortem(nullptr);

  EXPECT_EQ(rebuilt.status().code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(CurrentPath(), path);
  EXPECT_EQ(Generations(), 1) << "the half-built generation is removed";
  EXPECT_EQ(Lookup(1).title, "Still here");
}

TEST_F(IndexSyncTest, ARebuildAfterStopIsCancelledUntilTheNextStart) {
  std::unique_ptr<IndexSync> sync = OpenOrDie();
  ASSERT_NE(sync, nullptr);
  for (int i = 1; i <= 3; ++i) feed_.Put(MakePostmortem(i, 1, "Indexed"));
  ASSERT_TRUE(sync->RunOnce().ok());
  sync->Start();
  absl::Notification in_rebuild;
  feed_.OnForEachPostmortem([&] { in_rebuild.Notify(); });
  absl::StatusOr<v1::RebuildIndexResponse> rebuilt;
  std::thread rebuild([&] { rebuilt = sync->Rebuild(); });
  in_rebuild.WaitForNotification();
  sync->Stop();
  rebuild.join();
  feed_.OnForEachPostmortem(nullptr);
  EXPECT_FALSE(sync->Status().indexer_running());
  // Either it finished before Stop() was heard or it was cancelled; what
  // matters is that a rebuild started after Stop() is refused.
  absl::StatusOr<v1::RebuildIndexResponse> after = sync->Rebuild();
  EXPECT_EQ(after.status().code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(feed_.for_each_calls(), 2) << "the refused one never started";
  // Start() clears it.
  sync->Start();
  EXPECT_TRUE(sync->Rebuild().ok());
  sync->Stop();
}

TEST_F(IndexSyncTest, ASecondRebuildWhileOneRunsIsAborted) {
  std::unique_ptr<IndexSync> sync = OpenOrDie();
  ASSERT_NE(sync, nullptr);
  feed_.Put(MakePostmortem(1, 1, "One"));
  ASSERT_TRUE(sync->RunOnce().ok());
  const int rebuilds = feed_.for_each_calls();
  absl::Notification in_rebuild;
  absl::Notification release;
  feed_.OnForEachPostmortem([&] {
    in_rebuild.Notify();
    release.WaitForNotification();
  });
  absl::StatusOr<v1::RebuildIndexResponse> first;
  std::thread rebuild([&] { first = sync->Rebuild(); });
  in_rebuild.WaitForNotification();
  absl::StatusOr<v1::RebuildIndexResponse> second;
  absl::Notification second_done;
  std::thread again([&] {
    second = sync->Rebuild();
    second_done.Notify();
  });
  // It answers at once; waiting for the first would take until release.
  EXPECT_TRUE(second_done.WaitForNotificationWithTimeout(absl::Seconds(5)));
  release.Notify();
  again.join();
  rebuild.join();
  feed_.OnForEachPostmortem(nullptr);

  EXPECT_EQ(second.status().code(), absl::StatusCode::kAborted);
  EXPECT_THAT(second.status().message(),
              HasSubstr("a rebuild is already running"));
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(feed_.for_each_calls(), rebuilds + 1);
  // Once it is over, the next one runs.
  EXPECT_TRUE(sync->Rebuild().ok());
  EXPECT_EQ(feed_.for_each_calls(), rebuilds + 2);
}

TEST_F(IndexSyncTest, CorruptionFoundWhileApplyingRebuildsTheIndex) {
  std::unique_ptr<IndexSync> sync = OpenOrDie();
  ASSERT_NE(sync, nullptr);
  for (int i = 1; i <= 50; ++i) feed_.Put(MakePostmortem(i, 1, "Before"));
  ASSERT_TRUE(sync->RunOnce().ok());
  const std::string broken = CurrentPath();
  // Garbage of the same size in the postings: the index still opens, and
  // only applying a change finds the damage.
  const fs::path postlist = fs::path(broken) / "postlist.glass";
  const uintmax_t size = fs::file_size(postlist);
  {
    std::fstream file(postlist, std::ios::in | std::ios::out);
    file << std::string(size, '\x5a');
  }
  const int rebuilds = feed_.for_each_calls();

  feed_.Put(MakePostmortem(51, 1, "After"));
  absl::StatusOr<int64_t> first_try = sync->RunOnce();
  EXPECT_EQ(first_try.status().code(), absl::StatusCode::kInternal)
      << first_try.status();
  EXPECT_EQ(feed_.outbox_rows(), 1);

  // Reopening the damaged index would fail the same way forever.
  absl::StatusOr<int64_t> second_try = sync->RunOnce();
  ASSERT_TRUE(second_try.ok()) << second_try.status();
  EXPECT_EQ(feed_.for_each_calls(), rebuilds + 1);
  EXPECT_NE(CurrentPath(), broken);
  EXPECT_EQ(feed_.outbox_rows(), 0);
  EXPECT_EQ(DocumentCount(), 51u);
}

// ---- Recurrence links ----

// An incident of the "orders-db ran out of connections" kind.
v1::Postmortem PoolPostmortem(int n, int64_t started_at) {
  v1::Postmortem postmortem = MakePostmortem(
      n, 1, "Order API failing while orders-db ran out of connection slots");
  postmortem.set_summary(
      "A reconciliation job opened hundreds of connections to orders-db; "
      "order-api got connection refused until the job was stopped.");
  postmortem.add_log_lines(
      "FATAL: remaining connection slots are reserved for non-replication "
      "superuser connections");
  postmortem.mutable_started_at()->set_seconds(started_at);
  return postmortem;
}

v1::Postmortem DnsPostmortem(int n) {
  v1::Postmortem postmortem =
      MakePostmortem(n, 1, "CoreDNS answered SERVFAIL for external names");
  postmortem.set_summary(
      "Upstream resolvers dropped packets; lookups from the cluster failed.");
  postmortem.clear_services();
  postmortem.add_services("coredns");
  return postmortem;
}

class IndexSyncLinkingTest : public IndexSyncTest {
 protected:
  void SetUp() override {
    IndexSyncTest::SetUp();
    options_.recurrences = &recurrences_;
    // The unit index is tiny: every match counts, the direction is tested.
    options_.link_threshold = 0;
  }

  int RecordCallsFor(int n) {
    int calls = 0;
    for (const auto& call : recurrences_.record_calls()) {
      if (call.postmortem_id == IdOf(n)) ++calls;
    }
    return calls;
  }

  testing::FakeRecurrenceStore recurrences_;
};

constexpr int64_t kJan2024 = 1704067200;

TEST_F(IndexSyncLinkingTest, EachIndexedPostmortemsMatchesAreRecorded) {
  std::unique_ptr<IndexSync> sync = OpenOrDie();
  ASSERT_NE(sync, nullptr);
  // Postmortem 1 started later than 2: the direction follows started_at,
  // not the order of indexing or the ids.
  feed_.Put(PoolPostmortem(1, kJan2024 + 86400 * 60));
  feed_.Put(PoolPostmortem(2, kJan2024));
  feed_.Put(DnsPostmortem(3));
  ASSERT_TRUE(sync->RunOnce().ok());
  EXPECT_EQ(feed_.outbox_rows(), 0);

  EXPECT_EQ(RecordCallsFor(1), 1);
  EXPECT_EQ(RecordCallsFor(2), 1);
  EXPECT_EQ(RecordCallsFor(3), 1);
  for (const auto& call : recurrences_.record_calls()) {
    EXPECT_LE(call.links.size(), 3u) << "max_links";
    for (const SuggestedLink& link : call.links) {
      EXPECT_TRUE(link.later_id == call.postmortem_id ||
                  link.earlier_id == call.postmortem_id);
    }
  }
  const std::optional<v1::RecurrenceLink> link =
      recurrences_.Find(IdOf(1), IdOf(2));
  ASSERT_TRUE(link.has_value());
  EXPECT_FALSE(recurrences_.Find(IdOf(2), IdOf(1)).has_value());
  EXPECT_EQ(link->source(), v1::RecurrenceLink::AUTO);
  EXPECT_EQ(link->state(), v1::RecurrenceLink::SUGGESTED);
  EXPECT_GT(link->score(), 0);
  EXPECT_LE(link->score(), 1);
  EXPECT_THAT(link->reasons(),
              ::testing::Contains(::testing::StartsWith(
                  "shared error signature: FATAL: remaining connection")));
  EXPECT_THAT(link->reasons(),
              ::testing::Contains("shared services: orders-db"));
  EXPECT_THAT(link->reasons(),
              ::testing::Contains(::testing::StartsWith("matched in ")));
  for (const std::string& reason : link->reasons()) {
    EXPECT_LE(reason.size(), 160u) << reason;
  }
}

TEST_F(IndexSyncLinkingTest, EqualStartTimesMakeTheSmallerIdTheEarlierOne) {
  std::unique_ptr<IndexSync> sync = OpenOrDie();
  ASSERT_NE(sync, nullptr);
  feed_.Put(PoolPostmortem(2, kJan2024));
  feed_.Put(PoolPostmortem(1, kJan2024));
  ASSERT_TRUE(sync->RunOnce().ok());
  EXPECT_TRUE(recurrences_.Find(IdOf(2), IdOf(1)).has_value());
  EXPECT_FALSE(recurrences_.Find(IdOf(1), IdOf(2)).has_value());
}

TEST_F(IndexSyncLinkingTest, OnlyMatchesAtTheThresholdBecomeLinks) {
  options_.link_threshold = 0.5;
  options_.max_links = 1;
  std::unique_ptr<IndexSync> sync = OpenOrDie();
  ASSERT_NE(sync, nullptr);
  for (int n = 1; n <= 4; ++n) feed_.Put(PoolPostmortem(n, kJan2024 + n));
  feed_.Put(DnsPostmortem(5));
  ASSERT_TRUE(sync->RunOnce().ok());
  EXPECT_EQ(recurrences_.record_calls().size(), 5u);
  for (const auto& call : recurrences_.record_calls()) {
    EXPECT_LE(call.links.size(), 1u);
    for (const SuggestedLink& link : call.links) EXPECT_GE(link.score, 0.5);
  }
}

TEST_F(IndexSyncLinkingTest, AFailedRecordingLeavesTheLinkRowsToBeReplayed) {
  std::unique_ptr<IndexSync> sync = OpenOrDie();
  ASSERT_NE(sync, nullptr);
  feed_.Put(PoolPostmortem(1, kJan2024 + 86400));
  feed_.Put(PoolPostmortem(2, kJan2024));
  recurrences_.FailNext(
      testing::FakeRecurrenceStore::Method::kRecordSuggestions,
      absl::UnavailableError("database unavailable: gone"));
  absl::StatusOr<int64_t> failed = sync->RunOnce();
  EXPECT_EQ(failed.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(failed.status().message(), HasSubstr("record recurrence links"));
  EXPECT_EQ(feed_.outbox_rows(), 0) << "searchable: the outbox is done";
  EXPECT_EQ(feed_.link_rows(), 2) << "not linked";
  EXPECT_TRUE(Lookup(1).present);
  const v1::IndexStatus status = sync->Status();
  EXPECT_THAT(status.last_error(), HasSubstr("database unavailable"));
  EXPECT_EQ(status.link_pending(), 2);

  // The replay applies nothing and links both.
  absl::StatusOr<int64_t> replayed = sync->RunOnce();
  ASSERT_TRUE(replayed.ok()) << replayed.status();
  EXPECT_EQ(*replayed, 0);
  EXPECT_EQ(feed_.link_rows(), 0);
  EXPECT_EQ(Lookup(1).version, 1);
  EXPECT_TRUE(recurrences_.Find(IdOf(1), IdOf(2)).has_value());
  EXPECT_EQ(RecordCallsFor(1), 2);
  EXPECT_TRUE(sync->Status().last_error().empty());
  EXPECT_EQ(sync->Status().link_pending(), 0);
}

TEST_F(IndexSyncLinkingTest, AReplayedBatchIsLinkedAgain) {
  std::unique_ptr<IndexSync> sync = OpenOrDie();
  ASSERT_NE(sync, nullptr);
  feed_.Put(PoolPostmortem(1, kJan2024 + 86400));
  feed_.Put(PoolPostmortem(2, kJan2024));
  // The crash between the Xapian commit and the completion: the outbox
  // rows stay, and no link rows were queued.
  feed_.FailNext(testing::FakeIndexFeed::Method::kComplete,
                 absl::UnavailableError("database unavailable: gone"));
  EXPECT_FALSE(sync->RunOnce().ok());
  EXPECT_EQ(feed_.outbox_rows(), 2);
  EXPECT_EQ(feed_.link_rows(), 0);
  EXPECT_TRUE(Lookup(1).present);

  // The replay finds both indexed at their version, and links them.
  ASSERT_TRUE(sync->RunOnce().ok());
  EXPECT_EQ(feed_.outbox_rows(), 0);
  EXPECT_EQ(feed_.link_rows(), 0);
  EXPECT_EQ(RecordCallsFor(1), 1);
  EXPECT_TRUE(recurrences_.Find(IdOf(1), IdOf(2)).has_value());
}

TEST_F(IndexSyncLinkingTest, ChangesAreSearchableWhileLinkingIsStuck) {
  options_.poll_interval = absl::Milliseconds(20);
  std::unique_ptr<IndexSync> sync = OpenOrDie();
  ASSERT_NE(sync, nullptr);
  // Every recording fails, as with a recurrence store that is down.
  recurrences_.FailNext(
      testing::FakeRecurrenceStore::Method::kRecordSuggestions,
      absl::UnavailableError("database unavailable: gone"), 1000);
  sync->Start();
  feed_.Put(PoolPostmortem(1, kJan2024 + 86400));
  feed_.Put(PoolPostmortem(2, kJan2024));
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (absl::Now() < deadline && !(Lookup(2).present)) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_TRUE(Lookup(1).present);
  EXPECT_TRUE(Lookup(2).present);
  // The outbox empties too: the applying loop does not wait for links.
  while (absl::Now() < deadline && feed_.outbox_rows() > 0) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_EQ(feed_.outbox_rows(), 0);
  EXPECT_EQ(feed_.link_rows(), 2);
  sync->Stop();
  EXPECT_FALSE(recurrences_.Find(IdOf(1), IdOf(2)).has_value());
}

TEST_F(IndexSyncLinkingTest, TheLinkerIsWokenByEachCompletedBatch) {
  // Polling alone would take 30 s: the links must come from the wake-up.
  options_.poll_interval = absl::Seconds(30);
  std::unique_ptr<IndexSync> sync = OpenOrDie();
  ASSERT_NE(sync, nullptr);
  sync->Start();
  absl::SleepFor(absl::Milliseconds(100));  // both threads wait by now
  feed_.Put(PoolPostmortem(1, kJan2024 + 86400));
  feed_.Put(PoolPostmortem(2, kJan2024));
  const absl::Time deadline = absl::Now() + absl::Seconds(5);
  while (absl::Now() < deadline &&
         !recurrences_.Find(IdOf(1), IdOf(2)).has_value()) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_TRUE(recurrences_.Find(IdOf(1), IdOf(2)).has_value());
  while (absl::Now() < deadline && feed_.link_rows() > 0) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_EQ(feed_.link_rows(), 0);
  EXPECT_EQ(sync->Status().link_pending(), 0);
  // Stop() does not wait out the poll either.
  const absl::Time stopping = absl::Now();
  sync->Stop();
  EXPECT_LT(absl::Now() - stopping, absl::Seconds(1));
}

TEST_F(IndexSyncLinkingTest, ARecordingRefusedForGoodIsSkipped) {
  std::unique_ptr<IndexSync> sync = OpenOrDie();
  ASSERT_NE(sync, nullptr);
  feed_.Put(PoolPostmortem(1, kJan2024 + 86400));
  feed_.Put(PoolPostmortem(2, kJan2024));
  // Not a passing trouble: replaying would fail the same way, and hold up
  // every link row behind it.
  recurrences_.FailNext(
      testing::FakeRecurrenceStore::Method::kRecordSuggestions,
      absl::InvalidArgumentError("score: must be 0..1"));
  absl::StatusOr<int64_t> applied = sync->RunOnce();
  ASSERT_TRUE(applied.ok()) << applied.status();
  EXPECT_EQ(feed_.link_rows(), 0);
  EXPECT_EQ(recurrences_.record_calls().size(), 2u);
}

TEST_F(IndexSyncLinkingTest, LinkingGoesOnAfterARestartOfTheLoops) {
  options_.poll_interval = absl::Milliseconds(50);
  std::unique_ptr<IndexSync> sync = OpenOrDie();
  ASSERT_NE(sync, nullptr);
  sync->Start();
  sync->Stop();
  feed_.Put(PoolPostmortem(1, kJan2024 + 86400));
  feed_.Put(PoolPostmortem(2, kJan2024));
  sync->Start();
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (absl::Now() < deadline &&
         !(feed_.outbox_rows() == 0 && feed_.link_rows() == 0)) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  sync->Stop();
  EXPECT_EQ(feed_.link_rows(), 0);
  EXPECT_TRUE(recurrences_.Find(IdOf(1), IdOf(2)).has_value());
}

TEST_F(IndexSyncLinkingTest, WithLinkingOffNothingIsQueued) {
  options_.recurrences = nullptr;
  std::unique_ptr<IndexSync> sync = OpenOrDie();
  ASSERT_NE(sync, nullptr);
  feed_.Put(PoolPostmortem(1, kJan2024));
  ASSERT_TRUE(sync->RunOnce().ok());
  EXPECT_EQ(feed_.outbox_rows(), 0);
  EXPECT_EQ(feed_.link_rows(), 0);
}

TEST_F(IndexSyncLinkingTest, DeletesAndRebuildsRecordNothing) {
  std::unique_ptr<IndexSync> sync = OpenOrDie();
  ASSERT_NE(sync, nullptr);
  feed_.Put(PoolPostmortem(1, kJan2024 + 86400));
  feed_.Put(PoolPostmortem(2, kJan2024));
  ASSERT_TRUE(sync->RunOnce().ok());
  const size_t calls = recurrences_.record_calls().size();
  EXPECT_EQ(calls, 2u);

  feed_.Remove(IdOf(2), 2);
  ASSERT_TRUE(sync->RunOnce().ok());
  EXPECT_EQ(recurrences_.record_calls().size(), calls);
  ASSERT_TRUE(sync->Rebuild().ok());
  EXPECT_EQ(recurrences_.record_calls().size(), calls);
  // Links stay where they are: lists and views hide deleted postmortems.
  EXPECT_TRUE(recurrences_.Find(IdOf(1), IdOf(2)).has_value());
}

TEST_F(IndexSyncLinkingTest, AStaleChangeIsNotLinked) {
  std::unique_ptr<IndexSync> sync = OpenOrDie();
  ASSERT_NE(sync, nullptr);
  feed_.Put(PoolPostmortem(1, kJan2024 + 86400));
  v1::Postmortem newer = PoolPostmortem(2, kJan2024);
  newer.set_version(2);
  feed_.Put(newer);
  ASSERT_TRUE(sync->RunOnce().ok());
  const size_t calls = recurrences_.record_calls().size();
  // Version 1 of postmortem 2, delivered late and starting later: it would
  // turn the link around. The index holds version 2, so nothing is linked.
  v1::Postmortem stale = PoolPostmortem(2, kJan2024 + 2 * 86400);
  stale.set_version(1);
  feed_.EnqueueSnapshot(stale);
  ASSERT_TRUE(sync->RunOnce().ok());
  EXPECT_EQ(recurrences_.record_calls().size(), calls);
  EXPECT_TRUE(recurrences_.Find(IdOf(1), IdOf(2)).has_value());
}

TEST_F(IndexSyncLinkingTest, OpenRejectsBadLinkOptions) {
  IndexSyncOptions threshold = options_;
  threshold.link_threshold = 1.5;
  EXPECT_EQ(IndexSync::Open(feed_, threshold).status().code(),
            absl::StatusCode::kInvalidArgument);
  IndexSyncOptions links = options_;
  links.max_links = 0;
  EXPECT_EQ(IndexSync::Open(feed_, links).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace deja
