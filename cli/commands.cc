#include "cli/commands.h"

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <iostream>
#include <mutex>
#include <sstream>
#include <thread>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "cli/command_line.h"
#include "cli/format.h"
#include "cli/import_records.h"
#include "cli/progress.h"
#include "cli/render.h"
#include "cli/search_render.h"
#include "cli/stats_render.h"
#include "core/import_defaults.h"
#include "core/markdown_export.h"
#include "core/stats_validation.h"
#include "core/status_macros.h"
#include "deja/v1/admin_service.grpc.pb.h"
#include "deja/v1/postmortem_service.grpc.pb.h"
#include "deja/v1/recurrence_service.grpc.pb.h"
#include "deja/v1/search_service.grpc.pb.h"
#include "deja/v1/stats_service.grpc.pb.h"
#include "google/protobuf/struct.pb.h"
#include "grpcpp/client_context.h"

namespace deja::cli {
namespace {

constexpr int kMaxPageSize = 100;
constexpr int kDefaultListLimit = 20;
constexpr int kMaxSimilarLimit = 50;
// What the server accepts for FindSimilar.log_lines (core/validation.h).
constexpr int kMaxLogLines = 200;
constexpr size_t kMaxLogLineBytes = 4096;
// A rebuild without --timeout may take this long before the CLI gives up.
constexpr absl::Duration kRebuildTimeout = absl::Hours(6);
// How often `deja admin rebuild-index` says it is still working.
constexpr absl::Duration kProgressEvery = absl::Seconds(5);
// Paths are cut from the front: the file name is what tells rows apart.
constexpr size_t kFileWidth = 40;
constexpr size_t kImportSourceWidth = 56;
constexpr int kDefaultImportBatch = 100;
constexpr int kMaxImportBatch = 1000;
// Records per ImportPostmortems call (the server takes up to 10,000, but
// its one answer must stay under 3 MiB, results and warnings included); a
// larger import takes several calls.
constexpr size_t kMaxImportRecordsPerCall = 2000;
// After the last write of a call, how long each record sent may take dejad
// before the call counts as idle (a record takes about 4 ms).
constexpr absl::Duration kImportTimePerRecord = absl::Milliseconds(50);
// Without --timeout, how long dejad may go without taking a message of an
// import before the CLI gives up. The whole stream has no deadline: 10,000
// records take minutes.
constexpr absl::Duration kImportIdleTimeout = absl::Seconds(60);
// After an import, how often to look at the index, and how long it may go
// without getting closer before the CLI stops waiting (a big import takes
// minutes to index; a stuck indexer should not hold the terminal).
constexpr absl::Duration kIndexPollEvery = absl::Milliseconds(200);
constexpr absl::Duration kIndexStallLimit = absl::Seconds(60);
// Rows of notes and blameless warnings shown without --verbose / --json.
constexpr size_t kMaxNoteRows = 20;
constexpr size_t kMaxWarningLines = 20;

// Cancels a call when nothing happened for `idle`: Touch() after each step.
class IdleWatchdog {
 public:
  IdleWatchdog(grpc::ClientContext& context, absl::Duration idle)
      : context_(context), idle_(idle), thread_([this] { Watch(); }) {}
  ~IdleWatchdog() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopped_ = true;
    }
    wake_.notify_all();
    thread_.join();
  }
  void Touch() {
    std::lock_guard<std::mutex> lock(mu_);
    last_ = absl::Now();
  }
  // The next `extra` does not count as idle (work known to be under way).
  void Extend(absl::Duration extra) {
    std::lock_guard<std::mutex> lock(mu_);
    last_ = absl::Now() + extra;
  }
  bool fired() {
    std::lock_guard<std::mutex> lock(mu_);
    return fired_;
  }

 private:
  void Watch() {
    std::unique_lock<std::mutex> lock(mu_);
    while (!stopped_) {
      const absl::Time deadline = last_ + idle_;
      if (absl::Now() >= deadline) {
        fired_ = true;
        context_.TryCancel();
        return;
      }
      wake_.wait_until(lock, absl::ToChronoTime(deadline));
    }
  }

  grpc::ClientContext& context_;
  const absl::Duration idle_;
  std::mutex mu_;
  std::condition_variable wake_;
  absl::Time last_ = absl::Now();
  bool stopped_ = false;
  bool fired_ = false;
  std::thread thread_;  // last: starts once the rest is set
};

// gRPC's codes are abseil's codes, number for number.
std::string CodeName(grpc::StatusCode code) {
  return absl::StatusCodeToString(static_cast<absl::StatusCode>(code));
}

// The text a program gets for "-".
constexpr absl::string_view kStdinName = "-";

// `text` flattened to one line, so every failure is exactly one line.
std::string FirstLine(absl::string_view text) {
  std::string line(absl::StripTrailingAsciiWhitespace(text));
  return OneLine(line.substr(0, line.find('\n')));
}

absl::StatusOr<std::string> ReadInput(const std::string& path,
                                      std::istream& in) {
  std::ostringstream content;
  if (path == kStdinName) {
    content << in.rdbuf();
    return content.str();
  }
  // An ifstream opens a directory and then reads nothing: say what it is.
  std::error_code unused;
  if (std::filesystem::is_directory(path, unused)) {
    return absl::InvalidArgumentError("is a directory");
  }
  std::ifstream file(path, std::ios::binary);
  if (!file) return absl::NotFoundError(std::strerror(errno));
  content << file.rdbuf();
  if (file.bad()) return absl::DataLossError(std::strerror(errno));
  return content.str();
}

// "abc" unchanged, "a b" as 'a b', for a command line a user can paste.
std::string ShellQuote(absl::string_view word) {
  const bool plain = !word.empty() &&
                     word.find_first_not_of(
                         "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                         "0123456789_-.:=/+@,%") == absl::string_view::npos;
  if (plain) return std::string(word);
  std::string quoted = "'";
  for (char c : word) {
    if (c == '\'') {
      quoted += "'\\''";
    } else {
      quoted += c;
    }
  }
  return quoted + "'";
}

// "config-change", "CONFIG_CHANGE", "Config_Change".
absl::StatusOr<v1::RootCause::Category> ParseCategory(absl::string_view text) {
  std::string name = absl::AsciiStrToUpper(text);
  std::replace(name.begin(), name.end(), '-', '_');
  v1::RootCause::Category category;
  if (!v1::RootCause::Category_Parse(name, &category) ||
      category == v1::RootCause::CATEGORY_UNSPECIFIED) {
    std::vector<std::string> known;
    for (int i = 1; v1::RootCause::Category_IsValid(i); ++i) {
      known.push_back(
          RootCauseCategoryName(static_cast<v1::RootCause::Category>(i)));
    }
    return absl::InvalidArgumentError(
        absl::StrCat("invalid --category '", text,
                     "' (expected one of: ", absl::StrJoin(known, ", "), ")"));
  }
  return category;
}

absl::StatusOr<int> ParseLimit(const std::string& text, int max) {
  int limit = 0;
  if (!absl::SimpleAtoi(text, &limit) || limit <= 0 || limit > max) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid --limit '", text, "' (expected 1 to ", max, ")"));
  }
  return limit;
}

