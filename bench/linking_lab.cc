// linking_lab: what recurrence linking costs and finds. The indexer links
// every postmortem it indexes to its earlier occurrences ("more like this"
// with index::LinkingOptions(), see SuggestLinks in indexer/index_sync.cc),
// so the time per link bounds indexing throughput. This lab indexes the
// synthetic corpus (bench/corpus) with the real BuildDocument, links a
// sample of its postmortems the way the indexer does, and scores the links
// against the corpus's families, for LinkingOptions() and for variants of
// it. See kUsage.

#include <stdlib.h>
#include <xapian.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <map>
#include <optional>
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
#include "bench/corpus/corpus_generator.h"
#include "bench/lab_variants.h"
#include "bench/similarity_options.h"
#include "cli/progress.h"
#include "deja/v1/postmortem.pb.h"
#include "deja/v1/search_service.pb.h"
#include "indexer/document_builder.h"
#include "indexer/index_schema.h"
#include "indexer/index_sync.h"
#include "indexer/similarity.h"

namespace deja::bench {
namespace {

namespace fs = std::filesystem;

constexpr absl::string_view kUsage =
    R"(linking_lab: the cost and quality of recurrence linking.

The indexer links every postmortem it indexes to its earlier occurrences:
"more like this" with index::LinkingOptions(), keeping the matches that score
at least 0.7, the best 3 (SuggestLinks in indexer/index_sync.cc). This lab
does the same on the synthetic corpus (bench/corpus) and scores the links
against its families (the same failure written up again): a link is right
when both postmortems are of one family. The whole corpus is indexed, so a
postmortem may also link to later members of its family.

Usage:
  linking_lab [--size N] [--seed S] [--index DIR] [--samples K]
              [--set name=value ...] [--sweep name=a,b,c ...] [--json]

  --size N     corpus size (default 20000)
  --seed S     corpus seed (default 1)
  --index DIR  where the index is kept. Built there (about 2 minutes for
               20,000) when DIR is absent or empty; reused when it holds the
               index of the same --size and --seed (stored in its metadata);
               an error otherwise. Delete DIR after changing the document
               builder. Without --index: a temporary index, removed at exit.
  --samples K  postmortems linked per variant (default 300), spread evenly
               over the corpus; the same ones for every variant.
  --set name=value
               overrides a SimilarityOptions field (indexer/similarity.h) of
               LinkingOptions() for every variant, e.g. --set candidates=50;
               numbers, and 0/1 for the booleans. Repeatable.
  --sweep name=a,b,c
               one variant per value (on top of the --set ones). Repeatable:
               each sweep adds its own rows. Without --sweep, the --set
               options make one variant.
  --json       also prints one JSON object with every figure as the last
               line of stdout.

Rows: the baseline (LinkingOptions() as is) first, then the variants, then
the baseline again; the two baseline rows show how much the machine drifted
during the run. Columns:
  p50 / p90 ms   wall time of one link (one RunFindSimilar, limit 8 as the
                 indexer asks), median and 90th percentile
  ratio          p50 over the first baseline's p50: compare rows by this on
                 a noisy machine, not by milliseconds
  links          links kept over all samples (score >= 0.7, best 3 each)
  precision      share of the links within the sample's family
  recall@3       links within the family / min(3, family size - 1), summed
                 over the samples that have a family
  agreement      Jaccard of the (sample, linked postmortem) pairs with the
                 first baseline's: 1 means the same links
)";

constexpr int64_t kCommitEvery = 500;
constexpr int64_t kProgressEvery = 5000;
// Metadata naming the corpus an index holds, so that a run never scores
// links against the families of another corpus.
constexpr char kSizeKey[] = "deja.linking_lab.size";
constexpr char kSeedKey[] = "deja.linking_lab.seed";

CorpusOptions DefaultCorpus() {
  CorpusOptions corpus;
  corpus.seed = 1;
  corpus.size = 20000;
  return corpus;
}

struct LabOptions {
  CorpusOptions corpus = DefaultCorpus();
  std::string index_dir;
  int64_t samples = 300;
  // The --set assignments, in order, and the --sweep ones: one list of
  // values per swept option.
  Settings settings;
  Sweeps sweeps;
  bool json = false;
  bool help = false;
};

absl::StatusOr<int64_t> PositiveInt(const std::string& flag,
                                    const std::string& text) {
  int64_t value = 0;
  if (!absl::SimpleAtoi(text, &value) || value < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--", flag, ": expected an integer >= 1, got '", text, "'"));
  }
  return value;
}

absl::StatusOr<LabOptions> ParseArgs(int argc, char** argv) {
  LabOptions lab;
  for (int k = 1; k < argc; ++k) {
    std::string flag = argv[k];
    if (flag == "--help" || flag == "-h") {
      lab.help = true;
      return lab;
    }
    if (!absl::StartsWith(flag, "--")) {
      return absl::InvalidArgumentError(
          absl::StrCat("unexpected argument '", flag, "'"));
    }
    flag = flag.substr(2);
    if (flag == "json") {
      lab.json = true;
      continue;
    }
    std::string value;
    // --name=value or --name value; the value may hold '=' itself.
    if (const size_t equals = flag.find('='); equals != std::string::npos) {
      value = flag.substr(equals + 1);
      flag = flag.substr(0, equals);
    } else if (k + 1 < argc) {
      value = argv[++k];
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("--", flag, " needs a value"));
    }
    if (flag == "size" || flag == "samples") {
      absl::StatusOr<int64_t> number = PositiveInt(flag, value);
      if (!number.ok()) return number.status();
      (flag == "size" ? lab.corpus.size : lab.samples) = *number;
    } else if (flag == "seed") {
      if (!absl::SimpleAtoi(value, &lab.corpus.seed)) {
        return absl::InvalidArgumentError(absl::StrCat(
            "--seed: expected an unsigned integer, got '", value, "'"));
      }
    } else if (flag == "index") {
      lab.index_dir = value;
    } else if (flag == "set" || flag == "sweep") {
      absl::Status added =
          AddVariantFlag(flag, value, lab.settings, lab.sweeps);
      if (!added.ok()) return added;
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown option --", flag));
    }
  }
  if (lab.samples > lab.corpus.size) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--samples ", lab.samples, " exceeds --size ", lab.corpus.size));
  }
  return lab;
}

