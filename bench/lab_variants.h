#ifndef DEJA_BENCH_LAB_VARIANTS_H_
#define DEJA_BENCH_LAB_VARIANTS_H_

// What the FindSimilar labs (linking_lab, find_similar_lab) share: their
// `--set` / `--sweep` variants of index::SimilarityOptions, and the figures
// and JSON of their tables.

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace deja::bench {

// name -> value of SimilarityOptions fields (bench/similarity_options.h).
using Settings = std::vector<std::pair<std::string, std::string>>;

// name -> the values swept, one variant each.
using Sweeps = std::vector<std::pair<std::string, std::vector<std::string>>>;

// Records `--set name=value` (flag "set") in `settings` or `--sweep
// name=a,b,c` (flag "sweep") in `sweeps`, each value checked against
// SimilarityOptions so that a typo fails before any work. INVALID_ARGUMENT
// naming the flag otherwise.
absl::Status AddVariantFlag(const std::string& flag, const std::string& text,
                            Settings& settings, Sweeps& sweeps);

// The variants run after the baseline: the --set ones alone when nothing is
// swept, else one per swept value, each on top of the --set ones.
std::vector<Settings> Variants(const Settings& settings, const Sweeps& sweeps);

// "name=value name=value".
std::string VariantName(const Settings& settings);

// The value at `fraction` (0..1) of `values` by nearest rank; 0 when empty.
double Percentile(std::vector<double> values, double fraction);

// `part / whole`, 0 when whole is 0.
double Share(double part, double whole);

// `text` as a JSON string literal, quotes included.
std::string JsonString(absl::string_view text);

// {"name": "value", ...}.
std::string SettingsJson(const Settings& settings);

}  // namespace deja::bench

#endif  // DEJA_BENCH_LAB_VARIANTS_H_
