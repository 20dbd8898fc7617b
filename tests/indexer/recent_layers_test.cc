// Recent layers end to end in one process: IndexSync writes them from the
// fake feed's outbox, the Xapian searcher reads them beside the index.

#include "indexer/recent_layers.h"

#include <stdlib.h>
#include <xapian.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "core/postmortem_searcher.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "indexer/document_builder.h"
#include "indexer/index_directory.h"
#include "indexer/index_sync.h"
#include "indexer/similarity.h"
#include "indexer/xapian_searcher.h"
#include "tests/testing/fake_index_feed.h"
#include "tests/testing/numbered_postmortem.h"

namespace deja {
namespace {

namespace fs = std::filesystem;

using ::deja::testing::FakeIndexFeed;
using ::deja::testing::IdOf;
using ::deja::testing::MakePostmortem;

constexpr absl::Duration kPatience = absl::Seconds(10);

class RecentLayersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern =
        (fs::temp_directory_path() / "deja-layers-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    root_ = pattern;
    options_.index_dir = (fs::path(root_) / "index").string();
    options_.poll_interval = absl::Milliseconds(200);
    options_.layer_interval = absl::Milliseconds(20);
  }
  void TearDown() override {
    if (sync_ != nullptr) sync_->Stop();
    sync_.reset();
    fs::remove_all(root_);
  }

  void Open() {
    absl::StatusOr<std::unique_ptr<IndexSync>> sync =
        IndexSync::Open(feed_, options_);
    ASSERT_TRUE(sync.ok()) << sync.status();
    sync_ = *std::move(sync);
    XapianSearcherOptions searcher_options;
    searcher_options.index_dir = options_.index_dir;
    absl::StatusOr<std::unique_ptr<PostmortemSearcher>> searcher =
        OpenXapianSearcher(searcher_options);
    ASSERT_TRUE(searcher.ok()) << searcher.status();
    searcher_ = *std::move(searcher);
  }

  // Every claim fails from now on: nothing is committed while the test
  // looks, and only the layer thread makes postmortems searchable.
  void HoldCommits() {
    feed_.FailNext(FakeIndexFeed::Method::kClaim,
                   absl::UnavailableError("database is down"), 1000);
  }

  // The index in use alone, without its layers: what has been committed.
  bool Committed(int n) {
    const absl::StatusOr<std::string> path =
        index::CurrentIndexPath(options_.index_dir);
    if (!path.ok()) return false;
    Xapian::Database db(*path);
    const std::string term = "Q" + IdOf(n);
    return db.postlist_begin(term) != db.postlist_end(term);
  }

  // The titles a search for `query` finds, by postmortem id (a duplicate
  // shows as a count above 1).
  std::map<std::string, int> Found(const std::string& query) {
    v1::SearchRequest request;
    request.set_query(query);
    request.set_page_size(50);
    const absl::StatusOr<v1::SearchResponse> response =
        searcher_->Search(request, absl::Now());
    EXPECT_TRUE(response.ok()) << response.status();
    std::map<std::string, int> found;
    if (!response.ok()) return found;
    for (const v1::SearchHit& hit : response->hits()) {
      ++found[hit.incident().id()];
    }
    return found;
  }

  absl::Status Searchable(int n, int64_t version) {
    return searcher_->WaitUntilSearchable(IdOf(n), version,
                                          absl::Now() + kPatience);
  }

  std::vector<int64_t> LiveLayers() {
    absl::StatusOr<std::vector<int64_t>> live =
        index::ReadLayerView(options_.index_dir);
    EXPECT_TRUE(live.ok()) << live.status();
    return live.value_or(std::vector<int64_t>{});
  }

