// `deja import`, `deja new` and `deja export` in-process: the real stub and
// channel against an in-memory PostmortemService (ImportPostmortems,
// GetPostmortem) and AdminService (GetIndexStatus).

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "cli/commands.h"
#include "cli/progress.h"
#include "deja/v1/admin_service.grpc.pb.h"
#include "deja/v1/postmortem_service.grpc.pb.h"
#include "gmock/gmock.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "gtest/gtest.h"

namespace deja::cli {
namespace {

namespace fs = std::filesystem;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

// Stores a record unless its title is empty; a known request_id answers
// UNCHANGED. Records every message it got.
class FakeImportService final : public v1::PostmortemService::Service {
 public:
  grpc::Status ImportPostmortems(
      grpc::ServerContext*,
      grpc::ServerReader<v1::ImportPostmortemsRequest>* reader,
      v1::ImportPostmortemsResponse* response) override {
    v1::ImportPostmortemsRequest request;
    absl::MutexLock lock(&mu_);
    bool full = false;
    while (reader->Read(&request)) {
      messages_.push_back(request);
      for (const v1::ImportRecord& record : request.records()) {
        // Like dejad when its answer reaches its size limit: read the rest,
        // store and answer none of it.
        if (answer_at_most_ > 0 &&
            response->results_size() >= answer_at_most_) {
          full = true;
          continue;
        }
        v1::ImportResult* result = response->add_results();
        result->set_source(record.source());
        if (record.postmortem().title().empty()) {
          result->set_outcome(v1::ImportResult::REJECTED);
          result->set_reason("INVALID_ARGUMENT: postmortem.title: required");
          response->set_rejected(response->rejected() + 1);
          continue;
        }
        if (request.dry_run()) {
          result->set_outcome(v1::ImportResult::VALID);
          continue;
        }
        auto it = by_request_id_.find(record.request_id());
        if (it != by_request_id_.end()) {
          result->set_outcome(v1::ImportResult::UNCHANGED);
          result->set_postmortem_id(it->second);
          continue;
        }
        v1::Postmortem stored = record.postmortem();
        stored.set_id(absl::StrCat("pm-", stored_.size() + 1));
        stored.set_version(1);
        by_request_id_[record.request_id()] = stored.id();
        stored_[stored.id()] = stored;
        result->set_outcome(v1::ImportResult::IMPORTED);
        result->set_postmortem_id(stored.id());
        if (absl::StrContains(stored.summary(), "human error")) {
          v1::BlamelessFinding* warning = result->add_warnings();
          warning->set_field("summary");
          warning->set_phrase("human error");
          warning->set_suggestion("name the condition");
        }
      }
    }
    response->set_complete(!full);
    return grpc::Status::OK;
  }

  grpc::Status GetPostmortem(grpc::ServerContext*,
                             const v1::GetPostmortemRequest* request,
                             v1::Postmortem* response) override {
    absl::MutexLock lock(&mu_);
    auto it = stored_.find(request->id());
    if (it == stored_.end()) {
      return grpc::Status(grpc::StatusCode::NOT_FOUND, "not found");
    }
    *response = it->second;
    return grpc::Status::OK;
  }

  void Put(v1::Postmortem postmortem) {
    absl::MutexLock lock(&mu_);
    stored_[postmortem.id()] = std::move(postmortem);
  }
  std::vector<v1::ImportPostmortemsRequest> messages() {
    absl::MutexLock lock(&mu_);
    return messages_;
  }
  std::vector<v1::ImportRecord> records() {
    std::vector<v1::ImportRecord> all;
    for (const auto& message : messages()) {
      all.insert(all.end(), message.records().begin(), message.records().end());
    }
    return all;
  }
  size_t stored_count() {
    absl::MutexLock lock(&mu_);
    return stored_.size();
  }
  // Each call answers at most `n` records (0: all).
  void AnswerAtMost(int n) {
    absl::MutexLock lock(&mu_);
    answer_at_most_ = n;
  }
  void Forget() {
    absl::MutexLock lock(&mu_);
    messages_.clear();
  }