// At most `max_bytes` of `line`, cut before a UTF-8 continuation byte.
std::string CutToBytes(const std::string& line, size_t max_bytes) {
  if (line.size() <= max_bytes) return line;
  size_t end = max_bytes;
  while (end > 0 && (static_cast<unsigned char>(line[end]) & 0xC0) == 0x80) {
    --end;
  }
  return line.substr(0, end);
}

absl::StatusOr<int64_t> ParseVersion(const std::string& text) {
  int64_t version = 0;
  if (!absl::SimpleAtoi(text, &version) || version <= 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "invalid --version '", text, "' (expected a positive number)"));
  }
  return version;
}

// One run of one command: the parsed command line, the connection and the
// streams.
class Session {
 public:
  Session(CommandLine line, const Environment& env)
      : line_(std::move(line)), env_(env) {}

  int Run() {
    const std::string& command = line_.command;
    if (command == "submit") return Submit();
    if (command == "get") return Get();
    if (command == "import") return Import();
    if (command == "new") return New();
    if (command == "export") return Export();
    if (command == "list") return List();
    if (command == "update") return Update();
    if (command == "update-action") return UpdateAction();
    if (command == "delete") return Delete();
    if (command == "search") return Search();
    if (command == "seen") return Seen();
    if (command == "admin") return Admin();
    if (command == "stats overview") return StatsOverview();
    if (command == "stats trend") return StatsTrend();
    if (command == "stats recurrence") return StatsRecurrence();
    if (command == "stats action-items") return StatsActionItems();
    if (command == "recurrence list") return ListRecurrences();
    if (command == "recurrence confirm") return DecideRecurrence(true);
    if (command == "recurrence reject") return DecideRecurrence(false);
    return UsageFailure(absl::StrCat("unknown command '", command, "'"));
  }

 private:
  std::ostream& out() { return *env_.out; }
  std::ostream& err() { return *env_.err; }

  std::shared_ptr<grpc::ChannelInterface> channel() {
    if (channel_ == nullptr) channel_ = env_.connect(line_.server);
    return channel_;
  }

  v1::PostmortemService::Stub& stub() {
    if (stub_ == nullptr) stub_ = v1::PostmortemService::NewStub(channel());
    return *stub_;
  }

  std::unique_ptr<grpc::ClientContext> NewContext() {
    auto context = std::make_unique<grpc::ClientContext>();
    context->set_deadline(absl::ToChronoTime(absl::Now() + line_.timeout));
    return context;
  }

  int UsageFailure(absl::string_view what) {
    err() << "deja: " << what << " (see 'deja " << line_.command
          << " --help')\n";
    return kExitUsage;
  }

  int FileFailure(absl::string_view path, absl::string_view problem) {
    err() << "deja: " << (path == kStdinName ? "stdin" : path) << ": "
          << problem << "\n";
    return kExitFailure;
  }

  // "deja: CODE: message", followed by " (in FILE)" when `about` names the
  // file the server objected to. The message comes first so that every
  // server error reads "deja: CODE: field: problem".
  int RpcFailure(const grpc::Status& status, absl::string_view about = "") {
    std::string message = FirstLine(status.error_message());
    if (status.error_code() == grpc::StatusCode::UNAVAILABLE && !Connected()) {
      message = absl::StrCat("cannot reach dejad at ", line_.server, " (",
                             message, ")");
    } else if (status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
      message = absl::StrCat("no answer from dejad at ", line_.server,
                             " within ", absl::FormatDuration(line_.timeout),
                             " (", message, "; see --timeout)");
    } else if (!about.empty()) {
      absl::StrAppend(&message, " (in ", about == kStdinName ? "stdin" : about,
                      ")");
    }
    err() << "deja: " << CodeName(status.error_code()) << ": " << message
          << "\n";
    return kExitFailure;
  }

  // Whether the failure came from dejad itself (e.g. its database is
  // unavailable) rather than from not reaching it.
  bool Connected() {
    return channel_ != nullptr &&
           channel_->GetState(/*try_to_connect=*/false) == GRPC_CHANNEL_READY;
  }

  void PrintJson(const google::protobuf::Message& message) {
    out() << ToJson(message) << "\n";
  }

  // The blameless-language warnings, one line each on stderr: advice, so the
  // submit still succeeds. (--json output carries them too.)
  void PrintBlameWarnings(absl::string_view path,
                          const v1::SubmitPostmortemResponse& response) {
    for (const v1::BlamelessFinding& warning : response.warnings()) {
      err() << "warning: " << (path == kStdinName ? "stdin" : path) << ": "
            << warning.field() << ": \"" << OneLine(warning.phrase())
            << "\" \xE2\x80\x94 " << warning.suggestion() << "\n";
    }
  }

  int Submit() {
    if (line_.Has("request-id") && line_.args.size() > 1) {
      return UsageFailure("--request-id needs exactly one FILE");
    }
    const bool wait = line_.Has("wait");
    std::vector<std::string> headers = {"ID", "VERSION", "FILE"};
    if (wait) headers.push_back("SEARCHABLE");
    headers.push_back("TITLE");
    Table table(headers);
    int exit_code = kExitOk;
    for (const std::string& path : line_.args) {
      auto text = ReadInput(path, *env_.in);
      if (!text.ok()) {
        exit_code = FileFailure(path, text.status().message());
        continue;
      }
      auto postmortem = ParsePostmortemFile(*text);
      if (!postmortem.ok()) {
        exit_code = FileFailure(path, postmortem.status().message());
        continue;
      }
      v1::SubmitPostmortemRequest request;
      request.set_request_id(line_.Has("request-id")
                                 ? line_.Get("request-id")
                                 : DefaultRequestId(*postmortem));
      *request.mutable_postmortem() = *std::move(postmortem);
      request.set_wait_searchable(line_.Has("wait"));
      v1::SubmitPostmortemResponse response;
      const grpc::Status status =
          stub().SubmitPostmortem(NewContext().get(), request, &response);
      if (!status.ok()) {
        exit_code = RpcFailure(status, path);
        // The next files would only wait for the same dead server.
        if (status.error_code() == grpc::StatusCode::UNAVAILABLE ||
            status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
          break;
        }
        continue;
      }
      PrintBlameWarnings(path, response);
      if (line_.json) {
        PrintJson(response);
        continue;
      }
      const v1::Postmortem& stored = response.postmortem();
      std::vector<std::string> row = {stored.id(),
                                      absl::StrCat(stored.version()),
                                      TruncateLeftToWidth(path, kFileWidth)};
      if (wait) row.push_back(response.searchable() ? "yes" : "not yet");
      row.push_back(
          absl::StrCat(TruncateToWidth(OneLine(stored.title()), kTitleWidth),
                       response.replayed() ? " (already submitted)" : ""));
      table.AddRow(std::move(row));
    }
    if (!line_.json && table.row_count() > 0) out() << table.Render();
    return exit_code;
  }

  int Get() {
    v1::GetPostmortemRequest request;
    request.set_id(line_.args[0]);
    v1::Postmortem postmortem;
    const grpc::Status status =
        stub().GetPostmortem(NewContext().get(), request, &postmortem);
    if (!status.ok()) return RpcFailure(status);
    if (line_.json) {
      PrintJson(postmortem);
    } else {
      out() << RenderPostmortem(postmortem, env_.now);
    }
    return kExitOk;
  }

  // ------------------------------------------------------------ import

