#include "tests/testing/fake_postmortem_searcher.h"

#include <stdexcept>
#include <utility>

#include "absl/strings/str_cat.h"

namespace deja::testing {

void FakePostmortemSearcher::FailNextCall(absl::Status status) {
  absl::MutexLock lock(&mu_);
  next_failure_ = std::move(status);
}

void FakePostmortemSearcher::ThrowNextCall(std::string what) {
  absl::MutexLock lock(&mu_);
  next_throw_ = std::move(what);
}

void FakePostmortemSearcher::SetSearchResponse(v1::SearchResponse response) {
  absl::MutexLock lock(&mu_);
  search_response_ = std::move(response);
}

void FakePostmortemSearcher::SetFindSimilarResponse(
    v1::FindSimilarResponse response) {
  absl::MutexLock lock(&mu_);
  find_similar_response_ = std::move(response);
}

void FakePostmortemSearcher::SetDocumentCount(int64_t count) {
  absl::MutexLock lock(&mu_);
  document_count_ = count;
}

void FakePostmortemSearcher::MarkIndexed(const std::string& id,
                                         int64_t version) {
  absl::MutexLock lock(&mu_);
  if (version == 0) {
    indexed_.erase(id);
  } else {
    indexed_[id] = version;
  }
}

v1::SearchRequest FakePostmortemSearcher::last_search() const {
  absl::MutexLock lock(&mu_);
  return last_search_;
}

v1::FindSimilarRequest FakePostmortemSearcher::last_find_similar() const {
  absl::MutexLock lock(&mu_);
  return last_find_similar_;
}

absl::Time FakePostmortemSearcher::last_now() const {
  absl::MutexLock lock(&mu_);
  return last_now_;
}

absl::Time FakePostmortemSearcher::last_wait_deadline() const {
  absl::MutexLock lock(&mu_);
  return last_wait_deadline_;
}

int FakePostmortemSearcher::wait_calls() const {
  absl::MutexLock lock(&mu_);
  return wait_calls_;
}

absl::Status FakePostmortemSearcher::Enter() {
  if (next_throw_.has_value()) {
    const std::string what = *std::move(next_throw_);
    next_throw_.reset();
    throw std::runtime_error(what);
  }
  if (next_failure_.has_value()) {
    absl::Status status = *std::move(next_failure_);
    next_failure_.reset();
    return status;
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::SearchResponse> FakePostmortemSearcher::Search(
    const v1::SearchRequest& request, absl::Time now) {
  absl::MutexLock lock(&mu_);
  last_search_ = request;
  last_now_ = now;
  if (absl::Status status = Enter(); !status.ok()) return status;
  return search_response_;
}

absl::StatusOr<v1::FindSimilarResponse> FakePostmortemSearcher::FindSimilar(
    const v1::FindSimilarRequest& request, absl::Time now) {
  absl::MutexLock lock(&mu_);
  last_find_similar_ = request;
  last_now_ = now;
  if (absl::Status status = Enter(); !status.ok()) return status;
  return find_similar_response_;
}

absl::Status FakePostmortemSearcher::WaitUntilSearchable(
    absl::string_view postmortem_id, int64_t version, absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  ++wait_calls_;
  last_wait_deadline_ = deadline;
  if (absl::Status status = Enter(); !status.ok()) return status;
  const std::string id(postmortem_id);
  auto searchable = [this, &id, version]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    auto it = indexed_.find(id);
    if (version == 0) return it == indexed_.end();
    return it != indexed_.end() && it->second >= version;
  };
  if (mu_.AwaitWithDeadline(absl::Condition(&searchable), deadline)) {
    return absl::OkStatus();
  }
  return absl::DeadlineExceededError(
      absl::StrCat(id, " version ", version, " not searchable in time"));
}

absl::StatusOr<int64_t> FakePostmortemSearcher::DocumentCount() {
  absl::MutexLock lock(&mu_);
  if (absl::Status status = Enter(); !status.ok()) return status;
  return document_count_;
}

}  // namespace deja::testing
