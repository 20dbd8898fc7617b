// PgStore against a real, disposable PostgreSQL cluster.

#include <atomic>
#include <cstdint>
#include <limits>
#include <memory>
#include <pqxx/pqxx>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "store/pg_store.h"
#include "store/postmortem_rows.h"
#include "store/proto_json.h"
#include "tests/testing/pg_test_cluster.h"

namespace deja {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr int64_t kJan2024 = 1704067200;  // 2024-01-01T00:00:00Z

absl::Time Soon() { return absl::Now() + absl::Seconds(10); }

std::string Diff(const google::protobuf::Message& a,
                 const google::protobuf::Message& b) {
  google::protobuf::util::MessageDifferencer differencer;
  std::string report;
  differencer.ReportDifferencesToString(&report);
  differencer.Compare(a, b);
  return report;
}

v1::ActionItem Item(const std::string& description, const std::string& owner,
                    v1::ActionItem::Status status) {
  v1::ActionItem item;
  item.set_description(description);
  item.set_owner(owner);
  item.set_due_date("2024-03-01");
  item.set_status(status);
  item.set_kind(v1::ActionItem::PREVENT);
  item.set_tracker_url("https://tracker.example/1");
  return item;
}

// A postmortem with every field set.
v1::Postmortem FullPostmortem(const std::string& title, int64_t started_at) {
  v1::Postmortem pm;
  pm.set_team("payments");
  pm.set_title(title);
  pm.set_summary("Checkout returned 5xx for 40 minutes.");
  pm.set_severity(v1::SEV2);
  pm.mutable_started_at()->set_seconds(started_at);
  pm.mutable_detected_at()->set_seconds(started_at + 300);
  pm.mutable_mitigated_at()->set_seconds(started_at + 1800);
  pm.mutable_resolved_at()->set_seconds(started_at + 2400);
  pm.add_services("checkout");
  pm.add_services("ledger-db");
  pm.add_tags("postgres");
  pm.add_tags("connection-pool");
  pm.mutable_impact()->set_description("Card payments failed.");
  pm.mutable_impact()->set_users_affected(1200);
  pm.mutable_impact()->mutable_duration()->set_seconds(2400);
  pm.mutable_detection()->set_source(v1::Detection::ALERT);
  pm.mutable_detection()->set_description("p99 latency alert");
  auto* event = pm.add_timeline();
  event->mutable_at()->set_seconds(started_at + 60);
  event->set_description("Deploy of ledger 4.2 finished");
  auto* why = pm.add_whys();
  why->set_question("Why did checkout fail?");
  why->set_answer("The ledger pool was exhausted.");
  auto* cause = pm.add_root_causes();
  cause->set_category(v1::RootCause::CONFIG_CHANGE);
  cause->set_description("Pool size lowered from 50 to 5.");
  pm.add_contributing_factors("No alert on pool saturation.");
  pm.set_resolution("Rolled back the config.");
  pm.add_mitigation_steps("Rollback");
  *pm.add_action_items() =
      Item("Alert on pool saturation", "sre-team", v1::ActionItem::OPEN);
  *pm.add_action_items() =
      Item("Review config changes", "payments", v1::ActionItem::DONE);
  pm.mutable_lessons()->add_went_well("Rollback was fast.");
  pm.mutable_lessons()->add_went_wrong("Alert fired late.");
  pm.mutable_lessons()->add_got_lucky("Low traffic hour.");
  auto* participant = pm.add_participants();
  participant->set_name("Ana");
  participant->set_role("incident commander");
  participant->set_facilitator(true);
  pm.add_log_lines("ERROR: remaining connection slots are reserved");
  auto* link = pm.add_links();
  link->set_title("dashboard");
  link->set_url("https://grafana.example/d/1");
  pm.add_recurrence_of("0b0e6f0e-5a53-4d5e-9a57-1f3f6a3c8e11");
  pm.set_external_id("INC-42");
  pm.set_source_url("https://wiki.example/INC-42");
  return pm;
}

class PgStoreTest : public PgTest {
 protected:
  void SetUp() override {
    PgTest::SetUp();
    ASSERT_FALSE(connection_string().empty());
    store_ = Open(4);
  }

  std::unique_ptr<PostmortemStore> Open(int pool_size) {
    absl::StatusOr<std::unique_ptr<PostmortemStore>> store =
        OpenPgStore({connection_string(), pool_size});
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? *std::move(store) : nullptr;
  }

  int64_t QueryInt(const std::string& sql, const std::string& arg = "") {
    pqxx::connection conn(connection_string());
    pqxx::nontransaction tx(conn);
    return arg.empty() ? tx.exec1(sql)[0].as<int64_t>()
                       : tx.exec_params1(sql, arg)[0].as<int64_t>();
  }

  v1::Postmortem Submit(const v1::Postmortem& pm) {
    absl::StatusOr<SubmitResult> result = store_->Submit(pm, "", Soon());
    EXPECT_TRUE(result.ok()) << result.status();
    return result.ok() ? result->postmortem : v1::Postmortem();
  }

  std::vector<std::string> ListTitles(const v1::ListPostmortemsRequest& req) {
    absl::StatusOr<ListResult> result = store_->List(req, Soon());
    EXPECT_TRUE(result.ok()) << result.status();
    std::vector<std::string> titles;
    if (!result.ok()) return titles;
    for (const auto& pm : result->postmortems) titles.push_back(pm.title());
    return titles;
  }

