#ifndef DEJA_BENCH_CORPUS_CORPUS_GENERATOR_H_
#define DEJA_BENCH_CORPUS_CORPUS_GENERATOR_H_

// The synthetic postmortem corpus of the performance benchmarks: `size`
// realistic postmortems, some of them grouped in families (the same failure
// written up again on another day, in other words), and the queries people
// would run against them with their ground truth.
//
// Everything is a pure function of the options and the index asked for, so
// any slice can be made in any order and on any thread: a CorpusGenerator is
// immutable after construction and safe to share between threads.
// Generated postmortems pass ValidatePostmortem and the blameless check.

#include <cstdint>
#include <vector>

#include "deja/v1/postmortem.pb.h"
#include "deja/v1/search_service.pb.h"

namespace deja::bench {

struct CorpusOptions {
  uint64_t seed = 1;
  int64_t size = 100000;
};

class CorpusGenerator {
 public:
  explicit CorpusGenerator(CorpusOptions options);

  const CorpusOptions& options() const { return options_; }

  // The i-th postmortem, 0 <= i < size; external_id is "gen-<seed>-<i>".
  v1::Postmortem Postmortem(int64_t i) const;

  // The family of postmortem i, or -1 for a one-off. Members of a family are
  // the same failure mode on the same or a sibling service, written in
  // paraphrase, on other hosts and days.
  int64_t FamilyOf(int64_t i) const;
  // Indexes of the family's members (all < size), ascending; empty for an
  // unknown family.
  std::vector<int64_t> FamilyMembers(int64_t family) const;
  int64_t family_count() const {
    return static_cast<int64_t>(family_starts_.size()) - 1;
  }

  // What an on-call engineer pastes in on a new occurrence of a family's
  // failure: paraphrased symptoms, usually log lines of the family's shape
  // with new hosts, ids and times, sometimes the service. About 15% describe
  // a failure no postmortem has (family -1: nothing should match).
  struct FindSimilarQuery {
    v1::FindSimilarRequest request;
    int64_t family = -1;
  };
  // Any q >= 0; deterministic by q.
  FindSimilarQuery FindSimilar(int64_t q) const;

  // What people type into search: a few words, sometimes a quoted phrase,
  // field filters and a started: range in the query language, sometimes
  // structured filters. Any q >= 0; deterministic by q.
  v1::SearchRequest Search(int64_t q) const;

 private:
  struct Family;

  Family FamilyTraits(int64_t family) const;
  // The position of index i in the shuffled order, and back.
  uint64_t Shuffle(uint64_t i) const;
  uint64_t Unshuffle(uint64_t position) const;

  CorpusOptions options_;
  // Positions [family_starts_[f], family_starts_[f + 1]) of the shuffled
  // order are family f; the positions after the last are one-offs.
  std::vector<int64_t> family_starts_;
  int shuffle_half_bits_ = 1;
};

}  // namespace deja::bench

#endif  // DEJA_BENCH_CORPUS_CORPUS_GENERATOR_H_
