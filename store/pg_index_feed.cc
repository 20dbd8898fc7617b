#include "store/pg_index_feed.h"

#include <algorithm>
#include <cstdint>
#include <exception>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <pqxx/pqxx>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "core/event_log.h"
#include "core/status_macros.h"
#include "store/connection_pool.h"
#include "store/pg_errors.h"
#include "store/postmortem_rows.h"

namespace deja {
namespace {

constexpr char kChannel[] = "deja_index";

// Each claimed batch holds one of these until it is completed or dropped.
// An indexer holds one for the batch it applies and one for each of its two
// linkers' batches; the others leave room for a concurrent RunOnce() or a
// second indexer in the same process.
constexpr int kClaimConnections = 6;
// Stats(), ForEachPostmortem() (held for a whole rebuild) and Peek().
constexpr int kQueryConnections = 3;
// How long a call waits for a free pooled connection; also bounds connecting.
constexpr absl::Duration kAcquireWait = absl::Seconds(5);
// Postmortems read per query of a full scan: bounds the memory of a rebuild.
constexpr int kScanChunkRows = 500;
// While the database is down WaitForWork() sleeps out its timeout, but no
// longer than this, so an infinite timeout still comes back to report.
constexpr absl::Duration kMaxSleepWhileDown = absl::Seconds(5);
// select() needs a finite timeout; longer waits go round in slices.
constexpr absl::Duration kMaxWaitSlice = absl::Seconds(60);

// Oldest first. The postmortem's current row decides what the index does,
// not the operation column: a later row may already have changed it again.
// $2 bounds the row ids (ClaimIncluding).
constexpr char kClaimRows[] =
    "SELECT id, postmortem_id::text, version FROM index_outbox "
    "WHERE id <= $2::int8 ORDER BY id LIMIT $1::int FOR UPDATE SKIP LOCKED";
constexpr char kClaimLinkRows[] =
    "SELECT id, postmortem_id::text, version FROM link_outbox "
    "WHERE id <= $2::int8 ORDER BY id LIMIT $1::int FOR UPDATE SKIP LOCKED";

// ClaimIncluding's given rows, locked ahead of the claim.
constexpr char kLockRows[] =
    "SELECT id, postmortem_id::text, version FROM index_outbox "
    "WHERE id = ANY($1::bigint[]) ORDER BY id FOR UPDATE";
// Peek: rows read ahead of the claim, locked or not.
constexpr char kPeekRows[] =
    "SELECT id, postmortem_id::text, version FROM index_outbox "
    "WHERE id > $1::int8 ORDER BY id LIMIT $2::int";

// The same read as PgStore::Get, for many ids at once.
constexpr char kLiveDocuments[] =
    "SELECT id::text, document::text FROM postmortems "
    "WHERE id = ANY($1::uuid[]) AND deleted_at IS NULL";

constexpr char kDeleteRows[] =
    "DELETE FROM index_outbox WHERE id = ANY($1::bigint[])";
constexpr char kDeleteLinkRows[] =
    "DELETE FROM link_outbox WHERE id = ANY($1::bigint[])";

constexpr char kQueueLinks[] =
    "INSERT INTO link_outbox (postmortem_id, version) "
    "SELECT * FROM unnest($1::uuid[], $2::bigint[])";

// clock_timestamp(), not now(): enqueued_at is a clock_timestamp() too, and
// now() is the start of this transaction.
constexpr char kOutboxStats[] =
    "SELECT o.rows, o.age, l.rows, l.age FROM "
    "(SELECT count(*) AS rows, COALESCE(GREATEST(0, (extract(epoch FROM "
    "clock_timestamp() - min(enqueued_at)) * 1000000)::int8), 0) AS age "
    "FROM index_outbox) o, "
    "(SELECT count(*) AS rows, COALESCE(GREATEST(0, (extract(epoch FROM "
    "clock_timestamp() - min(enqueued_at)) * 1000000)::int8), 0) AS age "
    "FROM link_outbox) l";

// No bound on the claimed rows' ids.
constexpr int64_t kAnyRow = std::numeric_limits<int64_t>::max();

// The two queues of the feed, by their statements.
struct Queue {
  const char* name;  // in messages: "outbox rows", "link rows"
  const char* claim;
  const char* remove;
};
constexpr Queue kIndexQueue{"outbox rows", kClaimRows, kDeleteRows};
constexpr Queue kLinkQueue{"link rows", kClaimLinkRows, kDeleteLinkRows};

// Keyset paging on the primary key: each chunk is an index range scan.
constexpr char kLiveChunk[] =
    "SELECT id::text, document::text FROM postmortems "
    "WHERE deleted_at IS NULL AND ($1::uuid IS NULL OR id > $1::uuid) "
    "ORDER BY id LIMIT $2::int";

// A parameter in PostgreSQL's array syntax. The elements are uuids and
// integers read from the database, so they need no quoting.
template <typename T>
std::string ArrayLiteral(const std::vector<T>& elements) {
  return absl::StrCat("{", absl::StrJoin(elements, ","), "}");
}

// True when `connection` cannot be used again: the caller drops it.
bool IsBroken(const std::exception& e, pqxx::connection& connection,
              const absl::Status& status) {
  return dynamic_cast<const pqxx::broken_connection*>(&e) != nullptr ||
         !connection.is_open() ||
         status.code() == absl::StatusCode::kUnavailable;
}

struct ClaimedRows {
  std::vector<int64_t> row_ids;
  std::vector<IndexChange> changes;
};

// Adds the outbox rows `rows` (id, postmortem id, version) to `claimed`, a
// row already there once, merging the rows of one postmortem into one
// change.
void AddRows(const pqxx::result& rows, ClaimedRows& claimed,
             std::map<std::string, size_t>& change_of) {
  for (const pqxx::row& row : rows) {
    const int64_t row_id = row[0].as<int64_t>();
    if (std::find(claimed.row_ids.begin(), claimed.row_ids.end(), row_id) !=
        claimed.row_ids.end()) {
      continue;
    }
    claimed.row_ids.push_back(row_id);
    const std::string id = row[1].as<std::string>();
    const int64_t version = row[2].as<int64_t>();
    auto [it, inserted] = change_of.emplace(id, claimed.changes.size());
    if (inserted) {
      IndexChange change;
      change.postmortem_id = id;
      change.version = version;
      claimed.changes.push_back(std::move(change));
    }
    IndexChange& change = claimed.changes[it->second];
    change.version = std::max(change.version, version);
    change.row_ids.push_back(row_id);
  }
}

// Reads the current state of the postmortems of `claimed`'s changes, after
// their rows were read (read committed: a newer snapshot, so the state is at
// least as new as every row). Missing ones are deleted.
absl::Status ReadCurrentState(pqxx::transaction_base& txn, ClaimedRows& claimed,
                              const std::map<std::string, size_t>& change_of) {
  if (claimed.changes.empty()) return absl::OkStatus();
  for (IndexChange& change : claimed.changes) change.deleted = true;
  std::vector<std::string> ids;
  ids.reserve(change_of.size());
  for (const auto& [id, index] : change_of) ids.push_back(id);
  for (const pqxx::row& row :
       txn.exec_params(kLiveDocuments, ArrayLiteral(ids))) {
    auto it = change_of.find(row[0].as<std::string>());
    if (it == change_of.end()) continue;
    IndexChange& change = claimed.changes[it->second];
    DEJA_ASSIGN_OR_RETURN(change.postmortem,
                          PostmortemFromDocument(row[1].as<std::string>()));
    change.deleted = false;
  }
  return absl::OkStatus();
}

// Locks up to `max_rows` rows of `queue` up to `through_row` in `txn`, and
// the waiting rows among `included` (index queue only), and reads the
// current state of their postmortems. Throws pqxx exceptions.
absl::StatusOr<ClaimedRows> ClaimIn(pqxx::work& txn, const Queue& queue,
                                    int max_rows,
                                    const std::vector<int64_t>& included,
                                    int64_t through_row) {
  ClaimedRows claimed;
  std::map<std::string, size_t> change_of;  // postmortem id -> changes index
  if (!included.empty()) {
    // Not SKIP LOCKED: the one writer is the only claimer of these rows,
    // and they are locked first so that the claim below returns them again
    // rather than skipping them.
    AddRows(txn.exec_params(kLockRows, ArrayLiteral(included)), claimed,
            change_of);
  }
  AddRows(txn.exec_params(queue.claim, max_rows, through_row), claimed,
          change_of);
  DEJA_RETURN_IF_ERROR(ReadCurrentState(txn, claimed, change_of));
  return claimed;
}

// The outbox rows after `after_row`, unlocked, as changes; only the last
// row id of a full page of `max_rows` (IndexFeed::Peek).
absl::StatusOr<PendingChanges> PeekIn(pqxx::connection& connection,
                                      int64_t after_row, int max_rows) {
  pqxx::read_transaction txn(connection);
  const pqxx::result rows = txn.exec_params(kPeekRows, after_row, max_rows);
  PendingChanges pending;
  pending.last_row = after_row;
  for (const pqxx::row& row : rows) {
    pending.last_row = std::max(pending.last_row, row[0].as<int64_t>());
  }
  pending.backlog = rows.size() >= static_cast<size_t>(max_rows);
  if (!pending.backlog) {
    ClaimedRows read;
    std::map<std::string, size_t> change_of;
    AddRows(rows, read, change_of);
    DEJA_RETURN_IF_ERROR(ReadCurrentState(txn, read, change_of));
    pending.changes = std::move(read.changes);
  }
  txn.commit();
  return pending;
}

absl::StatusOr<OutboxStats> StatsIn(pqxx::connection& connection) {
  pqxx::read_transaction txn(connection);
  const pqxx::row row = txn.exec1(kOutboxStats);
  OutboxStats stats;
  stats.pending = row[0].as<int64_t>();
  stats.oldest_age = absl::Microseconds(row[1].as<int64_t>());
  stats.link_pending = row[2].as<int64_t>();
  stats.link_oldest_age = absl::Microseconds(row[3].as<int64_t>());
  txn.commit();
  return stats;
}

// Sets `called_back` once `visit` has run: after that the scan must not be
// repeated on another connection.
absl::Status ScanIn(
    pqxx::connection& connection,
    const std::function<absl::Status(const v1::Postmortem&)>& visit,
    bool& called_back) {
  // One snapshot for every chunk.
  pqxx::transaction<pqxx::repeatable_read, pqxx::read_only> txn(connection);
  std::optional<std::string> after;
  while (true) {
    const pqxx::result rows =
        txn.exec_params(kLiveChunk, NullOr(after), kScanChunkRows);
    for (const pqxx::row& row : rows) {
      DEJA_ASSIGN_OR_RETURN(const v1::Postmortem postmortem,
                            PostmortemFromDocument(row[1].as<std::string>()));
      called_back = true;
      DEJA_RETURN_IF_ERROR(visit(postmortem));
    }
    if (rows.size() < static_cast<size_t>(kScanChunkRows)) break;
    after = rows.back()[0].as<std::string>();
  }
  txn.commit();
  return absl::OkStatus();
}

class PgOutboxBatch : public OutboxBatch {
 public:
  // An empty batch, holding nothing.
  PgOutboxBatch() = default;
  PgOutboxBatch(const Queue& queue, std::shared_ptr<ConnectionPool> pool,
                ConnectionPool::Lease lease, std::unique_ptr<pqxx::work> txn,
                ClaimedRows claimed)
      : queue_(&queue),
        pool_(std::move(pool)),
        lease_(std::move(lease)),
        txn_(std::move(txn)),
        row_ids_(std::move(claimed.row_ids)),
        changes_(std::move(claimed.changes)) {}
  PgOutboxBatch(const PgOutboxBatch&) = delete;
  PgOutboxBatch& operator=(const PgOutboxBatch&) = delete;