// A fixed, valid-looking UUID per corpus index, as the store would assign.
std::string PostmortemId(int64_t i) {
  return absl::StrFormat("00000000-0000-4000-8000-%012d", i);
}

std::string CorpusText(int64_t size, uint64_t seed) {
  return absl::StrCat("--size ", size, " --seed ", seed);
}

// Throws Xapian::Error.
void BuildIndex(const std::string& path, const CorpusGenerator& generator) {
  const int64_t size = generator.options().size;
  Xapian::WritableDatabase db(path, Xapian::DB_CREATE);
  const absl::Time start = absl::Now();
  for (int64_t i = 0; i < size; ++i) {
    v1::Postmortem postmortem = generator.Postmortem(i);
    postmortem.set_id(PostmortemId(i));
    postmortem.set_version(1);
    db.replace_document(index::IdTerm(postmortem.id()),
                        index::BuildDocument(postmortem, &db));
    if ((i + 1) % kCommitEvery == 0) db.commit();
    if ((i + 1) % kProgressEvery == 0 || i + 1 == size) {
      std::fprintf(
          stderr, "%s\n",
          cli::PlainProgressLine("indexing", i + 1, size, absl::Now() - start)
              .c_str());
    }
  }
  // Written last: an interrupted build leaves an index without them, which
  // is then refused rather than half-used.
  db.set_metadata(kSizeKey, absl::StrCat(size));
  db.set_metadata(kSeedKey, absl::StrCat(generator.options().seed));
  db.set_metadata(index::kSchemaVersionKey, index::IndexFormatVersion());
  db.commit();
}

