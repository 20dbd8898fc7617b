// index_write_lab: what writing the search index costs per postmortem, on
// an existing index. The indexer applies outbox batches to the index with
// BuildDocument + replace_document inside a transaction and commits each
// batch (ApplyLocked in indexer/index_sync.cc); its cost per postmortem sets
// how far the index lags behind the submits. This lab does the same with
// generated postmortems (bench/corpus) on an index you give it, in batches
// of the sizes asked for, and splits the time into building the documents,
// replacing them and committing. See kUsage.

#include <time.h>
#include <xapian.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "bench/corpus/corpus_generator.h"
#include "deja/v1/postmortem.pb.h"
#include "indexer/document_builder.h"
#include "indexer/index_schema.h"
#include "indexer/synonym_table.h"

namespace deja::bench {
namespace {

constexpr absl::string_view kUsage =
    R"(index_write_lab: the cost of writing postmortems into a search index.

Adds generated postmortems to the Xapian index at --index (a copy: the lab
writes to it; a new empty index when DIR does not exist) the way dejad's
indexer does: BuildDocument, replace_document by id term, one transaction
committed per batch. For each --batch size it
adds --count postmortems, then reports per postmortem the time and thread
CPU spent building documents (with spelling data, as the indexer does),
replacing them and committing.

Usage:
  index_write_lab --index DIR [--size N] [--seed S] [--first F]
                  [--count C] [--batch B1,B2,...] [--terms] [--servable]
                  [--merge DIR1,DIR2,...] [--json]

  --index DIR  an index directory (a generation: the one holding the
               Xapian files, e.g. DATA_DIR/index/gen-000001 of a stopped
               dejad, copied), written to; created empty when absent
  --size N     corpus size of the generator (default 1000000): postmortems
               F.. come from the corpus of this size
  --first F    the first postmortem to add (default 500000; pick one past
               what the index holds, so that they are new)
  --count C    postmortems per batch size (default 1000; 0 adds none,
               e.g. to make an index --servable afterwards)
  --batch      batch sizes, one run each, in order (default 1,10,100)
  --terms      also the terms per postmortem, by prefix
  --servable   then install the synonym table and the index format, as a
               rebuild does, so that dejad and deja-load's inproc-* kinds
               read the index (e.g. to measure searches at a size the
               indexer would take hours to reach; several such indexes
               can be searched as one through a Xapian stub file)
  --merge DIRS first merge these indexes into a new --index DIR with
               Xapian's compactor (documents renumbered, in order): indexes
               built in parallel become one, as dejad serves it
  --json       also one JSON object with every figure as the last line
)";

struct LabOptions {
  std::string index_dir;
  CorpusOptions corpus{/*seed=*/1, /*size=*/1000000};
  int64_t first = 500000;
  int64_t count = 1000;
  std::vector<int64_t> batches = {1, 10, 100};
  bool json = false;
  bool terms = false;
  bool servable = false;
  std::vector<std::string> merge;
};

absl::StatusOr<LabOptions> ParseArgs(int argc, char** argv) {
  LabOptions lab;
  for (int k = 1; k < argc; ++k) {
    const std::string flag = argv[k];
    if (flag == "--json" || flag == "--terms" || flag == "--servable") {
      (flag == "--json"    ? lab.json
       : flag == "--terms" ? lab.terms
                           : lab.servable) = true;
      continue;
    }
    if (k + 1 >= argc) {
      return absl::InvalidArgumentError(absl::StrCat(flag, " needs a value"));
    }
    const std::string value = argv[++k];
    bool ok = true;
    if (flag == "--index") {
      lab.index_dir = value;
    } else if (flag == "--size") {
      ok = absl::SimpleAtoi(value, &lab.corpus.size) && lab.corpus.size > 0;
    } else if (flag == "--seed") {
      ok = absl::SimpleAtoi(value, &lab.corpus.seed);
    } else if (flag == "--first") {
      ok = absl::SimpleAtoi(value, &lab.first) && lab.first >= 0;
    } else if (flag == "--count") {
      ok = absl::SimpleAtoi(value, &lab.count) && lab.count >= 0;
    } else if (flag == "--merge") {
      lab.merge = absl::StrSplit(value, ',', absl::SkipEmpty());
      ok = !lab.merge.empty();
    } else if (flag == "--batch") {
      lab.batches.clear();
      for (absl::string_view part : absl::StrSplit(value, ',')) {
        int64_t batch = 0;
        ok = ok && absl::SimpleAtoi(part, &batch) && batch > 0;
        lab.batches.push_back(batch);
      }
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown flag '", flag, "'"));
    }
    if (!ok) {
      return absl::InvalidArgumentError(
          absl::StrCat(flag, ": bad value '", value, "'"));
    }
  }
  if (lab.index_dir.empty()) {
    return absl::InvalidArgumentError("--index is required");
  }
  const int64_t last =
      lab.first + lab.count * static_cast<int64_t>(lab.batches.size());
  if (!lab.merge.empty() && std::filesystem::exists(lab.index_dir)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--merge writes a new index: ", lab.index_dir, " already exists"));
  }
  if (lab.count > 0 && last > lab.corpus.size) {
    return absl::InvalidArgumentError(
        absl::StrCat("--first + --count x batch sizes reaches postmortem ",
                     last, ", past the corpus (--size ", lab.corpus.size, ")"));
  }
  return lab;
}

// Wall and this thread's CPU time, in milliseconds since an arbitrary start.
struct Clock {
  double wall_ms = 0;
  double cpu_ms = 0;

