// find_similar_lab: what a FindSimilar query costs, and what it finds, over
// an index that already exists (a dejad data dir's, or one index_write_lab
// built), for the default SimilarityOptions and variants of them. The
// queries and their families come from `deja-corpus queries --kind
// find-similar --truth`. See kUsage.

#include <time.h>
#include <xapian.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "bench/lab_variants.h"
#include "bench/similarity_options.h"
#include "deja/v1/search_service.pb.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "indexer/similarity.h"

namespace deja::bench {
namespace {

namespace fs = std::filesystem;

constexpr absl::string_view kUsage =
    R"(find_similar_lab: the cost and quality of FindSimilar on an index.

Runs generated FindSimilar requests through index::RunFindSimilar (the code
dejad answers with, no gRPC) on one thread, for the default SimilarityOptions
(the baseline) and for variants of them, and scores each answer against the
request's family (the postmortems of the same recurring failure). The
variants take turns query by query, so the machine's noise falls on all of
them alike.

Usage:
  find_similar_lab --index DIR --requests FILE --truth FILE [--count N]
                   [--set name=value ...] [--sweep name=a,b,c ...] [--json]

  --index DIR      a Xapian index, or a data dir's index/ (its `current`
                   generation is used). Opened read-only.
  --requests FILE  FindSimilarRequest JSON lines and
  --truth FILE     their families, both from `deja-corpus queries --kind
                   find-similar --size N --truth FILE` for the corpus the
                   index holds.
  --count N        the first N requests (default: all).
  --set, --sweep   as in linking_lab: SimilarityOptions fields
                   (indexer/similarity.h) for every variant, and one variant
                   per swept value.
  --json           also print one JSON object as the last line.

Columns: CPU ms a query (this thread's CPU time, mean), wall p50 and p99, CPU
against the baseline's, recall@10 (of each family query: its members in the
top 10, over the members up to 10), MRR@10 (the first member's rank),
new_ok (queries of a failure no postmortem has that came back NEW), seen_ok
(family queries whose verdict is not NEW).
)";

struct LabOptions {
  std::string index;
  std::string requests;
  std::string truth;
  int64_t count = 0;
  Settings settings;
  Sweeps sweeps;
  bool json = false;
  bool help = false;
};

absl::StatusOr<LabOptions> ParseArgs(int argc, char** argv) {
  LabOptions lab;
  for (int k = 1; k < argc; ++k) {
    std::string flag = argv[k];
    if (flag == "--help" || flag == "-h") {
      lab.help = true;
      return lab;
    }
    if (flag == "--json") {
      lab.json = true;
      continue;
    }
    if (!absl::StartsWith(flag, "--") || k + 1 >= argc) {
      return absl::InvalidArgumentError(
          absl::StrCat("unexpected argument '", flag, "'"));
    }
    flag = flag.substr(2);
    const std::string value = argv[++k];
    if (flag == "index") {
      lab.index = value;
    } else if (flag == "requests") {
      lab.requests = value;
    } else if (flag == "truth") {
      lab.truth = value;
    } else if (flag == "count") {
      if (!absl::SimpleAtoi(value, &lab.count) || lab.count < 1) {
        return absl::InvalidArgumentError(absl::StrCat(
            "--count: expected an integer >= 1, got '", value, "'"));
      }
    } else if (flag == "set" || flag == "sweep") {
      absl::Status added =
          AddVariantFlag(flag, value, lab.settings, lab.sweeps);
      if (!added.ok()) return added;
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown option --", flag));
    }
  }
  if (lab.index.empty() || lab.requests.empty() || lab.truth.empty()) {
    return absl::InvalidArgumentError(
        "--index, --requests and --truth are required");
  }
  return lab;
}

// A request and the external ids of its family ("gen-S-i"); none for a
// failure no postmortem has.
struct Query {
  v1::FindSimilarRequest request;
  std::set<std::string> family;
};

absl::StatusOr<std::vector<std::string>> ReadLines(const std::string& path,
                                                   int64_t count) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::vector<std::string> lines;
  std::string line;
  while ((count == 0 || static_cast<int64_t>(lines.size()) < count) &&
         std::getline(in, line)) {
    if (!line.empty()) lines.push_back(std::move(line));
  }
  return lines;
}

