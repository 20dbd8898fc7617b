// ReadImportRecords and CommonDirectory against real files in a temporary
// folder: what a walk reads, skips and reports when the tree is not tidy.

#include "cli/import_records.h"

#include <dirent.h>
#include <sys/fsuid.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "cli/format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace deja::cli {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

constexpr absl::string_view kMarkdown =
    "# Checkout latency spike\n\n## Summary\n\nThe pool was too small.\n";
constexpr absl::string_view kJsonLine =
    R"({"title":"Queue backlog","summary":"Consumers stalled."})";

// "source" for a record read fine, "source: problem" for a rejected one.
std::vector<std::string> Outcomes(const std::vector<SourceRecord>& records,
                                  const fs::path& prefix) {
  std::vector<std::string> outcomes;
  for (const SourceRecord& record : records) {
    std::string source = record.source;
    const std::string dir = prefix.string() + "/";
    if (source.rfind(dir, 0) == 0) source.erase(0, dir.size());
    outcomes.push_back(record.problem.empty()
                           ? source
                           : absl::StrCat(source, ": ", record.problem));
  }
  return outcomes;
}

class ImportRecordsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) / "import_records_test" /
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    // A folder left at mode 000 could not be removed.
    std::error_code ignored;
    for (const auto& entry : fs::recursive_directory_iterator(dir_, ignored)) {
      if (entry.is_directory(ignored) && !entry.is_symlink(ignored)) {
        fs::permissions(entry.path(), fs::perms::owner_all, ignored);
      }
    }
    fs::remove_all(dir_);
  }

  void Write(const std::string& name, absl::string_view text) {
    const fs::path path = dir_ / name;
    fs::create_directories(path.parent_path());
    std::ofstream(path, std::ios::binary) << text;
  }

  std::vector<SourceRecord> Read(const std::vector<std::string>& names) {
    std::vector<std::string> paths;
    for (const std::string& name : names)
      paths.push_back((dir_ / name).string());
    return ReadImportRecords(paths, ImportDefaults());
  }

  fs::path dir_;
};

// Root reads folders of mode 000 anyway; with the file-system uid of
// "nobody" the kernel drops root's override for this thread only, so the
// test means the same as root and as anyone else.
class AsNobody {
 public:
  AsNobody() : was_root_(geteuid() == 0) {
    if (was_root_) setfsuid(65534);
  }
  ~AsNobody() {
    if (was_root_) setfsuid(0);
  }

 private:
  bool was_root_;
};

TEST_F(ImportRecordsTest, UnreadableSubfolderIsReportedAndTheRestIsRead) {
  Write("folder/a/first.md", kMarkdown);
  Write("folder/locked/hidden.md", kMarkdown);
  Write("folder/z/last.md", kMarkdown);
  fs::permissions(dir_ / "folder/locked", fs::perms::none);
  std::vector<SourceRecord> records;
  {
    AsNobody nobody;
    if (DIR* listing = opendir((dir_ / "folder/locked").c_str())) {
      closedir(listing);
      GTEST_SKIP() << "cannot make a folder unreadable here (root without "
                      "CAP_SETUID?)";
    }
    records = Read({"folder"});
  }
  EXPECT_THAT(
      Outcomes(records, dir_),
      ElementsAre("folder/a/first.md", "folder/locked: Permission denied",
                  "folder/z/last.md"));
}

TEST_F(ImportRecordsTest, UnreadableFileIsARejectedRecordNamedByItsPath) {
  Write("folder/a.md", kMarkdown);
  Write("folder/b.md", kMarkdown);
  fs::permissions(dir_ / "folder/a.md", fs::perms::none);
  std::vector<SourceRecord> records;
  {
    AsNobody nobody;
    records = Read({"folder"});
  }
  if (records.size() == 2 && records[0].problem.empty()) {
    GTEST_SKIP() << "cannot make a file unreadable here";
  }
  EXPECT_THAT(Outcomes(records, dir_),
              ElementsAre("folder/a.md: Permission denied", "folder/b.md"));
}

TEST_F(ImportRecordsTest, SymlinkedSubfolderIsFollowed) {
  Write("elsewhere/linked.md", kMarkdown);
  Write("folder/own.md", kMarkdown);
  fs::create_directory_symlink(dir_ / "elsewhere", dir_ / "folder/link");
  EXPECT_THAT(Outcomes(Read({"folder"}), dir_),
              ElementsAre("folder/link/linked.md", "folder/own.md"));
}

TEST_F(ImportRecordsTest, SymlinkLoopIsReportedOnceAndDoesNotRepeatFiles) {
  Write("folder/a.md", kMarkdown);
  Write("folder/sub/b.md", kMarkdown);
  fs::create_directory_symlink("..", dir_ / "folder/sub/up");
  EXPECT_THAT(Outcomes(Read({"folder"}), dir_),
              ElementsAre("folder/a.md", "folder/sub/b.md",
                          "folder/sub/up: symlink loop: skipped"));
}

TEST_F(ImportRecordsTest, SecondLinkToTheSameFolderIsNotReadTwice) {
  Write("folder/2024/a.md", kMarkdown);
  fs::create_directory_symlink("2024", dir_ / "folder/latest");
  EXPECT_THAT(Outcomes(Read({"folder"}), dir_),
              ElementsAre("folder/2024/a.md",
                          "folder/latest: same folder as 2024: skipped"));
}

