#include "indexer/document_builder.h"

#include <stdlib.h>
#include <xapian.h>

#include <filesystem>
#include <set>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "core/error_signature.h"
#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"
#include "indexer/index_schema.h"

namespace deja::index {
namespace {

using ::testing::Contains;
using ::testing::Gt;
using ::testing::Not;

v1::Postmortem Parse(const std::string& text) {
  v1::Postmortem postmortem;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &postmortem))
      << text;
  return postmortem;
}

int64_t UnixOf(int y, int m, int d) {
  return absl::ToUnixSeconds(
      absl::FromCivil(absl::CivilDay(y, m, d), absl::UTCTimeZone()));
}

v1::Postmortem SamplePostmortem() {
  v1::Postmortem postmortem = Parse(R"pb(
    id: "2b7c0c1e-0000-4000-8000-000000000001"
    version: 7
    team: "Payments"
    title: "Checkout outage: orders-db connection pool exhausted"
    summary: "Checkout returned 503 errors for forty minutes."
    severity: SEV2
    services: "orders-db"
    services: "Checkout-API"
    tags: "Postgres"
    impact { description: "Customers could not pay" }
    detection { source: ALERT description: "Latency alert paged on-call" }
    timeline { description: "Failover started" }
    whys { question: "Why did the pool fill?" answer: "Slow migration" }
    root_causes {
      category: CONFIG_CHANGE
      description: "A pgbouncer setting halved the pool size"
    }
    contributing_factors: "No canary for config"
    resolution: "Reverted the pgbouncer config"
    mitigation_steps: "Restarted the checkout pods"
    action_items {
      id: "a1"
      description: "Add a canary"
      owner: "sre-team"
      due_date: "2024-04-01"
      status: OPEN
      kind: PREVENT
    }
    action_items {
      id: "a2"
      description: "Alert on pool saturation"
      owner: "payments"
      due_date: "2024-03-01"
      status: DONE
    }
    lessons { went_well: "Rollback was quick" }
    log_lines: "2024-03-14T10:00:01Z ERROR pq: sorry, too many clients already"
    narrative: "A long write-up mentioning kubernetes scheduling."
    external_id: "ext:1"
    source_url: "https://example.com/pm/1"
  )pb");
  postmortem.mutable_started_at()->set_seconds(UnixOf(2024, 3, 14) + 36000);
  postmortem.mutable_detected_at()->set_seconds(UnixOf(2024, 3, 14) + 36300);
  postmortem.mutable_resolved_at()->set_seconds(UnixOf(2024, 3, 14) + 38400);
  return postmortem;
}

// A glass database in a fresh temp dir (the in-memory backend keeps no
// spelling data), removed at the end of the test.
class TempDatabase {
 public:
  TempDatabase() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "deja-doc-XXXXXX").string();
    path_ = mkdtemp(pattern.data());
    db_ = Xapian::WritableDatabase(path_ + "/db", Xapian::DB_CREATE);
  }
  ~TempDatabase() {
    db_.close();
    std::filesystem::remove_all(path_);
  }
  Xapian::WritableDatabase& db() { return db_; }

 private:
  std::string path_;
  Xapian::WritableDatabase db_;
};

std::set<std::string> TermsOf(const Xapian::Document& document) {
  std::set<std::string> terms;
  for (auto it = document.termlist_begin(); it != document.termlist_end();
       ++it) {
    terms.insert(*it);
  }
  return terms;
}

Xapian::termcount WdfOf(const Xapian::Document& document,
                        const std::string& term) {
  Xapian::TermIterator it = document.termlist_begin();
  it.skip_to(term);
  if (it == document.termlist_end() || *it != term) return 0;
  return it.get_wdf();
}

TEST(DocumentBuilderTest, BooleanTermsFollowTheSchema) {
  const v1::Postmortem postmortem = SamplePostmortem();
  const Xapian::Document document = BuildDocument(postmortem);
  const std::set<std::string> terms = TermsOf(document);
  EXPECT_THAT(terms, Contains(IdTerm(postmortem.id())));
  EXPECT_EQ(IdTerm("abc"), "Qabc");
  EXPECT_THAT(terms, Contains("XTEAMpayments"));
  EXPECT_THAT(terms, Contains("XSVCorders-db"));
  EXPECT_THAT(terms, Contains("XSVCcheckout-api"));
  EXPECT_THAT(terms, Contains("Kpostgres"));
  EXPECT_THAT(terms, Contains("XSEV2"));
  EXPECT_THAT(terms, Contains("XCATconfig_change"));
  EXPECT_THAT(terms, Contains("XY2024"));
  EXPECT_THAT(terms, Contains("XM202403"));
  const auto signature = SignatureOf(postmortem.log_lines(0));
  ASSERT_TRUE(signature.has_value());
  EXPECT_THAT(terms, Contains(absl::StrCat("XSIG", signature->id)));
  // Boolean terms carry no weight.
  EXPECT_EQ(WdfOf(document, "XSVCorders-db"), 0u);
}

