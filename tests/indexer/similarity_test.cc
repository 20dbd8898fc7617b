#include "indexer/similarity.h"

#include <xapian.h>

#include <limits>
#include <random>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"
#include "indexer/document_builder.h"

namespace deja::index {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::Not;
using ::testing::UnorderedElementsAre;

int64_t UnixOf(int y, int m, int d) {
  return absl::ToUnixSeconds(
      absl::FromCivil(absl::CivilDay(y, m, d), absl::UTCTimeZone()));
}

class SimilarityTest : public ::testing::Test {
 protected:
  SimilarityTest() : db_(std::string(), Xapian::DB_BACKEND_INMEMORY) {
    Add(R"pb(
          id: "dns"
          title: "Checkout failing: DNS resolver timeouts in the payments cluster"
          summary: "Pods could not resolve the database host; checkout "
                   "requests failed with lookup errors."
          services: "checkout"
          services: "coredns"
          root_causes {
            category: CONFIG_CHANGE
            description: "A CoreDNS config change dropped the upstream "
                         "forwarders."
          }
          resolution: "Restored the forwarders"
          log_lines: "2023-05-02T10:11:12Z dial tcp: lookup orders-db.svc on "
                     "10.0.0.10:53: server misbehaving"
          action_items {
            id: "a1"
            description: "Alert on resolver errors"
            owner: "sre"
            due_date: "2023-06-01"
            status: OPEN
          }
          action_items {
            id: "a2"
            description: "Lint CoreDNS config"
            owner: "platform"
            due_date: "2030-01-01"
            status: IN_PROGRESS
          }
          action_items {
            id: "a3"
            description: "Runbook"
            owner: "sre"
            due_date: "2023-05-10"
            status: DONE
          }
        )pb",
        UnixOf(2023, 5, 2));
    Add(R"pb(
          id: "oom"
          title: "Search workers OOMKilled after index growth"
          summary: "The search pods ran out of memory and restarted in a loop."
          services: "search"
          root_causes {
            category: CAPACITY
            description: "Heap limits were not raised with the index size."
          }
        )pb",
        UnixOf(2023, 8, 20));
    Add(R"pb(
          id: "cert"
          title: "Expired TLS certificate on the public API"
          summary: "Clients failed the TLS handshake for two hours after the "
                   "certificate expired."
          services: "api-gateway"
          root_causes {
            category: PROCESS
            description: "Manual renewal was forgotten."
          }
        )pb",
        UnixOf(2024, 1, 15));
    Add(R"pb(
          id: "cert-again"
          title: "API certificate expired again"
          summary: "The public API certificate expired and clients saw TLS "
                   "handshake failures."
          services: "api-gateway"
          root_causes {
            category: PROCESS
            description: "Renewal automation was never finished."
          }
        )pb",
        UnixOf(2024, 9, 1));
    Add(R"pb(
          id: "disk"
          title: "Log volume filled the disk on the billing batch host"
          summary: "Nightly billing stopped when the disk filled with logs."
          services: "billing"
        )pb",
        UnixOf(2022, 2, 1));
    db_.commit();
  }

  void Add(const std::string& text, int64_t started_at) {
    v1::Postmortem postmortem;
    ASSERT_TRUE(
        google::protobuf::TextFormat::ParseFromString(text, &postmortem));
    postmortem.set_version(1);
    postmortem.mutable_started_at()->set_seconds(started_at);
    db_.replace_document(IdTerm(postmortem.id()), BuildDocument(postmortem));
  }

  v1::FindSimilarResponse Find(const v1::FindSimilarRequest& request) {
    absl::StatusOr<v1::FindSimilarResponse> response =
        RunFindSimilar(db_, request, UnixOf(2025, 1, 1));
    EXPECT_TRUE(response.ok()) << response.status();
    return response.ok() ? *response : v1::FindSimilarResponse();
  }

  static std::vector<std::string> Ids(const v1::FindSimilarResponse& response) {
    std::vector<std::string> ids;
    for (const auto& incident : response.incidents()) {
      ids.push_back(incident.incident().id());
    }
    return ids;
  }

  static std::vector<std::string> FieldTerms(
      const v1::SimilarIncident& incident, const std::string& field) {
    for (const v1::FieldMatch& match : incident.matched_terms()) {
      if (match.field() == field) {
        return {match.terms().begin(), match.terms().end()};
      }
    }
    return {};
  }

  Xapian::WritableDatabase db_;
};

