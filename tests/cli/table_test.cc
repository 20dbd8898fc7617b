#include "cli/table.h"

#include "gtest/gtest.h"

namespace deja::cli {
namespace {

TEST(TableTest, AlignsColumnsWithoutTrailingSpaces) {
  Table table({"ID", "SEV", "TITLE"});
  table.AddRow({"pm-1", "SEV1", "Checkout down"});
  table.AddRow({"pm-22", "SEV3", "Slow search"});
  EXPECT_EQ(table.Render(),
            "ID     SEV   TITLE\n"
            "pm-1   SEV1  Checkout down\n"
            "pm-22  SEV3  Slow search\n");
}

TEST(TableTest, AlignsByDisplayWidthNotBytes) {
  Table table({"TEAM", "X"});
  table.AddRow({"café", "1"});
  table.AddRow({"abcde", "2"});
  EXPECT_EQ(table.Render(),
            "TEAM   X\n"
            "café   1\n"
            "abcde  2\n");
}

TEST(TableTest, TruncatesToMaxWidth) {
  Table table({"ID", "TITLE"});
  table.SetMaxWidth(1, 10);
  table.AddRow({"1", "Checkout latency spike after config push"});
  table.AddRow({"2", "Ünïcödé ẗïẗlë ẅïẗḧ äccënẗs"});
  EXPECT_EQ(table.Render(),
            "ID  TITLE\n"
            "1   Checkout…\n"
            "2   Ünïcödé ẗ…\n");
}

TEST(TableTest, HeaderWiderThanCells) {
  Table table({"VERSION", "ID"});
  table.AddRow({"1", "x"});
  EXPECT_EQ(table.Render(),
            "VERSION  ID\n"
            "1        x\n");
}

TEST(TableTest, CellsStayOnOneLine) {
  Table table({"A", "B"});
  table.AddRow({"two\nlines", "tab\there"});
  EXPECT_EQ(table.Render(),
            "A          B\n"
            "two lines  tab here\n");
}

TEST(TableTest, MissingCellsAreEmptyAndExtraDropped) {
  Table table({"A", "B", "C"});
  table.AddRow({"1"});
  table.AddRow({"1", "2", "3", "4"});
  EXPECT_EQ(table.row_count(), 2u);
  EXPECT_EQ(table.Render(),
            "A  B  C\n"
            "1\n"
            "1  2  3\n");
}

}  // namespace
}  // namespace deja::cli
