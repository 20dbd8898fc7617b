// deja-corpus: the synthetic postmortem corpus of the performance
// benchmarks, as JSON Lines (`deja import` reads them), as queries with
// their ground truth, or streamed straight into a dejad's ImportPostmortems.
// See kUsage; CorpusGenerator (corpus_generator.h) makes the content.

#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "bench/corpus/corpus_generator.h"
#include "cli/progress.h"
#include "deja/v1/postmortem_service.grpc.pb.h"
#include "google/protobuf/util/json_util.h"

namespace deja::bench {
namespace {

constexpr absl::string_view kUsage =
    R"(deja-corpus: the synthetic postmortem corpus of the performance benchmarks.
The same --seed and --size always make the same corpus, byte for byte.

Usage:
  deja-corpus postmortems --size N [--seed S] [--first K] [--count C] [--out FILE]
      Postmortems K .. K+C-1 of the corpus (default: all N) as JSON Lines, one
      deja.v1.Postmortem per line in proto3 JSON (what `deja import` reads
      from a .jsonl file), to FILE or stdout.

  deja-corpus queries --kind find-similar|search --count C [--size N] [--seed S]
                      [--out FILE] [--truth FILE]
      C requests (FindSimilarRequest or SearchRequest), one per line in proto
      JSON, for the corpus of that size and seed (--size defaults to 100000).
      --truth (find-similar only) writes one line per query:
      {"query": q, "family": f, "relevant": ["gen-S-i", ...]}; family -1 and
      no relevant postmortem for a failure no postmortem has.

  deja-corpus import --size N --target HOST:PORT [--seed S] [--first K]
                     [--count C] [--parallel P] [--json]
      Streams the postmortems to PostmortemService.ImportPostmortems,
      request_id = external_id ("gen-S-i"), so running it again changes
      nothing. P calls (default 2) in flight at once. Progress on stderr; a
      summary table at the end, and with --json one JSON object as the last
      line of stdout. Exits 1 when a record was rejected or a call failed.

  deja-corpus --help
)";

// Records per ImportPostmortems call: the server takes up to 10,000, but its
// one answer must stay under 3 MiB.
constexpr int64_t kRecordsPerCall = 2000;
// Records per message: at most 1000, and about 6 KB each keeps a message far
// under gRPC's 4 MiB.
constexpr int64_t kRecordsPerMessage = 100;
constexpr absl::Duration kCallDeadline = absl::Minutes(10);
constexpr size_t kRejectionsShown = 5;

struct Options {
  std::string command;
  std::map<std::string, std::string> values;
  bool Has(const std::string& name) const { return values.count(name) > 0; }
  std::string Get(const std::string& name) const {
    const auto it = values.find(name);
    return it == values.end() ? "" : it->second;
  }
};

const std::map<std::string, std::set<std::string>>& KnownOptions() {
  static const auto* const known =
      new std::map<std::string, std::set<std::string>>{
          {"postmortems", {"size", "seed", "first", "count", "out"}},
          {"queries", {"kind", "count", "size", "seed", "out", "truth"}},
          {"import",
           {"size", "seed", "first", "count", "target", "parallel", "json"}},
      };
  return *known;
}

absl::StatusOr<Options> ParseArgs(int argc, char** argv) {
  Options options;
  if (argc < 2) return absl::InvalidArgumentError("no command given");
  options.command = argv[1];
  if (options.command == "--help" || options.command == "-h" ||
      options.command == "help") {
    options.command = "help";
    return options;
  }
  const auto known = KnownOptions().find(options.command);
  if (known == KnownOptions().end()) {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown command '", options.command, "'"));
  }
  for (int k = 2; k < argc; ++k) {
    std::string arg = argv[k];
    if (arg == "--help" || arg == "-h") {
      options.command = "help";
      return options;
    }
    if (!absl::StartsWith(arg, "--")) {
      return absl::InvalidArgumentError(
          absl::StrCat("unexpected argument '", arg, "'"));
    }
    arg = arg.substr(2);
    std::string value;
    const size_t equals = arg.find('=');
    if (equals != std::string::npos) {
      value = arg.substr(equals + 1);
      arg = arg.substr(0, equals);
    } else if (arg != "json") {
      if (k + 1 >= argc) {
        return absl::InvalidArgumentError(
            absl::StrCat("--", arg, " needs a value"));
      }
      value = argv[++k];
    }
    if (known->second.count(arg) == 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "unknown option --", arg, " for '", options.command, "'"));
    }
    if (!options.values.emplace(arg, value).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("--", arg, " given twice"));
    }
  }
  return options;
}