  absl::StatusOr<ImportDefaults> ReadImportDefaults() {
    ImportDefaults defaults;
    defaults.team = line_.Get("team");
    defaults.service = line_.Get("service");
    defaults.owner = line_.Get("owner");
    for (absl::string_view name : {"team", "service", "owner"}) {
      if (line_.Has(name) &&
          absl::StripAsciiWhitespace(line_.Get(name)).empty()) {
        return absl::InvalidArgumentError(
            absl::StrCat("--", name, " is empty"));
      }
    }
    if (line_.Has("severity")) {
      DEJA_ASSIGN_OR_RETURN(defaults.severity,
                            ParseSeverity(line_.Get("severity")));
    }
    return defaults;
  }

  absl::StatusOr<int> ReadBatchSize() {
    if (!line_.Has("batch")) return kDefaultImportBatch;
    int batch = 0;
    if (!absl::SimpleAtoi(line_.Get("batch"), &batch) || batch < 1 ||
        batch > kMaxImportBatch) {
      return absl::InvalidArgumentError(
          absl::StrCat("invalid --batch '", line_.Get("batch"),
                       "' (expected 1 to ", kMaxImportBatch, ")"));
    }
    return batch;
  }

  // Streams the records of `records` at `indices` in batches, over as many
  // calls as the server's per-call limit needs; fills `response` with the
  // results of all of them, in order. Progress goes to stderr.
  grpc::Status StreamImport(const std::vector<SourceRecord>& records,
                            const std::vector<size_t>& indices, int batch,
                            bool dry_run,
                            v1::ImportPostmortemsResponse& response,
                            bool& went_idle) {
    const absl::Time start = absl::Now();
    ProgressDisplay progress(err(), env_.err_is_terminal && !line_.json, start);
    const char* label = dry_run ? "checking" : "importing";
    const int64_t total = static_cast<int64_t>(indices.size());
    int64_t sent = 0;
    grpc::Status status;
    size_t first = 0;  // the first record no call has answered yet
    while (first < indices.size() && status.ok()) {
      const size_t end =
          std::min(indices.size(), first + kMaxImportRecordsPerCall);
      std::vector<v1::ImportRecord> wire;
      std::vector<size_t> sizes;
      wire.reserve(end - first);
      for (size_t i = first; i < end; ++i) {
        const SourceRecord& source = records[indices[i]];
        v1::ImportRecord& record = wire.emplace_back();
        record.set_source(source.source);
        record.set_request_id(source.request_id);
        *record.mutable_postmortem() = source.postmortem;
        sizes.push_back(record.ByteSizeLong());
      }
      const absl::Duration idle =
          line_.timeout_given ? line_.timeout : kImportIdleTimeout;
      grpc::ClientContext context;
      IdleWatchdog watchdog(context, idle);
      v1::ImportPostmortemsResponse part;
      auto writer = stub().ImportPostmortems(&context, &part);
      size_t written = 0;
      for (size_t count : PlanBatches(sizes, batch, kMaxImportMessageBytes)) {
        v1::ImportPostmortemsRequest request;
        request.set_dry_run(dry_run);
        for (size_t i = 0; i < count; ++i) {
          *request.add_records() = std::move(wire[written + i]);
        }
        if (!writer->Write(request)) break;  // Finish() says why
        watchdog.Touch();
        written += count;
        const int64_t shown = static_cast<int64_t>(first + written);
        const absl::Time now = absl::Now();
        if (!line_.json) {
          progress.Show(
              ProgressLine(label, shown, total, now - start, env_.err_columns),
              PlainProgressLine(label, shown, total, now - start),
              static_cast<double>(shown) / total, now);
        }
      }
      writer->WritesDone();
      // dejad may still be storing the records in flight: give it time
      // for them before calling it idle.
      watchdog.Extend(kImportTimePerRecord * static_cast<int64_t>(written));
      status = writer->Finish();
      // A watchdog that fired just as the call succeeded changed nothing.
      went_idle = watchdog.fired() && !status.ok();
      if (!status.ok()) break;
      const size_t answered = static_cast<size_t>(part.results_size());
      if (answered > end - first ||
          (answered < end - first && part.complete())) {
        return grpc::Status(
            grpc::StatusCode::INTERNAL,
            absl::StrCat("dejad answered ", answered, " results for ",
                         end - first, " records"));
      }
      if (answered == 0) {
        return grpc::Status(grpc::StatusCode::INTERNAL,
                            "dejad answered no record of a call");
      }
      for (v1::ImportResult& result : *part.mutable_results()) {
        *response.add_results() = std::move(result);
      }
      // An answer that hit its size limit covers the first records only;
      // the next call sends the rest again.
      first += answered;
      sent = static_cast<int64_t>(first);
    }
    progress.Finish(ProgressLine(label, sent, total, absl::Now() - start,
                                 env_.err_columns));
    return status;
  }

  void PrintImportWarnings(const std::vector<SourceRecord>& records,
                           const std::vector<v1::ImportResult>& results) {
    size_t printed = 0;
    size_t more = 0;
    for (size_t i = 0; i < results.size(); ++i) {
      for (const v1::BlamelessFinding& warning : results[i].warnings()) {
        if (printed == kMaxWarningLines) {
          ++more;
          continue;
        }
        ++printed;
        err() << "warning: " << records[i].source << ": " << warning.field()
              << ": \"" << OneLine(warning.phrase()) << "\" \xE2\x80\x94 "
              << warning.suggestion() << "\n";
      }
    }
    if (more > 0) {
      err() << "warning: ... " << more
            << " more blameless warnings (--json lists them all)\n";
    }
  }

  // One JSON line per record: the ImportResult, plus "defaulted" and
  // "unmapped" when there are any.
  void PrintImportResultJson(const SourceRecord& record,
                             const v1::ImportResult& result) {
    std::string json = ToJson(result);
    google::protobuf::Struct extra;
    auto& fields = *extra.mutable_fields();
    if (!record.defaulted.empty()) {
      auto* list = fields["defaulted"].mutable_list_value();
      for (const std::string& name : record.defaulted) {
        list->add_values()->set_string_value(name);
      }
    }
    if (!record.unmapped.empty()) {
      auto* list = fields["unmapped"].mutable_list_value();
      for (const UnmappedPart& part : record.unmapped) {
        auto& entry =
            *list->add_values()->mutable_struct_value()->mutable_fields();
        entry["line"].set_number_value(part.line);
        entry["section"].set_string_value(part.section);
        entry["reason"].set_string_value(part.reason);
      }
    }
    if (!fields.empty() && json.size() >= 2) {
      const std::string more = ToJson(extra);
      json = absl::StrCat(json.substr(0, json.size() - 1), ",", more.substr(1));
    }
    out() << json << "\n";
  }