TEST(DocumentBuilderTest, FreeTextIsPrefixedAndUnprefixed) {
  const Xapian::Document document = BuildDocument(SamplePostmortem());
  const std::set<std::string> terms = TermsOf(document);
  // Field prefix, unprefixed, and the stemmed Z forms of both.
  EXPECT_THAT(terms, Contains("Scheckout"));
  EXPECT_THAT(terms, Contains("checkout"));
  EXPECT_THAT(terms, Contains("ZSexhaust"));
  // Capitalised words are stemmed too ("Checkout" starts the title).
  EXPECT_THAT(terms, Contains("ZScheckout"));
  EXPECT_THAT(terms, Contains("Zcheckout"));
  EXPECT_THAT(terms, Contains("Zexhaust"));
  EXPECT_THAT(terms, Contains("XSforty"));
  EXPECT_THAT(terms, Contains("XIcustomers"));
  EXPECT_THAT(terms, Contains("XDlatency"));
  EXPECT_THAT(terms, Contains("XTfailover"));
  EXPECT_THAT(terms, Contains("XWmigration"));
  EXPECT_THAT(terms, Contains("XCpgbouncer"));
  EXPECT_THAT(terms, Contains("XFcanary"));
  EXPECT_THAT(terms, Contains("XRreverted"));
  EXPECT_THAT(terms, Contains("XRrestarted"));
  EXPECT_THAT(terms, Contains("XAsaturation"));
  EXPECT_THAT(terms, Contains("XOsre"));
  EXPECT_THAT(terms, Contains("XLrollback"));
  EXPECT_THAT(terms, Contains("XGclients"));
  EXPECT_THAT(terms, Contains("XNkubernetes"));
  EXPECT_THAT(terms, Contains("kubernetes"));
}

TEST(DocumentBuilderTest, TitleAndRootCausesWeighMoreThanNarrative) {
  v1::Postmortem postmortem;
  postmortem.set_id("x");
  postmortem.set_title("resolver");
  postmortem.add_root_causes()->set_description("nameserver");
  postmortem.set_narrative("dnsmasq");
  const Xapian::Document document = BuildDocument(postmortem);
  const Xapian::termcount narrative = WdfOf(document, "dnsmasq");
  EXPECT_THAT(narrative, Gt(0u));
  EXPECT_THAT(WdfOf(document, "resolver"), Gt(narrative));
  EXPECT_THAT(WdfOf(document, "nameserver"), Gt(narrative));
}

TEST(DocumentBuilderTest, ValuesAndData) {
  const v1::Postmortem postmortem = SamplePostmortem();
  const Xapian::Document document = BuildDocument(postmortem);
  EXPECT_EQ(Xapian::sortable_unserialise(document.get_value(kStartedAtSlot)),
            static_cast<double>(postmortem.started_at().seconds()));
  EXPECT_EQ(Xapian::sortable_unserialise(document.get_value(kSeveritySlot)),
            2.0);
  EXPECT_EQ(VersionOf(document), 7);
  EXPECT_EQ(VersionOf(Xapian::Document()), 0);

  v1::IncidentSummary summary;
  ASSERT_TRUE(summary.ParseFromString(document.get_data()));
  EXPECT_EQ(summary.id(), postmortem.id());
  EXPECT_EQ(summary.title(), postmortem.title());
  EXPECT_EQ(summary.version(), 7);
  EXPECT_EQ(summary.time_to_detect_seconds(), 300);
  EXPECT_EQ(summary.time_to_resolve_seconds(), 2400);
  EXPECT_EQ(summary.services_size(), 2);
  EXPECT_EQ(summary.root_causes(0).category(), v1::RootCause::CONFIG_CHANGE);
  EXPECT_EQ(summary.mitigation_steps(0), "Restarted the checkout pods");
  EXPECT_EQ(summary.source_url(), "https://example.com/pm/1");
  ASSERT_EQ(summary.action_items_size(), 2);
  EXPECT_TRUE(summary.action_items(0).open());
  EXPECT_FALSE(summary.action_items(1).open());
  EXPECT_FALSE(summary.action_items(0).overdue());
}

