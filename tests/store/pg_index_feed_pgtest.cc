// PgIndexFeed against a real, disposable PostgreSQL cluster.

#include <cstdint>
#include <memory>
#include <pqxx/pqxx>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "store/pg_index_feed.h"
#include "store/pg_store.h"
#include "tests/testing/pg_test_cluster.h"

namespace deja {
namespace {

using ::google::protobuf::util::MessageDifferencer;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

constexpr int64_t kJan2024 = 1704067200;  // 2024-01-01T00:00:00Z

absl::Time Soon() { return absl::Now() + absl::Seconds(10); }

v1::Postmortem Small(const std::string& title) {
  v1::Postmortem pm;
  pm.set_team("payments");
  pm.set_title(title);
  pm.set_summary("Checkout returned 5xx.");
  pm.set_severity(v1::SEV3);
  pm.mutable_started_at()->set_seconds(kJan2024);
  v1::ActionItem* item = pm.add_action_items();
  item->set_description("Alert on pool saturation");
  item->set_owner("sre-team");
  item->set_status(v1::ActionItem::OPEN);
  return pm;
}

std::set<std::string> IdsOf(const OutboxBatch& batch) {
  std::set<std::string> ids;
  for (const IndexChange& change : batch.changes()) {
    ids.insert(change.postmortem_id);
  }
  return ids;
}

class PgIndexFeedTest : public PgTest {
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
  }

  int64_t QueryInt(const std::string& sql) {
    pqxx::connection conn(connection_string());
    pqxx::nontransaction tx(conn);
    return tx.exec1(sql)[0].as<int64_t>();
  }

  void Exec(const std::string& sql) {
    pqxx::connection conn(connection_string());
    pqxx::nontransaction tx(conn);
    tx.exec(sql);
  }

  v1::Postmortem Submit(const v1::Postmortem& pm) {
    absl::StatusOr<SubmitResult> result = store_->Submit(pm, "", Soon());
    EXPECT_TRUE(result.ok()) << result.status();
    return result.ok() ? result->postmortem : v1::Postmortem();
  }

  std::unique_ptr<OutboxBatch> Claim(int max_rows) {
    absl::StatusOr<std::unique_ptr<OutboxBatch>> batch = feed_->Claim(max_rows);
    EXPECT_TRUE(batch.ok()) << batch.status();
    return batch.ok() ? *std::move(batch) : nullptr;
  }