 private:
  absl::Mutex mu_;
  int answer_at_most_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<std::string, v1::Postmortem> stored_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::string> by_request_id_ ABSL_GUARDED_BY(mu_);
  std::vector<v1::ImportPostmortemsRequest> messages_ ABSL_GUARDED_BY(mu_);
};

// Pending counts down by one per call, from `pending`.
class FakeAdminService final : public v1::AdminService::Service {
 public:
  grpc::Status GetIndexStatus(grpc::ServerContext*,
                              const v1::GetIndexStatusRequest*,
                              v1::IndexStatus* status) override {
    absl::MutexLock lock(&mu_);
    ++calls_;
    status->set_indexer_running(indexer_running_);
    status->set_pending(pending_);
    if (pending_ > 0) --pending_;
    return grpc::Status::OK;
  }
  void Set(int64_t pending, bool running) {
    absl::MutexLock lock(&mu_);
    pending_ = pending;
    indexer_running_ = running;
  }
  int calls() {
    absl::MutexLock lock(&mu_);
    return calls_;
  }

 private:
  absl::Mutex mu_;
  int64_t pending_ ABSL_GUARDED_BY(mu_) = 0;
  bool indexer_running_ ABSL_GUARDED_BY(mu_) = true;
  int calls_ ABSL_GUARDED_BY(mu_) = 0;
};

constexpr absl::string_view kMarkdown =
    "# Checkout latency spike\n\n"
    "## Summary\n\nThe pool was too small.\n\n"
    "## Timeline\n\n"
    "- 2024-03-01 14:05 UTC: latency rose\n"
    "- 2024-03-01 14:30 UTC: rolled back\n\n"
    "## Action items\n\n"
    "| Action | Owner |\n|---|---|\n| Validate pool size | |\n";

// One good line, one blank, one with no title (the fake rejects it), one
// that is not JSON.
constexpr absl::string_view kJsonLines =
    R"({"title":"Queue backlog","summary":"Consumers stalled.","team":"data","severity":"SEV2","services":["queue"],"startedAt":"2024-02-01T10:00:00Z"})"
    "\n\n"
    R"({"summary":"No title here","externalId":"INC-7"})"
    "\n"
    "{not json\n";

std::string DfdsDir() {
  const char* env = std::getenv("DEJA_DFDS_DIR");
  return env != nullptr ? env : "/work/shared/corpus/dfds-markdown";
}

class ImportCommandsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    builder.RegisterService(&service_);
    builder.RegisterService(&admin_);
    server_ = builder.BuildAndStart();
    dir_ = fs::path(::testing::TempDir()) /
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    server_->Shutdown();
    fs::remove_all(dir_);
  }

  int Run(std::vector<std::string> argv) {
    std::istringstream in;
    std::ostringstream out, err;
    Environment env;
    env.connect = [this](const std::string&) {
      return server_->InProcessChannel(grpc::ChannelArguments());
    };
    env.now = absl::FromUnixSeconds(1711929600);  // 2024-04-01T00:00:00Z
    env.in = &in;
    env.out = &out;
    env.err = &err;
    const int code = RunDeja(argv, env);
    out_ = out.str();
    err_ = err.str();
    return code;
  }

  std::string Write(const std::string& name, absl::string_view text) {
    const fs::path path = dir_ / name;
    fs::create_directories(path.parent_path());
    std::ofstream(path, std::ios::binary) << text;
    return path.string();
  }

  // A folder with a Markdown file, a JSON Lines file, a hidden file and a
  // file of another kind.
  std::string MixedFolder() {
    Write("folder/a.md", kMarkdown);
    Write("folder/sub/b.jsonl", kJsonLines);
    Write("folder/.hidden.md", kMarkdown);
    Write("folder/notes.txt", "not a postmortem");
    return (dir_ / "folder").string();
  }

  FakeImportService service_;
  FakeAdminService admin_;
  std::unique_ptr<grpc::Server> server_;
  fs::path dir_;
  std::string out_;
  std::string err_;
};