TEST_F(SimilarityTest, SharedErrorSignatureFromAnotherHostRanksFirst) {
  v1::FindSimilarRequest request;
  // Unrelated words; only the error line (other host, ip and day) links it.
  request.set_symptoms("orders page is slow for some customers");
  request.add_log_lines(
      "Jan 09 03:04:05 web-7 app[311]: dial tcp: lookup orders-db.svc on "
      "10.9.8.7:53: server misbehaving");
  const v1::FindSimilarResponse response = Find(request);
  ASSERT_FALSE(response.incidents().empty());
  const v1::SimilarIncident& best = response.incidents(0);
  EXPECT_EQ(best.incident().id(), "dns");
  ASSERT_EQ(best.shared_signatures_size(), 1);
  ASSERT_EQ(response.query_signatures_size(), 1);
  EXPECT_EQ(best.shared_signatures(0).id(), response.query_signatures(0).id());
  EXPECT_FALSE(best.shared_signatures(0).normalized().empty());
  EXPECT_EQ(best.verdict(), v1::SEEN_BEFORE);
  EXPECT_EQ(response.verdict(), v1::SEEN_BEFORE);
}

TEST_F(SimilarityTest, ReasonsAndSharedServices) {
  v1::FindSimilarRequest request;
  request.set_symptoms(
      "Checkout errors: the resolver times out looking up "
      "the database");
  request.add_services("CoreDNS");
  request.add_services("unrelated-svc");
  const v1::FindSimilarResponse response = Find(request);
  ASSERT_FALSE(response.incidents().empty());
  const v1::SimilarIncident& best = response.incidents(0);
  EXPECT_EQ(best.incident().id(), "dns");
  EXPECT_THAT(best.shared_services(), ElementsAre("CoreDNS"));
  // As written, grouped by field.
  EXPECT_THAT(FieldTerms(best, "title"), Contains("checkout"));
  EXPECT_THAT(FieldTerms(best, "title"), Contains("resolver"));
  EXPECT_THAT(FieldTerms(best, "summary"), Contains("database"));
  EXPECT_THAT(FieldTerms(best, "root_causes"), Not(Contains("checkout")));
  EXPECT_GT(best.score(), 0.0);
  EXPECT_LE(best.score(), 1.0);
}

TEST_F(SimilarityTest, SynonymsFindOtherWording) {
  v1::FindSimilarRequest request;
  request.set_symptoms("search pods oom");
  const v1::FindSimilarResponse response = Find(request);
  ASSERT_FALSE(response.incidents().empty());
  EXPECT_EQ(response.incidents(0).incident().id(), "oom");
  EXPECT_THAT(FieldTerms(response.incidents(0), "title"), Contains("oom"));
}

TEST_F(SimilarityTest, StartedBeforeExcludesLaterIncidents) {
  v1::FindSimilarRequest request;
  request.set_symptoms("public API certificate expired, TLS handshake fails");
  EXPECT_THAT(Ids(Find(request)), Contains("cert-again"));
  request.mutable_started_before()->set_seconds(UnixOf(2024, 9, 1));
  const std::vector<std::string> ids = Ids(Find(request));
  EXPECT_THAT(ids, Not(Contains("cert-again")));
  ASSERT_FALSE(ids.empty());
  EXPECT_EQ(ids[0], "cert");
}

TEST_F(SimilarityTest, MoreLikeThisExcludesItself) {
  v1::FindSimilarRequest request;
  request.set_postmortem_id("cert-again");
  const v1::FindSimilarResponse response = Find(request);
  const std::vector<std::string> ids = Ids(response);
  EXPECT_THAT(ids, Not(Contains("cert-again")));
  ASSERT_FALSE(ids.empty());
  EXPECT_EQ(ids[0], "cert");
  EXPECT_THAT(response.incidents(0).shared_services(),
              ElementsAre("api-gateway"));
  EXPECT_NE(response.verdict(), v1::NEW);
}

