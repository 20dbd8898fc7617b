#include "bench/load/drivers.h"

#include <google/protobuf/util/json_util.h>
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <fstream>
#include <functional>
#include <mutex>
#include <pqxx/pqxx>
#include <thread>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "bench/load/echo.grpc.pb.h"
#include "core/status_macros.h"
#include "deja/v1/postmortem_service.grpc.pb.h"
#include "deja/v1/search_service.grpc.pb.h"
#include "indexer/xapian_searcher.h"
#include "services/search_service.h"

namespace deja::bench {
namespace {

// The searcher's own defaults (indexer/similarity.cc, indexer/search.cc),
// so that PostgreSQL returns as many rows as Xapian would.
constexpr int kDefaultSimilarLimit = 10;
constexpr int kMaxSimilarLimit = 50;
constexpr int kDefaultPageSize = 20;
constexpr int kMaxPageSize = 100;

std::string CodeName(absl::StatusCode code) {
  return absl::StatusCodeToString(code);
}

std::string CodeName(const grpc::Status& status) {
  // gRPC's codes are abseil's, number for number.
  return CodeName(static_cast<absl::StatusCode>(status.error_code()));
}

template <class Message>
absl::StatusOr<std::vector<Message>> ParseRequests(const std::string& path) {
  DEJA_ASSIGN_OR_RETURN(std::vector<std::string> lines, ReadJsonLines(path));
  google::protobuf::util::JsonParseOptions parse_options;
  parse_options.ignore_unknown_fields = true;
  std::vector<Message> requests(lines.size());
  for (size_t i = 0; i < lines.size(); ++i) {
    const auto parsed = google::protobuf::util::JsonStringToMessage(
        lines[i], &requests[i], parse_options);
    if (!parsed.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          path, ": line ", i + 1, " is not a ",
          Message::descriptor()->full_name(), ": ", parsed.ToString()));
    }
  }
  if (requests.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(path, " has no requests"));
  }
  return requests;
}

// Channels that do not share a connection: each gets its own subchannel
// pool, and a distinct argument keeps gRPC from merging them.
absl::StatusOr<std::vector<std::shared_ptr<grpc::Channel>>> Connect(
    const DriverOptions& options) {
  if (options.channels < 1) {
    return absl::InvalidArgumentError("--channels must be at least 1");
  }
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  const auto deadline = std::chrono::system_clock::now() +
                        std::chrono::milliseconds(
                            absl::ToInt64Milliseconds(options.connect_timeout));
  for (int i = 0; i < options.channels; ++i) {
    grpc::ChannelArguments arguments;
    arguments.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    arguments.SetInt("deja.load.channel", i);
    arguments.SetMaxReceiveMessageSize(64 << 20);
    channels.push_back(grpc::CreateCustomChannel(
        options.target, grpc::InsecureChannelCredentials(), arguments));
    if (!channels.back()->WaitForConnected(deadline)) {
      return absl::UnavailableError(
          absl::StrCat("cannot connect to ", options.target, " within ",
                       absl::FormatDuration(options.connect_timeout)));
    }
  }
  return channels;
}

// A unary gRPC call per request with the callback API; per-call state lives
// until the callback, which frees it.
template <class Service, class Request, class Response>
class GrpcDriver : public Driver {
 public:
  GrpcDriver(const std::vector<std::shared_ptr<grpc::Channel>>& channels,
             absl::Duration deadline)
      : deadline_(
            std::chrono::milliseconds(absl::ToInt64Milliseconds(deadline))) {
    for (const auto& channel : channels) {
      stubs_.push_back(Service::NewStub(channel));
    }
  }

  void Start(int64_t n, Done done) override {
    auto* call = new Call;
    call->done = std::move(done);
    call->context.set_deadline(std::chrono::system_clock::now() + deadline_);
    const Request& request = Prepare(n, call->owned);
    typename Service::Stub& stub = *stubs_[n % stubs_.size()];
    Send(stub, &call->context, &request, &call->response,
         [this, call](grpc::Status status) {
           const Outcome outcome = Finish(call->owned, call->response, status);
           Done finished = std::move(call->done);
           delete call;
           finished(outcome);
         });
  }