  static Clock Now() {
    timespec wall{}, cpu{};
    clock_gettime(CLOCK_MONOTONIC, &wall);
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu);
    return {wall.tv_sec * 1e3 + wall.tv_nsec / 1e6,
            cpu.tv_sec * 1e3 + cpu.tv_nsec / 1e6};
  }
  Clock operator-(const Clock& o) const {
    return {wall_ms - o.wall_ms, cpu_ms - o.cpu_ms};
  }
  Clock& operator+=(const Clock& o) {
    wall_ms += o.wall_ms;
    cpu_ms += o.cpu_ms;
    return *this;
  }
};

struct Stage {
  Clock build, replace, commit;
  // Terms of the built documents, by kind: prefix (up to the first
  // lower-case letter or digit; "Z" marks a stem), "" for unprefixed words.
  std::map<std::string, int64_t> terms;
  int64_t documents = 0;
  Clock Total() const {
    Clock total = build;
    total += replace;
    total += commit;
    return total;
  }
};

// Adds postmortems [first, first + count) in batches of `batch`.
Stage AddBatches(const CorpusGenerator& generator, Xapian::WritableDatabase& db,
                 int64_t first, int64_t count, int64_t batch) {
  Stage stage;
  for (int64_t start = first; start < first + count; start += batch) {
    const int64_t end = std::min(first + count, start + batch);
    std::vector<v1::Postmortem> postmortems;
    for (int64_t i = start; i < end; ++i) {
      postmortems.push_back(generator.Postmortem(i));
      postmortems.back().set_id(absl::StrFormat("lab-%012d", i));
      postmortems.back().set_version(1);
    }
    db.begin_transaction();
    for (const v1::Postmortem& postmortem : postmortems) {
      const Clock t0 = Clock::Now();
      Xapian::Document document = index::BuildDocument(postmortem, &db);
      const Clock t1 = Clock::Now();
      db.replace_document(index::IdTerm(postmortem.id()), document);
      const Clock t2 = Clock::Now();
      stage.build += t1 - t0;
      stage.replace += t2 - t1;
      ++stage.documents;
      for (auto term = document.termlist_begin();
           term != document.termlist_end(); ++term) {
        const std::string name = *term;
        size_t prefix_end = 0;
        while (prefix_end < name.size() && name[prefix_end] >= 'A' &&
               name[prefix_end] <= 'Z') {
          ++prefix_end;
        }
        ++stage.terms[name.substr(0, prefix_end)];
      }
    }
    const Clock t0 = Clock::Now();
    db.commit_transaction();
    stage.commit += Clock::Now() - t0;
    std::fprintf(
        stderr, "\rbatch %lld: %lld/%lld", static_cast<long long>(batch),
        static_cast<long long>(end - first), static_cast<long long>(count));
  }
  std::fprintf(stderr, "\n");
  return stage;
}

// Prints the compactor's progress, one line per table.
class CompactProgress final : public Xapian::Compactor {
 public:
  void set_status(const std::string& table,
                  const std::string& status) override {
    std::fprintf(stderr, "merge: %s %s\n", table.c_str(), status.c_str());
  }
};