  // Rolls back: the rows stay in the outbox, unlocked.
  ~PgOutboxBatch() override { Release(/*broken=*/false); }

  const std::vector<IndexChange>& changes() const override { return changes_; }
  int64_t row_count() const override {
    return static_cast<int64_t>(row_ids_.size());
  }

  absl::Status CompleteAndQueueLinks(
      const std::vector<LinkRequest>& to_link) override {
    if (completed_) {
      return absl::FailedPreconditionError("outbox batch already completed");
    }
    if (row_ids_.empty() && to_link.empty()) {
      completed_ = true;
      return absl::OkStatus();
    }
    if (txn_ == nullptr) {
      return absl::FailedPreconditionError(
          "outbox batch was released after an error; claim again");
    }
    absl::Status status;
    try {
      txn_->exec_params(queue_->remove, ArrayLiteral(row_ids_));
      if (!to_link.empty()) {
        std::vector<std::string> ids;
        std::vector<int64_t> versions;
        for (const LinkRequest& request : to_link) {
          ids.push_back(request.postmortem_id);
          versions.push_back(request.version);
        }
        txn_->exec_params(kQueueLinks, ArrayLiteral(ids),
                          ArrayLiteral(versions));
      }
      txn_->commit();
      completed_ = true;
    } catch (const std::exception& e) {
      status = StatusFromPqxx(e, absl::StrCat("complete ", queue_->name));
      Release(IsBroken(e, lease_->connection(), status));
    } catch (...) {
      status = absl::InternalError(
          absl::StrCat("complete ", queue_->name,
                       ": unknown exception from the database layer"));
      Release(/*broken=*/true);
    }
    if (completed_) Release(/*broken=*/false);
    return status;
  }