TEST_F(SimilarityTest, MoreLikeThisUnknownIdIsNotFound) {
  v1::FindSimilarRequest request;
  request.set_postmortem_id("nope");
  const absl::StatusOr<v1::FindSimilarResponse> response =
      RunFindSimilar(db_, request, UnixOf(2025, 1, 1));
  EXPECT_EQ(response.status().code(), absl::StatusCode::kNotFound);
}

TEST_F(SimilarityTest, UnrelatedQueryIsNew) {
  v1::FindSimilarRequest request;
  request.set_symptoms(
      "Marketing newsletter rendered with a broken font in one mail client; "
      "the images were stretched");
  const v1::FindSimilarResponse response = Find(request);
  EXPECT_EQ(response.verdict(), v1::NEW);
  for (const v1::SimilarIncident& incident : response.incidents()) {
    EXPECT_EQ(incident.verdict(), v1::NEW);
  }
}

TEST_F(SimilarityTest, OpenAndOverdueFixesAreFlagged) {
  v1::FindSimilarRequest request;
  request.set_symptoms("DNS resolver timeouts, checkout failing");
  request.set_limit(1);
  const v1::FindSimilarResponse response = Find(request);
  ASSERT_EQ(response.incidents_size(), 1);
  const v1::SimilarIncident& best = response.incidents(0);
  ASSERT_EQ(best.incident().id(), "dns");
  EXPECT_EQ(best.open_action_items(), 2);
  // a1 was due 2023-06-01 (past on 2025-01-01); a2 is due 2030; a3 is done.
  EXPECT_EQ(best.overdue_action_items(), 1);
  EXPECT_TRUE(best.incident().action_items(0).overdue());
  EXPECT_FALSE(best.incident().action_items(1).overdue());
  EXPECT_FALSE(best.incident().action_items(2).overdue());
}

TEST_F(SimilarityTest, FeedbackFindsReportsWordedLikeTheBestMatches) {
  // Shares no word with the request, only "renewal" with both certificate
  // reports that match it.
  Add(R"pb(
        id: "renewal-job"
        title: "Nightly renewal job skipped"
        summary: "The renewal job did not run; nobody noticed for a week."
        services: "scheduler"
      )pb",
      UnixOf(2024, 11, 1));
  db_.commit();
  v1::FindSimilarRequest request;
  request.set_symptoms("public API clients fail the TLS handshake");

  SimilarityOptions without_feedback;
  without_feedback.feedback_documents = 0;
  const absl::StatusOr<v1::FindSimilarResponse> plain =
      RunFindSimilar(db_, request, UnixOf(2025, 1, 1), without_feedback);
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_THAT(Ids(*plain), Not(Contains("renewal-job")));

  const v1::FindSimilarResponse expanded = Find(request);
  const std::vector<std::string> ids = Ids(expanded);
  EXPECT_THAT(ids, Contains("renewal-job"));
  // Fused with the first pass: the reports that match the words stay on top,
  // and the expansion alone does not make a match.
  ASSERT_GE(ids.size(), 3u);
  EXPECT_THAT(std::vector<std::string>(ids.begin(), ids.begin() + 2),
              UnorderedElementsAre("cert", "cert-again"));
  for (const v1::SimilarIncident& incident : expanded.incidents()) {
    if (incident.incident().id() == "renewal-job") {
      EXPECT_EQ(incident.verdict(), v1::NEW);
    }
  }
}

