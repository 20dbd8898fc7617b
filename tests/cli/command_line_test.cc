#include "cli/command_line.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace deja::cli {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

absl::StatusOr<CommandLine> Parse(std::vector<std::string> argv,
                                  absl::string_view env_server = "") {
  return ParseCommandLine(argv, env_server);
}

std::string ErrorOf(std::vector<std::string> argv) {
  auto line = Parse(std::move(argv));
  EXPECT_FALSE(line.ok());
  EXPECT_EQ(line.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(line.status().message());
}

TEST(ParseCommandLineTest, CommandArgumentsAndDefaults) {
  auto line = Parse({"get", "abc"});
  ASSERT_TRUE(line.ok()) << line.status();
  EXPECT_EQ(line->command, "get");
  EXPECT_THAT(line->args, ElementsAre("abc"));
  EXPECT_EQ(line->server, "127.0.0.1:50051");
  EXPECT_FALSE(line->json);
  EXPECT_FALSE(line->help);
  EXPECT_EQ(line->timeout, absl::Seconds(10));
}

TEST(ParseCommandLineTest, GlobalOptionsAnywhere) {
  auto line = Parse({"--json", "list", "--team", "payments", "--server", "db:1",
                     "--timeout=2.5", "--all"});
  ASSERT_TRUE(line.ok()) << line.status();
  EXPECT_EQ(line->command, "list");
  EXPECT_TRUE(line->json);
  EXPECT_EQ(line->server, "db:1");
  EXPECT_EQ(line->timeout, absl::Milliseconds(2500));
  EXPECT_EQ(line->Get("team"), "payments");
  EXPECT_TRUE(line->Has("all"));
  EXPECT_FALSE(line->Has("tag"));
}

TEST(ParseCommandLineTest, ServerFromEnvironmentUnlessGiven) {
  EXPECT_EQ(Parse({"get", "x"}, "env:9")->server, "env:9");
  EXPECT_EQ(Parse({"get", "x", "--server", "flag:1"}, "env:9")->server,
            "flag:1");
}

TEST(ParseCommandLineTest, StdinDashAndDoubleDash) {
  auto line = Parse({"submit", "-", "--", "--odd-name.json"});
  ASSERT_TRUE(line.ok()) << line.status();
  EXPECT_THAT(line->args, ElementsAre("-", "--odd-name.json"));
}

TEST(ParseCommandLineTest, EmptyValueWithEquals) {
  auto line = Parse({"update-action", "pm", "ai", "--due="});
  ASSERT_TRUE(line.ok()) << line.status();
  EXPECT_TRUE(line->Has("due"));
  EXPECT_EQ(line->Get("due"), "");
}

TEST(ParseCommandLineTest, Help) {
  EXPECT_TRUE(Parse({"--help"})->help);
  EXPECT_EQ(Parse({"--help"})->command, "");
  EXPECT_EQ(Parse({"list", "-h"})->command, "list");
  EXPECT_TRUE(Parse({"list", "-h"})->help);
  // Help wins over missing arguments.
  EXPECT_TRUE(Parse({"get", "--help"})->help);
  EXPECT_EQ(Parse({"help", "submit"})->command, "submit");
  EXPECT_TRUE(Parse({"help"})->help);
}

TEST(ParseCommandLineTest, UsageErrors) {
  EXPECT_THAT(ErrorOf({}), StartsWith("no command given"));
  EXPECT_THAT(ErrorOf({"frobnicate"}),
              StartsWith("unknown command 'frobnicate'"));
  EXPECT_THAT(ErrorOf({"list", "--colour"}),
              StartsWith("unknown option '--colour'"));
  EXPECT_THAT(ErrorOf({"list", "-x"}), StartsWith("unknown option '-x'"));
  EXPECT_THAT(ErrorOf({"get", "x", "--team", "a"}),
              StartsWith("'deja get' has no option '--team'"));
  EXPECT_THAT(ErrorOf({"list", "--team"}),
              StartsWith("option '--team' needs a value"));
  EXPECT_THAT(ErrorOf({"list", "--all=yes"}),
              StartsWith("option '--all' takes no value"));
  EXPECT_THAT(ErrorOf({"list", "--tag", "a", "--tag", "b"}),
              StartsWith("option '--tag' given twice"));
  EXPECT_THAT(ErrorOf({"get"}), StartsWith("missing argument"));
  EXPECT_THAT(ErrorOf({"get", "a", "b"}),
              StartsWith("unexpected argument 'b'"));
  EXPECT_THAT(ErrorOf({"list", "extra"}),
              StartsWith("unexpected argument 'extra'"));
  EXPECT_THAT(ErrorOf({"submit"}), StartsWith("missing argument"));
  EXPECT_THAT(ErrorOf({"get", "x", "--timeout", "0"}),
              StartsWith("invalid --timeout '0'"));
  EXPECT_THAT(ErrorOf({"get", "x", "--timeout", "soon"}),
              StartsWith("invalid --timeout 'soon'"));
  EXPECT_THAT(ErrorOf({"get", "x", "--server="}),
              StartsWith("--server needs HOST:PORT"));
}

TEST(ParseCommandLineTest, ErrorsPointAtHelp) {
  EXPECT_THAT(ErrorOf({"list", "--colour"}),
              HasSubstr("(see 'deja list --help')"));
  EXPECT_THAT(ErrorOf({"frobnicate"}), HasSubstr("(see 'deja --help')"));
}

TEST(UsageTest, EveryCommandHasHelp) {
  for (const char* command :
       {"submit", "get", "list", "update", "update-action", "delete"}) {
    EXPECT_THAT(Usage(command),
                StartsWith(std::string("usage: deja ") + command))
        << command;
    EXPECT_THAT(Usage(command), HasSubstr("--server HOST:PORT"));
  }
  EXPECT_THAT(Usage(""), StartsWith("usage: deja COMMAND"));
}

}  // namespace
}  // namespace deja::cli
