#include "indexer/index_sync.h"

#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <xapian.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <exception>
#include <filesystem>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <system_error>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "core/error_signature.h"
#include "core/event_log.h"
#include "core/status_macros.h"
#include "indexer/document_builder.h"
#include "indexer/index_directory.h"
#include "indexer/index_schema.h"
#include "indexer/recent_layers.h"
#include "indexer/similarity.h"
#include "indexer/synonym_table.h"

namespace deja {
namespace {

constexpr char kLockFileName[] = "writer.lock";
// Metadata: when the index in use was built from scratch (unix seconds).
constexpr char kBuiltAtKey[] = "deja.built_at";
constexpr absl::Duration kLockRetry = absl::Milliseconds(50);
constexpr absl::Duration kFirstBackoff = absl::Milliseconds(100);
constexpr absl::Duration kMaxBackoff = absl::Seconds(5);
// How soon the loop hears Stop() while it waits for work.
constexpr absl::Duration kStopCheck = absl::Milliseconds(250);
constexpr int64_t kProgressEvery = 10000;
// A rebuild commits its new generation every this many postmortems. Xapian
// holds uncommitted postings in sorted maps whose cost per posting grows
// with their size, while each commit has a fixed cost (rewriting the leaf
// blocks the batch touched). Left to Xapian's flush every 10,000
// documents, a rebuild of the 100,000 data dir took 13.6 ms a postmortem;
// committing every 1,000, 8.9 (docs/BENCHMARKS.md). bench/index_write_lab
// on the 100,000 index: 5.0 ms a postmortem in batches of 1,200, 5.7 in
// batches of 300.
constexpr int64_t kRebuildCommitEvery = 1000;
// Recurrence reasons: a few short lines, each readable in a table cell.
constexpr size_t kMaxReasonBytes = 160;
constexpr int kMaxSignatureReasons = 3;
constexpr int kMaxFieldReasons = 4;
constexpr int kMaxTermsPerField = 6;
// Link rows per claim: at 5-10 ms a postmortem, a batch holds its claim for
// well under a second, and a crash repeats little.
constexpr int kLinkBatchRows = 50;
// Reads of one postmortem's links, each on the latest revision, before the
// batch is given up (to be claimed again) because the index kept changing.
constexpr int kLinkReadAttempts = 3;
// Linking a batch for longer than this is logged (with the time it took).
constexpr absl::Duration kSlowLinking = absl::Seconds(1);
// The linker threads run under SCHED_IDLE, the smallest share of a busy CPU
// Linux gives (less than nice 19, never none): searches and making changes
// searchable come first, and links catch up when it is quieter. Where
// SCHED_IDLE is refused, this nice value instead.
constexpr int kLinkerNice = 10;
// Linker threads, each claiming its own link rows. Linking costs more than
// indexing (15 ms a postmortem at 100,000), so after a bulk import one
// would leave a core idle.
constexpr int kLinkerThreads = 2;
// Outbox rows read ahead at a time for the recent layers. A full page means
// a backlog (a bulk import, a restart): the commit is far behind anyway,
// and layers would only add to the work, so those rows wait for it.
constexpr int kLayerPeekRows = 200;
// Live layers, and postmortems in them, at most (a page may overshoot the
// second); beyond, the rows wait until a commit drops layers. Each search
// opens every live layer (a few files each, on each search thread), so
// their number is what costs; RestBetweenLayers keeps it well below the
// limit (on a busy machine, 20 to 30 at 100 submits a second).
constexpr size_t kMaxLayers = 48;
constexpr int64_t kMaxLayerDocuments = 1000;
// Layers fill by their count before their postmortems (a page is less than
// kLayerPeekRows), so a full round always rests (LayerLoop).
static_assert(static_cast<int64_t>(index::kLayersBeforeRest - 1) *
                      (kLayerPeekRows - 1) <
                  kMaxLayerDocuments,
              "the layers could be full with no rest between rounds");
// A layer dropped from the view is removed this much later: a search that
// opened it before may still be reading it.
constexpr absl::Duration kLayerRemovalDelay = absl::Seconds(60);

// I/O trouble (disk full, permissions, a vanished directory) may pass;
// corruption and misuse do not.
absl::Status StatusFromXapian(const Xapian::Error& e, absl::string_view what,
                              absl::string_view path) {
  const std::string message =
      absl::StrCat(what, " (index ", path, "): ", e.get_description());
  // Xapian::Error is not polymorphic: its type name tells the subclass.
  const std::string type = e.get_type();
  if (type == "DatabaseLockError")
    return absl::FailedPreconditionError(message);
  if (type == "DatabaseCorruptError") return absl::InternalError(message);
  // DatabaseError and its other subclasses (opening, closed, create ...).
  if (absl::StartsWith(type, "Database")) {
    return absl::UnavailableError(message);
  }
  return absl::InternalError(message);
}

absl::Status StatusFromException(const std::exception& e,
                                 absl::string_view what,
                                 absl::string_view path) {
  return absl::InternalError(
      absl::StrCat(what, " (index ", path, "): ", e.what()));
}

absl::Status Annotate(const absl::Status& status, absl::string_view what) {
  if (status.ok()) return status;
  return absl::Status(status.code(),
                      absl::StrCat(what, ": ", status.message()));
}

// Takes flock(LOCK_EX) on <index_dir>/writer.lock, waiting up to `wait`;
// returns the descriptor that holds it. flock rather than Xapian's own lock:
// that one lives inside a generation and would not survive a swap. The lock
// belongs to the open file description, so a second Open() in the same
// process is refused too.
absl::StatusOr<int> LockWriter(const std::string& index_dir,
                               absl::Duration wait) {
  std::error_code error;
  std::filesystem::create_directories(index_dir, error);
  if (error) {
    return absl::FailedPreconditionError(absl::StrCat(
        "cannot create index directory ", index_dir, ": ", error.message()));
  }
  const std::string path =
      (std::filesystem::path(index_dir) / kLockFileName).string();
  // O_CLOEXEC: a child (the embedded PostgreSQL) must not inherit the lock.
  const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot open ", path, ": ", std::strerror(errno)));
  }
  const absl::Time deadline = absl::Now() + wait;
  while (true) {
    if (flock(fd, LOCK_EX | LOCK_NB) == 0) return fd;
    const int flock_errno = errno;
    if (flock_errno == EINTR) continue;
    if (flock_errno != EWOULDBLOCK) {
      close(fd);
      return absl::InternalError(
          absl::StrCat("cannot lock ", path, ": ", std::strerror(flock_errno)));
    }
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) {
      close(fd);
      return absl::FailedPreconditionError(absl::StrCat(
          "index ", index_dir,
          " is in use by another indexer (dejad or deja-indexer); only one "
          "may write it"));
    }
    absl::SleepFor(std::min(left, kLockRetry));
  }
}

// `text` cut to kMaxReasonBytes at a UTF-8 character boundary.
std::string ShortReason(std::string text) {
  if (text.size() <= kMaxReasonBytes) return text;
  constexpr absl::string_view kEllipsis = "\u2026";
  size_t cut = kMaxReasonBytes - kEllipsis.size();
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) {
    --cut;
  }
  text.resize(cut);
  return absl::StrCat(text, kEllipsis);
}

