// `deja search`, `deja seen`, `deja admin` and `deja submit --wait` in
// process: the real stubs and channel against scripted services, so the
// requests the commands build and the text they print are pinned.

#include <algorithm>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "cli/command_line.h"
#include "cli/commands.h"
#include "cli/search_render.h"
#include "deja/v1/admin_service.grpc.pb.h"
#include "deja/v1/postmortem_service.grpc.pb.h"
#include "deja/v1/search_service.grpc.pb.h"
#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "gtest/gtest.h"

namespace deja::cli {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::StartsWith;

template <class T>
T Parse(const std::string& text) {
  T message;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &message));
  return message;
}

// Answers with what the test set, remembers what it was asked.
class ScriptedSearchService final : public v1::SearchService::Service {
 public:
  grpc::Status Search(grpc::ServerContext*, const v1::SearchRequest* request,
                      v1::SearchResponse* response) override {
    absl::MutexLock lock(&mu);
    last_search = *request;
    *response = search_response;
    return status;
  }
  grpc::Status FindSimilar(grpc::ServerContext*,
                           const v1::FindSimilarRequest* request,
                           v1::FindSimilarResponse* response) override {
    absl::MutexLock lock(&mu);
    last_similar = *request;
    *response = similar_response;
    return status;
  }

  absl::Mutex mu;
  grpc::Status status;
  v1::SearchRequest last_search;
  v1::SearchResponse search_response;
  v1::FindSimilarRequest last_similar;
  v1::FindSimilarResponse similar_response;
};

class ScriptedAdminService final : public v1::AdminService::Service {
 public:
  grpc::Status GetIndexStatus(grpc::ServerContext*,
                              const v1::GetIndexStatusRequest*,
                              v1::IndexStatus* response) override {
    *response = index_status;
    return status;
  }
  grpc::Status RebuildIndex(grpc::ServerContext* context,
                            const v1::RebuildIndexRequest*,
                            v1::RebuildIndexResponse* response) override {
    rebuild_deadline = absl::FromChrono(context->deadline());
    *response = rebuilt;
    return status;
  }

  grpc::Status status;
  v1::IndexStatus index_status;
  v1::RebuildIndexResponse rebuilt;
  absl::Time rebuild_deadline;
};

class SubmitOnlyService final : public v1::PostmortemService::Service {
 public:
  grpc::Status SubmitPostmortem(
      grpc::ServerContext*, const v1::SubmitPostmortemRequest* request,
      v1::SubmitPostmortemResponse* response) override {
    last_wait = request->wait_searchable();
    *response->mutable_postmortem() = request->postmortem();
    response->mutable_postmortem()->set_id("pm-1");
    response->mutable_postmortem()->set_version(1);
    response->set_searchable(request->wait_searchable());
    return grpc::Status::OK;
  }
  bool last_wait = false;
};

constexpr char kSearchAnswer[] = R"pb(
  hits {
    incident {
      id: "0b7e5a52-3c1d-4f7a-9a39-1f2e3d4c5b6a"
      team: "payments"
      title: "Checkout 5xx after rate-limit config push"
      severity: SEV2
      started_at { seconds: 1709301900 }
    }
    score: 87
    snippet: "the <mark>rate</mark> limit &amp; <mark>checkout</mark> &lt;503&gt;"
  }
  hits {
    incident {
      id: "9f1c2d3e-4b5a-4c6d-8e7f-0a1b2c3d4e5f"
      team: "storage"
      title: "Disk full on db-3"
      severity: SEV3
      started_at { seconds: 1700000000 }
    }
    score: 41
  }
  total_matches: 12
  facets {
    field: "service"
    counts { value: "checkout" count: 3 }
    counts { value: "api" count: 2 }
  }
  facets {
    field: "severity"
    counts { value: "2" count: 4 }
    counts { value: "sev3" count: 1 }
  }
  did_you_mean: "checkout"
  next_page_token: "tok2"
)pb";

