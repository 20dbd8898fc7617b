// Recurrence linking end to end: every sample postmortem submitted through
// PgStore, indexed by IndexSync from the real outbox, linked into a real
// PgRecurrenceStore, against a disposable PostgreSQL cluster.

#include <sched.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "indexer/index_sync.h"
#include "store/pg_index_feed.h"
#include "store/pg_recurrence_store.h"
#include "store/pg_store.h"
#include "tests/testing/pg_test_cluster.h"

namespace deja {
namespace {

namespace fs = std::filesystem;

using v1::RecurrenceLink;

absl::Time Soon() { return absl::Now() + absl::Seconds(10); }

// The samples' deliberate repeat families, by file number prefix, oldest
// first. Their "more like this" scores are about 0.95; unrelated pairs stay
// below about 0.4.
const std::vector<std::vector<std::string>>& Families() {
  static const auto* families =
      new std::vector<std::vector<std::string>>{{"03", "11", "22"},
                                                {"08", "19"},
                                                {"10", "21"},
                                                {"05", "18"},
                                                {"06", "15", "25"}};
  return *families;
}

// samples/postmortems of the source tree: $DEJA_SAMPLES, or found above the
// test binary (the build directory lives in the source tree) or the working
// directory. "" when not found.
std::string SamplesDir() {
  if (const char* env = getenv("DEJA_SAMPLES"); env != nullptr && *env) {
    return env;
  }
  std::error_code error;
  std::vector<fs::path> starts = {fs::read_symlink("/proc/self/exe", error),
                                  fs::current_path(error)};
  for (fs::path dir : starts) {
    while (!dir.empty()) {
      const fs::path candidate = dir / "samples" / "postmortems";
      if (fs::is_directory(candidate, error)) return candidate.string();
      if (dir == dir.parent_path()) break;
      dir = dir.parent_path();
    }
  }
  return "";
}

struct Sample {
  std::string prefix;  // "03"
  v1::Postmortem postmortem;
};

// Every sample, in file order.
std::vector<Sample> LoadSamples() {
  const std::string dir = SamplesDir();
  EXPECT_FALSE(dir.empty()) << "samples/postmortems not found; set "
                               "DEJA_SAMPLES";
  std::vector<fs::path> files;
  if (dir.empty()) return {};
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().extension() == ".json") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  std::vector<Sample> samples;
  for (const fs::path& file : files) {
    std::ifstream in(file);
    std::stringstream text;
    text << in.rdbuf();
    Sample sample;
    sample.prefix = file.filename().string().substr(0, 2);
    const auto status = google::protobuf::util::JsonStringToMessage(
        text.str(), &sample.postmortem);
    EXPECT_TRUE(status.ok()) << file << ": " << status.ToString();
    samples.push_back(std::move(sample));
  }
  EXPECT_GE(samples.size(), 25u);
  return samples;
}

class RecurrenceLinkingPgTest : public PgTest {
 protected:
  void SetUp() override {
    PgTest::SetUp();
    ASSERT_FALSE(connection_string().empty());
    absl::StatusOr<std::unique_ptr<PostmortemStore>> store =
        OpenPgStore({connection_string(), 2});
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
    absl::StatusOr<std::unique_ptr<IndexFeed>> feed =
        OpenPgIndexFeed({connection_string()});
    ASSERT_TRUE(feed.ok()) << feed.status();
    feed_ = *std::move(feed);
    absl::StatusOr<std::unique_ptr<RecurrenceStore>> recurrences =
        OpenPgRecurrenceStore({connection_string(), 1});
    ASSERT_TRUE(recurrences.ok()) << recurrences.status();
    recurrences_ = *std::move(recurrences);

    std::string pattern =
        (fs::temp_directory_path() / "deja-linking-pg-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    root_ = pattern;
    options_.index_dir = (fs::path(root_) / "index").string();
    options_.recurrences = recurrences_.get();
  }
  void TearDown() override {
    if (!root_.empty()) fs::remove_all(root_);
  }

  // Submits every sample in file order; fills ids_ and prefixes_.
  void SubmitSamples(PostmortemStore& store) {
    for (const Sample& sample : LoadSamples()) {
      absl::StatusOr<SubmitResult> result =
          store.Submit(sample.postmortem, "", Soon());
      ASSERT_TRUE(result.ok()) << sample.prefix << ": " << result.status();
      ids_[sample.prefix] = result->postmortem.id();
      prefixes_[result->postmortem.id()] = sample.prefix;
    }
  }

  std::unique_ptr<IndexSync> OpenSync(IndexFeed& feed,
                                      const IndexSyncOptions& options) {
    absl::StatusOr<std::unique_ptr<IndexSync>> sync =
        IndexSync::Open(feed, options);
    EXPECT_TRUE(sync.ok()) << sync.status();
    return sync.ok() ? *std::move(sync) : nullptr;
  }

  // Every link, keyed "later>earlier" by file prefix.
  std::map<std::string, RecurrenceLink> LinksByPrefix() {
    v1::ListRecurrencesRequest request;
    request.set_page_size(500);
    absl::StatusOr<v1::ListRecurrencesResponse> listed =
        recurrences_->List(request);
    EXPECT_TRUE(listed.ok()) << listed.status();
    std::map<std::string, RecurrenceLink> links;
    if (!listed.ok()) return links;
    EXPECT_TRUE(listed->next_page_token().empty());
    for (const RecurrenceLink& link : listed->links()) {
      links[absl::StrCat(prefixes_[link.postmortem_id()], ">",
                         prefixes_[link.earlier_id()])] = link;
    }
    return links;
  }

  static std::string FamilyOf(const std::string& prefix) {
    for (const auto& family : Families()) {
      if (std::find(family.begin(), family.end(), prefix) != family.end()) {
        return family.front();
      }
    }
    return "";
  }

  // Checks the families are linked (each later member to the one before
  // it, at least; `rejected` aside) and counted, and that no link crosses
  // families.
  void ExpectFamiliesLinked(const std::map<std::string, RecurrenceLink>& links,
                            const std::string& rejected = "") {
    for (const auto& family : Families()) {
      for (size_t i = 1; i < family.size(); ++i) {
        const std::string key = absl::StrCat(family[i], ">", family[i - 1]);
        if (key == rejected) continue;
        auto it = links.find(key);
        ASSERT_NE(it, links.end()) << "no link " << key;
        EXPECT_EQ(it->second.source(), RecurrenceLink::AUTO) << key;
        EXPECT_TRUE(it->second.counted()) << key << " " << it->second.score();
        EXPECT_GE(it->second.score(), 0.85) << key;
        EXPECT_FALSE(it->second.reasons().empty()) << key;
      }
    }
    for (const auto& [key, link] : links) {
      const std::string later = prefixes_[link.postmortem_id()];
      const std::string earlier = prefixes_[link.earlier_id()];
      EXPECT_FALSE(FamilyOf(later).empty()) << "unexpected link " << key;
      EXPECT_EQ(FamilyOf(later), FamilyOf(earlier))
          << "link crosses families: " << key << " " << link.score();
      EXPECT_GT(later, earlier) << "points forward in time: " << key;
    }
  }

  std::unique_ptr<PostmortemStore> store_;
  std::unique_ptr<IndexFeed> feed_;
  std::unique_ptr<RecurrenceStore> recurrences_;
  std::string root_;
  IndexSyncOptions options_;
  std::map<std::string, std::string> ids_;       // prefix -> id
  std::map<std::string, std::string> prefixes_;  // id -> prefix
};

TEST_F(RecurrenceLinkingPgTest, SampleRepeatFamiliesAreLinkedAndCounted) {
  SubmitSamples(*store_);
  std::unique_ptr<IndexSync> sync = OpenSync(*feed_, options_);
  ASSERT_NE(sync, nullptr);
  absl::StatusOr<int64_t> applied = sync->RunOnce();
  ASSERT_TRUE(applied.ok()) << applied.status();
  EXPECT_EQ(*applied, static_cast<int64_t>(ids_.size()));

  const std::map<std::string, RecurrenceLink> links = LinksByPrefix();
  for (const auto& [key, link] : links) {
    std::cout << "link " << key << " score " << link.score() << "\n";
  }
  ExpectFamiliesLinked(links);
}

TEST_F(RecurrenceLinkingPgTest, ARejectedLinkSurvivesReindexingAndARebuild) {
  SubmitSamples(*store_);
  std::unique_ptr<IndexSync> sync = OpenSync(*feed_, options_);
  ASSERT_NE(sync, nullptr);
  ASSERT_TRUE(sync->RunOnce().ok());
  ASSERT_EQ(LinksByPrefix().count("11>03"), 1u);

  v1::DecideRecurrenceRequest decision;
  decision.set_postmortem_id(ids_["11"]);
  decision.set_earlier_id(ids_["03"]);
  decision.set_decided_by("orders-oncall");
  decision.set_note("a different job this time");
  absl::StatusOr<RecurrenceLink> rejected =
      recurrences_->Decide(decision, RecurrenceLink::REJECTED);
  ASSERT_TRUE(rejected.ok()) << rejected.status();

  // Re-submitting 11 (an update) re-indexes it, which links it again.
  absl::StatusOr<v1::Postmortem> current = store_->Get(ids_["11"], Soon());
  ASSERT_TRUE(current.ok()) << current.status();
  v1::Postmortem edited = *current;
  edited.set_summary(absl::StrCat(edited.summary(), " (edited)"));
  ASSERT_TRUE(store_->Update(edited, current->version(), Soon()).ok());
  absl::StatusOr<int64_t> applied = sync->RunOnce();
  ASSERT_TRUE(applied.ok()) << applied.status();
  EXPECT_EQ(*applied, 1);

  auto expect_still_rejected = [&] {
    const std::map<std::string, RecurrenceLink> links = LinksByPrefix();
    auto it = links.find("11>03");
    ASSERT_NE(it, links.end());
    EXPECT_EQ(it->second.state(), RecurrenceLink::REJECTED);
    EXPECT_FALSE(it->second.counted());
    EXPECT_EQ(it->second.decided_by(), "orders-oncall");
    EXPECT_EQ(it->second.note(), "a different job this time");
    EXPECT_EQ(links.count("03>11"), 0u) << "nor suggested the other way";
    ExpectFamiliesLinked(links, "11>03");  // the rest stays linked
  };
  expect_still_rejected();
  // The outbox's row for 11 was processed with linking on.
  EXPECT_EQ(sync->Status().pending(), 0);

  ASSERT_TRUE(sync->Rebuild().ok());
  ASSERT_TRUE(sync->RunOnce().ok());
  expect_still_rejected();
}

// Whether a thread may move itself to SCHED_IDLE here (tried on a thread
// of its own, which ends with it).
bool SchedIdleAllowed() {
  bool allowed = false;
  std::thread probe([&allowed] {
    sched_param param{};
    allowed = sched_setscheduler(0, SCHED_IDLE, &param) == 0;
  });
  probe.join();
  return allowed;
}

// The threads of this process under SCHED_IDLE.
int IdleThreads() {
  int idle = 0;
  for (const fs::directory_entry& task :
       fs::directory_iterator("/proc/self/task")) {
    const pid_t tid = std::atoi(task.path().filename().c_str());
    if (sched_getscheduler(tid) == SCHED_IDLE) ++idle;
  }
  return idle;
}

// Linking must not hold up what waits for a commit: the two linker threads
// run under SCHED_IDLE, and no other thread does (the applier keeps the
// process's policy). Skipped where the system refuses SCHED_IDLE (the code
// falls back to nice 10 there).
TEST_F(RecurrenceLinkingPgTest, LinkersRunUnderSchedIdle) {
  ASSERT_EQ(IdleThreads(), 0);
  std::unique_ptr<IndexSync> sync = OpenSync(*feed_, options_);
  ASSERT_NE(sync, nullptr);
  sync->Start();
  const auto await_idle_threads = [](int want) {
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    while (IdleThreads() != want && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(10));
    }
    return IdleThreads();
  };
  const int idle = await_idle_threads(2);
  if (idle == 0 && !SchedIdleAllowed()) {
    sync->Stop();
    GTEST_SKIP() << "this system refuses SCHED_IDLE";
  }
  EXPECT_EQ(idle, 2);  // the two linkers (kLinkerThreads), not the applier
  sync->Stop();
  // A joined thread may linger in /proc/self/task for a moment.
  EXPECT_EQ(await_idle_threads(0), 0);
}

TEST_F(RecurrenceLinkingPgTest, LinkingTimePerPostmortemIsMeasured) {
  // The same samples indexed without linking, in a database of their own,
  // first (so that the warm-up is not charged to linking). Open() builds
  // each index from the database, so RunOnce() then finds every outbox row
  // indexed already: the difference between the two is the linking.
  const std::string plain_database = cluster().FreshDatabase();
  ASSERT_FALSE(plain_database.empty());
  absl::StatusOr<std::unique_ptr<PostmortemStore>> plain_store =
      OpenPgStore({plain_database, 2});
  ASSERT_TRUE(plain_store.ok()) << plain_store.status();
  absl::StatusOr<std::unique_ptr<IndexFeed>> plain_feed =
      OpenPgIndexFeed({plain_database});
  ASSERT_TRUE(plain_feed.ok()) << plain_feed.status();
  SubmitSamples(**plain_store);
  IndexSyncOptions plain_options = options_;
  plain_options.recurrences = nullptr;
  plain_options.index_dir = (fs::path(root_) / "plain").string();
  std::unique_ptr<IndexSync> plain = OpenSync(**plain_feed, plain_options);
  ASSERT_NE(plain, nullptr);
  absl::Time start = absl::Now();
  ASSERT_TRUE(plain->RunOnce().ok());
  const absl::Duration without_links = absl::Now() - start;

  SubmitSamples(*store_);
  std::unique_ptr<IndexSync> sync = OpenSync(*feed_, options_);
  ASSERT_NE(sync, nullptr);
  start = absl::Now();
  ASSERT_TRUE(sync->RunOnce().ok());
  const absl::Duration with_links = absl::Now() - start;
  EXPECT_FALSE(LinksByPrefix().empty());

  const double count = static_cast<double>(ids_.size());
  std::cout << absl::StrFormat(
      "[linking cost] %d postmortems: outbox drain %.1f ms without linking, "
      "%.1f ms with; linking adds %.2f ms per postmortem\n",
      ids_.size(), absl::ToDoubleMilliseconds(without_links),
      absl::ToDoubleMilliseconds(with_links),
      absl::ToDoubleMilliseconds(with_links - without_links) / count);
}

}  // namespace
}  // namespace deja