  std::unique_ptr<PostmortemStore> store_;
};

TEST_F(PgStoreTest, SubmitThenGetRoundTripsEveryField) {
  v1::Postmortem input = FullPostmortem("Checkout 5xx", kJan2024);
  input.add_services(" Checkout ");  // duplicate once trimmed, any case
  input.add_tags(" Postgres");
  absl::StatusOr<SubmitResult> submitted = store_->Submit(input, "", Soon());
  ASSERT_TRUE(submitted.ok()) << submitted.status();
  const v1::Postmortem& stored = submitted->postmortem;
  EXPECT_FALSE(submitted->replayed);
  EXPECT_EQ(stored.id().size(), 36u);
  EXPECT_EQ(stored.version(), 1);
  EXPECT_TRUE(stored.has_created_at());
  EXPECT_EQ(stored.updated_at().seconds(), stored.created_at().seconds());
  EXPECT_EQ(stored.status(), v1::Postmortem::PUBLISHED);
  EXPECT_THAT(stored.services(), ElementsAre("checkout", "ledger-db"));
  EXPECT_THAT(stored.tags(), ElementsAre("postgres", "connection-pool"));
  ASSERT_EQ(stored.action_items_size(), 2);
  EXPECT_EQ(stored.action_items(0).id().size(), 36u);
  EXPECT_NE(stored.action_items(0).id(), stored.action_items(1).id());
  EXPECT_FALSE(stored.action_items(0).has_completed_at());
  EXPECT_TRUE(stored.action_items(1).has_completed_at());  // DONE at submit

  // Everything the client sent comes back, apart from normalisation and the
  // fields the server owns.
  v1::Postmortem expected = FullPostmortem("Checkout 5xx", kJan2024);
  expected.set_status(v1::Postmortem::PUBLISHED);
  expected.set_id(stored.id());
  expected.set_version(1);
  *expected.mutable_created_at() = stored.created_at();
  *expected.mutable_updated_at() = stored.updated_at();
  for (int i = 0; i < 2; ++i) {
    expected.mutable_action_items(i)->set_id(stored.action_items(i).id());
  }
  *expected.mutable_action_items(1)->mutable_completed_at() =
      stored.action_items(1).completed_at();
  EXPECT_EQ(Diff(expected, stored), "");

  absl::StatusOr<v1::Postmortem> read = store_->Get(stored.id(), Soon());
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(Diff(stored, *read), "");

  EXPECT_EQ(QueryInt("SELECT count(*) FROM index_outbox WHERE postmortem_id = "
                     "$1::uuid AND version = 1 AND operation = 'upsert'",
                     stored.id()),
            1);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM postmortem_services "
                     "WHERE postmortem_id = $1::uuid",
                     stored.id()),
            2);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM action_item_records "
                     "WHERE postmortem_id = $1::uuid AND status = 'DONE' "
                     "AND completed_at IS NOT NULL",
                     stored.id()),
            1);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM incidents WHERE id = $1::uuid "
                     "AND time_to_resolve = interval '40 minutes'",
                     stored.id()),
            1);
}

TEST_F(PgStoreTest, AnItemSubmittedClosedKeepsItsPastCompletionTime) {
  // Postmortems of past incidents say when their fixes were done; one from
  // the future is the submit's time instead.
  v1::Postmortem postmortem = FullPostmortem("Imported", kJan2024);
  ASSERT_EQ(postmortem.action_items(1).status(), v1::ActionItem::DONE);
  postmortem.mutable_action_items(1)->mutable_completed_at()->set_seconds(
      kJan2024 + 86400);
  *postmortem.add_action_items() = postmortem.action_items(1);
  postmortem.mutable_action_items(2)->set_description("Done in the future");
  postmortem.mutable_action_items(2)->mutable_completed_at()->set_seconds(
      253402214400);  // 9999-12-31
  postmortem.mutable_action_items(0)->mutable_completed_at()->set_seconds(
      kJan2024);  // open: no completion time
  const v1::Postmortem stored = Submit(postmortem);
  EXPECT_FALSE(stored.action_items(0).has_completed_at());
  EXPECT_EQ(stored.action_items(1).completed_at().seconds(), kJan2024 + 86400);
  EXPECT_LT(stored.action_items(2).completed_at().seconds(),
            absl::ToUnixSeconds(absl::Now()) + 60);
  EXPECT_EQ(QueryInt("SELECT extract(epoch FROM completed_at)::int8 FROM "
                     "action_item_records WHERE postmortem_id = $1::uuid "
                     "ORDER BY position OFFSET 1 LIMIT 1",
                     stored.id()),
            kJan2024 + 86400);
}

TEST_F(PgStoreTest, EdgeYearsReachTheColumnsUnchanged) {
  for (const int64_t started_at : {int64_t{-2208988800},      // 1900-01-01
                                   int64_t{253402214400}}) {  // 9999-12-31
    const v1::Postmortem stored =
        Submit(FullPostmortem(absl::StrCat("at ", started_at), started_at));
    ASSERT_EQ(stored.started_at().seconds(), started_at);
    EXPECT_EQ(QueryInt("SELECT extract(epoch FROM started_at)::int8 "
                       "FROM postmortems WHERE id = $1::uuid",
                       stored.id()),
              started_at);
    EXPECT_EQ(
        QueryInt("SELECT count(*) FROM postmortems WHERE id = $1::uuid "
                 "AND started_at = (document->>'started_at')::timestamptz",
                 stored.id()),
        1);
    EXPECT_EQ(QueryInt("SELECT extract(epoch FROM at)::int8 FROM "
                       "timeline_events WHERE postmortem_id = $1::uuid",
                       stored.id()),
              started_at + 60);
    v1::ListPostmortemsRequest req;
    *req.mutable_started_after() = stored.started_at();
    req.mutable_started_before()->set_seconds(started_at + 1);
    EXPECT_THAT(ListTitles(req), ElementsAre(stored.title()));
  }
}

TEST_F(PgStoreTest, RetryWithSameRequestIdReplaysFirstResult) {
  const v1::Postmortem pm = FullPostmortem("Checkout 5xx", kJan2024);
  absl::StatusOr<SubmitResult> first = store_->Submit(pm, "req-1", Soon());
  ASSERT_TRUE(first.ok()) << first.status();
  absl::StatusOr<SubmitResult> again = store_->Submit(pm, "req-1", Soon());
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(again->replayed);
  EXPECT_EQ(Diff(first->postmortem, again->postmortem), "");
  EXPECT_EQ(QueryInt("SELECT count(*) FROM postmortems"), 1);
}

TEST_F(PgStoreTest, RetryAfterUpdateReplaysTheCurrentVersion) {
  const v1::Postmortem pm = FullPostmortem("Checkout 5xx", kJan2024);
  absl::StatusOr<SubmitResult> first = store_->Submit(pm, "req-1", Soon());
  ASSERT_TRUE(first.ok()) << first.status();
  v1::Postmortem edit = first->postmortem;
  edit.set_title("Checkout 5xx (edited)");
  absl::StatusOr<v1::Postmortem> updated = store_->Update(edit, 1, Soon());
  ASSERT_TRUE(updated.ok()) << updated.status();
  absl::StatusOr<SubmitResult> again = store_->Submit(pm, "req-1", Soon());
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(again->replayed);
  EXPECT_EQ(again->postmortem.version(), 2);
  EXPECT_EQ(Diff(*updated, again->postmortem), "");
  EXPECT_EQ(QueryInt("SELECT count(*) FROM postmortems"), 1);
}

TEST_F(PgStoreTest, RetryAfterDeleteDoesNotResurrectThePostmortem) {
  const v1::Postmortem pm = FullPostmortem("Checkout 5xx", kJan2024);
  absl::StatusOr<SubmitResult> first = store_->Submit(pm, "req-1", Soon());
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_TRUE(store_->Delete(first->postmortem.id(), 0, Soon()).ok());
  absl::StatusOr<SubmitResult> again = store_->Submit(pm, "req-1", Soon());
  EXPECT_EQ(again.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(again.status().message()),
              HasSubstr("has since been deleted"));
  EXPECT_EQ(QueryInt("SELECT count(*) FROM postmortems"), 1);
}

