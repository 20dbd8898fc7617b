#include "indexer/xapian_searcher.h"

#include <stdlib.h>
#include <xapian.h>

#include <atomic>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "indexer/document_builder.h"
#include "indexer/index_directory.h"
#include "indexer/index_schema.h"

namespace deja {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

// A fresh temp dir, removed at the end of the test.
class TempDir {
 public:
  TempDir() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "deja-searcher-XXXXXX")
            .string();
    path_ = mkdtemp(pattern.data());
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

v1::Postmortem Postmortem(const std::string& id, int64_t version,
                          const std::string& title) {
  v1::Postmortem postmortem;
  postmortem.set_id(id);
  postmortem.set_version(version);
  postmortem.set_team("platform");
  postmortem.set_title(title);
  postmortem.set_summary(absl::StrCat(title, ", and then it recovered."));
  postmortem.mutable_started_at()->set_seconds(1700000000);
  return postmortem;
}

void Put(Xapian::WritableDatabase& writer, const v1::Postmortem& postmortem) {
  writer.replace_document(index::IdTerm(postmortem.id()),
                          index::BuildDocument(postmortem, &writer));
}

// Writes a new generation holding `postmortems` and swaps it in.
void Publish(const std::string& index_dir,
             const std::vector<v1::Postmortem>& postmortems) {
  const absl::StatusOr<std::string> generation =
      index::NewGeneration(index_dir);
  ASSERT_TRUE(generation.ok()) << generation.status();
  {
    Xapian::WritableDatabase writer(*generation, Xapian::DB_CREATE);
    writer.set_metadata(index::kSchemaVersionKey, index::IndexFormatVersion());
    for (const v1::Postmortem& postmortem : postmortems) {
      Put(writer, postmortem);
    }
    writer.commit();
  }
  ASSERT_TRUE(index::SwapIn(index_dir, *generation).ok());
}

// A writer on a new generation that is already in use.
Xapian::WritableDatabase PublishedWriter(const std::string& index_dir) {
  const absl::StatusOr<std::string> generation =
      index::NewGeneration(index_dir);
  EXPECT_TRUE(generation.ok()) << generation.status();
  Xapian::WritableDatabase writer(*generation, Xapian::DB_CREATE);
  writer.set_metadata(index::kSchemaVersionKey, index::IndexFormatVersion());
  writer.commit();
  EXPECT_TRUE(index::SwapIn(index_dir, *generation).ok());
  return writer;
}

std::unique_ptr<PostmortemSearcher> Open(const std::string& index_dir) {
  absl::StatusOr<std::unique_ptr<PostmortemSearcher>> searcher =
      OpenXapianSearcher({index_dir});
  EXPECT_TRUE(searcher.ok()) << searcher.status();
  return searcher.ok() ? std::move(*searcher) : nullptr;
}

// How many postmortems `query` finds, or -1 on an error.
int64_t Matches(PostmortemSearcher& searcher, const std::string& query) {
  v1::SearchRequest request;
  request.set_query(query);
  const absl::StatusOr<v1::SearchResponse> response =
      searcher.Search(request, absl::Now());
  EXPECT_TRUE(response.ok()) << query << ": " << response.status();
  return response.ok() ? response->total_matches() : -1;
}

TEST(XapianSearcherTest, NeedsAnIndexDirectory) {
  EXPECT_EQ(OpenXapianSearcher({""}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(XapianSearcherTest, UnavailableUntilTheIndexExists) {
  TempDir dir;
  const std::string index_dir = dir.path() + "/index";
  std::unique_ptr<PostmortemSearcher> searcher = Open(index_dir);
  ASSERT_NE(searcher, nullptr);

  v1::SearchRequest search;
  search.set_query("disk");
  absl::Status status = searcher->Search(search, absl::Now()).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(status.message()), HasSubstr("not built yet"));
  EXPECT_EQ(searcher->DocumentCount().status().code(),
            absl::StatusCode::kUnavailable);
  v1::FindSimilarRequest similar;
  similar.set_symptoms("disk full");
  EXPECT_EQ(searcher->FindSimilar(similar, absl::Now()).status().code(),
            absl::StatusCode::kUnavailable);
  status = searcher->WaitUntilSearchable("disk", 1,
                                         absl::Now() + absl::Milliseconds(20));
  EXPECT_EQ(status.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(std::string(status.message()), HasSubstr("not built yet"));

  // The same searcher, once the indexer has built it.
  Publish(index_dir, {Postmortem("disk", 1, "Disk full on the build host")});
  EXPECT_EQ(*searcher->DocumentCount(), 1);
  EXPECT_EQ(Matches(*searcher, "disk"), 1);
}

TEST(XapianSearcherTest, SeesCommitsWithoutRestart) {
  TempDir dir;
  Xapian::WritableDatabase writer = PublishedWriter(dir.path());
  Put(writer, Postmortem("alpha", 1, "Alpha cluster lost quorum"));
  writer.commit();
  std::unique_ptr<PostmortemSearcher> searcher = Open(dir.path());
  ASSERT_NE(searcher, nullptr);
  EXPECT_EQ(Matches(*searcher, "quorum"), 1);
  EXPECT_EQ(Matches(*searcher, "certificate"), 0);

  Put(writer, Postmortem("beta", 1, "Beta certificate expired"));
  writer.commit();
  EXPECT_EQ(Matches(*searcher, "certificate"), 1);
  EXPECT_EQ(*searcher->DocumentCount(), 2);

  writer.delete_document(index::IdTerm("alpha"));
  writer.commit();
  EXPECT_EQ(Matches(*searcher, "quorum"), 0);
  EXPECT_EQ(*searcher->DocumentCount(), 1);
}

TEST(XapianSearcherTest, SeesANewGenerationSwappedIn) {
  TempDir dir;
  Publish(dir.path(), {Postmortem("alpha", 1, "Alpha cluster lost quorum")});
  std::unique_ptr<PostmortemSearcher> searcher = Open(dir.path());
  ASSERT_NE(searcher, nullptr);
  EXPECT_EQ(Matches(*searcher, "quorum"), 1);

  Publish(dir.path(), {Postmortem("gamma", 1, "Gamma queue overflowed"),
                       Postmortem("delta", 1, "Delta queue stalled")});
  EXPECT_EQ(Matches(*searcher, "quorum"), 0);
  EXPECT_EQ(Matches(*searcher, "queue"), 2);
  EXPECT_EQ(*searcher->DocumentCount(), 2);

  // Two more swaps: the first generation's files are gone by then.
  Publish(dir.path(), {Postmortem("eps", 1, "Epsilon disk filled")});
  Publish(dir.path(), {Postmortem("eps", 2, "Epsilon disk filled again")});
  ASSERT_TRUE(index::RemoveOldGenerations(dir.path()).ok());
  EXPECT_EQ(Matches(*searcher, "disk"), 1);
  EXPECT_EQ(Matches(*searcher, "again"), 1);
}

// A searcher of this version refuses an index written in another format
// (by an indexer of another version) instead of answering from terms and
// values it would read wrongly, and answers again once one of its own
// format is swapped in.
TEST(XapianSearcherTest, AnIndexOfAnotherFormatIsRefusedUntilRebuilt) {
  TempDir dir;
  {
    const absl::StatusOr<std::string> generation =
        index::NewGeneration(dir.path());
    ASSERT_TRUE(generation.ok()) << generation.status();
    Xapian::WritableDatabase writer(*generation, Xapian::DB_CREATE);
    writer.set_metadata(index::kSchemaVersionKey, "2-0000000000000000");
    Put(writer, Postmortem("alpha", 1, "Alpha cluster lost quorum"));
    writer.commit();
    ASSERT_TRUE(index::SwapIn(dir.path(), *generation).ok());
  }
  std::unique_ptr<PostmortemSearcher> searcher = Open(dir.path());
  ASSERT_NE(searcher, nullptr);
  v1::SearchRequest request;
  request.set_query("quorum");
  const absl::StatusOr<v1::SearchResponse> refused =
      searcher->Search(request, absl::Now());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(refused.status().message(),
              AllOf(HasSubstr("format 2-0000000000000000"),
                    HasSubstr(index::IndexFormatVersion())));
  v1::FindSimilarRequest similar;
  similar.set_symptoms("cluster lost quorum");
  EXPECT_EQ(searcher->FindSimilar(similar, absl::Now()).status().code(),
            absl::StatusCode::kFailedPrecondition);

  Publish(dir.path(), {Postmortem("alpha", 1, "Alpha cluster lost quorum")});
  EXPECT_EQ(Matches(*searcher, "quorum"), 1);
}

TEST(XapianSearcherTest, WaitUntilSearchable) {
  TempDir dir;
  Xapian::WritableDatabase writer = PublishedWriter(dir.path());
  Put(writer, Postmortem("alpha", 3, "Alpha cluster lost quorum"));
  writer.commit();
  std::unique_ptr<PostmortemSearcher> searcher = Open(dir.path());
  ASSERT_NE(searcher, nullptr);

  EXPECT_TRUE(searcher->WaitUntilSearchable("alpha", 3, absl::Now()).ok());
  EXPECT_TRUE(searcher->WaitUntilSearchable("alpha", 2, absl::Now()).ok());
  EXPECT_TRUE(searcher->WaitUntilSearchable("never", 0, absl::Now()).ok());

  absl::Time start = absl::Now();
  absl::Status status =
      searcher->WaitUntilSearchable("alpha", 4, start + absl::Milliseconds(50));
  EXPECT_EQ(status.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(50));
  EXPECT_EQ(searcher
                ->WaitUntilSearchable("alpha", 0,
                                      absl::Now() + absl::Milliseconds(20))
                .code(),
            absl::StatusCode::kDeadlineExceeded);

  // A newer version committed while the caller waits.
  std::thread update([&writer] {
    absl::SleepFor(absl::Milliseconds(50));
    Put(writer, Postmortem("alpha", 4, "Alpha cluster lost quorum again"));
    writer.commit();
  });
  start = absl::Now();
  EXPECT_TRUE(
      searcher->WaitUntilSearchable("alpha", 4, start + absl::Seconds(10))
          .ok());
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  update.join();

  // A deletion, waited for with version 0.
  std::thread remove([&writer] {
    absl::SleepFor(absl::Milliseconds(50));
    writer.delete_document(index::IdTerm("alpha"));
    writer.commit();
  });
  EXPECT_TRUE(
      searcher->WaitUntilSearchable("alpha", 0, absl::Now() + absl::Seconds(10))
          .ok());
  remove.join();
  EXPECT_EQ(Matches(*searcher, "quorum"), 0);
}

TEST(XapianSearcherTest, ConcurrentQueriesWhileAWriterCommits) {
  TempDir dir;
  Xapian::WritableDatabase writer = PublishedWriter(dir.path());
  for (int i = 0; i < 20; ++i) {
    Put(writer, Postmortem(absl::StrCat("pm", i), 1,
                           absl::StrCat("Queue ", i, " stalled on disk")));
  }
  writer.commit();
  std::unique_ptr<PostmortemSearcher> searcher = Open(dir.path());
  ASSERT_NE(searcher, nullptr);

  constexpr int kCommits = 150;
  std::atomic<bool> writing{true};
  std::thread write([&] {
    for (int i = 0; i < kCommits; ++i) {
      // Rewrites every document: readers' revisions go stale quickly.
      for (int j = 0; j < 20; ++j) {
        Put(writer, Postmortem(absl::StrCat("pm", j), 2 + i,
                               absl::StrCat("Queue ", j, " stalled on disk ",
                                            "round ", i)));
      }
      Put(writer, Postmortem(absl::StrCat("new", i), 1, "Fresh disk outage"));
      writer.commit();
    }
    writing = false;
  });

  absl::Mutex mu;
  std::vector<std::string> errors;
  std::atomic<int> queries{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 4; ++t) {
    readers.emplace_back([&, t] {
      auto fail = [&](const absl::Status& status) {
        absl::MutexLock lock(&mu);
        errors.push_back(std::string(status.message()));
      };
      while (writing || queries < 40) {
        v1::SearchRequest request;
        request.set_query(t % 2 == 0 ? "disk" : "queue stalled");
        const absl::StatusOr<v1::SearchResponse> response =
            searcher->Search(request, absl::Now());
        if (!response.ok()) {
          fail(response.status());
        } else if (response->total_matches() < 20) {
          fail(absl::InternalError(
              absl::StrCat("only ", response->total_matches(), " matches")));
        }
        const absl::StatusOr<int64_t> count = searcher->DocumentCount();
        if (!count.ok()) fail(count.status());
        const absl::Status seen =
            searcher->WaitUntilSearchable("pm0", 1, absl::Now());
        if (!seen.ok()) fail(seen);
        ++queries;
      }
    });
  }
  write.join();
  for (std::thread& reader : readers) reader.join();
  EXPECT_TRUE(errors.empty())
      << errors.size() << " errors, first: " << errors.front();
  EXPECT_GE(queries, 40);
  EXPECT_EQ(*searcher->DocumentCount(), 20 + kCommits);
  EXPECT_EQ(Matches(*searcher, "fresh"), kCommits);
}

TEST(XapianSearcherTest, FindSimilarRunsOnTheCurrentIndex) {
  TempDir dir;
  Publish(dir.path(),
          {Postmortem("alpha", 1, "Alpha cluster lost quorum after a reboot"),
           Postmortem("beta", 1, "Beta certificate expired at midnight")});
  std::unique_ptr<PostmortemSearcher> searcher = Open(dir.path());
  ASSERT_NE(searcher, nullptr);
  v1::FindSimilarRequest request;
  request.set_symptoms("the cluster lost quorum");
  const absl::StatusOr<v1::FindSimilarResponse> response =
      searcher->FindSimilar(request, absl::Now());
  ASSERT_TRUE(response.ok()) << response.status();
  ASSERT_GT(response->incidents_size(), 0);
  EXPECT_EQ(response->incidents(0).incident().id(), "alpha");

  request.Clear();
  request.set_postmortem_id("00000000-0000-4000-8000-000000000000");
  EXPECT_EQ(searcher->FindSimilar(request, absl::Now()).status().code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace deja