TEST_F(ImportCommandsTest, FolderImportCountsRejectsAndNotesEachRecord) {
  const std::string folder = MixedFolder();
  EXPECT_EQ(Run({"import", folder, "--no-wait"}), 1) << err_;
  const auto records = service_.records();
  ASSERT_EQ(records.size(), 3u);  // the bad JSON line is never sent
  EXPECT_EQ(records[0].source(), folder + "/a.md");
  EXPECT_EQ(records[1].source(), folder + "/sub/b.jsonl:1");
  EXPECT_EQ(records[2].source(), folder + "/sub/b.jsonl:3");
  EXPECT_EQ(records[0].postmortem().team(), "imported");
  EXPECT_EQ(records[0].postmortem().action_items(0).owner(), "imported");
  EXPECT_EQ(records[1].postmortem().team(), "data");

  EXPECT_THAT(out_, StartsWith("OUTCOME    RECORDS\n"
                               "imported   2\n"
                               "unchanged  0\n"
                               "rejected   2\n"));
  // Sources are shown under the directory they share, said once.
  EXPECT_THAT(out_, HasSubstr("\nsources in " + folder + "/\n"));
  EXPECT_THAT(out_, HasSubstr("\nsub/b.jsonl:3  INVALID_ARGUMENT: "
                              "postmortem.title: required\n"));
  EXPECT_THAT(out_, HasSubstr("\nsub/b.jsonl:4  invalid postmortem JSON: "));
  EXPECT_THAT(out_, HasSubstr("\na.md           defaults: team, services, "
                              "severity, action_items.owner\n"));
  EXPECT_THAT(out_, Not(HasSubstr("hidden")));
  EXPECT_THAT(out_, Not(HasSubstr("notes.txt")));
}

TEST_F(ImportCommandsTest, RunningTheSameImportAgainChangesNothing) {
  const std::string folder = MixedFolder();
  Run({"import", folder, "--no-wait"});
  EXPECT_EQ(service_.stored_count(), 2u);
  EXPECT_EQ(Run({"import", folder, "--no-wait"}), 1) << err_;
  EXPECT_EQ(service_.stored_count(), 2u);
  EXPECT_THAT(out_, StartsWith("OUTCOME    RECORDS\n"
                               "imported   0\n"
                               "unchanged  2\n"));
}

TEST_F(ImportCommandsTest, RequestIdsDependOnTheContentNotOnWhereItLies) {
  Write("one/x/a.md", kMarkdown);
  Write("two/x/a.md", kMarkdown);
  Write("three/x/a.md", absl::StrCat(kMarkdown, "\nMore.\n"));
  Run({"import", (dir_ / "one").string(), (dir_ / "two").string(),
       (dir_ / "three").string(), (dir_ / "two/x/a.md").string(), "--no-wait"});
  const auto records = service_.records();
  ASSERT_EQ(records.size(), 4u);
  // The same path under each PATH argument and the same bytes.
  EXPECT_EQ(records[0].request_id(), records[1].request_id());
  EXPECT_THAT(records[0].request_id(), StartsWith("import-"));
  EXPECT_EQ(records[0].request_id().size(), 7u + 32u);
  EXPECT_NE(records[0].request_id(), records[2].request_id());
  // A file argument is known by its name alone.
  EXPECT_NE(records[0].request_id(), records[3].request_id());
}

TEST_F(ImportCommandsTest, ExternalIdIsTheKeyWhenThereIsOne) {
  Write("a.jsonl",
        "{\"title\":\"A\",\"externalId\":\"INC-1\"}\n"
        "{\"title\":\"A, edited\",\"externalId\":\"INC-1\"}\n");
  Run({"import", (dir_ / "a.jsonl").string(), "--no-wait"});
  const auto records = service_.records();
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].request_id(), records[1].request_id());
}

TEST_F(ImportCommandsTest, DryRunAsksForValidationAndStoresNothing) {
  const std::string folder = MixedFolder();
  EXPECT_EQ(Run({"import", folder, "--dry-run"}), 1);
  ASSERT_FALSE(service_.messages().empty());
  EXPECT_TRUE(service_.messages()[0].dry_run());
  EXPECT_EQ(service_.stored_count(), 0u);
  EXPECT_THAT(out_, StartsWith("OUTCOME   RECORDS\n"
                               "valid     2\n"
                               "rejected  2\n"));
  EXPECT_EQ(admin_.calls(), 0);  // nothing to wait for
}