// Submits stored by earlier releases keep replaying: their fingerprints were
// protobuf's printing (which escapes some characters outside ASCII), or, in
// the first release, every field printed and no `narrative`.
TEST_F(PgStoreTest, RetriesMatchFingerprintsOfEarlierReleases) {
  v1::Postmortem pm =
      FullPostmortem("Caf\xc3\xa9 \xe2\x80\xa8 outage", kJan2024);
  v1::Postmortem stored_form = NormalizeForStorage(pm);
  for (v1::ActionItem& item : *stored_form.mutable_action_items()) {
    item.clear_id();
  }
  absl::StatusOr<std::string> protobuf_form = ProtobufJson(stored_form, false);
  ASSERT_TRUE(protobuf_form.ok());
  EXPECT_NE(*protobuf_form, *ProtoJson(stored_form, false));  // U+2028
  absl::StatusOr<std::string> first_release = ProtobufJson(stored_form, true);
  ASSERT_TRUE(first_release.ok());
  const std::string narrative_key = "\"narrative\":\"\",";
  first_release->erase(first_release->find(narrative_key),
                       narrative_key.size());
  for (const std::string& earlier : {*protobuf_form, *first_release}) {
    const std::string request_id = absl::StrCat("req-", earlier.size());
    absl::StatusOr<SubmitResult> first = store_->Submit(pm, request_id, Soon());
    ASSERT_TRUE(first.ok()) << first.status();
    pqxx::connection conn(connection_string());
    pqxx::nontransaction tx(conn);
    tx.exec_params0(
        "UPDATE submit_requests SET content_sha256 = "
        "sha256(convert_to($2, 'UTF8')) WHERE request_id = $1",
        request_id, earlier);
    absl::StatusOr<SubmitResult> retry = store_->Submit(pm, request_id, Soon());
    ASSERT_TRUE(retry.ok()) << retry.status();
    EXPECT_TRUE(retry->replayed);
    EXPECT_EQ(retry->postmortem.id(), first->postmortem.id());
  }
}

TEST_F(PgStoreTest, SameRequestIdWithOtherContentFailsPrecondition) {
  absl::StatusOr<SubmitResult> first =
      store_->Submit(FullPostmortem("One", kJan2024), "req-1", Soon());
  ASSERT_TRUE(first.ok()) << first.status();
  absl::StatusOr<SubmitResult> other =
      store_->Submit(FullPostmortem("Two", kJan2024), "req-1", Soon());
  EXPECT_EQ(other.status().code(), absl::StatusCode::kFailedPrecondition)
      << other.status();
  EXPECT_THAT(other.status().message(),
              HasSubstr(absl::StrCat("request_id req-1 was already used for "
                                     "different content (postmortem ",
                                     first->postmortem.id(), ")")));
  EXPECT_EQ(QueryInt("SELECT count(*) FROM postmortems"), 1);
}

// Bulk import's path: one transaction, each item in a savepoint. A failing
// item, whether it returns an error (a reused request_id) or the database
// raises one (a CHECK constraint), is undone alone; the others are stored.
TEST_F(PgStoreTest, SubmitManyStoresEachItemAndUndoesOnlyTheFailingOnes) {
  ASSERT_TRUE(
      store_->Submit(FullPostmortem("Earlier", kJan2024), "req-0", Soon())
          .ok());
  const v1::Postmortem one = FullPostmortem("One", kJan2024);
  const v1::Postmortem reused = FullPostmortem("Other content", kJan2024);
  v1::Postmortem unstorable = FullPostmortem("Bad severity", kJan2024);
  unstorable.set_severity(static_cast<v1::Severity>(9));  // CHECK 1..5
  const v1::Postmortem two = FullPostmortem("Two", kJan2024);
  absl::StatusOr<std::vector<absl::StatusOr<SubmitResult>>> results =
      store_->SubmitMany({{&one, "req-1"},
                          {&reused, "req-0"},
                          {&unstorable, "req-2"},
                          {&two, "req-3"},
                          {&one, "req-1"}},
                         Soon());
  ASSERT_TRUE(results.ok()) << results.status();
  ASSERT_EQ(results->size(), 5u);
  ASSERT_TRUE((*results)[0].ok()) << (*results)[0].status();
  EXPECT_FALSE((*results)[0]->replayed);
  EXPECT_EQ((*results)[1].status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_FALSE((*results)[2].ok());
  ASSERT_TRUE((*results)[3].ok()) << (*results)[3].status();
  // The same request twice in one batch: the second replays the first.
  ASSERT_TRUE((*results)[4].ok()) << (*results)[4].status();
  EXPECT_TRUE((*results)[4]->replayed);
  EXPECT_EQ((*results)[4]->postmortem.id(), (*results)[0]->postmortem.id());

  EXPECT_EQ(QueryInt("SELECT count(*) FROM postmortems"), 3);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM submit_requests"), 3);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM postmortems WHERE title = 'Two'"),
            1);
}