// Why `match` is like the postmortem, one short line per reason: shared
// error signatures (their normalised text: "more like this" knows only their
// ids, the postmortem's own log lines give the text), shared services, then
// the matched words of the fields that matched most.
std::vector<std::string> ReasonsOf(
    const v1::SimilarIncident& match,
    const std::map<std::string, std::string>& normalized_by_id) {
  std::vector<std::string> reasons;
  for (int i = 0;
       i < match.shared_signatures_size() && i < kMaxSignatureReasons; ++i) {
    const v1::SharedSignature& shared = match.shared_signatures(i);
    std::string text = shared.normalized();
    if (text.empty()) {
      auto it = normalized_by_id.find(shared.id());
      text = it != normalized_by_id.end() ? it->second : shared.id();
    }
    reasons.push_back(
        ShortReason(absl::StrCat("shared error signature: ", text)));
  }
  if (match.shared_services_size() > 0) {
    reasons.push_back(ShortReason(absl::StrCat(
        "shared services: ", absl::StrJoin(match.shared_services(), ", "))));
  }
  for (int i = 0; i < match.matched_terms_size() && i < kMaxFieldReasons; ++i) {
    const v1::FieldMatch& field = match.matched_terms(i);
    if (field.terms().empty()) continue;
    const int terms = std::min(field.terms_size(), kMaxTermsPerField);
    reasons.push_back(ShortReason(
        absl::StrCat("matched in ", field.field(), ": ",
                     absl::StrJoin(field.terms().begin(),
                                   field.terms().begin() + terms, ", "))));
  }
  return reasons;
}

// Whether incident `a` is the earlier one: by started_at, then (equal
// times) by the smaller id, so both sides agree on the direction.
bool IsEarlier(const google::protobuf::Timestamp& a_started,
               const std::string& a_id,
               const google::protobuf::Timestamp& b_started,
               const std::string& b_id) {
  return std::make_tuple(a_started.seconds(), a_started.nanos(), a_id) <
         std::make_tuple(b_started.seconds(), b_started.nanos(), b_id);
}

// The version the index holds for `id_term`, or -1 when it holds none.
int64_t IndexedVersion(const Xapian::Database& db, const std::string& id_term) {
  Xapian::PostingIterator it = db.postlist_begin(id_term);
  if (it == db.postlist_end(id_term)) return -1;
  return index::VersionOf(db.get_document(*it));
}

// Names the calling thread as top -H and perf show it (at most 15 bytes).
void NameThisThread(const char* name) {
  pthread_setname_np(pthread_self(), name);
}

// Failures that may pass (the database or the disk): the batch is tried
// again. Any other failure would repeat on every replay.
bool IsTransient(const absl::Status& status) {
  return absl::IsUnavailable(status) || absl::IsAborted(status) ||
         absl::IsDeadlineExceeded(status) || absl::IsResourceExhausted(status);
}

// Moves the calling thread to SCHED_IDLE (Linux: the policy and the nice
// value are per thread), or else raises its nice value to kLinkerNice,
// never lowering it. Nice 10 still took about a tenth of a busy machine's
// CPU, and linking (20 ms a postmortem at 100,000) wants more than all of
// it under 100 submits/s, so the indexer's commits waited on it. Failing
// leaves the thread as it was, which is only slower under load.
void LowerThisThreadsPriority() {
  sched_param param{};
  param.sched_priority = 0;
  if (sched_setscheduler(0, SCHED_IDLE, &param) == 0) return;
  const auto thread = static_cast<id_t>(syscall(SYS_gettid));
  errno = 0;
  const int current = getpriority(PRIO_PROCESS, thread);
  if (errno != 0 || current >= kLinkerNice) return;
  setpriority(PRIO_PROCESS, thread, kLinkerNice);
}

class XapianIndexSync final : public IndexSync {
 public:
  XapianIndexSync(IndexFeed& feed, const IndexSyncOptions& options, int lock_fd)
      : feed_(feed), options_(options), lock_fd_(lock_fd) {}

  ~XapianIndexSync() override {
    Stop();
    {
      absl::MutexLock lock(&cycle_mu_);
      CloseWriterLocked();
    }
    // Last: the next writer may take over only once Xapian has let go.
    close(lock_fd_);
  }

  // Clears the layers a previous writer left (with layers on or off: a
  // reader would count their postmortems again once committed), then opens
  // the index in use, or rebuilds it when it is missing, unreadable or of
  // another schema version. Layer numbers are never reused, so a reader's
  // cached layer is never another layer of the same number. The
  // postmortems of the cleared layers are searchable again at their commit.
  absl::Status OpenIndex() {
    absl::MutexLock lock(&cycle_mu_);
    {
      absl::MutexLock layers(&layers_mu_);
      absl::StatusOr<int64_t> highest = index::ClearLayers(options_.index_dir);
      if (!highest.ok()) {
        return Annotate(highest.status(), "clear the recent layers");
      }
      next_layer_ = *highest + 1;
    }
    DEJA_RETURN_IF_ERROR(OpenWriterLocked());
    absl::MutexLock layers(&layers_mu_);
    try {
      next_layer_ = std::max(next_layer_, index::CommittedLayer(*db_) + 1);
    } catch (const Xapian::Error& e) {
      return StatusFromXapian(e, "read the index's committed layer", db_path_);
    }
    return absl::OkStatus();
  }

  void Start() override {
    absl::MutexLock lock(&thread_mu_);
    if (thread_.joinable()) return;
    {
      absl::MutexLock state(&state_mu_);
      stop_ = false;
      running_ = true;
    }
    if (options_.recent_layers && FeedCanPeek()) {
      {
        absl::MutexLock state(&state_mu_);
        layers_on_ = true;
      }
      layer_thread_ = std::thread([this] { LayerLoop(); });
    }
    thread_ = std::thread([this] { Loop(); });
    if (options_.recurrences != nullptr) {
      for (int i = 0; i < kLinkerThreads; ++i) {
        link_threads_.emplace_back([this] { LinkLoop(); });
      }
    }
  }

  void Stop() override {
    absl::MutexLock lock(&thread_mu_);
    {
      // Also heard by a rebuild in progress, on any thread, and by any
      // started before the next Start(): a rebuild can take hours and would
      // otherwise hold up the shutdown that called Stop().
      absl::MutexLock state(&state_mu_);
      stop_ = true;
    }
    if (!thread_.joinable()) return;
    thread_.join();
    if (layer_thread_.joinable()) layer_thread_.join();
    for (std::thread& linker : link_threads_) linker.join();
    link_threads_.clear();
    absl::MutexLock state(&state_mu_);
    running_ = false;
    layers_on_ = false;
  }

  absl::StatusOr<int64_t> RunOnce() override {
    absl::StatusOr<int64_t> applied = Drain(/*stop_aware=*/false);
    RecordOutcome(applied.status(), Worker::kApplier);
    if (!applied.ok()) return applied;
    const absl::Status linked = DrainLinks(/*stop_aware=*/false).status();
    RecordOutcome(linked, Worker::kLinker);
    if (!linked.ok()) return linked;
    return applied;
  }

