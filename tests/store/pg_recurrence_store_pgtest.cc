// PgRecurrenceStore, the declared links and error signatures PgStore writes
// with each postmortem, and the signature backfill, against a real,
// disposable PostgreSQL cluster.

#include <cstdint>
#include <memory>
#include <pqxx/pqxx>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "core/error_signature.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "store/migrations.h"
#include "store/pg_recurrence_store.h"
#include "store/pg_store.h"
#include "tests/testing/pg_test_cluster.h"

namespace deja {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;
using v1::RecurrenceLink;

constexpr int64_t kJan2024 = 1704067200;  // 2024-01-01T00:00:00Z
constexpr int64_t kDay = 86400;

absl::Time Soon() { return absl::Now() + absl::Seconds(10); }

v1::Postmortem Draft(const std::string& title, int64_t started_at) {
  v1::Postmortem postmortem;
  postmortem.set_team("orders");
  postmortem.set_title(title);
  postmortem.set_summary("Order API refused connections.");
  postmortem.set_severity(v1::SEV2);
  postmortem.add_services("orders-db");
  postmortem.mutable_started_at()->set_seconds(started_at);
  return postmortem;
}

SuggestedLink Suggestion(const std::string& later, const std::string& earlier,
                         double score, std::vector<std::string> reasons = {}) {
  SuggestedLink link;
  link.later_id = later;
  link.earlier_id = earlier;
  link.score = score;
  link.reasons = std::move(reasons);
  return link;
}

v1::DecideRecurrenceRequest Decision(const std::string& later,
                                     const std::string& earlier,
                                     const std::string& note = "") {
  v1::DecideRecurrenceRequest request;
  request.set_postmortem_id(later);
  request.set_earlier_id(earlier);
  request.set_decided_by("orders-oncall");
  request.set_note(note);
  return request;
}

// What recurrence_links holds for one pair, read directly.
struct StoredLink {
  bool present = false;
  std::string source;
  std::string state;
  double score = 0;
  std::string reasons;
  bool decided = false;
};

class PgRecurrenceStoreTest : public PgTest {
 protected:
  void SetUp() override {
    PgTest::SetUp();
    ASSERT_FALSE(connection_string().empty());
    absl::StatusOr<std::unique_ptr<PostmortemStore>> store =
        OpenPgStore({connection_string(), 2});
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
    absl::StatusOr<std::unique_ptr<RecurrenceStore>> recurrences =
        OpenPgRecurrenceStore({connection_string(), 2});
    ASSERT_TRUE(recurrences.ok()) << recurrences.status();
    recurrences_ = *std::move(recurrences);
  }

  v1::Postmortem Submit(v1::Postmortem draft) {
    absl::StatusOr<SubmitResult> result = store_->Submit(draft, "", Soon());
    EXPECT_TRUE(result.ok()) << result.status();
    return result.ok() ? result->postmortem : v1::Postmortem();
  }
  std::string SubmitAt(const std::string& title, int64_t started_at) {
    return Submit(Draft(title, started_at)).id();
  }

  StoredLink Stored(const std::string& later, const std::string& earlier) {
    pqxx::connection conn(connection_string());
    pqxx::nontransaction tx(conn);
    const pqxx::result rows = tx.exec_params(
        "SELECT source, state, score, reasons::text, decided_at IS NOT NULL "
        "FROM recurrence_links "
        "WHERE postmortem_id = $1::uuid AND earlier_id = $2::uuid",
        later, earlier);
    StoredLink link;
    if (rows.empty()) return link;
    link.present = true;
    link.source = rows[0][0].as<std::string>();
    link.state = rows[0][1].as<std::string>();
    link.score = rows[0][2].as<double>();
    link.reasons = rows[0][3].as<std::string>();
    link.decided = rows[0][4].as<bool>();
    return link;
  }

