#include "tests/testing/fake_postmortem_store.h"

#include <algorithm>
#include <stdexcept>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"

namespace deja::testing {
namespace {

google::protobuf::Timestamp Now() {
  const absl::Time now = absl::Now();
  google::protobuf::Timestamp stamp;
  stamp.set_seconds(absl::ToUnixSeconds(now));
  stamp.set_nanos(static_cast<int32_t>(
      absl::ToInt64Nanoseconds(now - absl::FromUnixSeconds(stamp.seconds()))));
  return stamp;
}

// Ids look like the PostgreSQL store's (UUIDs), so validation accepts them:
// postmortems 00000000-0000-4000-8000-00000000000n, action items ...-8001-....
std::string FakeUuid(int kind, int n) {
  return absl::StrFormat("00000000-0000-4000-%04d-%012d", 8000 + kind, n);
}

bool Before(const google::protobuf::Timestamp& a,
            const google::protobuf::Timestamp& b) {
  return a.seconds() != b.seconds() ? a.seconds() < b.seconds()
                                    : a.nanos() < b.nanos();
}

bool Contains(const google::protobuf::RepeatedPtrField<std::string>& values,
              const std::string& value) {
  return std::find(values.begin(), values.end(), value) != values.end();
}

bool Matches(const v1::Postmortem& p, const v1::ListPostmortemsRequest& r) {
  if (!r.team().empty() && p.team() != r.team()) return false;
  if (!r.service().empty() && !Contains(p.services(), r.service())) {
    return false;
  }
  if (!r.tag().empty() && !Contains(p.tags(), r.tag())) return false;
  if (r.severity() != v1::SEVERITY_UNSPECIFIED &&
      p.severity() != r.severity()) {
    return false;
  }
  if (r.has_started_after() && Before(p.started_at(), r.started_after())) {
    return false;
  }
  if (r.has_started_before() && !Before(p.started_at(), r.started_before())) {
    return false;
  }
  return true;
}

void RecordChange(v1::ActionItem& item, absl::string_view field,
                  std::string old_value, std::string new_value) {
  if (old_value == new_value) return;
  v1::ActionItemChange& change = *item.add_history();
  *change.mutable_at() = Now();
  change.set_field(std::string(field));
  change.set_old_value(std::move(old_value));
  change.set_new_value(std::move(new_value));
}

}  // namespace

void FakePostmortemStore::FailNextCall(absl::Status status) {
  absl::MutexLock lock(&mu_);
  next_failure_ = std::move(status);
}

void FakePostmortemStore::ThrowNextCall(std::string what) {
  absl::MutexLock lock(&mu_);
  next_throw_ = std::move(what);
}

absl::Time FakePostmortemStore::last_deadline() const {
  absl::MutexLock lock(&mu_);
  return last_deadline_;
}

absl::Status FakePostmortemStore::Enter(absl::Time deadline) {
  last_deadline_ = deadline;
  if (next_throw_.has_value()) {
    const std::string what = std::move(*next_throw_);
    next_throw_.reset();
    throw std::runtime_error(what);
  }
  if (next_failure_.has_value()) {
    const absl::Status failure = std::move(*next_failure_);
    next_failure_.reset();
    return failure;
  }
  if (absl::Now() >= deadline) {
    return absl::DeadlineExceededError("deadline passed before the call");
  }
  return absl::OkStatus();
}

v1::Postmortem* FakePostmortemStore::Find(absl::string_view id) {
  auto it = postmortems_.find(std::string(id));
  return it == postmortems_.end() ? nullptr : &it->second;
}

void FakePostmortemStore::AssignActionItemIds(v1::Postmortem& postmortem) {
  for (v1::ActionItem& item : *postmortem.mutable_action_items()) {
    if (item.id().empty()) {
      item.set_id(FakeUuid(1, next_action_item_id_++));
    }
  }
}

absl::StatusOr<SubmitResult> FakePostmortemStore::Submit(
    const v1::Postmortem& postmortem, absl::string_view request_id,
    absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  if (absl::Status status = Enter(deadline); !status.ok()) return status;
  const std::string content = postmortem.SerializeAsString();
  if (!request_id.empty()) {
    auto it = replays_.find(std::string(request_id));
    if (it != replays_.end()) {
      if (it->second.content != content) {
        return absl::FailedPreconditionError(
            "request_id was used before with other content");
      }
      return SubmitResult{postmortems_[it->second.id], /*replayed=*/true};
    }
  }
  v1::Postmortem stored = postmortem;
  stored.set_id(FakeUuid(0, next_id_++));
  for (v1::ActionItem& item : *stored.mutable_action_items()) {
    item.clear_id();
    item.clear_history();
  }
  AssignActionItemIds(stored);
  if (stored.status() == v1::Postmortem::STATUS_UNSPECIFIED) {
    stored.set_status(v1::Postmortem::PUBLISHED);
  }
  stored.set_version(1);
  *stored.mutable_created_at() = Now();
  *stored.mutable_updated_at() = stored.created_at();
  postmortems_[stored.id()] = stored;
  if (!request_id.empty()) {
    replays_[std::string(request_id)] = Replay{content, stored.id()};
  }
  return SubmitResult{std::move(stored), /*replayed=*/false};
}

absl::StatusOr<v1::Postmortem> FakePostmortemStore::Get(absl::string_view id,
                                                        absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  if (absl::Status status = Enter(deadline); !status.ok()) return status;
  const v1::Postmortem* found = Find(id);
  if (found == nullptr) {
    return absl::NotFoundError(absl::StrCat("postmortem ", id, " not found"));
  }
  return *found;
}

absl::StatusOr<ListResult> FakePostmortemStore::List(
    const v1::ListPostmortemsRequest& request, absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  if (absl::Status status = Enter(deadline); !status.ok()) return status;
  size_t offset = 0;
  if (!request.page_token().empty() &&
      !absl::SimpleAtoi(request.page_token(), &offset)) {
    return absl::InvalidArgumentError("page_token: not from this server");
  }
  std::vector<const v1::Postmortem*> matches;
  for (const auto& [id, postmortem] : postmortems_) {
    if (Matches(postmortem, request)) matches.push_back(&postmortem);
  }
  std::stable_sort(matches.begin(), matches.end(),
                   [](const v1::Postmortem* a, const v1::Postmortem* b) {
                     return Before(b->started_at(), a->started_at());
                   });
  const size_t page_size =
      request.page_size() == 0 ? 20 : static_cast<size_t>(request.page_size());
  ListResult result;
  for (size_t i = offset; i < matches.size() && i < offset + page_size; ++i) {
    result.postmortems.push_back(*matches[i]);
  }
  if (offset + page_size < matches.size()) {
    result.next_page_token = absl::StrCat(offset + page_size);
  }
  return result;
}

absl::StatusOr<v1::Postmortem> FakePostmortemStore::Update(
    const v1::Postmortem& postmortem, int64_t expected_version,
    absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  if (absl::Status status = Enter(deadline); !status.ok()) return status;
  v1::Postmortem* current = Find(postmortem.id());
  if (current == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("postmortem ", postmortem.id(), " not found"));
  }
  if (current->version() != expected_version) {
    return absl::AbortedError(absl::StrCat(
        "postmortem ", postmortem.id(), " is at version ", current->version()));
  }
  v1::Postmortem next = postmortem;
  for (v1::ActionItem& item : *next.mutable_action_items()) {
    const auto& old_items = current->action_items();
    auto old = std::find_if(
        old_items.begin(), old_items.end(),
        [&item](const v1::ActionItem& o) { return o.id() == item.id(); });
    if (item.id().empty() || old == old_items.end()) {
      item.clear_id();
      item.clear_history();
    } else {
      *item.mutable_history() = old->history();
    }
  }
  AssignActionItemIds(next);
  if (next.status() == v1::Postmortem::STATUS_UNSPECIFIED) {
    next.set_status(v1::Postmortem::PUBLISHED);
  }
  next.set_version(current->version() + 1);
  *next.mutable_created_at() = current->created_at();
  *next.mutable_updated_at() = Now();
  *current = next;
  return next;
}