  absl::StatusOr<v1::RebuildIndexResponse> Rebuild() override {
    {
      // A second full rebuild right after the first would only repeat it.
      absl::MutexLock state(&state_mu_);
      if (rebuild_requested_ || rebuilding_) {
        return absl::AbortedError("a rebuild is already running");
      }
      rebuild_requested_ = true;
    }
    absl::StatusOr<v1::RebuildIndexResponse> rebuilt;
    {
      absl::MutexLock lock(&cycle_mu_);
      rebuilt = RebuildLocked();
    }
    absl::MutexLock state(&state_mu_);
    rebuild_requested_ = false;
    return rebuilt;
  }

  v1::IndexStatus Status() override {
    // Only cached values: Status() must answer while a rebuild runs.
    absl::StatusOr<OutboxStats> stats = feed_.Stats();
    v1::IndexStatus status;
    absl::MutexLock lock(&state_mu_);
    if (stats.ok()) SetOutboxStats(*stats, status);
    status.set_documents(documents_);
    status.set_indexer_running(running_);
    status.set_index_path(index_path_);
    if (built_at_ > 0) status.mutable_last_rebuild()->set_seconds(built_at_);
    if (!apply_errors_.last.empty()) {
      status.set_last_error(apply_errors_.last);
    } else if (!layer_errors_.last.empty()) {
      status.set_last_error(layer_errors_.last);
    } else if (!link_errors_.last.empty()) {
      status.set_last_error(link_errors_.last);
    } else if (!stats.ok()) {
      status.set_last_error(
          absl::StrCat("outbox statistics: ", stats.status().ToString()));
    }
    return status;
  }

 private:
  void Loop() {
    NameThisThread("deja-commit");
    absl::Duration backoff = absl::ZeroDuration();
    while (!StopRequested()) {
      absl::Status status = Drain(/*stop_aware=*/true).status();
      RecordOutcome(status, Worker::kApplier);
      if (status.ok()) {
        status = WaitForCommitWork();
        if (!status.ok()) RecordOutcome(status, Worker::kApplier);
      }
      if (status.ok()) {
        backoff = absl::ZeroDuration();
        continue;
      }
      BackOff(backoff);
    }
  }

  // A linker: records the recurrence links of what Loop() made searchable,
  // from link_outbox, at a lower CPU priority. Woken by Loop() after each
  // batch, and polls (rows left by a crash or a restart).
  void LinkLoop() {
    NameThisThread("deja-link");
    LowerThisThreadsPriority();
    absl::Duration backoff = absl::ZeroDuration();
    struct Wake {
      XapianIndexSync* sync;
      int64_t seen;  // link_wakeups_ when this linker last drained
    };
    Wake wake{this, 0};
    while (!StopRequested()) {
      {
        absl::MutexLock lock(&state_mu_);
        wake.seen = link_wakeups_;
      }
      const absl::Status status = DrainLinks(/*stop_aware=*/true).status();
      if (absl::IsCancelled(status) && StopRequested()) break;
      RecordOutcome(status, Worker::kLinker);
      if (!status.ok()) {
        BackOff(backoff);
        continue;
      }
      backoff = absl::ZeroDuration();
      absl::MutexLock lock(&state_mu_);
      state_mu_.AwaitWithTimeout(
          absl::Condition(
              +[](Wake* w) ABSL_EXCLUSIVE_LOCKS_REQUIRED(w->sync->state_mu_) {
                return w->sync->stop_ || w->sync->link_wakeups_ != w->seen;
              },
              &wake),
          options_.poll_interval);
    }
  }

  // Whether the feed reads rows ahead (Peek) and claims given rows
  // (ClaimIncluding); only UNIMPLEMENTED says no.
  bool FeedCanPeek() {
    const absl::StatusOr<PendingChanges> peeked =
        feed_.Peek(std::numeric_limits<int64_t>::max(), 1);
    if (peeked.status().code() == absl::StatusCode::kUnimplemented) {
      return false;
    }
    // No row has an id of 0 or less: this claims nothing.
    const absl::StatusOr<std::unique_ptr<OutboxBatch>> claimed =
        feed_.ClaimIncluding(1, {}, 0);
    return claimed.status().code() != absl::StatusCode::kUnimplemented;
  }

  // The recent layers' thread: on each notification (or poll) writes the
  // new postmortems of the rows read ahead into a layer. Once a few layers
  // are live, rounds start layer_interval apart at least, so that a stream
  // of submits makes a layer every tenth of a second, not dozens. It also
  // wakes Loop(), which waits on it rather than on the feed.
  void LayerLoop() {
    NameThisThread("deja-layers");
    absl::Duration backoff = absl::ZeroDuration();
    bool wait = true;
    while (!StopRequested()) {
      absl::Status status =
          wait ? Annotate(WaitForWorkOrStop(), "wait for outbox notifications")
               : absl::OkStatus();
      const absl::Time round_start = absl::Now();
      Round round;
      if (status.ok()) status = WriteLayer(round);
      RecordOutcome(status, Worker::kLayers);
      {
        absl::MutexLock layers(&layers_mu_);
        layers_keep_up_ = status.ok() && !round.backlog && !round.behind;
      }
      if (round.read_rows && !round.again && !round.full) {
        // After the layer is in the view: the commit that this wakes takes
        // it in.
        absl::MutexLock state(&state_mu_);
        ++commit_wakeups_;
      }
      if (!status.ok()) {
        BackOff(backoff);
        continue;
      }
      backoff = absl::ZeroDuration();
      // Through a backlog at once (its rows are only skipped), and a stale
      // page read again at once; with the layers full or the commits
      // behind, again after the rest, without waiting to be notified.
      wait = !(round.backlog || round.again || round.full || round.behind);
      if (round.backlog || round.again) continue;
      size_t live = 0;
      size_t unclaimed = 0;
      {
        absl::MutexLock layers(&layers_mu_);
        live = layers_.size();
        for (const Layer& layer : layers_) {
          if (layer.number > claimed_through_) ++unclaimed;
        }
      }
      // Paused for the commits, it looks again after a rest, as when full.
      const absl::Duration rest = index::RestBetweenLayers(
          live, unclaimed, round.full || round.behind, options_.layer_interval);
      absl::MutexLock lock(&state_mu_);
      state_mu_.AwaitWithDeadline(absl::Condition(&stop_), round_start + rest);
    }
  }

  // What a round of the layer thread found.
  struct Round {
    bool read_rows = false;  // there were rows after the last ones read
    bool backlog = false;    // a full page: skipped, left to the commits
    bool again = false;      // a commit began meanwhile: read the page again
    bool full = false;       // the layers are full: read the page again later
    bool behind = false;     // the commits are a batch behind: no layer now
  };