  int64_t Count(const std::string& sql) {
    pqxx::connection conn(connection_string());
    pqxx::nontransaction tx(conn);
    return tx.exec1(sql)[0].as<int64_t>();
  }

  void Exec(const std::string& sql) {
    pqxx::connection conn(connection_string());
    pqxx::work tx(conn);
    tx.exec0(sql);
    tx.commit();
  }

  // The stored signature ids of `id`, sorted.
  std::set<std::string> SignatureIds(const std::string& id) {
    pqxx::connection conn(connection_string());
    pqxx::nontransaction tx(conn);
    std::set<std::string> ids;
    for (const pqxx::row& row :
         tx.exec_params("SELECT signature FROM postmortem_signatures "
                        "WHERE postmortem_id = $1::uuid",
                        id)) {
      ids.insert(row[0].as<std::string>());
    }
    return ids;
  }

  int SignaturesVersion(const std::string& id) {
    pqxx::connection conn(connection_string());
    pqxx::nontransaction tx(conn);
    return tx
        .exec_params1(
            "SELECT signatures_version FROM postmortems WHERE id = $1::uuid",
            id)[0]
        .as<int>();
  }

  std::vector<std::string> ListedPairs(
      const v1::ListRecurrencesRequest& request) {
    absl::StatusOr<v1::ListRecurrencesResponse> response =
        recurrences_->List(request);
    EXPECT_TRUE(response.ok()) << response.status();
    std::vector<std::string> pairs;
    if (!response.ok()) return pairs;
    for (const RecurrenceLink& link : response->links()) {
      pairs.push_back(
          absl::StrCat(link.postmortem_id(), ">", link.earlier_id()));
    }
    return pairs;
  }

  std::unique_ptr<PostmortemStore> store_;
  std::unique_ptr<RecurrenceStore> recurrences_;
};

std::string Pair(const std::string& later, const std::string& earlier) {
  return absl::StrCat(later, ">", earlier);
}

TEST_F(PgRecurrenceStoreTest, SuggestionsAreUpsertedAsAutoSuggestedLinks) {
  const std::string first = SubmitAt("Orders pool exhausted", kJan2024);
  const std::string second = SubmitAt("Orders pool again", kJan2024 + kDay);

  ASSERT_TRUE(recurrences_
                  ->RecordSuggestions(
                      second, {Suggestion(second, first, 0.91,
                                          {"shared services: orders-db",
                                           "matched in \"title\": pool"})})
                  .ok());
  StoredLink link = Stored(second, first);
  ASSERT_TRUE(link.present);
  EXPECT_EQ(link.source, "AUTO");
  EXPECT_EQ(link.state, "SUGGESTED");
  EXPECT_DOUBLE_EQ(link.score, 0.91);
  EXPECT_EQ(link.reasons,
            R"(["shared services: orders-db", "matched in \"title\": pool"])");

  // Indexing the other side later refreshes the same link.
  ASSERT_TRUE(recurrences_
                  ->RecordSuggestions(first, {Suggestion(second, first, 0.88,
                                                         {"shared services"})})
                  .ok());
  link = Stored(second, first);
  EXPECT_DOUBLE_EQ(link.score, 0.88);
  EXPECT_EQ(link.reasons, R"(["shared services"])");
  EXPECT_EQ(Count("SELECT count(*) FROM recurrence_links"), 1);