// Opens the index of `generator`'s corpus at `path`, building it first when
// `path` is absent or empty.
absl::StatusOr<Xapian::Database> OpenIndex(const std::string& path,
                                           const CorpusGenerator& generator) {
  std::error_code error;
  const bool empty = !fs::exists(path, error) || fs::is_empty(path, error);
  const CorpusOptions& corpus = generator.options();
  try {
    if (empty) {
      std::fprintf(stderr, "building the index of %s in %s\n",
                   CorpusText(corpus.size, corpus.seed).c_str(), path.c_str());
      BuildIndex(path, generator);
    }
    Xapian::Database db(path);
    const std::string size = db.get_metadata(kSizeKey);
    const std::string seed = db.get_metadata(kSeedKey);
    if (size.empty() || seed.empty()) {
      return absl::FailedPreconditionError(absl::StrCat(
          path,
          " holds no complete linking_lab index (another tool's, or an "
          "interrupted build): remove it or choose another --index"));
    }
    if (size != absl::StrCat(corpus.size) ||
        seed != absl::StrCat(corpus.seed)) {
      return absl::FailedPreconditionError(absl::StrCat(
          "index ", path, " was built for --size ", size, " --seed ", seed,
          ", not for ", CorpusText(corpus.size, corpus.seed),
          ": remove it or choose another --index"));
    }
    if (db.get_metadata(index::kSchemaVersionKey) !=
        index::IndexFormatVersion()) {
      return absl::FailedPreconditionError(
          absl::StrCat("index ", path, " has another schema version than ",
                       index::IndexFormatVersion(), ": remove it to rebuild"));
    }
    if (!empty) {
      std::fprintf(stderr, "reusing the index of %s in %s\n",
                   CorpusText(corpus.size, corpus.seed).c_str(), path.c_str());
    }
    return db;
  } catch (const Xapian::Error& e) {
    return absl::UnavailableError(
        absl::StrCat("index ", path, ": ", e.get_description()));
  }
}

// A sampled postmortem and what its links should be.
struct Sample {
  int64_t index = 0;
  std::string id;
  // The other members of its family; empty for a one-off.
  std::set<std::string> family_ids;
};

// `count` postmortems at even spacing: families are spread over the corpus
// by the generator's shuffle, so spacing does not favour any of them.
std::vector<Sample> PickSamples(const CorpusGenerator& generator,
                                int64_t count) {
  const int64_t size = generator.options().size;
  std::vector<Sample> samples;
  for (int64_t s = 0; s < count; ++s) {
    Sample sample;
    sample.index = (2 * s + 1) * size / (2 * count);
    sample.id = PostmortemId(sample.index);
    const int64_t family = generator.FamilyOf(sample.index);
    if (family >= 0) {
      for (int64_t member : generator.FamilyMembers(family)) {
        if (member != sample.index)
          sample.family_ids.insert(PostmortemId(member));
      }
    }
    samples.push_back(std::move(sample));
  }
  return samples;
}

// One pass of linking over the samples.
struct Run {
  std::vector<double> milliseconds;             // per sample
  std::vector<std::vector<std::string>> links;  // per sample, best first
};

// What SuggestLinks keeps of a "more like this" answer: the matches at or
// over the threshold other than the postmortem itself, best score first,
// at most max_links.
std::vector<std::string> KeptLinks(const v1::FindSimilarResponse& response,
                                   const std::string& self,
                                   const IndexSyncOptions& indexer) {
  std::vector<const v1::SimilarIncident*> matches;
  for (const v1::SimilarIncident& match : response.incidents()) {
    if (match.score() >= indexer.link_threshold &&
        match.incident().id() != self) {
      matches.push_back(&match);
    }
  }
  std::stable_sort(
      matches.begin(), matches.end(),
      [](const auto* a, const auto* b) { return a->score() > b->score(); });
  std::vector<std::string> ids;
  for (const v1::SimilarIncident* match : matches) {
    if (ids.size() == static_cast<size_t>(indexer.max_links)) break;
    ids.push_back(match->incident().id());
  }
  return ids;
}

absl::StatusOr<Run> LinkSamples(const Xapian::Database& db,
                                const std::vector<Sample>& samples,
                                const index::SimilarityOptions& options) {
  const IndexSyncOptions indexer;
  const int64_t now = absl::ToUnixSeconds(absl::Now());
  Run run;
  for (const Sample& sample : samples) {
    v1::FindSimilarRequest request;
    request.set_postmortem_id(sample.id);
    request.set_limit(std::min(indexer.max_links + 5, 50));
    const auto start = std::chrono::steady_clock::now();
    absl::StatusOr<v1::FindSimilarResponse> response =
        index::RunFindSimilar(db, request, now, options);
    run.milliseconds.push_back(std::chrono::duration<double, std::milli>(
                                   std::chrono::steady_clock::now() - start)
                                   .count());
    // A failed link would bias every figure: stop instead.
    if (!response.ok()) {
      return absl::Status(response.status().code(),
                          absl::StrCat("linking ", sample.id, ": ",
                                       response.status().message()));
    }
    run.links.push_back(KeptLinks(*response, sample.id, indexer));
  }
  return run;
}