absl::StatusOr<std::vector<Query>> ReadQueries(const LabOptions& lab) {
  absl::StatusOr<std::vector<std::string>> requests =
      ReadLines(lab.requests, lab.count);
  if (!requests.ok()) return requests.status();
  if (requests->empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(lab.requests, " holds no request"));
  }
  absl::StatusOr<std::vector<std::string>> truth =
      ReadLines(lab.truth, requests->size());
  if (!truth.ok()) return truth.status();
  if (truth->size() != requests->size()) {
    return absl::InvalidArgumentError(
        absl::StrCat(lab.truth, " has ", truth->size(), " lines for ",
                     requests->size(), " requests"));
  }
  std::vector<Query> queries(requests->size());
  for (size_t q = 0; q < queries.size(); ++q) {
    google::protobuf::Struct family;
    if (!google::protobuf::util::JsonStringToMessage((*requests)[q],
                                                     &queries[q].request)
             .ok() ||
        !google::protobuf::util::JsonStringToMessage((*truth)[q], &family)
             .ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("line ", q + 1, " of ", lab.requests, " or ", lab.truth,
                       " is not what deja-corpus queries writes"));
    }
    // Line q describes query q: a truth file of another --count or --seed
    // would score every query against the wrong family.
    const auto number = family.fields().find("query");
    if (number == family.fields().end() ||
        number->second.number_value() != static_cast<double>(q)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "line ", q + 1, " of ", lab.truth, " is not query ", q, "'s family"));
    }
    const auto relevant = family.fields().find("relevant");
    if (relevant == family.fields().end()) continue;
    for (const google::protobuf::Value& id :
         relevant->second.list_value().values()) {
      queries[q].family.insert(id.string_value());
    }
  }
  return queries;
}

// The database of `path`, or of its `current` generation.
Xapian::Database OpenIndex(const std::string& path) {
  const fs::path current = fs::path(path) / "current";
  return Xapian::Database(fs::exists(current) ? current.string() : path);
}

