#ifndef DEJA_BENCH_SIMILARITY_OPTIONS_H_
#define DEJA_BENCH_SIMILARITY_OPTIONS_H_

// `--set name=value` for the labs that try variants of FindSimilar's
// options (similarity_lab, linking_lab): one field of
// index::SimilarityOptions, by its name in indexer/similarity.h.

#include <string>

#include "absl/status/status.h"
#include "indexer/similarity.h"

namespace deja::bench {

// Sets field `name` of `options` from `value` (a number; true/false or 1/0
// for a flag). INVALID_ARGUMENT naming the field or the value otherwise.
absl::Status SetSimilarityOption(const std::string& name,
                                 const std::string& value,
                                 index::SimilarityOptions& options);

}  // namespace deja::bench

#endif  // DEJA_BENCH_SIMILARITY_OPTIONS_H_