TEST_F(SimilarityTest, FeedbackVotesWithTheFieldsThatStateTheFailure) {
  // The two best matches share "dead letter" in their summaries and
  // "walrus" (their own story: a team, its dashboards) in their narratives.
  Add(R"pb(
        id: "queue-a"
        title: "Poison message wedged the order queue consumers"
        summary: "One malformed message crashed every consumer that picked "
                 "it up; no dead letter routing was configured."
        narrative: "The walrus team paged. The walrus dashboards and walrus "
                   "alerts lagged while the walrus on-call read logs."
      )pb",
      UnixOf(2024, 3, 1));
  Add(R"pb(
        id: "queue-b"
        title: "Order queue consumers crash looping on a bad message"
        summary: "A malformed message crashed the consumers again; dead "
                 "letter routing was still missing."
        narrative: "Walrus dashboards were red. The walrus team and the "
                   "walrus on-call rolled the walrus workers."
      )pb",
      UnixOf(2024, 6, 1));
  Add(R"pb(
        id: "dead-letter"
        title: "Dead letter routing dropped by a config rewrite"
        summary: "Rejected events vanished: the dead letter exchange was gone."
      )pb",
      UnixOf(2023, 1, 1));
  Add(R"pb(
        id: "walrus"
        title: "Walrus dashboards offline"
        summary: "The walrus team's dashboards were offline for an hour."
      )pb",
      UnixOf(2023, 2, 1));
  db_.commit();
  v1::FindSimilarRequest request;
  request.set_symptoms("order queue consumers crash on a malformed message");

  const std::vector<std::string> ids = Ids(Find(request));
  EXPECT_THAT(ids, Contains("dead-letter"));
  EXPECT_THAT(ids, Not(Contains("walrus")));

  SimilarityOptions whole_text;
  whole_text.feedback_from_short_fields = false;
  const absl::StatusOr<v1::FindSimilarResponse> drifted =
      RunFindSimilar(db_, request, UnixOf(2025, 1, 1), whole_text);
  ASSERT_TRUE(drifted.ok()) << drifted.status();
  EXPECT_THAT(Ids(*drifted), Contains("walrus"));
}

TEST_F(SimilarityTest, PhraseOnlySynonymIsWeighedByTheDocumentsHoldingIt) {
  // "replication lag" is in the table only as phrases; half the index says
  // it, so it is no evidence that one of them is the same incident.
  for (int i = 0; i < 6; ++i) {
    Add(absl::StrCat(
            R"pb(id: "lag-)pb", i, R"pb(" title: " Replica lag alert)pb", i,
            R"pb(" summary: " Replica lag grew in the batch window.")pb"),
        UnixOf(2023, 3, 1 + i));
  }
  db_.commit();
  v1::FindSimilarRequest request;
  request.set_symptoms("replication lag after the zookeeper quorum upgrade");

  const v1::FindSimilarResponse response = Find(request);
  ASSERT_FALSE(response.incidents().empty());
  EXPECT_THAT(response.incidents(0).incident().id(),
              ::testing::StartsWith("lag-"));
  EXPECT_LT(response.incidents(0).score(), 0.3);
  EXPECT_EQ(response.verdict(), v1::NEW);
}

// `count` distinct letters-only words no stemmer changes ("vx" + the digits
// of i as letters + "q").
std::vector<std::string> DistinctWords(int count) {
  std::vector<std::string> words;
  for (int i = 0; i < count; ++i) {
    std::string word = "vx";
    for (const char digit : std::to_string(i)) word += 'a' + (digit - '0');
    words.push_back(word + "q");
  }
  return words;
}

// Random lowercase words, `bytes` long in all.
std::string RandomWords(std::mt19937& random, size_t bytes) {
  std::uniform_int_distribution<int> letter('a', 'z');
  std::uniform_int_distribution<int> length(5, 9);
  std::string text;
  while (true) {
    std::string word = "zz";
    for (int n = length(random); n > 0; --n) word += letter(random);
    if (text.size() + word.size() + 1 > bytes) return text;
    absl::StrAppend(&text, word, " ");
  }
}

TEST_F(SimilarityTest, LongDescriptionUsesOnlyItsStrongestTerms) {
  const std::vector<std::string> words = DistinctWords(600);
  Add(absl::StrCat(R"pb(id: "wordy" title: "Wordy" narrative: ")pb",
                   absl::StrJoin(words, " "), R"pb(")pb"),
      UnixOf(2024, 2, 1));
  db_.commit();
  v1::FindSimilarRequest request;
  request.set_symptoms(absl::StrJoin(words, " "));

  const v1::FindSimilarResponse capped = Find(request);
  ASSERT_FALSE(capped.incidents().empty());
  EXPECT_EQ(capped.incidents(0).incident().id(), "wordy");
  // The reasons (and the query) use the 256 strongest terms, not all 600.
  EXPECT_EQ(FieldTerms(capped.incidents(0), "narrative").size(), 256u);

  SimilarityOptions uncapped;
  uncapped.max_query_terms = 1000;
  const absl::StatusOr<v1::FindSimilarResponse> all =
      RunFindSimilar(db_, request, UnixOf(2025, 1, 1), uncapped);
  ASSERT_TRUE(all.ok()) << all.status();
  ASSERT_FALSE(all->incidents().empty());
  EXPECT_EQ(FieldTerms(all->incidents(0), "narrative").size(), 600u);
}