TEST(DocumentBuilderTest, SummaryIsCutAtAWordInValidUtf8) {
  v1::Postmortem postmortem;
  std::string text;
  while (text.size() < 700) text += "d\xC3\xA9j\xC3\xA0 vu ";  // "déjà vu "
  postmortem.set_summary(text);
  const std::string summary = SummaryOf(postmortem).summary();
  EXPECT_LE(summary.size(), 600u);
  EXPECT_GT(summary.size(), 500u);
  EXPECT_TRUE(absl::EndsWith(summary, "vu\xE2\x80\xA6") ||
              absl::EndsWith(summary, "d\xC3\xA9j\xC3\xA0\xE2\x80\xA6"))
      << summary;
  // A proto string must be valid UTF-8 to serialize.
  v1::IncidentSummary round_trip;
  round_trip.set_summary(summary);
  std::string bytes;
  ASSERT_TRUE(round_trip.SerializeToString(&bytes));

  // One huge word: cut inside it, still on a character boundary.
  std::string word;
  while (word.size() < 700) word += "\xC3\xA9";
  postmortem.set_summary(word);
  const std::string cut = SummaryOf(postmortem).summary();
  EXPECT_LE(cut.size(), 600u);
  EXPECT_EQ(cut.size() % 2, 1u);  // 2-byte characters + a 3-byte ellipsis

  postmortem.set_summary("short");
  EXPECT_EQ(SummaryOf(postmortem).summary(), "short");
}

TEST(DocumentBuilderTest, MarkOverdueComparesDueDateWithTodayUtc) {
  v1::IncidentSummary summary = SummaryOf(SamplePostmortem());
  // a1 (OPEN) is due 2024-04-01, a2 (DONE) 2024-03-01.
  MarkOverdue(summary, UnixOf(2024, 4, 1) + 86399);
  EXPECT_FALSE(summary.action_items(0).overdue());  // due today: not yet
  MarkOverdue(summary, UnixOf(2024, 4, 2));
  EXPECT_TRUE(summary.action_items(0).overdue());
  EXPECT_FALSE(summary.action_items(1).overdue());  // done
  v1::ActionItemSummary* undated = summary.add_action_items();
  undated->set_open(true);
  MarkOverdue(summary, UnixOf(2030, 1, 1));
  EXPECT_FALSE(summary.action_items(2).overdue());
}

TEST(DocumentBuilderTest, LongTermsNeverThrow) {
  v1::Postmortem postmortem;
  postmortem.set_id("long");
  const std::string huge(1000, 'a');
  postmortem.set_title(huge + " outage");
  postmortem.set_narrative(huge);
  postmortem.add_log_lines(huge);
  postmortem.add_services(huge);
  postmortem.add_tags(huge);
  postmortem.set_team(huge);
  TempDatabase temp;
  Xapian::WritableDatabase& db = temp.db();
  Xapian::Document document;
  ASSERT_NO_THROW(document = BuildDocument(postmortem, &db));
  for (const std::string& term : TermsOf(document)) {
    EXPECT_LE(term.size(), 245u);
  }
  EXPECT_THAT(TermsOf(document), Contains("Soutage"));
  ASSERT_NO_THROW(db.replace_document(IdTerm("long"), document));
  ASSERT_NO_THROW(db.commit());
}

TEST(DocumentBuilderTest, SpellingDataOnlyWithADatabase) {
  TempDatabase temp;
  Xapian::WritableDatabase& db = temp.db();
  db.replace_document(IdTerm("a"), BuildDocument(SamplePostmortem(), &db));
  db.commit();
  EXPECT_EQ(db.get_spelling_suggestion("pgbouncr"), "pgbouncer");

  TempDatabase other_temp;
  Xapian::WritableDatabase& other = other_temp.db();
  other.replace_document(IdTerm("a"), BuildDocument(SamplePostmortem()));
  other.commit();
  EXPECT_EQ(other.get_spelling_suggestion("pgbouncr"), "");
  // Prefixed terms are not spelling words.
  EXPECT_THAT(db.get_spelling_suggestion("XCpgbouncr"),
              Not(::testing::HasSubstr("XC")));
}

TEST(DocumentBuilderTest, LogLinesAddNoSpellingWords) {
  TempDatabase temp;
  Xapian::WritableDatabase& db = temp.db();
  v1::Postmortem postmortem = SamplePostmortem();
  postmortem.clear_log_lines();
  postmortem.add_log_lines(
      "kafkabrokr0 quarantined partitionz after fsyncgate");
  db.replace_document(IdTerm("a"), BuildDocument(postmortem, &db));
  db.commit();
  // Searchable, as log text...
  EXPECT_GT(db.get_termfreq("quarantined"), 0u);
  // ...but not offered as the correction of a word (log lines are mostly
  // identifiers), while the prose still is.
  for (Xapian::TermIterator it = db.spellings_begin(); it != db.spellings_end();
       ++it) {
    EXPECT_NE(*it, "quarantined");
    EXPECT_NE(*it, "kafkabrokr0");
  }
  EXPECT_EQ(db.get_spelling_suggestion("pgbouncr"), "pgbouncer");
}

}  // namespace
}  // namespace deja::index
