#include "store/connection_pool.h"

#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace deja {
namespace {

constexpr char kKeepalives[] =
    "keepalives=1 keepalives_idle=30 keepalives_interval=10 "
    "keepalives_count=3";

TEST(WithConnectLimitsTest, AppendsToKeyValueForm) {
  EXPECT_EQ(
      WithConnectLimits("host=/run/pg dbname=deja", absl::Seconds(7)),
      std::string("host=/run/pg dbname=deja connect_timeout=7 ") + kKeepalives);
}

TEST(WithConnectLimitsTest, AppendsQueryParametersToUrls) {
  EXPECT_EQ(WithConnectLimits("postgresql://db/deja", absl::Seconds(5)),
            "postgresql://db/deja?connect_timeout=5&keepalives=1&"
            "keepalives_idle=30&keepalives_interval=10&keepalives_count=3");
  EXPECT_EQ(
      WithConnectLimits("postgres://db/deja?sslmode=require", absl::Seconds(5)),
      "postgres://db/deja?sslmode=require&connect_timeout=5&keepalives=1&"
      "keepalives_idle=30&keepalives_interval=10&keepalives_count=3");
}

TEST(WithConnectLimitsTest, TimeoutIsTheSecondsLeftRoundedUpWithin2To30) {
  auto timeout = [](absl::Duration left) {
    const std::string text = WithConnectLimits("", left);
    return text.substr(0, text.find(' '));
  };
  EXPECT_EQ(timeout(absl::Milliseconds(4100)), "connect_timeout=5");
  EXPECT_EQ(timeout(absl::Milliseconds(100)), "connect_timeout=2");
  EXPECT_EQ(timeout(-absl::Seconds(3)), "connect_timeout=2");
  EXPECT_EQ(timeout(absl::Minutes(5)), "connect_timeout=30");
  EXPECT_EQ(timeout(absl::InfiniteDuration()), "connect_timeout=30");
}

TEST(WithConnectLimitsTest, KeepsSettingsTheStringAlreadyNames) {
  EXPECT_EQ(WithConnectLimits("dbname=deja connect_timeout=3 keepalives=0",
                              absl::Seconds(20)),
            "dbname=deja connect_timeout=3 keepalives=0 keepalives_idle=30 "
            "keepalives_interval=10 keepalives_count=3");
}

}  // namespace
}  // namespace deja
