// deja-indexer: the standalone index writer, for deployments that run
// `dejad --indexer=off` (e.g. several dejad replicas sharing one index
// directory, or an index kept on another disk). It drains PostgreSQL's
// index_outbox into the Xapian index under --index-dir until SIGINT or
// SIGTERM; --once drains once and exits; --rebuild rebuilds the index from
// PostgreSQL and exits.
//
// Only one writer may hold an index: when dejad (--indexer=on) or another
// deja-indexer has it, this one exits 1 with one line saying so, or with
// --wait waits for it to let go.
//
// Exit codes: 0 after a clean stop or a finished --once / --rebuild, 1 on
// any failure (one log line on stderr says why). SIGINT / SIGTERM before the
// index is open (e.g. while --wait waits) end the process the default way;
// nothing is half-written then.

#include <pthread.h>
#include <signal.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <functional>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "core/event_log.h"
#include "indexer/index_sync.h"
#include "services/main_flags.h"
#include "store/migrations.h"
#include "store/pg_index_feed.h"
#include "store/pg_recurrence_store.h"

ABSL_FLAG(std::string, database_url, "",
          "libpq URL or connection string of dejad's PostgreSQL database "
          "(required). For dejad's embedded cluster under --data-dir D: "
          "\"host=D/run dbname=deja user=postgres\"");
ABSL_FLAG(std::string, index_dir, "",
          "the index directory dejad --indexer=off reads (its --index-dir, "
          "default <data-dir>/index); required");
ABSL_FLAG(bool, wait, false,
          "when another indexer holds the index, wait for it to let go "
          "instead of exiting");
ABSL_FLAG(bool, rebuild, false,
          "rebuild the index from PostgreSQL, print the result and exit");
ABSL_FLAG(bool, once, false,
          "apply every waiting outbox row once, print how many, and exit");
ABSL_FLAG(int, batch_rows, 500, "outbox rows per index commit");
ABSL_FLAG(double, poll_seconds, 1.0,
          "longest sleep between outbox polls when no NOTIFY arrives");
ABSL_FLAG(bool, recent_layers, true,
          "make new postmortems searchable in small recent layers within a "
          "fraction of a second, ahead of the index's commit (dejad reads "
          "them); false: searchable at the commit");
ABSL_FLAG(double, status_seconds, 60.0,
          "how often to log the outbox depth, lag and document count");