void Merge(const std::vector<std::string>& sources, const std::string& out) {
  Xapian::Database all;
  for (const std::string& source : sources) {
    all.add_database(Xapian::Database(source));
  }
  std::fprintf(stderr, "merging %u documents from %zu indexes into %s\n",
               all.get_doccount(), sources.size(), out.c_str());
  CompactProgress progress;
  all.compact(out, Xapian::Compactor::STANDARD, 0, progress);
}

int Run(const LabOptions& lab) {
  const CorpusGenerator generator(lab.corpus);
  if (!lab.merge.empty()) Merge(lab.merge, lab.index_dir);
  Xapian::WritableDatabase db(lab.index_dir, Xapian::DB_CREATE_OR_OPEN);
  std::printf("index %s: %u documents\n", lab.index_dir.c_str(),
              db.get_doccount());
  if (lab.count > 0) {
    std::printf("%6s | %21s | %21s | %21s | %21s\n", "", "build", "replace",
                "commit", "total");
    std::printf("%6s | %10s %10s | %10s %10s | %10s %10s | %10s %10s\n",
                "batch", "wall ms", "cpu ms", "wall ms", "cpu ms", "wall ms",
                "cpu ms", "wall ms", "cpu ms");
  }
  std::vector<std::string> json_rows;
  int64_t first = lab.first;
  std::map<std::string, int64_t> terms;
  int64_t documents = 0;
  for (int64_t batch : lab.batches) {
    if (lab.count == 0) break;
    const Stage s = AddBatches(generator, db, first, lab.count, batch);
    first += lab.count;
    for (const auto& [prefix, count] : s.terms) terms[prefix] += count;
    documents += s.documents;
    const double n = static_cast<double>(lab.count);
    const Clock total = s.Total();
    std::printf(
        "%6lld | %10.2f %10.2f | %10.2f %10.2f | %10.2f %10.2f | %10.2f "
        "%10.2f\n",
        static_cast<long long>(batch), s.build.wall_ms / n, s.build.cpu_ms / n,
        s.replace.wall_ms / n, s.replace.cpu_ms / n, s.commit.wall_ms / n,
        s.commit.cpu_ms / n, total.wall_ms / n, total.cpu_ms / n);
    json_rows.push_back(absl::StrFormat(
        R"({"batch": %d, "build_ms": %.3f, "replace_ms": %.3f, "commit_ms": %.3f, "total_ms": %.3f, "total_cpu_ms": %.3f})",
        batch, s.build.wall_ms / n, s.replace.wall_ms / n, s.commit.wall_ms / n,
        total.wall_ms / n, total.cpu_ms / n));
  }
  if (lab.count > 0) {
    std::printf("(per postmortem; %lld postmortems per batch size)\n",
                static_cast<long long>(lab.count));
  }
  if (lab.terms && documents > 0) {
    std::vector<std::string> kinds;
    int64_t all = 0;
    for (const auto& [prefix, count] : terms) {
      all += count;
      kinds.push_back(absl::StrFormat("%s %.1f",
                                      prefix.empty() ? "(none)" : prefix,
                                      static_cast<double>(count) / documents));
    }
    std::printf("terms per postmortem: %.1f; by prefix: %s\n",
                static_cast<double>(all) / documents,
                absl::StrJoin(kinds, ", ").c_str());
  }
  if (lab.servable) {
    index::InstallSynonyms(db);
    db.set_metadata(index::kSchemaVersionKey, index::IndexFormatVersion());
    db.commit();
    std::printf("servable: synonyms and format %s installed\n",
                index::IndexFormatVersion().c_str());
  }
  if (lab.json) {
    std::printf("{\"documents\": %u, \"rows\": [%s]}\n", db.get_doccount(),
                absl::StrJoin(json_rows, ", ").c_str());
  }
  return 0;
}

}  // namespace
}  // namespace deja::bench

int main(int argc, char** argv) {
  absl::StatusOr<deja::bench::LabOptions> lab =
      deja::bench::ParseArgs(argc, argv);
  if (!lab.ok()) {
    std::fprintf(stderr, "index_write_lab: %s\n\n%s",
                 std::string(lab.status().message()).c_str(),
                 std::string(deja::bench::kUsage).c_str());
    return 2;
  }
  try {
    return deja::bench::Run(*lab);
  } catch (const Xapian::Error& e) {
    std::fprintf(stderr, "index_write_lab: %s\n", e.get_description().c_str());
    return 1;
  }
}
