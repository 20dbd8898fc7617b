// The commands end to end in-process: the real stub and channel against a
// small in-memory PostmortemService, so output and exit codes are pinned
// without a dejad.

#include "cli/commands.h"

#include <algorithm>
#include <fstream>
#include <map>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "deja/v1/postmortem_service.grpc.pb.h"
#include "gmock/gmock.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "gtest/gtest.h"

namespace deja::cli {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

// Ids "pm-1", ...; action item ids "<id>-item-<n>"; a page token is the
// offset of the next row.
class InMemoryPostmortemService final : public v1::PostmortemService::Service {
 public:
  grpc::Status SubmitPostmortem(
      grpc::ServerContext*, const v1::SubmitPostmortemRequest* request,
      v1::SubmitPostmortemResponse* response) override {
    absl::MutexLock lock(&mu_);
    last_request_id_ = request->request_id();
    if (request->postmortem().title().empty()) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          "postmortem.title: required");
    }
    if (auto it = by_request_id_.find(request->request_id());
        it != by_request_id_.end()) {
      *response->mutable_postmortem() = postmortems_[it->second];
      response->set_replayed(true);
      return grpc::Status::OK;
    }
    v1::Postmortem stored = request->postmortem();
    stored.set_id(absl::StrCat("pm-", postmortems_.size() + 1));
    stored.set_version(1);
    int n = 0;
    for (v1::ActionItem& item : *stored.mutable_action_items()) {
      item.set_id(absl::StrCat(stored.id(), "-item-", ++n));
    }
    order_.push_back(stored.id());
    by_request_id_[request->request_id()] = stored.id();
    postmortems_[stored.id()] = stored;
    *response->mutable_postmortem() = stored;
    return grpc::Status::OK;
  }

  grpc::Status GetPostmortem(grpc::ServerContext*,
                             const v1::GetPostmortemRequest* request,
                             v1::Postmortem* response) override {
    absl::MutexLock lock(&mu_);
    auto it = postmortems_.find(request->id());
    if (it == postmortems_.end()) {
      return grpc::Status(
          grpc::StatusCode::NOT_FOUND,
          absl::StrCat("postmortem ", request->id(), " not found"));
    }
    *response = it->second;
    return grpc::Status::OK;
  }

  grpc::Status ListPostmortems(grpc::ServerContext*,
                               const v1::ListPostmortemsRequest* request,
                               v1::ListPostmortemsResponse* response) override {
    absl::MutexLock lock(&mu_);
    last_list_ = *request;
    size_t offset =
        request->page_token().empty() ? 0 : std::stoul(request->page_token());
    const size_t size = request->page_size() == 0 ? 20 : request->page_size();
    std::vector<std::string> matching;
    for (const std::string& id : order_) {
      if (request->team().empty() ||
          postmortems_[id].team() == request->team()) {
        matching.push_back(id);
      }
    }
    for (; offset < matching.size() &&
           response->postmortems_size() < static_cast<int>(size);
         ++offset) {
      *response->add_postmortems() = postmortems_[matching[offset]];
    }
    if (offset < matching.size()) {
      response->set_next_page_token(std::to_string(offset));
    }
    return grpc::Status::OK;
  }

  grpc::Status UpdatePostmortem(grpc::ServerContext*,
                                const v1::UpdatePostmortemRequest* request,
                                v1::Postmortem* response) override {
    absl::MutexLock lock(&mu_);
    auto it = postmortems_.find(request->postmortem().id());
    if (it == postmortems_.end()) {
      return grpc::Status(grpc::StatusCode::NOT_FOUND, "not found");
    }
    if (it->second.version() != request->expected_version()) {
      return grpc::Status(grpc::StatusCode::ABORTED,
                          absl::StrCat("version is ", it->second.version()));
    }
    v1::Postmortem stored = request->postmortem();
    stored.set_version(it->second.version() + 1);
    it->second = stored;
    *response = stored;
    return grpc::Status::OK;
  }

  grpc::Status UpdateActionItem(grpc::ServerContext*,
                                const v1::UpdateActionItemRequest* request,
                                v1::ActionItem* response) override {
    absl::MutexLock lock(&mu_);
    auto it = postmortems_.find(request->postmortem_id());
    if (it == postmortems_.end()) {
      return grpc::Status(grpc::StatusCode::NOT_FOUND, "no postmortem");
    }
    for (v1::ActionItem& item : *it->second.mutable_action_items()) {
      if (item.id() != request->action_item_id()) continue;
      if (request->has_status()) item.set_status(request->status());
      if (request->has_owner()) item.set_owner(request->owner());
      if (request->has_due_date()) item.set_due_date(request->due_date());
      *response = item;
      return grpc::Status::OK;
    }
    return grpc::Status(
        grpc::StatusCode::NOT_FOUND,
        absl::StrCat("action item ", request->action_item_id(), " not found"));
  }

  grpc::Status DeletePostmortem(grpc::ServerContext*,
                                const v1::DeletePostmortemRequest* request,
                                v1::DeletePostmortemResponse*) override {
    absl::MutexLock lock(&mu_);
    if (postmortems_.erase(request->id()) == 0) {
      return grpc::Status(grpc::StatusCode::NOT_FOUND, "not found");
    }
    order_.erase(std::find(order_.begin(), order_.end(), request->id()));
    return grpc::Status::OK;
  }

  std::string last_request_id() {
    absl::MutexLock lock(&mu_);
    return last_request_id_;
  }
  v1::ListPostmortemsRequest last_list() {
    absl::MutexLock lock(&mu_);
    return last_list_;
  }

 private:
  absl::Mutex mu_;
  std::map<std::string, v1::Postmortem> postmortems_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> order_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::string> by_request_id_ ABSL_GUARDED_BY(mu_);
  std::string last_request_id_ ABSL_GUARDED_BY(mu_);
  v1::ListPostmortemsRequest last_list_ ABSL_GUARDED_BY(mu_);
};