 protected:
  using Callback = std::function<void(grpc::Status)>;

  // The request to send for `n`: one kept by the driver, or `owned` filled.
  virtual const Request& Prepare(int64_t n, Request& owned) = 0;
  virtual void Send(typename Service::Stub& stub, grpc::ClientContext* context,
                    const Request* request, Response* response,
                    Callback callback) = 0;
  virtual Outcome Finish(const Request& /*owned*/, const Response& /*response*/,
                         const grpc::Status& status) {
    Outcome outcome;
    outcome.code = CodeName(status);
    return outcome;
  }

 private:
  struct Call {
    grpc::ClientContext context;
    Request owned;
    Response response;
    Done done;
  };

  const std::chrono::milliseconds deadline_;
  std::vector<std::unique_ptr<typename Service::Stub>> stubs_;
};

class FindSimilarDriver
    : public GrpcDriver<v1::SearchService, v1::FindSimilarRequest,
                        v1::FindSimilarResponse> {
 public:
  FindSimilarDriver(const std::vector<std::shared_ptr<grpc::Channel>>& channels,
                    absl::Duration deadline,
                    std::vector<v1::FindSimilarRequest> requests)
      : GrpcDriver(channels, deadline), requests_(std::move(requests)) {}

 private:
  const v1::FindSimilarRequest& Prepare(int64_t n,
                                        v1::FindSimilarRequest&) override {
    return requests_[n % requests_.size()];
  }
  void Send(v1::SearchService::Stub& stub, grpc::ClientContext* context,
            const v1::FindSimilarRequest* request,
            v1::FindSimilarResponse* response, Callback callback) override {
    stub.async()->FindSimilar(context, request, response, std::move(callback));
  }

  const std::vector<v1::FindSimilarRequest> requests_;
};

class SearchDriver : public GrpcDriver<v1::SearchService, v1::SearchRequest,
                                       v1::SearchResponse> {
 public:
  SearchDriver(const std::vector<std::shared_ptr<grpc::Channel>>& channels,
               absl::Duration deadline, std::vector<v1::SearchRequest> requests)
      : GrpcDriver(channels, deadline), requests_(std::move(requests)) {}

 private:
  const v1::SearchRequest& Prepare(int64_t n, v1::SearchRequest&) override {
    return requests_[n % requests_.size()];
  }
  void Send(v1::SearchService::Stub& stub, grpc::ClientContext* context,
            const v1::SearchRequest* request, v1::SearchResponse* response,
            Callback callback) override {
    stub.async()->Search(context, request, response, std::move(callback));
  }

  const std::vector<v1::SearchRequest> requests_;
};

// Every submit is a new postmortem: the request id is unique to the run and
// to n, so the server never answers a replay.
class SubmitDriver
    : public GrpcDriver<v1::PostmortemService, v1::SubmitPostmortemRequest,
                        v1::SubmitPostmortemResponse> {
 public:
  SubmitDriver(const std::vector<std::shared_ptr<grpc::Channel>>& channels,
               const DriverOptions& options,
               std::vector<v1::Postmortem> postmortems)
      : GrpcDriver(channels, options.deadline),
        run_id_(options.run_id),
        wait_searchable_every_(options.wait_searchable_every),
        postmortems_(std::move(postmortems)) {}

 private:
  const v1::SubmitPostmortemRequest& Prepare(
      int64_t n, v1::SubmitPostmortemRequest& owned) override {
    *owned.mutable_postmortem() = postmortems_[n % postmortems_.size()];
    owned.set_request_id(absl::StrCat(run_id_, "-", n));
    owned.set_wait_searchable(wait_searchable_every_ > 0 &&
                              (n + 1) % wait_searchable_every_ == 0);
    return owned;
  }
  void Send(v1::PostmortemService::Stub& stub, grpc::ClientContext* context,
            const v1::SubmitPostmortemRequest* request,
            v1::SubmitPostmortemResponse* response,
            Callback callback) override {
    stub.async()->SubmitPostmortem(context, request, response,
                                   std::move(callback));
  }
  Outcome Finish(const v1::SubmitPostmortemRequest& request,
                 const v1::SubmitPostmortemResponse& response,
                 const grpc::Status& status) override {
    Outcome outcome;
    outcome.code = CodeName(status);
    if (request.wait_searchable()) {
      outcome.series = std::string(kSearchableSeries);
      if (status.ok() && !response.searchable()) {
        outcome.event = std::string(kLagTimeoutEvent);
      }
    }
    return outcome;
  }

  const std::string run_id_;
  const int wait_searchable_every_;
  const std::vector<v1::Postmortem> postmortems_;
};