  // Read back through List: titles, times and `counted` from the view.
  v1::ListRecurrencesRequest request;
  absl::StatusOr<v1::ListRecurrencesResponse> listed =
      recurrences_->List(request);
  ASSERT_TRUE(listed.ok()) << listed.status();
  ASSERT_EQ(listed->links_size(), 1);
  const RecurrenceLink& read = listed->links(0);
  EXPECT_EQ(read.postmortem_id(), second);
  EXPECT_EQ(read.earlier_id(), first);
  EXPECT_EQ(read.source(), RecurrenceLink::AUTO);
  EXPECT_EQ(read.state(), RecurrenceLink::SUGGESTED);
  EXPECT_TRUE(read.counted()) << "suggested with a score >= 0.85";
  EXPECT_THAT(read.reasons(), ElementsAre("shared services"));
  EXPECT_EQ(read.title(), "Orders pool again");
  EXPECT_EQ(read.earlier_title(), "Orders pool exhausted");
  EXPECT_EQ(read.started_at().seconds(), kJan2024 + kDay);
  EXPECT_EQ(read.earlier_started_at().seconds(), kJan2024);
  EXPECT_GT(read.created_at().seconds(), 0);
  EXPECT_FALSE(read.has_decided_at());
}

TEST_F(PgRecurrenceStoreTest, WeakSuggestionsAreStoredButNotCounted) {
  const std::string first = SubmitAt("Orders pool exhausted", kJan2024);
  const std::string second = SubmitAt("Orders pool again", kJan2024 + kDay);
  ASSERT_TRUE(
      recurrences_->RecordSuggestions(second, {Suggestion(second, first, 0.72)})
          .ok());
  absl::StatusOr<v1::ListRecurrencesResponse> listed =
      recurrences_->List(v1::ListRecurrencesRequest());
  ASSERT_TRUE(listed.ok()) << listed.status();
  ASSERT_EQ(listed->links_size(), 1);
  EXPECT_FALSE(listed->links(0).counted());
}

TEST_F(PgRecurrenceStoreTest, ARejectedLinkNeverComesBack) {
  const std::string first = SubmitAt("Orders pool exhausted", kJan2024);
  const std::string second = SubmitAt("Orders pool again", kJan2024 + kDay);
  ASSERT_TRUE(
      recurrences_
          ->RecordSuggestions(second, {Suggestion(second, first, 0.9, {"a"})})
          .ok());
  absl::StatusOr<RecurrenceLink> rejected =
      recurrences_->Decide(Decision(second, first, "different root cause"),
                           RecurrenceLink::REJECTED);
  ASSERT_TRUE(rejected.ok()) << rejected.status();
  EXPECT_EQ(rejected->state(), RecurrenceLink::REJECTED);
  EXPECT_FALSE(rejected->counted());

  // Suggested again from either side, and not suggested (which would remove
  // a SUGGESTED link): it stays rejected, with its old score.
  ASSERT_TRUE(
      recurrences_
          ->RecordSuggestions(second, {Suggestion(second, first, 0.99, {"b"})})
          .ok());
  ASSERT_TRUE(
      recurrences_
          ->RecordSuggestions(first, {Suggestion(second, first, 0.99, {"b"})})
          .ok());
  ASSERT_TRUE(recurrences_->RecordSuggestions(second, {}).ok());
  const StoredLink link = Stored(second, first);
  ASSERT_TRUE(link.present);
  EXPECT_EQ(link.state, "REJECTED");
  EXPECT_DOUBLE_EQ(link.score, 0.9);
  EXPECT_EQ(link.reasons, R"(["a"])");
  // Nor does it come back the other way round.
  ASSERT_TRUE(
      recurrences_->RecordSuggestions(first, {Suggestion(first, second, 0.99)})
          .ok());
  EXPECT_FALSE(Stored(first, second).present);
}

TEST_F(PgRecurrenceStoreTest, AConfirmedLinkKeepsItsStateAndItsScoreRefreshes) {
  const std::string first = SubmitAt("Orders pool exhausted", kJan2024);
  const std::string second = SubmitAt("Orders pool again", kJan2024 + kDay);
  ASSERT_TRUE(
      recurrences_->RecordSuggestions(second, {Suggestion(second, first, 0.75)})
          .ok());
  ASSERT_TRUE(
      recurrences_->Decide(Decision(second, first), RecurrenceLink::CONFIRMED)
          .ok());
  ASSERT_TRUE(
      recurrences_
          ->RecordSuggestions(second, {Suggestion(second, first, 0.8, {"new"})})
          .ok());
  StoredLink link = Stored(second, first);
  EXPECT_EQ(link.state, "CONFIRMED");
  EXPECT_DOUBLE_EQ(link.score, 0.8);
  EXPECT_EQ(link.reasons, R"(["new"])");
  // No longer suggested: a person's confirmation stays.
  ASSERT_TRUE(recurrences_->RecordSuggestions(second, {}).ok());
  link = Stored(second, first);
  ASSERT_TRUE(link.present);
  EXPECT_EQ(link.state, "CONFIRMED");
}