constexpr absl::string_view kPostmortemJson = R"({
  "team": "payments",
  "title": "Checkout latency spike after config push",
  "summary": "p99 latency of checkout rose to 8s.\nRolled back.",
  "severity": "SEV2",
  "startedAt": "2024-03-01T14:05:00Z",
  "detectedAt": "2024-03-01T14:12:00Z",
  "resolvedAt": "2024-03-01T15:28:30Z",
  "services": ["checkout", "payments-api"],
  "tags": ["config"],
  "whys": [{"question": "Why was checkout slow?", "answer": "Pool too small."}],
  "rootCauses": [{"category": "CONFIG_CHANGE", "description": "Pool size 5."}],
  "actionItems": [
    {"description": "Validate pool size", "owner": "payments",
     "dueDate": "2024-03-10", "status": "OPEN", "kind": "PREVENT"},
    {"description": "Alert on pool waits", "owner": "sre",
     "dueDate": "2024-03-10", "status": "DONE", "kind": "DETECT"}
  ],
  "logLines": ["ERROR pool exhausted after 5000ms"]
})";

class CommandsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    dir_ = ::testing::TempDir();
  }
  void TearDown() override { server_->Shutdown(); }

  // Runs deja; fills out_ and err_.
  int Run(std::vector<std::string> argv, const std::string& stdin_text = "") {
    std::istringstream in(stdin_text);
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

  std::string WriteFile(const std::string& name, absl::string_view text) {
    const std::string path = absl::StrCat(dir_, "/", name);
    std::ofstream(path) << text;
    return path;
  }

  InMemoryPostmortemService service_;
  std::unique_ptr<grpc::Server> server_;
  std::string dir_;
  std::string out_;
  std::string err_;
};

TEST_F(CommandsTest, SubmitPrintsTableAndIsIdempotent) {
  const std::string path = WriteFile("a.json", kPostmortemJson);
  ASSERT_EQ(Run({"submit", path}), 0) << err_;
  EXPECT_EQ(out_, absl::StrCat("ID    VERSION  FILE",
                               std::string(path.size() - 4, ' '), "  TITLE\n",
                               "pm-1  1        ", path,
                               "  Checkout latency spike after config push\n"));
  EXPECT_EQ(err_, "");
  EXPECT_THAT(service_.last_request_id(), StartsWith("cli-"));

  ASSERT_EQ(Run({"submit", path}), 0) << err_;
  EXPECT_THAT(out_, HasSubstr("pm-1  1        "));
  EXPECT_THAT(out_, HasSubstr("push (already submitted)\n"));
}