  // Reads the rows after the last ones read and writes the postmortems
  // among them that the index does not hold yet (and no layer holds, and
  // the commit under way does not take in) into a new layer, which it adds
  // to the view. The rows of postmortems it leaves out (updates, deletions,
  // a backlog) wait for their commit; with the layers full, the page waits
  // for a later round. While the commits are a batch behind, it reads
  // nothing: the commits claim every row meanwhile.
  absl::Status WriteLayer(Round& round) {
    int64_t after = 0;
    int64_t claims = 0;
    {
      absl::MutexLock layers(&layers_mu_);
      if (commits_behind_) {
        round.behind = true;
        return absl::OkStatus();
      }
      after = peeked_through_;
      claims = claims_;
    }
    absl::StatusOr<PendingChanges> pending = feed_.Peek(after, kLayerPeekRows);
    if (!pending.ok()) {
      return Annotate(pending.status(), "read outbox rows ahead");
    }
    round.read_rows = pending->last_row > after;
    if (!round.read_rows) return absl::OkStatus();
    absl::MutexLock layers(&layers_mu_);
    if (pending->backlog) {
      round.backlog = true;
      peeked_through_ = pending->last_row;
      return absl::OkStatus();
    }
    if (layers_.size() >= kMaxLayers ||
        layer_documents_ >= kMaxLayerDocuments) {
      // The page is left unread: the commit under way drops the layers it
      // takes in, and the commits do not take these rows meanwhile.
      round.full = true;
      return absl::OkStatus();
    }
    if (claims_ != claims) {
      // A commit claimed rows after the page was read, and may have taken
      // in (or deleted) its postmortems since: the page is stale.
      round.again = true;
      return absl::OkStatus();
    }
    DEJA_ASSIGN_OR_RETURN(Xapian::Database * index, LayerIndexLocked());
    std::vector<const IndexChange*> fresh;
    try {
      for (const IndexChange& change : pending->changes) {
        const std::string id_term = index::IdTerm(change.postmortem_id);
        if (change.deleted || in_layers_.count(change.postmortem_id) > 0 ||
            committing_.count(change.postmortem_id) > 0 ||
            index->postlist_begin(id_term) != index->postlist_end(id_term)) {
          continue;
        }
        fresh.push_back(&change);
      }
    } catch (const Xapian::Error& e) {
      // The same page is read again next round.
      layer_index_.reset();
      return StatusFromXapian(e, "look up rows read ahead", layer_index_path_);
    }
    peeked_through_ = pending->last_row;
    if (fresh.empty()) return absl::OkStatus();

    Layer layer;
    layer.number = next_layer_++;
    const std::string path = index::LayerPath(options_.index_dir, layer.number);
    absl::Status status;
    try {
      // No fsync: a layer never outlives its writer (ClearLayers on open).
      Xapian::WritableDatabase db(
          path, Xapian::DB_CREATE_OR_OVERWRITE | Xapian::DB_NO_SYNC);
      for (const IndexChange* change : fresh) {
        db.replace_document(index::IdTerm(change->postmortem_id),
                            index::BuildDocument(change->postmortem, &db));
        layer.postmortem_ids.push_back(change->postmortem_id);
        layer.row_ids.insert(layer.row_ids.end(), change->row_ids.begin(),
                             change->row_ids.end());
      }
      db.commit();
      db.close();
    } catch (const Xapian::Error& e) {
      status = StatusFromXapian(e, "write a recent layer", path);
    } catch (const std::exception& e) {
      status = StatusFromException(e, "write a recent layer", path);
    }
    if (status.ok()) {
      layers_.push_back(layer);
      status = Annotate(index::WriteLayerView(options_.index_dir, LiveLayers()),
                        "publish a recent layer");
      if (!status.ok()) layers_.pop_back();
    }
    if (!status.ok()) {
      index::RemoveLayer(options_.index_dir, layer.number).IgnoreError();
      return status;
    }
    in_layers_.insert(layer.postmortem_ids.begin(), layer.postmortem_ids.end());
    layer_documents_ += static_cast<int64_t>(layer.postmortem_ids.size());
    return absl::OkStatus();
  }

  // The layer thread's reader of the index in use, at its latest commit.
  absl::StatusOr<Xapian::Database*> LayerIndexLocked()
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(layers_mu_) {
    std::string path;
    {
      absl::MutexLock state(&state_mu_);
      path = index_path_;
    }
    try {
      if (layer_index_ == nullptr || layer_index_path_ != path) {
        layer_index_path_ = path;
        layer_index_ = std::make_unique<Xapian::Database>(path);
      } else {
        layer_index_->reopen();
      }
    } catch (const Xapian::Error& e) {
      layer_index_.reset();
      return StatusFromXapian(e, "open the index to place a layer", path);
    }
    return layer_index_.get();
  }

  std::vector<int64_t> LiveLayers() ABSL_EXCLUSIVE_LOCKS_REQUIRED(layers_mu_) {
    std::vector<int64_t> numbers;
    for (const Layer& layer : layers_) numbers.push_back(layer.number);
    return numbers;
  }

  // Drops the layers up to `through` (the index holds them since its last
  // commit) from the view; removes those dropped long enough ago.
  void DropLayersLocked(int64_t through)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(layers_mu_) {
    const absl::Time now = absl::Now();
    std::vector<Layer> kept;
    for (Layer& layer : layers_) {
      if (layer.number > through) {
        kept.push_back(std::move(layer));
        continue;
      }
      for (const std::string& id : layer.postmortem_ids) in_layers_.erase(id);
      layer_documents_ -= static_cast<int64_t>(layer.postmortem_ids.size());
      dropped_layers_.emplace_back(now, layer.number);
    }
    const bool changed = kept.size() != layers_.size();
    layers_ = std::move(kept);
    if (changed) {
      // Readers leave the dropped layers out anyway (the index's committed
      // layer number says it holds them): a failure here only costs them a
      // look at the layer.
      const absl::Status written =
          index::WriteLayerView(options_.index_dir, LiveLayers());
      if (!written.ok()) LogEvent(written.ToString());
    }
    while (!dropped_layers_.empty() &&
           now - dropped_layers_.front().first >= kLayerRemovalDelay) {
      const absl::Status removed = index::RemoveLayer(
          options_.index_dir, dropped_layers_.front().second);
      if (!removed.ok()) LogEvent(removed.ToString());
      dropped_layers_.pop_front();
    }
  }

  // Loop()'s wait between drains: with the layer thread on, until it has
  // read new rows (it holds the LISTEN); otherwise on the feed itself.
  // Either way at most poll_interval.
  absl::Status WaitForCommitWork() {
    {
      absl::MutexLock lock(&state_mu_);
      if (layers_on_) {
        struct Wake {
          XapianIndexSync* sync;
          int64_t seen;
        };
        // Rows read while the last drain ran count: it may have missed them.
        Wake wake{this, commit_wakeups_seen_};
        state_mu_.AwaitWithTimeout(
            absl::Condition(
                +[](Wake* w) ABSL_EXCLUSIVE_LOCKS_REQUIRED(w->sync->state_mu_) {
                  return w->sync->stop_ || w->sync->commit_wakeups_ != w->seen;
                },
                &wake),
            options_.poll_interval);
        commit_wakeups_seen_ = commit_wakeups_;
        return absl::OkStatus();
      }
    }
    return Annotate(WaitForWorkOrStop(), "wait for outbox notifications");
  }

  // After a failed cycle: the database or the disk is in trouble. Waits
  // (or until Stop()) before the next try, twice as long each time, so the
  // retries do not spin.
  void BackOff(absl::Duration& backoff) {
    backoff = backoff == absl::ZeroDuration()
                  ? kFirstBackoff
                  : std::min(backoff * 2, kMaxBackoff);
    absl::MutexLock lock(&state_mu_);
    state_mu_.AwaitWithTimeout(absl::Condition(&stop_), backoff);
  }

