#include "tests/testing/fake_index_feed.h"

#include <algorithm>
#include <limits>
#include <utility>

#include "absl/time/clock.h"

namespace deja::testing {

class FakeIndexFeed::Batch : public OutboxBatch {
 public:
  Batch(FakeIndexFeed* feed, bool links, std::vector<IndexChange> changes,
        std::vector<int64_t> sequences)
      : feed_(feed),
        links_(links),
        changes_(std::move(changes)),
        sequences_(std::move(sequences)) {}
  ~Batch() override {
    if (!completed_) feed_->ReleaseRows(links_, sequences_);
  }

  const std::vector<IndexChange>& changes() const override { return changes_; }
  int64_t row_count() const override {
    return static_cast<int64_t>(sequences_.size());
  }
  absl::Status CompleteAndQueueLinks(
      const std::vector<LinkRequest>& to_link) override {
    if (completed_) return absl::OkStatus();
    absl::Status status = feed_->CompleteRows(links_, sequences_, to_link);
    if (status.ok()) completed_ = true;
    return status;
  }

 private:
  FakeIndexFeed* const feed_;
  const bool links_;
  const std::vector<IndexChange> changes_;
  const std::vector<int64_t> sequences_;
  bool completed_ = false;
};

FakeIndexFeed::FakeIndexFeed() = default;
FakeIndexFeed::~FakeIndexFeed() = default;

void FakeIndexFeed::Put(const v1::Postmortem& postmortem) {
  absl::MutexLock lock(&mu_);
  live_[postmortem.id()] = postmortem;
  AddRow(postmortem.id(), postmortem.version(), std::nullopt);
  notified_ = true;
}

void FakeIndexFeed::Remove(const std::string& postmortem_id, int64_t version) {
  absl::MutexLock lock(&mu_);
  live_.erase(postmortem_id);
  AddRow(postmortem_id, version, std::nullopt);
  notified_ = true;
}

void FakeIndexFeed::EnqueueSnapshot(const v1::Postmortem& snapshot) {
  absl::MutexLock lock(&mu_);
  AddRow(snapshot.id(), snapshot.version(), snapshot);
}

void FakeIndexFeed::Notify() {
  absl::MutexLock lock(&mu_);
  notified_ = true;
}

void FakeIndexFeed::WakeLate(absl::Duration delay) {
  absl::MutexLock lock(&mu_);
  woken_late_by_ = delay;
}

void FakeIndexFeed::FailNext(Method method, absl::Status status, int times) {
  absl::MutexLock lock(&mu_);
  for (int i = 0; i < times; ++i) failures_[method].push_back(status);
}

void FakeIndexFeed::FailForEachAfter(int visits, absl::Status status) {
  absl::MutexLock lock(&mu_);
  for_each_break_.emplace(visits, std::move(status));
}

void FakeIndexFeed::OnForEachPostmortem(std::function<void()> hook) {
  absl::MutexLock lock(&mu_);
  for_each_hook_ = std::move(hook);
}

void FakeIndexFeed::OnComplete(std::function<void()> hook) {
  absl::MutexLock lock(&mu_);
  complete_hook_ = std::move(hook);
}

int64_t FakeIndexFeed::outbox_rows() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int64_t>(rows_.size());
}

int64_t FakeIndexFeed::link_rows() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int64_t>(link_rows_.size());
}

int FakeIndexFeed::claim_calls() const {
  absl::MutexLock lock(&mu_);
  return claim_calls_;
}

int FakeIndexFeed::peek_calls() const {
  absl::MutexLock lock(&mu_);
  return peek_calls_;
}

int FakeIndexFeed::for_each_calls() const {
  absl::MutexLock lock(&mu_);
  return for_each_calls_;
}

absl::StatusOr<std::unique_ptr<OutboxBatch>> FakeIndexFeed::Claim(
    int max_rows) {
  return ClaimIncluding(max_rows, {}, std::numeric_limits<int64_t>::max());
}

