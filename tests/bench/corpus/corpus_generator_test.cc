#include "bench/corpus/corpus_generator.h"

#include <stdlib.h>
#include <xapian.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/blameless_lint.h"
#include "core/error_signature.h"
#include "core/search_validation.h"
#include "core/validation.h"
#include "gtest/gtest.h"
#include "indexer/search.h"

namespace deja::bench {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

constexpr int64_t kSize = 20000;

const CorpusGenerator& Generator() {
  static const CorpusGenerator* const generator =
      new CorpusGenerator(CorpusOptions{7, kSize});
  return *generator;
}

// Bytes of text in every string field, nested messages included.
size_t TextBytes(const Message& message) {
  const Reflection& reflection = *message.GetReflection();
  std::vector<const FieldDescriptor*> fields;
  reflection.ListFields(message, &fields);
  size_t bytes = 0;
  for (const FieldDescriptor* field : fields) {
    const int count =
        field->is_repeated() ? reflection.FieldSize(message, field) : 1;
    for (int k = 0; k < count; ++k) {
      if (field->cpp_type() == FieldDescriptor::CPPTYPE_STRING) {
        bytes += field->is_repeated()
                     ? reflection.GetRepeatedString(message, field, k).size()
                     : reflection.GetString(message, field).size();
      } else if (field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
        bytes +=
            TextBytes(field->is_repeated()
                          ? reflection.GetRepeatedMessage(message, field, k)
                          : reflection.GetMessage(message, field));
      }
    }
  }
  return bytes;
}

TEST(CorpusGeneratorTest, SameSeedAndIndexGiveTheSameBytes) {
  const CorpusGenerator other(CorpusOptions{7, kSize});
  for (int64_t i : {0, 1, 17, 999, 19999}) {
    EXPECT_EQ(Generator().Postmortem(i).SerializeAsString(),
              other.Postmortem(i).SerializeAsString())
        << i;
  }
}

TEST(CorpusGeneratorTest, OtherSeedGivesOtherPostmortems) {
  const CorpusGenerator other(CorpusOptions{8, kSize});
  for (int64_t i : {0, 1, 17, 999}) {
    EXPECT_NE(Generator().Postmortem(i).SerializeAsString(),
              other.Postmortem(i).SerializeAsString());
    EXPECT_EQ(other.Postmortem(i).external_id(), absl::StrCat("gen-8-", i));
  }
}

TEST(CorpusGeneratorTest, OrderDoesNotMatter) {
  const CorpusGenerator forward(CorpusOptions{7, kSize});
  const CorpusGenerator backward(CorpusOptions{7, kSize});
  std::vector<std::string> first;
  for (int64_t i = 0; i < 50; ++i) {
    first.push_back(forward.Postmortem(i).SerializeAsString());
  }
  for (int64_t i = 49; i >= 0; --i) {
    EXPECT_EQ(backward.Postmortem(i).SerializeAsString(),
              first[static_cast<size_t>(i)])
        << i;
  }
}

TEST(CorpusGeneratorTest, TextSizeIsTwoToEightKilobytes) {
  size_t total = 0;
  for (int64_t i = 0; i < 500; ++i) {
    const size_t bytes = TextBytes(Generator().Postmortem(i * 37));
    EXPECT_GE(bytes, 2048u) << i * 37;
    EXPECT_LE(bytes, 8192u) << i * 37;
    total += bytes;
  }
  // The average sits mid-range, not at an edge.
  EXPECT_GT(total / 500, 3000u);
  EXPECT_LT(total / 500, 6500u);
}

TEST(CorpusGeneratorTest, PostmortemsAreValidAndBlameless) {
  for (int64_t i = 0; i < 2000; ++i) {
    const v1::Postmortem postmortem = Generator().Postmortem(i * 7 + 3);
    ASSERT_TRUE(ValidatePostmortem(postmortem).ok())
        << ValidatePostmortem(postmortem);
    const std::vector<BlameFinding> findings = LintBlameless(postmortem);
    ASSERT_TRUE(findings.empty())
        << findings[0].field << ": " << findings[0].phrase << " ("
        << findings[0].rule << ")";
  }
}

TEST(CorpusGeneratorTest, PostmortemsHaveEverySection) {
  for (int64_t i = 0; i < 200; ++i) {
    const v1::Postmortem p = Generator().Postmortem(i);
    EXPECT_GE(p.timeline_size(), 5);
    EXPECT_LE(p.timeline_size(), 15);
    EXPECT_GE(p.whys_size(), 3);
    EXPECT_LE(p.whys_size(), 5);
    EXPECT_GE(p.root_causes_size(), 1);
    EXPECT_LE(p.root_causes_size(), 2);
    EXPECT_GE(p.action_items_size(), 2);
    EXPECT_LE(p.action_items_size(), 6);
    EXPECT_GE(p.log_lines_size(), 1);
    EXPECT_LE(p.log_lines_size(), 5);
    EXPECT_GE(p.services_size(), 1);
    EXPECT_LE(p.services_size(), 3);
    EXPECT_FALSE(p.narrative().empty());
    EXPECT_FALSE(p.resolution().empty());
    int facilitators = 0;
    for (const v1::Participant& person : p.participants()) {
      facilitators += person.facilitator() ? 1 : 0;
    }
    EXPECT_EQ(facilitators, 1);
    EXPECT_GE(p.started_at().seconds(), 1451606400);  // 2016
    EXPECT_LT(p.started_at().seconds(), 1798761600);  // 2027
  }
}

TEST(CorpusGeneratorTest, LogLinesHaveErrorSignatures) {
  for (int64_t i = 0; i < 1000; ++i) {
    const v1::Postmortem postmortem = Generator().Postmortem(i);
    for (const std::string& line : postmortem.log_lines()) {
      EXPECT_TRUE(SignatureOf(line).has_value()) << line;
    }
  }
}

TEST(CorpusGeneratorTest, ActionItemsMixStatuses) {
  std::map<int, int> statuses;
  for (int64_t i = 0; i < 500; ++i) {
    const v1::Postmortem postmortem = Generator().Postmortem(i);
    for (const v1::ActionItem& item : postmortem.action_items()) {
      ++statuses[item.status()];
    }
  }
  EXPECT_GT(statuses[v1::ActionItem::DONE], 0);
  EXPECT_GT(statuses[v1::ActionItem::OPEN], 0);
  EXPECT_GT(statuses[v1::ActionItem::IN_PROGRESS], 0);
}

TEST(CorpusGeneratorTest, FamiliesHoldTheirMembers) {
  int64_t in_families = 0;
  for (int64_t i = 0; i < kSize; ++i) {
    const int64_t family = Generator().FamilyOf(i);
    if (family < 0) continue;
    ++in_families;
    if (i % 50 != 0) continue;
    const std::vector<int64_t> members = Generator().FamilyMembers(family);
    EXPECT_GE(members.size(), 2u);
    EXPECT_LE(members.size(), 12u);
    EXPECT_TRUE(std::is_sorted(members.begin(), members.end()));
    EXPECT_NE(std::find(members.begin(), members.end(), i), members.end());
    for (int64_t member : members) {
      EXPECT_LT(member, kSize);
      EXPECT_EQ(Generator().FamilyOf(member), family);
    }
  }
  const double share = static_cast<double>(in_families) / kSize;
  EXPECT_GE(share, 0.25);
  EXPECT_LE(share, 0.45);
  EXPECT_GT(Generator().family_count(), kSize / 20);
}

TEST(CorpusGeneratorTest, FamilyMembersShareAFailureButNotTheirWords) {
  for (int64_t family = 0; family < 100; ++family) {
    const std::vector<int64_t> members = Generator().FamilyMembers(family);
    ASSERT_GE(members.size(), 2u);
    const v1::Postmortem a = Generator().Postmortem(members[0]);
    const v1::Postmortem b = Generator().Postmortem(members[1]);
    // The failure mode's tag comes first.
    EXPECT_EQ(a.tags(0), b.tags(0));
    EXPECT_EQ(a.root_causes(0).category(), b.root_causes(0).category());
    // The first log line has the family's error shape.
    const auto sa = SignatureOf(a.log_lines(0));
    const auto sb = SignatureOf(b.log_lines(0));
    ASSERT_TRUE(sa.has_value()) << a.log_lines(0);
    ASSERT_TRUE(sb.has_value()) << b.log_lines(0);
    EXPECT_NE(a.log_lines(0), b.log_lines(0));
    EXPECT_NE(a.narrative(), b.narrative());
    EXPECT_NE(a.summary(), b.summary());
    // On different days.
    EXPECT_NE(a.started_at().seconds() / 86400,
              b.started_at().seconds() / 86400);
  }
}

TEST(CorpusGeneratorTest, FindSimilarQueriesAreDistinctAndGrounded) {
  std::set<std::string> distinct;
  int no_match = 0;
  int with_logs = 0;
  int shared_signature = 0;
  for (int64_t q = 0; q < 1000; ++q) {
    const CorpusGenerator::FindSimilarQuery query = Generator().FindSimilar(q);
    EXPECT_TRUE(ValidateFindSimilar(query.request).ok())
        << ValidateFindSimilar(query.request);
    distinct.insert(query.request.SerializeAsString());
    if (query.family < 0) {
      ++no_match;
      continue;
    }
    const std::vector<int64_t> members =
        Generator().FamilyMembers(query.family);
    ASSERT_FALSE(members.empty()) << q;
    if (query.request.log_lines_size() == 0) continue;
    ++with_logs;
    std::set<std::string> member_lines;
    std::set<std::string> member_signatures;
    std::set<std::string> member_sentences;
    for (int64_t member : members) {
      const v1::Postmortem p = Generator().Postmortem(member);
      EXPECT_LT(member, kSize);
      for (const std::string& line : p.log_lines()) {
        member_lines.insert(line);
        if (auto s = SignatureOf(line)) member_signatures.insert(s->id);
      }
      EXPECT_EQ(p.summary().find(query.request.symptoms()), std::string::npos);
    }
    for (const std::string& line : query.request.log_lines()) {
      EXPECT_EQ(member_lines.count(line), 0u) << line;
    }
    const auto first = SignatureOf(query.request.log_lines(0));
    if (first && member_signatures.count(first->id) > 0) ++shared_signature;
  }
  EXPECT_GE(distinct.size(), 1000u);
  EXPECT_GE(no_match, 100);
  EXPECT_LE(no_match, 200);
  // Most log lines have the family's shape (a sibling service may change
  // the words around the variable parts).
  EXPECT_GT(shared_signature, with_logs / 2);
}

// Queries parse under the server's query language: run against an empty
// index, a query that cannot be read is INVALID_ARGUMENT.
TEST(CorpusGeneratorTest, SearchQueriesParse) {
  std::string pattern =
      (std::filesystem::temp_directory_path() / "deja-corpus-XXXXXX").string();
  ASSERT_NE(mkdtemp(pattern.data()), nullptr);
  {
    Xapian::WritableDatabase writer(pattern, Xapian::DB_CREATE_OR_OPEN);
    writer.commit();
  }
  const Xapian::Database db(pattern);
  std::set<std::string> distinct;
  for (int64_t q = 0; q < 1000; ++q) {
    const v1::SearchRequest request = Generator().Search(q);
    distinct.insert(request.SerializeAsString());
    EXPECT_FALSE(request.query().empty());
    ASSERT_TRUE(ValidateSearch(request).ok()) << ValidateSearch(request);
    const absl::Status status =
        index::RunSearch(db, request, 1780272000).status();
    EXPECT_NE(status.code(), absl::StatusCode::kInvalidArgument)
        << request.query() << ": " << status;
  }
  EXPECT_GE(distinct.size(), 1000u);
  std::filesystem::remove_all(pattern);
}

TEST(CorpusGeneratorTest, TinyCorpusHasNoFamiliesButQueriesWork) {
  const CorpusGenerator tiny(CorpusOptions{1, 1});
  EXPECT_EQ(tiny.FamilyOf(0), -1);
  EXPECT_TRUE(ValidatePostmortem(tiny.Postmortem(0)).ok());
  EXPECT_EQ(tiny.FindSimilar(3).family, -1);
}

}  // namespace
}  // namespace deja::bench