TEST_F(SimilarityTest, ThousandsOfRandomWordsStillFindTheIncident) {
  // A request at the validation limits: 16 KiB of symptoms and 64 KiB of
  // log lines, thousands of distinct words no report holds.
  std::mt19937 random(7);
  v1::FindSimilarRequest request;
  const std::string symptoms =
      "public API certificate expired, TLS handshake fails. ";
  request.set_symptoms(
      absl::StrCat(symptoms, RandomWords(random, 16 * 1024 - symptoms.size())));
  for (int i = 0; i < 16; ++i) {
    request.add_log_lines(RandomWords(random, 4096));
  }
  request.set_limit(2);
  const std::vector<std::string> ids = Ids(Find(request));
  EXPECT_THAT(ids, UnorderedElementsAre("cert", "cert-again"));
}

TEST_F(SimilarityTest, EmptyIndexAnswersNew) {
  Xapian::WritableDatabase empty(std::string(), Xapian::DB_BACKEND_INMEMORY);
  v1::FindSimilarRequest request;
  request.set_symptoms("anything at all");
  const absl::StatusOr<v1::FindSimilarResponse> response =
      RunFindSimilar(empty, request, 0);
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->verdict(), v1::NEW);
  EXPECT_TRUE(response->incidents().empty());
}

// Words held by more than half of the documents find no candidates, but
// they still score the ones the other words find.
TEST_F(SimilarityTest, CommonWordsStillScoreTheCandidates) {
  // 21 of the 27 documents hold "degraded".
  for (int i = 0; i < 20; ++i) {
    Add(absl::StrCat("id: \"filler-", i,
                     "\" title: \"Degraded dashboards\" "
                     "summary: \"Everything degraded, nothing failed.\""),
        UnixOf(2024, 1, 1));
  }
  Add(R"pb(
        id: "zebra-once"
        title: "Zebra gateway stalled"
        summary: "The zebra gateway stalled under load."
      )pb",
      UnixOf(2024, 2, 1));
  Add(R"pb(
        id: "zebra-degraded"
        title: "Zebra gateway degraded"
        summary: "The zebra gateway degraded, degraded, degraded under load."
      )pb",
      UnixOf(2024, 2, 1));
  db_.commit();
  v1::FindSimilarRequest request;
  request.set_symptoms("zebra gateway degraded");
  const std::vector<std::string> ids = Ids(Find(request));
  ASSERT_GE(ids.size(), 2u);
  EXPECT_EQ(ids[0], "zebra-degraded");
  EXPECT_EQ(ids[1], "zebra-once");

  // Only common words: they are the search.
  request.set_symptoms("degraded");
  EXPECT_THAT(Ids(Find(request)), Contains("filler-0"));
}

// An expansion word held by more than feedback_max_share of the index (and
// by more than 50 documents) names no particular failure: it is not used;
// held by more than feedback_gap_max_share, it does not search by itself.
TEST_F(SimilarityTest, FeedbackLeavesOutWordsThatManyReportsHold) {
  Add(R"pb(
        id: "tls-a"
        title: "Quokka handshake failures after the edge rotation"
        summary: "Clients failed the quokka handshake at the edge."
      )pb",
      UnixOf(2024, 3, 1));
  Add(R"pb(
        id: "tls-b"
        title: "Quokka handshake failures at the edge again"
        summary: "The edge broke the quokka handshake once more."
      )pb",
      UnixOf(2024, 4, 1));
  // 80 reports hold "edge" (and nothing the request says).
  for (int i = 0; i < 80; ++i) {
    Add(absl::StrCat("id: \"edge-", i,
                     "\" title: \"Edge cache warming\" "
                     "summary: \"The edge cache was warmed by hand.\""),
        UnixOf(2024, 1, 1));
  }
  db_.commit();
  v1::FindSimilarRequest request;
  request.set_symptoms("quokka handshake failures");
  const auto edge_reports = [](const v1::FindSimilarResponse& response) {
    int count = 0;
    for (const std::string& id : Ids(response)) {
      count += id.rfind("edge-", 0) == 0 ? 1 : 0;
    }
    return count;
  };
  EXPECT_EQ(edge_reports(Find(request)), 0);

  SimilarityOptions every_word;
  every_word.feedback_max_share = 1;
  // Now it expands the description, but it is too common to search for
  // reports by itself (feedback_gap_max_share).
  absl::StatusOr<v1::FindSimilarResponse> expanded =
      RunFindSimilar(db_, request, UnixOf(2025, 1, 1), every_word);
  ASSERT_TRUE(expanded.ok()) << expanded.status();
  EXPECT_EQ(edge_reports(*expanded), 0);

  every_word.feedback_gap_max_share = 1;
  expanded = RunFindSimilar(db_, request, UnixOf(2025, 1, 1), every_word);
  ASSERT_TRUE(expanded.ok()) << expanded.status();
  EXPECT_GT(edge_reports(*expanded), 0);
}