class EchoDriver : public GrpcDriver<Echo, EchoRequest, EchoResponse> {
 public:
  EchoDriver(const std::vector<std::shared_ptr<grpc::Channel>>& channels,
             const DriverOptions& options)
      : GrpcDriver(channels, options.deadline) {
    // Varied bytes, as a real request's text would be.
    std::string payload(options.echo_request_bytes, '\0');
    for (size_t i = 0; i < payload.size(); ++i) {
      payload[i] = static_cast<char>('a' + (i * 7) % 26);
    }
    request_.set_payload(std::move(payload));
    request_.set_response_bytes(options.echo_response_bytes);
  }

 private:
  const EchoRequest& Prepare(int64_t, EchoRequest&) override {
    return request_;
  }
  void Send(Echo::Stub& stub, grpc::ClientContext* context,
            const EchoRequest* request, EchoResponse* response,
            Callback callback) override {
    stub.async()->Echo(context, request, response, std::move(callback));
  }

  EchoRequest request_;
};

// Adapts a synchronous answerer to the asynchronous Driver: a queue and a
// fixed number of worker threads, as a sync gRPC server has. A request that
// waited in the queue past its deadline is not run; one that finishes after
// it ends DEADLINE_EXCEEDED, as the client of a server would see it.
class WorkerPool {
 public:
  // Answers request n on worker `worker` (0 .. workers-1) with a status.
  using Answer = std::function<absl::Status(int worker, int64_t n)>;

  WorkerPool(int workers, absl::Duration deadline, Answer answer)
      : deadline_(deadline), answer_(std::move(answer)) {
    for (int i = 0; i < workers; ++i) {
      threads_.emplace_back([this, i] { Work(i); });
    }
  }

  ~WorkerPool() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    for (std::thread& thread : threads_) thread.join();
  }

  void Submit(int64_t n, Driver::Done done) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      queue_.push_back(Job{n, absl::Now() + deadline_, std::move(done)});
    }
    cv_.notify_one();
  }

 private:
  struct Job {
    int64_t n;
    absl::Time deadline;
    Driver::Done done;
  };

  void Work(int worker) {
    while (true) {
      Job job;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) return;
        job = std::move(queue_.front());
        queue_.pop_front();
      }
      Outcome outcome;
      if (absl::Now() >= job.deadline) {
        outcome.code = CodeName(absl::StatusCode::kDeadlineExceeded);
      } else {
        const absl::Status status = answer_(worker, job.n);
        outcome.code = absl::Now() > job.deadline
                           ? CodeName(absl::StatusCode::kDeadlineExceeded)
                           : CodeName(status.code());
      }
      job.done(outcome);
    }
  }

  const absl::Duration deadline_;
  const Answer answer_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> queue_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

// What one pg-* request asks PostgreSQL: the tsquery text and the row limit.
struct FtsQuery {
  std::string text;
  int limit;
};