  // Waits up to poll_interval for work, in slices so that Stop() is heard
  // within kStopCheck: IndexFeed has no way to cancel a wait.
  absl::Status WaitForWorkOrStop() {
    const absl::Time deadline = absl::Now() + options_.poll_interval;
    while (!StopRequested()) {
      const absl::Duration left = deadline - absl::Now();
      if (left <= absl::ZeroDuration()) break;
      absl::StatusOr<WaitOutcome> outcome =
          feed_.WaitForWork(std::min(left, kStopCheck));
      if (!outcome.ok()) return outcome.status();
      if (*outcome == WaitOutcome::kWoken) break;
    }
    return absl::OkStatus();
  }

  bool StopRequested() {
    absl::MutexLock lock(&state_mu_);
    return stop_;
  }

  // Applies batches until a claim comes back empty. The cycle lock is taken
  // per batch so that a Rebuild() waits for one batch, not for a drain.
  //
  // A batch is searchable at its Xapian commit (its new postmortems were
  // already, in recent layers); completing it queues its upserted
  // postmortems for the linker (DrainLinks), which records their recurrence
  // links behind it. Linking costs more than applying, and would otherwise
  // hold every change back.
  absl::StatusOr<int64_t> Drain(bool stop_aware) {
    int64_t applied = 0;
    while (!(stop_aware && StopRequested())) {
      absl::MutexLock lock(&cycle_mu_);
      DEJA_RETURN_IF_ERROR(OpenWriterLocked());
      int64_t layers_through = 0;
      absl::StatusOr<std::unique_ptr<OutboxBatch>> batch =
          ClaimWithLayersLocked(layers_through);
      if (!batch.ok()) return Annotate(batch.status(), "claim outbox rows");
      if ((*batch)->changes().empty() && layers_through == 0) break;
      absl::StatusOr<std::vector<LinkRequest>> to_link =
          ApplyLocked(**batch, layers_through);
      {
        absl::MutexLock layers(&layers_mu_);
        committing_.clear();
        claimed_through_ = 0;
        if (to_link.ok()) DropLayersLocked(layers_through);
      }
      if (!to_link.ok()) return to_link.status();
      if (options_.recurrences == nullptr) to_link->clear();
      DEJA_RETURN_IF_ERROR(Annotate((*batch)->CompleteAndQueueLinks(*to_link),
                                    "complete outbox rows"));
      applied += (*batch)->row_count();
      if (!to_link->empty()) {
        absl::MutexLock state(&state_mu_);
        ++link_wakeups_;
      }
    }
    return applied;
  }

  // Claims a batch together with every row of the live layers, whose
  // postmortems the commit must take in all at once (`layers_through`: the
  // last of those layers, 0 when none). Its postmortems go into layers no
  // more until the commit is done (DropLayersLocked after it). While the
  // layer thread keeps up, the batch holds no row it has not read yet: such
  // a row would wait for this commit, seconds under load, instead of going
  // into the next layer.
  absl::StatusOr<std::unique_ptr<OutboxBatch>> ClaimWithLayersLocked(
      int64_t& layers_through) ABSL_EXCLUSIVE_LOCKS_REQUIRED(cycle_mu_) {
    bool layers_on = false;
    {
      absl::MutexLock state(&state_mu_);
      layers_on = layers_on_;
    }
    absl::MutexLock layers(&layers_mu_);
    std::vector<int64_t> rows;
    for (const Layer& layer : layers_) {
      rows.insert(rows.end(), layer.row_ids.begin(), layer.row_ids.end());
      layers_through = layer.number;
    }
    const int64_t through_row = layers_on && layers_keep_up_
                                    ? peeked_through_
                                    : std::numeric_limits<int64_t>::max();
    absl::StatusOr<std::unique_ptr<OutboxBatch>> batch =
        feed_.ClaimIncluding(options_.batch_rows, rows, through_row);
    // Only a claim that took rows can make a page read before it stale.
    if (batch.ok() && !(*batch)->changes().empty()) ++claims_;
    if (batch.ok()) {
      // A full claim of layer rows is only a slow commit, which the layers
      // are there for; of rows the layers never read, a backlog.
      const int64_t unlayered =
          (*batch)->row_count() - static_cast<int64_t>(rows.size());
      const bool behind = (*batch)->row_count() >= options_.batch_rows &&
                          unlayered >= options_.batch_rows / 2;
      if (behind != commits_behind_ && layers_on) {
        LogEvent(behind ? "recent layers paused: the commits are a batch "
                          "behind, new postmortems wait for them"
                        : "recent layers resumed: the commits caught up");
      }
      commits_behind_ = behind;
      claimed_through_ = layers_through;
      for (const IndexChange& change : (*batch)->changes()) {
        committing_.insert(change.postmortem_id);
      }
    }
    return batch;
  }

  // Records the recurrence links of queued postmortems, a batch of link
  // rows at a time, until a claim comes back empty; returns the link rows
  // done. Failing leaves the batch's rows to be claimed again: linking twice
  // is harmless. Runs beside Drain(): it reads the index through a Database
  // of its own and never takes the cycle lock.
  absl::StatusOr<int64_t> DrainLinks(bool stop_aware) {
    int64_t linked = 0;
    if (options_.recurrences == nullptr) return linked;
    while (!(stop_aware && StopRequested())) {
      absl::StatusOr<std::unique_ptr<OutboxBatch>> batch =
          feed_.ClaimLinks(kLinkBatchRows);
      if (!batch.ok()) return Annotate(batch.status(), "claim link rows");
      if ((*batch)->changes().empty()) break;
      // The generation in use now. A rebuild meanwhile leaves it in place
      // (RemoveOldGenerations keeps the one before the current one).
      std::string path;
      {
        absl::MutexLock state(&state_mu_);
        path = index_path_;
      }
      DEJA_RETURN_IF_ERROR(LinkRecurrences(path, **batch, stop_aware));
      DEJA_RETURN_IF_ERROR(
          Annotate((*batch)->Complete(), "complete link rows"));
      linked += (*batch)->row_count();
    }
    return linked;
  }

  // Applies and commits `batch`, recording that the index holds the layers
  // up to `layers_through` (when not 0); returns the postmortems to link:
  // those it indexed, and those a replay found indexed already at the same
  // version (a crash between the commit and the completion lost their link
  // rows).
  absl::StatusOr<std::vector<LinkRequest>> ApplyLocked(const OutboxBatch& batch,
                                                       int64_t layers_through)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(cycle_mu_) {
    absl::Status status;
    bool corrupt = false;
    int64_t documents = 0;
    std::vector<LinkRequest> to_link;
    try {
      // A transaction, so that a failure part way leaves nothing behind to
      // ride along with a later commit; commit_transaction() commits.
      db_->begin_transaction();
      for (const IndexChange& change : batch.changes()) {
        const std::string id_term = index::IdTerm(change.postmortem_id);
        if (change.deleted) {
          db_->delete_document(id_term);
          continue;
        }
        // A stale change never overwrites a newer version, nor is it linked
        // (its start time could point the links the wrong way).
        const int64_t indexed = IndexedVersion(*db_, id_term);
        if (indexed > change.postmortem.version()) continue;
        to_link.push_back({change.postmortem_id, change.postmortem.version()});
        if (indexed == change.postmortem.version()) continue;
        db_->replace_document(
            id_term, index::BuildDocument(change.postmortem, db_.get()));
      }
      if (layers_through > 0) {
        db_->set_metadata(index::kLayersCommittedKey,
                          absl::StrCat(layers_through));
      }
      db_->commit_transaction();
      documents = db_->get_doccount();
    } catch (const Xapian::Error& e) {
      status = StatusFromXapian(e, "apply outbox changes", db_path_);
      corrupt = std::string(e.get_type()) == "DatabaseCorruptError";
    } catch (const std::exception& e) {
      status = StatusFromException(e, "apply outbox changes", db_path_);
    }
    if (!status.ok()) {
      // Reopened by the next cycle, which also retries the batch. A corrupt
      // index usually still opens, so reopening alone would fail the same
      // way forever while the outbox grows: rebuild it instead.
      if (corrupt) rebuild_needed_ = true;
      try {
        db_->cancel_transaction();
      } catch (const Xapian::Error&) {
        // No transaction left to cancel, or the database is unusable.
      }
      CloseWriterLocked();
      return status;
    }
    absl::MutexLock lock(&state_mu_);
    documents_ = documents;
    return to_link;
  }