  void PrintImportTables(const std::vector<SourceRecord>& records,
                         const std::vector<v1::ImportResult>& results,
                         bool dry_run) {
    int counts[5] = {0, 0, 0, 0, 0};
    for (const v1::ImportResult& result : results) ++counts[result.outcome()];
    Table summary({"OUTCOME", "RECORDS"});
    if (dry_run) {
      summary.AddRow({"valid", absl::StrCat(counts[v1::ImportResult::VALID])});
    } else {
      summary.AddRow(
          {"imported", absl::StrCat(counts[v1::ImportResult::IMPORTED])});
      summary.AddRow(
          {"unchanged", absl::StrCat(counts[v1::ImportResult::UNCHANGED])});
    }
    summary.AddRow(
        {"rejected", absl::StrCat(counts[v1::ImportResult::REJECTED])});
    out() << summary.Render();

    // Sources are shown without the directory they all share (said once
    // above the tables), and cut in the middle: write-ups are often told
    // apart by both a leading number and a trailing title.
    const std::string common = CommonDirectory(records);
    auto shown = [&common](absl::string_view source) {
      absl::ConsumePrefix(&source, common);
      return TruncateMiddleToWidth(source, kImportSourceWidth);
    };
    Table rejected({"SOURCE", "REASON"});
    for (const v1::ImportResult& result : results) {
      if (result.outcome() != v1::ImportResult::REJECTED) continue;
      rejected.AddRow({shown(result.source()), OneLine(result.reason())});
    }
    Table notes({"SOURCE", "NOTES"});
    size_t hidden = 0;
    for (size_t i = 0; i < records.size(); ++i) {
      const std::string text =
          ImportNotes(records[i], results[i].warnings_size());
      if (text.empty()) continue;
      if (notes.row_count() == kMaxNoteRows && !line_.Has("verbose")) {
        ++hidden;
        continue;
      }
      notes.AddRow({shown(records[i].source), text});
    }
    if (!common.empty() && rejected.row_count() + notes.row_count() > 0) {
      out() << "\nsources in " << common << "\n";
    }
    if (rejected.row_count() > 0) out() << "\n" << rejected.Render();
    if (notes.row_count() > 0) out() << "\n" << notes.Render();
    if (hidden > 0) {
      out() << "... " << hidden << " more (--verbose shows all)\n";
    }
  }

  // Waits until the indexer has caught up with what was just stored, so
  // that "imported" means "searchable". Problems are notes: the import
  // itself succeeded.
  bool WaitUntilSearchable() {
    auto admin = v1::AdminService::NewStub(channel());
    const absl::Time start = absl::Now();
    ProgressDisplay progress(err(), env_.err_is_terminal && !line_.json, start);
    int64_t first_pending = -1;
    int64_t lowest_pending = -1;
    absl::Time last_progress = start;
    std::string last_line;
    while (true) {
      v1::IndexStatus status;
      const grpc::Status result = admin->GetIndexStatus(
          NewContext().get(), v1::GetIndexStatusRequest(), &status);
      if (!result.ok()) {
        progress.Finish(last_line);
        err() << "deja: note: could not check the search index ("
              << CodeName(result.error_code()) << ": "
              << FirstLine(result.error_message()) << ")\n";
        return false;
      }
      if (!status.indexer_running()) {
        progress.Finish(last_line);
        err() << "deja: note: this dejad runs no indexer; the records become "
                 "searchable once one runs\n";
        return false;
      }
      if (status.pending() == 0) {
        progress.Finish("indexing: 0 pending");
        return true;
      }
      if (first_pending < 0) first_pending = status.pending();
      const absl::Time now = absl::Now();
      if (lowest_pending < 0 || status.pending() < lowest_pending) {
        lowest_pending = status.pending();
        last_progress = now;
      }
      if (now - last_progress >= kIndexStallLimit) {
        progress.Finish(last_line);
        err() << "deja: note: the search index is still " << status.pending()
              << " behind and has not moved for "
              << CompactDuration(kIndexStallLimit)
              << "; see 'deja admin index-status'\n";
        return false;
      }
      last_line = absl::StrCat("indexing: ", status.pending(), " pending");
      const double fraction =
          first_pending > 0
              ? 1.0 - static_cast<double>(status.pending()) / first_pending
              : 0.0;
      progress.Show(last_line, last_line, fraction, now);
      absl::SleepFor(kIndexPollEvery);
    }
  }

  int Import() {
    auto defaults = ReadImportDefaults();
    if (!defaults.ok()) return UsageFailure(defaults.status().message());
    auto batch = ReadBatchSize();
    if (!batch.ok()) return UsageFailure(batch.status().message());
    const bool dry_run = line_.Has("dry-run");

    std::vector<SourceRecord> records =
        ReadImportRecords(line_.args, *defaults);
    if (records.empty()) {
      err() << "deja: no .md, .markdown, .json or .jsonl files in "
            << absl::StrJoin(line_.args, ", ") << "\n";
      return kExitFailure;
    }
    std::vector<v1::ImportResult> results(records.size());
    std::vector<size_t> to_send;
    for (size_t i = 0; i < records.size(); ++i) {
      results[i].set_source(records[i].source);
      if (records[i].problem.empty()) {
        const size_t bytes = records[i].postmortem.ByteSizeLong();
        if (bytes > kMaxImportRecordBytes) {
          records[i].problem =
              absl::StrCat("too large to send (", bytes, " bytes; at most ",
                           kMaxImportRecordBytes, ")");
        } else {
          to_send.push_back(i);
          continue;
        }
      }
      results[i].set_outcome(v1::ImportResult::REJECTED);
      results[i].set_reason(records[i].problem);
    }

    if (!to_send.empty()) {
      v1::ImportPostmortemsResponse response;
      bool went_idle = false;
      const grpc::Status status =
          StreamImport(records, to_send, *batch, dry_run, response, went_idle);
      if (went_idle) {
        err() << "deja: DEADLINE_EXCEEDED: dejad at " << line_.server
              << " made no progress for "
              << absl::FormatDuration(line_.timeout_given ? line_.timeout
                                                          : kImportIdleTimeout)
              << " (see --timeout); records sent before are stored, and "
                 "running the import again continues\n";
        return kExitFailure;
      }
      if (!status.ok()) return RpcFailure(status);
      if (response.results_size() != static_cast<int>(to_send.size())) {
        err() << "deja: INTERNAL: dejad answered " << response.results_size()
              << " results for " << to_send.size() << " records\n";
        return kExitFailure;
      }
      for (size_t i = 0; i < to_send.size(); ++i) {
        results[to_send[i]] = response.results(static_cast<int>(i));
      }
    }

    PrintImportWarnings(records, results);
    if (!line_.json) PrintImportTables(records, results, dry_run);
    bool searchable = false;
    const bool stored_some = std::any_of(
        results.begin(), results.end(), [](const v1::ImportResult& result) {
          return result.outcome() == v1::ImportResult::IMPORTED ||
                 result.outcome() == v1::ImportResult::UNCHANGED;
        });
    if (!dry_run && !line_.Has("no-wait") && stored_some) {
      searchable = WaitUntilSearchable();
      if (searchable && !line_.json) out() << "searchable: yes\n";
    }
    int counts[5] = {0, 0, 0, 0, 0};
    for (const v1::ImportResult& result : results) ++counts[result.outcome()];
    if (line_.json) {
      for (size_t i = 0; i < records.size(); ++i) {
        PrintImportResultJson(records[i], results[i]);
      }
      out() << absl::StrFormat(
          "{\"imported\":%d,\"unchanged\":%d,\"rejected\":%d,\"valid\":%d,"
          "\"dryRun\":%s,\"searchable\":%s}\n",
          counts[v1::ImportResult::IMPORTED],
          counts[v1::ImportResult::UNCHANGED],
          counts[v1::ImportResult::REJECTED], counts[v1::ImportResult::VALID],
          dry_run ? "true" : "false", searchable ? "true" : "false");
    }
    return counts[v1::ImportResult::REJECTED] == 0 ? kExitOk : kExitFailure;
  }

