#ifndef DEJA_TESTS_TESTING_FAKE_RECURRENCE_STORE_H_
#define DEJA_TESTS_TESTING_FAKE_RECURRENCE_STORE_H_

// An in-memory RecurrenceStore for unit tests, keeping the contract of
// core/recurrence_store.h: suggestions become AUTO / SUGGESTED links, a
// decided link keeps its state (a REJECTED one never comes back), the
// postmortem's SUGGESTED AUTO links not suggested again are removed; List
// filters by either side and by state, newest repeat (started_at) first,
// with page tokens; Decide answers NOT_FOUND naming the pair. `counted` is
// the recurrences view's rule (CONFIRMED, or SUGGESTED with score >= 0.85).
// Every call is recorded, and faults are injected per method. Thread-safe.

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "core/recurrence_store.h"

namespace deja::testing {

class FakeRecurrenceStore : public RecurrenceStore {
 public:
  enum class Method { kRecordSuggestions, kList, kDecide };

  struct RecordCall {
    std::string postmortem_id;
    std::vector<SuggestedLink> links;
  };

  // Adds or replaces a link (by postmortem_id, earlier_id) as given.
  void Put(const v1::RecurrenceLink& link);
  // The next `times` calls of `method` return `status` and change nothing
  // (they are still recorded).
  void FailNext(Method method, absl::Status status, int times = 1);

  // Every link, ordered by (postmortem_id, earlier_id).
  std::vector<v1::RecurrenceLink> links() const;
  std::optional<v1::RecurrenceLink> Find(const std::string& postmortem_id,
                                         const std::string& earlier_id) const;
  std::vector<RecordCall> record_calls() const;
  std::optional<v1::ListRecurrencesRequest> last_list() const;
  std::optional<v1::DecideRecurrenceRequest> last_decide() const;
  v1::RecurrenceLink::State last_decided_state() const;

  absl::Status RecordSuggestions(
      const std::string& postmortem_id,
      const std::vector<SuggestedLink>& links) override;
  absl::StatusOr<v1::ListRecurrencesResponse> List(
      const v1::ListRecurrencesRequest& request) override;
  absl::StatusOr<v1::RecurrenceLink> Decide(
      const v1::DecideRecurrenceRequest& request,
      v1::RecurrenceLink::State state) override;

 private:
  using Key = std::pair<std::string, std::string>;

  std::optional<absl::Status> TakeFailure(Method method)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  std::map<Key, v1::RecurrenceLink> links_ ABSL_GUARDED_BY(mu_);
  std::map<Method, std::vector<absl::Status>> failures_ ABSL_GUARDED_BY(mu_);
  std::vector<RecordCall> record_calls_ ABSL_GUARDED_BY(mu_);
  std::optional<v1::ListRecurrencesRequest> last_list_ ABSL_GUARDED_BY(mu_);
  std::optional<v1::DecideRecurrenceRequest> last_decide_ ABSL_GUARDED_BY(mu_);
  v1::RecurrenceLink::State last_decided_state_ ABSL_GUARDED_BY(mu_) =
      v1::RecurrenceLink::STATE_UNSPECIFIED;
};

}  // namespace deja::testing

#endif  // DEJA_TESTS_TESTING_FAKE_RECURRENCE_STORE_H_