  // Records the recurrence suggestions of the postmortems of a batch of
  // link rows from the index at `path`. A postmortem that is gone, or whose
  // indexed version is newer than the one read (its own link row follows),
  // is skipped. Runs beside the writer (DrainLinks), so it touches neither
  // db_ nor any state of the cycle.
  absl::Status LinkRecurrences(const std::string& path,
                               const OutboxBatch& batch, bool stop_aware) {
    if (options_.recurrences == nullptr) return absl::OkStatus();
    const absl::Time start = absl::Now();
    std::unique_ptr<Xapian::Database> reader;
    try {
      reader = std::make_unique<Xapian::Database>(path);
    } catch (const Xapian::Error& e) {
      return StatusFromXapian(e, "open the index to find recurrences", path);
    }
    int linked = 0;
    for (const IndexChange& change : batch.changes()) {
      // A batch takes seconds under load: Stop() should not wait for it.
      // Its rows stay and are linked again after the restart.
      if (stop_aware && StopRequested()) return CancelledLinking();
      if (change.deleted) continue;
      // Each postmortem reads the latest revision. Xapian keeps a revision
      // readable only until the writer's next commit but one, so under a
      // stream of submits a read can still find it gone: it is read again,
      // a few times, rather than the whole batch redone.
      bool newer = false;
      absl::StatusOr<std::vector<SuggestedLink>> links;
      for (int attempt = 0; attempt < kLinkReadAttempts; ++attempt) {
        try {
          reader->reopen();
          // A newer version is indexed already: its own link row links it,
          // with its own start time (this one's could point the wrong way).
          newer = IndexedVersion(*reader, index::IdTerm(change.postmortem_id)) >
                  change.postmortem.version();
        } catch (const Xapian::DatabaseModifiedError&) {
          links = absl::AbortedError("the index changed during the read");
          continue;
        } catch (const Xapian::Error& e) {
          return StatusFromXapian(e, "find recurrences", path);
        }
        if (newer) break;
        links = SuggestLinks(*reader, change.postmortem_id, change.postmortem);
        if (!absl::IsAborted(links.status())) break;
      }
      if (newer) continue;
      if (!links.ok()) {
        // The index may be in trouble (I/O): retry the batch. Anything else
        // is a defect that would fail the same way on every replay, so this
        // postmortem goes without suggestions rather than stopping the
        // indexer for everyone.
        if (IsTransient(links.status())) {
          return Annotate(links.status(), "find recurrences");
        }
        if (!absl::IsNotFound(links.status())) {
          LogEvent(absl::StrCat("recurrence links of ", change.postmortem_id,
                                " skipped: ", links.status().ToString()));
        }
        continue;
      }
      const absl::Status recorded = Annotate(
          options_.recurrences->RecordSuggestions(change.postmortem_id, *links),
          absl::StrCat("record recurrence links of ", change.postmortem_id));
      if (IsTransient(recorded)) return recorded;
      if (!recorded.ok()) {
        // It would fail the same way on every replay, and the rows behind
        // it would wait forever.
        LogEvent(
            absl::StrCat("recurrence links skipped: ", recorded.ToString()));
        continue;
      }
      ++linked;
    }
    const absl::Duration took = absl::Now() - start;
    if (took >= kSlowLinking) {
      LogEvent(absl::StrFormat(
          "recurrence linking took %.2f s for %d postmortems (%.1f ms each)",
          absl::ToDoubleSeconds(took), linked,
          linked == 0 ? 0.0 : absl::ToDoubleMilliseconds(took) / linked));
    }
    return absl::OkStatus();
  }

  // The "more like this" matches of `id` that score at least the link
  // threshold, best first, as links pointing back in time.
  absl::StatusOr<std::vector<SuggestedLink>> SuggestLinks(
      const Xapian::Database& db, const std::string& id,
      const v1::Postmortem& postmortem) const {
    v1::FindSimilarRequest request;
    request.set_postmortem_id(id);
    // A few more than needed, should the score order differ from the rank.
    request.set_limit(std::min(options_.max_links + 5, 50));
    DEJA_ASSIGN_OR_RETURN(
        v1::FindSimilarResponse response,
        index::RunFindSimilar(db, request, absl::ToUnixSeconds(absl::Now()),
                              index::LinkingOptions()));
    std::vector<const v1::SimilarIncident*> matches;
    for (const v1::SimilarIncident& match : response.incidents()) {
      if (match.score() >= options_.link_threshold &&
          match.incident().id() != id) {
        matches.push_back(&match);
      }
    }
    std::stable_sort(
        matches.begin(), matches.end(),
        [](const auto* a, const auto* b) { return a->score() > b->score(); });
    if (matches.size() > static_cast<size_t>(options_.max_links)) {
      matches.resize(options_.max_links);
    }
    std::map<std::string, std::string> normalized_by_id;
    if (!matches.empty()) {
      const std::vector<std::string> lines(postmortem.log_lines().begin(),
                                           postmortem.log_lines().end());
      for (ErrorSignature& signature : SignaturesOf(lines)) {
        normalized_by_id.emplace(std::move(signature.id),
                                 std::move(signature.normalized));
      }
    }
    std::vector<SuggestedLink> links;
    for (const v1::SimilarIncident* match : matches) {
      const v1::IncidentSummary& other = match->incident();
      SuggestedLink link;
      if (IsEarlier(other.started_at(), other.id(), postmortem.started_at(),
                    id)) {
        link.later_id = id;
        link.earlier_id = other.id();
      } else {
        link.later_id = other.id();
        link.earlier_id = id;
      }
      link.score = std::clamp(match->score(), 0.0, 1.0);
      link.reasons = ReasonsOf(*match, normalized_by_id);
      links.push_back(std::move(link));
    }
    return links;
  }

