#include "indexer/synonyms.h"

#include <xapian.h>

#include <set>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "indexer/document_builder.h"

namespace deja::index {
namespace {

using ::testing::Contains;
using ::testing::Ge;
using ::testing::IsEmpty;
using ::testing::Not;

TEST(SynonymsTest, TableHasManyLowercaseGroups) {
  const auto& groups = SynonymGroups();
  EXPECT_THAT(groups.size(), Ge(40u));
  for (const auto& group : groups) {
    EXPECT_THAT(group.size(), Ge(2u));
    for (const std::string& member : group) {
      EXPECT_EQ(member, Xapian::Unicode::tolower(member));
      EXPECT_EQ(member.find("  "), std::string::npos);
    }
  }
}

TEST(SynonymsTest, KnownJargonIsGrouped) {
  EXPECT_THAT(SynonymsOf("oom"), Contains("out of memory"));
  EXPECT_THAT(SynonymsOf("out of memory"), Contains("oomkilled"));
  EXPECT_THAT(SynonymsOf("pg"), Contains("postgresql"));
  EXPECT_THAT(SynonymsOf("k8s"), Contains("kubernetes"));
  EXPECT_THAT(SynonymsOf("503"), Contains("5xx"));
  EXPECT_THAT(SynonymsOf("cert"), Contains("tls"));
  EXPECT_THAT(SynonymsOf("dns"), Contains("nameserver"));
  EXPECT_THAT(SynonymsOf("lb"), Contains("load balancer"));
  EXPECT_THAT(SynonymsOf("db"), Contains("database"));
  EXPECT_THAT(SynonymsOf("oom"), Not(Contains("oom")));
  EXPECT_THAT(SynonymsOf("checkout"), IsEmpty());
}

TEST(SynonymsTest, FindsLongestSpans) {
  const std::vector<std::string> words = {"the",  "pods",    "ran",    "out",
                                          "of",   "memory",  "behind", "the",
                                          "load", "balancer"};
  const std::vector<SynonymSpan> spans = FindSynonymSpans(words);
  ASSERT_EQ(spans.size(), 2u);
  EXPECT_EQ(spans[0].first_word, 3u);
  EXPECT_EQ(spans[0].word_count, 3u);
  EXPECT_THAT(SynonymGroups()[spans[0].group], Contains("oom"));
  EXPECT_EQ(spans[1].first_word, 8u);
  EXPECT_EQ(spans[1].word_count, 2u);
  EXPECT_THAT(SynonymGroups()[spans[1].group], Contains("lb"));
}

// The group term finds documents that use another form of the same thing.
TEST(SynonymsTest, GroupTermMatchesEveryForm) {
  Xapian::WritableDatabase db(std::string(), Xapian::DB_BACKEND_INMEMORY);
  auto add = [&db](const std::string& id, const std::string& title) {
    v1::Postmortem postmortem;
    postmortem.set_id(id);
    postmortem.set_title(title);
    db.replace_document(IdTerm(id), BuildDocument(postmortem));
  };
  add("a", "Workers were OOMKilled during the batch");
  add("b", "The JVM ran out of memory");
  add("c", "Disk latency on the storage nodes");
  add("d", "Out of disk; memory was fine");
  db.commit();

  const std::vector<SynonymSpan> spans = FindSynonymSpans({"oom"});
  ASSERT_EQ(spans.size(), 1u);
  auto found = [&db](const std::string& term) {
    Xapian::Enquire enquire(db);
    enquire.set_query(Xapian::Query(term));
    std::set<std::string> ids;
    const Xapian::MSet mset = enquire.get_mset(0, 10);
    for (auto it = mset.begin(); it != mset.end(); ++it) {
      v1::IncidentSummary summary;
      EXPECT_TRUE(summary.ParseFromString(it.get_document().get_data()));
      ids.insert(summary.id());
    }
    return ids;
  };
  EXPECT_EQ(SynonymGroupTerm(spans[0].group, ""), "Z#oom");
  EXPECT_EQ(found("Z#oom"), (std::set<std::string>{"a", "b"}));
  // The title's own group term, and the headline's.
  EXPECT_EQ(found(SynonymGroupTerm(spans[0].group, "S")),
            (std::set<std::string>{"a", "b"}));
  EXPECT_EQ(found(SynonymGroupTerm(spans[0].group, "XH")),
            (std::set<std::string>{"a", "b"}));
  EXPECT_THAT(found(SynonymGroupTerm(spans[0].group, "XS")), IsEmpty());
}

// An entry that is not its own stem matches as written and in its plural,
// not every word of its stem: "resolved" is no resolver.
TEST(SynonymsTest, EntriesThatAreNotTheirStemMatchAsWritten) {
  const auto holds_dns = [](const std::string& title) {
    v1::Postmortem postmortem;
    postmortem.set_id("x");
    postmortem.set_title(title);
    const Xapian::Document document = BuildDocument(postmortem);
    const std::vector<SynonymSpan> spans = FindSynonymSpans({"dns"});
    const std::string term = SynonymGroupTerm(spans.at(0).group, "");
    Xapian::TermIterator it = document.termlist_begin();
    it.skip_to(term);
    return it != document.termlist_end() && *it == term;
  };
  EXPECT_FALSE(holds_dns("The incident was resolved within the hour"));
  EXPECT_TRUE(holds_dns("Both resolvers timed out"));
  EXPECT_TRUE(holds_dns("The resolver timed out"));
}

// Xapian stems no word that starts with a digit: such entries ("503",
// "2fa") count as written.
TEST(SynonymsTest, EntriesStartingWithADigitCountAsWritten) {
  v1::Postmortem postmortem;
  postmortem.set_id("edge");
  postmortem.set_title("The edge answered 503 to every request");
  const Xapian::Document document = BuildDocument(postmortem);
  const std::vector<SynonymSpan> spans = FindSynonymSpans({"5xx"});
  ASSERT_EQ(spans.size(), 1u);
  std::set<std::string> terms(document.termlist_begin(),
                              document.termlist_end());
  EXPECT_TRUE(terms.count(SynonymGroupTerm(spans[0].group, "")));
  EXPECT_TRUE(terms.count(SynonymGroupTerm(spans[0].group, "S")));
  EXPECT_FALSE(terms.count("Z503"));
}

// A group term's wdf sums its forms: single words by stem (each counting
// its own wdf), phrases by their positions, each occurrence the field's
// weight; the all-text term sums the fields that are in all text.
TEST(SynonymsTest, GroupTermWdfCountsEachForm) {
  Xapian::Document document;
  Xapian::TermGenerator generator;
  generator.set_document(document);
  generator.set_stemmer(Xapian::Stem("english"));
  generator.index_text("deployments broke; we deployed a rollout again", 2,
                       "S");
  generator.increase_termpos(100);
  generator.index_text("the rollout was rolled out twice", 1, "XN");
  generator.increase_termpos(100);
  generator.index_text("rolled", 5, "XC");
  generator.increase_termpos(100);
  generator.index_text("out", 5, "XC");
  generator.increase_termpos(100);
  generator.index_text("rolled out", 1, "XH");
  AddSynonymGroupTerms({{"S", 2}, {"XN", 1}, {"XC", 5}, {"XH", 1, false}},
                       document);
  const std::vector<SynonymSpan> spans = FindSynonymSpans({"deploy"});
  ASSERT_EQ(spans.size(), 1u);
  auto wdf = [&document](const std::string& term) -> Xapian::termcount {
    Xapian::TermIterator it = document.termlist_begin();
    it.skip_to(term);
    return it != document.termlist_end() && *it == term ? it.get_wdf() : 0;
  };
  // "deployments" and "deployed" (stem deploy), "rollout": 3 words x 2.
  EXPECT_EQ(wdf(SynonymGroupTerm(spans[0].group, "S")), 6u);
  // "rollout" and the phrase "rolled out".
  EXPECT_EQ(wdf(SynonymGroupTerm(spans[0].group, "XN")), 2u);
  // "rolled" and "out" in two entries of the field are not the phrase.
  EXPECT_EQ(wdf(SynonymGroupTerm(spans[0].group, "XC")), 0u);
  EXPECT_EQ(wdf(SynonymGroupTerm(spans[0].group, "XH")), 1u);
  EXPECT_EQ(wdf(SynonymGroupTerm(spans[0].group, "")), 8u);
}

TEST(SynonymsTest, GroupKeysAreDistinctAndTheFingerprintFollowsTheTable) {
  std::set<std::string> terms;
  for (size_t g = 0; g < SynonymGroups().size(); ++g) {
    const std::string term = SynonymGroupTerm(g, "");
    EXPECT_TRUE(terms.insert(term).second) << term;
    EXPECT_LE(term.size() + 5, 245u);
  }
  EXPECT_EQ(SynonymTableFingerprint(), SynonymTableFingerprint());
  EXPECT_NE(SynonymTableFingerprint(), 0u);
}

}  // namespace
}  // namespace deja::index
