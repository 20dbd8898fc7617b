#include "store/proto_json.h"

#include <string>

#include "deja/v1/postmortem.pb.h"
#include "gmock/gmock.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"

namespace deja {
namespace {

using google::protobuf::util::MessageDifferencer;

// Every kind of field a postmortem has, several of each.
v1::Postmortem Busy() {
  v1::Postmortem pm;
  pm.set_id("0b0e6f0e-5a53-4d5e-9a57-1f3f6a3c8e11");
  pm.set_version(12);
  pm.set_team("payments");
  pm.set_title("Checkout \"5xx\" <burst> & C:\\path\ttab");
  pm.set_summary(std::string("controls \x01\x1f\x7f end\r\n", 20));
  pm.set_severity(v1::SEV2);
  pm.mutable_started_at()->set_seconds(1704067200);
  pm.mutable_detected_at()->set_seconds(1704067260);
  pm.mutable_detected_at()->set_nanos(500000000);
  pm.mutable_mitigated_at()->set_seconds(-86400);  // before 1970
  pm.mutable_mitigated_at()->set_nanos(1000);
  pm.mutable_resolved_at()->set_seconds(253402300799);  // 9999-12-31
  pm.mutable_resolved_at()->set_nanos(123456789);
  pm.mutable_impact()->set_description("Card payments failed.");
  pm.mutable_impact()->set_users_affected(1200);
  pm.mutable_impact()->mutable_duration()->set_seconds(2400);
  pm.mutable_impact()->mutable_duration()->set_nanos(250000000);
  pm.mutable_detection()->set_source(v1::Detection::ALERT);
  pm.add_services("checkout");
  pm.add_services("ledger-db");
  pm.add_tags("postgres");
  for (int i = 0; i < 3; ++i) {
    v1::TimelineEvent* event = pm.add_timeline();
    event->mutable_at()->set_seconds(1704067200 + 60 * i);
    event->set_description("step " + std::to_string(i));
  }
  v1::Why* why = pm.add_whys();
  why->set_question("Why?");
  why->set_answer("Because.");
  v1::RootCause* cause = pm.add_root_causes();
  cause->set_category(v1::RootCause::CONFIG_CHANGE);
  cause->set_description("Pool size lowered.");
  v1::ActionItem* item = pm.add_action_items();
  item->set_id("1b0e6f0e-5a53-4d5e-9a57-1f3f6a3c8e11");
  item->set_description("Alert on pool use");
  item->set_owner("db-team");
  item->set_status(v1::ActionItem::DONE);
  item->mutable_completed_at()->set_seconds(1704153600);
  v1::ActionItemChange* change = item->add_history();
  change->mutable_at()->set_seconds(1704153600);
  change->set_field("status");
  change->set_old_value("OPEN");
  change->set_new_value("DONE");
  pm.add_action_items()->set_description("Second, all defaults");
  pm.add_log_lines("ERROR: remaining connection slots are reserved");
  pm.add_recurrence_of("2b0e6f0e-5a53-4d5e-9a57-1f3f6a3c8e11");
  return pm;
}

std::string Json(const google::protobuf::Message& message, bool defaults) {
  absl::StatusOr<std::string> json = ProtoJson(message, defaults);
  EXPECT_TRUE(json.ok()) << json.status();
  return json.ok() ? *json : "";
}

std::string Reference(const google::protobuf::Message& message, bool defaults) {
  absl::StatusOr<std::string> json = ProtobufJson(message, defaults);
  EXPECT_TRUE(json.ok()) << json.status();
  return json.ok() ? *json : "";
}

// Both texts as JSON values, so that key order does not matter.
bool SameJson(const std::string& a, const std::string& b) {
  google::protobuf::Value va, vb;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(a, &va).ok()) << a;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(b, &vb).ok()) << b;
  return MessageDifferencer::Equals(va, vb);
}

TEST(ProtoJsonTest, WithoutDefaultsIsProtobufsTextByteForByte) {
  const v1::Postmortem pm = Busy();
  EXPECT_EQ(Json(pm, false), Reference(pm, false));
  EXPECT_EQ(Json(v1::Postmortem(), false), "{}");
}

TEST(ProtoJsonTest, WithDefaultsHasProtobufsFieldsAndValues) {
  for (const v1::Postmortem& pm : {Busy(), v1::Postmortem()}) {
    const std::string json = Json(pm, true);
    EXPECT_TRUE(SameJson(json, Reference(pm, true))) << json;
    // SQL reads the document's defaults.
    EXPECT_THAT(json, ::testing::HasSubstr("\"severity\":"));
    EXPECT_THAT(json, ::testing::HasSubstr("\"timeline\":["));
  }
}

TEST(ProtoJsonTest, ReadsBackAsTheSameMessage) {
  v1::Postmortem pm = Busy();
  pm.set_narrative("Caf\xc3\xa9 \xe2\x80\x94 \xe2\x80\xa8 \xf0\x9f\x94\xa5");
  for (const bool defaults : {false, true}) {
    v1::Postmortem read;
    ASSERT_TRUE(
        google::protobuf::util::JsonStringToMessage(Json(pm, defaults), &read)
            .ok());
    EXPECT_TRUE(MessageDifferencer::Equals(pm, read));
  }
}

TEST(ProtoJsonTest, TimesTakeAsFewFractionDigitsAsTheyNeed) {
  v1::TimelineEvent event;
  for (const int nanos : {0, 5000000, 5000, 5, 999999999}) {
    event.mutable_at()->set_seconds(-62135596800);  // 0001-01-01
    event.mutable_at()->set_nanos(nanos);
    EXPECT_EQ(Json(event, false), Reference(event, false)) << nanos;
  }
  v1::Impact impact;
  for (const auto& [seconds, nanos] : std::vector<std::pair<int64_t, int>>{
           {0, -500000000}, {-3, -1000}, {0, 0}, {7, 1}}) {
    impact.mutable_duration()->set_seconds(seconds);
    impact.mutable_duration()->set_nanos(nanos);
    EXPECT_EQ(Json(impact, false), Reference(impact, false)) << seconds;
  }
}

TEST(ProtoJsonTest, AnEnumValueWithoutANameIsItsNumber) {
  v1::Postmortem pm;
  pm.set_severity(static_cast<v1::Severity>(9));
  EXPECT_EQ(Json(pm, false), "{\"severity\":9}");
  EXPECT_EQ(Json(pm, false), Reference(pm, false));
}

TEST(ProtoJsonTest, WhatTheWriterDoesNotHandleIsLeftToProtobuf) {
  // A time outside Timestamp's JSON range: protobuf's error.
  v1::Postmortem pm;
  pm.mutable_started_at()->set_seconds(253402300800);
  EXPECT_FALSE(ProtoJson(pm, false).ok());
  // Doubles, maps and oneofs (Struct has all three).
  google::protobuf::Struct value;
  (*value.mutable_fields())["n"].set_number_value(1.5);
  (*value.mutable_fields())["s"].set_string_value("x");
  EXPECT_EQ(Json(value, false), Reference(value, false));
}

}  // namespace
}  // namespace deja