constexpr char kSimilarAnswer[] = R"pb(
  verdict: SEEN_BEFORE
  query_signatures {
    id: "3f2a9c1d5e6f7a8b"
    normalized: "dial tcp: lookup <host> on <ip>:<num>: no such host"
  }
  incidents {
    incident {
      id: "0b7e5a52-3c1d-4f7a-9a39-1f2e3d4c5b6a"
      team: "payments"
      title: "Checkout 5xx after DNS change"
      severity: SEV2
      started_at { seconds: 1709301900 }
      services: "checkout"
      root_causes {
        category: CONFIG_CHANGE
        description: "A resolver config dropped the search domain."
      }
      resolution: "Restored the resolver config."
      mitigation_steps: "Pinned the upstream IPs."
      action_items {
        description: "Lint resolver configs"
        owner: "sre"
        due_date: "2024-03-10"
        status: OPEN
        open: true
        overdue: true
      }
      action_items {
        description: "Alert on NXDOMAIN rate"
        owner: "payments"
        status: DONE
      }
    }
    score: 0.91
    verdict: SEEN_BEFORE
    matched_terms { field: "title" terms: "checkout" terms: "dns" }
    shared_signatures {
      id: "3f2a9c1d5e6f7a8b"
      normalized: "dial tcp: lookup <host> on <ip>:<num>: no such host"
    }
    shared_services: "checkout"
    open_action_items: 1
    overdue_action_items: 1
  }
  incidents {
    incident {
      id: "11111111-2222-4333-8444-555555555555"
      title: "Slow DNS"
      severity: SEV4
    }
    score: 0.42
    verdict: POSSIBLY_RELATED
  }
)pb";

class SearchCommandsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    builder.RegisterService(&search_);
    builder.RegisterService(&admin_);
    builder.RegisterService(&postmortems_);
    server_ = builder.BuildAndStart();
  }
  void TearDown() override { server_->Shutdown(); }

  int Run(std::vector<std::string> argv, const std::string& stdin_text = "") {
    std::istringstream in(stdin_text);
    std::ostringstream out, err;
    Environment env;
    env.connect = [this](const std::string&) {
      return server_->InProcessChannel(grpc::ChannelArguments());
    };
    env.now = absl::FromUnixSeconds(1711929600);
    env.in = &in;
    env.out = &out;
    env.err = &err;
    const int code = RunDeja(argv, env);
    out_ = out.str();
    err_ = err.str();
    return code;
  }

  ScriptedSearchService search_;
  ScriptedAdminService admin_;
  SubmitOnlyService postmortems_;
  std::unique_ptr<grpc::Server> server_;
  std::string out_;
  std::string err_;
};

TEST_F(SearchCommandsTest, SearchOptionsBecomeTheRequest) {
  ASSERT_EQ(Run({"search",        "disk",       "full",
                 "--service",     "db",         "--service",
                 "api",           "--team",     "storage",
                 "--tag",         "disk",       "--severity",
                 "sev1",          "--severity", "2",
                 "--category",    "capacity",   "--category",
                 "CONFIG_CHANGE", "--after",    "2024-01-01",
                 "--before",      "2024-03-01", "--sort",
                 "newest",        "--limit",    "5",
                 "--page",        "tok"}),
            0)
      << err_;
  const v1::SearchRequest& request = search_.last_search;
  EXPECT_EQ(request.query(), "disk full");
  EXPECT_THAT(request.services(), ElementsAre("db", "api"));
  EXPECT_THAT(request.teams(), ElementsAre("storage"));
  EXPECT_THAT(request.tags(), ElementsAre("disk"));
  EXPECT_THAT(request.severities(), ElementsAre(v1::SEV1, v1::SEV2));
  EXPECT_THAT(
      request.cause_categories(),
      ElementsAre(v1::RootCause::CAPACITY, v1::RootCause::CONFIG_CHANGE));
  EXPECT_EQ(request.started_after().seconds(), 1704067200);   // 2024-01-01
  EXPECT_EQ(request.started_before().seconds(), 1709251200);  // 2024-03-01
  EXPECT_EQ(request.sort(), v1::SearchRequest::NEWEST);
  EXPECT_EQ(request.page_size(), 5);
  EXPECT_EQ(request.page_token(), "tok");
}

TEST_F(SearchCommandsTest, SearchWithoutDatesSetsNoTimeBounds) {
  ASSERT_EQ(Run({"search", "disk"}), 0) << err_;
  EXPECT_FALSE(search_.last_search.has_started_after());
  EXPECT_FALSE(search_.last_search.has_started_before());
}