  // --------------------------------------------------------- new, export

  int New() {
    const std::string text = FilledTemplate(
        absl::FormatTime("%Y-%m-%d", env_.now, absl::UTCTimeZone()));
    if (line_.args.empty()) {
      out() << text;
      return kExitOk;
    }
    const std::string& path = line_.args[0];
    // "x": fail instead of replacing someone's half-written postmortem.
    std::FILE* file = std::fopen(path.c_str(), "wx");
    if (file == nullptr) {
      return FileFailure(path,
                         errno == EEXIST ? "exists" : std::strerror(errno));
    }
    const bool written =
        std::fwrite(text.data(), 1, text.size(), file) == text.size();
    if (std::fclose(file) != 0 || !written) {
      return FileFailure(path, std::strerror(errno));
    }
    out() << "wrote " << path << "; fill it in, then: deja import "
          << ShellQuote(path) << "\n";
    return kExitOk;
  }

  int Export() {
    const std::string format = line_.Has("format")
                                   ? absl::AsciiStrToLower(line_.Get("format"))
                                   : "markdown";
    if (format != "markdown" && format != "json" && format != "summary") {
      return UsageFailure(
          absl::StrCat("invalid --format '", line_.Get("format"),
                       "' (expected markdown, json or summary)"));
    }
    v1::GetPostmortemRequest request;
    request.set_id(line_.args[0]);
    v1::Postmortem postmortem;
    const grpc::Status status =
        stub().GetPostmortem(NewContext().get(), request, &postmortem);
    if (!status.ok()) return RpcFailure(status);
    std::string text;
    if (format == "json" || line_.json) {
      text = ToJson(postmortem);
    } else if (format == "summary") {
      text = PostmortemSummaryText(postmortem);
    } else {
      text = PostmortemToMarkdown(postmortem);
    }
    out() << text;
    if (text.empty() || text.back() != '\n') out() << "\n";
    return kExitOk;
  }

  // Reads the date flag --`name`, when given, into the field that
  // `mutable_field()` returns (at the start or end of its day) and records
  // it in `words` for the page hints. An absent flag leaves the field unset.
  template <typename MutableField>
  absl::Status ReadDateFlag(absl::string_view name, DayEdge edge,
                            MutableField mutable_field,
                            std::vector<std::string>& words) {
    if (!line_.Has(name)) return absl::OkStatus();
    auto time = ParseDateArgument(line_.Get(name), edge);
    if (!time.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--", name, ": ", time.status().message()));
    }
    *mutable_field() = ToTimestamp(*time);
    words.push_back(absl::StrCat("--", name, " ", ShellQuote(line_.Get(name))));
    return absl::OkStatus();
  }

  // The filters of `deja list` as a request, and the same filters as
  // command-line words for the "more:" hint.
  absl::Status BuildListRequest(v1::ListPostmortemsRequest& request,
                                std::vector<std::string>& words) {
    for (absl::string_view name : {"team", "service", "tag"}) {
      if (!line_.Has(name)) continue;
      const std::string value = line_.Get(name);
      if (name == "team") request.set_team(value);
      if (name == "service") request.set_service(value);
      if (name == "tag") request.set_tag(value);
      words.push_back(absl::StrCat("--", name, " ", ShellQuote(value)));
    }
    if (line_.Has("severity")) {
      auto severity = ParseSeverity(line_.Get("severity"));
      if (!severity.ok()) return severity.status();
      request.set_severity(*severity);
      words.push_back(absl::StrCat("--severity ", SeverityName(*severity)));
    }
    DEJA_RETURN_IF_ERROR(ReadDateFlag(
        "since", DayEdge::kStart,
        [&] { return request.mutable_started_after(); }, words));
    DEJA_RETURN_IF_ERROR(ReadDateFlag(
        "until", DayEdge::kEnd,
        [&] { return request.mutable_started_before(); }, words));
    if (line_.Has("limit")) {
      if (line_.Has("all")) {
        return absl::InvalidArgumentError(
            "--limit and --all exclude each other");
      }
      int limit = 0;
      if (!absl::SimpleAtoi(line_.Get("limit"), &limit) || limit <= 0) {
        return absl::InvalidArgumentError(
            absl::StrCat("invalid --limit '", line_.Get("limit"),
                         "' (expected a positive number)"));
      }
      words.push_back(absl::StrCat("--limit ", limit));
    }
    request.set_page_token(line_.Get("page-token"));
    return absl::OkStatus();
  }

  int List() {
    v1::ListPostmortemsRequest request;
    std::vector<std::string> words;
    if (absl::Status status = BuildListRequest(request, words); !status.ok()) {
      return UsageFailure(status.message());
    }
    const bool all = line_.Has("all");
    int remaining = kDefaultListLimit;
    if (line_.Has("limit")) absl::SimpleAtoi(line_.Get("limit"), &remaining);

    // Pages are asked for exactly as large as what is still wanted, so the
    // last next_page_token continues right after the last row shown.
    v1::ListPostmortemsResponse all_pages;
    while (true) {
      request.set_page_size(all ? kMaxPageSize
                                : std::min(remaining, kMaxPageSize));
      v1::ListPostmortemsResponse page;
      const grpc::Status status =
          stub().ListPostmortems(NewContext().get(), request, &page);
      if (!status.ok()) return RpcFailure(status);
      remaining -= page.postmortems_size();
      for (v1::Postmortem& pm : *page.mutable_postmortems()) {
        *all_pages.add_postmortems() = std::move(pm);
      }
      all_pages.set_next_page_token(page.next_page_token());
      if (page.next_page_token().empty() || page.postmortems().empty() ||
          (!all && remaining <= 0)) {
        break;
      }
      request.set_page_token(page.next_page_token());
    }

    if (line_.json) {
      PrintJson(all_pages);
      return kExitOk;
    }
    if (all_pages.postmortems().empty()) {
      out() << "no postmortems found\n";
    } else {
      const std::vector<v1::Postmortem> rows(all_pages.postmortems().begin(),
                                             all_pages.postmortems().end());
      out() << PostmortemListTable(rows).Render();
    }
    if (!all_pages.next_page_token().empty()) {
      words.push_back(absl::StrCat("--page-token ",
                                   ShellQuote(all_pages.next_page_token())));
      out() << "more: deja list " << absl::StrJoin(words, " ") << "\n";
    }
    return kExitOk;
  }

  int Update() {
    const std::string& path = line_.args[0];
    auto text = ReadInput(path, *env_.in);
    if (!text.ok()) return FileFailure(path, text.status().message());
    auto postmortem = ParsePostmortemFile(*text);
    if (!postmortem.ok()) {
      return FileFailure(path, postmortem.status().message());
    }
    if (postmortem->id().empty()) {
      return FileFailure(path,
                         "no \"id\": update replaces the postmortem it names "
                         "(start from 'deja get ID --json')");
    }
    v1::UpdatePostmortemRequest request;
    if (line_.Has("version")) {
      auto version = ParseVersion(line_.Get("version"));
      if (!version.ok()) {
        return UsageFailure(version.status().message());
      }
      request.set_expected_version(*version);
    } else if (postmortem->version() > 0) {
      request.set_expected_version(postmortem->version());
    } else {
      return UsageFailure("--version N needed: the file has no \"version\"");
    }
    *request.mutable_postmortem() = *std::move(postmortem);
    v1::Postmortem stored;
    const grpc::Status status =
        stub().UpdatePostmortem(NewContext().get(), request, &stored);
    // The only file: naming it again would add nothing.
    if (!status.ok()) return RpcFailure(status);
    if (line_.json) {
      PrintJson(stored);
      return kExitOk;
    }
    Table table({"ID", "VERSION", "FILE", "TITLE"});
    table.SetMaxWidth(3, kTitleWidth);
    table.AddRow({stored.id(), absl::StrCat(stored.version()),
                  TruncateLeftToWidth(path, kFileWidth), stored.title()});
    out() << table.Render();
    return kExitOk;
  }

