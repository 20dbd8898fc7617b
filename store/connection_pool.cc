#include "store/connection_pool.h"

#include <algorithm>
#include <cstdint>
#include <exception>
#include <pqxx/except>
#include <pqxx/nontransaction>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/event_log.h"

namespace deja {

std::string WithConnectLimits(absl::string_view connection_string,
                              absl::Duration time_left) {
  // libpq treats 1 as 2; 30 bounds a connect without deadline.
  const int64_t seconds = std::clamp<int64_t>(
      absl::ToInt64Seconds(absl::Ceil(time_left, absl::Seconds(1))), 2, 30);
  const std::pair<absl::string_view, std::string> settings[] = {
      {"connect_timeout", std::to_string(seconds)},
      {"keepalives", "1"},
      {"keepalives_idle", "30"},
      {"keepalives_interval", "10"},
      {"keepalives_count", "3"},
  };
  const bool url = absl::StartsWith(connection_string, "postgresql://") ||
                   absl::StartsWith(connection_string, "postgres://");
  std::string result(connection_string);
  for (const auto& [key, value] : settings) {
    if (absl::StrContains(connection_string, absl::StrCat(key, "="))) continue;
    if (url) {
      absl::StrAppend(&result, absl::StrContains(result, '?') ? "&" : "?", key,
                      "=", value);
    } else {
      absl::StrAppend(&result, result.empty() ? "" : " ", key, "=", value);
    }
  }
  return result;
}

ConnectionPool::Lease::~Lease() {
  if (connection_ != nullptr) pool_->Release(std::move(connection_), broken_);
}

ConnectionPool::ConnectionPool(std::string connection_string, int size,
                               std::string session_setup)
    : connection_string_(std::move(connection_string)),
      size_(size < 1 ? 1 : size),
      session_setup_(std::move(session_setup)) {}

bool ConnectionPool::WaitForSlot(std::unique_lock<std::mutex>& lock,
                                 absl::Time deadline) {
  auto has_slot = [this] { return !idle_.empty() || open_ < size_; };
  if (deadline == absl::InfiniteFuture()) {
    slot_freed_.wait(lock, has_slot);
    return true;
  }
  return slot_freed_.wait_until(lock, absl::ToChronoTime(deadline), has_slot);
}

absl::StatusOr<ConnectionPool::Lease> ConnectionPool::Acquire(
    absl::Time deadline) {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    if (!WaitForSlot(lock, deadline)) {
      return absl::DeadlineExceededError(
          "deadline passed while waiting for a database connection");
    }
    if (idle_.empty()) break;
    std::unique_ptr<pqxx::connection> connection = std::move(idle_.back());
    idle_.pop_back();
    if (connection->is_open()) return Lease(this, std::move(connection));
    --open_;  // libpq already knows this one is dead; open a new one instead
  }
  ++open_;  // reserve the slot, then connect without holding the lock
  lock.unlock();
  try {
    auto connection = std::make_unique<pqxx::connection>(
        WithConnectLimits(connection_string_, deadline - absl::Now()));
    if (!session_setup_.empty()) {
      pqxx::nontransaction(*connection).exec0(session_setup_);
    }
    return Lease(this, std::move(connection));
  } catch (const std::exception& e) {
    Release(nullptr, /*broken=*/true);
    return absl::UnavailableError(
        absl::StrCat("database unavailable: ", OneLine(e.what())));
  }
}

void ConnectionPool::Release(std::unique_ptr<pqxx::connection> connection,
                             bool broken) {
  std::vector<std::unique_ptr<pqxx::connection>> dropped;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (broken || connection == nullptr || !connection->is_open()) {
      --open_;
      dropped.swap(idle_);
      open_ -= static_cast<int>(dropped.size());
      dropped.push_back(std::move(connection));
    } else {
      idle_.push_back(std::move(connection));
    }
  }
  slot_freed_.notify_all();
  // `dropped` closes its connections here, outside the lock.
}

}  // namespace deja