  // Makes db_ the writer of the index in use, rebuilding when needed. A
  // no-op when it is open already.
  absl::Status OpenWriterLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(cycle_mu_) {
    if (db_ != nullptr) return absl::OkStatus();
    absl::StatusOr<std::string> current =
        index::CurrentIndexPath(options_.index_dir);
    std::string reason;
    if (rebuild_needed_) {
      reason = absl::StrCat("index ", options_.index_dir,
                            " turned out corrupt while changes were applied");
    } else if (absl::IsNotFound(current.status())) {
      reason = absl::StrCat("there is no index in ", options_.index_dir);
    } else if (!current.ok()) {
      return current.status();
    } else {
      try {
        auto db = std::make_unique<Xapian::WritableDatabase>(*current,
                                                             Xapian::DB_OPEN);
        const std::string schema = db->get_metadata(index::kSchemaVersionKey);
        if (schema == index::IndexFormatVersion()) {
          int64_t built_at = 0;
          // A damaged timestamp is not worth a rebuild: "never" is shown.
          if (!absl::SimpleAtoi(db->get_metadata(kBuiltAtKey), &built_at)) {
            built_at = 0;
          }
          const int64_t documents = db->get_doccount();
          // For the Search query parser (the format already says the table
          // is the same one).
          index::InstallSynonyms(*db);
          db->commit();
          AdoptLocked(std::move(db), *current, documents, built_at);
          return absl::OkStatus();
        }
        reason = absl::StrCat("index ", *current, " has schema version ",
                              schema.empty() ? "(none)" : schema,
                              " and this indexer writes version ",
                              index::IndexFormatVersion());
        db->close();
      } catch (const Xapian::DatabaseLockError& e) {
        // Not ours (we hold writer.lock): rebuilding would not help.
        return StatusFromXapian(e, "open index for writing", *current);
      } catch (const Xapian::Error& e) {
        reason = absl::StrCat("index ", *current, " cannot be opened (",
                              e.get_description(), ")");
      }
    }
    LogEvent(absl::StrCat(reason, "; rebuilding it from the database"));
    return RebuildLocked().status();
  }

  void AdoptLocked(std::unique_ptr<Xapian::WritableDatabase> db,
                   const std::string& path, int64_t documents, int64_t built_at)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(cycle_mu_) {
    db_ = std::move(db);
    db_path_ = path;
    absl::MutexLock lock(&state_mu_);
    documents_ = documents;
    index_path_ = path;
    built_at_ = built_at;
  }

  void CloseWriterLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(cycle_mu_) {
    if (db_ == nullptr) return;
    try {
      db_->close();
    } catch (const Xapian::Error& e) {
      LogEvent(
          absl::StrCat("closing index ", db_path_, ": ", e.get_description()));
    }
    db_.reset();
  }

  absl::StatusOr<v1::RebuildIndexResponse> RebuildLocked()
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(cycle_mu_) {
    {
      absl::MutexLock state(&state_mu_);
      if (stop_) return CancelledRebuild();
      rebuilding_ = true;
    }
    absl::StatusOr<v1::RebuildIndexResponse> rebuilt =
        RebuildGenerationLocked();
    absl::MutexLock state(&state_mu_);
    rebuilding_ = false;
    return rebuilt;
  }

  static absl::Status CancelledRebuild() {
    return absl::CancelledError("the index rebuild was cancelled (stopping)");
  }

  static absl::Status CancelledLinking() {
    return absl::CancelledError("recurrence linking was cancelled (stopping)");
  }

  absl::StatusOr<v1::RebuildIndexResponse> RebuildGenerationLocked()
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(cycle_mu_) {
    const absl::Time start = absl::Now();
    DEJA_ASSIGN_OR_RETURN(const std::string path,
                          index::NewGeneration(options_.index_dir));
    LogEvent(
        absl::StrCat("rebuilding the index from the database into ", path));
    std::unique_ptr<Xapian::WritableDatabase> fresh;
    int64_t documents = 0;
    const int64_t built_at = absl::ToUnixSeconds(start);
    absl::Status status;
    try {
      fresh = std::make_unique<Xapian::WritableDatabase>(
          path, Xapian::DB_CREATE_OR_OVERWRITE);
      status = feed_.ForEachPostmortem(
          [&](const v1::Postmortem& postmortem) -> absl::Status {
            if (StopRequested()) return CancelledRebuild();
            // Exceptions must not cross into the feed.
            try {
              fresh->replace_document(
                  index::IdTerm(postmortem.id()),
                  index::BuildDocument(postmortem, fresh.get()));
              // Not in use until swapped in: a failed rebuild removes it.
              if (++documents % kRebuildCommitEvery == 0) fresh->commit();
            } catch (const Xapian::Error& e) {
              return StatusFromXapian(
                  e, absl::StrCat("index postmortem ", postmortem.id()), path);
            } catch (const std::exception& e) {
              return StatusFromException(
                  e, absl::StrCat("index postmortem ", postmortem.id()), path);
            }
            if (documents % kProgressEvery == 0) {
              LogEvent(absl::StrCat("rebuilding the index: ", documents,
                                    " postmortems so far"));
            }
            return absl::OkStatus();
          });
      if (status.ok()) {
        index::InstallSynonyms(*fresh);
        fresh->set_metadata(index::kSchemaVersionKey,
                            index::IndexFormatVersion());
        fresh->set_metadata(kBuiltAtKey, absl::StrCat(built_at));
      }
    } catch (const Xapian::Error& e) {
      status = StatusFromXapian(e, "rebuild index", path);
    } catch (const std::exception& e) {
      status = StatusFromException(e, "rebuild index", path);
    }
    // The new generation says it holds every layer written so far, and no
    // layer is written from its last commit until it is in use. The layers'
    // postmortems that the scan missed (submitted during the rebuild) are
    // searchable again at the next commit, moments later: their outbox rows
    // are still waiting.
    absl::MutexLock layers(&layers_mu_);
    if (status.ok()) {
      try {
        fresh->set_metadata(index::kLayersCommittedKey,
                            absl::StrCat(next_layer_ - 1));
        fresh->commit();
      } catch (const Xapian::Error& e) {
        status = StatusFromXapian(e, "rebuild index", path);
      }
    }
    if (status.ok()) status = index::SwapIn(options_.index_dir, path);
    if (!status.ok()) {
      // The index in use is untouched; drop the half-built generation.
      try {
        if (fresh != nullptr) fresh->close();
      } catch (const Xapian::Error&) {
        // It is removed below either way.
      }
      fresh.reset();
      std::error_code error;
      std::filesystem::remove_all(path, error);
      const absl::Status failed = Annotate(status, "rebuild the index");
      LogEvent(failed.ToString());
      return failed;
    }
    CloseWriterLocked();
    AdoptLocked(std::move(fresh), path, documents, built_at);
    DropLayersLocked(next_layer_ - 1);
    rebuild_needed_ = false;
    if (absl::Status removed = index::RemoveOldGenerations(options_.index_dir);
        !removed.ok()) {
      // Only disk space is at stake; the next rebuild tries again.
      LogEvent(removed.ToString());
    }
    const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
    LogEvent(absl::StrFormat("index rebuilt: %d postmortems in %.2f s, %s",
                             documents, seconds, path));
    v1::RebuildIndexResponse response;
    response.set_documents(documents);
    response.set_seconds(seconds);
    response.set_index_path(path);
    return response;
  }

  // The last error of the applying loop, the layer thread or the linkers.
  struct Errors {
    std::string last;
    std::string last_logged;
  };

  enum class Worker { kApplier, kLayers, kLinker };

