// dejad: the Deja server and the only composition root. Reads flags, starts
// (or connects to) PostgreSQL, applies migrations, serves gRPC until SIGINT
// or SIGTERM, then drains calls and stops everything it started.
//
// The search index: with --indexer=on (the default) dejad is the index's one
// writer (an IndexSync thread draining the outbox); with --indexer=off it
// only reads the index under --index-dir, which a separate deja-indexer
// keeps up to date.
//
// With --http-listen, dejad also serves statistics as JSON, /healthz and
// Prometheus /metrics over HTTP (services/http_gateway.h); the log line
// "serving HTTP on <host>:<port>" names the bound address, and comes before
// the listening line below.
//
// Contract with scripts and tests: log lines go to stderr; exactly one line
// goes to stdout, "dejad listening on <host>:<port>", once the server takes
// calls. Exit code 0 after a clean stop, 1 when startup fails.

#include <fcntl.h>
#include <google/protobuf/stubs/logging.h>
#include <grpc/support/log.h>
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/resource_quota.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>
#include <pthread.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "core/event_log.h"
#include "core/status_macros.h"
#include "deja/v1/admin_service.grpc.pb.h"
#include "deja/v1/postmortem_service.grpc.pb.h"
#include "deja/v1/recurrence_service.grpc.pb.h"
#include "deja/v1/search_service.grpc.pb.h"
#include "deja/v1/stats_service.grpc.pb.h"
#include "indexer/index_sync.h"
#include "indexer/xapian_searcher.h"
#include "services/admin_service.h"
#include "services/http_gateway.h"
#include "services/main_flags.h"
#include "services/metrics.h"
#include "services/postmortem_service.h"
#include "services/proto_service.h"
#include "services/recurrence_service.h"
#include "services/search_service.h"
#include "services/stats_service.h"
#include "store/embedded_postgres.h"
#include "store/migrations.h"
#include "store/pg_index_feed.h"
#include "store/pg_recurrence_store.h"
#include "store/pg_stats_store.h"
#include "store/pg_store.h"

namespace {

int DefaultThreads() {
  // Calls mostly wait on PostgreSQL, not the CPU, so even a small machine
  // wants enough threads that a burst of clients is queued, not refused.
  return std::max(16,
                  4 * static_cast<int>(std::thread::hardware_concurrency()));
}

}  // namespace

ABSL_FLAG(std::string, listen, "127.0.0.1:50051",
          "host:port to serve gRPC on; port 0 picks a free port (the "
          "listening line on stdout names it)");
ABSL_FLAG(std::string, data_dir, "./deja-data",
          "directory for dejad's own state: the embedded PostgreSQL cluster "
          "lives in <data_dir>/pg");
ABSL_FLAG(std::string, database_url, "",
          "libpq URL or connection string of an existing PostgreSQL database; "
          "empty runs an embedded cluster under --data_dir");
ABSL_FLAG(int, threads, DefaultThreads(),
          "gRPC worker threads and PostgreSQL connections; calls beyond this "
          "many at once get RESOURCE_EXHAUSTED");
ABSL_FLAG(int, max_message_bytes, 4 << 20,
          "largest request or response message, in bytes");
ABSL_FLAG(std::string, indexer, "on",
          "on: dejad keeps the search index up to date itself; off: only "
          "reads it, and a separate deja-indexer writes it");
ABSL_FLAG(std::string, index_dir, "",
          "the search index directory; empty means <data_dir>/index");
ABSL_FLAG(bool, recent_layers, true,
          "with --indexer=on: make new postmortems searchable in small "
          "recent layers within a fraction of a second, ahead of the "
          "index's commit; false: searchable at the commit");
ABSL_FLAG(std::string, http_listen, "",
          "host:port to serve HTTP on: statistics as JSON (/v1/stats/...), "
          "/healthz and Prometheus /metrics; empty (the default) serves no "
          "HTTP; port 0 picks a free port (logged as 'serving HTTP on')");