  int UpdateAction() {
    v1::UpdateActionItemRequest request;
    request.set_postmortem_id(line_.args[0]);
    if (line_.Has("status")) {
      auto status = ParseActionStatus(line_.Get("status"));
      if (!status.ok()) {
        return UsageFailure(status.status().message());
      }
      request.set_status(*status);
    }
    if (line_.Has("owner")) request.set_owner(line_.Get("owner"));
    if (line_.Has("due")) {
      const std::string due = line_.Get("due");
      if (!due.empty() && !IsCalendarDate(due)) {
        return UsageFailure(
            absl::StrCat("invalid --due '", due,
                         "' (expected YYYY-MM-DD, or \"\" to clear)"));
      }
      request.set_due_date(due);
    }
    if (!request.has_status() && !request.has_owner() &&
        !request.has_due_date()) {
      return UsageFailure("nothing to change: give --status, --owner or --due");
    }
    auto item_id = ResolveActionItemId(line_.args[0], line_.args[1]);
    if (!item_id.ok()) return kExitFailure;  // already reported
    request.set_action_item_id(*item_id);

    v1::ActionItem item;
    const grpc::Status status =
        stub().UpdateActionItem(NewContext().get(), request, &item);
    if (!status.ok()) return RpcFailure(status);
    if (line_.json) {
      PrintJson(item);
    } else {
      out() << ActionItemTable({&item}, env_.now).Render();
    }
    return kExitOk;
  }

  // `deja get` shows ids cut to a prefix, so a unique prefix names an item.
  // Reports its own failures.
  absl::StatusOr<std::string> ResolveActionItemId(const std::string& id,
                                                  const std::string& wanted) {
    v1::GetPostmortemRequest request;
    request.set_id(id);
    v1::Postmortem postmortem;
    const grpc::Status status =
        stub().GetPostmortem(NewContext().get(), request, &postmortem);
    if (!status.ok()) {
      RpcFailure(status);
      return absl::UnknownError("reported");
    }
    std::vector<std::string> matches;
    for (const v1::ActionItem& item : postmortem.action_items()) {
      if (item.id() == wanted) return item.id();
      if (absl::StartsWith(item.id(), wanted)) matches.push_back(item.id());
    }
    if (matches.size() == 1) return matches.front();
    std::vector<std::string> known;
    for (const v1::ActionItem& item : postmortem.action_items()) {
      known.push_back(item.id().substr(0, kShortIdLength));
    }
    if (matches.empty()) {
      err() << "deja: NOT_FOUND: " << id << " has no action item '" << wanted
            << "' (its items: "
            << (known.empty() ? "none" : absl::StrJoin(known, ", ")) << ")\n";
    } else {
      err() << "deja: action item '" << wanted << "' is ambiguous in " << id
            << ": " << absl::StrJoin(matches, ", ") << "\n";
    }
    return absl::UnknownError("reported");
  }

  int Delete() {
    v1::DeletePostmortemRequest request;
    request.set_id(line_.args[0]);
    if (line_.Has("version")) {
      auto version = ParseVersion(line_.Get("version"));
      if (!version.ok()) {
        return UsageFailure(version.status().message());
      }
      request.set_expected_version(*version);
    }
    v1::DeletePostmortemResponse response;
    const grpc::Status status =
        stub().DeletePostmortem(NewContext().get(), request, &response);
    if (!status.ok()) return RpcFailure(status);
    if (line_.json) {
      PrintJson(response);
    } else {
      out() << "deleted " << request.id() << "\n";
    }
    return kExitOk;
  }

  // The filters of `deja search` as a request, and as command-line words
  // for the hints.
  absl::Status BuildSearchRequest(v1::SearchRequest& request,
                                  std::vector<std::string>& words) {
    request.set_query(absl::StrJoin(line_.args, " "));
    if (!request.query().empty()) words.push_back(ShellQuote(request.query()));
    for (const std::string& value : line_.GetAll("service")) {
      request.add_services(value);
      words.push_back(absl::StrCat("--service ", ShellQuote(value)));
    }
    for (const std::string& value : line_.GetAll("team")) {
      request.add_teams(value);
      words.push_back(absl::StrCat("--team ", ShellQuote(value)));
    }
    for (const std::string& value : line_.GetAll("tag")) {
      request.add_tags(value);
      words.push_back(absl::StrCat("--tag ", ShellQuote(value)));
    }
    for (const std::string& value : line_.GetAll("severity")) {
      auto severity = ParseSeverity(value);
      if (!severity.ok()) return severity.status();
      request.add_severities(*severity);
      words.push_back(absl::StrCat("--severity ", SeverityName(*severity)));
    }
    for (const std::string& value : line_.GetAll("category")) {
      auto category = ParseCategory(value);
      if (!category.ok()) return category.status();
      request.add_cause_categories(*category);
      words.push_back(
          absl::StrCat("--category ", RootCauseCategoryName(*category)));
    }
    // Both ends name the start of their day: --after is inclusive, --before
    // exclusive, as in the API.
    DEJA_RETURN_IF_ERROR(ReadDateFlag(
        "after", DayEdge::kStart,
        [&] { return request.mutable_started_after(); }, words));
    DEJA_RETURN_IF_ERROR(ReadDateFlag(
        "before", DayEdge::kStart,
        [&] { return request.mutable_started_before(); }, words));
    if (line_.Has("sort")) {
      const std::string sort = absl::AsciiStrToLower(line_.Get("sort"));
      if (sort == "newest") {
        request.set_sort(v1::SearchRequest::NEWEST);
      } else if (sort != "relevance") {
        return absl::InvalidArgumentError(
            absl::StrCat("invalid --sort '", line_.Get("sort"),
                         "' (expected relevance or newest)"));
      }
      words.push_back(absl::StrCat("--sort ", sort));
    }
    if (line_.Has("limit")) {
      auto limit = ParseLimit(line_.Get("limit"), kMaxPageSize);
      if (!limit.ok()) return limit.status();
      request.set_page_size(*limit);
      words.push_back(absl::StrCat("--limit ", *limit));
    }
    request.set_page_token(line_.Get("page"));
    return absl::OkStatus();
  }