absl::StatusOr<v1::ActionItem> FakePostmortemStore::UpdateActionItem(
    const v1::UpdateActionItemRequest& request, absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  if (absl::Status status = Enter(deadline); !status.ok()) return status;
  v1::Postmortem* postmortem = Find(request.postmortem_id());
  if (postmortem == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("postmortem ", request.postmortem_id(), " not found"));
  }
  for (v1::ActionItem& item : *postmortem->mutable_action_items()) {
    if (item.id() != request.action_item_id()) continue;
    if (request.has_status()) {
      RecordChange(item, "status", v1::ActionItem::Status_Name(item.status()),
                   v1::ActionItem::Status_Name(request.status()));
      item.set_status(request.status());
      if (item.status() == v1::ActionItem::DONE) {
        *item.mutable_completed_at() = Now();
      }
    }
    if (request.has_owner()) {
      RecordChange(item, "owner", item.owner(), request.owner());
      item.set_owner(request.owner());
    }
    if (request.has_due_date()) {
      RecordChange(item, "due_date", item.due_date(), request.due_date());
      item.set_due_date(request.due_date());
    }
    postmortem->set_version(postmortem->version() + 1);
    *postmortem->mutable_updated_at() = Now();
    return item;
  }
  return absl::NotFoundError(
      absl::StrCat("action item ", request.action_item_id(), " not found"));
}

absl::Status FakePostmortemStore::Delete(absl::string_view id,
                                         int64_t expected_version,
                                         absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  if (absl::Status status = Enter(deadline); !status.ok()) return status;
  const v1::Postmortem* current = Find(id);
  if (current == nullptr) {
    return absl::NotFoundError(absl::StrCat("postmortem ", id, " not found"));
  }
  if (expected_version != 0 && current->version() != expected_version) {
    return absl::AbortedError(
        absl::StrCat("postmortem ", id, " is at version ", current->version()));
  }
  postmortems_.erase(std::string(id));
  return absl::OkStatus();
}

}  // namespace deja::testing