// The option as an integer >= minimum, or `fallback` when absent.
absl::StatusOr<int64_t> IntOption(const Options& options,
                                  const std::string& name, int64_t fallback,
                                  int64_t minimum) {
  if (!options.Has(name)) return fallback;
  int64_t value;
  if (!absl::SimpleAtoi(options.Get(name), &value) || value < minimum) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", name, ": expected an integer >= ", minimum,
                     ", got '", options.Get(name), "'"));
  }
  return value;
}

// Writes to a file or stdout through one large buffer.
class LineSink {
 public:
  static absl::StatusOr<std::unique_ptr<LineSink>> Open(
      const std::string& path) {
    FILE* file = stdout;
    if (!path.empty() && path != "-") {
      file = std::fopen(path.c_str(), "w");
      if (file == nullptr) {
        return absl::NotFoundError(absl::StrCat("cannot write ", path));
      }
    }
    return std::unique_ptr<LineSink>(new LineSink(file, file != stdout));
  }
  ~LineSink() {
    if (owned_) std::fclose(file_);
  }
  void Line(const std::string& text) {
    std::fwrite(text.data(), 1, text.size(), file_);
    std::fputc('\n', file_);
  }
  absl::Status Close() {
    const bool failed = std::fflush(file_) != 0 || std::ferror(file_) != 0;
    if (owned_) {
      owned_ = false;
      if (std::fclose(file_) != 0 || failed) {
        return absl::DataLossError("write failed");
      }
    }
    return failed ? absl::DataLossError("write failed") : absl::OkStatus();
  }

 private:
  LineSink(FILE* file, bool owned) : file_(file), owned_(owned) {
    std::setvbuf(file_, nullptr, _IOFBF, 1 << 20);
  }
  FILE* file_;
  bool owned_;
};

std::string ToJson(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions print;
  print.preserve_proto_field_names = true;
  std::string json;
  // Only fails for Any without a type resolver; these messages have none.
  (void)google::protobuf::util::MessageToJsonString(message, &json, print);
  return json;
}

struct Slice {
  int64_t first = 0;
  int64_t count = 0;
};

absl::StatusOr<Slice> SliceOption(const Options& options, int64_t size) {
  Slice slice;
  absl::StatusOr<int64_t> first = IntOption(options, "first", 0, 0);
  if (!first.ok()) return first.status();
  if (*first > size) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--first ", *first, " is beyond the corpus (--size ", size, ")"));
  }
  slice.first = *first;
  absl::StatusOr<int64_t> count =
      IntOption(options, "count", size - slice.first, 0);
  if (!count.ok()) return count.status();
  if (*count > size - slice.first) {
    return absl::InvalidArgumentError(
        absl::StrCat("--first ", slice.first, " --count ", *count,
                     " runs past the corpus (--size ", size,
                     "); a larger --size makes more postmortems"));
  }
  slice.count = *count;
  return slice;
}

absl::StatusOr<CorpusOptions> CorpusOption(const Options& options,
                                           bool size_required) {
  if (size_required && !options.Has("size")) {
    return absl::InvalidArgumentError("--size N is required");
  }
  CorpusOptions corpus;
  absl::StatusOr<int64_t> size = IntOption(options, "size", corpus.size, 1);
  if (!size.ok()) return size.status();
  corpus.size = *size;
  if (options.Has("seed") &&
      !absl::SimpleAtoi(options.Get("seed"), &corpus.seed)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--seed: expected an unsigned integer, got '",
                     options.Get("seed"), "'"));
  }
  return corpus;
}

