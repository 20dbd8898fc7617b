#include "core/import_defaults.h"

#include "gmock/gmock.h"
#include "google/protobuf/util/time_util.h"
#include "gtest/gtest.h"

namespace deja {
namespace {

using ::google::protobuf::util::TimeUtil;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

v1::Postmortem Complete() {
  v1::Postmortem postmortem;
  postmortem.set_team("payments");
  postmortem.add_services("checkout");
  postmortem.set_severity(v1::SEV2);
  *postmortem.mutable_started_at() = TimeUtil::SecondsToTimestamp(1000);
  postmortem.add_action_items()->set_owner("sre");
  return postmortem;
}

TEST(ImportDefaultsTest, CompletePostmortemIsLeftAlone) {
  v1::Postmortem postmortem = Complete();
  const v1::Postmortem before = postmortem;
  EXPECT_THAT(ApplyImportDefaults(ImportDefaults(), postmortem), IsEmpty());
  EXPECT_EQ(postmortem.SerializeAsString(), before.SerializeAsString());
}

TEST(ImportDefaultsTest, BuiltInDefaultsFillAnEmptyWriteUpAndAreTagged) {
  v1::Postmortem postmortem;
  postmortem.add_tags("k8s");
  postmortem.add_action_items()->set_description("Alert on it");
  EXPECT_THAT(
      ApplyImportDefaults(ImportDefaults(), postmortem),
      ElementsAre("team", "services", "severity", "action_items.owner"));
  EXPECT_EQ(postmortem.team(), "imported");
  EXPECT_THAT(postmortem.services(), ElementsAre("unknown"));
  EXPECT_EQ(postmortem.severity(), v1::SEV3);
  EXPECT_FALSE(postmortem.has_started_at());
  EXPECT_EQ(postmortem.action_items(0).owner(), "imported");
  EXPECT_THAT(postmortem.tags(), ElementsAre("k8s", "import-defaults"));
}

TEST(ImportDefaultsTest, ChosenValuesWinOverBuiltInOnes) {
  v1::Postmortem postmortem;
  postmortem.add_action_items();
  ImportDefaults defaults;
  defaults.team = "platform";
  defaults.service = "kubernetes";
  defaults.severity = v1::SEV4;
  ApplyImportDefaults(defaults, postmortem);
  EXPECT_EQ(postmortem.team(), "platform");
  EXPECT_THAT(postmortem.services(), ElementsAre("kubernetes"));
  EXPECT_EQ(postmortem.severity(), v1::SEV4);
  // Without --owner, the team owns the orphaned action items.
  EXPECT_EQ(postmortem.action_items(0).owner(), "platform");

  defaults.owner = "sre";
  v1::Postmortem other;
  other.add_action_items();
  ApplyImportDefaults(defaults, other);
  EXPECT_EQ(other.action_items(0).owner(), "sre");
}

TEST(ImportDefaultsTest, StartIsTheEarliestStatedTimeSoNothingPrecedesIt) {
  v1::Postmortem postmortem = Complete();
  postmortem.clear_started_at();
  *postmortem.add_timeline()->mutable_at() = TimeUtil::SecondsToTimestamp(500);
  postmortem.add_timeline();  // an event without a time is ignored
  *postmortem.add_timeline()->mutable_at() = TimeUtil::SecondsToTimestamp(300);
  *postmortem.mutable_detected_at() = TimeUtil::SecondsToTimestamp(200);
  EXPECT_THAT(ApplyImportDefaults(ImportDefaults(), postmortem),
              ElementsAre("started_at"));
  EXPECT_EQ(postmortem.started_at().seconds(), 200);
}

TEST(ImportDefaultsTest, TagIsAddedOnce) {
  v1::Postmortem postmortem;
  postmortem.add_tags("import-defaults");
  ApplyImportDefaults(ImportDefaults(), postmortem);
  EXPECT_THAT(postmortem.tags(), ElementsAre("import-defaults"));
}

TEST(ImportDefaultsTest, BlankValuesCountAsMissing) {
  v1::Postmortem postmortem = Complete();
  postmortem.set_team("  ");
  postmortem.set_services(0, "");
  EXPECT_THAT(ApplyImportDefaults(ImportDefaults(), postmortem),
              ElementsAre("team", "services"));
  EXPECT_EQ(postmortem.team(), "imported");
  EXPECT_THAT(postmortem.services(), ElementsAre("unknown"));
  // The action item already had an owner.
  EXPECT_EQ(postmortem.action_items(0).owner(), "sre");
}

}  // namespace
}  // namespace deja
