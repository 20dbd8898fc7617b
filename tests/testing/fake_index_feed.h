#ifndef DEJA_TESTS_TESTING_FAKE_INDEX_FEED_H_
#define DEJA_TESTS_TESTING_FAKE_INDEX_FEED_H_

// An in-memory IndexFeed for unit tests, keeping the contract of
// core/index_feed.h: outbox rows (and link rows) claimed oldest first and
// held until completed (deleted, and the link requests queued) or the batch's
// destruction (released), or read ahead without claiming (Peek); several rows
// of one postmortem become one change carrying the postmortem as it is now;
// WaitForWork() wakes on a notification that arrived since the last wait,
// like LISTEN/NOTIFY. Plus fault injection per method. Thread-safe; batches
// must not outlive the feed.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "core/index_feed.h"

namespace deja::testing {

class FakeIndexFeed : public IndexFeed {
 public:
  enum class Method {
    kClaim,  // Claim and ClaimIncluding
    kClaimLinks,
    kPeek,
    kComplete,
    kWaitForWork,
    kStats,
    kForEach
  };

  FakeIndexFeed();
  ~FakeIndexFeed() override;

  // What the store does on a write: `postmortem` (with id and version)
  // becomes the live one, an outbox row names its version, and a NOTIFY
  // wakes the waiter.
  void Put(const v1::Postmortem& postmortem);
  // A delete: the postmortem is gone, an outbox row names `version`.
  void Remove(const std::string& postmortem_id, int64_t version);
  // An outbox row whose change carries `snapshot` instead of the live
  // postmortem, as an out-of-order or lagging delivery would (for the
  // stale-version rule). Changes no live state and sends no NOTIFY.
  void EnqueueSnapshot(const v1::Postmortem& snapshot);
  // A NOTIFY with no new row (a spurious wake-up).
  void Notify();
  // A woken WaitForWork() returns `delay` late, as a thread the scheduler
  // runs late would: longer than the caller's whole wait, if need be.
  void WakeLate(absl::Duration delay);

  // The next `times` calls of `method` return `status` and change nothing
  // (a failed Complete leaves its rows claimed until the batch is destroyed;
  // kComplete counts the completions of both queues).
  void FailNext(Method method, absl::Status status, int times = 1);
  // The next ForEachPostmortem() returns `status` after visiting `visits`
  // postmortems, as a scan whose connection broke half-way would.
  void FailForEachAfter(int visits, absl::Status status);
  // Runs once per ForEachPostmortem(), after its snapshot is taken and
  // before the first visit: lets a test write "during" a rebuild.
  void OnForEachPostmortem(std::function<void()> hook);
  // Runs at the start of every completion of outbox rows (not link rows),
  // before it deletes them: lets a test hold a commit cycle back between
  // its index commit and its completion, as a slow store would.
  void OnComplete(std::function<void()> hook);

  // Outbox rows present (claimed or not).
  int64_t outbox_rows() const;
  // Link rows present (claimed or not).
  int64_t link_rows() const;
  int claim_calls() const;
  int peek_calls() const;
  int for_each_calls() const;

  absl::StatusOr<std::unique_ptr<OutboxBatch>> Claim(int max_rows) override;
  absl::StatusOr<std::unique_ptr<OutboxBatch>> ClaimIncluding(
      int max_rows, const std::vector<int64_t>& included,
      int64_t through_row) override;
  absl::StatusOr<std::unique_ptr<OutboxBatch>> ClaimLinks(
      int max_rows) override;
  absl::StatusOr<PendingChanges> Peek(int64_t after_row, int max_rows) override;
  absl::StatusOr<WaitOutcome> WaitForWork(absl::Duration timeout) override;
  absl::StatusOr<OutboxStats> Stats() override;
  absl::Status ForEachPostmortem(
      const std::function<absl::Status(const v1::Postmortem&)>& visit) override;

 private:
  class Batch;
  friend class Batch;

  struct Row {
    int64_t sequence = 0;
    std::string postmortem_id;
    int64_t version = 0;
    absl::Time enqueued_at;
    bool claimed = false;
    std::optional<v1::Postmortem> snapshot;
  };

  // Consumes one injected failure of `method`, if any.
  std::optional<absl::Status> TakeFailure(Method method)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void AddRow(const std::string& postmortem_id, int64_t version,
              std::optional<v1::Postmortem> snapshot)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Claims from `rows` (rows_ or link_rows_): the unclaimed ones among
  // `included`, then the oldest up to `through_row`, `max_rows` in all
  // counting those of `included` among them.
  std::unique_ptr<OutboxBatch> ClaimFrom(std::vector<Row>& rows, int max_rows,
                                         const std::vector<int64_t>& included,
                                         int64_t through_row)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Adds `row` to the change of its postmortem, as it is now (or as its
  // snapshot says).
  void AddToChanges(const Row& row, std::vector<IndexChange>& changes,
                    std::map<std::string, size_t>& change_of)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Called by batches; `links` says which queue their rows are in.
  absl::Status CompleteRows(bool links, const std::vector<int64_t>& sequences,
                            const std::vector<LinkRequest>& to_link);
  void ReleaseRows(bool links, const std::vector<int64_t>& sequences);

  mutable absl::Mutex mu_;
  int64_t next_sequence_ ABSL_GUARDED_BY(mu_) = 1;
  std::vector<Row> rows_ ABSL_GUARDED_BY(mu_);
  std::vector<Row> link_rows_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, v1::Postmortem> live_ ABSL_GUARDED_BY(mu_);
  bool notified_ ABSL_GUARDED_BY(mu_) = false;
  absl::Duration woken_late_by_ ABSL_GUARDED_BY(mu_) = absl::ZeroDuration();
  std::map<Method, std::vector<absl::Status>> failures_ ABSL_GUARDED_BY(mu_);
  std::function<void()> for_each_hook_ ABSL_GUARDED_BY(mu_);
  std::function<void()> complete_hook_ ABSL_GUARDED_BY(mu_);
  std::optional<std::pair<int, absl::Status>> for_each_break_
      ABSL_GUARDED_BY(mu_);
  int claim_calls_ ABSL_GUARDED_BY(mu_) = 0;
  int peek_calls_ ABSL_GUARDED_BY(mu_) = 0;
  int for_each_calls_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace deja::testing

#endif  // DEJA_TESTS_TESTING_FAKE_INDEX_FEED_H_