TEST_F(ImportCommandsTest, RecordsGoInBatches) {
  std::string lines;
  for (int i = 0; i < 250; ++i) {
    absl::StrAppend(&lines, "{\"title\":\"Incident ", i, "\"}\n");
  }
  const std::string path = Write("many.jsonl", lines);
  EXPECT_EQ(Run({"import", path, "--batch", "100", "--no-wait"}), 0) << err_;
  const auto messages = service_.messages();
  ASSERT_EQ(messages.size(), 3u);
  EXPECT_EQ(messages[0].records_size(), 100);
  EXPECT_EQ(messages[1].records_size(), 100);
  EXPECT_EQ(messages[2].records_size(), 50);
  EXPECT_THAT(out_, StartsWith("OUTCOME    RECORDS\n"
                               "imported   250\n"));
}

// A call whose answer filled up covers its first records only: the CLI
// sends the rest again in the next call until every record is answered.
TEST_F(ImportCommandsTest, AnAnswerThatFilledUpIsContinuedInANewCall) {
  std::string lines;
  for (int i = 0; i < 250; ++i) {
    absl::StrAppend(&lines, "{\"title\":\"Incident ", i, "\"}\n");
  }
  const std::string path = Write("many.jsonl", lines);
  service_.AnswerAtMost(100);
  EXPECT_EQ(Run({"import", path, "--no-wait", "--json"}), 0) << err_;
  EXPECT_EQ(service_.stored_count(), 250u);
  // 250 records, then the 150 left, then the last 50.
  EXPECT_EQ(service_.records().size(), 250u + 150u + 50u);
  EXPECT_THAT(out_, HasSubstr("{\"imported\":250,\"unchanged\":0,"
                              "\"rejected\":0"));
  EXPECT_EQ(std::count(out_.begin(), out_.end(), '\n'), 251);
}

TEST_F(ImportCommandsTest, BadBatchAndSeverityAreUsageErrors) {
  const std::string path = Write("a.md", kMarkdown);
  EXPECT_EQ(Run({"import", path, "--batch", "0"}), 2);
  EXPECT_THAT(err_, HasSubstr("invalid --batch '0' (expected 1 to 1000)"));
  EXPECT_EQ(Run({"import", path, "--severity", "SEV9"}), 2);
  EXPECT_EQ(Run({"import"}), 2);
  EXPECT_TRUE(service_.messages().empty());
}

TEST_F(ImportCommandsTest, FlagsFillWhatTheDocumentLacks) {
  const std::string path = Write("a.md", kMarkdown);
  ASSERT_EQ(Run({"import", path, "--team", "payments", "--service", "checkout",
                 "--severity", "2", "--owner", "sre", "--no-wait"}),
            0)
      << err_;
  const v1::Postmortem sent = service_.records().at(0).postmortem();
  EXPECT_EQ(sent.team(), "payments");
  EXPECT_EQ(sent.services(0), "checkout");
  EXPECT_EQ(sent.severity(), v1::SEV2);
  EXPECT_EQ(sent.action_items(0).owner(), "sre");
  EXPECT_EQ(sent.started_at().seconds(),
            1709301900);  // 14:05 from the timeline
  EXPECT_THAT(sent.tags(), ::testing::Contains("import-defaults"));
}

TEST_F(ImportCommandsTest, MissingPathIsARejectedRecordAndTheRestGoesOn) {
  const std::string good = Write("a.md", kMarkdown);
  EXPECT_EQ(Run({"import", (dir_ / "nope.md").string(), good, "--no-wait"}), 1);
  EXPECT_EQ(service_.records().size(), 1u);
  EXPECT_THAT(out_, HasSubstr("nope.md  No such file or directory"));
}

TEST_F(ImportCommandsTest, AnEmptyFolderIsAFailure) {
  fs::create_directories(dir_ / "empty");
  EXPECT_EQ(Run({"import", (dir_ / "empty").string()}), 1);
  EXPECT_THAT(err_,
              HasSubstr("deja: no .md, .markdown, .json or .jsonl files in"));
}