TEST_F(PgRecurrenceStoreTest, ARepeatsSuggestionsNotFoundAgainAreRemoved) {
  const std::string a = SubmitAt("A", kJan2024);
  const std::string b = SubmitAt("B", kJan2024 + kDay);
  const std::string c = SubmitAt("C", kJan2024 + 2 * kDay);
  const std::string d = SubmitAt("D", kJan2024 + 3 * kDay);
  ASSERT_TRUE(
      recurrences_
          ->RecordSuggestions(c, {Suggestion(c, a, 0.9), Suggestion(c, b, 0.9),
                                  Suggestion(d, c, 0.9)})
          .ok());
  ASSERT_TRUE(recurrences_->RecordSuggestions(a, {Suggestion(b, a, 0.8)}).ok());
  // a's indexing (say an action item of a was closed) no longer finds c
  // among its best matches: c > a is c's own finding and stays; b > a
  // arrives.
  EXPECT_TRUE(Stored(c, a).present);
  EXPECT_TRUE(Stored(b, a).present);
  EXPECT_TRUE(Stored(c, b).present);
  EXPECT_TRUE(Stored(d, c).present);
  // c's indexing now finds only d: c's own links to a and b go, d > c
  // stays, b > a is not c's to remove.
  ASSERT_TRUE(recurrences_->RecordSuggestions(c, {Suggestion(d, c, 0.9)}).ok());
  EXPECT_FALSE(Stored(c, a).present);
  EXPECT_FALSE(Stored(c, b).present);
  EXPECT_TRUE(Stored(d, c).present);
  EXPECT_TRUE(Stored(b, a).present);
}

TEST_F(PgRecurrenceStoreTest, SuggestionsReversedByANewStartTimeReplaceTheOld) {
  const std::string a = SubmitAt("A", kJan2024);
  const std::string b = SubmitAt("B", kJan2024 + kDay);
  ASSERT_TRUE(recurrences_->RecordSuggestions(b, {Suggestion(b, a, 0.9)}).ok());
  ASSERT_TRUE(recurrences_->RecordSuggestions(b, {Suggestion(a, b, 0.9)}).ok());
  EXPECT_FALSE(Stored(b, a).present);
  EXPECT_TRUE(Stored(a, b).present);
}

TEST_F(PgRecurrenceStoreTest, LinksToDeletedOrMissingPostmortemsAreSkipped) {
  const std::string a = SubmitAt("A", kJan2024);
  const std::string b = SubmitAt("B", kJan2024 + kDay);
  const std::string c = SubmitAt("C", kJan2024 + 2 * kDay);
  ASSERT_TRUE(store_->Delete(a, 0, Soon()).ok());
  const std::string missing = "0b7e5a52-3c1d-4f7a-9a39-1f2e3d4c5b6a";
  ASSERT_TRUE(recurrences_
                  ->RecordSuggestions(
                      c, {Suggestion(c, a, 0.9), Suggestion(c, missing, 0.9),
                          Suggestion(c, b, 0.9)})
                  .ok());
  EXPECT_FALSE(Stored(c, a).present);
  EXPECT_FALSE(Stored(c, missing).present);
  EXPECT_TRUE(Stored(c, b).present);
  // Suggestions for a postmortem deleted since it was indexed: nothing to do.
  EXPECT_TRUE(recurrences_->RecordSuggestions(a, {Suggestion(b, a, 0.9)}).ok());
  EXPECT_FALSE(Stored(b, a).present);
}