ABSL_FLAG(bool, require_blameless, false,
          "reject submitted postmortems whose text blames people (\"human "
          "error\", \"X's fault\", ...) with FAILED_PRECONDITION; by default "
          "such wording only comes back as warnings");

namespace deja {
namespace {

// A call's database work ends by the client's deadline or after
// kMaxCallTime, whichever comes first. The shutdown grace follows from it:
// gRPC cancels the calls still running when the grace ends but waits for
// their handlers all the same, so a grace shorter than the cap would not stop
// dejad sooner, only turn answers into CANCELLED. The extra seconds let the
// database report its statement timeout and the answer go out.
constexpr int64_t kMaxCallSeconds = 10;
constexpr absl::Duration kMaxCallTime = absl::Seconds(kMaxCallSeconds);
constexpr absl::Duration kShutdownGrace = absl::Seconds(kMaxCallSeconds + 2);

// Protobuf reports each invalid UTF-8 string it meets while parsing; dejad
// answers those requests with INVALID_ARGUMENT, so the line is noise a client
// could flood the log with. Everything else goes to the event log.
void ProtobufLogToEventLog(google::protobuf::LogLevel level,
                           const char* /*filename*/, int /*line*/,
                           const std::string& message) {
  if (level < google::protobuf::LOGLEVEL_WARNING) return;
  if (absl::StrContains(message, "invalid UTF-8")) return;
  LogEvent(absl::StrCat("protobuf: ", message));
}

// gRPC's own errors (e.g. why a port could not be bound) in the same
// one-line format as everything else.
void GrpcLogToEventLog(gpr_log_func_args* args) {
  LogEvent(absl::StrCat("grpc: ", args->message));
}

// Holds <data_dir>/dejad.lock for the life of the process, so that a second
// dejad on the same directory stops before it touches the first one's
// PostgreSQL cluster. The kernel drops the lock when the process dies, so a
// crash never leaves a stale lock behind.
//
// Creates the data dir itself but never its parents: as root, EmbeddedPostgres
// makes the data dir traversable for the server user, and a parent made here
// would be one it does not consider its own to open up.
absl::StatusOr<int> LockDataDir(const std::filesystem::path& data_dir) {
  std::error_code error;
  if (!std::filesystem::exists(data_dir, error)) {
    const std::filesystem::path parent = data_dir.parent_path();
    if (!std::filesystem::is_directory(parent, error)) {
      return absl::FailedPreconditionError(
          absl::StrCat("--data-dir ", data_dir.string(), ": parent directory ",
                       parent.string(), " does not exist"));
    }
    // Private like the cluster inside it.
    if (mkdir(data_dir.c_str(), 0700) != 0 && errno != EEXIST) {
      return absl::FailedPreconditionError(absl::StrCat(
          "cannot create ", data_dir.string(), ": ", std::strerror(errno)));
    }
  }
  const std::filesystem::path lock_path = data_dir / "dejad.lock";
  const int fd = open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "cannot open ", lock_path.string(), ": ", std::strerror(errno)));
  }
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    char pid[32] = {};
    (void)!read(fd, pid, sizeof pid - 1);
    close(fd);
    return absl::FailedPreconditionError(
        absl::StrCat(data_dir.string(), " is in use by another dejad (pid ",
                     absl::StripAsciiWhitespace(pid), ")"));
  }
  const std::string pid = absl::StrCat(getpid(), "\n");
  // The pid only feeds the message above; the lock is what matters.
  if (ftruncate(fd, 0) == 0) (void)!write(fd, pid.data(), pid.size());
  return fd;
}

int64_t MillisSince(absl::Time start) {
  return absl::ToInt64Milliseconds(absl::Now() - start);
}

// "127.0.0.1:0" with port 43121 -> "127.0.0.1:43121".
std::string WithPort(const std::string& listen, int port) {
  const size_t colon = listen.rfind(':');
  return absl::StrCat(
      colon == std::string::npos ? listen : listen.substr(0, colon), ":", port);
}

int Fail(absl::string_view what) {
  return LogAndFail(absl::StrCat("startup failed: ", what));
}