// The fast path of a batch: every item the database accepts, each step one
// statement for all of them. New items get rows of their own; an earlier
// request replays or, with other content, fails alone; a request_id twice in
// the batch is one submit.
TEST_F(PgStoreTest, SubmitManyWritesTheWholeBatchTogether) {
  const absl::StatusOr<SubmitResult> earlier =
      store_->Submit(FullPostmortem("Earlier", kJan2024), "req-0", Soon());
  ASSERT_TRUE(earlier.ok()) << earlier.status();
  const v1::Postmortem earlier_content = FullPostmortem("Earlier", kJan2024);
  const v1::Postmortem one = FullPostmortem("One", kJan2024 + 60);
  const v1::Postmortem two = FullPostmortem("Two", kJan2024 + 120);
  v1::Postmortem three = FullPostmortem("Three", kJan2024 + 180);
  three.add_log_lines("ERROR pool exhausted after 30000 ms on db-7");
  const v1::Postmortem other = FullPostmortem("Other", kJan2024);
  const absl::StatusOr<std::vector<absl::StatusOr<SubmitResult>>> results =
      store_->SubmitMany({{&one, "req-1"},
                          {&earlier_content, "req-0"},
                          {&other, "req-0"},
                          {&two, ""},
                          {&one, "req-1"},
                          {&other, "req-1"},
                          {&three, "req-3"}},
                         Soon());
  ASSERT_TRUE(results.ok()) << results.status();
  ASSERT_EQ(results->size(), 7u);
  for (const int i : {0, 1, 3, 4, 6}) {
    ASSERT_TRUE((*results)[i].ok()) << i << ": " << (*results)[i].status();
  }
  EXPECT_FALSE((*results)[0]->replayed);
  EXPECT_TRUE((*results)[1]->replayed);
  EXPECT_EQ((*results)[1]->postmortem.id(), earlier->postmortem.id());
  EXPECT_EQ((*results)[2].status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_FALSE((*results)[3]->replayed);
  EXPECT_TRUE((*results)[4]->replayed);
  EXPECT_EQ((*results)[4]->postmortem.id(), (*results)[0]->postmortem.id());
  EXPECT_EQ((*results)[5].status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT((*results)[5].status().message(),
              HasSubstr(absl::StrCat("request_id req-1 was already used for "
                                     "different content (postmortem ",
                                     (*results)[0]->postmortem.id(), ")")));

  // Each new postmortem has its own rows, as a submit of it alone writes.
  for (const int i : {0, 3, 6}) {
    const v1::Postmortem& stored = (*results)[i]->postmortem;
    EXPECT_EQ(stored.version(), 1);
    absl::StatusOr<v1::Postmortem> read = store_->Get(stored.id(), Soon());
    ASSERT_TRUE(read.ok()) << read.status();
    EXPECT_EQ(Diff(stored, *read), "");
    for (const char* table :
         {"postmortem_services", "action_item_records", "timeline_events",
          "whys", "root_causes", "declared_recurrences"}) {
      EXPECT_EQ(QueryInt(absl::StrCat("SELECT count(*) FROM ", table,
                                      " WHERE postmortem_id = $1::uuid"),
                         stored.id()),
                table == std::string("postmortem_services") ||
                        table == std::string("action_item_records")
                    ? 2
                    : 1)
          << table << " of " << stored.title();
    }
    EXPECT_EQ(QueryInt("SELECT count(*) FROM index_outbox WHERE postmortem_id "
                       "= $1::uuid AND version = 1 AND operation = 'upsert'",
                       stored.id()),
              1);
  }
  EXPECT_EQ(QueryInt("SELECT count(*) FROM postmortem_signatures s "
                     "JOIN postmortems p ON p.id = s.postmortem_id "
                     "WHERE p.title = 'Three'"),
            2);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM postmortems "
                     "WHERE signatures_version = 0"),
            0);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM postmortems"), 4);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM submit_requests"), 3);
  // A retry of the batch creates nothing.
  const absl::StatusOr<std::vector<absl::StatusOr<SubmitResult>>> again =
      store_->SubmitMany({{&one, "req-1"}, {&three, "req-3"}}, Soon());
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE((*again)[0].ok() && (*again)[0]->replayed);
  EXPECT_TRUE((*again)[1].ok() && (*again)[1]->replayed);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM postmortems"), 4);
}