TEST_F(SearchCommandsTest, SearchShowsTableSnippetsFacetsAndHints) {
  search_.search_response = Parse<v1::SearchResponse>(kSearchAnswer);
  ASSERT_EQ(Run({"search", "chekout", "--service", "checkout"}), 0) << err_;
  EXPECT_EQ(
      out_,
      "12 matches\n"
      "SCORE  STARTED     SEV   TEAM      TITLE                              "
      "        ID\n"
      "87     2024-03-01  SEV2  payments  Checkout 5xx after rate-limit config "
      "push  0b7e5a52-3c1d-4f7a-9a39-1f2e3d4c5b6a\n"
      "    the *rate* limit & *checkout* <503>\n"
      "41     2023-11-14  SEV3  storage   Disk full on db-3                  "
      "        9f1c2d3e-4b5a-4c6d-8e7f-0a1b2c3d4e5f\n"
      "\n"
      "service: checkout 3, api 2\n"
      "severity: SEV2 4, SEV3 1\n"
      "did you mean: checkout  (deja search checkout --service checkout)\n"
      "more: deja search chekout --service checkout --page tok2\n");
  EXPECT_EQ(err_, "");
}

TEST_F(SearchCommandsTest, SearchSaysAboutForEstimatedCounts) {
  search_.search_response = Parse<v1::SearchResponse>(kSearchAnswer);
  search_.search_response.set_total_matches(4100);
  search_.search_response.set_counts_estimated(true);
  ASSERT_EQ(Run({"search", "checkout"}), 0) << err_;
  EXPECT_THAT(out_, StartsWith("about 4100 matches\n"));
  EXPECT_THAT(out_, HasSubstr("\nservice: checkout about 3, api about 2\n"
                              "severity: SEV2 about 4, SEV3 about 1\n"));

  // Exact counts say nothing of the kind.
  search_.search_response.set_counts_estimated(false);
  ASSERT_EQ(Run({"search", "checkout"}), 0) << err_;
  EXPECT_THAT(out_, StartsWith("4100 matches\n"));
  EXPECT_THAT(out_, Not(HasSubstr("about")));

  search_.search_response.set_counts_estimated(true);
  ASSERT_EQ(Run({"search", "checkout", "--json"}), 0) << err_;
  EXPECT_THAT(out_, HasSubstr(R"("countsEstimated":true)"));
}

TEST_F(SearchCommandsTest, SearchWithoutMatchesSaysSo) {
  ASSERT_EQ(Run({"search", "nothing"}), 0);
  EXPECT_EQ(out_, "no matches\n");
}

TEST_F(SearchCommandsTest, SearchJsonIsOneLine) {
  search_.search_response = Parse<v1::SearchResponse>(kSearchAnswer);
  ASSERT_EQ(Run({"search", "x", "--json"}), 0);
  EXPECT_THAT(out_, StartsWith(R"({"hits":[{"incident":{"id":"0b7e5a52)"));
  EXPECT_EQ(std::count(out_.begin(), out_.end(), '\n'), 1);
}

TEST_F(SearchCommandsTest, SearchBadOptionsAreUsageErrors) {
  EXPECT_EQ(Run({"search", "x", "--category", "gremlins"}), 2);
  EXPECT_THAT(err_, HasSubstr("invalid --category 'gremlins'"));
  EXPECT_THAT(err_, HasSubstr("config-change"));
  EXPECT_EQ(Run({"search", "x", "--sort", "oldest"}), 2);
  EXPECT_THAT(err_, HasSubstr("invalid --sort 'oldest'"));
  EXPECT_EQ(Run({"search", "x", "--limit", "101"}), 2);
  EXPECT_THAT(err_, HasSubstr("invalid --limit '101' (expected 1 to 100)"));
  EXPECT_EQ(Run({"search", "x", "--after", "yesterday"}), 2);
  EXPECT_THAT(err_, StartsWith("deja: --after: "));
  EXPECT_EQ(Run({"search", "x", "--sort", "newest", "--sort", "relevance"}), 2);
  EXPECT_THAT(err_, HasSubstr("option '--sort' given twice"));
}

TEST_F(SearchCommandsTest, SearchServerErrorIsOneLine) {
  search_.status = grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                "query: cannot read \"foo AND\"");
  EXPECT_EQ(Run({"search", "foo", "AND"}), 1);
  EXPECT_EQ(err_, "deja: INVALID_ARGUMENT: query: cannot read \"foo AND\"\n");
  EXPECT_EQ(out_, "");
}