  // Keeps the last error of `worker` and logs each distinct error once, not
  // every retry.
  void RecordOutcome(const absl::Status& status, Worker worker) {
    std::string event;
    {
      absl::MutexLock lock(&state_mu_);
      Errors& errors = worker == Worker::kApplier  ? apply_errors_
                       : worker == Worker::kLayers ? layer_errors_
                                                   : link_errors_;
      if (status.ok()) {
        if (!errors.last.empty()) {
          event = absl::StrCat(
              "index sync recovered (last error: ", errors.last, ")");
        }
        errors.last.clear();
        errors.last_logged.clear();
      } else {
        errors.last = status.ToString();
        if (errors.last != errors.last_logged) {
          errors.last_logged = errors.last;
          event = absl::StrCat("index sync: ", errors.last);
        }
      }
    }
    if (!event.empty()) LogEvent(event);
  }

  IndexFeed& feed_;
  const IndexSyncOptions options_;
  const int lock_fd_;

  // Serialises Start() and Stop().
  absl::Mutex thread_mu_;
  std::thread thread_ ABSL_GUARDED_BY(thread_mu_);
  // The linkers; none when linking is off.
  std::vector<std::thread> link_threads_ ABSL_GUARDED_BY(thread_mu_);
  // Writes the recent layers; not started when they are off.
  std::thread layer_thread_ ABSL_GUARDED_BY(thread_mu_);

  // Taken by each batch and by Rebuild(): they take turns with the writer.
  absl::Mutex cycle_mu_ ABSL_ACQUIRED_BEFORE(layers_mu_, state_mu_);
  std::unique_ptr<Xapian::WritableDatabase> db_ ABSL_GUARDED_BY(cycle_mu_);
  std::string db_path_ ABSL_GUARDED_BY(cycle_mu_);
  // The index in use turned out corrupt: the next open rebuilds it.
  bool rebuild_needed_ ABSL_GUARDED_BY(cycle_mu_) = false;

  // A live layer (recent_layers.h): its outbox rows and postmortems.
  struct Layer {
    int64_t number = 0;
    std::vector<int64_t> row_ids;
    std::vector<std::string> postmortem_ids;
  };
  // The recent layers: taken by the layer thread to write one, and by a
  // cycle to claim their rows and, after its commit, to drop them.
  absl::Mutex layers_mu_ ABSL_ACQUIRED_BEFORE(state_mu_);
  std::vector<Layer> layers_ ABSL_GUARDED_BY(layers_mu_);
  // The live layers' postmortems, and how many.
  std::set<std::string> in_layers_ ABSL_GUARDED_BY(layers_mu_);
  int64_t layer_documents_ ABSL_GUARDED_BY(layers_mu_) = 0;
  // The postmortems of the batch being committed: not for a new layer.
  std::set<std::string> committing_ ABSL_GUARDED_BY(layers_mu_);
  // The last layer the commit under way takes in (0 between commits).
  int64_t claimed_through_ ABSL_GUARDED_BY(layers_mu_) = 0;
  int64_t next_layer_ ABSL_GUARDED_BY(layers_mu_) = 1;
  // The last outbox row read ahead.
  int64_t peeked_through_ ABSL_GUARDED_BY(layers_mu_) = 0;
  // The layer thread's last round went well: the commits leave the rows it
  // has not read yet to it.
  bool layers_keep_up_ ABSL_GUARDED_BY(layers_mu_) = false;
  // The last claim came back full, at least half of it rows that no layer
  // holds: the commits are a batch or more behind the layers too (a bulk
  // import, a restart). A new postmortem would wait for them anyway once
  // the layers fill, and writing layers then costs a second build of each
  // document and memory (a commit takes in every live layer on top of its
  // batch), so the layer thread pauses until a claim comes back short.
  bool commits_behind_ ABSL_GUARDED_BY(layers_mu_) = false;
  // Claims made: a page read before a claim may be stale (WriteLayer).
  int64_t claims_ ABSL_GUARDED_BY(layers_mu_) = 0;
  // Dropped layers still on disk, with when they were dropped.
  std::deque<std::pair<absl::Time, int64_t>> dropped_layers_
      ABSL_GUARDED_BY(layers_mu_);
  // The layer thread's reader of the index in use.
  std::unique_ptr<Xapian::Database> layer_index_ ABSL_GUARDED_BY(layers_mu_);
  std::string layer_index_path_ ABSL_GUARDED_BY(layers_mu_);

  // What Status() reports, and the loop's stop flag.
  absl::Mutex state_mu_;
  bool stop_ ABSL_GUARDED_BY(state_mu_) = false;
  bool running_ ABSL_GUARDED_BY(state_mu_) = false;
  // A Rebuild() call is waiting for or running its rebuild.
  bool rebuild_requested_ ABSL_GUARDED_BY(state_mu_) = false;
  // RebuildLocked() runs, for a Rebuild() call or for an open.
  bool rebuilding_ ABSL_GUARDED_BY(state_mu_) = false;
  int64_t documents_ ABSL_GUARDED_BY(state_mu_) = 0;
  std::string index_path_ ABSL_GUARDED_BY(state_mu_);
  int64_t built_at_ ABSL_GUARDED_BY(state_mu_) = 0;
  // Counts the batches Drain() completed with link rows: a linker that saw
  // it change since it last drained has work.
  int64_t link_wakeups_ ABSL_GUARDED_BY(state_mu_) = 0;
  // The layer thread runs (and holds the feed's LISTEN); it counts the
  // reads that found outbox rows, and Loop() the count it has drained.
  bool layers_on_ ABSL_GUARDED_BY(state_mu_) = false;
  int64_t commit_wakeups_ ABSL_GUARDED_BY(state_mu_) = 0;
  int64_t commit_wakeups_seen_ ABSL_GUARDED_BY(state_mu_) = 0;
  Errors apply_errors_ ABSL_GUARDED_BY(state_mu_);
  Errors layer_errors_ ABSL_GUARDED_BY(state_mu_);
  Errors link_errors_ ABSL_GUARDED_BY(state_mu_);
};

}  // namespace

absl::StatusOr<std::unique_ptr<IndexSync>> IndexSync::Open(
    IndexFeed& feed, const IndexSyncOptions& options) {
  if (options.index_dir.empty()) {
    return absl::InvalidArgumentError("IndexSyncOptions.index_dir is empty");
  }
  if (options.batch_rows <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("IndexSyncOptions.batch_rows must be positive, not ",
                     options.batch_rows));
  }
  if (options.recurrences != nullptr &&
      !(options.link_threshold >= 0 && options.link_threshold <= 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("IndexSyncOptions.link_threshold must be 0..1, not ",
                     options.link_threshold));
  }
  if (options.recurrences != nullptr &&
      (options.max_links < 1 || options.max_links > 45)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "IndexSyncOptions.max_links must be 1..45, not ", options.max_links));
  }
  if (options.poll_interval <= absl::ZeroDuration()) {
    // Zero would make the loop claim in a spin.
    return absl::InvalidArgumentError(
        absl::StrCat("IndexSyncOptions.poll_interval must be positive, not ",
                     absl::FormatDuration(options.poll_interval)));
  }
  DEJA_ASSIGN_OR_RETURN(const int lock_fd,
                        LockWriter(options.index_dir, options.lock_wait));
  auto sync = std::make_unique<XapianIndexSync>(feed, options, lock_fd);
  DEJA_RETURN_IF_ERROR(sync->OpenIndex());
  return std::unique_ptr<IndexSync>(std::move(sync));
}

}  // namespace deja