// A request_id twice in a batch, first with other content than was stored
// for it, then with the stored content: each is judged against the store.
TEST_F(PgStoreTest, SubmitManyJudgesEachUseOfAStoredRequestId) {
  const v1::Postmortem stored_content = FullPostmortem("Stored", kJan2024);
  const absl::StatusOr<SubmitResult> stored =
      store_->Submit(stored_content, "req-0", Soon());
  ASSERT_TRUE(stored.ok()) << stored.status();
  const v1::Postmortem other = FullPostmortem("Other", kJan2024);
  const absl::StatusOr<std::vector<absl::StatusOr<SubmitResult>>> results =
      store_->SubmitMany({{&other, "req-0"}, {&stored_content, "req-0"}},
                         Soon());
  ASSERT_TRUE(results.ok()) << results.status();
  EXPECT_EQ((*results)[0].status().code(),
            absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE((*results)[1].ok()) << (*results)[1].status();
  EXPECT_TRUE((*results)[1]->replayed);
  EXPECT_EQ((*results)[1]->postmortem.id(), stored->postmortem.id());
}

// Two imports of the same records in opposite orders, one of them sent down
// the one-at-a-time path by a record the database refuses: neither waits on
// the other crosswise (a deadlock would fail items as ABORTED), and each
// request_id makes one postmortem.
TEST_F(PgStoreTest, ConcurrentOverlappingBatchesDoNotDeadlock) {
  store_ = Open(4);
  v1::Postmortem unstorable = FullPostmortem("Bad severity", kJan2024);
  unstorable.set_severity(static_cast<v1::Severity>(9));  // CHECK 1..5
  constexpr int kRounds = 5;
  constexpr int kRecords = 12;
  std::vector<v1::Postmortem> records;
  for (int i = 0; i < kRecords; ++i) {
    records.push_back(FullPostmortem(absl::StrCat("record ", i), kJan2024));
  }
  for (int round = 0; round < kRounds; ++round) {
    std::vector<PostmortemStore::SubmitItem> forward, backward;
    for (int i = 0; i < kRecords; ++i) {
      forward.push_back({&records[i], absl::StrCat("r", round, "-", i)});
      backward.insert(backward.begin(), forward.back());
    }
    forward.push_back({&unstorable, absl::StrCat("bad-", round)});
    absl::StatusOr<std::vector<absl::StatusOr<SubmitResult>>> a, b;
    std::thread one([&] { a = store_->SubmitMany(forward, Soon()); });
    std::thread two([&] { b = store_->SubmitMany(backward, Soon()); });
    one.join();
    two.join();
    ASSERT_TRUE(a.ok()) << a.status();
    ASSERT_TRUE(b.ok()) << b.status();
    for (int i = 0; i < kRecords; ++i) {
      const absl::StatusOr<SubmitResult>& x = (*a)[i];
      const absl::StatusOr<SubmitResult>& y = (*b)[kRecords - 1 - i];
      ASSERT_TRUE(x.ok()) << x.status();
      ASSERT_TRUE(y.ok()) << y.status();
      EXPECT_EQ(x->postmortem.id(), y->postmortem.id());
      EXPECT_NE(x->replayed, y->replayed);
    }
    EXPECT_FALSE((*a)[kRecords].ok());
  }
  EXPECT_EQ(QueryInt("SELECT count(*) FROM postmortems"), kRounds * kRecords);
}

// The columns of a postmortems row are read from its stored document.
TEST_F(PgStoreTest, ColumnsAreReadFromTheStoredDocument) {
  v1::Postmortem full = FullPostmortem("Full", kJan2024);
  full.mutable_impact()->mutable_duration()->set_nanos(600000000);  // 2400.6 s
  const v1::Postmortem stored = Submit(full);
  pqxx::connection conn(connection_string());
  pqxx::nontransaction tx(conn);
  const pqxx::row row = tx.exec_params1(
      "SELECT team, title, summary, severity, status, "
      "       extract(epoch FROM started_at)::int8, "
      "       extract(epoch FROM detected_at)::int8, "
      "       extract(epoch FROM mitigated_at)::int8, "
      "       extract(epoch FROM resolved_at)::int8, impact_description, "
      "       users_affected, impact_seconds, detection_source, resolution, "
      "       external_id, source_url, version, "
      "       created_at = (document->>'created_at')::timestamptz "
      "FROM postmortems WHERE id = $1::uuid",
      stored.id());
  EXPECT_EQ(row[0].as<std::string>(), "payments");
  EXPECT_EQ(row[1].as<std::string>(), "Full");
  EXPECT_EQ(row[2].as<std::string>(), full.summary());
  EXPECT_EQ(row[3].as<int>(), 2);
  EXPECT_EQ(row[4].as<std::string>(), "PUBLISHED");
  EXPECT_EQ(row[5].as<int64_t>(), kJan2024);
  EXPECT_EQ(row[6].as<int64_t>(), kJan2024 + 300);
  EXPECT_EQ(row[7].as<int64_t>(), kJan2024 + 1800);
  EXPECT_EQ(row[8].as<int64_t>(), kJan2024 + 2400);
  EXPECT_EQ(row[9].as<std::string>(), "Card payments failed.");
  EXPECT_EQ(row[10].as<int64_t>(), 1200);
  EXPECT_EQ(row[11].as<int64_t>(), 2400);  // whole seconds, as before
  EXPECT_EQ(row[12].as<std::string>(), "ALERT");
  EXPECT_EQ(row[13].as<std::string>(), "Rolled back the config.");
  EXPECT_EQ(row[14].as<std::string>(), "INC-42");
  EXPECT_EQ(row[15].as<std::string>(), "https://wiki.example/INC-42");
  EXPECT_EQ(row[16].as<int64_t>(), 1);
  EXPECT_TRUE(row[17].as<bool>());

  // Absent parts: no impact, no detection, no end times.
  v1::Postmortem bare = FullPostmortem("Bare", kJan2024);
  bare.clear_impact();
  bare.clear_detection();
  bare.clear_mitigated_at();
  bare.clear_resolved_at();
  const v1::Postmortem bare_stored = Submit(bare);
  const pqxx::row empty = tx.exec_params1(
      "SELECT impact_description, users_affected, impact_seconds IS NULL, "
      "       detection_source, resolved_at IS NULL "
      "FROM postmortems WHERE id = $1::uuid",
      bare_stored.id());
  EXPECT_EQ(empty[0].as<std::string>(), "");
  EXPECT_EQ(empty[1].as<int64_t>(), 0);
  EXPECT_TRUE(empty[2].as<bool>());
  EXPECT_EQ(empty[3].as<std::string>(), "SOURCE_UNSPECIFIED");
  EXPECT_TRUE(empty[4].as<bool>());
}

// What a batch statement's array parameter carries reaches PostgreSQL
// unchanged, quotes, backslashes, braces and all.
TEST_F(PgStoreTest, SqlArrayValuesArriveUnchanged) {
  const std::vector<std::string> values = {
      "",          "NULL",     "a,b",         "{x}",        "say \"hi\"",
      "C:\\dir\\", " padded ", "caf\xc3\xa9", "line\nbreak"};
  pqxx::connection conn(connection_string());
  pqxx::nontransaction tx(conn);
  std::vector<std::string> read;
  for (const pqxx::row& row :
       tx.exec_params("SELECT v FROM unnest($1::text[]) WITH ORDINALITY "
                      "AS x(v, n) ORDER BY n",
                      SqlArray(values))) {
    EXPECT_FALSE(row[0].is_null());
    read.push_back(row[0].as<std::string>());
  }
  EXPECT_EQ(read, values);
}

TEST_F(PgStoreTest, ConcurrentDuplicateSubmitsCreateOnePostmortem) {
  store_ = Open(8);
  const v1::Postmortem pm = FullPostmortem("Checkout 5xx", kJan2024);
  std::vector<absl::StatusOr<SubmitResult>> results(
      8, absl::UnknownError("not run"));
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back(
        [&, i] { results[i] = store_->Submit(pm, "same-request", Soon()); });
  }
  for (std::thread& thread : threads) thread.join();
  std::set<std::string> ids;
  int fresh = 0;
  for (const auto& result : results) {
    ASSERT_TRUE(result.ok()) << result.status();
    ids.insert(result->postmortem.id());
    if (!result->replayed) ++fresh;
  }
  EXPECT_EQ(ids.size(), 1u);
  EXPECT_EQ(fresh, 1);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM postmortems"), 1);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM index_outbox"), 1);
}

TEST_F(PgStoreTest, ListFiltersByTeamServiceSeverityTagAndTime) {
  v1::Postmortem a = FullPostmortem("a", kJan2024);
  v1::Postmortem b = FullPostmortem("b", kJan2024 + 3600);
  b.set_team("search");
  b.set_severity(v1::SEV1);
  b.clear_services();
  b.add_services("Indexer");
  b.clear_tags();
  b.add_tags("xapian");
  v1::Postmortem c = FullPostmortem("c", kJan2024 + 7200);
  Submit(a);
  Submit(b);
  Submit(c);

  v1::ListPostmortemsRequest req;
  EXPECT_THAT(ListTitles(req), ElementsAre("c", "b", "a"));
  req.set_team("search");
  EXPECT_THAT(ListTitles(req), ElementsAre("b"));
  req.Clear();
  req.set_service("INDEXER");  // case-insensitive
  EXPECT_THAT(ListTitles(req), ElementsAre("b"));
  req.Clear();
  req.set_severity(v1::SEV2);
  EXPECT_THAT(ListTitles(req), ElementsAre("c", "a"));
  req.Clear();
  req.set_tag("Postgres");
  EXPECT_THAT(ListTitles(req), ElementsAre("c", "a"));
  req.Clear();
  req.mutable_started_after()->set_seconds(kJan2024 + 3600);   // inclusive
  req.mutable_started_before()->set_seconds(kJan2024 + 7200);  // exclusive
  EXPECT_THAT(ListTitles(req), ElementsAre("b"));
  req.set_team(" SEARCH ");  // trimmed, case-insensitive like service
  EXPECT_THAT(ListTitles(req), ElementsAre("b"));
  req.Clear();
  req.set_team("nobody");
  EXPECT_THAT(ListTitles(req), ElementsAre());
}

TEST_F(PgStoreTest, TeamIsStoredTrimmed) {
  v1::Postmortem pm = FullPostmortem("pm", kJan2024);
  pm.set_team("  Payments ");
  const v1::Postmortem stored = Submit(pm);
  EXPECT_EQ(stored.team(), "Payments");
  EXPECT_EQ(QueryInt("SELECT count(*) FROM postmortems WHERE id = $1::uuid "
                     "AND team = 'Payments' AND document->>'team' = 'Payments'",
                     stored.id()),
            1);
  v1::ListPostmortemsRequest req;
  req.set_team("payments");
  EXPECT_THAT(ListTitles(req), ElementsAre("pm"));
}