absl::Status WritePostmortems(const Options& options) {
  absl::StatusOr<CorpusOptions> corpus = CorpusOption(options, true);
  if (!corpus.ok()) return corpus.status();
  absl::StatusOr<Slice> slice = SliceOption(options, corpus->size);
  if (!slice.ok()) return slice.status();
  absl::StatusOr<std::unique_ptr<LineSink>> sink =
      LineSink::Open(options.Get("out"));
  if (!sink.ok()) return sink.status();
  const CorpusGenerator generator(*corpus);
  for (int64_t i = slice->first; i < slice->first + slice->count; ++i) {
    (*sink)->Line(ToJson(generator.Postmortem(i)));
  }
  return (*sink)->Close();
}

absl::Status WriteQueries(const Options& options) {
  const std::string kind = options.Get("kind");
  if (kind != "find-similar" && kind != "search") {
    return absl::InvalidArgumentError("--kind must be find-similar or search");
  }
  if (!options.Has("count")) {
    return absl::InvalidArgumentError("--count C is required");
  }
  if (options.Has("truth") && kind != "find-similar") {
    return absl::InvalidArgumentError("--truth is for --kind find-similar");
  }
  absl::StatusOr<int64_t> count = IntOption(options, "count", 0, 0);
  if (!count.ok()) return count.status();
  absl::StatusOr<CorpusOptions> corpus = CorpusOption(options, false);
  if (!corpus.ok()) return corpus.status();
  absl::StatusOr<std::unique_ptr<LineSink>> sink =
      LineSink::Open(options.Get("out"));
  if (!sink.ok()) return sink.status();
  std::unique_ptr<LineSink> truth;
  if (options.Has("truth")) {
    absl::StatusOr<std::unique_ptr<LineSink>> opened =
        LineSink::Open(options.Get("truth"));
    if (!opened.ok()) return opened.status();
    truth = std::move(*opened);
  }
  const CorpusGenerator generator(*corpus);
  for (int64_t q = 0; q < *count; ++q) {
    if (kind == "search") {
      (*sink)->Line(ToJson(generator.Search(q)));
      continue;
    }
    const CorpusGenerator::FindSimilarQuery query = generator.FindSimilar(q);
    (*sink)->Line(ToJson(query.request));
    if (truth == nullptr) continue;
    std::vector<std::string> relevant;
    for (int64_t i : generator.FamilyMembers(query.family)) {
      relevant.push_back(absl::StrCat("\"gen-", corpus->seed, "-", i, "\""));
    }
    truth->Line(absl::StrCat("{\"query\": ", q, ", \"family\": ", query.family,
                             ", \"relevant\": [", absl::StrJoin(relevant, ", "),
                             "]}"));
  }
  if (truth != nullptr) {
    absl::Status closed = truth->Close();
    if (!closed.ok()) return closed;
  }
  return (*sink)->Close();
}

// ---- import ---------------------------------------------------------------

// What the import threads share. Counters are atomics so the progress line
// reads them without a lock.
struct ImportState {
  const CorpusGenerator* generator = nullptr;
  std::string target;
  Slice slice;
  std::atomic<int64_t> next_call{0};  // index of the next unclaimed call
  std::atomic<int64_t> sent{0};
  std::atomic<int64_t> imported{0};
  std::atomic<int64_t> unchanged{0};
  std::atomic<int64_t> rejected{0};
  std::atomic<bool> stop{false};
  std::mutex mutex;  // guards the two below
  std::vector<std::string> rejections;
  grpc::Status failure;
};

void Tally(const v1::ImportPostmortemsResponse& response, ImportState& state) {
  for (const v1::ImportResult& result : response.results()) {
    switch (result.outcome()) {
      case v1::ImportResult::IMPORTED:
        ++state.imported;
        break;
      case v1::ImportResult::UNCHANGED:
        ++state.unchanged;
        break;
      default: {
        ++state.rejected;
        std::lock_guard<std::mutex> lock(state.mutex);
        if (state.rejections.size() < kRejectionsShown) {
          state.rejections.push_back(
              absl::StrCat(result.source(), ": ", result.reason()));
        }
        break;
      }
    }
  }
}