TEST_F(ImportCommandsTest, WaitsUntilTheIndexCaughtUp) {
  const std::string path = Write("a.md", kMarkdown);
  admin_.Set(2, true);
  EXPECT_EQ(Run({"import", path}), 0) << err_;
  EXPECT_EQ(admin_.calls(), 3);
  EXPECT_THAT(out_, HasSubstr("\nsearchable: yes\n"));
}

TEST_F(ImportCommandsTest, NoIndexerMeansANoteInsteadOfAWait) {
  const std::string path = Write("a.md", kMarkdown);
  admin_.Set(5, false);
  EXPECT_EQ(Run({"import", path}), 0) << err_;
  EXPECT_EQ(admin_.calls(), 1);
  EXPECT_THAT(err_, HasSubstr("deja: note: this dejad runs no indexer"));
  EXPECT_THAT(out_, Not(HasSubstr("searchable")));
}

TEST_F(ImportCommandsTest, JsonPrintsOneLinePerRecordAndTheCounts) {
  const std::string folder = MixedFolder();
  EXPECT_EQ(Run({"import", folder, "--json", "--no-wait"}), 1);
  std::vector<std::string> lines = absl::StrSplit(out_, '\n');
  ASSERT_EQ(lines.size(), 6u) << out_;  // 4 records, the counts, ""
  EXPECT_THAT(lines[0],
              AllOf(StartsWith("{\"source\":\""), HasSubstr("\"IMPORTED\""),
                    HasSubstr("\"defaulted\":[\"team\",\"services\"")));
  EXPECT_THAT(lines[3], HasSubstr("\"invalid postmortem JSON: "));
  EXPECT_EQ(lines[4],
            "{\"imported\":2,\"unchanged\":0,\"rejected\":2,\"valid\":0,"
            "\"dryRun\":false,\"searchable\":false}");
}

TEST_F(ImportCommandsTest, BlamelessWarningsGoToStderr) {
  Write("w.jsonl", "{\"title\":\"A\",\"summary\":\"It was human error.\"}\n");
  EXPECT_EQ(Run({"import", (dir_ / "w.jsonl").string(), "--no-wait"}), 0);
  EXPECT_THAT(err_, HasSubstr("w.jsonl:1: summary: \"human error\""));
  EXPECT_THAT(out_, HasSubstr("1 blameless warning"));
}

TEST_F(ImportCommandsTest, TheWholeDfdsFolderIsSentAndNoneRejectedLocally) {
  const std::string dir = DfdsDir();
  ASSERT_TRUE(fs::is_directory(dir))
      << "DFDS corpus not found at " << dir
      << "; set DEJA_DFDS_DIR to the folder of Markdown postmortems";
  Run({"import", dir, "--no-wait", "--json"});
  const auto records = service_.records();
  EXPECT_EQ(records.size(), 38u) << err_;
  EXPECT_THAT(out_, HasSubstr("\"rejected\":0,")) << out_;
  for (const v1::ImportRecord& record : records) {
    EXPECT_FALSE(record.postmortem().team().empty()) << record.source();
    EXPECT_EQ(record.postmortem().services_size(), 1) << record.source();
  }
}

TEST_F(ImportCommandsTest, NewWritesTodaysTemplateAndNeverOverwrites) {
  const std::string path = (dir_ / "pm.md").string();
  ASSERT_EQ(Run({"new", path}), 0) << err_;
  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  EXPECT_THAT(text.str(), HasSubstr("2024-04-01"));
  EXPECT_THAT(out_, HasSubstr("deja import"));

  EXPECT_EQ(Run({"new", path}), 1);
  EXPECT_EQ(err_, absl::StrCat("deja: ", path, ": exists\n"));

  ASSERT_EQ(Run({"new"}), 0);
  EXPECT_EQ(out_, text.str());
}

class ExportTest : public ImportCommandsTest {
 protected:
  void SetUp() override {
    ImportCommandsTest::SetUp();
    v1::Postmortem postmortem;
    postmortem.set_id("pm-9");
    postmortem.set_title("Checkout latency spike");
    postmortem.set_team("payments");
    postmortem.set_summary("The pool was too small.");
    v1::ActionItem* item = postmortem.add_action_items();
    item->set_description("Validate pool size");
    item->set_owner("sre");
    service_.Put(postmortem);
  }
};