TEST_F(CommandsTest, SubmitFromStdinWithRequestIdAsJson) {
  ASSERT_EQ(Run({"submit", "-", "--request-id", "r-1", "--json"},
                std::string(kPostmortemJson)),
            0)
      << err_;
  EXPECT_EQ(service_.last_request_id(), "r-1");
  EXPECT_THAT(out_, StartsWith(R"({"postmortem":{"id":"pm-1",)"));
  EXPECT_THAT(
      out_, HasSubstr(R"("replayed":false,"searchable":false,"warnings":[]})"));
  EXPECT_EQ(std::count(out_.begin(), out_.end(), '\n'), 1);
}

TEST_F(CommandsTest, SubmitReportsEachBadFileAndGoesOn) {
  const std::string good = WriteFile("good.json", kPostmortemJson);
  const std::string typo = WriteFile("typo.json", R"({"titel": "x"})");
  const std::string broken = WriteFile("broken.json", "{\"title\": ");
  const std::string invalid = WriteFile("invalid.json", R"({"team": "x"})");
  EXPECT_EQ(Run({"submit", typo, broken, invalid, "/nonexistent.json", good}),
            1);
  std::vector<std::string> lines = absl::StrSplit(err_, '\n');
  ASSERT_EQ(lines.size(), 5u) << err_;
  EXPECT_THAT(lines[0], StartsWith(absl::StrCat(
                            "deja: ", typo, ": invalid postmortem JSON: ")));
  EXPECT_THAT(lines[0], HasSubstr("titel"));
  EXPECT_THAT(lines[1], StartsWith(absl::StrCat(
                            "deja: ", broken, ": invalid postmortem JSON: ")));
  EXPECT_EQ(lines[2], absl::StrCat("deja: INVALID_ARGUMENT: postmortem.title: "
                                   "required (in ",
                                   invalid, ")"));
  EXPECT_EQ(lines[3], "deja: /nonexistent.json: No such file or directory");
  EXPECT_EQ(lines[4], "");
  EXPECT_THAT(out_, HasSubstr("pm-1  1"));
}

TEST_F(CommandsTest, SubmitExplainsArraysAndDirectories) {
  EXPECT_EQ(Run({"submit", "-", dir_}, "[{\"title\": \"x\"}]"), 1);
  EXPECT_EQ(err_, absl::StrCat("deja: stdin: a JSON array: give one postmortem "
                               "per file (several FILEs are fine)\n",
                               "deja: ", dir_, ": is a directory\n"));
}

TEST_F(CommandsTest, SubmitRequestIdWithSeveralFilesIsUsageError) {
  EXPECT_EQ(Run({"submit", "a", "b", "--request-id", "x"}), 2);
  EXPECT_EQ(err_,
            "deja: --request-id needs exactly one FILE (see 'deja submit "
            "--help')\n");
}

TEST_F(CommandsTest, GetShowsTheReadableView) {
  ASSERT_EQ(Run({"submit", "-"}, std::string(kPostmortemJson)), 0);
  ASSERT_EQ(Run({"get", "pm-1"}), 0) << err_;
  EXPECT_EQ(out_,
            "Checkout latency spike after config push\n"
            "  id:             pm-1\n"
            "  team:           payments\n"
            "  severity:       SEV2\n"
            "  status:         -\n"
            "  started:        2024-03-01 14:05 UTC\n"
            "  detected:       2024-03-01 14:12 UTC  (MTTD 7m)\n"
            "  resolved:       2024-03-01 15:28 UTC  (MTTR 1h 23m)\n"
            "  services:       checkout, payments-api\n"
            "  tags:           config\n"
            "  version:        1\n"
            "\n"
            "Summary\n"
            "  p99 latency of checkout rose to 8s.\n"
            "  Rolled back.\n"
            "\n"
            "5 Whys\n"
            "  1. Why was checkout slow?\n"
            "     Pool too small.\n"
            "\n"
            "Root causes\n"
            "  - [config-change] Pool size 5.\n"
            "\n"
            "Action items\n"
            "  ID        STATUS  KIND     OWNER     DUE                 "
            "DESCRIPTION\n"
            "  pm-1-ite  open    prevent  payments  2024-03-10 OVERDUE  "
            "Validate pool size\n"
            "  pm-1-ite  done    detect   sre       2024-03-10          "
            "Alert on pool waits\n"
            "\n"
            "Log lines\n"
            "  ERROR pool exhausted after 5000ms\n");
}