void Fail(ImportState& state, const grpc::Status& status) {
  std::lock_guard<std::mutex> lock(state.mutex);
  if (state.failure.ok()) state.failure = status;
  state.stop = true;
}

// Streams records [first, end) in one call; returns how many the server
// answered (fewer than sent when its answer hit the size limit), or -1
// after a failure.
int64_t ImportCall(v1::PostmortemService::Stub& stub, int64_t first,
                   int64_t end, ImportState& state) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + kCallDeadline));
  v1::ImportPostmortemsResponse response;
  auto writer = stub.ImportPostmortems(&context, &response);
  const uint64_t seed = state.generator->options().seed;
  for (int64_t at = first; at < end && !state.stop;) {
    v1::ImportPostmortemsRequest request;
    const int64_t stop = std::min(end, at + kRecordsPerMessage);
    for (; at < stop; ++at) {
      v1::ImportRecord& record = *request.add_records();
      *record.mutable_postmortem() = state.generator->Postmortem(at);
      record.set_request_id(absl::StrCat("gen-", seed, "-", at));
      record.set_source(absl::StrCat("gen:", at));
    }
    if (!writer->Write(request)) break;  // Finish() says why
    state.sent += request.records_size();
  }
  writer->WritesDone();
  const grpc::Status status = writer->Finish();
  if (!status.ok()) {
    Fail(state, status);
    return -1;
  }
  const int64_t answered = response.results_size();
  if (answered == 0 || answered > end - first ||
      (answered < end - first && response.complete())) {
    Fail(state,
         grpc::Status(grpc::StatusCode::INTERNAL,
                      absl::StrCat("dejad answered ", answered, " results for ",
                                   end - first, " records")));
    return -1;
  }
  Tally(response, state);
  return answered;
}

void ImportWorker(int worker, ImportState& state) {
  grpc::ChannelArguments arguments;
  // A connection of its own per worker, so calls do not queue on one socket.
  arguments.SetInt("deja.corpus.worker", worker);
  arguments.SetMaxReceiveMessageSize(16 << 20);
  auto stub = v1::PostmortemService::NewStub(grpc::CreateCustomChannel(
      state.target, grpc::InsecureChannelCredentials(), arguments));
  const int64_t calls =
      (state.slice.count + kRecordsPerCall - 1) / kRecordsPerCall;
  while (!state.stop) {
    const int64_t call = state.next_call++;
    if (call >= calls) return;
    int64_t first = state.slice.first + call * kRecordsPerCall;
    const int64_t end = std::min(first + kRecordsPerCall,
                                 state.slice.first + state.slice.count);
    while (first < end && !state.stop) {
      const int64_t answered = ImportCall(*stub, first, end, state);
      if (answered < 0) return;
      // Records the answer did not cover go again in a new call.
      state.sent -= end - first - answered;
      first += answered;
    }
  }
}

std::string RateText(int64_t count, absl::Duration elapsed) {
  const double seconds = absl::ToDoubleSeconds(elapsed);
  return absl::StrFormat("%.0f", seconds > 0 ? count / seconds : 0.0);
}