TEST_F(PgStoreTest, ListPagesNewestFirstWithoutGapsOrDuplicates) {
  // Two share a start time, so the id breaks the tie across a page boundary.
  const std::vector<int64_t> offsets = {0, 60, 120, 120, 180, 240, 300};
  for (size_t i = 0; i < offsets.size(); ++i) {
    Submit(FullPostmortem(absl::StrCat("pm", i), kJan2024 + offsets[i]));
  }
  v1::ListPostmortemsRequest req;
  req.set_page_size(3);
  std::vector<v1::Postmortem> seen;
  std::vector<size_t> page_sizes;
  do {
    absl::StatusOr<ListResult> page = store_->List(req, Soon());
    ASSERT_TRUE(page.ok()) << page.status();
    page_sizes.push_back(page->postmortems.size());
    seen.insert(seen.end(), page->postmortems.begin(), page->postmortems.end());
    req.set_page_token(page->next_page_token);
  } while (!req.page_token().empty() && page_sizes.size() < 10);
  EXPECT_THAT(page_sizes, ElementsAre(3, 3, 1));
  std::set<std::string> ids;
  for (size_t i = 0; i < seen.size(); ++i) {
    ids.insert(seen[i].id());
    if (i == 0) continue;
    const auto& newer = seen[i - 1];
    const auto& older = seen[i];
    EXPECT_TRUE(newer.started_at().seconds() > older.started_at().seconds() ||
                (newer.started_at().seconds() == older.started_at().seconds() &&
                 newer.id() > older.id()))
        << i;
  }
  EXPECT_EQ(ids.size(), offsets.size());
}

TEST_F(PgStoreTest, MalformedPageTokenIsInvalidArgument) {
  // Well-formed inside, but no Timestamp can hold these times.
  const std::string far_future = absl::WebSafeBase64Escape(
      absl::StrCat(std::numeric_limits<int64_t>::max(),
                   ":11111111-2222-3333-4444-555555555555"));
  const std::string far_past = absl::WebSafeBase64Escape(
      absl::StrCat(std::numeric_limits<int64_t>::min(),
                   ":11111111-2222-3333-4444-555555555555"));
  for (const std::string& token :
       {std::string("!!!"), std::string("bm90LWEtdG9rZW4"),
        std::string("MTIzOm5vdC1hLXV1aWQ"), far_future, far_past}) {
    v1::ListPostmortemsRequest req;
    req.set_page_token(token);
    absl::StatusOr<ListResult> result = store_->List(req, Soon());
    EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument)
        << token;
    EXPECT_EQ(result.status().message(), "page_token: malformed");
  }
}

TEST_F(PgStoreTest, UpdateWithCurrentVersionKeepsActionItemIds) {
  const v1::Postmortem stored = Submit(FullPostmortem("old", kJan2024));
  v1::Postmortem edit = stored;
  edit.set_title("new");
  edit.mutable_action_items(0)->set_status(v1::ActionItem::IN_PROGRESS);
  edit.mutable_action_items()->DeleteSubrange(1, 1);
  *edit.add_action_items() =
      Item("Add pool metrics", "sre-team", v1::ActionItem::OPEN);
  absl::StatusOr<v1::Postmortem> updated =
      store_->Update(edit, /*expected_version=*/1, Soon());
  ASSERT_TRUE(updated.ok()) << updated.status();
  EXPECT_EQ(updated->version(), 2);
  EXPECT_EQ(updated->title(), "new");
  EXPECT_EQ(updated->id(), stored.id());
  EXPECT_EQ(Diff(updated->created_at(), stored.created_at()), "");
  ASSERT_EQ(updated->action_items_size(), 2);
  EXPECT_EQ(updated->action_items(0).id(), stored.action_items(0).id());
  ASSERT_EQ(updated->action_items(0).history_size(), 1);
  EXPECT_EQ(updated->action_items(0).history(0).field(), "status");
  EXPECT_EQ(updated->action_items(0).history(0).new_value(), "IN_PROGRESS");
  EXPECT_EQ(updated->action_items(1).id().size(), 36u);
  EXPECT_NE(updated->action_items(1).id(), stored.action_items(1).id());

  absl::StatusOr<v1::Postmortem> read = store_->Get(stored.id(), Soon());
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(Diff(*updated, *read), "");
  EXPECT_EQ(QueryInt("SELECT count(*) FROM action_item_records "
                     "WHERE postmortem_id = $1::uuid AND removed_at IS NULL",
                     stored.id()),
            2);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM action_item_history"), 1);
  EXPECT_EQ(QueryInt("SELECT max(version) FROM index_outbox "
                     "WHERE postmortem_id = $1::uuid",
                     stored.id()),
            2);
}