 private:
  // Ends the transaction (rolling back unless committed) and gives the
  // connection back, or drops it when `broken`.
  void Release(bool broken) {
    txn_.reset();  // rolls back unless committed; never throws
    if (lease_.has_value()) {
      if (broken || !lease_->connection().is_open()) lease_->MarkBroken();
      lease_.reset();
    }
  }

  const Queue* queue_ = &kIndexQueue;
  // Declared in this order so the transaction ends before its connection goes
  // back to the pool, and the pool outlives both.
  std::shared_ptr<ConnectionPool> pool_;
  std::optional<ConnectionPool::Lease> lease_;
  std::unique_ptr<pqxx::work> txn_;
  std::vector<int64_t> row_ids_;
  std::vector<IndexChange> changes_;
  bool completed_ = false;
};

// Only wakes the waiter: await_notification() counts what arrived.
class OutboxListener final : public pqxx::notification_receiver {
 public:
  explicit OutboxListener(pqxx::connection_base& connection)
      : pqxx::notification_receiver(connection, kChannel) {}
  void operator()(const std::string& /*payload*/, int /*pid*/) override {}
};

class PgIndexFeed : public IndexFeed {
 public:
  explicit PgIndexFeed(const PgIndexFeedOptions& options)
      : connection_string_(options.connection_string),
        claim_pool_(std::make_shared<ConnectionPool>(connection_string_,
                                                     kClaimConnections)),
        query_pool_(connection_string_, kQueryConnections) {}

