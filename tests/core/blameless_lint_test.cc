#include "core/blameless_lint.h"

#include <gmock/gmock.h>
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <ostream>
#include <sstream>
#include <string>
#include <vector>

namespace deja {
namespace {

using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::SizeIs;

// A postmortem whose summary is `text`, with participants and a service so
// that names and service names are known to the lint. A name opening a
// sentence is found only when it is a participant's, hence Priya, Jordan and
// Zoë.
v1::Postmortem WithSummary(const std::string& text) {
  v1::Postmortem postmortem;
  postmortem.set_team("payments");
  postmortem.add_services("checkout");
  postmortem.add_tags("config");
  v1::Participant* participant = postmortem.add_participants();
  participant->set_name("alex.doe");
  participant->set_role("on-call");
  for (const char* name : {"Priya Raman", "Jordan Lee", "Zoë Novak"}) {
    postmortem.add_participants()->set_name(name);
  }
  postmortem.set_summary(text);
  return postmortem;
}

std::vector<BlameFinding> Lint(const std::string& text) {
  return LintBlameless(WithSummary(text));
}

// The single finding's rule, or a description of what was found instead.
std::string OnlyRule(const std::string& text) {
  const std::vector<BlameFinding> findings = Lint(text);
  if (findings.size() != 1) {
    std::string all = std::to_string(findings.size()) + " findings:";
    for (const BlameFinding& f : findings) all += " " + f.rule + "/" + f.phrase;
    return all;
  }
  return findings[0].rule;
}

struct TruePositive {
  const char* text;
  const char* rule;
  const char* phrase;
};

// Test listings name a case by its rule and text, not by its bytes.
void PrintTo(const TruePositive& example, std::ostream* out) {
  *out << example.rule << ": " << example.text;
}

class BlamefulTextTest : public ::testing::TestWithParam<TruePositive> {};

TEST_P(BlamefulTextTest, IsFoundWithItsRuleAndPhraseAsWritten) {
  const TruePositive& c = GetParam();
  const std::vector<BlameFinding> findings = Lint(c.text);
  ASSERT_THAT(findings, SizeIs(1)) << c.text;
  EXPECT_EQ(findings[0].rule, c.rule) << c.text;
  EXPECT_EQ(findings[0].phrase, c.phrase) << c.text;
  EXPECT_EQ(findings[0].field, "summary");
  EXPECT_THAT(findings[0].suggestion, Not(IsEmpty()));
}

INSTANTIATE_TEST_SUITE_P(
    EveryRule, BlamefulTextTest,
    ::testing::Values(
        TruePositive{"The outage was caused by human error.", "human-error",
                     "human error"},
        TruePositive{"Root cause: Human Error", "human-error", "Human Error"},
        TruePositive{"A classic operator error took the site down.",
                     "human-error", "operator error"},
        TruePositive{"It was Sam's fault.", "fault", "Sam's fault"},
        TruePositive{"Honestly this was his fault.", "fault", "his fault"},
        TruePositive{"It was the fault of the engineer on shift.", "fault",
                     "fault of the engineer"},
        TruePositive{"We should have known the limit was per cluster.",
                     "should-have", "should have known"},
        TruePositive{"The reviewer should have caught the typo.", "should-have",
                     "reviewer should have caught"},
        TruePositive{"Alex should have noticed the alert.", "should-have",
                     "Alex should have noticed"},
        TruePositive{"A careless config push broke checkout.", "careless",
                     "careless"},
        TruePositive{"This was negligent.", "careless", "negligent"},
        TruePositive{"Carelessness during the rollout.", "careless",
                     "Carelessness"},
        TruePositive{"Nobody was paying attention because he wasn't paying "
                     "attention.",
                     "careless", "wasn't paying attention"},
        TruePositive{"Priya failed to check the dashboard.", "failed-to",
                     "Priya failed to"},
        TruePositive{"Then she failed to escalate.", "failed-to",
                     "she failed to"},
        TruePositive{"alex.doe failed to run the migration first.", "failed-to",
                     "alex.doe failed to"},
        TruePositive{"The on-call engineer failed to page the DBA.",
                     "failed-to", "engineer failed to"},
        TruePositive{"They forgot to renew the certificate.", "forgot-to",
                     "They forgot"},
        TruePositive{"Jordan forgot to drain the node.", "forgot-to",
                     "Jordan forgot"},
        TruePositive{"The team blamed the vendor.", "blame", "blamed"},
        TruePositive{"Blame lies with the release manager.", "blame", "Blame"},
        TruePositive{"An incompetent change.", "incompetent", "incompetent"},
        TruePositive{"A rookie mistake in the query.", "incompetent",
                     "rookie mistake"},
        TruePositive{"The author didn't bother to test it.", "didnt-bother",
                     "didn't bother"},
        TruePositive{"The author didn’t bother to test it.", "didnt-bother",
                     "didn’t bother"},
        TruePositive{"Someone fat-fingered the weight.", "person-mistake",
                     "fat-fingered"},
        TruePositive{"Ops dropped the ball on renewals.", "person-mistake",
                     "dropped the ball"}));

TEST(BlamelessLintTest, TextWithoutBlameHasNoFindings) {
  EXPECT_THAT(
      Lint("The health check failed to detect the hung worker. The deploy "
           "failed to roll back and the alert failed to fire. Retries "
           "failed to help."),
      IsEmpty());
}

TEST(BlamelessLintTest, SystemsThatFailedAreNotPeople) {
  for (const char* text : {
           "Kubernetes failed to schedule the pods.",
           "Failover failed to promote the replica.",
           "Replication failed to catch up.",
           "Checkout failed to reach the processor.",
           "Tests should have caught the regression, but none covered it.",
           "The canary should have caught it.",
           "It failed to start.",
           "The disk controller reported a fault of the second kind.",
           "The checkout's fault counter rose.",
           "Its fault LED was on.",
       }) {
    EXPECT_THAT(Lint(text), IsEmpty()) << text;
  }
}

TEST(BlamelessLintTest, CapitalisedFirstWordOfASentenceIsNotTakenForAName) {
  for (const char* text : {
           "Scheduler failed to place pods.",
           "Retry failed to help.",
           "Review failed to catch it.",
           "Autoscaler failed to add nodes.",
           "Flux failed to reconcile.",
           "Celery failed to ack the task.",
           "Sidekiq failed to retry.",
           "Karpenter failed to provision nodes.",
           "Certbot failed to renew the certificate.",
           "Debezium failed to read the WAL.",
           "Stripe failed to respond.",
           "Sentry neglected to group the errors.",
           "Monday failed to start on time.",
           "The queue grew. Sidekiq failed to retry.",
           "Notes: Karpenter failed to provision nodes.",
           "Steps taken:\n- Certbot failed to renew.\n- Flux forgot nothing.",
           "The nightly backup on Monday failed to complete.",
       }) {
    EXPECT_THAT(Lint(text), IsEmpty()) << text;
  }
}

TEST(BlamelessLintTest, CapitalisedNameMidSentenceIsStillAFinding) {
  EXPECT_EQ(OnlyRule("The deploy went out after Sam failed to check."),
            "failed-to");
  EXPECT_EQ(OnlyRule("At 09:10 Sam failed to check the dashboard."),
            "failed-to");
  EXPECT_EQ(OnlyRule("The alert fired and Robin forgot to ack it."),
            "forgot-to");
  // A line that merely wraps a sentence does not start a new one.
  EXPECT_EQ(OnlyRule("The deploy went out after\nSam failed to check."),
            "failed-to");
}

TEST(BlamelessLintTest, ParticipantNameOpeningASentenceIsAFinding) {
  EXPECT_EQ(OnlyRule("Priya failed to check the dashboard."), "failed-to");
  EXPECT_EQ(OnlyRule("The page went out. Jordan neglected to ack it."),
            "failed-to");
  EXPECT_EQ(OnlyRule("Alex should have noticed the alert."), "should-have");
  // Not a participant: the capital alone does not make a person.
  EXPECT_THAT(Lint("Sam failed to check the dashboard."), IsEmpty());
}

// "they" may be pods or people; the lint cannot tell and asks for a
// rewording that names the subject.
TEST(BlamelessLintTest, TheyIsTakenForPeople) {
  EXPECT_EQ(OnlyRule("They failed to start because the disk was full."),
            "failed-to");
}

TEST(BlamelessLintTest, ParticipantNamePartsMatchOnlyWhenCapitalised) {
  v1::Postmortem postmortem;
  for (const char* name : {"Max Power", "Will Smith", "Mark Lee", "Rob Key",
                           "Chase Young", "alex.doe", "jdoe"}) {
    postmortem.add_participants()->set_name(name);
  }
  for (const char* cause : {
           "The pool hit max connections.",
           "Retries will pile up without a backoff.",
           "Nothing could mark the node unhealthy.",
           "The cache key had no version.",
           "Clients chase the leader after a failover.",
           "Set a max and a limit.",
       }) {
    postmortem.add_root_causes()->set_description(cause);
  }
  EXPECT_THAT(LintBlameless(postmortem), IsEmpty());

  for (const char* cause : {
           "The config Max pushed had no schema.",
           "The script Will ran had no dry run.",
           "Changes ALEX.DOE merged skipped review.",
           "The job jdoe started had no limit.",
           "The flag Alex set was global.",
       }) {
    postmortem.add_root_causes()->set_description(cause);
  }
  std::vector<std::string> phrases;
  for (const BlameFinding& finding : LintBlameless(postmortem)) {
    EXPECT_EQ(finding.rule, "person-as-root-cause");
    phrases.push_back(finding.phrase);
  }
  EXPECT_THAT(phrases, ElementsAre("Max", "Will", "ALEX.DOE", "jdoe", "Alex"));
}

TEST(BlamelessLintTest, DenialsOfBlameAreNotFindings) {
  for (const char* text : {
           "This review is blameless.",
           "We run blame-free reviews.",
           "No one is to blame.",
           "This was not human error but a missing guardrail.",
           "We avoid blame in reviews.",
           "It was nobody's fault.",
           "Human error was ruled out.",
           "Human error has been ruled out early on.",
           "The error budget was blamed on nobody.",
           "The outage was blamed on no one.",
       }) {
    EXPECT_THAT(Lint(text), IsEmpty()) << text;
  }
}

TEST(BlamelessLintTest, WordsInsideIdentifiersAreNotFindings) {
  for (const char* text : {
           "The metric human_error_total was flat.",
           "The flag careless-mode was off.",
           "See /var/log/blame.log and ops.blame.count for details.",
           "The function blameOwner() ran.",
           "Set human.error=false.",
       }) {
    EXPECT_THAT(Lint(text), IsEmpty()) << text;
  }
}

TEST(BlamelessLintTest, DoubleQuotedTextIsReportedSpeechNotAFinding) {
  EXPECT_THAT(Lint("We no longer accept \"human error\" as a root cause."),
              IsEmpty());
  EXPECT_THAT(Lint("The old report said “it was Sam's fault”."), IsEmpty());
  // An unbalanced quote mark quotes nothing.
  EXPECT_EQ(OnlyRule("The \"ticket says human error."), "human-error");
}

TEST(BlamelessLintTest, MatchingIsCaseInsensitive) {
  EXPECT_EQ(OnlyRule("HUMAN ERROR"), "human-error");
  EXPECT_EQ(OnlyRule("He Failed To check."), "failed-to");
}

TEST(BlamelessLintTest, WordsMustBeWholeAndAdjacent) {
  EXPECT_THAT(Lint("humanerror"), IsEmpty());
  EXPECT_THAT(Lint("a human, error-prone process"), IsEmpty());
  EXPECT_THAT(Lint("blamed2"), IsEmpty());
  EXPECT_EQ(OnlyRule("human\n  error"), "human-error");
}

TEST(BlamelessLintTest, NonAsciiTextIsSafeAndLettersStayWhole) {
  EXPECT_THAT(Lint("Zoë's dashboard showed the spike"), IsEmpty());
  EXPECT_THAT(Lint("überblame and blameé are not words here"), IsEmpty());
  EXPECT_EQ(OnlyRule("Zoë failed to page — human error"),
            "2 findings: failed-to/Zoë failed to human-error/human error");
  // Truncated UTF-8 must not read past the end.
  EXPECT_THAT(Lint("careful \xE2\x80"), IsEmpty());
  EXPECT_EQ(OnlyRule("“blamed"), "blame");
}

TEST(BlamelessLintTest, ParticipantAsRootCauseSubjectIsAFindingThereOnly) {
  v1::Postmortem postmortem = WithSummary("alex.doe rolled the config back.");
  postmortem.add_participants()->set_name("Priya Raman");
  postmortem.add_root_causes()->set_description(
      "The rate limit was set per cluster.");
  postmortem.add_root_causes()->set_description(
      "alex.doe pushed a bad config.");
  postmortem.add_root_causes()->set_description(
      "The config Raman reviewed had no schema.");
  const std::vector<BlameFinding> findings = LintBlameless(postmortem);
  EXPECT_THAT(
      findings,
      ElementsAre(
          AllOf(Field(&BlameFinding::field, "root_causes[1].description"),
                Field(&BlameFinding::phrase, "alex.doe"),
                Field(&BlameFinding::rule, "person-as-root-cause")),
          AllOf(Field(&BlameFinding::field, "root_causes[2].description"),
                Field(&BlameFinding::phrase, "Raman"),
                Field(&BlameFinding::rule, "person-as-root-cause"))));
}

TEST(BlamelessLintTest, EveryProseFieldIsCheckedAndNamedByPath) {
  const std::string bad = "human error";
  v1::Postmortem p;
  p.set_title(bad);
  p.set_summary(bad);
  p.mutable_impact()->set_description(bad);
  p.mutable_detection()->set_description(bad);
  p.add_timeline()->set_description(bad);
  v1::Why* why = p.add_whys();
  why->set_question(bad);
  why->set_answer(bad);
  p.add_root_causes()->set_description(bad);
  p.add_contributing_factors("fine");
  p.add_contributing_factors(bad);
  p.set_resolution(bad);
  p.add_mitigation_steps(bad);
  v1::ActionItem* item = p.add_action_items();
  item->set_description(bad);
  item->set_owner("human error");  // owners are names, not prose
  p.mutable_lessons()->add_went_well(bad);
  p.mutable_lessons()->add_went_wrong(bad);
  p.mutable_lessons()->add_got_lucky(bad);
  p.set_narrative(bad);
  p.add_log_lines("ERROR human error");  // pasted logs are not prose
  std::vector<std::string> fields;
  for (const BlameFinding& finding : LintBlameless(p)) {
    EXPECT_EQ(finding.phrase, bad);
    fields.push_back(finding.field);
  }
  EXPECT_THAT(fields,
              ElementsAre("title", "summary", "impact.description",
                          "detection.description", "timeline[0].description",
                          "whys[0].question", "whys[0].answer",
                          "root_causes[0].description",
                          "contributing_factors[1]", "resolution",
                          "mitigation_steps[0]", "action_items[0].description",
                          "lessons.went_well[0]", "lessons.went_wrong[0]",
                          "lessons.got_lucky[0]", "narrative"));
}

// "operator" starts a rule's words ("operator error") and is also a role
// that fills <person> and <someone>: all three rules are tried there.
TEST(BlamelessLintTest, AWordThatStartsAPhraseCanAlsoFillAPlaceholder) {
  EXPECT_THAT(Lint("An operator error took the site down."),
              ElementsAre(Field(&BlameFinding::rule, "human-error")));
  EXPECT_THAT(
      Lint("The operator failed to page the DBA."),
      ElementsAre(AllOf(Field(&BlameFinding::rule, "failed-to"),
                        Field(&BlameFinding::phrase, "operator failed to"))));
  EXPECT_THAT(Lint("The operator was at fault."),
              ElementsAre(AllOf(
                  Field(&BlameFinding::rule, "fault"),
                  Field(&BlameFinding::phrase, "operator was at fault"))));
}

// In a root cause, "Priya failed to" matches both failed-to and
// person-as-root-cause at "Priya"; the rule listed first wins and its
// phrase is reported once.
TEST(BlamelessLintTest, RulesMatchingAtTheSameWordReportTheFirstRuleOnly) {
  v1::Postmortem postmortem = WithSummary("");
  postmortem.add_root_causes()->set_description(
      "Priya failed to check the dashboard.");
  EXPECT_THAT(
      LintBlameless(postmortem),
      ElementsAre(AllOf(Field(&BlameFinding::rule, "failed-to"),
                        Field(&BlameFinding::phrase, "Priya failed to"))));
}

TEST(BlamelessLintTest, SeveralFindingsInOneFieldComeInTextOrder) {
  const std::vector<BlameFinding> findings =
      Lint("Blame aside, he failed to check; it was careless.");
  ASSERT_THAT(findings, SizeIs(3));
  EXPECT_EQ(findings[0].rule, "blame");
  EXPECT_EQ(findings[1].rule, "failed-to");
  EXPECT_EQ(findings[2].rule, "careless");
}

// samples/postmortems of the source tree: $DEJA_SAMPLES, or found above the
// test binary (the build directory lives in the source tree) or the working
// directory. Empty when not found.
std::filesystem::path SamplesDir() {
  namespace fs = std::filesystem;
  if (const char* env = std::getenv("DEJA_SAMPLES"); env != nullptr && *env) {
    return env;
  }
  std::error_code error;
  for (fs::path dir :
       {fs::read_symlink("/proc/self/exe", error), fs::current_path(error)}) {
    while (!dir.empty()) {
      const fs::path candidate = dir / "samples" / "postmortems";
      if (fs::is_directory(candidate, error)) return candidate;
      if (dir == dir.parent_path()) break;
      dir = dir.parent_path();
    }
  }
  return {};
}

// The samples are written blameless; a finding in one is either a lint false
// positive or a sample to fix, and either way worth a look.
TEST(BlamelessLintTest, SamplePostmortemsHaveNoFindings) {
  const std::filesystem::path dir = SamplesDir();
  ASSERT_FALSE(dir.empty()) << "samples/postmortems not found; set "
                               "DEJA_SAMPLES";
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() != ".json") continue;
    ++files;
    std::ifstream in(entry.path());
    std::stringstream json;
    json << in.rdbuf();
    v1::Postmortem postmortem;
    ASSERT_TRUE(
        google::protobuf::util::JsonStringToMessage(json.str(), &postmortem)
            .ok())
        << entry.path();
    for (const BlameFinding& finding : LintBlameless(postmortem)) {
      ADD_FAILURE() << entry.path().filename() << ": " << finding.field
                    << ": \"" << finding.phrase << "\" (rule " << finding.rule
                    << ")";
    }
  }
  EXPECT_GT(files, 0) << "no .json files in " << dir;
}

}  // namespace
}  // namespace deja