  int Search() {
    v1::SearchRequest request;
    std::vector<std::string> words;
    if (absl::Status status = BuildSearchRequest(request, words);
        !status.ok()) {
      return UsageFailure(status.message());
    }
    auto stub = v1::SearchService::NewStub(channel());
    v1::SearchResponse response;
    const grpc::Status status =
        stub->Search(NewContext().get(), request, &response);
    if (!status.ok()) return RpcFailure(status);
    if (line_.json) {
      PrintJson(response);
      return kExitOk;
    }
    out() << RenderSearchResults(response);
    if (!response.did_you_mean().empty()) {
      std::vector<std::string> corrected = words;
      if (!request.query().empty()) {
        corrected.front() = ShellQuote(response.did_you_mean());
      } else {
        corrected.insert(corrected.begin(),
                         ShellQuote(response.did_you_mean()));
      }
      out() << "did you mean: " << response.did_you_mean() << "  (deja search "
            << absl::StrJoin(corrected, " ") << ")\n";
    }
    if (!response.next_page_token().empty()) {
      words.push_back(
          absl::StrCat("--page ", ShellQuote(response.next_page_token())));
      out() << "more: deja search " << absl::StrJoin(words, " ") << "\n";
    }
    return kExitOk;
  }

  int Seen() {
    v1::FindSimilarRequest request;
    if (!line_.args.empty()) request.set_symptoms(line_.args[0]);
    for (const std::string& line : line_.GetAll("log")) {
      request.add_log_lines(CutToBytes(line, kMaxLogLineBytes));
    }
    if (line_.Has("log-file")) {
      const std::string path = line_.Get("log-file");
      auto text = ReadInput(path, *env_.in);
      if (!text.ok()) return FileFailure(path, text.status().message());
      int skipped = 0;
      for (absl::string_view line : absl::StrSplit(*text, '\n')) {
        line = absl::StripTrailingAsciiWhitespace(line);
        if (absl::StripAsciiWhitespace(line).empty()) continue;
        if (request.log_lines_size() >= kMaxLogLines) {
          ++skipped;
          continue;
        }
        request.add_log_lines(CutToBytes(std::string(line), kMaxLogLineBytes));
      }
      if (skipped > 0) {
        err() << "deja: note: used the first " << kMaxLogLines
              << " log lines of " << (path == kStdinName ? "stdin" : path)
              << ", skipped " << skipped << "\n";
      }
    }
    for (const std::string& value : line_.GetAll("service")) {
      request.add_services(value);
    }
    if (line_.Has("like")) {
      if (!request.symptoms().empty() || request.log_lines_size() > 0 ||
          request.services_size() > 0) {
        return UsageFailure(
            "--like uses that postmortem as the description: give no "
            "SYMPTOMS, --log, --log-file or --service with it");
      }
      request.set_postmortem_id(line_.Get("like"));
    } else if (absl::StripAsciiWhitespace(request.symptoms()).empty() &&
               request.log_lines_size() == 0) {
      return UsageFailure(
          "describe the incident: SYMPTOMS, --log LINE, --log-file F or "
          "--like ID");
    }
    if (line_.Has("before")) {
      auto time = ParseDateArgument(line_.Get("before"), DayEdge::kStart);
      if (!time.ok()) {
        return UsageFailure(
            absl::StrCat("--before: ", time.status().message()));
      }
      *request.mutable_started_before() = ToTimestamp(*time);
    }
    if (line_.Has("limit")) {
      auto limit = ParseLimit(line_.Get("limit"), kMaxSimilarLimit);
      if (!limit.ok()) return UsageFailure(limit.status().message());
      request.set_limit(*limit);
    }
    auto stub = v1::SearchService::NewStub(channel());
    v1::FindSimilarResponse response;
    const grpc::Status status =
        stub->FindSimilar(NewContext().get(), request, &response);
    if (!status.ok()) return RpcFailure(status);
    if (line_.json) {
      PrintJson(response);
    } else {
      out() << RenderSimilar(response);
    }
    return kExitOk;
  }

  int Admin() {
    const std::string& what = line_.args[0];
    auto stub = v1::AdminService::NewStub(channel());
    if (what == "index-status") {
      v1::IndexStatus status;
      const grpc::Status result = stub->GetIndexStatus(
          NewContext().get(), v1::GetIndexStatusRequest(), &status);
      if (!result.ok()) return RpcFailure(result);
      if (line_.json) {
        PrintJson(status);
      } else {
        out() << RenderIndexStatus(status);
      }
      return kExitOk;
    }
    if (what == "rebuild-index") return RebuildIndex(*stub);
    return UsageFailure(absl::StrCat("unknown admin command '", what,
                                     "' (index-status or rebuild-index)"));
  }

  // A rebuild reads every postmortem: it gets hours unless --timeout says
  // otherwise, and says every few seconds that it is still at it.
  int RebuildIndex(v1::AdminService::Stub& stub) {
    grpc::ClientContext context;
    const absl::Duration timeout =
        line_.timeout_given ? line_.timeout : kRebuildTimeout;
    context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
    if (!line_.json) {
      err() << "rebuilding the search index from PostgreSQL (searches go on "
               "meanwhile)...\n";
    }
    v1::RebuildIndexResponse response;
    const absl::Time start = absl::Now();
    std::future<grpc::Status> call = std::async(std::launch::async, [&] {
      return stub.RebuildIndex(&context, v1::RebuildIndexRequest(), &response);
    });
    while (call.wait_for(absl::ToChronoSeconds(kProgressEvery)) !=
           std::future_status::ready) {
      if (!line_.json) {
        err() << "  still rebuilding (" << CompactDuration(absl::Now() - start)
              << ")\n";
      }
    }
    const grpc::Status status = call.get();
    if (!status.ok()) {
      if (status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
        err() << "deja: DEADLINE_EXCEEDED: no answer within "
              << absl::FormatDuration(timeout)
              << "; the rebuild may still finish on the server (see 'deja "
                 "admin index-status')\n";
        return kExitFailure;
      }
      return RpcFailure(status);
    }
    if (line_.json) {
      PrintJson(response);
    } else {
      out() << absl::StrFormat("rebuilt: %d documents in %.1f s (%s)\n",
                               response.documents(), response.seconds(),
                               response.index_path());
    }
    return kExitOk;
  }

  // --team, --service, --since and --until of the `deja stats` commands,
  // into a StatsRequest or a TrendRequest. A bare --until date includes its
  // day: the request's started_before is the next day's midnight.
  template <typename Request>
  absl::Status ReadStatsFilter(Request& request) {
    if (line_.Has("team")) request.set_team(line_.Get("team"));
    if (line_.Has("service")) request.set_service(line_.Get("service"));
    std::vector<std::string> unused_words;
    DEJA_RETURN_IF_ERROR(ReadDateFlag(
        "since", DayEdge::kStart,
        [&] { return request.mutable_started_after(); }, unused_words));
    DEJA_RETURN_IF_ERROR(ReadDateFlag(
        "until", DayEdge::kEnd,
        [&] { return request.mutable_started_before(); }, unused_words));
    if (request.has_started_after() && request.has_started_before() &&
        ToTime(request.started_before()) <= ToTime(request.started_after())) {
      return absl::InvalidArgumentError(
          absl::StrCat("--until ", line_.Get("until"), " is not after --since ",
                       line_.Get("since")));
    }
    return absl::OkStatus();
  }

  absl::Status BuildStatsRequest(v1::StatsRequest& request) {
    DEJA_RETURN_IF_ERROR(ReadStatsFilter(request));
    if (line_.Has("limit")) {
      DEJA_ASSIGN_OR_RETURN(const int limit, ParseLimit(line_.Get("limit"),
                                                        deja::kMaxStatsLimit));
      request.set_limit(limit);
    }
    return absl::OkStatus();
  }