TEST_F(PgStoreTest, RemovedActionItemKeepsItsHistory) {
  const v1::Postmortem stored = Submit(FullPostmortem("pm", kJan2024));
  const std::string removed_id = stored.action_items(1).id();
  v1::UpdateActionItemRequest req;
  req.set_postmortem_id(stored.id());
  req.set_action_item_id(removed_id);
  req.set_owner("dba-team");
  ASSERT_TRUE(store_->UpdateActionItem(req, Soon()).ok());

  // Remove item 1 and put a new item in its position.
  v1::Postmortem edit = *store_->Get(stored.id(), Soon());
  edit.mutable_action_items()->DeleteSubrange(1, 1);
  *edit.add_action_items() =
      Item("Add pool metrics", "sre-team", v1::ActionItem::OPEN);
  absl::StatusOr<v1::Postmortem> updated = store_->Update(edit, 2, Soon());
  ASSERT_TRUE(updated.ok()) << updated.status();
  ASSERT_EQ(updated->action_items_size(), 2);

  EXPECT_EQ(QueryInt("SELECT count(*) FROM action_item_records WHERE id = "
                     "$1::uuid AND removed_at IS NOT NULL AND position = 2",
                     removed_id),
            1);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM action_item_history "
                     "WHERE action_item_id = $1::uuid AND field = 'owner'",
                     removed_id),
            1);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM action_items WHERE id = $1::uuid",
                     removed_id),
            0);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM action_items "
                     "WHERE postmortem_id = $1::uuid",
                     stored.id()),
            2);

  // Removed stays removed: the old id no longer names an item.
  v1::Postmortem again = *updated;
  again.mutable_action_items(1)->set_id(removed_id);
  EXPECT_EQ(store_->Update(again, 3, Soon()).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(PgStoreTest, UpperCaseActionItemIdsNameTheSameItems) {
  const v1::Postmortem stored = Submit(FullPostmortem("pm", kJan2024));
  v1::Postmortem edit = stored;
  for (v1::ActionItem& item : *edit.mutable_action_items()) {
    item.set_id(absl::AsciiStrToUpper(item.id()));
  }
  edit.mutable_action_items(0)->set_owner("dba-team");
  absl::StatusOr<v1::Postmortem> updated = store_->Update(edit, 1, Soon());
  ASSERT_TRUE(updated.ok()) << updated.status();
  ASSERT_EQ(updated->action_items_size(), 2);
  EXPECT_EQ(updated->action_items(0).id(), stored.action_items(0).id());
  EXPECT_EQ(updated->action_items(1).id(), stored.action_items(1).id());
  EXPECT_EQ(updated->action_items(0).history_size(), 1);

  v1::UpdateActionItemRequest req;
  req.set_postmortem_id(stored.id());
  req.set_action_item_id(absl::AsciiStrToUpper(stored.action_items(1).id()));
  req.set_status(v1::ActionItem::WONT_DO);
  absl::StatusOr<v1::ActionItem> item = store_->UpdateActionItem(req, Soon());
  ASSERT_TRUE(item.ok()) << item.status();
  EXPECT_EQ(item->id(), stored.action_items(1).id());
  EXPECT_EQ(item->status(), v1::ActionItem::WONT_DO);
}

TEST_F(PgStoreTest, UpperCaseIdNamesTheSamePostmortem) {
  const v1::Postmortem stored = Submit(FullPostmortem("pm", kJan2024));
  v1::Postmortem edit = stored;
  edit.set_id(absl::AsciiStrToUpper(stored.id()));
  absl::StatusOr<v1::Postmortem> updated = store_->Update(edit, 1, Soon());
  ASSERT_TRUE(updated.ok()) << updated.status();
  EXPECT_EQ(updated->id(), stored.id());
  EXPECT_EQ(store_->Get(edit.id(), Soon())->id(), stored.id());
}

TEST_F(PgStoreTest, UpdateWithStaleVersionIsAbortedAndChangesNothing) {
  const v1::Postmortem stored = Submit(FullPostmortem("old", kJan2024));
  v1::Postmortem edit = stored;
  edit.set_title("first edit");
  ASSERT_TRUE(store_->Update(edit, 1, Soon()).ok());
  edit.set_title("lost edit");
  absl::StatusOr<v1::Postmortem> stale = store_->Update(edit, 1, Soon());
  EXPECT_EQ(stale.status().code(), absl::StatusCode::kAborted);
  EXPECT_THAT(stale.status().message(),
              HasSubstr("is at version 2, not 1 (read it again)"));
  absl::StatusOr<v1::Postmortem> read = store_->Get(stored.id(), Soon());
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(read->title(), "first edit");
  EXPECT_EQ(read->version(), 2);
}

TEST_F(PgStoreTest, UpdateWithUnknownActionItemIdIsInvalidArgument) {
  const v1::Postmortem stored = Submit(FullPostmortem("old", kJan2024));
  v1::Postmortem edit = stored;
  const std::string stranger = "11111111-2222-3333-4444-555555555555";
  edit.mutable_action_items(1)->set_id(stranger);
  absl::StatusOr<v1::Postmortem> result = store_->Update(edit, 1, Soon());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(result.status().message(),
            absl::StrCat("postmortem.action_items[1].id: no action item ",
                         stranger, " in this postmortem"));
  EXPECT_EQ(store_->Get(stored.id(), Soon())->version(), 1);
}

TEST_F(PgStoreTest, UpdateActionItemRecordsEachChangeWithItsTime) {
  const v1::Postmortem stored = Submit(FullPostmortem("pm", kJan2024));
  v1::UpdateActionItemRequest req;
  req.set_postmortem_id(stored.id());
  req.set_action_item_id(stored.action_items(0).id());
  req.set_status(v1::ActionItem::DONE);
  req.set_owner("dba-team");
  req.set_due_date("2024-03-01");  // unchanged: not recorded
  absl::StatusOr<v1::ActionItem> item = store_->UpdateActionItem(req, Soon());
  ASSERT_TRUE(item.ok()) << item.status();
  EXPECT_EQ(item->status(), v1::ActionItem::DONE);
  EXPECT_EQ(item->owner(), "dba-team");
  EXPECT_TRUE(item->has_completed_at());
  ASSERT_EQ(item->history_size(), 2);
  EXPECT_EQ(item->history(0).field(), "status");
  EXPECT_EQ(item->history(0).old_value(), "OPEN");
  EXPECT_EQ(item->history(0).new_value(), "DONE");
  EXPECT_TRUE(item->history(0).has_at());
  EXPECT_EQ(item->history(1).field(), "owner");
  EXPECT_EQ(item->history(1).old_value(), "sre-team");

  absl::StatusOr<v1::Postmortem> read = store_->Get(stored.id(), Soon());
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(read->version(), 2);
  EXPECT_EQ(Diff(read->action_items(0), *item), "");
  EXPECT_EQ(QueryInt("SELECT count(*) FROM action_item_history "
                     "WHERE action_item_id = $1::uuid AND at IS NOT NULL",
                     item->id()),
            2);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM action_item_records WHERE id = "
                     "$1::uuid AND owner = 'dba-team' AND completed_at IS NOT "
                     "NULL",
                     item->id()),
            1);

  // The same values again change nothing.
  ASSERT_TRUE(store_->UpdateActionItem(req, Soon()).ok());
  EXPECT_EQ(store_->Get(stored.id(), Soon())->version(), 2);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM action_item_history"), 2);

  // Reopening clears the completion time.
  v1::UpdateActionItemRequest reopen;
  reopen.set_postmortem_id(stored.id());
  reopen.set_action_item_id(item->id());
  reopen.set_status(v1::ActionItem::OPEN);
  absl::StatusOr<v1::ActionItem> reopened =
      store_->UpdateActionItem(reopen, Soon());
  ASSERT_TRUE(reopened.ok());
  EXPECT_FALSE(reopened->has_completed_at());
  EXPECT_EQ(reopened->history_size(), 3);
}

