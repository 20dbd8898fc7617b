#ifndef DEJA_TESTS_TESTING_FAKE_POSTMORTEM_SEARCHER_H_
#define DEJA_TESTS_TESTING_FAKE_POSTMORTEM_SEARCHER_H_

// A PostmortemSearcher for unit tests: answers with responses set by the
// test, records what it was asked, and keeps a map of "indexed" postmortem
// versions that WaitUntilSearchable waits on for real (MarkIndexed from
// another thread wakes it). Fault injection as in FakePostmortemStore.
// Thread-safe.

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "core/postmortem_searcher.h"

namespace deja::testing {

class FakePostmortemSearcher : public PostmortemSearcher {
 public:
  // The next call (any method) returns `status`.
  void FailNextCall(absl::Status status);
  // The next call throws std::runtime_error(what), like a buggy adapter.
  void ThrowNextCall(std::string what);

  void SetSearchResponse(v1::SearchResponse response);
  void SetFindSimilarResponse(v1::FindSimilarResponse response);
  void SetDocumentCount(int64_t count);
  // The index now holds `id` at `version` (0: removed); wakes waiters.
  void MarkIndexed(const std::string& id, int64_t version);

  // What the last calls received.
  v1::SearchRequest last_search() const;
  v1::FindSimilarRequest last_find_similar() const;
  absl::Time last_now() const;
  absl::Time last_wait_deadline() const;
  int wait_calls() const;

  absl::StatusOr<v1::SearchResponse> Search(const v1::SearchRequest& request,
                                            absl::Time now) override;
  absl::StatusOr<v1::FindSimilarResponse> FindSimilar(
      const v1::FindSimilarRequest& request, absl::Time now) override;
  absl::Status WaitUntilSearchable(absl::string_view postmortem_id,
                                   int64_t version,
                                   absl::Time deadline) override;
  absl::StatusOr<int64_t> DocumentCount() override;

 private:
  absl::Status Enter() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  std::optional<absl::Status> next_failure_ ABSL_GUARDED_BY(mu_);
  std::optional<std::string> next_throw_ ABSL_GUARDED_BY(mu_);
  v1::SearchResponse search_response_ ABSL_GUARDED_BY(mu_);
  v1::FindSimilarResponse find_similar_response_ ABSL_GUARDED_BY(mu_);
  int64_t document_count_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<std::string, int64_t> indexed_ ABSL_GUARDED_BY(mu_);
  v1::SearchRequest last_search_ ABSL_GUARDED_BY(mu_);
  v1::FindSimilarRequest last_find_similar_ ABSL_GUARDED_BY(mu_);
  absl::Time last_now_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  absl::Time last_wait_deadline_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  int wait_calls_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace deja::testing

#endif  // DEJA_TESTS_TESTING_FAKE_POSTMORTEM_SEARCHER_H_