absl::StatusOr<std::unique_ptr<OutboxBatch>> FakeIndexFeed::ClaimIncluding(
    int max_rows, const std::vector<int64_t>& included, int64_t through_row) {
  absl::MutexLock lock(&mu_);
  ++claim_calls_;
  if (std::optional<absl::Status> failure = TakeFailure(Method::kClaim)) {
    return *failure;
  }
  return ClaimFrom(rows_, max_rows, included, through_row);
}

absl::StatusOr<std::unique_ptr<OutboxBatch>> FakeIndexFeed::ClaimLinks(
    int max_rows) {
  absl::MutexLock lock(&mu_);
  if (std::optional<absl::Status> failure = TakeFailure(Method::kClaimLinks)) {
    return *failure;
  }
  return ClaimFrom(link_rows_, max_rows, {},
                   std::numeric_limits<int64_t>::max());
}

absl::StatusOr<PendingChanges> FakeIndexFeed::Peek(int64_t after_row,
                                                   int max_rows) {
  absl::MutexLock lock(&mu_);
  ++peek_calls_;
  if (std::optional<absl::Status> failure = TakeFailure(Method::kPeek)) {
    return *failure;
  }
  PendingChanges pending;
  pending.last_row = after_row;
  std::map<std::string, size_t> change_of;
  int read = 0;
  for (const Row& row : rows_) {
    if (row.sequence <= after_row) continue;
    if (read++ >= max_rows) break;
    AddToChanges(row, pending.changes, change_of);
    pending.last_row = std::max(pending.last_row, row.sequence);
  }
  if (read >= max_rows) {
    pending.backlog = true;
    pending.changes.clear();
  }
  return pending;
}

void FakeIndexFeed::AddToChanges(const Row& row,
                                 std::vector<IndexChange>& changes,
                                 std::map<std::string, size_t>& change_of) {
  auto [it, inserted] = change_of.emplace(row.postmortem_id, changes.size());
  if (inserted) {
    changes.emplace_back();
    changes.back().postmortem_id = row.postmortem_id;
  }
  IndexChange& change = changes[it->second];
  change.version = std::max(change.version, row.version);
  change.row_ids.push_back(row.sequence);
  if (row.snapshot.has_value()) {
    change.deleted = false;
    change.postmortem = *row.snapshot;
    return;
  }
  auto live = live_.find(row.postmortem_id);
  change.deleted = live == live_.end();
  change.postmortem = change.deleted ? v1::Postmortem() : live->second;
}

std::unique_ptr<OutboxBatch> FakeIndexFeed::ClaimFrom(
    std::vector<Row>& rows, int max_rows, const std::vector<int64_t>& included,
    int64_t through_row) {
  std::vector<IndexChange> changes;
  std::vector<int64_t> sequences;
  std::map<std::string, size_t> change_of;  // postmortem id -> changes index
  const auto take = [&](Row& row) {
    row.claimed = true;
    sequences.push_back(row.sequence);
    AddToChanges(row, changes, change_of);
  };
  for (Row& row : rows) {
    if (row.claimed) continue;
    if (std::find(included.begin(), included.end(), row.sequence) !=
        included.end()) {
      take(row);
    }
  }
  // Like the store's LIMIT: the rows of `included` count among the oldest.
  int taken = 0;
  for (Row& row : rows) {
    if (taken >= max_rows || row.sequence > through_row) break;
    const bool mine = std::find(sequences.begin(), sequences.end(),
                                row.sequence) != sequences.end();
    if (row.claimed && !mine) continue;
    if (!mine) take(row);
    ++taken;
  }
  return std::unique_ptr<OutboxBatch>(new Batch(
      this, &rows == &link_rows_, std::move(changes), std::move(sequences)));
}

absl::StatusOr<WaitOutcome> FakeIndexFeed::WaitForWork(absl::Duration timeout) {
  absl::Duration late = absl::ZeroDuration();
  bool woken = false;
  {
    absl::MutexLock lock(&mu_);
    if (std::optional<absl::Status> failure =
            TakeFailure(Method::kWaitForWork)) {
      return *failure;
    }
    woken = mu_.AwaitWithTimeout(absl::Condition(&notified_), timeout);
    notified_ = false;
    late = woken_late_by_;
  }
  if (!woken) return WaitOutcome::kTimedOut;
  absl::SleepFor(late);
  return WaitOutcome::kWoken;
}