TEST_F(SearchCommandsTest, SeenShowsVerdictFirstThenEachIncident) {
  search_.similar_response = Parse<v1::FindSimilarResponse>(kSimilarAnswer);
  ASSERT_EQ(Run({"seen", "checkout 503s after DNS change"}), 0) << err_;
  EXPECT_THAT(out_, StartsWith("SEEN BEFORE: 1 past incident is the same "
                               "failure; 1 more possibly related\n"));
  EXPECT_THAT(out_, HasSubstr("your error signature 3f2a9c1d5e6f7a8b  dial "
                              "tcp: lookup <host>"));
  EXPECT_THAT(out_, HasSubstr("\n1. SEEN BEFORE  score 0.91  Checkout 5xx "
                              "after DNS change\n"
                              "   started 2024-03-01 14:05 UTC  SEV2  team "
                              "payments  services checkout\n"
                              "   id 0b7e5a52-3c1d-4f7a-9a39-1f2e3d4c5b6a\n"
                              "   why it matches:\n"
                              "     title: checkout, dns\n"
                              "     same error: 3f2a9c1d5e6f7a8b dial tcp: "));
  EXPECT_THAT(out_,
              HasSubstr("     same services: checkout\n"
                        "   root causes:\n"
                        "     [config-change] A resolver config dropped "
                        "the search domain.\n"
                        "   what fixed it:\n"
                        "     Restored the resolver config.\n"
                        "     - Pinned the upstream IPs.\n"
                        "   action items (1 open, 1 overdue):\n"
                        "     STATUS  OWNER     DUE         FLAGS         "
                        "DESCRIPTION\n"
                        "     open    sre       2024-03-10  OPEN OVERDUE  "
                        "Lint resolver configs\n"
                        "     done    payments  -                         "
                        "Alert on NXDOMAIN rate\n"));
  EXPECT_THAT(out_, HasSubstr("\n2. POSSIBLY RELATED  score 0.42  Slow DNS\n"));
}

TEST_F(SearchCommandsTest, SeenNewVerdict) {
  search_.similar_response.set_verdict(v1::NEW);
  ASSERT_EQ(Run({"seen", "never happened"}), 0);
  EXPECT_EQ(out_, "NEW: nothing in the knowledge base is like this incident\n");
}

TEST_F(SearchCommandsTest, SeenOptionsBecomeTheRequest) {
  ASSERT_EQ(Run({"seen", "pods OOMKilled", "--log", "first line", "--log-file",
                 "-", "--log", "second line", "--service", "checkout",
                 "--service", "cart", "--before", "2024-03-01", "--limit", "3"},
                "\nERROR one\n   \nERROR two\n"),
            0)
      << err_;
  const v1::FindSimilarRequest& request = search_.last_similar;
  EXPECT_EQ(request.symptoms(), "pods OOMKilled");
  EXPECT_THAT(request.log_lines(), ElementsAre("first line", "second line",
                                               "ERROR one", "ERROR two"));
  EXPECT_THAT(request.services(), ElementsAre("checkout", "cart"));
  EXPECT_EQ(request.started_before().seconds(), 1709251200);
  EXPECT_EQ(request.limit(), 3);
  EXPECT_THAT(request.postmortem_id(), IsEmpty());
}

TEST_F(SearchCommandsTest, SeenLikeExcludesADescription) {
  ASSERT_EQ(Run({"seen", "--like", "0b7e5a52-3c1d-4f7a-9a39-1f2e3d4c5b6a"}), 0)
      << err_;
  EXPECT_EQ(search_.last_similar.postmortem_id(),
            "0b7e5a52-3c1d-4f7a-9a39-1f2e3d4c5b6a");
  EXPECT_EQ(Run({"seen", "words", "--like", "x"}), 2);
  EXPECT_THAT(err_, HasSubstr("--like uses that postmortem"));
  EXPECT_EQ(Run({"seen"}), 2);
  EXPECT_THAT(err_, HasSubstr("describe the incident"));
  EXPECT_EQ(Run({"seen", "x", "--limit", "51"}), 2);
  EXPECT_EQ(Run({"seen", "x", "--log-file", "/nonexistent/log"}), 1);
  EXPECT_THAT(err_, StartsWith("deja: /nonexistent/log: "));
}

TEST_F(SearchCommandsTest, AdminIndexStatus) {
  admin_.index_status = Parse<v1::IndexStatus>(R"pb(
    pending: 3
    lag_seconds: 90
    documents: 42
    indexer_running: true
    index_path: "/data/index/gen-000002"
    link_pending: 12
    link_lag_seconds: 4
  )pb");
  ASSERT_EQ(Run({"admin", "index-status"}), 0) << err_;
  EXPECT_EQ(out_,
            "indexer:       running in this dejad\n"
            "index:         /data/index/gen-000002\n"
            "documents:     42\n"
            "pending:       3 outbox rows\n"
            "lag:           1m 30s\n"
            "to link:       12 postmortems, oldest 4s\n"
            "last rebuild:  never\n"
            "last error:    none\n");
  ASSERT_EQ(Run({"admin", "index-status", "--json"}), 0);
  EXPECT_THAT(out_, StartsWith(R"({"pending":"3","lagSeconds":90,)"));
  // What deploy/quickstart.sh waits for.
  EXPECT_THAT(out_, HasSubstr(R"("linkPending":"12",)"));
}

