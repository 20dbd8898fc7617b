#include "store/postmortem_rows.h"

#include "gtest/gtest.h"

namespace deja {
namespace {

google::protobuf::Timestamp At(int64_t seconds, int32_t nanos = 0) {
  google::protobuf::Timestamp time;
  time.set_seconds(seconds);
  time.set_nanos(nanos);
  return time;
}

TEST(SqlTimestampTest, YearHasFourDigits) {
  // PostgreSQL reads "12-01-02T..." as 2002-12-01.
  EXPECT_EQ(SqlTimestamp(At(-61788441600)), "0012-01-02T00:00:00+00:00");
  EXPECT_EQ(SqlTimestamp(At(-2208988800)), "1900-01-01T00:00:00+00:00");
  EXPECT_EQ(SqlTimestamp(At(253402300799, 999999000)),
            "9999-12-31T23:59:59.999999+00:00");
  EXPECT_EQ(SqlTimestamp(At(1704067200, 250000000)),
            "2024-01-01T00:00:00.25+00:00");
}

TEST(SqlArrayTest, QuotesEveryValueAndEscapesQuotesAndBackslashes) {
  EXPECT_EQ(SqlArray({}), "{}");
  EXPECT_EQ(SqlArray({""}), "{\"\"}");
  EXPECT_EQ(SqlArray({"a", "NULL", "x,y {z}"}), "{\"a\",\"NULL\",\"x,y {z}\"}");
  EXPECT_EQ(SqlArray({"say \"hi\"", "C:\\dir"}),
            "{\"say \\\"hi\\\"\",\"C:\\\\dir\"}");
}

TEST(NormalizeForStorageTest, TrimsTeamAndLowercasesActionItemIds) {
  v1::Postmortem postmortem;
  postmortem.set_team("  payments ");
  postmortem.add_action_items()->set_id("9F1C2D3E-4B5A-4C6D-8E7F-0A1B2C3D4E5F");
  const v1::Postmortem stored = NormalizeForStorage(postmortem);
  EXPECT_EQ(stored.team(), "payments");
  EXPECT_EQ(stored.action_items(0).id(),
            "9f1c2d3e-4b5a-4c6d-8e7f-0a1b2c3d4e5f");
}

}  // namespace
}  // namespace deja