  std::string root_;
  IndexSyncOptions options_;
  FakeIndexFeed feed_;
  std::unique_ptr<IndexSync> sync_;
  std::unique_ptr<PostmortemSearcher> searcher_;
};

TEST_F(RecentLayersTest, ANewPostmortemIsSearchableBeforeItsCommit) {
  Open();
  HoldCommits();
  sync_->Start();
  feed_.Put(MakePostmortem(1, 1, "Orders pool exhausted at noon"));

  ASSERT_TRUE(Searchable(1, 1).ok());
  EXPECT_FALSE(Committed(1));
  EXPECT_EQ(Found("exhausted").count(IdOf(1)), 1u);
  EXPECT_EQ(LiveLayers().size(), 1u);
  EXPECT_EQ(feed_.outbox_rows(), 1) << "the row waits for the commit";
}

TEST_F(RecentLayersTest, TheCommitTakesTheLayerInAndDropsIt) {
  Open();
  sync_->Start();
  feed_.Put(MakePostmortem(1, 1, "Orders pool exhausted at noon"));
  ASSERT_TRUE(Searchable(1, 1).ok());

  const absl::Time start = absl::Now();
  while (!(Committed(1) && LiveLayers().empty()) &&
         absl::Now() - start < kPatience) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_TRUE(Committed(1));
  EXPECT_TRUE(LiveLayers().empty());
  EXPECT_EQ(Found("exhausted").at(IdOf(1)), 1);
  EXPECT_EQ(feed_.outbox_rows(), 0);
}

TEST_F(RecentLayersTest, ACommitLeavesTheRowsNotReadAheadYetToALayer) {
  Open();
  sync_->Start();
  feed_.Put(MakePostmortem(1, 1, "Orders pool exhausted at noon"));
  ASSERT_TRUE(Searchable(1, 1).ok());
  // The layer thread hears of the next row a second late; the commits
  // (polling every 200 ms) must not take it meanwhile.
  feed_.WakeLate(absl::Seconds(1));
  feed_.Put(MakePostmortem(2, 1, "Orders pool exhausted at dusk"));
  const absl::Time start = absl::Now();
  while (absl::Now() - start < absl::Milliseconds(800)) {
    ASSERT_FALSE(Committed(2)) << "committed before it was read ahead";
    absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_TRUE(Searchable(2, 1).ok());
}

// The invariant: every postmortem counted once, in a layer or in the index,
// at every moment, while layers are written and committed under searches.
TEST_F(RecentLayersTest, SearchesNeverSeeAPostmortemTwiceNorLoseOne) {
  Open();
  sync_->Start();
  constexpr int kPostmortems = 40;  // one page of Found()
  std::atomic<int> searchable{0};
  std::atomic<bool> writing{true};
  std::thread writer([&] {
    for (int n = 1; n <= kPostmortems; ++n) {
      feed_.Put(MakePostmortem(n, 1, "Orders pool exhausted again"));
      if (Searchable(n, 1).ok()) searchable = n;
      absl::SleepFor(absl::Milliseconds(5));
    }
    writing = false;
  });
  int searches = 0;
  while (writing || searches < 5) {
    // Read before searching: everything searchable by then must be found.
    const int promised = searchable;
    const std::map<std::string, int> found = Found("exhausted");
    for (const auto& [id, count] : found) {
      ASSERT_EQ(count, 1) << id << " counted twice in search " << searches;
    }
    for (int n = 1; n <= promised; ++n) {
      ASSERT_EQ(found.count(IdOf(n)), 1u)
          << IdOf(n) << " was searchable and is missing from search "
          << searches;
    }
    ++searches;
  }
  writer.join();
  EXPECT_EQ(searchable, kPostmortems);
  EXPECT_EQ(Found("exhausted").size(), static_cast<size_t>(kPostmortems));
}

TEST_F(RecentLayersTest, AnUpdateWaitsForItsCommitAndIsNeverDoubled) {
  Open();
  feed_.Put(MakePostmortem(1, 1, "Orders pool exhausted at noon"));
  ASSERT_TRUE(sync_->RunOnce().ok());
  ASSERT_TRUE(Committed(1));
  HoldCommits();
  sync_->Start();
  feed_.Put(MakePostmortem(1, 2, "Orders pool exhausted at midnight"));
  const int peeks = feed_.peek_calls();
  while (feed_.peek_calls() < peeks + 3) absl::SleepFor(absl::Milliseconds(5));

  EXPECT_TRUE(LiveLayers().empty());
  EXPECT_EQ(Found("exhausted").at(IdOf(1)), 1);
  EXPECT_TRUE(Found("midnight").empty());
  EXPECT_EQ(searcher_
                ->WaitUntilSearchable(IdOf(1), 2,
                                      absl::Now() + absl::Milliseconds(50))
                .code(),
            absl::StatusCode::kDeadlineExceeded);
}

TEST_F(RecentLayersTest, ADeletedPostmortemIsNotWrittenToALayer) {
  Open();
  HoldCommits();
  // All three rows are read in one page.
  feed_.Put(MakePostmortem(1, 1, "Orders pool exhausted at noon"));
  feed_.Remove(IdOf(1), 2);
  feed_.Put(MakePostmortem(2, 1, "Orders pool exhausted at dusk"));
  sync_->Start();
  ASSERT_TRUE(Searchable(2, 1).ok());
  ASSERT_EQ(LiveLayers().size(), 1u);
  Xapian::Database layer(
      index::LayerPath(options_.index_dir, LiveLayers().front()));
  EXPECT_EQ(layer.get_doccount(), 1u);
  EXPECT_EQ(layer.get_termfreq("Q" + IdOf(1)), 0u);
}

TEST_F(RecentLayersTest, ABacklogIsLeftToTheCommitsWholly) {
  Open();
  // More rows than the layer thread reads in a page: none goes into a
  // layer, and the commits take them all although the layer thread does
  // not read them.
  for (int n = 1; n <= 250; ++n) {
    feed_.Put(MakePostmortem(n, 1, "Orders pool exhausted at noon"));
  }
  sync_->Start();
  const absl::Time start = absl::Now();
  while (feed_.outbox_rows() > 0 && absl::Now() - start < kPatience) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_EQ(feed_.outbox_rows(), 0);
  EXPECT_TRUE(Committed(250));
  EXPECT_TRUE(LiveLayers().empty());
}

// A claim that comes back full of rows no layer holds says the commits are
// a batch behind (a bulk import, a restart): until one comes back short,
// new postmortems wait for the commits rather than being built twice, into
// a layer and then a commit.
TEST_F(RecentLayersTest, WhileTheCommitsAreABatchBehindNoLayerIsWritten) {
  // A backlog the layer thread skips (more than its page), and a first
  // claim that comes back full, at least half of it rows it skipped: the
  // layer thread writes the rest into a layer before that claim, or not.
  options_.batch_rows = 100;
  for (int n = 1; n <= 250; ++n) {
    feed_.Put(MakePostmortem(n, 1, "Orders pool exhausted at noon"));
  }
  Open();
  // The first batch is held between its index commit and its completion,
  // as a slow commit cycle would be, until the test is done looking.
  // Shared with the hook, which outlives this test's body.
  struct Hold {
    absl::Notification first_commit;
    absl::Notification release;
    std::atomic<int> completions{0};
  };
  auto hold = std::make_shared<Hold>();
  feed_.OnComplete([hold] {
    if (++hold->completions != 1) return;
    hold->first_commit.Notify();
    hold->release.WaitForNotification();
  });
  sync_->Start();
  const bool held =
      hold->first_commit.WaitForNotificationWithTimeout(kPatience);
  feed_.Put(MakePostmortem(251, 1, "Orders pool exhausted at dusk"));
  // Fifteen of the layer thread's rests.
  absl::SleepFor(absl::Milliseconds(300));
  const bool dusk_found = !Found("dusk").empty();
  const std::vector<int64_t> live = LiveLayers();
  hold->release.Notify();

  ASSERT_TRUE(held) << "the first batch was never committed";
  EXPECT_FALSE(dusk_found)
      << "written to a layer while the commits were behind";
  EXPECT_TRUE(live.empty());
  EXPECT_TRUE(Searchable(251, 1).ok());
  EXPECT_TRUE(Searchable(250, 1).ok());
}

// A slow commit whose claim comes back full of the layers' rows is what
// the layers are for: new postmortems still go into layers meanwhile.
TEST_F(RecentLayersTest, AFullClaimOfLayersDoesNotStopTheLayers) {
  options_.batch_rows = 10;
  Open();
  // The first two batches are each held between their index commit and
  // their completion until released.
  struct Hold {
    absl::Notification reached[2];
    absl::Notification release[2];
    std::atomic<int> completions{0};
  };
  auto hold = std::make_shared<Hold>();
  feed_.OnComplete([hold] {
    const int n = hold->completions++;
    if (n > 1) return;
    hold->reached[n].Notify();
    hold->release[n].WaitForNotification();
  });
  sync_->Start();
  feed_.Put(MakePostmortem(1, 1, "Orders pool exhausted at noon"));
  const bool first = hold->reached[0].WaitForNotificationWithTimeout(kPatience);
  // While the first commit is held, eleven postmortems go into layers; the
  // next claim takes them all in: a full batch, none of it unread.
  bool layered = true;
  for (int n = 2; n <= 12; ++n) {
    feed_.Put(MakePostmortem(n, 1, "Orders pool exhausted at noon"));
    layered = layered && Searchable(n, 1).ok();
  }
  hold->release[0].Notify();
  const bool second =
      hold->reached[1].WaitForNotificationWithTimeout(kPatience);
  feed_.Put(MakePostmortem(13, 1, "Orders pool exhausted at dusk"));
  const absl::Status dusk = searcher_->WaitUntilSearchable(
      IdOf(13), 1, absl::Now() + absl::Seconds(2));
  const bool dusk_committed = Committed(13);
  hold->release[1].Notify();

  ASSERT_TRUE(first && second) << "the first two batches were not committed";
  ASSERT_TRUE(layered);
  EXPECT_TRUE(dusk.ok()) << dusk;
  EXPECT_FALSE(dusk_committed);
  EXPECT_TRUE(Searchable(13, 1).ok());
}

TEST_F(RecentLayersTest, ARebuildTakesTheLayersInAndCountsThemOnce) {
  Open();
  HoldCommits();
  sync_->Start();
  feed_.Put(MakePostmortem(1, 1, "Orders pool exhausted at noon"));
  ASSERT_TRUE(Searchable(1, 1).ok());
  ASSERT_EQ(LiveLayers().size(), 1u);

  const int64_t layer = LiveLayers().front();

  ASSERT_TRUE(sync_->Rebuild().ok());
  EXPECT_TRUE(Committed(1));
  EXPECT_TRUE(LiveLayers().empty());
  EXPECT_EQ(Found("exhausted").at(IdOf(1)), 1);
  // Stamped: a reader that still has the old view leaves the layer out.
  EXPECT_GE(index::CommittedLayer(
                Xapian::Database(*index::CurrentIndexPath(options_.index_dir))),
            layer);
}

TEST_F(RecentLayersTest, ARestartedWriterClearsTheLayersAndNeverReusesANumber) {
  Open();
  HoldCommits();
  sync_->Start();
  feed_.Put(MakePostmortem(1, 1, "Orders pool exhausted at noon"));
  ASSERT_TRUE(Searchable(1, 1).ok());
  const int64_t first = LiveLayers().front();
  EXPECT_EQ(Found("noon").size(), 1u);  // the searcher has the layer open
  sync_->Stop();
  sync_.reset();

  // The same searcher throughout (its readers keep their layers open). The
  // commits are still held.
  absl::StatusOr<std::unique_ptr<IndexSync>> reopened =
      IndexSync::Open(feed_, options_);
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  sync_ = *std::move(reopened);
  EXPECT_TRUE(LiveLayers().empty());
  EXPECT_TRUE(Found("exhausted").empty());
  feed_.Put(MakePostmortem(2, 1, "Orders pool exhausted at dusk"));
  sync_->Start();
  ASSERT_TRUE(Searchable(2, 1).ok());
  ASSERT_TRUE(Searchable(1, 1).ok()) << "read ahead again into a new layer";
  for (const int64_t number : LiveLayers()) EXPECT_GT(number, first);
  EXPECT_EQ(Found("noon").size(), 1u);
  EXPECT_EQ(Found("dusk").size(), 1u);
}

TEST_F(RecentLayersTest, WithLayersOffAChangeWaitsForItsCommit) {
  options_.recent_layers = false;
  Open();
  HoldCommits();
  sync_->Start();
  feed_.Put(MakePostmortem(1, 1, "Orders pool exhausted at noon"));
  EXPECT_EQ(searcher_
                ->WaitUntilSearchable(IdOf(1), 1,
                                      absl::Now() + absl::Milliseconds(300))
                .code(),
            absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(feed_.peek_calls(), 0);
  EXPECT_TRUE(LiveLayers().empty());
}

// FindSimilar over the index and a layer (two shards) answers as over one
// database holding the same postmortems: its passes filter by docids, which
// each shard numbers its own way.
TEST_F(RecentLayersTest, FindSimilarAnswersTheSameAcrossShards) {
  const std::vector<std::string> titles = {
      "Orders pool exhausted at noon",
      "Orders pool exhausted after deploy",
      "DNS resolver timeouts in eu-west",
      "Certificate expired on the gateway",
      "Kafka consumer lag on tracking",
      "Orders database connection pool full",
      "Disk full on the primary database",
      "Pool exhaustion on orders-db again",
      "Memory leak in the label printer",
      "Connection pool saturated on orders"};
  const auto build = [&](const std::string& path, int from, int to) {
    Xapian::WritableDatabase db(path, Xapian::DB_CREATE);
    for (int n = from; n < to; ++n) {
      const v1::Postmortem postmortem = MakePostmortem(n + 1, 1, titles[n]);
      db.replace_document(index::IdTerm(postmortem.id()),
                          index::BuildDocument(postmortem, &db));
    }
    db.commit();
  };
  const int all = static_cast<int>(titles.size());
  build(root_ + "/whole", 0, all);
  build(root_ + "/main", 0, 6);
  build(root_ + "/layer", 6, all);
  Xapian::Database sharded(root_ + "/main");
  sharded.add_database(Xapian::Database(root_ + "/layer"));

  v1::FindSimilarRequest request;
  request.set_symptoms("orders-db connection pool exhausted, checkout errors");
  request.set_limit(10);
  // Few candidates, so that filtering by them decides what is scored.
  index::SimilarityOptions options;
  options.candidates = 3;
  options.first_pass_candidates = 3;
  options.common_word_share = 1.0;
  const auto answer = [&](const Xapian::Database& db) {
    const absl::StatusOr<v1::FindSimilarResponse> response =
        index::RunFindSimilar(db, request, 1710410400, options);
    EXPECT_TRUE(response.ok()) << response.status();
    std::map<std::string, double> scores;
    if (!response.ok()) return scores;
    for (const v1::SimilarIncident& incident : response->incidents()) {
      scores[incident.incident().id()] = incident.score();
    }
    return scores;
  };
  const std::map<std::string, double> whole =
      answer(Xapian::Database(root_ + "/whole"));
  const std::map<std::string, double> split = answer(sharded);
  ASSERT_FALSE(whole.empty());
  ASSERT_EQ(split.size(), whole.size());
  for (const auto& [id, score] : whole) {
    ASSERT_EQ(split.count(id), 1u) << id;
    EXPECT_NEAR(split.at(id), score, 1e-6) << id;
  }
}

TEST_F(RecentLayersTest, ViewFileRoundTripsAndRejectsGarbage) {
  const std::string dir = (fs::path(root_) / "view").string();
  EXPECT_TRUE(index::ReadLayerView(dir)->empty()) << "no VIEW: no layers";
  ASSERT_TRUE(index::WriteLayerView(dir, {3, 4, 9}).ok());
  EXPECT_EQ(*index::ReadLayerView(dir), (std::vector<int64_t>{3, 4, 9}));
  ASSERT_TRUE(index::ClearLayers(dir).ok());
  EXPECT_TRUE(index::ReadLayerView(dir)->empty());
  {
    std::ofstream out(fs::path(dir) / "layers" / "VIEW");
    out << "3\nfour\n";
  }
  EXPECT_EQ(index::ReadLayerView(dir).status().code(),
            absl::StatusCode::kInternal);
}

TEST(RestBetweenLayersTest, NoneOnAQuietIndex) {
  const absl::Duration interval = absl::Milliseconds(100);
  for (size_t live = 0; live < index::kLayersBeforeRest; ++live) {
    EXPECT_EQ(index::RestBetweenLayers(live, live, false, interval),
              absl::ZeroDuration())
        << live << " live layers";
  }
  EXPECT_EQ(index::RestBetweenLayers(1, 1, true, interval), interval)
      << "full layers always rest";
}

TEST(RestBetweenLayersTest, LongerAsTheCommitUnderWayFallsBehind) {
  const absl::Duration interval = absl::Milliseconds(100);
  const size_t per_rest = index::kLayersPerRest;
  EXPECT_EQ(index::RestBetweenLayers(30, 0, false, interval), interval)
      << "layers the commit under way takes in do not count";
  EXPECT_EQ(index::RestBetweenLayers(30, per_rest - 1, false, interval),
            interval);
  EXPECT_EQ(index::RestBetweenLayers(30, per_rest, false, interval),
            2 * interval);
  EXPECT_EQ(index::RestBetweenLayers(30, 2 * per_rest, false, interval),
            3 * interval);
}

// A commit takes in every layer live when it begins, and the writer's limit
// is 48 layers: the layers written while one commit runs must stay under
// half that, or a slow commit after a slow commit fills them. 3 s is the
// slowest commit seen at 100 submits a second on a busy 2-core machine.
TEST(RestBetweenLayersTest, ASlowCommitGetsFewerThanHalfTheLimit) {
  const absl::Duration interval = absl::Milliseconds(100);
  const size_t taken_in = 20;  // live when the commit began
  size_t unclaimed = 0;
  for (absl::Duration t; t < absl::Seconds(3);
       t += index::RestBetweenLayers(taken_in + unclaimed, unclaimed, false,
                                     interval)) {
    ++unclaimed;
  }
  EXPECT_LT(unclaimed, 24u);
}

}  // namespace
}  // namespace deja