// One row of the table.
struct Row {
  std::string name;
  Settings settings;
  double p50_ms = 0;
  double p90_ms = 0;
  double mean_ms = 0;
  double ratio = 0;
  int64_t links = 0;
  int64_t family_links = 0;
  int64_t reachable = 0;  // sum of min(3, family size - 1)
  double agreement = 0;
};

Row Score(std::string name, Settings settings, const Run& run,
          const Run* baseline, const std::vector<Sample>& samples) {
  Row row;
  row.name = std::move(name);
  row.settings = std::move(settings);
  row.p50_ms = Percentile(run.milliseconds, 0.5);
  row.p90_ms = Percentile(run.milliseconds, 0.9);
  double total = 0;
  for (double ms : run.milliseconds) total += ms;
  row.mean_ms = total / std::max<size_t>(1, run.milliseconds.size());
  const Run& reference = baseline == nullptr ? run : *baseline;
  row.ratio = baseline == nullptr
                  ? 1.0
                  : row.p50_ms / Percentile(baseline->milliseconds, 0.5);
  const int64_t max_links = IndexSyncOptions().max_links;
  int64_t shared = 0;
  int64_t either = 0;
  for (size_t s = 0; s < samples.size(); ++s) {
    const std::vector<std::string>& links = run.links[s];
    row.links += links.size();
    for (const std::string& id : links) {
      row.family_links += samples[s].family_ids.count(id);
    }
    row.reachable += std::min<int64_t>(max_links, samples[s].family_ids.size());
    std::set<std::string> ours(links.begin(), links.end());
    std::set<std::string> theirs(reference.links[s].begin(),
                                 reference.links[s].end());
    for (const std::string& id : ours) shared += theirs.count(id);
    either += ours.size() + theirs.size();
  }
  either -= shared;
  row.agreement = either == 0 ? 1.0 : Share(shared, either);
  return row;
}

void PrintTable(const std::vector<Row>& rows) {
  size_t width = 8;
  for (const Row& row : rows) width = std::max(width, row.name.size());
  std::printf("%-*s %8s %8s %6s %6s %9s %8s %9s\n", static_cast<int>(width),
              "variant", "p50 ms", "p90 ms", "ratio", "links", "precision",
              "recall@3", "agreement");
  for (const Row& row : rows) {
    std::printf("%-*s %8.2f %8.2f %6.2f %6lld %9.3f %8.3f %9.3f\n",
                static_cast<int>(width), row.name.c_str(), row.p50_ms,
                row.p90_ms, row.ratio, static_cast<long long>(row.links),
                Share(row.family_links, row.links),
                Share(row.family_links, row.reachable), row.agreement);
  }
}

std::string RowJson(const Row& row) {
  return absl::StrFormat(
      "{\"variant\": %s, \"settings\": %s, \"p50_ms\": %.3f, \"p90_ms\": "
      "%.3f, \"mean_ms\": %.3f, \"ratio\": %.3f, \"links\": %d, "
      "\"family_links\": %d, \"precision\": %.4f, \"recall_at_3\": %.4f, "
      "\"agreement\": %.4f}",
      JsonString(row.name), SettingsJson(row.settings), row.p50_ms, row.p90_ms,
      row.mean_ms, row.ratio, row.links, row.family_links,
      Share(row.family_links, row.links),
      Share(row.family_links, row.reachable), row.agreement);
}