TEST_F(CommandsTest, GetJsonIsOneLineOfProtoJson) {
  ASSERT_EQ(Run({"submit", "-"}, std::string(kPostmortemJson)), 0);
  ASSERT_EQ(Run({"get", "pm-1", "--json"}), 0) << err_;
  EXPECT_THAT(out_, StartsWith(R"({"id":"pm-1","team":"payments",)"));
  EXPECT_THAT(out_, HasSubstr(R"("startedAt":"2024-03-01T14:05:00Z")"));
  EXPECT_THAT(out_, HasSubstr(R"("externalId":"")"));  // defaults included
  EXPECT_EQ(std::count(out_.begin(), out_.end(), '\n'), 1);
}

TEST_F(CommandsTest, GetUnknownIdFailsWithOneLine) {
  EXPECT_EQ(Run({"get", "pm-9"}), 1);
  EXPECT_EQ(out_, "");
  EXPECT_EQ(err_, "deja: NOT_FOUND: postmortem pm-9 not found\n");
}

TEST_F(CommandsTest, ListPagesAndHints) {
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(Run({"submit", "-", "--request-id", absl::StrCat("r", i)},
                  std::string(kPostmortemJson)),
              0);
  }
  ASSERT_EQ(Run({"list", "--team", "payments", "--limit", "2"}), 0) << err_;
  EXPECT_EQ(out_,
            "ID    STARTED           SEV   TEAM      SERVICES               "
            "TITLE\n"
            "pm-1  2024-03-01 14:05  SEV2  payments  checkout,payments-api  "
            "Checkout latency spike after config push\n"
            "pm-2  2024-03-01 14:05  SEV2  payments  checkout,payments-api  "
            "Checkout latency spike after config push\n"
            "more: deja list --team payments --limit 2 --page-token 2\n");
  EXPECT_EQ(service_.last_list().page_size(), 2);
  // No date flag, no time bound: the server rejects an empty range.
  EXPECT_FALSE(service_.last_list().has_started_after());
  EXPECT_FALSE(service_.last_list().has_started_before());

  ASSERT_EQ(Run({"list", "--all", "--json"}), 0) << err_;
  EXPECT_THAT(out_, StartsWith(R"({"postmortems":[{"id":"pm-1")"));
  EXPECT_THAT(out_, HasSubstr(R"("id":"pm-3")"));
  EXPECT_THAT(out_, HasSubstr(R"("nextPageToken":""})"));

  ASSERT_EQ(Run({"list", "--team", "nobody"}), 0) << err_;
  EXPECT_EQ(out_, "no postmortems found\n");
}

TEST_F(CommandsTest, ListFiltersBecomeTheRequest) {
  ASSERT_EQ(Run({"list", "--severity", "2", "--since", "2024-03-01", "--until",
                 "2024-03-31", "--tag", "config", "--service", "checkout"}),
            0)
      << err_;
  const v1::ListPostmortemsRequest request = service_.last_list();
  EXPECT_EQ(request.severity(), v1::SEV2);
  EXPECT_EQ(request.started_after().seconds(), 1709251200);   // 03-01 00:00
  EXPECT_EQ(request.started_before().seconds(), 1711929600);  // 04-01 00:00
  EXPECT_EQ(request.tag(), "config");
  EXPECT_EQ(request.service(), "checkout");
  EXPECT_EQ(request.page_size(), 20);
}

TEST_F(CommandsTest, ListBadFiltersAreUsageErrors) {
  EXPECT_EQ(Run({"list", "--severity", "SEV9"}), 2);
  EXPECT_THAT(err_, StartsWith("deja: invalid severity 'SEV9'"));
  EXPECT_EQ(Run({"list", "--since", "last week"}), 2);
  EXPECT_THAT(err_, StartsWith("deja: --since: invalid date 'last week'"));
  EXPECT_EQ(Run({"list", "--limit", "0"}), 2);
  EXPECT_EQ(Run({"list", "--limit", "5", "--all"}), 2);
}