TEST_F(SearchCommandsTest, AdminRebuildIndexHasNoDeadlineByDefault) {
  admin_.rebuilt = Parse<v1::RebuildIndexResponse>(
      R"pb(documents: 42 seconds: 1.25 index_path: "/data/index/gen-3")pb");
  ASSERT_EQ(Run({"admin", "rebuild-index"}), 0) << err_;
  EXPECT_EQ(out_, "rebuilt: 42 documents in 1.2 s (/data/index/gen-3)\n");
  EXPECT_THAT(err_, StartsWith("rebuilding the search index"));
  EXPECT_GT(admin_.rebuild_deadline, absl::Now() + absl::Hours(1));

  ASSERT_EQ(Run({"admin", "rebuild-index", "--timeout", "30"}), 0);
  EXPECT_LT(admin_.rebuild_deadline, absl::Now() + absl::Seconds(31));
}

TEST_F(SearchCommandsTest, AdminRebuildRefusedIsOneLine) {
  admin_.status = grpc::Status(
      grpc::StatusCode::FAILED_PRECONDITION,
      "this dejad runs with --indexer=off; rebuild with deja-indexer "
      "--rebuild");
  EXPECT_EQ(Run({"admin", "rebuild-index"}), 1);
  EXPECT_THAT(err_, HasSubstr("\ndeja: FAILED_PRECONDITION: this dejad runs "
                              "with --indexer=off; rebuild with deja-indexer "
                              "--rebuild\n"));
  EXPECT_EQ(Run({"admin", "reindex"}), 2);
  EXPECT_THAT(err_, HasSubstr("unknown admin command 'reindex'"));
  EXPECT_EQ(Run({"admin"}), 2);
}

TEST_F(SearchCommandsTest, SubmitWaitAsksForSearchable) {
  const std::string path = absl::StrCat(::testing::TempDir(), "/w.json");
  std::ofstream(path) << R"({"team": "t", "title": "Waited for"})";
  ASSERT_EQ(Run({"submit", path, "--wait"}), 0) << err_;
  EXPECT_TRUE(postmortems_.last_wait);
  EXPECT_THAT(out_, HasSubstr("SEARCHABLE"));
  EXPECT_THAT(out_, HasSubstr("  yes         Waited for\n"));
  ASSERT_EQ(Run({"submit", path}), 0) << err_;
  EXPECT_FALSE(postmortems_.last_wait);
  EXPECT_THAT(out_, Not(HasSubstr("SEARCHABLE")));
}

TEST(SearchCommandLineTest, OnlyRepeatableOptionsMayRepeat) {
  auto line = ParseCommandLine(
      {"search", "--team", "a", "--team", "b", "--service", "s"}, "");
  ASSERT_TRUE(line.ok()) << line.status();
  EXPECT_THAT(line->GetAll("team"), ElementsAre("a", "b"));
  EXPECT_THAT(line->GetAll("service"), ElementsAre("s"));
  EXPECT_THAT(line->GetAll("tag"), IsEmpty());
  EXPECT_FALSE(line->timeout_given);

  auto list = ParseCommandLine({"list", "--team", "a", "--team", "b"}, "");
  EXPECT_FALSE(list.ok());
  auto seen = ParseCommandLine({"seen", "x", "--like", "a", "--like", "b"}, "");
  EXPECT_FALSE(seen.ok());
  auto timed = ParseCommandLine({"admin", "index-status", "--timeout=3"}, "");
  ASSERT_TRUE(timed.ok());
  EXPECT_TRUE(timed->timeout_given);
}

TEST(SnippetTextTest, MarksAndEntities) {
  EXPECT_EQ(SnippetText("a <mark>b</mark> &quot;c&quot; &#39;d&#39;\nnext"),
            "a *b* \"c\" 'd' next");
  EXPECT_EQ(SnippetText("&unknown; & <b>"), "&unknown; & <b>");
}

}  // namespace
}  // namespace deja::cli