TEST_F(PgStoreTest, UpdateActionItemOfUnknownItemIsNotFound) {
  const v1::Postmortem stored = Submit(FullPostmortem("pm", kJan2024));
  v1::UpdateActionItemRequest req;
  req.set_postmortem_id(stored.id());
  req.set_action_item_id("11111111-2222-3333-4444-555555555555");
  req.set_owner("x");
  EXPECT_EQ(store_->UpdateActionItem(req, Soon()).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(PgStoreTest, DeleteHidesPostmortemAndQueuesIndexRemoval) {
  const v1::Postmortem stored = Submit(FullPostmortem("pm", kJan2024));
  EXPECT_EQ(store_->Delete(stored.id(), 7, Soon()).code(),
            absl::StatusCode::kAborted);
  ASSERT_TRUE(store_->Delete(stored.id(), 1, Soon()).ok());
  EXPECT_EQ(store_->Get(stored.id(), Soon()).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_THAT(ListTitles({}), ElementsAre());
  EXPECT_EQ(QueryInt("SELECT count(*) FROM index_outbox WHERE postmortem_id = "
                     "$1::uuid AND version = 2 AND operation = 'delete'",
                     stored.id()),
            1);
  EXPECT_EQ(store_->Delete(stored.id(), 0, Soon()).code(),
            absl::StatusCode::kNotFound);
  v1::Postmortem edit = stored;
  EXPECT_EQ(store_->Update(edit, 2, Soon()).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(PgStoreTest, UnknownIdsAreNotFound) {
  for (const char* id : {"11111111-2222-3333-4444-555555555555", "nope", ""}) {
    absl::StatusOr<v1::Postmortem> got = store_->Get(id, Soon());
    EXPECT_EQ(got.status().code(), absl::StatusCode::kNotFound) << id;
    EXPECT_EQ(store_->Delete(id, 0, Soon()).code(),
              absl::StatusCode::kNotFound);
    v1::Postmortem pm = FullPostmortem("pm", kJan2024);
    pm.set_id(id);
    EXPECT_EQ(store_->Update(pm, 1, Soon()).status().code(),
              absl::StatusCode::kNotFound);
  }
  absl::StatusOr<v1::Postmortem> got =
      store_->Get("11111111-2222-3333-4444-555555555555", Soon());
  EXPECT_EQ(got.status().message(),
            "postmortem 11111111-2222-3333-4444-555555555555 not found");
}

TEST_F(PgStoreTest, RecoversAfterDatabaseRestart) {
  EmbeddedPostgres* server = cluster().server();
  ASSERT_NE(server, nullptr);
  const v1::Postmortem stored = Submit(FullPostmortem("pm", kJan2024));

  // A restart between calls is invisible: the dead connection is replaced.
  ASSERT_TRUE(server->Stop().ok());
  ASSERT_TRUE(server->Restart().ok());
  absl::StatusOr<v1::Postmortem> read = store_->Get(stored.id(), Soon());
  EXPECT_TRUE(read.ok()) << read.status();

  // While the server is down, calls fail cleanly.
  ASSERT_TRUE(server->Stop().ok());
  absl::StatusOr<v1::Postmortem> down = store_->Get(stored.id(), Soon());
  EXPECT_EQ(down.status().code(), absl::StatusCode::kUnavailable)
      << down.status();
  EXPECT_THAT(down.status().message(), HasSubstr("database unavailable"));
  ASSERT_TRUE(server->Restart().ok());
  read = store_->Get(stored.id(), Soon());
  EXPECT_TRUE(read.ok()) << read.status();
  EXPECT_TRUE(
      store_->Submit(FullPostmortem("after", kJan2024), "", Soon()).ok());
}

TEST_F(PgStoreTest, DeadlineInThePastIsDeadlineExceeded) {
  const absl::Time past = absl::Now() - absl::Seconds(1);
  EXPECT_EQ(
      store_->Get("11111111-2222-3333-4444-555555555555", past).status().code(),
      absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(
      store_->Submit(FullPostmortem("pm", kJan2024), "", past).status().code(),
      absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM postmortems"), 0);
}

// Holds a row lock from outside the store until destroyed.
class RowLock {
 public:
  RowLock(const std::string& connection_string, const std::string& id)
      : conn_(connection_string), txn_(conn_) {
    txn_.exec_params("SELECT 1 FROM postmortems WHERE id = $1::uuid FOR UPDATE",
                     id);
  }

 private:
  pqxx::connection conn_;
  pqxx::work txn_;
};

TEST_F(PgStoreTest, DeadlineBecomesStatementTimeout) {
  const v1::Postmortem stored = Submit(FullPostmortem("pm", kJan2024));
  RowLock lock(connection_string(), stored.id());
  const absl::Time start = absl::Now();
  absl::Status deleted =
      store_->Delete(stored.id(), 0, absl::Now() + absl::Milliseconds(300));
  EXPECT_EQ(deleted.code(), absl::StatusCode::kDeadlineExceeded) << deleted;
  EXPECT_LT(absl::Now() - start, absl::Seconds(3));
}

TEST_F(PgStoreTest, DeadlineBecomesLockTimeoutToo) {
  // Reports the settings the store's transaction runs with.
  {
    pqxx::connection conn(connection_string());
    pqxx::work tx(conn);
    tx.exec(
        "CREATE FUNCTION report_timeouts() RETURNS trigger LANGUAGE plpgsql "
        "AS $$ BEGIN RAISE EXCEPTION 'statement_timeout=% lock_timeout=%', "
        "current_setting('statement_timeout'), "
        "current_setting('lock_timeout'); END $$;"
        "CREATE TRIGGER report_timeouts BEFORE INSERT ON postmortems "
        "FOR EACH ROW EXECUTE FUNCTION report_timeouts()");
    tx.commit();
  }
  absl::StatusOr<SubmitResult> result =
      store_->Submit(FullPostmortem("pm", kJan2024), "", Soon());
  ASSERT_FALSE(result.ok());
  const std::string message(result.status().message());
  EXPECT_THAT(message, HasSubstr("statement_timeout="));
  EXPECT_THAT(message, Not(HasSubstr("statement_timeout=0 ")));
  EXPECT_THAT(message, HasSubstr("lock_timeout="));
  EXPECT_THAT(message, Not(HasSubstr("lock_timeout=0")));
}

TEST_F(PgStoreTest, BusyPoolWaitsOnlyUntilTheDeadline) {
  store_ = Open(1);
  const v1::Postmortem stored = Submit(FullPostmortem("pm", kJan2024));
  absl::Status blocked_result = absl::UnknownError("not run");
  std::thread blocked;
  {
    RowLock lock(connection_string(), stored.id());
    // Takes the only connection and waits for the row lock.
    blocked = std::thread([&] {
      blocked_result =
          store_->Delete(stored.id(), 0, absl::Now() + absl::Seconds(5));
    });
    absl::SleepFor(absl::Milliseconds(200));
    absl::StatusOr<v1::Postmortem> waited =
        store_->Get(stored.id(), absl::Now() + absl::Milliseconds(200));
    EXPECT_EQ(waited.status().code(), absl::StatusCode::kDeadlineExceeded)
        << waited.status();
  }  // releases the row lock
  blocked.join();
  EXPECT_TRUE(blocked_result.ok()) << blocked_result;
  EXPECT_EQ(store_->Get(stored.id(), Soon()).status().code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace deja