namespace deja {
namespace {

// Waits for SIGINT or SIGTERM (blocked in every thread) while `work` runs on
// the calling thread; on one, calls `on_signal`, which must make `work`
// return soon. Returns the signal, or 0 when none came.
int RunStoppable(const sigset_t& stop_signals,
                 const std::function<void()>& work,
                 const std::function<void()>& on_signal) {
  absl::Notification done;
  int received = 0;
  std::thread watcher([&] {
    const timespec slice = absl::ToTimespec(absl::Milliseconds(100));
    while (!done.HasBeenNotified()) {
      const int signal_number = sigtimedwait(&stop_signals, nullptr, &slice);
      if (signal_number > 0) {
        received = signal_number;
        LogEvent(absl::StrCat("received ",
                              signal_number == SIGINT ? "SIGINT" : "SIGTERM",
                              ", stopping"));
        on_signal();
        return;
      }
    }
  });
  work();
  done.Notify();
  watcher.join();
  return received;
}

std::string Describe(const v1::IndexStatus& status) {
  return absl::StrFormat(
      "index %s: %d documents, %d outbox rows pending, lag %.1f s, %d "
      "postmortems to link%s",
      status.index_path(), status.documents(), status.pending(),
      status.lag_seconds(), status.link_pending(),
      status.last_error().empty()
          ? ""
          : absl::StrCat(", last error: ", status.last_error()));
}

int Run(int argc, char** argv) {
  SetLogProgramName("deja-indexer");
  absl::SetProgramUsageMessage(
      "Deja's standalone index writer, for dejad --indexer=off.\n"
      "Usage: deja-indexer --database-url=URL --index-dir=DIR "
      "[--wait] [--once | --rebuild]\nFlag names may be written with '-' or "
      "'_'.");
  absl::FlagsUsageConfig usage_config;
  usage_config.version_string = [] {
    return std::string("deja-indexer " DEJA_VERSION "\n");
  };
  absl::SetFlagsUsageConfig(usage_config);
  std::vector<char*> args = NormalizeFlagNames(argc, argv);
  const std::vector<char*> positional =
      absl::ParseCommandLine(static_cast<int>(args.size()), args.data());
  RaiseOpenFileLimit();
  if (positional.size() > 1) {
    return LogAndFail(absl::StrCat("unexpected argument '", positional[1],
                                   "' (see deja-indexer --help)"));
  }
  const std::string database_url = absl::GetFlag(FLAGS_database_url);
  const std::string index_dir = absl::GetFlag(FLAGS_index_dir);
  if (database_url.empty()) return LogAndFail("--database-url is required");
  if (index_dir.empty()) return LogAndFail("--index-dir is required");
  if (absl::GetFlag(FLAGS_once) && absl::GetFlag(FLAGS_rebuild)) {
    return LogAndFail("--once and --rebuild exclude each other");
  }
  if (absl::GetFlag(FLAGS_batch_rows) < 1) {
    return LogAndFail("--batch-rows must be at least 1");
  }
  if (!(absl::GetFlag(FLAGS_poll_seconds) > 0) ||
      !(absl::GetFlag(FLAGS_status_seconds) > 0)) {
    return LogAndFail("--poll-seconds and --status-seconds must be positive");
  }

  // Until the index is open (which may mean waiting for the lock, or a
  // rebuild of a missing one) and for --once, SIGINT and SIGTERM keep their
  // default action and end the process at once: nothing is lost, as an
  // uncommitted Xapian transaction is dropped, claimed outbox rows go back
  // when the connection closes, and a half-built generation is never the
  // one in use (the next rebuild removes it). From --rebuild or the loop on
  // they are blocked and waited for, to stop cleanly.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);

  // The indexer may start before any dejad has created the outbox.
  absl::StatusOr<int> applied = ApplyMigrations(database_url);
  if (!applied.ok()) {
    return LogAndFail(
        absl::StrCat("migrations failed: ", applied.status().ToString()));
  }
  PgIndexFeedOptions feed_options;
  feed_options.connection_string = database_url;
  absl::StatusOr<std::unique_ptr<IndexFeed>> feed =
      OpenPgIndexFeed(feed_options);
  if (!feed.ok()) {
    return LogAndFail(
        absl::StrCat("cannot open the outbox: ", feed.status().ToString()));
  }

  // A standalone indexer suggests recurrence links too (IndexSyncOptions).
  PgRecurrenceStoreOptions recurrence_options;
  recurrence_options.connection_string = database_url;
  recurrence_options.pool_size = 1;
  absl::StatusOr<std::unique_ptr<RecurrenceStore>> recurrences =
      OpenPgRecurrenceStore(recurrence_options);
  if (!recurrences.ok()) {
    return LogAndFail(absl::StrCat("cannot open the recurrence links: ",
                                   recurrences.status().ToString()));
  }

  IndexSyncOptions sync_options;
  sync_options.index_dir = index_dir;
  sync_options.recurrences = recurrences->get();
  sync_options.batch_rows = absl::GetFlag(FLAGS_batch_rows);
  sync_options.recent_layers = absl::GetFlag(FLAGS_recent_layers);
  sync_options.poll_interval = absl::Seconds(absl::GetFlag(FLAGS_poll_seconds));
  sync_options.lock_wait = absl::GetFlag(FLAGS_wait) ? absl::InfiniteDuration()
                                                     : absl::ZeroDuration();
  if (absl::GetFlag(FLAGS_wait)) {
    LogEvent(absl::StrCat("opening ", index_dir,
                          " (waiting for any other indexer to let go)"));
  }
  const absl::Time open_start = absl::Now();
  absl::StatusOr<std::unique_ptr<IndexSync>> sync =
      IndexSync::Open(**feed, sync_options);
  if (!sync.ok()) {
    if (sync.status().code() == absl::StatusCode::kFailedPrecondition) {
      // Another writer: say what to do about it, on the one line.
      return LogAndFail(absl::StrCat(sync.status().message(),
                                     " (stop the other indexer, run dejad with "
                                     "--indexer=off, or pass --wait)"));
    }
    return LogAndFail(
        absl::StrCat("cannot open the index: ", sync.status().ToString()));
  }

  if (absl::GetFlag(FLAGS_rebuild)) {
    const v1::IndexStatus opened = (*sync)->Status();
    if (opened.last_rebuild().seconds() >= absl::ToUnixSeconds(open_start)) {
      // Open() found no usable index and has just built it from scratch.
      std::cout << absl::StrFormat(
          "rebuilt %s: %d documents in %.1f s\n", opened.index_path(),
          opened.documents(), absl::ToDoubleSeconds(absl::Now() - open_start));
      return 0;
    }
    // Only the main thread exists: the watcher and any later thread inherit
    // the mask.
    pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
    LogEvent(absl::StrCat("rebuilding ", index_dir, " from PostgreSQL"));
    absl::StatusOr<v1::RebuildIndexResponse> rebuilt;
    // Stop() cancels the rebuild, which drops its half-built generation.
    RunStoppable(
        stop_signals, [&] { rebuilt = (*sync)->Rebuild(); },
        [&] { (*sync)->Stop(); });
    if (!rebuilt.ok()) {
      return LogAndFail(
          absl::StrCat("rebuild failed: ", rebuilt.status().ToString()));
    }
    std::cout << absl::StrFormat("rebuilt %s: %d documents in %.1f s\n",
                                 rebuilt->index_path(), rebuilt->documents(),
                                 rebuilt->seconds());
    return 0;
  }
  if (absl::GetFlag(FLAGS_once)) {
    absl::StatusOr<int64_t> rows = (*sync)->RunOnce();
    if (!rows.ok()) {
      return LogAndFail(absl::StrCat("indexing or recurrence linking failed: ",
                                     rows.status().ToString()));
    }
    std::cout << "applied " << *rows << " outbox rows; "
              << Describe((*sync)->Status()) << "\n";
    return 0;
  }

  LogEvent(absl::StrCat("started; ", Describe((*sync)->Status())));
  // Before Start() creates the loop's thread, which inherits the mask: the
  // signals then wait for sigtimedwait() below.
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  (*sync)->Start();
  const absl::Duration status_every =
      absl::Seconds(absl::GetFlag(FLAGS_status_seconds));
  int signal_number = -1;
  while (signal_number < 0) {
    const timespec wait = absl::ToTimespec(status_every);
    signal_number = sigtimedwait(&stop_signals, nullptr, &wait);
    if (signal_number < 0) {
      if (errno != EAGAIN && errno != EINTR) {
        return LogAndFail(absl::StrCat("sigtimedwait: ", std::strerror(errno)));
      }
      LogEvent(Describe((*sync)->Status()));
    }
  }
  LogEvent(absl::StrCat("received ",
                        signal_number == SIGINT ? "SIGINT" : "SIGTERM",
                        ", stopping"));
  (*sync)->Stop();
  sync->reset();
  feed->reset();
  recurrences->reset();
  LogEvent("stopped");
  return 0;
}

}  // namespace
}  // namespace deja

int main(int argc, char** argv) { return deja::Run(argc, argv); }