std::vector<FtsQuery> FtsQueries(
    const std::vector<v1::FindSimilarRequest>& requests) {
  std::vector<FtsQuery> queries;
  for (const v1::FindSimilarRequest& request : requests) {
    const std::string text = absl::StrCat(
        request.symptoms(), " ", absl::StrJoin(request.log_lines(), " "), " ",
        absl::StrJoin(request.services(), " "));
    const int limit = request.limit() <= 0
                          ? kDefaultSimilarLimit
                          : std::min(request.limit(), kMaxSimilarLimit);
    queries.push_back(FtsQuery{OrTsQuery(text), limit});
  }
  return queries;
}

std::vector<FtsQuery> FtsQueries(
    const std::vector<v1::SearchRequest>& requests) {
  std::vector<FtsQuery> queries;
  for (const v1::SearchRequest& request : requests) {
    const int limit = request.page_size() <= 0
                          ? kDefaultPageSize
                          : std::min(request.page_size(), kMaxPageSize);
    queries.push_back(FtsQuery{request.query(), limit});
  }
  return queries;
}

absl::Status ValidateTableName(const std::string& table) {
  bool valid = !table.empty() && !absl::ascii_isdigit(table[0]);
  for (const char c : table) {
    valid =
        valid && (absl::ascii_islower(c) || absl::ascii_isdigit(c) || c == '_');
  }
  if (!valid) {
    return absl::InvalidArgumentError(
        absl::StrCat("--pg-table '", table, "': use [a-z_][a-z0-9_]*"));
  }
  return absl::OkStatus();
}

// PostgreSQL full-text search, one connection per worker. The SQL is a
// prepared statement; only the table name (checked, from the command line)
// is part of its text.
class PgFtsDriver : public Driver {
 public:
  static absl::StatusOr<std::unique_ptr<Driver>> Open(
      const DriverOptions& options, std::vector<FtsQuery> queries,
      bool similar) {
    DEJA_RETURN_IF_ERROR(ValidateTableName(options.pg_table));
    if (options.pg_conninfo.empty()) {
      return absl::InvalidArgumentError("--pg CONNINFO is required");
    }
    const std::string sql = absl::StrCat(
        "SELECT id FROM ", options.pg_table, ", ",
        similar ? "to_tsquery" : "plainto_tsquery",
        "('english', $1) q WHERE tsv @@ q ORDER BY ts_rank_cd(tsv, q) DESC "
        "LIMIT $2");
    std::vector<std::unique_ptr<pqxx::connection>> connections;
    try {
      for (int i = 0; i < options.workers; ++i) {
        connections.push_back(
            std::make_unique<pqxx::connection>(options.pg_conninfo));
        connections.back()->prepare(kStatement, sql);
        // Runs the statement once: a missing table or column fails here.
        pqxx::nontransaction transaction(*connections.back());
        transaction.exec(
            absl::StrCat("SET statement_timeout = ",
                         absl::ToInt64Milliseconds(options.deadline)));
        transaction.exec_prepared(kStatement, "probe", 1);
      }
    } catch (const pqxx::broken_connection& e) {
      return absl::UnavailableError(
          absl::StrCat("cannot connect to PostgreSQL (--pg): ", e.what()));
    } catch (const std::exception& e) {
      return absl::FailedPreconditionError(
          absl::StrCat("PostgreSQL cannot run the full-text query on table ",
                       options.pg_table, ": ", e.what()));
    }
    return std::unique_ptr<Driver>(
        new PgFtsDriver(options, std::move(queries), std::move(connections)));
  }

  void Start(int64_t n, Done done) override {
    pool_.Submit(n, std::move(done));
  }

 private:
  static constexpr const char* kStatement = "deja_load_fts";

  PgFtsDriver(const DriverOptions& options, std::vector<FtsQuery> queries,
              std::vector<std::unique_ptr<pqxx::connection>> connections)
      : queries_(std::move(queries)),
        connections_(std::move(connections)),
        pool_(options.workers, options.deadline,
              [this](int worker, int64_t n) { return Answer(worker, n); }) {}