TEST_F(ExportTest, MarkdownIsTheDefault) {
  ASSERT_EQ(Run({"export", "pm-9"}), 0) << err_;
  EXPECT_THAT(out_, HasSubstr("# Checkout latency spike\n"));
  EXPECT_THAT(out_, HasSubstr("Validate pool size"));
  EXPECT_EQ(Run({"export", "pm-9", "--format", "markdown"}), 0);
}

TEST_F(ExportTest, JsonIsOneLine) {
  ASSERT_EQ(Run({"export", "pm-9", "--format", "json"}), 0) << err_;
  EXPECT_THAT(out_, StartsWith("{\"id\":\"pm-9\","));
  EXPECT_EQ(std::count(out_.begin(), out_.end(), '\n'), 1);
}

TEST_F(ExportTest, SummaryNamesTheOwners) {
  ASSERT_EQ(Run({"export", "pm-9", "--format", "summary"}), 0) << err_;
  EXPECT_THAT(out_, HasSubstr("Checkout latency spike"));
  EXPECT_THAT(out_, HasSubstr("sre"));
  EXPECT_THAT(out_, Not(HasSubstr("|")));
}

TEST_F(ExportTest, UnknownFormatIsAUsageError) {
  EXPECT_EQ(Run({"export", "pm-9", "--format", "pdf"}), 2);
  EXPECT_THAT(err_, HasSubstr("invalid --format 'pdf' (expected markdown, "
                              "json or summary)"));
  EXPECT_EQ(Run({"export", "pm-404"}), 1);
  EXPECT_THAT(err_, StartsWith("deja: NOT_FOUND: "));
}

// ------------------------------------------------------------ progress

TEST(ProgressLineTest, ShowsBarCountsPercentRateAndEta) {
  // 80 columns exactly: the bar takes the room that is left.
  EXPECT_EQ(
      ProgressLine("importing", 500, 1000, absl::Seconds(2), 80),
      absl::StrCat("importing [", std::string(19, '#'), std::string(20, '.'),
                   "] 500/1000  50%  250/s  ETA 2s"));
  EXPECT_EQ(ProgressLine("importing", 0, 10, absl::ZeroDuration(), 40),
            absl::StrCat("importing [", std::string(18, '.'), "] 0/10   0%"));
}

TEST(ProgressLineTest, NarrowTerminalDropsTheBarThenCuts) {
  EXPECT_EQ(ProgressLine("importing", 5, 10, absl::Seconds(1), 30),
            "importing 5/10  50%  5.0/s  E…");
}

TEST(ProgressLineTest, PlainLineReadsAsASentence) {
  EXPECT_EQ(PlainProgressLine("importing", 500, 10000, absl::Seconds(1)),
            "importing 500/10000 (5%), 500/s, ETA 19s");
}

TEST(ProgressDisplayTest, PlainLinesAreQuietAtFirstThenEveryTwoSecondsOrTenth) {
  std::ostringstream err;
  const absl::Time start = absl::FromUnixSeconds(100);
  ProgressDisplay display(err, /*terminal=*/false, start);
  display.Show("t", "a", 0.5, start + absl::Seconds(1));  // quiet start
  display.Show("t", "b", 0.5, start + absl::Seconds(2));
  display.Show("t", "c", 0.55, start + absl::Seconds(3));  // same tenth
  display.Show("t", "d", 0.61, start + absl::Seconds(3));  // next tenth
  display.Show("t", "e", 0.62, start + absl::Seconds(5));  // 2 s passed
  display.Finish("t");
  EXPECT_EQ(err.str(), "b\nd\ne\n");
}

TEST(ProgressDisplayTest, TerminalRedrawsOneLineInPlace) {
  std::ostringstream err;
  const absl::Time start = absl::FromUnixSeconds(100);
  ProgressDisplay display(err, /*terminal=*/true, start);
  display.Show("long line", "", 0.1, start);
  display.Show("skipped", "", 0.2, start + absl::Milliseconds(50));
  display.Show("short", "", 0.3, start + absl::Seconds(1));
  display.Finish("done");
  EXPECT_EQ(err.str(), "\rlong line\rshort    \rdone \n");
}

}  // namespace
}  // namespace deja::cli
