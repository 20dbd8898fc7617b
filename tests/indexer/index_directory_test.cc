#include "indexer/index_directory.h"

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace deja::index {
namespace {

namespace fs = std::filesystem;

using ::testing::HasSubstr;

class IndexDirectoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern =
        (fs::temp_directory_path() / "deja-indexdir-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    root_ = pattern;
    dir_ = (fs::path(root_) / "index").string();
  }
  void TearDown() override { fs::remove_all(root_); }

  std::string NewGenerationOrDie() {
    absl::StatusOr<std::string> path = NewGeneration(dir_);
    EXPECT_TRUE(path.ok()) << path.status();
    return path.value_or("");
  }

  std::string root_;
  std::string dir_;  // not created: NewGeneration must create it
};

TEST_F(IndexDirectoryTest, CurrentIndexPathIsNotFoundWithoutAnIndex) {
  absl::StatusOr<std::string> missing_dir = CurrentIndexPath(dir_);
  EXPECT_EQ(missing_dir.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(missing_dir.status().message(), HasSubstr(dir_));

  NewGenerationOrDie();  // a generation that was never swapped in
  EXPECT_EQ(CurrentIndexPath(dir_).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(IndexDirectoryTest, NewGenerationsAreNumberedUpwardsAndEmpty) {
  const std::string first = NewGenerationOrDie();
  const std::string second = NewGenerationOrDie();
  EXPECT_EQ(fs::path(first).filename(), "gen-000001");
  EXPECT_EQ(fs::path(second).filename(), "gen-000002");
  EXPECT_TRUE(fs::path(first).is_absolute());
  EXPECT_TRUE(fs::is_directory(first));
  EXPECT_TRUE(fs::is_empty(second));

  // Numbering continues after the highest present, even across gaps.
  fs::remove_all(first);
  fs::create_directory(fs::path(dir_) / "gen-000009");
  EXPECT_EQ(fs::path(NewGenerationOrDie()).filename(), "gen-000010");
}

TEST_F(IndexDirectoryTest, NewGenerationFailsWhenTheDirectoryCannotBeMade) {
  const std::string file = (fs::path(root_) / "a-file").string();
  std::ofstream(file) << "not a directory";
  absl::StatusOr<std::string> path = NewGeneration(file + "/index");
  EXPECT_EQ(path.status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(IndexDirectoryTest, SwapInReplacesCurrentAtomically) {
  const std::string first = NewGenerationOrDie();
  const std::string second = NewGenerationOrDie();

  ASSERT_TRUE(SwapIn(dir_, first).ok());
  EXPECT_EQ(CurrentIndexPath(dir_).value_or(""), first);

  ASSERT_TRUE(SwapIn(dir_, second).ok());
  EXPECT_EQ(CurrentIndexPath(dir_).value_or(""), second);

  const fs::path link = fs::path(dir_) / "current";
  EXPECT_TRUE(fs::is_symlink(link));
  // Relative, so the whole directory can move.
  EXPECT_EQ(fs::read_symlink(link), fs::path("gen-000002"));
  EXPECT_FALSE(fs::exists(fs::symlink_status(fs::path(dir_) / "current.new")));
  // The old generation is still there for readers that hold it open.
  EXPECT_TRUE(fs::is_directory(first));
}

TEST_F(IndexDirectoryTest, SwapInOverAStaleStagingLinkStillWorks) {
  const std::string first = NewGenerationOrDie();
  // What a crash between creating and renaming the staged link leaves.
  fs::create_directory_symlink("gen-000042", fs::path(dir_) / "current.new");
  ASSERT_TRUE(SwapIn(dir_, first).ok());
  EXPECT_EQ(CurrentIndexPath(dir_).value_or(""), first);
}

TEST_F(IndexDirectoryTest, RemoveOldGenerationsKeepsCurrentAndPrevious) {
  const std::string first = NewGenerationOrDie();
  const std::string second = NewGenerationOrDie();
  const std::string third = NewGenerationOrDie();
  ASSERT_TRUE(SwapIn(dir_, third).ok());

  ASSERT_TRUE(RemoveOldGenerations(dir_).ok());
  EXPECT_FALSE(fs::exists(first));
  EXPECT_TRUE(fs::is_directory(second));
  EXPECT_TRUE(fs::is_directory(third));
  EXPECT_EQ(CurrentIndexPath(dir_).value_or(""), third);

  // Idempotent; and the writer's lock file and other entries stay.
  std::ofstream(fs::path(dir_) / "writer.lock") << "";
  ASSERT_TRUE(RemoveOldGenerations(dir_).ok());
  EXPECT_TRUE(fs::is_directory(second));
  EXPECT_TRUE(fs::exists(fs::path(dir_) / "writer.lock"));
}

TEST_F(IndexDirectoryTest, RemoveOldGenerationsWithoutCurrentRemovesNothing) {
  const std::string first = NewGenerationOrDie();
  const std::string second = NewGenerationOrDie();
  const std::string third = NewGenerationOrDie();
  EXPECT_TRUE(RemoveOldGenerations(dir_).ok());
  EXPECT_TRUE(fs::is_directory(first));
  EXPECT_TRUE(fs::is_directory(second));
  EXPECT_TRUE(fs::is_directory(third));
}

}  // namespace
}  // namespace deja::index