  absl::Status Answer(int worker, int64_t n) {
    const FtsQuery& query = queries_[n % queries_.size()];
    try {
      pqxx::nontransaction transaction(*connections_[worker]);
      transaction.exec_prepared(kStatement, query.text, query.limit);
      return absl::OkStatus();
    } catch (const pqxx::sql_error& e) {
      // 57014: query_canceled, here by statement_timeout (the deadline).
      if (e.sqlstate() == "57014") {
        return absl::DeadlineExceededError(e.what());
      }
      return absl::InternalError(e.what());
    } catch (const pqxx::broken_connection& e) {
      return absl::UnavailableError(e.what());
    } catch (const std::exception& e) {
      return absl::InternalError(e.what());
    }
  }

  const std::vector<FtsQuery> queries_;
  std::vector<std::unique_ptr<pqxx::connection>> connections_;
  WorkerPool pool_;  // last: its threads stop before the connections go
};

// The searcher in-process, through the very handler dejad registers
// (SearchService, run by ProtoService::Invoke: validation, then the
// searcher with the current time, exceptions as INTERNAL), so that the
// difference from find-similar/search is the RPC layer alone.
template <class Request, class Response>
class InProcessDriver : public Driver {
 public:
  InProcessDriver(std::unique_ptr<PostmortemSearcher> searcher,
                  std::vector<Request> requests, const char* method,
                  const DriverOptions& options)
      : searcher_(std::move(searcher)),
        service_(*searcher_),
        requests_(std::move(requests)),
        method_(method),
        pool_(options.workers, options.deadline,
              [this](int, int64_t n) { return Answer(n); }) {}

  void Start(int64_t n, Done done) override {
    pool_.Submit(n, std::move(done));
  }

 private:
  absl::Status Answer(int64_t n) {
    Response response;
    return service_.Invoke(method_, requests_[n % requests_.size()], response,
                           RpcTransport::kInternal);
  }

  std::unique_ptr<PostmortemSearcher> searcher_;
  SearchService service_;
  const std::vector<Request> requests_;
  const char* const method_;
  WorkerPool pool_;  // last: its threads stop before the rest goes
};

absl::StatusOr<std::unique_ptr<PostmortemSearcher>> OpenIndex(
    const DriverOptions& options) {
  if (options.index_dir.empty()) {
    return absl::InvalidArgumentError("--index-dir DIR is required");
  }
  XapianSearcherOptions searcher_options;
  searcher_options.index_dir = options.index_dir;
  DEJA_ASSIGN_OR_RETURN(std::unique_ptr<PostmortemSearcher> searcher,
                        OpenXapianSearcher(searcher_options));
  // The searcher opens even without an index; a query would not.
  const absl::StatusOr<int64_t> documents = searcher->DocumentCount();
  if (!documents.ok()) {
    return absl::UnavailableError(absl::StrCat("cannot read the index in ",
                                               options.index_dir, ": ",
                                               documents.status().message()));
  }
  return searcher;
}

bool NeedsRequestFile(const std::string& kind) { return kind != "echo"; }

}  // namespace

std::vector<std::string> DriverKinds() {
  return {"find-similar",
          "search",
          "submit",
          "echo",
          "pg-find-similar",
          "pg-search",
          "inproc-find-similar",
          "inproc-search"};
}

absl::StatusOr<std::vector<std::string>> ReadJsonLines(
    const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    return absl::NotFoundError(absl::StrCat("cannot read ", path));
  }
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(in, line)) {
    if (!absl::StripAsciiWhitespace(line).empty()) lines.push_back(line);
  }
  if (in.bad())
    return absl::DataLossError(absl::StrCat("error reading ", path));
  return lines;
}

std::string OrTsQuery(absl::string_view text) {
  std::vector<std::string> words;
  std::string word;
  auto flush = [&words, &word] {
    if (!word.empty() &&
        std::find(words.begin(), words.end(), word) == words.end()) {
      words.push_back(word);
    }
    word.clear();
  };
  for (const char c : text) {
    const char lower = absl::ascii_tolower(c);
    if (absl::ascii_islower(lower) || absl::ascii_isdigit(lower)) {
      word.push_back(lower);
    } else {
      flush();
    }
  }
  flush();
  return absl::StrJoin(words, " | ");
}