TEST_F(PgRecurrenceStoreTest, MalformedSuggestionsAreInvalidArgument) {
  const std::string a = SubmitAt("A", kJan2024);
  const std::string b = SubmitAt("B", kJan2024 + kDay);
  const std::string c = SubmitAt("C", kJan2024 + 2 * kDay);
  EXPECT_EQ(recurrences_->RecordSuggestions("nope", {}).code(),
            absl::StatusCode::kInvalidArgument);
  absl::Status status =
      recurrences_->RecordSuggestions(a, {Suggestion(c, b, 0.9)});
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), HasSubstr("links[0]"));
  EXPECT_EQ(recurrences_->RecordSuggestions(a, {Suggestion(a, a, 0.9)}).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(recurrences_->RecordSuggestions(b, {Suggestion(b, a, 1.5)}).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Count("SELECT count(*) FROM recurrence_links"), 0);
}

TEST_F(PgRecurrenceStoreTest, RecurrenceOfBecomesDeclaredConfirmedLinks) {
  const std::string first = SubmitAt("Orders pool exhausted", kJan2024);
  const std::string later = SubmitAt("Later one", kJan2024 + 9 * kDay);
  const std::string gone = SubmitAt("Retracted", kJan2024 + kDay);
  ASSERT_TRUE(store_->Delete(gone, 0, Soon()).ok());
  v1::Postmortem draft = Draft("Orders pool again", kJan2024 + 5 * kDay);
  // Upper case is a UUID too; a later, a deleted and an unknown
  // postmortem get no link.
  draft.add_recurrence_of(absl::AsciiStrToUpper(first));
  draft.add_recurrence_of(later);
  draft.add_recurrence_of(gone);
  draft.add_recurrence_of("0b7e5a52-3c1d-4f7a-9a39-1f2e3d4c5b6a");
  const std::string repeat = Submit(draft).id();

  const StoredLink link = Stored(repeat, first);
  ASSERT_TRUE(link.present);
  EXPECT_EQ(link.source, "DECLARED");
  EXPECT_EQ(link.state, "CONFIRMED");
  EXPECT_DOUBLE_EQ(link.score, 1);
  EXPECT_EQ(Count("SELECT count(*) FROM recurrence_links"), 1);
  EXPECT_EQ(Count("SELECT count(*) FROM recurrences WHERE counted"), 1);
}

TEST_F(PgRecurrenceStoreTest, UpdatesKeepDeclaredLinksInStepWithRecurrenceOf) {
  const std::string a = SubmitAt("A", kJan2024);
  const std::string b = SubmitAt("B", kJan2024 + kDay);
  const std::string c = SubmitAt("C", kJan2024 + 2 * kDay);
  v1::Postmortem draft = Draft("D", kJan2024 + 3 * kDay);
  draft.add_recurrence_of(a);
  draft.add_recurrence_of(b);
  v1::Postmortem d = Submit(draft);
  // The indexer suggested d > c; a person confirmed d > b.
  ASSERT_TRUE(recurrences_
                  ->RecordSuggestions(d.id(), {Suggestion(d.id(), c, 0.8),
                                               Suggestion(d.id(), a, 0.9)})
                  .ok());
  ASSERT_TRUE(
      recurrences_->Decide(Decision(d.id(), b), RecurrenceLink::CONFIRMED)
          .ok());
  EXPECT_EQ(Stored(d.id(), a).source, "DECLARED") << "declared wins";
  EXPECT_DOUBLE_EQ(Stored(d.id(), a).score, 1);

  // Now d declares only c: its AUTO link is upgraded, a's declaration goes,
  // b's stays because a person decided it.
  d.clear_recurrence_of();
  d.add_recurrence_of(c);
  absl::StatusOr<v1::Postmortem> updated =
      store_->Update(d, d.version(), Soon());
  ASSERT_TRUE(updated.ok()) << updated.status();
  EXPECT_FALSE(Stored(d.id(), a).present);
  EXPECT_TRUE(Stored(d.id(), b).present);
  EXPECT_EQ(Stored(d.id(), b).state, "CONFIRMED");
  const StoredLink upgraded = Stored(d.id(), c);
  EXPECT_EQ(upgraded.source, "DECLARED");
  EXPECT_EQ(upgraded.state, "CONFIRMED");
  EXPECT_DOUBLE_EQ(upgraded.score, 1);

  // A rejected link is not brought back by declaring it.
  ASSERT_TRUE(
      recurrences_->Decide(Decision(d.id(), c), RecurrenceLink::REJECTED).ok());
  ASSERT_TRUE(store_->Update(*updated, updated->version(), Soon()).ok());
  EXPECT_EQ(Stored(d.id(), c).state, "REJECTED");
}