absl::StatusOr<int> Lab(const LabOptions& lab) {
  const CorpusGenerator generator(lab.corpus);
  std::string index_dir = lab.index_dir;
  // Removes a temporary index however Lab returns.
  struct RemoveOnExit {
    fs::path path;
    ~RemoveOnExit() {
      std::error_code ignored;
      if (!path.empty()) fs::remove_all(path, ignored);
    }
  } remove_on_exit;
  if (index_dir.empty()) {
    std::string pattern =
        (fs::temp_directory_path() / "deja-linking-lab-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) {
      return absl::InternalError("cannot create a temporary directory");
    }
    remove_on_exit.path = pattern;
    index_dir = pattern;
  }
  absl::StatusOr<Xapian::Database> db = OpenIndex(index_dir, generator);
  if (!db.ok()) return db.status();

  const std::vector<Sample> samples = PickSamples(generator, lab.samples);
  int64_t in_family = 0;
  for (const Sample& sample : samples) in_family += !sample.family_ids.empty();
  std::fprintf(stderr, "%lld samples, %lld of them in a family\n",
               static_cast<long long>(samples.size()),
               static_cast<long long>(in_family));

  const index::SimilarityOptions baseline_options = index::LinkingOptions();
  // Untimed: loads the index's pages, which the first timed pass would
  // otherwise pay for alone.
  if (absl::StatusOr<Run> warm = LinkSamples(*db, samples, baseline_options);
      !warm.ok()) {
    return warm.status();
  }
  absl::StatusOr<Run> baseline = LinkSamples(*db, samples, baseline_options);
  if (!baseline.ok()) return baseline.status();
  std::vector<Row> rows;
  rows.push_back(Score("baseline", {}, *baseline, nullptr, samples));
  for (const Settings& settings : Variants(lab.settings, lab.sweeps)) {
    index::SimilarityOptions options = baseline_options;
    for (const auto& [name, value] : settings) {
      // Checked when parsed.
      (void)SetSimilarityOption(name, value, options);
    }
    const std::string name = VariantName(settings);
    std::fprintf(stderr, "running %s\n", name.c_str());
    absl::StatusOr<Run> run = LinkSamples(*db, samples, options);
    if (!run.ok()) return run.status();
    rows.push_back(Score(name, settings, *run, &*baseline, samples));
  }
  absl::StatusOr<Run> again = LinkSamples(*db, samples, baseline_options);
  if (!again.ok()) return again.status();
  rows.push_back(Score("baseline again", {}, *again, &*baseline, samples));

  const index::SimilarityOptions& o = baseline_options;
  std::printf(
      "corpus %s, %lld samples (%lld in a family); baseline = "
      "LinkingOptions(): max_query_terms=%d candidates=%d "
      "title_summary_weight=%g feedback_documents=%d\n",
      CorpusText(lab.corpus.size, lab.corpus.seed).c_str(),
      static_cast<long long>(samples.size()), static_cast<long long>(in_family),
      o.max_query_terms, o.candidates, o.title_summary_weight,
      o.feedback_documents);
  PrintTable(rows);
  std::printf("baseline drift: p50 %.2f ms at the start, %.2f ms at the end\n",
              rows.front().p50_ms, rows.back().p50_ms);
  if (lab.json) {
    std::vector<std::string> row_json;
    for (const Row& row : rows) row_json.push_back(RowJson(row));
    absl::PrintF(
        "{\"size\": %d, \"seed\": %d, \"samples\": %d, "
        "\"samples_in_family\": %d, \"baseline_options\": "
        "{\"max_query_terms\": %d, \"candidates\": %d, "
        "\"title_summary_weight\": %g, \"feedback_documents\": %d}, "
        "\"baseline_p50_ms_start\": %.3f, \"baseline_p50_ms_end\": %.3f, "
        "\"rows\": [%s]}\n",
        lab.corpus.size, lab.corpus.seed, samples.size(), in_family,
        o.max_query_terms, o.candidates, o.title_summary_weight,
        o.feedback_documents, rows.front().p50_ms, rows.back().p50_ms,
        absl::StrJoin(row_json, ", "));
  }
  return 0;
}

int Main(int argc, char** argv) {
  absl::StatusOr<LabOptions> lab = ParseArgs(argc, argv);
  if (!lab.ok()) {
    std::fprintf(stderr, "linking_lab: %s\n(--help for usage)\n",
                 std::string(lab.status().message()).c_str());
    return 2;
  }
  if (lab->help) {
    std::fwrite(kUsage.data(), 1, kUsage.size(), stdout);
    return 0;
  }
  absl::StatusOr<int> code = Lab(*lab);
  if (!code.ok()) {
    std::fprintf(stderr, "linking_lab: %s\n", code.status().ToString().c_str());
    return 1;
  }
  return *code;
}

}  // namespace
}  // namespace deja::bench

int main(int argc, char** argv) { return deja::bench::Main(argc, argv); }