double ThreadCpuMs() {
  timespec now{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return now.tv_sec * 1e3 + now.tv_nsec / 1e6;
}

// One variant's answers and costs, query by query.
struct Variant {
  std::string name;
  Settings settings;
  index::SimilarityOptions options;
  std::vector<double> cpu_ms;
  std::vector<double> wall_ms;
  double recall_sum = 0;
  double reciprocal_rank_sum = 0;
  int64_t family_queries = 0;
  int64_t seen_ok = 0;
  int64_t new_queries = 0;
  int64_t new_ok = 0;
};

absl::Status RunOne(const Xapian::Database& db, const Query& query, int64_t now,
                    bool scored, Variant& variant) {
  const double cpu = ThreadCpuMs();
  const auto start = std::chrono::steady_clock::now();
  absl::StatusOr<v1::FindSimilarResponse> response =
      index::RunFindSimilar(db, query.request, now, variant.options);
  const double wall = std::chrono::duration<double, std::milli>(
                          std::chrono::steady_clock::now() - start)
                          .count();
  if (!response.ok()) return response.status();
  if (!scored) return absl::OkStatus();
  variant.cpu_ms.push_back(ThreadCpuMs() - cpu);
  variant.wall_ms.push_back(wall);
  if (query.family.empty()) {
    ++variant.new_queries;
    variant.new_ok += response->verdict() == v1::NEW;
    return absl::OkStatus();
  }
  ++variant.family_queries;
  variant.seen_ok += response->verdict() != v1::NEW;
  int found = 0;
  double reciprocal_rank = 0;
  for (int rank = 0; rank < std::min(10, response->incidents_size()); ++rank) {
    if (query.family.count(
            response->incidents(rank).incident().external_id()) == 0) {
      continue;
    }
    ++found;
    if (reciprocal_rank == 0) reciprocal_rank = 1.0 / (rank + 1);
  }
  variant.recall_sum += Share(found, std::min<double>(10, query.family.size()));
  variant.reciprocal_rank_sum += reciprocal_rank;
  return absl::OkStatus();
}

double Mean(const std::vector<double>& values) {
  double sum = 0;
  for (double value : values) sum += value;
  return Share(sum, values.size());
}

void PrintTable(const std::vector<Variant>& variants) {
  size_t width = 8;
  for (const Variant& v : variants) width = std::max(width, v.name.size());
  std::printf("%-*s %7s %7s %7s %6s %9s %7s %6s %7s\n", static_cast<int>(width),
              "variant", "cpu ms", "p50 ms", "p99 ms", "ratio", "recall@10",
              "mrr@10", "new_ok", "seen_ok");
  const double base = Mean(variants.front().cpu_ms);
  for (const Variant& v : variants) {
    std::printf(
        "%-*s %7.2f %7.2f %7.2f %6.2f %9.3f %7.3f %6.3f %7.3f\n",
        static_cast<int>(width), v.name.c_str(), Mean(v.cpu_ms),
        Percentile(v.wall_ms, 0.5), Percentile(v.wall_ms, 0.99),
        Share(Mean(v.cpu_ms), base), Share(v.recall_sum, v.family_queries),
        Share(v.reciprocal_rank_sum, v.family_queries),
        Share(v.new_ok, v.new_queries), Share(v.seen_ok, v.family_queries));
  }
}

std::string VariantJson(const Variant& v, double base_cpu) {
  return absl::StrFormat(
      "{\"variant\": %s, \"settings\": %s, \"cpu_ms\": %.3f, \"p50_ms\": "
      "%.3f, \"p99_ms\": %.3f, \"ratio\": %.3f, \"recall_at_10\": %.4f, "
      "\"mrr_at_10\": %.4f, \"new_ok\": %.4f, \"seen_ok\": %.4f}",
      JsonString(v.name), SettingsJson(v.settings), Mean(v.cpu_ms),
      Percentile(v.wall_ms, 0.5), Percentile(v.wall_ms, 0.99),
      Share(Mean(v.cpu_ms), base_cpu), Share(v.recall_sum, v.family_queries),
      Share(v.reciprocal_rank_sum, v.family_queries),
      Share(v.new_ok, v.new_queries), Share(v.seen_ok, v.family_queries));
}

absl::Status Lab(const LabOptions& lab) {
  absl::StatusOr<std::vector<Query>> queries = ReadQueries(lab);
  if (!queries.ok()) return queries.status();
  const Xapian::Database db = OpenIndex(lab.index);
  std::vector<Variant> variants(1);
  variants[0].name = "baseline";
  for (const Settings& settings : Variants(lab.settings, lab.sweeps)) {
    Variant variant;
    variant.name = VariantName(settings);
    variant.settings = settings;
    for (const auto& [name, value] : settings) {
      // Checked when parsed.
      (void)SetSimilarityOption(name, value, variant.options);
    }
    variants.push_back(std::move(variant));
  }
  const int64_t now = absl::ToUnixSeconds(absl::Now());
  std::fprintf(stderr, "%zu queries, %lld documents, %zu variants\n",
               queries->size(), static_cast<long long>(db.get_doccount()),
               variants.size());
  // Untimed: loads the index's pages the queries need, each variant's.
  for (const Query& query : *queries) {
    for (Variant& variant : variants) {
      absl::Status status = RunOne(db, query, now, false, variant);
      if (!status.ok()) return status;
    }
  }
  for (size_t q = 0; q < queries->size(); ++q) {
    // Each variant first in turn: the one after another's run finds its
    // pages warm.
    for (size_t k = 0; k < variants.size(); ++k) {
      Variant& variant = variants[(q + k) % variants.size()];
      absl::Status status = RunOne(db, (*queries)[q], now, true, variant);
      if (!status.ok()) return status;
    }
    if ((q + 1) % 100 == 0) {
      std::fprintf(stderr, "\r%zu / %zu queries", q + 1, queries->size());
    }
  }
  std::fprintf(stderr, "\n");
  if (variants[0].family_queries > 0 && variants[0].recall_sum == 0) {
    std::fprintf(stderr,
                 "warning: no family member was found for any query: were "
                 "the index and --truth made for the same corpus (--size, "
                 "--seed)?\n");
  }
  std::printf("%lld documents, %zu queries\n",
              static_cast<long long>(db.get_doccount()), queries->size());
  PrintTable(variants);
  if (lab.json) {
    std::vector<std::string> rows;
    for (const Variant& v : variants) {
      rows.push_back(VariantJson(v, Mean(variants.front().cpu_ms)));
    }
    absl::PrintF("{\"documents\": %d, \"queries\": %d, \"rows\": [%s]}\n",
                 db.get_doccount(), queries->size(), absl::StrJoin(rows, ", "));
  }
  return absl::OkStatus();
}

int Main(int argc, char** argv) {
  absl::StatusOr<LabOptions> lab = ParseArgs(argc, argv);
  if (!lab.ok()) {
    std::fprintf(stderr, "find_similar_lab: %s\n(--help for usage)\n",
                 std::string(lab.status().message()).c_str());
    return 2;
  }
  if (lab->help) {
    std::fwrite(kUsage.data(), 1, kUsage.size(), stdout);
    return 0;
  }
  try {
    absl::Status status = Lab(*lab);
    if (!status.ok()) {
      std::fprintf(stderr, "find_similar_lab: %s\n", status.ToString().c_str());
      return 1;
    }
  } catch (const Xapian::Error& e) {
    std::fprintf(stderr, "find_similar_lab: %s\n", e.get_description().c_str());
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace deja::bench

int main(int argc, char** argv) { return deja::bench::Main(argc, argv); }
