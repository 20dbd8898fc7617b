#include "bench/similarity_options.h"

#include <map>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace deja::bench {

absl::Status SetSimilarityOption(const std::string& name,
                                 const std::string& value,
                                 index::SimilarityOptions& options) {
  const std::map<std::string, double*> doubles = {
      {"k1", &options.k1},
      {"b", &options.b},
      {"log_word_weight", &options.log_word_weight},
      {"service_word_weight", &options.service_word_weight},
      {"proximity_weight", &options.proximity_weight},
      {"title_summary_weight", &options.title_summary_weight},
      {"coverage_mix", &options.coverage_mix},
      {"feedback_weight", &options.feedback_weight},
      {"feedback_fusion", &options.feedback_fusion},
      {"feedback_max_share", &options.feedback_max_share},
      {"feedback_gap_max_share", &options.feedback_gap_max_share},
      {"common_word_share", &options.common_word_share},
      {"signature_bonus", &options.signature_bonus},
      {"service_bonus", &options.service_bonus},
      {"seen_before_score", &options.seen_before_score},
      {"related_score", &options.related_score},
  };
  const std::map<std::string, int*> ints = {
      {"feedback_documents", &options.feedback_documents},
      {"feedback_terms", &options.feedback_terms},
      {"feedback_min_documents", &options.feedback_min_documents},
      {"candidates", &options.candidates},
      {"first_pass_candidates", &options.first_pass_candidates},
      {"headline_above_postings", &options.headline_above_postings},
      {"max_query_terms", &options.max_query_terms},
  };
  const std::map<std::string, bool*> bools = {
      {"synonyms", &options.synonyms},
      {"feedback_from_short_fields", &options.feedback_from_short_fields},
      {"feedback_rescores_only", &options.feedback_rescores_only},
  };
  bool parsed = false;
  if (auto d = doubles.find(name); d != doubles.end()) {
    parsed = absl::SimpleAtod(value, d->second);
  } else if (auto i = ints.find(name); i != ints.end()) {
    parsed = absl::SimpleAtoi(value, i->second) && *i->second >= 0;
  } else if (auto f = bools.find(name); f != bools.end()) {
    parsed = absl::SimpleAtob(value, f->second);
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown SimilarityOptions field '", name,
                     "' (see indexer/similarity.h)"));
  }
  if (!parsed) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad value '", value, "' for ", name));
  }
  return absl::OkStatus();
}

}  // namespace deja::bench
