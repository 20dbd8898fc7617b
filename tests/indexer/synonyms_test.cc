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

// The expansion finds documents that use another form of the same thing.
TEST(SynonymsTest, ExpansionMatchesOtherForms) {
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
  db.commit();

  const std::vector<SynonymSpan> spans = FindSynonymSpans({"oom"});
  ASSERT_EQ(spans.size(), 1u);
  Xapian::Enquire enquire(db);
  enquire.set_query(SynonymQuery(spans[0].group, "", Xapian::Stem("english")));
  std::set<std::string> found;
  const Xapian::MSet mset = enquire.get_mset(0, 10);
  for (auto it = mset.begin(); it != mset.end(); ++it) {
    v1::IncidentSummary summary;
    ASSERT_TRUE(summary.ParseFromString(it.get_document().get_data()));
    found.insert(summary.id());
  }
  EXPECT_EQ(found, (std::set<std::string>{"a", "b"}));

  // The title prefix form only looks at titles, and still expands.
  enquire.set_query(SynonymQuery(spans[0].group, "S", Xapian::Stem("english")));
  EXPECT_EQ(enquire.get_mset(0, 10).size(), 2u);
}

}  // namespace
}  // namespace deja::index