// Documents and outbox depth, for the startup log line.
std::string DescribeIndex(const v1::IndexStatus& status) {
  return absl::StrCat(
      status.documents(), " documents, ", status.pending(),
      " outbox rows pending (lag ",
      absl::StrFormat("%.1f s", status.lag_seconds()), "), ",
      status.link_pending(), " postmortems to link",
      status.last_error().empty()
          ? ""
          : absl::StrCat(", last error: ", status.last_error()));
}

int Run(int argc, char** argv) {
  SetLogProgramName("dejad");
  absl::SetProgramUsageMessage(
      "Deja server: serves deja.v1 over gRPC, storing postmortems in "
      "PostgreSQL.\nUsage: dejad [--listen=host:port] [--data-dir=DIR] "
      "[--database-url=URL] [--threads=N]\n       [--indexer=on|off] "
      "[--index-dir=DIR] [--http-listen=host:port]\n       "
      "[--recent-layers=true|false] [--require-blameless]\nFlag names may be "
      "written with '-' or '_'.");
  absl::FlagsUsageConfig usage_config;
  usage_config.version_string = [] {
    return std::string("dejad " DEJA_VERSION "\n");
  };
  absl::SetFlagsUsageConfig(usage_config);
  std::vector<char*> args = NormalizeFlagNames(argc, argv);
  const std::vector<char*> positional =
      absl::ParseCommandLine(static_cast<int>(args.size()), args.data());
  RaiseOpenFileLimit();
  if (positional.size() > 1) {
    return Fail(absl::StrCat("unexpected argument '", positional[1],
                             "' (see dejad --help)"));
  }
  const std::string listen = absl::GetFlag(FLAGS_listen);
  const std::string database_url = absl::GetFlag(FLAGS_database_url);
  const int threads = absl::GetFlag(FLAGS_threads);
  const int max_message_bytes = absl::GetFlag(FLAGS_max_message_bytes);
  if (threads < 2) return Fail("--threads must be at least 2");
  if (max_message_bytes < 1024) {
    return Fail("--max-message-bytes must be at least 1024");
  }
  const std::string indexer_mode = absl::GetFlag(FLAGS_indexer);
  if (indexer_mode != "on" && indexer_mode != "off") {
    return Fail(
        absl::StrCat("--indexer must be on or off, not '", indexer_mode, "'"));
  }
  const bool run_indexer = indexer_mode == "on";
  std::string index_dir = absl::GetFlag(FLAGS_index_dir);
  if (index_dir.empty()) {
    index_dir = (std::filesystem::path(absl::GetFlag(FLAGS_data_dir)) / "index")
                    .lexically_normal()
                    .string();
  }
  {
    std::error_code error;
    const std::filesystem::path absolute =
        std::filesystem::absolute(index_dir, error);
    if (error) {
      return Fail(
          absl::StrCat("bad --index-dir ", index_dir, ": ", error.message()));
    }
    index_dir = absolute.lexically_normal().string();
  }
  google::protobuf::SetLogHandler(&ProtobufLogToEventLog);
  gpr_set_log_function(&GrpcLogToEventLog);

  // Blocked before any thread exists, so every thread inherits the mask and
  // the signals wait for sigwait() below instead of killing the process in
  // the middle of a call or of PostgreSQL's startup.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  std::unique_ptr<EmbeddedPostgres> embedded;
  std::string connection_string = database_url;
  if (database_url.empty()) {
    std::error_code error;
    std::filesystem::path data_dir =
        std::filesystem::absolute(absl::GetFlag(FLAGS_data_dir), error)
            .lexically_normal();
    if (error) {
      return Fail(absl::StrCat("bad --data-dir ", absl::GetFlag(FLAGS_data_dir),
                               ": ", error.message()));
    }
    // "/var/lib/deja/" names /var/lib/deja, whose parent is /var/lib.
    if (!data_dir.has_filename() && data_dir.has_parent_path()) {
      data_dir = data_dir.parent_path();
    }
    absl::StatusOr<int> lock = LockDataDir(data_dir);
    if (!lock.ok()) return Fail(lock.status().message());
    LogEvent(absl::StrCat("starting embedded PostgreSQL in ",
                          (data_dir / "pg").string()));
    const absl::Time start = absl::Now();
    EmbeddedPostgresOptions options;
    options.root_dir = data_dir.string();
    absl::StatusOr<std::unique_ptr<EmbeddedPostgres>> started =
        EmbeddedPostgres::Start(options);
    if (!started.ok())
      return Fail(absl::StrCat("embedded PostgreSQL did not start: ",
                               started.status().ToString()));
    embedded = *std::move(started);
    connection_string = embedded->ConnectionString();
    LogEvent(absl::StrCat("embedded PostgreSQL started in ", MillisSince(start),
                          " ms"));
  } else {
    // The URL may hold a password: never log it.
    LogEvent("using the PostgreSQL database of --database-url");
  }

  const absl::Time migrate_start = absl::Now();
  absl::StatusOr<int> applied = ApplyMigrations(connection_string);
  if (!applied.ok()) {
    return Fail(
        absl::StrCat("migrations failed: ", applied.status().ToString()));
  }
  LogEvent(absl::StrCat("migrations applied: ", *applied, " (",
                        MillisSince(migrate_start), " ms)"));

  PgStoreOptions store_options;
  store_options.connection_string = connection_string;
  store_options.pool_size = threads;
  absl::StatusOr<std::unique_ptr<PostmortemStore>> store =
      OpenPgStore(store_options);
  if (!store.ok()) {
    return Fail(
        absl::StrCat("cannot open the store: ", store.status().ToString()));
  }

  // Statistics run longer queries than submits and searches; their own small
  // pool keeps a burst of dashboard calls from starving the submits.
  PgStatsStoreOptions stats_options;
  stats_options.connection_string = connection_string;
  absl::StatusOr<std::unique_ptr<StatsStore>> stats_store =
      OpenPgStatsStore(stats_options);
  if (!stats_store.ok()) {
    return Fail(absl::StrCat("cannot open the statistics store: ",
                             stats_store.status().ToString()));
  }
  PgRecurrenceStoreOptions recurrence_options;
  recurrence_options.connection_string = connection_string;
  absl::StatusOr<std::unique_ptr<RecurrenceStore>> recurrence_store =
      OpenPgRecurrenceStore(recurrence_options);
  if (!recurrence_store.ok()) {
    return Fail(absl::StrCat("cannot open the recurrence store: ",
                             recurrence_store.status().ToString()));
  }

  PgIndexFeedOptions feed_options;
  feed_options.connection_string = connection_string;
  absl::StatusOr<std::unique_ptr<IndexFeed>> feed =
      OpenPgIndexFeed(feed_options);
  if (!feed.ok()) {
    return Fail(
        absl::StrCat("cannot open the outbox: ", feed.status().ToString()));
  }
  std::unique_ptr<RecurrenceStore> link_store;  // the indexer's linkers'
  std::unique_ptr<IndexSync> sync;
  if (run_indexer) {
    // Open() rebuilds the index from PostgreSQL when it is missing, corrupt
    // or of another schema version, which can take a while on a big one.
    LogEvent(absl::StrCat("opening the search index in ", index_dir,
                          " (rebuilt from PostgreSQL if missing or "
                          "unreadable)"));
    const absl::Time index_start = absl::Now();
    IndexSyncOptions sync_options;
    sync_options.index_dir = index_dir;
    sync_options.recent_layers = absl::GetFlag(FLAGS_recent_layers);
    // Recurrence links are recorded just behind the index (link_pending),
    // through connections of their own: the linkers run at the lowest CPU
    // priority, and one switched out while holding a connection must not
    // keep RecurrenceService's calls waiting for it.
    absl::StatusOr<std::unique_ptr<RecurrenceStore>> opened_link_store =
        OpenPgRecurrenceStore(recurrence_options);
    if (!opened_link_store.ok()) {
      return Fail(absl::StrCat("cannot open the recurrence store: ",
                               opened_link_store.status().ToString()));
    }
    link_store = *std::move(opened_link_store);
    sync_options.recurrences = link_store.get();
    absl::StatusOr<std::unique_ptr<IndexSync>> opened =
        IndexSync::Open(**feed, sync_options);
    if (!opened.ok()) {
      if (opened.status().code() == absl::StatusCode::kFailedPrecondition) {
        return Fail(absl::StrCat(opened.status().message(),
                                 " (another indexer holds it: stop it, or "
                                 "run dejad with --indexer=off)"));
      }
      return Fail(absl::StrCat("cannot open the search index: ",
                               opened.status().ToString()));
    }
    sync = *std::move(opened);
    LogEvent(
        absl::StrCat("search index open in ", MillisSince(index_start), " ms"));
    sync->Start();
  } else {
    LogEvent(absl::StrCat("--indexer=off: reading the search index in ",
                          index_dir, "; deja-indexer writes it"));
  }
  XapianSearcherOptions searcher_options;
  searcher_options.index_dir = index_dir;
  absl::StatusOr<std::unique_ptr<PostmortemSearcher>> searcher =
      OpenXapianSearcher(searcher_options);
  if (!searcher.ok()) {
    return Fail(absl::StrCat("cannot open the search index for reading: ",
                             searcher.status().ToString()));
  }

  PostmortemServiceOptions service_options;
  service_options.require_blameless = absl::GetFlag(FLAGS_require_blameless);
  auto service = std::make_unique<PostmortemService>(
      **store, kMaxCallTime, searcher->get(), service_options);
  auto search_service = std::make_unique<SearchService>(**searcher);
  auto admin_service =
      std::make_unique<AdminService>(sync.get(), **feed, **searcher, index_dir);
  auto stats_service = std::make_unique<StatsService>(**stats_store);
  auto recurrence_service =
      std::make_unique<RecurrenceService>(**recurrence_store);

  // Every call of every service is counted and timed; the services whose
  // handlers talk to PostgreSQL also count its failures.
  MetricsRegistry metrics;
  RpcMetrics rpc_metrics(metrics);
  service->SetMetrics(&rpc_metrics, /*database_backed=*/true);
  search_service->SetMetrics(&rpc_metrics, /*database_backed=*/false);
  admin_service->SetMetrics(&rpc_metrics, /*database_backed=*/false);
  stats_service->SetMetrics(&rpc_metrics, /*database_backed=*/true);
  recurrence_service->SetMetrics(&rpc_metrics, /*database_backed=*/true);
  AddIndexGauges(
      metrics,
      [&admin_service]() -> absl::StatusOr<v1::IndexStatus> {
        v1::IndexStatus status;
        DEJA_RETURN_IF_ERROR(
            admin_service->Invoke("GetIndexStatus", v1::GetIndexStatusRequest(),
                                  status, RpcTransport::kInternal));
        return status;
      },
      rpc_metrics.database_errors());
  AddKnowledgeBaseGauges(metrics, **stats_store, rpc_metrics.database_errors());
  {
    // The same answer AdminService.GetIndexStatus gives, once, for the log.
    v1::IndexStatus status;
    if (sync != nullptr) {
      status = sync->Status();
    } else {
      absl::StatusOr<OutboxStats> stats = (*feed)->Stats();
      if (stats.ok()) SetOutboxStats(*stats, status);
      absl::StatusOr<int64_t> documents = (*searcher)->DocumentCount();
      if (documents.ok()) {
        status.set_documents(*documents);
      } else {
        status.set_last_error(std::string(documents.status().message()));
      }
    }
    LogEvent(absl::StrCat("search index: ", DescribeIndex(status)));
  }

  // What gRPC health says, for /healthz: true from the moment every service
  // is SERVING until shutdown begins.
  std::atomic<bool> serving{false};
  std::unique_ptr<HttpGateway> gateway;
  const std::string http_listen = absl::GetFlag(FLAGS_http_listen);
  if (!http_listen.empty()) {
    gateway = std::make_unique<HttpGateway>(
        [&serving] { return serving.load(); }, &metrics);
    AddStatsRoutes(*gateway, *stats_service);
    absl::StatusOr<int> http_port = gateway->Start(http_listen);
    if (!http_port.ok()) return Fail(http_port.status().message());
    LogEvent(
        absl::StrCat("serving HTTP on ", WithPort(http_listen, *http_port)));
  }

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ResourceQuota quota("dejad");
  quota.SetMaxThreads(threads);
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(listen, grpc::InsecureServerCredentials(), &port);
  // gRPC sets SO_REUSEPORT by default: a second dejad on the same port
  // would start "fine" and take half the calls. Fail instead.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.SetResourceQuota(quota);
  // One completion queue keeps the thread budget in one place; idle threads
  // stay (MAX_POLLERS) so a burst does not pay for thread creation.
  builder.SetSyncServerOption(grpc::ServerBuilder::NUM_CQS, 1);
  builder.SetSyncServerOption(grpc::ServerBuilder::MIN_POLLERS, 1);
  builder.SetSyncServerOption(grpc::ServerBuilder::MAX_POLLERS, threads);
  builder.SetMaxReceiveMessageSize(max_message_bytes);
  builder.SetMaxSendMessageSize(max_message_bytes);
  builder.RegisterService(service.get());
  builder.RegisterService(search_service.get());
  builder.RegisterService(admin_service.get());
  builder.RegisterService(stats_service.get());
  builder.RegisterService(recurrence_service.get());
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    return Fail(absl::StrCat("cannot listen on ", listen,
                             " (address in use or not valid)"));
  }
  grpc::HealthCheckServiceInterface* health = server->GetHealthCheckService();
  health->SetServingStatus("", true);
  health->SetServingStatus(v1::PostmortemService::service_full_name(), true);
  health->SetServingStatus(v1::SearchService::service_full_name(), true);
  health->SetServingStatus(v1::AdminService::service_full_name(), true);
  health->SetServingStatus(v1::StatsService::service_full_name(), true);
  health->SetServingStatus(v1::RecurrenceService::service_full_name(), true);
  serving = true;

  const std::string address = WithPort(listen, port);
  LogEvent(absl::StrCat("serving on ", address, " with ", threads, " threads"));
  if (service_options.require_blameless) {
    LogEvent(
        "--require-blameless: postmortems with blaming language are refused");
  }
  std::cout << "dejad listening on " << address << std::endl;

  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  LogEvent(absl::StrCat("received ",
                        signal_number == SIGINT ? "SIGINT" : "SIGTERM",
                        ", shutting down"));
  // Health first, so load balancers stop sending calls while ours finish.
  health->Shutdown();
  serving = false;
  // HTTP next: its requests call the services in-process, so it must be
  // done with them before anything below goes away. Stop() waits for the
  // requests in progress.
  if (gateway != nullptr) gateway->Stop();
  // The indexer before the server: Stop() also cancels a rebuild in
  // progress, whose RebuildIndex call would otherwise hold up the server's
  // shutdown for as long as the rebuild takes (gRPC waits for handlers even
  // past the grace). Its cycle in progress finishes while PostgreSQL is
  // still up. Submits still waiting for searchability answer
  // searchable=false: their postmortems are stored and indexed at the next
  // start.
  if (sync != nullptr) sync->Stop();
  server->Shutdown(absl::ToChronoTime(absl::Now() + kShutdownGrace));
  server.reset();
  gateway.reset();
  recurrence_service.reset();
  stats_service.reset();
  admin_service.reset();
  search_service.reset();
  service.reset();
  sync.reset();
  link_store.reset();
  searcher->reset();
  feed->reset();
  recurrence_store->reset();
  stats_store->reset();
  store->reset();
  int exit_code = 0;
  if (embedded != nullptr) {
    if (absl::Status stopped = embedded->Stop(); !stopped.ok()) {
      LogEvent(absl::StrCat("embedded PostgreSQL did not stop cleanly: ",
                            stopped.ToString()));
      exit_code = 1;
    }
  }
  LogEvent("stopped");
  return exit_code;
}

}  // namespace
}  // namespace deja

int main(int argc, char** argv) { return deja::Run(argc, argv); }
