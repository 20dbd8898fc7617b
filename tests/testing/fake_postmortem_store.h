#ifndef DEJA_TESTS_TESTING_FAKE_POSTMORTEM_STORE_H_
#define DEJA_TESTS_TESTING_FAKE_POSTMORTEM_STORE_H_

// An in-memory PostmortemStore for unit tests, keeping the contract of
// core/postmortem_store.h (UUID-shaped ids, counted from 1; versions;
// request_id replay; PUBLISHED by default; ABORTED on a stale
// version; DEADLINE_EXCEEDED when the deadline has passed) plus fault
// injection. Thread-safe.

#include <map>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "core/postmortem_store.h"

namespace deja::testing {

class FakePostmortemStore : public PostmortemStore {
 public:
  // The next call (any method) returns `status` and changes nothing.
  void FailNextCall(absl::Status status);
  // The next call throws std::runtime_error(what), like a buggy adapter.
  void ThrowNextCall(std::string what);
  // The deadline the last call received.
  absl::Time last_deadline() const;

  absl::StatusOr<SubmitResult> Submit(const v1::Postmortem& postmortem,
                                      absl::string_view request_id,
                                      absl::Time deadline) override;
  absl::StatusOr<v1::Postmortem> Get(absl::string_view id,
                                     absl::Time deadline) override;
  absl::StatusOr<ListResult> List(const v1::ListPostmortemsRequest& request,
                                  absl::Time deadline) override;
  absl::StatusOr<v1::Postmortem> Update(const v1::Postmortem& postmortem,
                                        int64_t expected_version,
                                        absl::Time deadline) override;
  absl::StatusOr<v1::ActionItem> UpdateActionItem(
      const v1::UpdateActionItemRequest& request, absl::Time deadline) override;
  absl::Status Delete(absl::string_view id, int64_t expected_version,
                      absl::Time deadline) override;

 private:
  struct Replay {
    std::string content;  // serialized postmortem of the first request
    std::string id;
  };

  // Applies injected faults and the deadline; every method calls it first.
  absl::Status Enter(absl::Time deadline) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  v1::Postmortem* Find(absl::string_view id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void AssignActionItemIds(v1::Postmortem& postmortem)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  std::optional<absl::Status> next_failure_ ABSL_GUARDED_BY(mu_);
  std::optional<std::string> next_throw_ ABSL_GUARDED_BY(mu_);
  absl::Time last_deadline_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  int next_id_ ABSL_GUARDED_BY(mu_) = 1;
  int next_action_item_id_ ABSL_GUARDED_BY(mu_) = 1;
  std::map<std::string, v1::Postmortem> postmortems_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, Replay> replays_ ABSL_GUARDED_BY(mu_);
};

}  // namespace deja::testing

#endif  // DEJA_TESTS_TESTING_FAKE_POSTMORTEM_STORE_H_