  std::unique_ptr<PostmortemStore> store_;
  std::unique_ptr<IndexFeed> feed_;
};

TEST_F(PgIndexFeedTest, EmptyOutboxGivesEmptyBatch) {
  std::unique_ptr<OutboxBatch> batch = Claim(10);
  ASSERT_NE(batch, nullptr);
  EXPECT_THAT(batch->changes(), IsEmpty());
  EXPECT_EQ(batch->row_count(), 0);
  EXPECT_TRUE(batch->Complete().ok());
  EXPECT_EQ(feed_->Claim(0).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(PgIndexFeedTest, PeekReadsRowsAheadWithoutClaimingThem) {
  const v1::Postmortem first = Submit(Small("first"));
  const v1::Postmortem second = Submit(Small("second"));

  absl::StatusOr<PendingChanges> pending = feed_->Peek(0, 10);
  ASSERT_TRUE(pending.ok()) << pending.status();
  ASSERT_THAT(pending->changes, SizeIs(2));
  EXPECT_EQ(pending->changes[0].postmortem_id, first.id());
  EXPECT_EQ(pending->changes[0].postmortem.title(), "first");
  EXPECT_THAT(pending->changes[0].row_ids, SizeIs(1));
  EXPECT_EQ(pending->last_row, pending->changes[1].row_ids.back());

  // A full page is a backlog: its last row, and no documents read.
  absl::StatusOr<PendingChanges> page = feed_->Peek(0, 2);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_TRUE(page->backlog);
  EXPECT_THAT(page->changes, IsEmpty());
  EXPECT_EQ(page->last_row, pending->last_row);
  EXPECT_FALSE(pending->backlog);

  // Only the rows after the last one read; the same again while a claim
  // holds them locked.
  absl::StatusOr<PendingChanges> after =
      feed_->Peek(pending->changes[0].row_ids.back(), 10);
  ASSERT_TRUE(after.ok()) << after.status();
  ASSERT_THAT(after->changes, SizeIs(1));
  EXPECT_EQ(after->changes[0].postmortem_id, second.id());
  std::unique_ptr<OutboxBatch> batch = Claim(10);
  ASSERT_NE(batch, nullptr);
  EXPECT_THAT(feed_->Peek(0, 10)->changes, SizeIs(2));
  ASSERT_TRUE(batch->Complete().ok());

  absl::StatusOr<PendingChanges> none = feed_->Peek(pending->last_row, 10);
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_THAT(none->changes, IsEmpty());
  EXPECT_EQ(none->last_row, pending->last_row);
  EXPECT_EQ(feed_->Peek(0, 0).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(PgIndexFeedTest, ClaimIncludingTakesGivenRowsAndStopsAtTheBound) {
  std::vector<std::string> ids;
  for (int i = 0; i < 4; ++i) {
    ids.push_back(Submit(Small(absl::StrCat("pm ", i))).id());
  }
  absl::StatusOr<PendingChanges> pending = feed_->Peek(0, 10);
  ASSERT_TRUE(pending.ok()) << pending.status();
  ASSERT_THAT(pending->changes, SizeIs(4));
  std::vector<int64_t> rows;
  for (const IndexChange& change : pending->changes) {
    rows.push_back(change.row_ids.front());
  }

  // One row from the bound's side (the first), and the last one although
  // it is past the bound; the two between are left.
  absl::StatusOr<std::unique_ptr<OutboxBatch>> batch =
      feed_->ClaimIncluding(10, {rows[3]}, rows[0]);
  ASSERT_TRUE(batch.ok()) << batch.status();
  EXPECT_EQ(IdsOf(**batch), (std::set<std::string>{ids[0], ids[3]}));
  EXPECT_EQ((*batch)->row_count(), 2);
  ASSERT_TRUE((*batch)->Complete().ok());
  EXPECT_EQ(QueryInt("SELECT count(*) FROM index_outbox"), 2);
}

TEST_F(PgIndexFeedTest, ClaimAfterSubmitReturnsTheFullPostmortem) {
  const v1::Postmortem stored = Submit(Small("pm"));
  absl::StatusOr<v1::Postmortem> got = store_->Get(stored.id(), Soon());
  ASSERT_TRUE(got.ok()) << got.status();

  std::unique_ptr<OutboxBatch> batch = Claim(10);
  ASSERT_NE(batch, nullptr);
  ASSERT_THAT(batch->changes(), SizeIs(1));
  EXPECT_EQ(batch->row_count(), 1);
  const IndexChange& change = batch->changes()[0];
  EXPECT_EQ(change.postmortem_id, stored.id());
  EXPECT_EQ(change.version, 1);
  EXPECT_FALSE(change.deleted);
  EXPECT_TRUE(MessageDifferencer::Equals(change.postmortem, *got))
      << change.postmortem.DebugString() << "\nvs\n"
      << got->DebugString();
  EXPECT_FALSE(change.postmortem.action_items(0).id().empty());

  ASSERT_TRUE(batch->Complete().ok());
  EXPECT_EQ(QueryInt("SELECT count(*) FROM index_outbox"), 0);
  EXPECT_EQ(batch->Complete().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(PgIndexFeedTest, SeveralRowsForOnePostmortemBecomeOneNewestChange) {
  const v1::Postmortem stored = Submit(Small("first"));
  const v1::Postmortem other = Submit(Small("other"));
  v1::Postmortem edit = stored;
  edit.set_title("second");
  ASSERT_TRUE(store_->Update(edit, 1, Soon()).ok());
  v1::UpdateActionItemRequest done;
  done.set_postmortem_id(stored.id());
  done.set_action_item_id(stored.action_items(0).id());
  done.set_status(v1::ActionItem::DONE);
  ASSERT_TRUE(store_->UpdateActionItem(done, Soon()).ok());
  absl::StatusOr<v1::Postmortem> got = store_->Get(stored.id(), Soon());
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_EQ(got->version(), 3);

  std::unique_ptr<OutboxBatch> batch = Claim(10);
  ASSERT_NE(batch, nullptr);
  EXPECT_EQ(batch->row_count(), 4);
  ASSERT_THAT(batch->changes(), SizeIs(2));
  // Oldest first: `stored` was enqueued before `other`.
  const IndexChange& change = batch->changes()[0];
  EXPECT_EQ(change.postmortem_id, stored.id());
  EXPECT_EQ(change.version, 3);
  EXPECT_FALSE(change.deleted);
  EXPECT_TRUE(MessageDifferencer::Equals(change.postmortem, *got));
  EXPECT_EQ(change.postmortem.title(), "second");
  EXPECT_EQ(change.postmortem.action_items(0).status(), v1::ActionItem::DONE);
  EXPECT_EQ(batch->changes()[1].postmortem_id, other.id());
  EXPECT_EQ(batch->changes()[1].version, 1);
}

TEST_F(PgIndexFeedTest, DeletedOrMissingPostmortemBecomesDeletedChange) {
  const v1::Postmortem stored = Submit(Small("pm"));
  ASSERT_TRUE(store_->Delete(stored.id(), 1, Soon()).ok());
  const std::string gone = "11111111-2222-3333-4444-555555555555";
  Exec(absl::StrCat(
      "INSERT INTO index_outbox (postmortem_id, version, operation) "
      "VALUES ('",
      gone, "', 7, 'upsert')"));

  std::unique_ptr<OutboxBatch> batch = Claim(10);
  ASSERT_NE(batch, nullptr);
  EXPECT_EQ(batch->row_count(), 3);
  ASSERT_THAT(batch->changes(), SizeIs(2));
  EXPECT_EQ(batch->changes()[0].postmortem_id, stored.id());
  EXPECT_EQ(batch->changes()[0].version, 2);
  EXPECT_TRUE(batch->changes()[0].deleted);
  EXPECT_EQ(batch->changes()[0].postmortem.ByteSizeLong(), 0u);
  EXPECT_EQ(batch->changes()[1].postmortem_id, gone);
  EXPECT_EQ(batch->changes()[1].version, 7);
  EXPECT_TRUE(batch->changes()[1].deleted);
}

TEST_F(PgIndexFeedTest, ConcurrentClaimsNeverShareRows) {
  std::set<std::string> submitted;
  for (int i = 0; i < 6; ++i) {
    submitted.insert(Submit(Small(absl::StrCat("pm", i))).id());
  }
  std::unique_ptr<OutboxBatch> first = Claim(4);
  ASSERT_NE(first, nullptr);
  std::unique_ptr<OutboxBatch> second;
  std::thread other([&] { second = Claim(4); });
  other.join();
  ASSERT_NE(second, nullptr);
  EXPECT_EQ(first->row_count(), 4);
  EXPECT_EQ(second->row_count(), 2);
  std::set<std::string> all = IdsOf(*first);
  for (const std::string& id : IdsOf(*second)) {
    EXPECT_TRUE(all.insert(id).second) << id << " claimed twice";
  }
  EXPECT_EQ(all, submitted);

  // Four more batches, and all six claim connections are held: the next
  // claim gives up, boundedly.
  std::vector<std::unique_ptr<OutboxBatch>> held;
  for (int i = 0; i < 4; ++i) {
    Submit(Small(absl::StrCat("extra ", i)));
    held.push_back(Claim(1));
    ASSERT_NE(held.back(), nullptr);
    ASSERT_EQ(held.back()->row_count(), 1);
  }
  const absl::Time start = absl::Now();
  const absl::Status exhausted = feed_->ClaimLinks(4).status();
  EXPECT_EQ(exhausted.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(exhausted.message(), HasSubstr("claim link rows: all 6 claim"));
  EXPECT_LT(absl::Now() - start, absl::Seconds(30));

  ASSERT_TRUE(second->Complete().ok());
  second.reset();
  std::unique_ptr<OutboxBatch> third = Claim(4);
  ASSERT_NE(third, nullptr);
  EXPECT_THAT(third->changes(), IsEmpty());  // the rest are still locked
}

TEST_F(PgIndexFeedTest, AbandonedBatchIsClaimedAgain) {
  const v1::Postmortem a = Submit(Small("a"));
  const v1::Postmortem b = Submit(Small("b"));
  std::unique_ptr<OutboxBatch> batch = Claim(10);
  ASSERT_NE(batch, nullptr);
  ASSERT_EQ(batch->row_count(), 2);
  batch.reset();  // e.g. the Xapian commit failed

  std::unique_ptr<OutboxBatch> again = Claim(10);
  ASSERT_NE(again, nullptr);
  EXPECT_EQ(again->row_count(), 2);
  EXPECT_EQ(IdsOf(*again), (std::set<std::string>{a.id(), b.id()}));
  EXPECT_EQ(QueryInt("SELECT count(*) FROM index_outbox"), 2);
}

TEST_F(PgIndexFeedTest, CompleteDeletesOnlyTheClaimedRows) {
  const v1::Postmortem a = Submit(Small("a"));
  std::unique_ptr<OutboxBatch> batch = Claim(10);
  ASSERT_NE(batch, nullptr);
  ASSERT_EQ(batch->row_count(), 1);
  // Enqueued while the batch is being indexed.
  v1::Postmortem edit = a;
  edit.set_title("edited");
  ASSERT_TRUE(store_->Update(edit, 1, Soon()).ok());
  const v1::Postmortem b = Submit(Small("b"));

  ASSERT_TRUE(batch->Complete().ok());
  EXPECT_EQ(QueryInt("SELECT count(*) FROM index_outbox"), 2);
  std::unique_ptr<OutboxBatch> next = Claim(10);
  ASSERT_NE(next, nullptr);
  EXPECT_EQ(next->row_count(), 2);
  ASSERT_THAT(next->changes(), SizeIs(2));
  EXPECT_EQ(next->changes()[0].postmortem_id, a.id());
  EXPECT_EQ(next->changes()[0].version, 2);
  EXPECT_EQ(next->changes()[1].postmortem_id, b.id());
}

TEST_F(PgIndexFeedTest, CompletingQueuesLinkRowsInTheSameTransaction) {
  const v1::Postmortem a = Submit(Small("a"));
  const v1::Postmortem b = Submit(Small("b"));
  std::unique_ptr<OutboxBatch> batch = Claim(10);
  ASSERT_NE(batch, nullptr);
  ASSERT_TRUE(batch->CompleteAndQueueLinks({{a.id(), 1}, {b.id(), 1}}).ok());
  EXPECT_EQ(QueryInt("SELECT count(*) FROM index_outbox"), 0);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM link_outbox"), 2);
  // An index batch never hands out link rows, and the other way round.
  std::unique_ptr<OutboxBatch> none = Claim(10);
  ASSERT_NE(none, nullptr);
  EXPECT_THAT(none->changes(), IsEmpty());

  // A link batch carries the postmortem as it is now; while it is claimed,
  // a second claim skips its rows.
  ASSERT_TRUE(store_->Delete(b.id(), 1, Soon()).ok());
  absl::StatusOr<std::unique_ptr<OutboxBatch>> links = feed_->ClaimLinks(1);
  ASSERT_TRUE(links.ok()) << links.status();
  ASSERT_THAT((*links)->changes(), SizeIs(1));
  EXPECT_EQ((*links)->changes()[0].postmortem_id, a.id());
  EXPECT_FALSE((*links)->changes()[0].deleted);
  EXPECT_EQ((*links)->changes()[0].postmortem.title(), "a");
  absl::StatusOr<std::unique_ptr<OutboxBatch>> rest = feed_->ClaimLinks(10);
  ASSERT_TRUE(rest.ok()) << rest.status();
  ASSERT_THAT((*rest)->changes(), SizeIs(1));
  EXPECT_EQ((*rest)->changes()[0].postmortem_id, b.id());
  EXPECT_TRUE((*rest)->changes()[0].deleted);

  // Completing a link batch deletes its rows only.
  ASSERT_TRUE((*links)->Complete().ok());
  EXPECT_EQ(QueryInt("SELECT count(*) FROM link_outbox"), 1);
  rest->reset();  // released, not deleted
  EXPECT_EQ(QueryInt("SELECT count(*) FROM link_outbox"), 1);
}

TEST_F(PgIndexFeedTest, AFailedCompletionQueuesNoLinkRows) {
  const v1::Postmortem a = Submit(Small("a"));
  std::unique_ptr<OutboxBatch> batch = Claim(10);
  ASSERT_NE(batch, nullptr);
  // Not a uuid: the insert fails after the delete, in the same transaction.
  absl::Status failed = batch->CompleteAndQueueLinks({{"not-a-uuid", 1}});
  EXPECT_FALSE(failed.ok());
  EXPECT_NE(failed.code(), absl::StatusCode::kUnknown) << failed;
  batch.reset();
  EXPECT_EQ(QueryInt("SELECT count(*) FROM index_outbox"), 1);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM link_outbox"), 0);
  // Claimed again as if nothing had happened.
  std::unique_ptr<OutboxBatch> again = Claim(10);
  ASSERT_NE(again, nullptr);
  EXPECT_EQ(IdsOf(*again), std::set<std::string>{a.id()});
}

TEST_F(PgIndexFeedTest, WaitForWorkReturnsSoonAfterASubmit) {
  // The first call opens the LISTEN connection.
  ASSERT_TRUE(feed_->WaitForWork(absl::Milliseconds(10)).ok());
  absl::Duration waited;
  absl::StatusOr<WaitOutcome> outcome;
  std::thread waiter([&] {
    const absl::Time start = absl::Now();
    outcome = feed_->WaitForWork(absl::Seconds(30));
    waited = absl::Now() - start;
  });
  absl::SleepFor(absl::Milliseconds(300));
  const absl::Time submitted = absl::Now();
  Submit(Small("pm"));
  waiter.join();
  ASSERT_TRUE(outcome.ok()) << outcome.status();
  EXPECT_EQ(*outcome, WaitOutcome::kWoken);
  EXPECT_GE(waited, absl::Milliseconds(250));  // it did wait for the NOTIFY
  EXPECT_LT(absl::Now() - submitted, absl::Seconds(1));
}

TEST_F(PgIndexFeedTest, WaitForWorkReturnsAfterTheTimeoutWhenIdle) {
  // The first call connects and returns at once (see the next test).
  ASSERT_TRUE(feed_->WaitForWork(absl::Seconds(30)).ok());
  for (int i = 0; i < 2; ++i) {
    const absl::Time start = absl::Now();
    absl::StatusOr<WaitOutcome> outcome =
        feed_->WaitForWork(absl::Milliseconds(400));
    ASSERT_TRUE(outcome.ok()) << outcome.status();
    EXPECT_EQ(*outcome, WaitOutcome::kTimedOut);
    const absl::Duration waited = absl::Now() - start;
    EXPECT_GE(waited, absl::Milliseconds(390));
    EXPECT_LT(waited, absl::Seconds(3));
  }
}

TEST_F(PgIndexFeedTest, AChangeMadeBeforeListeningIsNotLeftForThePoll) {
  // Its NOTIFY went out before anyone listened: the call that starts
  // listening must not wait for another one.
  Submit(Small("early"));
  const absl::Time start = absl::Now();
  absl::StatusOr<WaitOutcome> outcome = feed_->WaitForWork(absl::Seconds(30));
  ASSERT_TRUE(outcome.ok()) << outcome.status();
  EXPECT_EQ(*outcome, WaitOutcome::kWoken);
  EXPECT_LT(absl::Now() - start, absl::Seconds(3));
  std::unique_ptr<OutboxBatch> batch = Claim(10);
  ASSERT_NE(batch, nullptr);
  EXPECT_EQ(batch->changes().size(), 1u);
}

TEST_F(PgIndexFeedTest, StatsCountsAndAgesTheOutbox) {
  absl::StatusOr<OutboxStats> stats = feed_->Stats();
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->pending, 0);
  EXPECT_EQ(stats->oldest_age, absl::ZeroDuration());

  Submit(Small("a"));
  Submit(Small("b"));
  Submit(Small("c"));
  Exec(
      "UPDATE index_outbox SET enqueued_at = clock_timestamp() - "
      "interval '1 hour' WHERE id = (SELECT min(id) FROM index_outbox)");
  stats = feed_->Stats();
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->pending, 3);
  EXPECT_GE(stats->oldest_age, absl::Hours(1));
  EXPECT_LT(stats->oldest_age, absl::Hours(1) + absl::Minutes(1));

  // Claimed rows still wait until completed.
  std::unique_ptr<OutboxBatch> batch = Claim(1);
  ASSERT_NE(batch, nullptr);
  stats = feed_->Stats();
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->pending, 3);
  ASSERT_TRUE(batch->Complete().ok());
  stats = feed_->Stats();
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->pending, 2);
  EXPECT_LT(stats->oldest_age, absl::Minutes(1));
  EXPECT_GT(stats->oldest_age, absl::ZeroDuration());
  EXPECT_EQ(stats->link_pending, 0);
  EXPECT_EQ(stats->link_oldest_age, absl::ZeroDuration());

  // Link rows are counted and aged on their own.
  batch = Claim(1);
  ASSERT_NE(batch, nullptr);
  ASSERT_TRUE(
      batch->CompleteAndQueueLinks({{batch->changes()[0].postmortem_id, 1}})
          .ok());
  Exec(
      "UPDATE link_outbox SET enqueued_at = clock_timestamp() - "
      "interval '2 hours'");
  stats = feed_->Stats();
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->pending, 1);
  EXPECT_EQ(stats->link_pending, 1);
  EXPECT_GE(stats->link_oldest_age, absl::Hours(2));
  EXPECT_LT(stats->oldest_age, absl::Minutes(1));
}

TEST_F(PgIndexFeedTest, ForEachPostmortemVisitsLiveOnesAcrossChunks) {
  // More than one 500-row chunk.
  constexpr int kCount = 1100;
  std::set<std::string> live;
  std::vector<std::string> deleted;
  for (int i = 0; i < kCount; ++i) {
    const v1::Postmortem pm = Submit(Small(absl::StrCat("pm", i)));
    if (i % 100 == 7) {
      ASSERT_TRUE(store_->Delete(pm.id(), 1, Soon()).ok());
      deleted.push_back(pm.id());
    } else {
      live.insert(pm.id());
    }
  }
  const std::string probe = *live.begin();
  absl::StatusOr<v1::Postmortem> probe_stored = store_->Get(probe, Soon());
  ASSERT_TRUE(probe_stored.ok()) << probe_stored.status();

  std::set<std::string> visited;
  int calls = 0;
  absl::Status status = feed_->ForEachPostmortem([&](const v1::Postmortem& pm) {
    ++calls;
    visited.insert(pm.id());
    if (pm.id() == probe) {
      EXPECT_TRUE(MessageDifferencer::Equals(pm, *probe_stored));
    }
    return absl::OkStatus();
  });
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_EQ(calls, static_cast<int>(live.size()));
  EXPECT_EQ(visited, live);
  for (const std::string& id : deleted) EXPECT_EQ(visited.count(id), 0u);

  calls = 0;
  status = feed_->ForEachPostmortem([&](const v1::Postmortem&) {
    return ++calls == 600 ? absl::DataLossError("index disk full")
                          : absl::OkStatus();
  });
  EXPECT_EQ(status, absl::DataLossError("index disk full"));
  EXPECT_EQ(calls, 600);
}

TEST_F(PgIndexFeedTest, UnavailableWhileDatabaseIsDownAndRecoversAfter) {
  EmbeddedPostgres* server = cluster().server();
  ASSERT_NE(server, nullptr);
  const v1::Postmortem a = Submit(Small("a"));
  ASSERT_TRUE(feed_->Stats().ok());
  ASSERT_TRUE(feed_->WaitForWork(absl::Milliseconds(10)).ok());
  std::unique_ptr<OutboxBatch> held = Claim(10);
  ASSERT_NE(held, nullptr);
  ASSERT_EQ(held->row_count(), 1);

  // A waiter blocked on NOTIFY returns when its connection breaks.
  absl::StatusOr<WaitOutcome> waited;
  absl::Duration wait_time;
  std::thread waiter([&] {
    const absl::Time start = absl::Now();
    waited = feed_->WaitForWork(absl::Seconds(60));
    wait_time = absl::Now() - start;
  });
  absl::SleepFor(absl::Milliseconds(200));
  ASSERT_TRUE(server->Stop().ok());
  waiter.join();
  EXPECT_LT(wait_time, absl::Seconds(15)) << waited.status();

  // Down: every call fails cleanly, and WaitForWork does not spin.
  const absl::Status complete = held->Complete();
  EXPECT_EQ(complete.code(), absl::StatusCode::kUnavailable) << complete;
  held.reset();
  absl::StatusOr<std::unique_ptr<OutboxBatch>> claim = feed_->Claim(10);
  EXPECT_EQ(claim.status().code(), absl::StatusCode::kUnavailable)
      << claim.status();
  EXPECT_THAT(claim.status().message(), HasSubstr("database unavailable"));
  EXPECT_EQ(feed_->Stats().status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(feed_
                ->ForEachPostmortem(
                    [](const v1::Postmortem&) { return absl::OkStatus(); })
                .code(),
            absl::StatusCode::kUnavailable);
  const absl::Time start = absl::Now();
  EXPECT_EQ(feed_->WaitForWork(absl::Milliseconds(300)).status().code(),
            absl::StatusCode::kUnavailable);
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(290));

  // Back: the uncompleted row is claimed again, and NOTIFY wakes again.
  ASSERT_TRUE(server->Restart().ok());
  std::unique_ptr<OutboxBatch> again = Claim(10);
  ASSERT_NE(again, nullptr);
  EXPECT_EQ(IdsOf(*again), (std::set<std::string>{a.id()}));
  ASSERT_TRUE(again->Complete().ok());
  absl::StatusOr<OutboxStats> stats = feed_->Stats();
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->pending, 0);
  int visits = 0;
  EXPECT_TRUE(feed_
                  ->ForEachPostmortem([&](const v1::Postmortem&) {
                    ++visits;
                    return absl::OkStatus();
                  })
                  .ok());
  EXPECT_EQ(visits, 1);

  ASSERT_TRUE(feed_->WaitForWork(absl::Milliseconds(10)).ok());  // relisten
  std::thread notified([&] { waited = feed_->WaitForWork(absl::Seconds(30)); });
  absl::SleepFor(absl::Milliseconds(200));
  const absl::Time submitted = absl::Now();
  Submit(Small("b"));
  notified.join();
  ASSERT_TRUE(waited.ok()) << waited.status();
  EXPECT_EQ(*waited, WaitOutcome::kWoken);
  EXPECT_LT(absl::Now() - submitted, absl::Seconds(1));
}

}  // namespace
}  // namespace deja