absl::StatusOr<int> Import(const Options& options) {
  if (!options.Has("target")) {
    return absl::InvalidArgumentError("--target HOST:PORT is required");
  }
  absl::StatusOr<CorpusOptions> corpus = CorpusOption(options, true);
  if (!corpus.ok()) return corpus.status();
  absl::StatusOr<Slice> slice = SliceOption(options, corpus->size);
  if (!slice.ok()) return slice.status();
  absl::StatusOr<int64_t> parallel = IntOption(options, "parallel", 2, 1);
  if (!parallel.ok()) return parallel.status();

  const CorpusGenerator generator(*corpus);
  ImportState state;
  state.generator = &generator;
  state.target = options.Get("target");
  state.slice = *slice;
  const absl::Time start = absl::Now();
  std::vector<std::thread> workers;
  for (int64_t w = 0; w < *parallel; ++w) {
    workers.emplace_back(ImportWorker, static_cast<int>(w), std::ref(state));
  }
  std::atomic<bool> done{false};
  std::thread watcher([&] {
    for (std::thread& worker : workers) worker.join();
    done = true;
  });
  cli::ProgressDisplay progress(std::cerr, isatty(STDERR_FILENO) == 1, start);
  constexpr size_t kWidth = 100;
  const int64_t total = slice->count;
  auto show = [&](bool finish) {
    const absl::Time now = absl::Now();
    const int64_t sent = state.sent;
    const std::string line =
        cli::ProgressLine("importing", sent, total, now - start, kWidth);
    if (finish) {
      progress.Finish(line);
      return;
    }
    progress.Show(line,
                  cli::PlainProgressLine("importing", sent, total, now - start),
                  total > 0 ? static_cast<double>(sent) / total : 1.0, now);
  };
  while (!done) {
    absl::SleepFor(absl::Milliseconds(200));
    show(false);
  }
  watcher.join();
  show(true);
  const absl::Duration elapsed = absl::Now() - start;

  const int64_t answered = state.imported + state.unchanged + state.rejected;
  std::printf("%-10s %10s\n", "imported",
              absl::StrCat(state.imported.load()).c_str());
  std::printf("%-10s %10s\n", "unchanged",
              absl::StrCat(state.unchanged.load()).c_str());
  std::printf("%-10s %10s\n", "rejected",
              absl::StrCat(state.rejected.load()).c_str());
  std::printf("%-10s %10s\n", "seconds",
              absl::StrFormat("%.1f", absl::ToDoubleSeconds(elapsed)).c_str());
  std::printf("%-10s %10s\n", "per second",
              RateText(answered, elapsed).c_str());
  for (const std::string& rejection : state.rejections) {
    std::fprintf(stderr, "rejected %s\n", rejection.c_str());
  }
  if (!state.failure.ok()) {
    std::fprintf(stderr, "ImportPostmortems failed: %s: %s\n",
                 absl::StatusCodeToString(
                     static_cast<absl::StatusCode>(state.failure.error_code()))
                     .c_str(),
                 state.failure.error_message().c_str());
  }
  if (options.Has("json")) {
    std::printf(
        "{\"imported\": %lld, \"unchanged\": %lld, \"rejected\": %lld, "
        "\"records\": %lld, \"seconds\": %.3f, \"per_second\": %s, "
        "\"failed\": %s}\n",
        static_cast<long long>(state.imported.load()),
        static_cast<long long>(state.unchanged.load()),
        static_cast<long long>(state.rejected.load()),
        static_cast<long long>(total), absl::ToDoubleSeconds(elapsed),
        RateText(answered, elapsed).c_str(),
        state.failure.ok() ? "false" : "true");
  }
  std::fflush(stdout);
  return state.rejected > 0 || !state.failure.ok() ? 1 : 0;
}

int Run(int argc, char** argv) {
  absl::StatusOr<Options> options = ParseArgs(argc, argv);
  if (!options.ok()) {
    std::fprintf(stderr, "deja-corpus: %s\n\n%s",
                 std::string(options.status().message()).c_str(),
                 std::string(kUsage).c_str());
    return 2;
  }
  if (options->command == "help") {
    std::fputs(std::string(kUsage).c_str(), stdout);
    return 0;
  }
  absl::Status status;
  if (options->command == "postmortems") {
    status = WritePostmortems(*options);
  } else if (options->command == "queries") {
    status = WriteQueries(*options);
  } else {
    absl::StatusOr<int> code = Import(*options);
    if (code.ok()) return *code;
    status = code.status();
  }
  if (!status.ok()) {
    std::fprintf(stderr, "deja-corpus: %s\n",
                 std::string(status.message()).c_str());
    return status.code() == absl::StatusCode::kInvalidArgument ? 2 : 1;
  }
  return 0;
}

}  // namespace
}  // namespace deja::bench

int main(int argc, char** argv) { return deja::bench::Run(argc, argv); }