TEST_F(ImportRecordsTest, FifoArgumentIsRejectedNotWaitedOn) {
  ASSERT_EQ(mkfifo((dir_ / "fifo.md").c_str(), 0600), 0);
  fs::create_symlink("fifo.md", dir_ / "link.md");
  Write("folder/a.md", kMarkdown);
  ASSERT_EQ(mkfifo((dir_ / "folder/b.md").c_str(), 0600), 0);
  EXPECT_THAT(
      Outcomes(Read({"fifo.md", "link.md", "folder"}), dir_),
      ElementsAre("fifo.md: not a regular file", "link.md: not a regular file",
                  "folder/a.md"));  // skipped inside a folder
}

TEST_F(ImportRecordsTest, ByteOrderMarkIsNotPartOfTheFirstLine) {
  Write("bom.jsonl", absl::StrCat("\xEF\xBB\xBF", kJsonLine, "\n"));
  Write("plain.jsonl", absl::StrCat(kJsonLine, "\n"));
  const auto records = Read({"bom.jsonl", "plain.jsonl"});
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].problem, "");
  EXPECT_EQ(records[0].postmortem.title(), "Queue backlog");
  // Saving the file with a mark does not make its lines new records.
  EXPECT_EQ(records[0].request_id, records[1].request_id);
}

TEST_F(ImportRecordsTest, ByteOrderMarkedMarkdownKeepsItsRawBytesId) {
  Write("one/a.md", absl::StrCat("\xEF\xBB\xBF", kMarkdown));
  Write("two/a.md", kMarkdown);
  const auto records = Read({"one/a.md", "two/a.md"});
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].problem, "");
  EXPECT_EQ(records[0].postmortem.title(), "Checkout latency spike");
  EXPECT_NE(records[0].request_id, records[1].request_id);
}

TEST_F(ImportRecordsTest, JsonLinesFileWithoutPostmortemsSaysSo) {
  Write("empty.jsonl", "");
  Write("blank.jsonl", "\n  \r\n\n");
  EXPECT_THAT(Outcomes(Read({"empty.jsonl", "blank.jsonl"}), dir_),
              ElementsAre("empty.jsonl: no postmortems in the file",
                          "blank.jsonl: no postmortems in the file"));
}

// A .json file holds one postmortem, as `deja submit` reads it: a folder of
// them (samples/postmortems) imports in one command.
TEST_F(ImportRecordsTest, JsonFileIsOnePostmortemAndBadOnesAreNamed) {
  Write("folder/a.json",
        "{\n  \"title\": \"Queue backlog\",\n"
        "  \"summary\": \"Consumers stalled.\"\n}\n");
  Write("folder/b.json", R"([{"title":"One"},{"title":"Two"}])");
  Write("folder/c.json", R"({"title":"Typo","sumary":"misspelt"})");
  Write("folder/d.json", "{ not json");
  Write("folder/e.txt", "skipped in a folder");
  const auto records = Read({"folder"});
  const std::vector<std::string> outcomes = Outcomes(records, dir_);
  ASSERT_EQ(outcomes.size(), 4u);
  EXPECT_EQ(outcomes[0], "folder/a.json");
  EXPECT_EQ(records[0].postmortem.title(), "Queue backlog");
  EXPECT_EQ(records[0].postmortem.summary(), "Consumers stalled.");
  EXPECT_EQ(outcomes[1],
            "folder/b.json: a JSON array: give one postmortem per file "
            "(several FILEs are fine)");
  EXPECT_THAT(outcomes[2], ::testing::StartsWith(
                               "folder/c.json: invalid postmortem JSON: "));
  EXPECT_THAT(outcomes[2], ::testing::HasSubstr("sumary"));
  EXPECT_THAT(outcomes[3], ::testing::StartsWith(
                               "folder/d.json: invalid postmortem JSON: "));
}

// A .json file's id is the one `deja submit FILE` sends (taken before any
// default is filled), so importing a folder already submitted, as the
// quickstart does with the samples, stores nothing twice.
TEST_F(ImportRecordsTest, JsonFileIdIsTheOneSubmitSends) {
  Write("one/a.json", kJsonLine);
  Write("two/a.json", absl::StrCat("\xEF\xBB\xBF", kJsonLine, "\n"));
  Write("one/x.json", R"({"title":"T","externalId":"INC-7"})");
  const auto records = Read({"one/a.json", "two/a.json", "one/x.json"});
  ASSERT_EQ(records.size(), 3u);
  absl::StatusOr<v1::Postmortem> parsed = ParsePostmortemJson(kJsonLine);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(records[0].request_id, DefaultRequestId(*parsed));
  EXPECT_EQ(records[1].request_id, records[0].request_id);
  EXPECT_THAT(records[0].defaulted, ::testing::Contains("team"));
  v1::Postmortem external;
  external.set_title("T");
  external.set_external_id("INC-7");
  EXPECT_EQ(records[2].request_id, DefaultRequestId(external));
}

TEST(CommonDirectoryTest, RootAloneIsNoCommonDirectory) {
  SourceRecord a, b;
  a.source = "/nonexistent";
  EXPECT_EQ(CommonDirectory({a}), "");
  a.source = "/data/x.md";
  b.source = "/srv/y.md";
  EXPECT_EQ(CommonDirectory({a, b}), "");
  b.source = "/data/sub/y.md";
  EXPECT_EQ(CommonDirectory({a, b}), "/data/");
  a.source = "x.md";
  EXPECT_THAT(CommonDirectory({a}), IsEmpty());
}

}  // namespace
}  // namespace deja::cli