  ~PgIndexFeed() override {
    std::lock_guard<std::timed_mutex> lock(listen_mu_);
    StopListening();
  }

  absl::StatusOr<std::unique_ptr<OutboxBatch>> Claim(int max_rows) override {
    return ClaimFrom(kIndexQueue, max_rows, {}, kAnyRow);
  }

  absl::StatusOr<std::unique_ptr<OutboxBatch>> ClaimIncluding(
      int max_rows, const std::vector<int64_t>& rows,
      int64_t through_row) override {
    return ClaimFrom(kIndexQueue, max_rows, rows, through_row);
  }

  absl::StatusOr<PendingChanges> Peek(int64_t after_row,
                                      int max_rows) override {
    if (max_rows < 1) {
      return absl::InvalidArgumentError("max_rows: must be at least 1");
    }
    return OnQueryConnection(
        "read outbox rows ahead",
        [&](pqxx::connection& connection, bool& /*called_back*/) {
          return PeekIn(connection, after_row, max_rows);
        });
  }

  absl::StatusOr<std::unique_ptr<OutboxBatch>> ClaimLinks(
      int max_rows) override {
    return ClaimFrom(kLinkQueue, max_rows, {}, kAnyRow);
  }

  absl::StatusOr<WaitOutcome> WaitForWork(absl::Duration timeout) override {
    const absl::Time deadline =
        absl::Now() + std::max(timeout, absl::ZeroDuration());
    std::unique_lock<std::timed_mutex> lock(listen_mu_, std::defer_lock);
    if (deadline == absl::InfiniteFuture()) {
      lock.lock();
    } else if (!lock.try_lock_until(absl::ToChronoTime(deadline))) {
      // Another thread held the connection the whole time; it may have
      // consumed a notification meant for this caller too.
      return WaitOutcome::kWoken;
    }
    if (listen_connection_ == nullptr) {
      if (absl::Status listening = Listen(deadline); !listening.ok()) {
        // A caller that polls after every return would otherwise spin
        // while the database is down.
        absl::SleepFor(std::min(deadline - absl::Now(), kMaxSleepWhileDown));
        return listening;
      }
      // A change committed before LISTEN took effect sent its NOTIFY to
      // nobody: wake the caller at once so that it claims it now.
      return WaitOutcome::kWoken;
    }
    try {
      while (true) {
        const absl::Duration left = deadline - absl::Now();
        if (left <= absl::ZeroDuration()) return WaitOutcome::kTimedOut;
        const int64_t micros = absl::ToInt64Microseconds(
            absl::Ceil(std::min(left, kMaxWaitSlice), absl::Microseconds(1)));
        if (listen_connection_->await_notification(micros / 1000000,
                                                   micros % 1000000) > 0) {
          return WaitOutcome::kWoken;
        }
      }
    } catch (const std::exception& e) {
      LogEvent(absl::StrCat("index feed: LISTEN connection lost: ",
                            OneLine(e.what())));
    } catch (...) {
      LogEvent("index feed: LISTEN connection lost");
    }
    // Listen again on a new connection (if the server is back already), and
    // wake the caller: rows may have arrived unnoticed.
    StopListening();
    Listen(deadline).IgnoreError();
    return WaitOutcome::kWoken;
  }

