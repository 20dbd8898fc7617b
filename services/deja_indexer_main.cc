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
// any failure (one log line on stderr says why).

#include <pthread.h>
#include <signal.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "core/event_log.h"
#include "indexer/index_sync.h"
#include "store/migrations.h"
#include "store/pg_index_feed.h"

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
ABSL_FLAG(double, status_seconds, 60.0,
          "how often to log the outbox depth, lag and document count");

namespace deja {
namespace {

// absl flags spell names with '_'; the documented spelling uses '-'.
std::vector<char*> NormalizeFlagNames(int argc, char** argv) {
  std::vector<char*> args(argv, argv + argc);
  for (int i = 1; i < argc; ++i) {
    char* arg = argv[i];
    if (std::strcmp(arg, "--") == 0) break;
    if (std::strncmp(arg, "--", 2) != 0) continue;
    for (char* c = arg + 2; *c != '\0' && *c != '='; ++c) {
      if (*c == '-') *c = '_';
    }
  }
  return args;
}

int Fail(absl::string_view what) {
  LogEvent(what);
  return 1;
}

std::string Describe(const v1::IndexStatus& status) {
  return absl::StrFormat(
      "index %s: %d documents, %d outbox rows pending, lag %.1f s%s",
      status.index_path(), status.documents(), status.pending(),
      status.lag_seconds(),
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
  if (positional.size() > 1) {
    return Fail(absl::StrCat("unexpected argument '", positional[1],
                             "' (see deja-indexer --help)"));
  }
  const std::string database_url = absl::GetFlag(FLAGS_database_url);
  const std::string index_dir = absl::GetFlag(FLAGS_index_dir);
  if (database_url.empty()) return Fail("--database-url is required");
  if (index_dir.empty()) return Fail("--index-dir is required");
  if (absl::GetFlag(FLAGS_once) && absl::GetFlag(FLAGS_rebuild)) {
    return Fail("--once and --rebuild exclude each other");
  }
  if (absl::GetFlag(FLAGS_batch_rows) < 1) {
    return Fail("--batch-rows must be at least 1");
  }
  if (!(absl::GetFlag(FLAGS_poll_seconds) > 0) ||
      !(absl::GetFlag(FLAGS_status_seconds) > 0)) {
    return Fail("--poll-seconds and --status-seconds must be positive");
  }

  // Blocked before any thread exists so that every thread inherits the mask
  // and the signals wait for sigtimedwait() below.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  // The indexer may start before any dejad has created the outbox.
  absl::StatusOr<int> applied = ApplyMigrations(database_url);
  if (!applied.ok()) {
    return Fail(
        absl::StrCat("migrations failed: ", applied.status().ToString()));
  }
  PgIndexFeedOptions feed_options;
  feed_options.connection_string = database_url;
  absl::StatusOr<std::unique_ptr<IndexFeed>> feed =
      OpenPgIndexFeed(feed_options);
  if (!feed.ok()) {
    return Fail(
        absl::StrCat("cannot open the outbox: ", feed.status().ToString()));
  }

  IndexSyncOptions sync_options;
  sync_options.index_dir = index_dir;
  sync_options.batch_rows = absl::GetFlag(FLAGS_batch_rows);
  sync_options.poll_interval = absl::Seconds(absl::GetFlag(FLAGS_poll_seconds));
  sync_options.lock_wait = absl::GetFlag(FLAGS_wait) ? absl::InfiniteDuration()
                                                     : absl::ZeroDuration();
  if (absl::GetFlag(FLAGS_wait)) {
    LogEvent(absl::StrCat("opening ", index_dir,
                          " (waiting for any other indexer to let go)"));
  }
  absl::StatusOr<std::unique_ptr<IndexSync>> sync =
      IndexSync::Open(**feed, sync_options);
  if (!sync.ok()) {
    if (sync.status().code() == absl::StatusCode::kFailedPrecondition) {
      // Another writer: say what to do about it, on the one line.
      return Fail(absl::StrCat(sync.status().message(),
                               " (stop the other indexer, run dejad with "
                               "--indexer=off, or pass --wait)"));
    }
    return Fail(
        absl::StrCat("cannot open the index: ", sync.status().ToString()));
  }

  if (absl::GetFlag(FLAGS_rebuild)) {
    LogEvent(absl::StrCat("rebuilding ", index_dir, " from PostgreSQL"));
    absl::StatusOr<v1::RebuildIndexResponse> rebuilt = (*sync)->Rebuild();
    if (!rebuilt.ok()) {
      return Fail(
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
      return Fail(absl::StrCat("indexing failed: ", rows.status().ToString()));
    }
    std::cout << "applied " << *rows << " outbox rows; "
              << Describe((*sync)->Status()) << "\n";
    return 0;
  }

  LogEvent(absl::StrCat("started; ", Describe((*sync)->Status())));
  (*sync)->Start();
  const absl::Duration status_every =
      absl::Seconds(absl::GetFlag(FLAGS_status_seconds));
  int signal_number = -1;
  while (signal_number < 0) {
    const timespec wait = absl::ToTimespec(status_every);
    signal_number = sigtimedwait(&stop_signals, nullptr, &wait);
    if (signal_number < 0) {
      if (errno != EAGAIN && errno != EINTR) {
        return Fail(absl::StrCat("sigtimedwait: ", std::strerror(errno)));
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
  LogEvent("stopped");
  return 0;
}

}  // namespace
}  // namespace deja

int main(int argc, char** argv) { return deja::Run(argc, argv); }