TEST_F(CommandsTest, UpdateTakesVersionFromFile) {
  ASSERT_EQ(Run({"submit", "-"}, std::string(kPostmortemJson)), 0);
  ASSERT_EQ(Run({"get", "pm-1", "--json"}), 0);
  const std::string path = WriteFile("pm-1.json", out_);
  ASSERT_EQ(Run({"update", path}), 0) << err_;
  EXPECT_THAT(out_, HasSubstr("pm-1  2        "));
  // The file still says version 1: someone (we) changed it since.
  EXPECT_EQ(Run({"update", path}), 1);
  EXPECT_EQ(err_, "deja: ABORTED: version is 2\n");
  ASSERT_EQ(Run({"update", path, "--version", "2"}), 0) << err_;
}

TEST_F(CommandsTest, UpdateNeedsAnId) {
  const std::string path = WriteFile("new.json", kPostmortemJson);
  EXPECT_EQ(Run({"update", path, "--version", "1"}), 1);
  EXPECT_THAT(err_, StartsWith(absl::StrCat("deja: ", path, ": no \"id\"")));
}

TEST_F(CommandsTest, UpdateActionAcceptsUniquePrefix) {
  ASSERT_EQ(Run({"submit", "-"}, std::string(kPostmortemJson)), 0);
  ASSERT_EQ(Run({"update-action", "pm-1", "pm-1-item-1", "--status", "done",
                 "--owner", "sre"}),
            0)
      << err_;
  EXPECT_EQ(out_,
            "ID        STATUS  KIND     OWNER  DUE         DESCRIPTION\n"
            "pm-1-ite  done    prevent  sre    2024-03-10  Validate pool "
            "size\n");
  EXPECT_EQ(Run({"update-action", "pm-1", "pm-1-item", "--status", "open"}), 1);
  EXPECT_THAT(err_, StartsWith("deja: action item 'pm-1-item' is ambiguous"));
  EXPECT_EQ(Run({"update-action", "pm-1", "zz", "--due", ""}), 1);
  EXPECT_EQ(err_,
            "deja: NOT_FOUND: pm-1 has no action item 'zz' (its items: "
            "pm-1-ite, pm-1-ite)\n");
  EXPECT_EQ(Run({"update-action", "pm-1", "x"}), 2);
  EXPECT_EQ(Run({"update-action", "pm-1", "x", "--status", "closed"}), 2);
  EXPECT_EQ(Run({"update-action", "pm-1", "x", "--due", "tomorrow"}), 2);
}

TEST_F(CommandsTest, Delete) {
  ASSERT_EQ(Run({"submit", "-"}, std::string(kPostmortemJson)), 0);
  ASSERT_EQ(Run({"delete", "pm-1"}), 0) << err_;
  EXPECT_EQ(out_, "deleted pm-1\n");
  EXPECT_EQ(Run({"delete", "pm-1", "--json"}), 1);
  EXPECT_EQ(err_, "deja: NOT_FOUND: not found\n");
  EXPECT_EQ(Run({"delete", "pm-1", "--version", "-1"}), 2);
}

TEST_F(CommandsTest, HelpAndUsageErrors) {
  EXPECT_EQ(Run({"--help"}), 0);
  EXPECT_THAT(out_, StartsWith("usage: deja COMMAND"));
  EXPECT_EQ(Run({"list", "--bogus"}), 2);
  EXPECT_EQ(err_, "deja: unknown option '--bogus' (see 'deja list --help')\n");
  EXPECT_EQ(Run({}), 2);
  EXPECT_THAT(err_, StartsWith("usage: deja COMMAND"));
}

TEST(UnreachableServerTest, OneLineUnavailable) {
  std::istringstream in;
  std::ostringstream out, err;
  Environment env;
  env.connect = [](const std::string& server) {
    return grpc::CreateChannel(server, grpc::InsecureChannelCredentials());
  };
  env.in = &in;
  env.out = &out;
  env.err = &err;
  // Port 1 on loopback: nothing listens, the connection is refused at once.
  EXPECT_EQ(RunDeja({"get", "x", "--server", "127.0.0.1:1"}, env), 1);
  const std::string message = err.str();
  EXPECT_THAT(message, StartsWith("deja: UNAVAILABLE: cannot reach dejad at "
                                  "127.0.0.1:1 ("));
  EXPECT_EQ(std::count(message.begin(), message.end(), '\n'), 1);
}

}  // namespace
}  // namespace deja::cli