TEST_F(PgRecurrenceStoreTest, SignaturesAreWrittenWithThePostmortem) {
  const std::vector<std::string> lines = {
      "2024-01-01T10:00:00Z ERROR pq: remaining connection slots are reserved "
      "for non-replication superuser connections",
      "dial tcp 10.0.0.12:5432: connect: connection refused"};
  v1::Postmortem draft = Draft("Orders pool exhausted", kJan2024);
  for (const std::string& line : lines) draft.add_log_lines(line);
  v1::Postmortem written = Submit(draft);

  std::set<std::string> expected;
  for (const ErrorSignature& signature : SignaturesOf(lines)) {
    expected.insert(signature.id);
  }
  ASSERT_EQ(expected.size(), 2u);
  EXPECT_EQ(SignatureIds(written.id()), expected);
  EXPECT_EQ(SignaturesVersion(written.id()), 1);
  EXPECT_EQ(Count("SELECT count(*) FROM postmortem_signatures "
                  "WHERE example LIKE 'dial tcp <ip>%'"),
            1);

  // An update replaces them.
  written.clear_log_lines();
  written.add_log_lines("java.lang.OutOfMemoryError: Java heap space");
  ASSERT_TRUE(store_->Update(written, written.version(), Soon()).ok());
  EXPECT_EQ(
      SignatureIds(written.id()),
      std::set<std::string>(
          {SignatureOf("java.lang.OutOfMemoryError: Java heap space")->id}));
}

TEST_F(PgRecurrenceStoreTest, BackfillFillsInRowsWrittenBeforeSignatures) {
  v1::Postmortem draft = Draft("Orders pool exhausted", kJan2024);
  draft.add_log_lines("dial tcp 10.0.0.12:5432: connect: connection refused");
  draft.add_log_lines("dial tcp 10.0.0.99:5432: connect: connection refused");
  const std::string old_one = Submit(draft).id();
  const std::string none = SubmitAt("No log lines", kJan2024 + kDay);
  const std::string current = Submit(draft).id();
  const std::set<std::string> expected = SignatureIds(old_one);
  ASSERT_EQ(expected.size(), 1u) << "same error, two hosts";
  // As a row written before 0003 looks.
  Exec(absl::StrCat(
      "UPDATE postmortems SET signatures_version = 0 WHERE id IN ('", old_one,
      "', '", none,
      "'); DELETE FROM postmortem_signatures "
      "WHERE postmortem_id = '",
      old_one, "'"));

  absl::StatusOr<int64_t> filled = BackfillSignatures(connection_string(), 1);
  ASSERT_TRUE(filled.ok()) << filled.status();
  EXPECT_EQ(*filled, 2);
  EXPECT_EQ(SignatureIds(old_one), expected);
  EXPECT_EQ(SignaturesVersion(old_one), 1);
  EXPECT_EQ(SignaturesVersion(none), 1);
  EXPECT_THAT(SignatureIds(none), IsEmpty());
  EXPECT_EQ(SignatureIds(current), expected);

  // Idempotent, and ApplyMigrations runs it too.
  filled = BackfillSignatures(connection_string());
  ASSERT_TRUE(filled.ok()) << filled.status();
  EXPECT_EQ(*filled, 0);
  Exec(absl::StrCat(
      "UPDATE postmortems SET signatures_version = 0 WHERE id = '", current,
      "'; DELETE FROM postmortem_signatures WHERE postmortem_id = '", current,
      "'"));
  ASSERT_TRUE(ApplyMigrations(connection_string()).ok());
  EXPECT_EQ(SignatureIds(current), expected);
  EXPECT_EQ(Count("SELECT count(*) FROM postmortems "
                  "WHERE signatures_version = 0"),
            0);
}