  absl::Status BuildTrendRequest(v1::TrendRequest& request) {
    DEJA_RETURN_IF_ERROR(ReadStatsFilter(request));
    if (line_.Has("by")) {
      const std::string by = absl::AsciiStrToLower(line_.Get("by"));
      if (by == "week") {
        request.set_interval(v1::TrendRequest::WEEK);
      } else if (by == "month") {
        request.set_interval(v1::TrendRequest::MONTH);
      } else {
        return absl::InvalidArgumentError(absl::StrCat(
            "invalid --by '", line_.Get("by"), "' (expected week or month)"));
      }
    } else {
      request.set_interval(v1::TrendRequest::MONTH);
    }
    if (line_.Has("split")) {
      const std::string split = absl::AsciiStrToLower(line_.Get("split"));
      if (split == "severity") {
        request.set_split_by(v1::TrendRequest::SEVERITY);
      } else if (split == "service") {
        request.set_split_by(v1::TrendRequest::SERVICE);
      } else if (split == "cause" || split == "category") {
        request.set_split_by(v1::TrendRequest::CAUSE_CATEGORY);
      } else if (split == "team") {
        request.set_split_by(v1::TrendRequest::TEAM);
      } else {
        return absl::InvalidArgumentError(
            absl::StrCat("invalid --split '", line_.Get("split"),
                         "' (expected severity, service, cause or team)"));
      }
    }
    return absl::OkStatus();
  }

  v1::StatsService::Stub& stats_stub() {
    if (stats_stub_ == nullptr) {
      stats_stub_ = v1::StatsService::NewStub(channel());
    }
    return *stats_stub_;
  }

  // Builds the request, calls `method` of StatsService and prints its answer
  // with `render` (or as JSON).
  template <typename Request, typename Response, typename Build,
            typename Method, typename Render>
  int CallStats(Build build, Method method, Render render) {
    Request request;
    if (absl::Status status = (this->*build)(request); !status.ok()) {
      return UsageFailure(status.message());
    }
    Response response;
    const grpc::Status status =
        (stats_stub().*method)(NewContext().get(), request, &response);
    if (!status.ok()) return RpcFailure(status);
    if (line_.json) {
      PrintJson(response);
    } else {
      out() << render(response);
    }
    return kExitOk;
  }

  int StatsOverview() {
    return CallStats<v1::StatsRequest, v1::Overview>(
        &Session::BuildStatsRequest, &v1::StatsService::Stub::GetOverview,
        RenderOverview);
  }

  int StatsTrend() {
    return CallStats<v1::TrendRequest, v1::Trend>(
        &Session::BuildTrendRequest, &v1::StatsService::Stub::GetTrend,
        RenderTrend);
  }

  int StatsRecurrence() {
    return CallStats<v1::StatsRequest, v1::RecurrenceStats>(
        &Session::BuildStatsRequest,
        &v1::StatsService::Stub::GetRecurrenceStats, RenderRecurrenceStats);
  }

  int StatsActionItems() {
    return CallStats<v1::StatsRequest, v1::ActionItemStats>(
        &Session::BuildStatsRequest,
        &v1::StatsService::Stub::GetActionItemStats, RenderActionItemStats);
  }

  // The filters of `deja recurrence list` as a request, and as command-line
  // words for the "more:" hint.
  absl::Status BuildListRecurrencesRequest(v1::ListRecurrencesRequest& request,
                                           std::vector<std::string>& words) {
    if (!line_.args.empty()) {
      request.set_postmortem_id(line_.args[0]);
      words.push_back(ShellQuote(line_.args[0]));
    }
    for (const std::string& value : line_.GetAll("state")) {
      auto state = ParseRecurrenceState(value);
      if (!state.ok()) return state.status();
      request.add_states(*state);
      words.push_back(absl::StrCat("--state ", RecurrenceStateName(*state)));
    }
    if (line_.Has("limit")) {
      DEJA_ASSIGN_OR_RETURN(
          const int limit,
          ParseLimit(line_.Get("limit"), deja::kMaxRecurrencePageSize));
      request.set_page_size(limit);
      words.push_back(absl::StrCat("--limit ", limit));
    }
    request.set_page_token(line_.Get("page-token"));
    return absl::OkStatus();
  }

  int ListRecurrences() {
    v1::ListRecurrencesRequest request;
    std::vector<std::string> words;
    if (absl::Status status = BuildListRecurrencesRequest(request, words);
        !status.ok()) {
      return UsageFailure(status.message());
    }
    auto stub = v1::RecurrenceService::NewStub(channel());
    v1::ListRecurrencesResponse response;
    const grpc::Status status =
        stub->ListRecurrences(NewContext().get(), request, &response);
    if (!status.ok()) return RpcFailure(status);
    if (line_.json) {
      PrintJson(response);
      return kExitOk;
    }
    out() << RenderRecurrenceLinks(response);
    if (!response.next_page_token().empty()) {
      words.push_back(absl::StrCat("--page-token ",
                                   ShellQuote(response.next_page_token())));
      out() << "more: deja recurrence list " << absl::StrJoin(words, " ")
            << "\n";
    }
    return kExitOk;
  }

  // `deja recurrence confirm|reject LATER_ID EARLIER_ID --by WHO`. --by has
  // no default: the decision is a record of who looked, and $USER on a
  // shared or CI machine names the wrong person.
  int DecideRecurrence(bool confirm) {
    const std::string by(absl::StripAsciiWhitespace(line_.Get("by")));
    if (by.empty()) {
      return UsageFailure(
          line_.Has("by")
              ? "--by is empty: name who decided (a person or team)"
              : "--by WHO is required: name who decided (a person or team)");
    }
    v1::DecideRecurrenceRequest request;
    request.set_postmortem_id(line_.args[0]);
    request.set_earlier_id(line_.args[1]);
    request.set_decided_by(by);
    request.set_note(line_.Get("note"));
    auto stub = v1::RecurrenceService::NewStub(channel());
    v1::RecurrenceLink link;
    const grpc::Status status =
        confirm ? stub->ConfirmRecurrence(NewContext().get(), request, &link)
                : stub->RejectRecurrence(NewContext().get(), request, &link);
    if (!status.ok()) return RpcFailure(status);
    if (line_.json) {
      PrintJson(link);
    } else {
      out() << RenderRecurrenceLink(link);
    }
    return kExitOk;
  }

  const CommandLine line_;
  const Environment& env_;
  std::shared_ptr<grpc::ChannelInterface> channel_;
  std::unique_ptr<v1::PostmortemService::Stub> stub_;
  std::unique_ptr<v1::StatsService::Stub> stats_stub_;
};

}  // namespace

int RunDeja(const std::vector<std::string>& argv, const Environment& env) {
  // A bare `deja` is someone finding out what it does.
  if (argv.empty()) {
    *env.err << Usage("");
    return kExitUsage;
  }
  auto line = ParseCommandLine(argv, env.default_server);
  if (!line.ok()) {
    *env.err << "deja: " << line.status().message() << "\n";
    return kExitUsage;
  }
  if (line->help) {
    *env.out << Usage(line->command);
    return kExitOk;
  }
  return Session(*std::move(line), env).Run();
}

}  // namespace deja::cli