absl::StatusOr<OutboxStats> FakeIndexFeed::Stats() {
  absl::MutexLock lock(&mu_);
  if (std::optional<absl::Status> failure = TakeFailure(Method::kStats)) {
    return *failure;
  }
  OutboxStats stats;
  stats.pending = static_cast<int64_t>(rows_.size());
  if (!rows_.empty())
    stats.oldest_age = absl::Now() - rows_.front().enqueued_at;
  stats.link_pending = static_cast<int64_t>(link_rows_.size());
  if (!link_rows_.empty()) {
    stats.link_oldest_age = absl::Now() - link_rows_.front().enqueued_at;
  }
  return stats;
}

absl::Status FakeIndexFeed::ForEachPostmortem(
    const std::function<absl::Status(const v1::Postmortem&)>& visit) {
  std::map<std::string, v1::Postmortem> snapshot;
  std::function<void()> hook;
  std::optional<std::pair<int, absl::Status>> broken;
  {
    absl::MutexLock lock(&mu_);
    ++for_each_calls_;
    if (std::optional<absl::Status> failure = TakeFailure(Method::kForEach)) {
      return *failure;
    }
    snapshot = live_;
    hook = for_each_hook_;
    broken = std::move(for_each_break_);
    for_each_break_.reset();
  }
  // Outside the lock: the hook writes to this feed, and visits may be slow.
  if (hook) hook();
  int visited = 0;
  for (const auto& [id, postmortem] : snapshot) {
    if (broken && visited == broken->first) return broken->second;
    absl::Status status = visit(postmortem);
    if (!status.ok()) return status;
    ++visited;
  }
  return absl::OkStatus();
}

std::optional<absl::Status> FakeIndexFeed::TakeFailure(Method method) {
  auto it = failures_.find(method);
  if (it == failures_.end() || it->second.empty()) return std::nullopt;
  absl::Status status = it->second.front();
  it->second.erase(it->second.begin());
  return status;
}

void FakeIndexFeed::AddRow(const std::string& postmortem_id, int64_t version,
                           std::optional<v1::Postmortem> snapshot) {
  Row row;
  row.sequence = next_sequence_++;
  row.postmortem_id = postmortem_id;
  row.version = version;
  row.enqueued_at = absl::Now();
  row.snapshot = std::move(snapshot);
  rows_.push_back(std::move(row));
}

absl::Status FakeIndexFeed::CompleteRows(
    bool links, const std::vector<int64_t>& sequences,
    const std::vector<LinkRequest>& to_link) {
  std::function<void()> hook;
  if (!links) {
    absl::MutexLock lock(&mu_);
    hook = complete_hook_;
  }
  // Outside the lock: the hook may wait while the test writes to the feed.
  if (hook) hook();
  absl::MutexLock lock(&mu_);
  if (std::optional<absl::Status> failure = TakeFailure(Method::kComplete)) {
    return *failure;
  }
  std::vector<Row>& rows = links ? link_rows_ : rows_;
  rows.erase(std::remove_if(rows.begin(), rows.end(),
                            [&](const Row& row) {
                              return std::find(sequences.begin(),
                                               sequences.end(),
                                               row.sequence) != sequences.end();
                            }),
             rows.end());
  for (const LinkRequest& request : to_link) {
    Row row;
    row.sequence = next_sequence_++;
    row.postmortem_id = request.postmortem_id;
    row.version = request.version;
    row.enqueued_at = absl::Now();
    link_rows_.push_back(std::move(row));
  }
  return absl::OkStatus();
}

void FakeIndexFeed::ReleaseRows(bool links,
                                const std::vector<int64_t>& sequences) {
  absl::MutexLock lock(&mu_);
  for (Row& row : links ? link_rows_ : rows_) {
    if (std::find(sequences.begin(), sequences.end(), row.sequence) !=
        sequences.end()) {
      row.claimed = false;
    }
  }
}

}  // namespace deja::testing