TEST_F(PgRecurrenceStoreTest, ListPagesNewestRepeatFirstAndFilters) {
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) {
    ids.push_back(SubmitAt(absl::StrCat("P", i), kJan2024 + i * kDay));
  }
  // 1>0, 2>0, 3>1, 4>0, 4>3
  ASSERT_TRUE(recurrences_
                  ->RecordSuggestions(ids[0], {Suggestion(ids[1], ids[0], 0.9),
                                               Suggestion(ids[2], ids[0], 0.9),
                                               Suggestion(ids[4], ids[0], 0.9)})
                  .ok());
  ASSERT_TRUE(recurrences_
                  ->RecordSuggestions(ids[3], {Suggestion(ids[3], ids[1], 0.9),
                                               Suggestion(ids[4], ids[3], 0.9)})
                  .ok());
  ASSERT_TRUE(
      recurrences_->Decide(Decision(ids[2], ids[0]), RecurrenceLink::REJECTED)
          .ok());

  // Every link, two per page, newest repeat first.
  std::vector<std::string> all;
  v1::ListRecurrencesRequest request;
  request.set_page_size(2);
  int pages = 0;
  do {
    absl::StatusOr<v1::ListRecurrencesResponse> page =
        recurrences_->List(request);
    ASSERT_TRUE(page.ok()) << page.status();
    ++pages;
    for (const RecurrenceLink& link : page->links()) {
      all.push_back(Pair(link.postmortem_id(), link.earlier_id()));
    }
    request.set_page_token(page->next_page_token());
  } while (!request.page_token().empty() && pages < 10);
  EXPECT_EQ(pages, 3);
  ASSERT_EQ(all.size(), 5u);
  EXPECT_THAT(std::vector<std::string>(all.begin(), all.begin() + 2),
              UnorderedElementsAre(Pair(ids[4], ids[0]), Pair(ids[4], ids[3])));
  EXPECT_EQ(all[2], Pair(ids[3], ids[1]));
  EXPECT_EQ(all[3], Pair(ids[2], ids[0]));
  EXPECT_EQ(all[4], Pair(ids[1], ids[0]));

  // Either side of one postmortem.
  v1::ListRecurrencesRequest of_three;
  of_three.set_postmortem_id(ids[3]);
  EXPECT_THAT(ListedPairs(of_three),
              ElementsAre(Pair(ids[4], ids[3]), Pair(ids[3], ids[1])));
  // By state.
  v1::ListRecurrencesRequest rejected;
  rejected.add_states(RecurrenceLink::REJECTED);
  EXPECT_THAT(ListedPairs(rejected), ElementsAre(Pair(ids[2], ids[0])));
  v1::ListRecurrencesRequest of_zero_suggested;
  of_zero_suggested.set_postmortem_id(absl::AsciiStrToUpper(ids[0]));
  of_zero_suggested.add_states(RecurrenceLink::SUGGESTED);
  of_zero_suggested.add_states(RecurrenceLink::CONFIRMED);
  EXPECT_THAT(ListedPairs(of_zero_suggested),
              ElementsAre(Pair(ids[4], ids[0]), Pair(ids[1], ids[0])));

  // A deleted postmortem's links are hidden.
  ASSERT_TRUE(store_->Delete(ids[4], 0, Soon()).ok());
  EXPECT_EQ(ListedPairs(v1::ListRecurrencesRequest()).size(), 3u);
}