// When the uncommon words' posting lists are long, titles and summaries
// find the candidates: a report naming the failure only in its body is not
// one of them while the headline finds enough.
TEST_F(SimilarityTest, LongPostingListsFindCandidatesInTitlesAndSummaries) {
  Add(R"pb(
        id: "yak-title"
        title: "Yak ledger stalled"
        narrative: "The night shift rotated the on-call pager, reviewed the "
                   "dashboards, filed the tickets, updated the runbook, "
                   "checked the queues and the caches and the replicas, "
                   "and handed over to the morning shift as usual."
      )pb",
      UnixOf(2024, 6, 1));
  Add(R"pb(
        id: "yak-body"
        title: "Nightly batch ran late"
        narrative: "Yak ledger stalled; yak ledger stalled; yak ledger "
                   "stalled; yak ledger stalled."
      )pb",
      UnixOf(2024, 6, 2));
  db_.commit();
  v1::FindSimilarRequest request;
  request.set_symptoms("yak ledger stalled");
  SimilarityOptions headline;
  headline.headline_above_postings = 0;
  headline.candidates = 1;
  headline.first_pass_candidates = 1;
  headline.feedback_documents = 0;
  // Scored by all text alone, where the body says it more.
  headline.title_summary_weight = 0;
  absl::StatusOr<v1::FindSimilarResponse> response =
      RunFindSimilar(db_, request, UnixOf(2025, 1, 1), headline);
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_THAT(Ids(*response), ElementsAre("yak-title"));

  // In all text (the default on an index this small) the body finds it.
  SimilarityOptions all_text = headline;
  all_text.headline_above_postings = std::numeric_limits<int>::max();
  response = RunFindSimilar(db_, request, UnixOf(2025, 1, 1), all_text);
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_THAT(Ids(*response), ElementsAre("yak-body"));
}

// When titles and summaries find fewer than the candidates wanted, all text
// finds them.
TEST_F(SimilarityTest, TooFewHeadlineMatchesSearchAllText) {
  Add(R"pb(
        id: "yak-title" title: "Yak ledger stalled"
      )pb",
      UnixOf(2024, 6, 1));
  Add(R"pb(
        id: "yak-body"
        title: "Nightly batch ran late"
        narrative: "The yak ledger stalled on the batch hosts."
      )pb",
      UnixOf(2024, 6, 2));
  db_.commit();
  v1::FindSimilarRequest request;
  request.set_symptoms("yak ledger stalled");
  SimilarityOptions headline;
  headline.headline_above_postings = 0;
  // The headline finds one of the two wanted.
  headline.candidates = 2;
  headline.first_pass_candidates = 2;
  headline.feedback_documents = 0;
  absl::StatusOr<v1::FindSimilarResponse> response =
      RunFindSimilar(db_, request, UnixOf(2025, 1, 1), headline);
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_THAT(Ids(*response), UnorderedElementsAre("yak-title", "yak-body"));
}

// A word that starts with a digit has no stemmed term: it is looked up as
// written.
TEST_F(SimilarityTest, WordsStartingWithADigitAreMatchedAsWritten) {
  Add(R"pb(
        id: "cart-404"
        title: "Cart pages answered 404 after the router change"
      )pb",
      UnixOf(2024, 5, 1));
  db_.commit();
  v1::FindSimilarRequest request;
  request.set_symptoms("404");
  const v1::FindSimilarResponse response = Find(request);
  EXPECT_THAT(Ids(response), Contains("cart-404"));
}

}  // namespace
}  // namespace deja::index
