#include "tests/testing/fake_recurrence_store.h"

#include <algorithm>
#include <set>
#include <tuple>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace deja::testing {
namespace {

using v1::RecurrenceLink;

constexpr double kCountedScore = 0.85;

bool Counted(const RecurrenceLink& link) {
  return link.state() == RecurrenceLink::CONFIRMED ||
         (link.state() == RecurrenceLink::SUGGESTED &&
          link.score() >= kCountedScore);
}

// Newest repeat first, as the store orders them.
bool NewerFirst(const RecurrenceLink& a, const RecurrenceLink& b) {
  return std::make_tuple(a.started_at().seconds(), a.started_at().nanos(),
                         a.postmortem_id(), a.earlier_id()) >
         std::make_tuple(b.started_at().seconds(), b.started_at().nanos(),
                         b.postmortem_id(), b.earlier_id());
}

}  // namespace

void FakeRecurrenceStore::Put(const RecurrenceLink& link) {
  absl::MutexLock lock(&mu_);
  RecurrenceLink stored = link;
  stored.set_counted(Counted(stored));
  links_[{link.postmortem_id(), link.earlier_id()}] = stored;
}

void FakeRecurrenceStore::FailNext(Method method, absl::Status status,
                                   int times) {
  absl::MutexLock lock(&mu_);
  for (int i = 0; i < times; ++i) failures_[method].push_back(status);
}

std::vector<RecurrenceLink> FakeRecurrenceStore::links() const {
  absl::MutexLock lock(&mu_);
  std::vector<RecurrenceLink> all;
  for (const auto& [key, link] : links_) all.push_back(link);
  return all;
}

std::optional<RecurrenceLink> FakeRecurrenceStore::Find(
    const std::string& postmortem_id, const std::string& earlier_id) const {
  absl::MutexLock lock(&mu_);
  auto it = links_.find({postmortem_id, earlier_id});
  if (it == links_.end()) return std::nullopt;
  return it->second;
}

std::vector<FakeRecurrenceStore::RecordCall> FakeRecurrenceStore::record_calls()
    const {
  absl::MutexLock lock(&mu_);
  return record_calls_;
}

std::optional<v1::ListRecurrencesRequest> FakeRecurrenceStore::last_list()
    const {
  absl::MutexLock lock(&mu_);
  return last_list_;
}

std::optional<v1::DecideRecurrenceRequest> FakeRecurrenceStore::last_decide()
    const {
  absl::MutexLock lock(&mu_);
  return last_decide_;
}

RecurrenceLink::State FakeRecurrenceStore::last_decided_state() const {
  absl::MutexLock lock(&mu_);
  return last_decided_state_;
}

std::optional<absl::Status> FakeRecurrenceStore::TakeFailure(Method method) {
  auto it = failures_.find(method);
  if (it == failures_.end() || it->second.empty()) return std::nullopt;
  absl::Status status = it->second.front();
  it->second.erase(it->second.begin());
  return status;
}

absl::Status FakeRecurrenceStore::RecordSuggestions(
    const std::string& postmortem_id, const std::vector<SuggestedLink>& links) {
  absl::MutexLock lock(&mu_);
  record_calls_.push_back({postmortem_id, links});
  if (auto failure = TakeFailure(Method::kRecordSuggestions)) return *failure;
  std::set<Key> suggested;
  for (const SuggestedLink& link : links) {
    if (link.later_id != postmortem_id && link.earlier_id != postmortem_id) {
      return absl::InvalidArgumentError(
          absl::StrCat("link ", link.later_id, " -> ", link.earlier_id,
                       " does not involve ", postmortem_id));
    }
    suggested.insert({link.later_id, link.earlier_id});
  }
  for (auto it = links_.begin(); it != links_.end();) {
    const RecurrenceLink& link = it->second;
    const bool touches = link.postmortem_id() == postmortem_id ||
                         link.earlier_id() == postmortem_id;
    if (touches && link.source() == RecurrenceLink::AUTO &&
        link.state() == RecurrenceLink::SUGGESTED &&
        suggested.count(it->first) == 0) {
      it = links_.erase(it);
    } else {
      ++it;
    }
  }
  for (const SuggestedLink& suggestion : links) {
    const Key key{suggestion.later_id, suggestion.earlier_id};
    if (links_.count({key.second, key.first}) > 0) continue;
    auto it = links_.find(key);
    if (it == links_.end()) {
      RecurrenceLink link;
      link.set_postmortem_id(key.first);
      link.set_earlier_id(key.second);
      link.set_source(RecurrenceLink::AUTO);
      link.set_state(RecurrenceLink::SUGGESTED);
      link.mutable_created_at()->set_seconds(absl::ToUnixSeconds(absl::Now()));
      it = links_.emplace(key, link).first;
    }
    RecurrenceLink& link = it->second;
    if (link.source() != RecurrenceLink::AUTO ||
        link.state() == RecurrenceLink::REJECTED) {
      continue;
    }
    link.set_score(suggestion.score);
    link.clear_reasons();
    for (const std::string& reason : suggestion.reasons) {
      link.add_reasons(reason);
    }
    link.set_counted(Counted(link));
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::ListRecurrencesResponse> FakeRecurrenceStore::List(
    const v1::ListRecurrencesRequest& request) {
  absl::MutexLock lock(&mu_);
  last_list_ = request;
  if (auto failure = TakeFailure(Method::kList)) return *failure;
  const std::set<int> states(request.states().begin(), request.states().end());
  std::vector<RecurrenceLink> matching;
  for (const auto& [key, link] : links_) {
    if (!request.postmortem_id().empty() &&
        link.postmortem_id() != request.postmortem_id() &&
        link.earlier_id() != request.postmortem_id()) {
      continue;
    }
    if (!states.empty() && states.count(link.state()) == 0) continue;
    matching.push_back(link);
  }
  std::sort(matching.begin(), matching.end(), NewerFirst);
  // The token is the offset of the next page: fine for a fake.
  size_t offset = 0;
  if (!request.page_token().empty() &&
      !absl::SimpleAtoi(request.page_token(), &offset)) {
    return absl::InvalidArgumentError("page_token: malformed");
  }
  const size_t page_size =
      request.page_size() == 0 ? 50 : static_cast<size_t>(request.page_size());
  v1::ListRecurrencesResponse response;
  for (size_t i = offset; i < matching.size() && i < offset + page_size; ++i) {
    *response.add_links() = matching[i];
  }
  if (offset + page_size < matching.size()) {
    response.set_next_page_token(absl::StrCat(offset + page_size));
  }
  return response;
}

absl::StatusOr<RecurrenceLink> FakeRecurrenceStore::Decide(
    const v1::DecideRecurrenceRequest& request, RecurrenceLink::State state) {
  absl::MutexLock lock(&mu_);
  last_decide_ = request;
  last_decided_state_ = state;
  if (auto failure = TakeFailure(Method::kDecide)) return *failure;
  auto it = links_.find({request.postmortem_id(), request.earlier_id()});
  if (it == links_.end()) {
    return absl::NotFoundError(absl::StrCat("no recurrence link ",
                                            request.postmortem_id(), " -> ",
                                            request.earlier_id()));
  }
  RecurrenceLink& link = it->second;
  if (link.state() != state || link.decided_by() != request.decided_by() ||
      link.note() != request.note()) {
    link.set_state(state);
    link.set_decided_by(request.decided_by());
    link.set_note(request.note());
    link.mutable_decided_at()->set_seconds(absl::ToUnixSeconds(absl::Now()));
  }
  link.set_counted(Counted(link));
  return link;
}

}  // namespace deja::testing