  absl::StatusOr<OutboxStats> Stats() override {
    return OnQueryConnection(
        "read outbox stats",
        [](pqxx::connection& connection, bool& /*called_back*/) {
          return StatsIn(connection);
        });
  }

  absl::Status ForEachPostmortem(
      const std::function<absl::Status(const v1::Postmortem&)>& visit)
      override {
    return OnQueryConnection("scan postmortems",
                             [&](pqxx::connection& connection, bool& called) {
                               return ScanIn(connection, visit, called);
                             });
  }

 private:
  absl::StatusOr<std::unique_ptr<OutboxBatch>> ClaimFrom(
      const Queue& queue, int max_rows, const std::vector<int64_t>& included,
      int64_t through_row) {
    if (max_rows < 1) {
      return absl::InvalidArgumentError("max_rows: must be at least 1");
    }
    // A connection that broke before anything was claimed (after a restart
    // every idle one has) is replaced and the claim tried once more.
    absl::StatusOr<std::unique_ptr<OutboxBatch>> result;
    for (int attempt = 0; attempt < 2; ++attempt) {
      bool retry = false;
      result = ClaimOnce(queue, max_rows, included, through_row, retry);
      if (!retry) break;
    }
    return result;
  }

  absl::StatusOr<std::unique_ptr<OutboxBatch>> ClaimOnce(
      const Queue& queue, int max_rows, const std::vector<int64_t>& included,
      int64_t through_row, bool& retry) {
    const std::string what = absl::StrCat("claim ", queue.name);
    absl::StatusOr<ConnectionPool::Lease> lease =
        claim_pool_->Acquire(absl::Now() + kAcquireWait);
    if (lease.status().code() == absl::StatusCode::kDeadlineExceeded) {
      return absl::ResourceExhaustedError(
          absl::StrCat(what, ": all ", kClaimConnections,
                       " claim connections are held by unfinished batches"));
    }
    if (!lease.ok()) return lease.status();
    absl::Status status;
    try {
      auto txn = std::make_unique<pqxx::work>(lease->connection());
      DEJA_ASSIGN_OR_RETURN(
          ClaimedRows claimed,
          ClaimIn(*txn, queue, max_rows, included, through_row));
      if (claimed.row_ids.empty()) {
        txn->commit();
        return std::unique_ptr<OutboxBatch>(new PgOutboxBatch());
      }
      return std::unique_ptr<OutboxBatch>(
          new PgOutboxBatch(queue, claim_pool_, *std::move(lease),
                            std::move(txn), std::move(claimed)));
    } catch (const std::exception& e) {
      status = StatusFromPqxx(e, what);
      if (IsBroken(e, lease->connection(), status)) {
        lease->MarkBroken();
        retry = true;
      }
    } catch (...) {
      status = absl::InternalError(
          absl::StrCat(what, ": unknown exception from the database layer"));
      lease->MarkBroken();
    }
    return status;
  }