absl::StatusOr<std::unique_ptr<Driver>> MakeDriver(
    const DriverOptions& options) {
  const std::string& kind = options.kind;
  if (NeedsRequestFile(kind) && options.requests_path.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--kind ", kind, " needs --requests FILE"));
  }
  if ((kind.rfind("pg-", 0) == 0 || kind.rfind("inproc-", 0) == 0) &&
      options.workers < 1) {
    return absl::InvalidArgumentError("--workers must be at least 1");
  }
  if (kind == "find-similar" || kind == "search" || kind == "submit" ||
      kind == "echo") {
    // The request file first: a typo there should not wait for a connection.
    std::vector<v1::FindSimilarRequest> similar;
    std::vector<v1::SearchRequest> search;
    std::vector<v1::Postmortem> postmortems;
    if (kind == "find-similar") {
      DEJA_ASSIGN_OR_RETURN(similar, ParseRequests<v1::FindSimilarRequest>(
                                         options.requests_path));
    } else if (kind == "search") {
      DEJA_ASSIGN_OR_RETURN(
          search, ParseRequests<v1::SearchRequest>(options.requests_path));
    } else if (kind == "submit") {
      DEJA_ASSIGN_OR_RETURN(
          postmortems, ParseRequests<v1::Postmortem>(options.requests_path));
    }
    DEJA_ASSIGN_OR_RETURN(auto channels, Connect(options));
    if (kind == "find-similar") {
      return std::unique_ptr<Driver>(std::make_unique<FindSimilarDriver>(
          channels, options.deadline, std::move(similar)));
    }
    if (kind == "search") {
      return std::unique_ptr<Driver>(std::make_unique<SearchDriver>(
          channels, options.deadline, std::move(search)));
    }
    if (kind == "submit") {
      return std::unique_ptr<Driver>(std::make_unique<SubmitDriver>(
          channels, options, std::move(postmortems)));
    }
    return std::unique_ptr<Driver>(
        std::make_unique<EchoDriver>(channels, options));
  }
  if (kind == "pg-find-similar") {
    DEJA_ASSIGN_OR_RETURN(auto requests, ParseRequests<v1::FindSimilarRequest>(
                                             options.requests_path));
    return PgFtsDriver::Open(options, FtsQueries(requests), /*similar=*/true);
  }
  if (kind == "pg-search") {
    DEJA_ASSIGN_OR_RETURN(
        auto requests, ParseRequests<v1::SearchRequest>(options.requests_path));
    return PgFtsDriver::Open(options, FtsQueries(requests), /*similar=*/false);
  }
  if (kind == "inproc-find-similar") {
    DEJA_ASSIGN_OR_RETURN(auto requests, ParseRequests<v1::FindSimilarRequest>(
                                             options.requests_path));
    DEJA_ASSIGN_OR_RETURN(auto searcher, OpenIndex(options));
    return std::unique_ptr<Driver>(
        std::make_unique<
            InProcessDriver<v1::FindSimilarRequest, v1::FindSimilarResponse>>(
            std::move(searcher), std::move(requests), "FindSimilar", options));
  }
  if (kind == "inproc-search") {
    DEJA_ASSIGN_OR_RETURN(
        auto requests, ParseRequests<v1::SearchRequest>(options.requests_path));
    DEJA_ASSIGN_OR_RETURN(auto searcher, OpenIndex(options));
    return std::unique_ptr<Driver>(
        std::make_unique<
            InProcessDriver<v1::SearchRequest, v1::SearchResponse>>(
            std::move(searcher), std::move(requests), "Search", options));
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown --kind '", kind, "' (one of ",
                   absl::StrJoin(DriverKinds(), ", "), ")"));
}

}  // namespace deja::bench
