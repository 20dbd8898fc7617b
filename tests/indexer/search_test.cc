#include "indexer/search.h"

#include <stdlib.h>
#include <xapian.h>

#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "core/error_signature.h"
#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"
#include "indexer/document_builder.h"
#include "indexer/facets.h"
#include "indexer/index_directory.h"
#include "indexer/index_schema.h"
#include "indexer/synonym_table.h"

namespace deja::index {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::StartsWith;
using ::testing::UnorderedElementsAre;

int64_t UnixOf(int y, int m, int d, int hour = 0, int minute = 0) {
  return absl::ToUnixSeconds(absl::FromCivil(
      absl::CivilMinute(y, m, d, hour, minute), absl::UTCTimeZone()));
}

const int64_t kNow = UnixOf(2025, 6, 1);

constexpr char kDnsLogLine[] =
    "dial tcp: lookup order-api.internal on 10.0.0.10:53: server misbehaving";

v1::Postmortem Parse(const std::string& text) {
  v1::Postmortem postmortem;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &postmortem))
      << text;
  return postmortem;
}

// Six postmortems; ids are short names so that the tests read.
std::vector<v1::Postmortem> Corpus() {
  std::vector<v1::Postmortem> corpus;
  corpus.push_back(Parse(R"pb(
    id: "dns"
    version: 1
    team: "Platform"
    title: "CoreDNS overload broke service discovery"
    summary: "Name lookups failed with SERVFAIL because the CoreDNS pods were overloaded by a retry storm <b>inside</b> the cluster."
    severity: SEV1
    services: "coredns"
    services: "Tracking-API"
    tags: "dns"
    root_causes {
      category: NETWORK
      description: "A retry storm from the tracking API overloaded CoreDNS"
    }
    action_items {
      id: "a1"
      description: "Cache lookups in the tracking API"
      owner: "alice"
      due_date: "2023-04-01"
      status: OPEN
    }
  )pb"));
  corpus.back().add_log_lines(kDnsLogLine);
  corpus.back().mutable_started_at()->set_seconds(UnixOf(2023, 3, 10));

  corpus.push_back(Parse(R"pb(
    id: "cert"
    version: 1
    team: "Edge"
    title: "Expired certificate on the edge proxy"
    summary: "Clients could not connect because the TLS certificate expired overnight."
    severity: SEV1
    services: "edge-proxy"
    tags: "tls"
    tags: "certificates"
    root_causes { category: PROCESS description: "Renewal was manual" }
    action_items {
      id: "a1"
      description: "Automate certificate renewal"
      owner: "bob"
      due_date: "2030-01-01"
      status: OPEN
    }
  )pb"));
  corpus.back().mutable_started_at()->set_seconds(UnixOf(2024, 2, 5));

  corpus.push_back(Parse(R"pb(
    id: "pool"
    version: 1
    team: "Orders"
    title: "Orders database refused connections"
    summary: "The orders database said too many clients already after a pgbouncer change halved the pool."
    severity: SEV2
    services: "orders-db"
    services: "checkout-api"
    tags: "postgres"
    root_causes {
      category: CONFIG_CHANGE
      description: "A pgbouncer setting halved the pool"
    }
    action_items {
      id: "a1"
      description: "Review pool settings"
      owner: "carol"
      due_date: "2024-08-01"
      status: DONE
    }
  )pb"));
  corpus.back().mutable_started_at()->set_seconds(UnixOf(2024, 7, 20));

  corpus.push_back(Parse(R"pb(
    id: "oom"
    version: 1
    team: "Routing"
    title: "Route planner pods OOMKilled"
    summary: "Route planner pods were killed for running out of memory during route consolidation."
    severity: SEV3
    services: "route-planner"
    tags: "kubernetes"
    tags: "memory"
    root_causes { category: CAPACITY description: "Memory limit too low" }
    root_causes { category: SOFTWARE_BUG description: "Consolidation leaks" }
  )pb"));
  // The last half hour of 2024: "..2024-12-31" must include it.
  corpus.back().mutable_started_at()->set_seconds(UnixOf(2024, 12, 31, 23, 30));

  corpus.push_back(Parse(R"pb(
    id: "kafka"
    version: 1
    team: "Notifications"
    title: "Kafka consumer group rebalance storm"
    summary: "Consumers were kicked out of the group and lag grew while the consumer group rebalanced."
    severity: SEV4
    services: "notifications-worker"
    tags: "kafka"
    root_causes { category: DEPENDENCY description: "Broker upgrade" }
  )pb"));
  corpus.back().mutable_started_at()->set_seconds(UnixOf(2025, 1, 15));

  corpus.push_back(Parse(R"pb(
    id: "crash"
    version: 1
    team: "routing"
    title: "Route planner crashed on an empty depot list"
    summary: "The route planner crashed when a depot had no vehicles."
    severity: SEV2
    services: "Route-Planner"
    root_causes { category: SOFTWARE_BUG description: "Unchecked empty list" }
  )pb"));
  corpus.back().mutable_started_at()->set_seconds(UnixOf(2023, 9, 1));
  return corpus;
}

// An index directory in a fresh temp dir with `current` pointing at a
// generation that holds `postmortems`; removed at the end of the test.
class TempIndex {
 public:
  explicit TempIndex(const std::vector<v1::Postmortem>& postmortems) {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "deja-search-XXXXXX")
            .string();
    dir_ = mkdtemp(pattern.data());
    const absl::StatusOr<std::string> generation = NewGeneration(dir_);
    EXPECT_TRUE(generation.ok()) << generation.status();
    {
      Xapian::WritableDatabase writer(*generation, Xapian::DB_CREATE);
      for (const v1::Postmortem& postmortem : postmortems) {
        writer.replace_document(IdTerm(postmortem.id()),
                                BuildDocument(postmortem, &writer));
      }
      InstallSynonyms(writer);
      writer.commit();
    }
    EXPECT_TRUE(SwapIn(dir_, *generation).ok());
    db_ = Xapian::Database(*CurrentIndexPath(dir_));
  }
  ~TempIndex() {
    db_.close();
    std::filesystem::remove_all(dir_);
  }
  const Xapian::Database& db() const { return db_; }

 private:
  std::string dir_;
  Xapian::Database db_;
};

class SearchTest : public ::testing::Test {
 protected:
  SearchTest() : index_(Corpus()) {}

  v1::SearchResponse Run(const v1::SearchRequest& request) {
    absl::StatusOr<v1::SearchResponse> response =
        RunSearch(index_.db(), request, kNow);
    EXPECT_TRUE(response.ok())
        << request.ShortDebugString() << ": " << response.status();
    return response.ok() ? *response : v1::SearchResponse();
  }

  v1::SearchResponse Run(const std::string& query) {
    v1::SearchRequest request;
    request.set_query(query);
    request.set_page_size(100);
    return Run(request);
  }

  // The ids the query finds, in no particular order.
  std::set<std::string> Found(const std::string& query) {
    std::set<std::string> ids;
    const v1::SearchResponse response = Run(query);
    for (const v1::SearchHit& hit : response.hits()) {
      ids.insert(hit.incident().id());
    }
    return ids;
  }

  absl::Status Error(const std::string& query) {
    v1::SearchRequest request;
    request.set_query(query);
    return RunSearch(index_.db(), request, kNow).status();
  }

  TempIndex index_;
};

std::vector<std::string> InOrder(const v1::SearchResponse& response) {
  std::vector<std::string> ids;
  for (const v1::SearchHit& hit : response.hits()) {
    ids.push_back(hit.incident().id());
  }
  return ids;
}

using Ids = std::set<std::string>;

TEST_F(SearchTest, PlainWordsFindTheirPostmortems) {
  EXPECT_EQ(Found("certificate"), Ids({"cert"}));
  // Stemming: "rebalancing" finds "rebalance"; capitals do not stop it.
  EXPECT_EQ(Found("rebalancing"), Ids({"kafka"}));
  EXPECT_EQ(Found("Certificates"), Ids({"cert"}));
  EXPECT_EQ(Found("zanzibar"), Ids());
}

TEST_F(SearchTest, JargonSynonymsFromTheIndexTable) {
  // Only the OOM postmortem's text says "oomkilled"; nothing says "oom".
  EXPECT_EQ(Found("oom"), Ids({"oom"}));
  EXPECT_EQ(Found("oom -route"), Ids());
}

TEST_F(SearchTest, FreeTextFieldPrefixes) {
  EXPECT_EQ(Found("title:certificate"), Ids({"cert"}));
  // "certificate" is in cert's summary too, but "overnight" only there.
  EXPECT_EQ(Found("title:overnight"), Ids());
  EXPECT_EQ(Found("summary:overnight"), Ids({"cert"}));
  EXPECT_EQ(Found("summary:servfail"), Ids({"dns"}));
  EXPECT_EQ(Found("cause:retry"), Ids({"dns"}));
  EXPECT_EQ(Found("retry"), Ids({"dns"}));
  EXPECT_EQ(Found("title:retry"), Ids());
  EXPECT_EQ(Found("owner:alice"), Ids({"dns"}));
  EXPECT_EQ(Found("owner:certificate"), Ids());
}

TEST_F(SearchTest, BooleanFieldPrefixesIgnoreCase) {
  EXPECT_EQ(Found("team:platform"), Ids({"dns"}));
  EXPECT_EQ(Found("team:PLATFORM"), Ids({"dns"}));
  EXPECT_EQ(Found("team:routing"), Ids({"oom", "crash"}));
  EXPECT_EQ(Found("service:route-planner"), Ids({"oom", "crash"}));
  EXPECT_EQ(Found("service:Tracking-API"), Ids({"dns"}));
  EXPECT_EQ(Found("tag:kafka"), Ids({"kafka"}));
  // Same field: either; different fields: both.
  EXPECT_EQ(Found("tag:kafka tag:tls"), Ids({"kafka", "cert"}));
  EXPECT_EQ(Found("team:routing tag:memory"), Ids({"oom"}));
  // A filter with words: the words rank within the filter.
  EXPECT_EQ(Found("crashed service:route-planner"), Ids({"crash"}));
}

TEST_F(SearchTest, SeverityAcceptsNumbersAndSevNames) {
  for (const std::string query :
       {"severity:1", "severity:sev1", "severity:SEV1", "severity:Sev1"}) {
    EXPECT_EQ(Found(query), Ids({"dns", "cert"})) << query;
  }
  EXPECT_EQ(Found("severity:2"), Ids({"pool", "crash"}));
  for (const std::string query :
       {"severity:7", "severity:sev0", "severity:high", "severity:11"}) {
    const absl::Status status = Error(query);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << query;
    EXPECT_THAT(std::string(status.message()), StartsWith("query: severity:"))
        << query;
  }
}

TEST_F(SearchTest, CategoryByRootCauseName) {
  EXPECT_EQ(Found("category:config_change"), Ids({"pool"}));
  EXPECT_EQ(Found("category:CONFIG_CHANGE"), Ids({"pool"}));
  EXPECT_EQ(Found("category:config-change"), Ids({"pool"}));
  EXPECT_EQ(Found("category:software_bug"), Ids({"oom", "crash"}));
  const absl::Status status = Error("category:gremlins");
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), HasSubstr("config_change"));
}

TEST_F(SearchTest, SignatureFindsTheErrorLine) {
  const std::optional<ErrorSignature> signature = SignatureOf(kDnsLogLine);
  ASSERT_TRUE(signature.has_value());
  EXPECT_EQ(Found("signature:" + signature->id), Ids({"dns"}));
  EXPECT_EQ(Found("signature:0000000000000000"), Ids());
}

TEST_F(SearchTest, StartedRanges) {
  // TO covers its whole day: oom started at 23:30 on 2024-12-31.
  EXPECT_EQ(Found("started:2024-01-01..2024-12-31"),
            Ids({"cert", "pool", "oom"}));
  EXPECT_EQ(Found("started:2024-01-01..2024-12-30"), Ids({"cert", "pool"}));
  EXPECT_EQ(Found("started:2025-01-01.."), Ids({"kafka"}));
  EXPECT_EQ(Found("started:..2023-12-31"), Ids({"dns", "crash"}));
  EXPECT_EQ(Found("started:2023-03-10..2023-03-10"), Ids({"dns"}));
  EXPECT_EQ(Found("route started:2024-01-01.."), Ids({"oom"}));
  for (const std::string query :
       {"started:2024-13-01..", "started:2024-02-30..2024-03-01",
        "started:yesterday..today", "started:2024..2025"}) {
    const absl::Status status = Error(query);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << query;
    EXPECT_THAT(std::string(status.message()), StartsWith("query: ")) << query;
  }
}

TEST_F(SearchTest, ReversedStartedRangeSaysSo) {
  const absl::Status status = Error("started:2024-01-01..2023-01-01");
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()),
              HasSubstr("ends before it starts"));
  EXPECT_THAT(std::string(status.message()), StartsWith("query: "));
  EXPECT_THAT(std::string(status.message()),
              Not(HasSubstr("nothing to search for")));
}

TEST_F(SearchTest, PhrasesKeepWordOrder) {
  EXPECT_EQ(Found("\"too many clients\""), Ids({"pool"}));
  EXPECT_EQ(Found("\"clients many too\""), Ids());
  EXPECT_EQ(Found("\"route planner\""), Ids({"oom", "crash"}));
}

TEST_F(SearchTest, MinusExcludes) {
  EXPECT_EQ(Found("route"), Ids({"oom", "crash"}));
  EXPECT_EQ(Found("route -consolidation"), Ids({"crash"}));
}

TEST_F(SearchTest, BooleanOperators) {
  EXPECT_EQ(Found("kafka OR certificate"), Ids({"kafka", "cert"}));
  EXPECT_EQ(Found("kafka AND certificate"), Ids());
  EXPECT_EQ(Found("route AND crashed"), Ids({"crash"}));
  EXPECT_EQ(Found("route NOT crashed"), Ids({"oom"}));
  EXPECT_EQ(Found("(kafka OR tls) AND consumers"), Ids({"kafka"}));
  // Lowercase operators are words, not operators.
  EXPECT_EQ(Found("kafka and certificate"), Ids({"kafka", "cert"}));
}

TEST_F(SearchTest, TrailingWildcard) {
  EXPECT_EQ(Found("consum*"), Ids({"kafka"}));
  EXPECT_EQ(Found("title:certif*"), Ids({"cert"}));
  for (const std::string query : {"*", "c*", "co*", "title:*"}) {
    const absl::Status status = Error(query);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << query;
    EXPECT_THAT(std::string(status.message()), StartsWith("query: ")) << query;
  }
}

TEST_F(SearchTest, StarInABooleanFilterValueIsLiteral) {
  // Not a wildcard there: no "needs 3 letters" error, and no expansion.
  for (const std::string query :
       {"service:ab*", "tag:dn*", "(team:p*)", "route -team:p*"}) {
    const absl::Status status = Error(query);
    EXPECT_TRUE(status.ok()) << query << ": " << status;
  }
  EXPECT_EQ(Found("tag:dn*"), Ids());
  EXPECT_EQ(Found("tag:dns"), Ids({"dns"}));
  // Free text keeps the rule.
  EXPECT_EQ(Error("route co*").code(), absl::StatusCode::kInvalidArgument);
}

TEST(SearchWildcardTest, ExpansionIsBounded) {
  std::vector<v1::Postmortem> many;
  for (int i = 0; i < 100; ++i) {
    v1::Postmortem& postmortem = many.emplace_back();
    postmortem.set_id(absl::StrCat("pm", i));
    postmortem.set_version(1);
    postmortem.set_title(absl::StrCat("zeta", 1000 + i, " failure"));
  }
  TempIndex index(many);
  v1::SearchRequest request;
  request.set_query("zeta*");
  const absl::StatusOr<v1::SearchResponse> response =
      RunSearch(index.db(), request, kNow);
  ASSERT_TRUE(response.ok()) << response.status();
  // 100 words start with "zeta"; the query uses the 64 most frequent.
  EXPECT_EQ(response->total_matches(), 64);
  request.set_query("failure");
  EXPECT_EQ(RunSearch(index.db(), request, kNow)->total_matches(), 100);
}

TEST_F(SearchTest, MalformedQueriesAreInvalidArgument) {
  for (const std::string query :
       {"foo AND", "((((", "NOT foo", "foo OR", "AND", "*"}) {
    const absl::Status status = Error(query);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << query;
    EXPECT_THAT(std::string(status.message()), StartsWith("query: ")) << query;
  }
}

TEST_F(SearchTest, DotsAndPunctuationInTextAreNotRanges) {
  EXPECT_EQ(Found("pool halved... then pgbouncer"), Ids({"pool"}));
  EXPECT_EQ(Found("lookup 10.0.0.10:53"), Ids({"dns"}));
  EXPECT_EQ(Found("order-api.internal"), Ids({"dns"}));
}

TEST_F(SearchTest, LongWordsNeverThrow) {
  const std::string long_word(300, 'x');
  EXPECT_EQ(Found(long_word), Ids());
  EXPECT_EQ(Found("title:" + long_word), Ids());
  EXPECT_EQ(Found("team:" + long_word), Ids());
  EXPECT_EQ(Found("certificate team:" + long_word), Ids());
  EXPECT_EQ(Found("certificate OR team:" + long_word), Ids({"cert"}));
  EXPECT_EQ(Found("\"" + long_word + " " + long_word + "\""), Ids());
  EXPECT_EQ(Found(long_word + "*"), Ids());
  EXPECT_EQ(Found(std::string(1000, 'y') + " certificate"), Ids({"cert"}));
}

TEST_F(SearchTest, EmptyQuerySelectsEverythingUnderTheFilters) {
  v1::SearchRequest request;
  EXPECT_EQ(Run(request).total_matches(), 6);
  request.add_services("route-planner");
  const v1::SearchResponse response = Run(request);
  EXPECT_THAT(InOrder(response), UnorderedElementsAre("oom", "crash"));
  for (const v1::SearchHit& hit : response.hits()) EXPECT_EQ(hit.score(), 0);
  // Without words, equal scores come newest first.
  EXPECT_THAT(InOrder(response), ElementsAre("oom", "crash"));
}

TEST_F(SearchTest, StructuredFiltersAndWithinListsOr) {
  v1::SearchRequest request;
  request.add_severities(v1::SEV1);
  request.add_severities(v1::SEV2);
  EXPECT_THAT(InOrder(Run(request)),
              UnorderedElementsAre("dns", "cert", "pool", "crash"));
  request.add_teams("ROUTING");
  EXPECT_THAT(InOrder(Run(request)), UnorderedElementsAre("crash"));

  request.Clear();
  request.add_tags("KAFKA");
  request.add_tags("tls");
  EXPECT_THAT(InOrder(Run(request)), UnorderedElementsAre("kafka", "cert"));
  request.set_query("consumer");
  EXPECT_THAT(InOrder(Run(request)), UnorderedElementsAre("kafka"));

  request.Clear();
  request.add_cause_categories(v1::RootCause::SOFTWARE_BUG);
  request.add_cause_categories(v1::RootCause::PROCESS);
  EXPECT_THAT(InOrder(Run(request)),
              UnorderedElementsAre("oom", "crash", "cert"));

  // A value no document can hold (over Xapian's term limit) matches
  // nothing, and does not drop the filter.
  request.Clear();
  request.add_services(std::string(250, 's'));
  EXPECT_EQ(Run(request).total_matches(), 0);
  request.add_services("edge-proxy");
  EXPECT_THAT(InOrder(Run(request)), UnorderedElementsAre("cert"));

  request.Clear();
  request.add_services(" Edge-Proxy ");
  request.add_services("orders-db");
  EXPECT_THAT(InOrder(Run(request)), UnorderedElementsAre("cert", "pool"));
}

TEST_F(SearchTest, StartedAfterIsInclusiveAndBeforeExclusive) {
  v1::SearchRequest request;
  request.mutable_started_after()->set_seconds(UnixOf(2024, 2, 5));
  request.mutable_started_before()->set_seconds(UnixOf(2025, 1, 15));
  EXPECT_THAT(InOrder(Run(request)),
              UnorderedElementsAre("cert", "pool", "oom"));
  // A nanosecond later excludes cert; a nanosecond later lets kafka in.
  request.mutable_started_after()->set_nanos(1);
  request.mutable_started_before()->set_nanos(1);
  EXPECT_THAT(InOrder(Run(request)),
              UnorderedElementsAre("pool", "oom", "kafka"));
  request.clear_started_after();
  EXPECT_THAT(
      InOrder(Run(request)),
      UnorderedElementsAre("dns", "crash", "cert", "pool", "oom", "kafka"));
}

TEST_F(SearchTest, SortsByRelevanceOrNewest) {
  v1::SearchRequest request;
  request.set_query("route planner crashed depot");
  v1::SearchResponse response = Run(request);
  ASSERT_THAT(InOrder(response), ElementsAre("crash", "oom"));
  EXPECT_GT(response.hits(0).score(), response.hits(1).score());
  EXPECT_GT(response.hits(1).score(), 0);
  EXPECT_LE(response.hits(0).score(), 100);

  request.set_sort(v1::SearchRequest::NEWEST);
  response = Run(request);
  EXPECT_THAT(InOrder(response), ElementsAre("oom", "crash"));
  EXPECT_GT(response.hits(0).score(), 0);

  request.clear_query();
  response = Run(request);
  EXPECT_THAT(InOrder(response),
              ElementsAre("kafka", "oom", "pool", "cert", "crash", "dns"));
  for (const v1::SearchHit& hit : response.hits()) EXPECT_EQ(hit.score(), 0);
}

TEST_F(SearchTest, PagesThroughEveryResult) {
  for (const auto sort :
       {v1::SearchRequest::NEWEST, v1::SearchRequest::RELEVANCE}) {
    v1::SearchRequest request;
    request.set_sort(sort);
    request.set_page_size(4);
    const std::vector<std::string> all = InOrder(Run(request));
    ASSERT_EQ(all.size(), 4);

    request.set_page_size(2);
    std::vector<std::string> paged;
    int pages = 0;
    do {
      const v1::SearchResponse page = Run(request);
      EXPECT_EQ(page.total_matches(), 6);
      for (const std::string& id : InOrder(page)) paged.push_back(id);
      request.set_page_token(page.next_page_token());
      ASSERT_LT(++pages, 10);
    } while (!request.page_token().empty());
    EXPECT_EQ(pages, 3);
    ASSERT_EQ(paged.size(), 6);
    EXPECT_EQ(std::vector<std::string>(paged.begin(), paged.begin() + 4), all);
    EXPECT_EQ(std::set<std::string>(paged.begin(), paged.end()).size(), 6);
  }
}

TEST(SearchPagingTest, DefaultPageSizeIsTwenty) {
  std::vector<v1::Postmortem> many;
  for (int i = 0; i < 25; ++i) {
    v1::Postmortem& postmortem = many.emplace_back();
    postmortem.set_id(absl::StrCat("pm", i));
    postmortem.set_version(1);
    postmortem.set_title("disk full");
  }
  TempIndex index(many);
  v1::SearchRequest request;
  request.set_query("disk");
  absl::StatusOr<v1::SearchResponse> page =
      RunSearch(index.db(), request, kNow);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_EQ(page->hits_size(), 20);
  EXPECT_FALSE(page->next_page_token().empty());
  request.set_page_token(page->next_page_token());
  page = RunSearch(index.db(), request, kNow);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_EQ(page->hits_size(), 5);
  EXPECT_THAT(page->next_page_token(), IsEmpty());
}

TEST_F(SearchTest, BadPageTokenIsInvalidArgument) {
  for (const std::string token :
       {"not-a-token", "!!!", "ZGVqYQ", "eyJvZmZzZXQiOjJ9"}) {
    v1::SearchRequest request;
    request.set_query("route");
    request.set_page_token(token);
    const absl::Status status = RunSearch(index_.db(), request, kNow).status();
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << token;
    EXPECT_THAT(std::string(status.message()), StartsWith("page_token: "))
        << token;
  }
}

std::map<std::string, std::map<std::string, int64_t>> FacetMap(
    const v1::SearchResponse& response) {
  std::map<std::string, std::map<std::string, int64_t>> facets;
  for (const v1::Facet& facet : response.facets()) {
    auto& counts = facets[facet.field()];
    for (const v1::FacetCount& count : facet.counts()) {
      counts[count.value()] = count.count();
    }
  }
  return facets;
}

TEST_F(SearchTest, FacetsCountEveryMatchNotJustThePage) {
  v1::SearchRequest request;
  request.set_page_size(1);
  const v1::SearchResponse response = Run(request);
  ASSERT_EQ(response.hits_size(), 1);
  std::vector<std::string> fields;
  for (const v1::Facet& facet : response.facets()) {
    fields.push_back(facet.field());
  }
  EXPECT_THAT(fields, ElementsAre("service", "severity", "cause", "team", "tag",
                                  "year"));
  auto facets = FacetMap(response);
  EXPECT_EQ(facets["service"]["route-planner"], 2);
  EXPECT_EQ(facets["service"]["coredns"], 1);
  EXPECT_EQ(facets["service"]["tracking-api"], 1);
  EXPECT_EQ(facets["severity"]["sev1"], 2);
  EXPECT_EQ(facets["severity"]["sev2"], 2);
  EXPECT_EQ(facets["severity"]["sev4"], 1);
  EXPECT_EQ(facets["cause"]["software_bug"], 2);
  EXPECT_EQ(facets["cause"]["config_change"], 1);
  EXPECT_EQ(facets["team"]["routing"], 2);
  EXPECT_EQ(facets["tag"]["kafka"], 1);
  EXPECT_EQ(facets["year"], (std::map<std::string, int64_t>{
                                {"2023", 2}, {"2024", 3}, {"2025", 1}}));
  // Most frequent first.
  const v1::Facet& year = response.facets(5);
  EXPECT_EQ(year.counts(0).value(), "2024");

  request.set_query("service:route-planner");
  facets = FacetMap(Run(request));
  EXPECT_EQ(facets["service"],
            (std::map<std::string, int64_t>{{"route-planner", 2}}));
  EXPECT_EQ(facets["year"],
            (std::map<std::string, int64_t>{{"2023", 1}, {"2024", 1}}));
}

TEST(FacetsTest, AtMostTwentyValuesMostFrequentFirst) {
  std::vector<v1::Postmortem> many;
  for (int i = 0; i < 30; ++i) {
    v1::Postmortem& postmortem = many.emplace_back();
    postmortem.set_id(absl::StrCat("pm", i));
    postmortem.set_version(1);
    postmortem.set_title("outage");
    postmortem.add_services(absl::StrCat("svc-", 100 + i));
    if (i % 2 == 0) postmortem.add_services("shared");
  }
  TempIndex index(many);
  const absl::StatusOr<v1::SearchResponse> response =
      RunSearch(index.db(), v1::SearchRequest(), kNow);
  ASSERT_TRUE(response.ok()) << response.status();
  const v1::Facet& services = response->facets(0);
  ASSERT_EQ(services.field(), "service");
  ASSERT_EQ(services.counts_size(), 20);
  EXPECT_EQ(services.counts(0).value(), "shared");
  EXPECT_EQ(services.counts(0).count(), 15);
  EXPECT_EQ(services.counts(1).value(), "svc-100");
}

TEST(FacetsTest, SlotValuesRoundTrip) {
  v1::Postmortem postmortem;
  postmortem.add_services("B");
  postmortem.add_services("a");
  postmortem.add_services("b ");
  postmortem.add_services(std::string(200, 'z'));
  Xapian::Document document;
  AddFacetValues(postmortem, document);
  const std::string slot = document.get_value(kFacetsSlot);
  EXPECT_THAT(DecodeFacetValues(slot, /*service*/ 0),
              ElementsAre("a", "b", std::string(200, 'z')));
  EXPECT_THAT(DecodeFacetValues(slot, /*year*/ 5), IsEmpty());
}

TEST(FacetsTest, EachFacetKeepsItsOwnValuesInTheSharedSlot) {
  v1::Postmortem postmortem;
  postmortem.add_services("checkout");
  postmortem.set_severity(v1::SEV2);
  postmortem.set_team("Payments");
  postmortem.add_tags("dns");
  postmortem.add_tags("checkout");
  postmortem.mutable_started_at()->set_seconds(1709251200);  // 2024-03-01
  Xapian::Document document;
  AddFacetValues(postmortem, document);
  const std::string slot = document.get_value(kFacetsSlot);
  EXPECT_THAT(DecodeFacetValues(slot, 0), ElementsAre("checkout"));
  EXPECT_THAT(DecodeFacetValues(slot, 1), ElementsAre("sev2"));
  EXPECT_THAT(DecodeFacetValues(slot, 2), IsEmpty());
  EXPECT_THAT(DecodeFacetValues(slot, 3), ElementsAre("payments"));
  EXPECT_THAT(DecodeFacetValues(slot, 4), ElementsAre("checkout", "dns"));
  EXPECT_THAT(DecodeFacetValues(slot, 5), ElementsAre("2024"));
}

TEST(FacetsTest, ADamagedSlotYieldsWhatCanBeReadNeverMore) {
  // A length past the end.
  EXPECT_THAT(DecodeFacetValues(std::string("\x00\x01"
                                            "a\x00\x05"
                                            "b",
                                            6),
                                0),
              ElementsAre("a"));
  // A facet number past the last facet.
  EXPECT_THAT(DecodeFacetValues(std::string("\x04\x01"
                                            "a\x09\x01"
                                            "b\x04\x01"
                                            "c",
                                            9),
                                4),
              ElementsAre("a"));
  EXPECT_THAT(DecodeFacetValues("", 0), IsEmpty());
}

// 300 postmortems that all say "outage"; every other one also says "disk".
// Severities cycle 1, 2, 3; every one has the tag "shared" and one of ten
// teams.
std::vector<v1::Postmortem> ManyOutages() {
  std::vector<v1::Postmortem> many;
  for (int i = 0; i < 300; ++i) {
    v1::Postmortem& postmortem = many.emplace_back();
    postmortem.set_id(absl::StrCat("pm", i));
    postmortem.set_version(1);
    postmortem.set_title(i % 2 == 0 ? "disk outage" : "network outage");
    postmortem.set_team(absl::StrCat("team-", i % 10));
    postmortem.set_severity(static_cast<v1::Severity>(1 + i % 3));
    postmortem.add_tags("shared");
    postmortem.mutable_started_at()->set_seconds(UnixOf(2024, 1, 1) +
                                                 int64_t{3600} * i);
  }
  return many;
}

int64_t SumOfCounts(const v1::Facet& facet) {
  int64_t sum = 0;
  for (const v1::FacetCount& count : facet.counts()) sum += count.count();
  return sum;
}

class SearchBoundTest : public ::testing::Test {
 protected:
  SearchBoundTest() : index_(ManyOutages()) {}

  v1::SearchResponse Run(const v1::SearchRequest& request,
                         Xapian::doccount bound) {
    SearchOptions options;
    options.exact_count_bound = bound;
    absl::StatusOr<v1::SearchResponse> response =
        RunSearch(index_.db(), request, kNow, options);
    EXPECT_TRUE(response.ok())
        << request.ShortDebugString() << ": " << response.status();
    return response.ok() ? *response : v1::SearchResponse();
  }

  TempIndex index_;
};

TEST_F(SearchBoundTest, UpToTheBoundCountsAreExact) {
  v1::SearchRequest request;
  request.set_query("disk OR outage");
  request.set_page_size(10);
  // As many matches as the bound.
  const v1::SearchResponse response = Run(request, 300);
  EXPECT_FALSE(response.counts_estimated());
  EXPECT_EQ(response.total_matches(), 300);
  auto facets = FacetMap(response);
  EXPECT_EQ(facets["severity"],
            (std::map<std::string, int64_t>{
                {"sev1", 100}, {"sev2", 100}, {"sev3", 100}}));
  EXPECT_EQ(facets["tag"]["shared"], 300);
  EXPECT_EQ(facets["team"]["team-3"], 30);
}

TEST_F(SearchBoundTest, AboveTheBoundCountsAreScaledEstimates) {
  for (const auto sort :
       {v1::SearchRequest::RELEVANCE, v1::SearchRequest::NEWEST}) {
    for (const std::string query : {"disk OR outage", "outage", ""}) {
      SCOPED_TRACE(absl::StrCat(query, " sort ", sort));
      v1::SearchRequest request;
      request.set_query(query);
      request.set_sort(sort);
      request.set_page_size(10);
      const v1::SearchResponse response = Run(request, 50);
      EXPECT_TRUE(response.counts_estimated());
      EXPECT_EQ(response.hits_size(), 10);
      const int64_t total = response.total_matches();
      EXPECT_GE(total, 150);
      EXPECT_LE(total, 600);
      ASSERT_EQ(response.facets_size(), 6);
      // Every match holds one severity: the scaled counts add up to the
      // estimate, give or take their rounding.
      const v1::Facet& severity = response.facets(1);
      ASSERT_EQ(severity.field(), "severity");
      EXPECT_EQ(severity.counts_size(), 3);
      EXPECT_NEAR(SumOfCounts(severity), total, 3);
      for (const v1::FacetCount& count : severity.counts()) {
        EXPECT_GT(count.count(), 0);
        EXPECT_LE(count.count(), total);
      }
      // A value every match holds is counted as every match.
      auto facets = FacetMap(response);
      EXPECT_EQ(facets["tag"]["shared"], total);
      // More than the 50 seen: the counts were scaled up.
      EXPECT_GT(SumOfCounts(response.facets(3)), 50);
    }
  }
}

TEST_F(SearchBoundTest, PagesThroughEveryMatchAboveTheBound) {
  for (const auto sort :
       {v1::SearchRequest::RELEVANCE, v1::SearchRequest::NEWEST}) {
    v1::SearchRequest request;
    request.set_query("disk OR outage");
    request.set_sort(sort);
    request.set_page_size(40);
    std::set<std::string> ids;
    int pages = 0;
    do {
      const v1::SearchResponse page = Run(request, 50);
      for (const std::string& id : InOrder(page)) ids.insert(id);
      // Only the last page, which holds the 300th match, has no token.
      EXPECT_EQ(page.next_page_token().empty(), ids.size() == 300)
          << "page " << pages;
      request.set_page_token(page.next_page_token());
      ASSERT_LT(++pages, 20);
    } while (!request.page_token().empty());
    EXPECT_EQ(pages, 8);
    EXPECT_EQ(ids.size(), 300);
  }
}

TEST_F(SearchBoundTest, PagesThroughADateRangeAboveTheBound) {
  for (const auto sort :
       {v1::SearchRequest::RELEVANCE, v1::SearchRequest::NEWEST}) {
    // The last 100 postmortems.
    v1::SearchRequest request;
    request.set_query("outage");
    request.set_sort(sort);
    request.mutable_started_after()->set_seconds(UnixOf(2024, 1, 1) +
                                                 int64_t{3600} * 200);
    request.set_page_size(40);
    std::vector<int> page_sizes;
    do {
      const v1::SearchResponse page = Run(request, 50);
      page_sizes.push_back(page.hits_size());
      request.set_page_token(page.next_page_token());
      ASSERT_LT(page_sizes.size(), 10);
    } while (!request.page_token().empty());
    EXPECT_THAT(page_sizes, ElementsAre(40, 40, 20));
  }
}

TEST_F(SearchBoundTest, ExactlyAPageOfMatchesHasNoNextPage) {
  v1::SearchRequest request;
  request.add_teams("team-3");
  request.set_page_size(30);
  v1::SearchResponse response = Run(request, 50);
  EXPECT_EQ(response.hits_size(), 30);
  EXPECT_EQ(response.total_matches(), 30);
  EXPECT_FALSE(response.counts_estimated());
  EXPECT_THAT(response.next_page_token(), IsEmpty());
  request.set_page_size(29);
  response = Run(request, 50);
  EXPECT_FALSE(response.next_page_token().empty());
}

TEST_F(SearchBoundTest, DidYouMeanOnlyWhenTheQueryFoundLittle) {
  v1::SearchRequest request;
  request.set_query("diks");
  v1::SearchResponse response = Run(request, 50);
  EXPECT_EQ(response.total_matches(), 0);
  EXPECT_EQ(response.did_you_mean(), "disk");
  // The same misspelling beside a word that finds plenty: nothing offered.
  request.set_query("outage diks");
  response = Run(request, 50);
  EXPECT_GE(response.total_matches(), 3);
  EXPECT_THAT(response.did_you_mean(), IsEmpty());
}

TEST(FacetsTest, CountsScaleFromTheDocumentsSeenToEveryMatch) {
  FacetCounter counter;
  for (int i = 0; i < 10; ++i) {
    v1::Postmortem postmortem;
    postmortem.add_services("api");
    if (i < 3) postmortem.add_services("db");
    Xapian::Document document;
    AddFacetValues(postmortem, document);
    counter(document, 0);
  }
  EXPECT_EQ(counter.documents_shown(), 10);
  EXPECT_FALSE(counter.sampled());
  std::vector<v1::Facet> facets = counter.Facets(20, 10);
  ASSERT_EQ(facets[0].counts_size(), 2);
  EXPECT_EQ(facets[0].counts(0).count(), 10);
  EXPECT_EQ(facets[0].counts(1).count(), 3);
  // 10 of 45 matches seen: scaled by 4.5, rounded.
  facets = counter.Facets(20, 45);
  EXPECT_EQ(facets[0].counts(0).value(), "api");
  EXPECT_EQ(facets[0].counts(0).count(), 45);
  EXPECT_EQ(facets[0].counts(1).value(), "db");
  EXPECT_EQ(facets[0].counts(1).count(), 14);
  // Fewer matches than seen (not something Xapian reports): no scaling.
  facets = counter.Facets(20, 5);
  EXPECT_EQ(facets[0].counts(0).count(), 10);
}

TEST(FacetsTest, PastCountAllEveryStrideThDocumentStandsForStride) {
  FacetCounter counter(/*count_all=*/4, /*stride=*/3);
  for (int i = 0; i < 10; ++i) {
    v1::Postmortem postmortem;
    postmortem.add_services(i < 5 ? "old" : "new");
    Xapian::Document document;
    AddFacetValues(postmortem, document);
    counter(document, 0);
  }
  EXPECT_EQ(counter.documents_shown(), 10);
  EXPECT_TRUE(counter.sampled());
  // Documents 1-4 count once; of 5-10, the 7th and the 10th count three
  // times.
  const std::vector<v1::Facet> facets = counter.Facets(20, 10);
  ASSERT_EQ(facets[0].counts_size(), 2);
  EXPECT_EQ(facets[0].counts(0).value(), "new");
  EXPECT_EQ(facets[0].counts(0).count(), 6);
  EXPECT_EQ(facets[0].counts(1).value(), "old");
  EXPECT_EQ(facets[0].counts(1).count(), 4);
}

TEST_F(SearchTest, SnippetsMarkTheQueryWords) {
  v1::SearchResponse response = Run("certificate");
  ASSERT_EQ(response.hits_size(), 1);
  // "tls" is a synonym of "certificate", so it is marked too.
  EXPECT_THAT(response.hits(0).snippet(),
              HasSubstr("<mark>TLS</mark> <mark>certificate</mark> expired"));
  // The rest of the text is escaped for HTML.
  response = Run("servfail");
  ASSERT_EQ(response.hits_size(), 1);
  EXPECT_THAT(response.hits(0).snippet(), HasSubstr("<mark>SERVFAIL</mark>"));
  EXPECT_THAT(response.hits(0).snippet(), HasSubstr("&lt;b&gt;inside"));
  EXPECT_LE(response.hits(0).snippet().size(), 400);
}

TEST_F(SearchTest, DidYouMeanCorrectsMisspellingsThatFindLittle) {
  v1::SearchResponse response = Run("certficate");
  EXPECT_EQ(response.total_matches(), 0);
  EXPECT_EQ(response.did_you_mean(), "certificate");
  response = Run("kafka rebalanse");
  EXPECT_EQ(response.did_you_mean(), "kafka rebalance");
  // Spelt right: nothing to suggest.
  EXPECT_THAT(Run("certificate").did_you_mean(), IsEmpty());
}

TEST_F(SearchTest, HitsCarryTheSummaryWithOverdueItems) {
  v1::SearchResponse response = Run("team:platform OR team:edge");
  ASSERT_EQ(response.hits_size(), 2);
  for (const v1::SearchHit& hit : response.hits()) {
    const v1::IncidentSummary& incident = hit.incident();
    ASSERT_EQ(incident.action_items_size(), 1);
    EXPECT_TRUE(incident.action_items(0).open());
    if (incident.id() == "dns") {
      EXPECT_EQ(incident.team(), "Platform");
      EXPECT_THAT(incident.services(), ElementsAre("coredns", "Tracking-API"));
      // Due 2023-04-01, still open in 2025.
      EXPECT_TRUE(incident.action_items(0).overdue());
    } else {
      EXPECT_EQ(incident.id(), "cert");
      // Due 2030.
      EXPECT_FALSE(incident.action_items(0).overdue());
    }
  }
  response = Run("team:orders");
  ASSERT_EQ(response.hits_size(), 1);
  // Done by its due date: not overdue however late it is now.
  EXPECT_FALSE(response.hits(0).incident().action_items(0).overdue());
}

}  // namespace
}  // namespace deja::index