TEST_F(PgRecurrenceStoreTest, ListRejectsBadTokensAndUnknownPostmortems) {
  v1::ListRecurrencesRequest bad_token;
  bad_token.set_page_token("not a token");
  EXPECT_EQ(recurrences_->List(bad_token).status().code(),
            absl::StatusCode::kInvalidArgument);
  v1::ListRecurrencesRequest unknown;
  unknown.set_postmortem_id("0b7e5a52-3c1d-4f7a-9a39-1f2e3d4c5b6a");
  absl::Status status = recurrences_->List(unknown).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(status.message()),
              HasSubstr("0b7e5a52-3c1d-4f7a-9a39-1f2e3d4c5b6a"));
}

TEST_F(PgRecurrenceStoreTest, DecideAnUnknownLinkIsNotFoundNamingThePair) {
  const std::string a = SubmitAt("A", kJan2024);
  const std::string b = SubmitAt("B", kJan2024 + kDay);
  absl::StatusOr<RecurrenceLink> decided =
      recurrences_->Decide(Decision(b, a), RecurrenceLink::CONFIRMED);
  EXPECT_EQ(decided.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(decided.status().message()), HasSubstr(a));
  EXPECT_THAT(std::string(decided.status().message()), HasSubstr(b));

  // The other way round: the message says so.
  ASSERT_TRUE(recurrences_->RecordSuggestions(b, {Suggestion(b, a, 0.9)}).ok());
  decided = recurrences_->Decide(Decision(a, b), RecurrenceLink::CONFIRMED);
  EXPECT_EQ(decided.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(decided.status().message()),
              HasSubstr("other way round"));

  // A link whose postmortem is deleted is gone for deciding too.
  ASSERT_TRUE(store_->Delete(b, 0, Soon()).ok());
  EXPECT_EQ(recurrences_->Decide(Decision(b, a), RecurrenceLink::CONFIRMED)
                .status()
                .code(),
            absl::StatusCode::kNotFound);
}

TEST_F(PgRecurrenceStoreTest, DecidingTwiceChangesNothing) {
  const std::string a = SubmitAt("A", kJan2024);
  const std::string b = SubmitAt("B", kJan2024 + kDay);
  ASSERT_TRUE(recurrences_->RecordSuggestions(b, {Suggestion(b, a, 0.7)}).ok());
  absl::StatusOr<RecurrenceLink> first = recurrences_->Decide(
      Decision(b, a, "same job again"), RecurrenceLink::CONFIRMED);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->state(), RecurrenceLink::CONFIRMED);
  EXPECT_EQ(first->decided_by(), "orders-oncall");
  EXPECT_EQ(first->note(), "same job again");
  EXPECT_TRUE(first->has_decided_at());
  EXPECT_TRUE(first->counted()) << "confirmed counts below 0.85 too";
  absl::SleepFor(absl::Milliseconds(5));
  absl::StatusOr<RecurrenceLink> again = recurrences_->Decide(
      Decision(b, a, "same job again"), RecurrenceLink::CONFIRMED);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->SerializeAsString(), first->SerializeAsString());

  // A person may change their mind.
  absl::StatusOr<RecurrenceLink> rejected = recurrences_->Decide(
      Decision(b, a, "no, another job"), RecurrenceLink::REJECTED);
  ASSERT_TRUE(rejected.ok()) << rejected.status();
  EXPECT_EQ(rejected->state(), RecurrenceLink::REJECTED);
  EXPECT_EQ(rejected->note(), "no, another job");
}

}  // namespace
}  // namespace deja