  // Runs body(connection, called_back) on a query connection. A connection
  // found broken is dropped and the body run once more on a new one, unless
  // it already set `called_back` (the caller saw part of the result).
  template <typename Body>
  auto OnQueryConnection(absl::string_view what, Body body)
      -> decltype(body(std::declval<pqxx::connection&>(),
                       std::declval<bool&>())) {
    using Result = decltype(body(std::declval<pqxx::connection&>(),
                                 std::declval<bool&>()));
    absl::Status status;
    for (int attempt = 0; attempt < 2; ++attempt) {
      absl::StatusOr<ConnectionPool::Lease> lease =
          query_pool_.Acquire(absl::Now() + kAcquireWait);
      if (!lease.ok()) return lease.status();
      bool called_back = false;
      try {
        return body(lease->connection(), called_back);
      } catch (const std::exception& e) {
        status = StatusFromPqxx(e, what);
        if (!IsBroken(e, lease->connection(), status)) return status;
        lease->MarkBroken();
      } catch (...) {
        lease->MarkBroken();
        return absl::InternalError(
            absl::StrCat(what, ": unknown exception from the database layer"));
      }
      if (called_back) break;
    }
    return Result(status);
  }

  // Opens the LISTEN connection. Requires listen_mu_.
  absl::Status Listen(absl::Time deadline) {
    try {
      listen_connection_ = std::make_unique<pqxx::connection>(
          WithConnectLimits(connection_string_, deadline - absl::Now()));
      listener_ = std::make_unique<OutboxListener>(*listen_connection_);
      return absl::OkStatus();
    } catch (const std::exception& e) {
      StopListening();
      return absl::UnavailableError(absl::StrCat(
          "wait for outbox rows: database unavailable: ", OneLine(e.what())));
    } catch (...) {
      StopListening();
      return absl::InternalError(
          "wait for outbox rows: unknown exception from the database layer");
    }
  }

  // Requires listen_mu_. The receiver unregisters from its connection, so it
  // goes first.
  void StopListening() {
    listener_.reset();
    listen_connection_.reset();
  }

  const std::string connection_string_;
  // Shared with the batches, which may outlive the feed.
  const std::shared_ptr<ConnectionPool> claim_pool_;
  ConnectionPool query_pool_;

  // WaitForWork callers take turns on the one LISTEN connection.
  std::timed_mutex listen_mu_;
  std::unique_ptr<pqxx::connection>
      listen_connection_;                     // guarded by listen_mu_
  std::unique_ptr<OutboxListener> listener_;  // guarded by listen_mu_
};

}  // namespace

absl::StatusOr<std::unique_ptr<IndexFeed>> OpenPgIndexFeed(
    const PgIndexFeedOptions& options) {
  if (options.connection_string.empty()) {
    return absl::InvalidArgumentError("connection_string: required");
  }
  return std::unique_ptr<IndexFeed>(new PgIndexFeed(options));
}

}  // namespace deja
