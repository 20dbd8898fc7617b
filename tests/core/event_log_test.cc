#include "core/event_log.h"

#include "gtest/gtest.h"

namespace deja {
namespace {

TEST(OneLineTest, FoldsLibpqStyleMessagesIntoOneLine) {
  EXPECT_EQ(OneLine("connection failed: No such file\n\tIs the server "
                    "running?\n"),
            "connection failed: No such file Is the server running?");
}

TEST(OneLineTest, KeepsSingleLinesAndInnerSpacing) {
  EXPECT_EQ(OneLine("  a  b "), "a  b");
  EXPECT_EQ(OneLine("a\r\nb"), "a b");
  EXPECT_EQ(OneLine("a \nb"), "a b");
  EXPECT_EQ(OneLine(""), "");
}

}  // namespace
}  // namespace deja
