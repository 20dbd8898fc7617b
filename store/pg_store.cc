#include "store/pg_store.h"

#include <algorithm>
#include <cstdint>
#include <exception>
#include <limits>
#include <map>
#include <optional>
#include <pqxx/pqxx>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/status_macros.h"
#include "core/validation.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/time_util.h"
#include "store/connection_pool.h"
#include "store/pg_errors.h"
#include "store/pg_transaction.h"
#include "store/postmortem_rows.h"
#include "store/proto_json.h"

namespace deja {
namespace {

using google::protobuf::Timestamp;

constexpr int kDefaultPageSize = 20;

// ---- Small domain helpers ----

absl::Status PostmortemNotFound(absl::string_view id) {
  return absl::NotFoundError(absl::StrCat("postmortem ", id, " not found"));
}

absl::Status StaleVersion(absl::string_view id, int64_t current,
                          int64_t expected) {
  return absl::AbortedError(absl::StrCat("postmortem ", id, " is at version ",
                                         current, ", not ", expected,
                                         " (read it again)"));
}

// ---- Page tokens: opaque to clients, "<started_at micros>:<id>" inside ----

struct PagePosition {
  int64_t started_at_micros = 0;
  std::string id;
};

std::string EncodePageToken(const PagePosition& position) {
  return absl::WebSafeBase64Escape(
      absl::StrCat(position.started_at_micros, ":", position.id));
}

absl::StatusOr<PagePosition> DecodePageToken(absl::string_view token) {
  const absl::Status malformed =
      absl::InvalidArgumentError("page_token: malformed");
  std::string raw;
  if (!absl::WebSafeBase64Unescape(token, &raw)) return malformed;
  std::vector<std::string> parts = absl::StrSplit(raw, absl::MaxSplits(':', 1));
  PagePosition position;
  if (parts.size() != 2 ||
      !absl::SimpleAtoi(parts[0], &position.started_at_micros) ||
      !IsUuid(parts[1])) {
    return malformed;
  }
  // Outside Timestamp's range, TimestampFromMicros would fail a CHECK.
  using google::protobuf::util::TimeUtil;
  constexpr int64_t kMicrosPerSecond = 1000000;
  if (position.started_at_micros <
          TimeUtil::kTimestampMinSeconds * kMicrosPerSecond ||
      position.started_at_micros >
          TimeUtil::kTimestampMaxSeconds * kMicrosPerSecond) {
    return malformed;
  }
  position.id = std::move(parts[1]);
  return position;
}

// ---- Transaction bodies: one per store method; they throw pqxx exceptions
// and return statuses for domain errors (the caller then rolls back). ----

struct LockedPostmortem {
  int64_t version = 0;
  v1::Postmortem postmortem;
};

absl::StatusOr<LockedPostmortem> LockLivePostmortem(pqxx::work& txn,
                                                    const std::string& id) {
  const pqxx::result rows =
      ExecPrepared(txn,
                   "SELECT version, document::text FROM postmortems "
                   "WHERE id = $1::uuid AND deleted_at IS NULL FOR UPDATE",
                   id);
  if (rows.empty()) return PostmortemNotFound(id);
  LockedPostmortem locked;
  locked.version = rows[0][0].as<int64_t>();
  DEJA_ASSIGN_OR_RETURN(locked.postmortem,
                        PostmortemFromDocument(rows[0][1].as<std::string>()));
  return locked;
}

// Writes `postmortems` (ids, versions and times already set) with their
// detail rows, declared recurrence links, error signatures, action item
// history and outbox entries, one statement per table for all of them.
absl::Status WritePostmortems(
    pqxx::transaction_base& txn,
    const std::vector<const v1::Postmortem*>& postmortems,
    const std::map<std::string, std::vector<v1::ActionItemChange>>& changes) {
  std::string documents = "[";
  std::vector<std::string> ids;
  std::vector<int64_t> versions;
  std::vector<std::vector<std::string>> log_lines;
  std::vector<std::string> declaring;  // ids with recurrence_of
  // Version 1 is only ever written by a submit, for a new id.
  PriorRows prior = PriorRows::kNone;
  for (const v1::Postmortem* postmortem : postmortems) {
    DEJA_ASSIGN_OR_RETURN(const std::string document,
                          DocumentJson(*postmortem));
    if (!ids.empty()) documents += ',';
    documents += document;
    ids.push_back(postmortem->id());
    versions.push_back(postmortem->version());
    log_lines.emplace_back(postmortem->log_lines().begin(),
                           postmortem->log_lines().end());
    if (postmortem->recurrence_of_size() > 0) {
      declaring.push_back(postmortem->id());
    }
    if (postmortem->version() != 1) prior = PriorRows::kMayExist;
  }
  documents += ']';
  WritePostmortemRows(txn, documents);
  RewriteDetailRows(txn, ids, prior);
  // First versions without recurrence_of have no links to write.
  if (prior == PriorRows::kMayExist || !declaring.empty()) {
    SyncDeclaredLinks(txn, prior == PriorRows::kMayExist ? ids : declaring,
                      prior);
  }
  RewriteSignatureRows(txn, ids, log_lines, prior);
  SyncActionItemRows(txn, ids, prior);
  for (const auto& [item_id, item_changes] : changes) {
    InsertActionItemChanges(txn, item_id, item_changes);
  }
  InsertOutboxRows(txn, ids, versions, "upsert");
  return absl::OkStatus();
}

// Makes concurrent submits of a request_id take turns until commit, so the
// second sees the first's submit_requests row instead of creating a second
// postmortem. The locks are taken in one order (of their keys), so two
// batches never wait for each other crosswise. The two-key form keeps these
// locks apart from single-key ones (migrations). Unrelated ids whose keys
// collide only wait for each other.
void SerializeRequestIds(pqxx::transaction_base& txn,
                         const std::vector<std::string>& request_ids) {
  txn.exec_params(
      "SELECT pg_advisory_xact_lock(hashtext('deja.submit_request'), "
      "                             hashtext(r)) "
      "FROM (SELECT r FROM unnest($1::text[]) AS r "
      "      ORDER BY hashtext(r) OFFSET 0) AS in_key_order",
      SqlArray(request_ids));
}

// Those of `request_ids` that an earlier submit used. One index probe per
// id (a subquery per row): as `request_id = ANY($1)`, PostgreSQL scanned the
// whole table for every batch of a bulk import, its statistics not yet
// knowing the table had grown.
std::vector<std::string> UsedRequestIds(
    pqxx::transaction_base& txn, const std::vector<std::string>& request_ids) {
  std::vector<std::string> used;
  for (const pqxx::row& row : txn.exec_params(
           "SELECT r FROM unnest($1::text[]) AS r "
           "WHERE (SELECT true FROM submit_requests s WHERE s.request_id = r)",
           SqlArray(request_ids))) {
    used.push_back(row[0].as<std::string>());
  }
  return used;
}

// What makes two submits "the same content": proto3 JSON of the stored form
// without the fields at their default value, so a field added to Postmortem
// later does not change the fingerprint of content that does not use it.
absl::StatusOr<std::string> FingerprintOf(const v1::Postmortem& postmortem) {
  return ProtoJson(postmortem, /*print_defaults=*/false);
}

// The fingerprints earlier releases stored for the same content, still
// accepted so that retries of those submits keep replaying: protobuf's own
// printing of the fingerprint, and the first release's form (every field
// printed, before `narrative` existed).
absl::StatusOr<std::vector<std::string>> EarlierFingerprintsOf(
    const v1::Postmortem& postmortem) {
  std::vector<std::string> fingerprints;
  DEJA_ASSIGN_OR_RETURN(fingerprints.emplace_back(),
                        ProtobufJson(postmortem, /*print_defaults=*/false));
  if (!postmortem.narrative().empty()) return fingerprints;
  DEJA_ASSIGN_OR_RETURN(std::string first_release,
                        ProtobufJson(postmortem, /*print_defaults=*/true));
  // The first release had no `narrative` field. Inside a JSON string a
  // quote is always escaped, so this text can only be the top-level key.
  constexpr char kNarrative[] = "\"narrative\":\"\",";
  if (const size_t at = first_release.find(kNarrative);
      at != std::string::npos) {
    first_release.erase(at, sizeof kNarrative - 1);
  }
  fingerprints.push_back(std::move(first_release));
  return fingerprints;
}

absl::Status RequestIdReused(absl::string_view request_id,
                             absl::string_view postmortem_id) {
  return absl::FailedPreconditionError(
      absl::StrCat("request_id ", request_id,
                   " was already used for different content (postmortem ",
                   postmortem_id, ")"));
}

// The postmortem `request_id` created, as it is now, if there is one: replayed
// when the content is the same, FAILED_PRECONDITION when it differs. A retry
// that comes after an update sees the current version.
absl::StatusOr<std::optional<SubmitResult>> FindEarlierSubmit(
    pqxx::transaction_base& txn, const std::string& request_id,
    const v1::Postmortem& postmortem, const std::string& fingerprint) {
  DEJA_ASSIGN_OR_RETURN(std::vector<std::string> fingerprints,
                        EarlierFingerprintsOf(postmortem));
  fingerprints.push_back(fingerprint);
  const pqxx::result rows = ExecPrepared(
      txn,
      "SELECT s.content_sha256 IN ("
      "         SELECT sha256(convert_to(f, 'UTF8')) "
      "         FROM unnest($2::text[]) AS f), "
      "       s.postmortem_id::text, p.document::text, "
      "       p.deleted_at IS NOT NULL "
      "FROM submit_requests s JOIN postmortems p ON p.id = s.postmortem_id "
      "WHERE s.request_id = $1",
      request_id, SqlArray(fingerprints));
  if (rows.empty()) return std::nullopt;
  if (!rows[0][0].as<bool>()) {
    return RequestIdReused(request_id, rows[0][1].as<std::string>());
  }
  // A retry must never bring a retracted postmortem back, nor replay it.
  if (rows[0][3].as<bool>()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "request_id ", request_id, " created postmortem ",
        rows[0][1].as<std::string>(),
        ", which has since been deleted; submit with another request_id"));
  }
  SubmitResult result;
  DEJA_ASSIGN_OR_RETURN(result.postmortem,
                        PostmortemFromDocument(rows[0][2].as<std::string>()));
  result.replayed = true;
  return result;
}

void InsertSubmitRequests(pqxx::transaction_base& txn,
                          const std::vector<std::string>& request_ids,
                          const std::vector<std::string>& fingerprints,
                          const std::vector<std::string>& postmortem_ids) {
  txn.exec_params(
      "INSERT INTO submit_requests "
      "(request_id, content_sha256, postmortem_id) "
      "SELECT x.request_id, sha256(convert_to(x.fingerprint, "
      "'UTF8')), x.postmortem_id "
      "FROM unnest($1::text[], $2::text[], $3::uuid[]) "
      "AS x(request_id, fingerprint, postmortem_id)",
      SqlArray(request_ids), SqlArray(fingerprints), SqlArray(postmortem_ids));
}

// One submit of SubmitAllIn, in the stored form.
struct Submission {
  size_t slot = 0;  // in the results
  std::string request_id;
  v1::Postmortem postmortem;
  std::string fingerprint;
  bool answered = false;  // by an earlier submit of its request_id
};

// Submit's work for all of `items` at once: each step is one statement for
// every item, so a batch of an import costs about as many round trips as a
// single submit. Results come in the order of `items`. An item whose
// request_id was used before replays that submit or, for other content,
// fails alone (FAILED_PRECONDITION); a request_id twice in `items` is one
// submit, which the second replays. A database error throws and leaves the
// whole batch for the caller to undo.
absl::StatusOr<std::vector<absl::StatusOr<SubmitResult>>> SubmitAllIn(
    pqxx::transaction_base& txn,
    const std::vector<PostmortemStore::SubmitItem>& items) {
  std::vector<absl::StatusOr<SubmitResult>> results(
      items.size(), absl::InternalError("not submitted"));
  std::vector<Submission> submissions;
  std::map<std::string, size_t> by_request_id;  // into submissions
  std::vector<Submission> repeats;  // of a request_id earlier in `items`
  for (size_t slot = 0; slot < items.size(); ++slot) {
    Submission submission;
    submission.slot = slot;
    submission.request_id = items[slot].request_id;
    submission.postmortem = NormalizeForStorage(*items[slot].postmortem);
    for (v1::ActionItem& item : *submission.postmortem.mutable_action_items()) {
      item.clear_id();  // output only on submit
    }
    DEJA_ASSIGN_OR_RETURN(submission.fingerprint,
                          FingerprintOf(submission.postmortem));
    if (!submission.request_id.empty() &&
        !by_request_id.emplace(submission.request_id, submissions.size())
             .second) {
      repeats.push_back(std::move(submission));
      continue;
    }
    submissions.push_back(std::move(submission));
  }

  if (!by_request_id.empty()) {
    std::vector<std::string> request_ids;
    for (const auto& [request_id, unused] : by_request_id) {
      request_ids.push_back(request_id);
    }
    SerializeRequestIds(txn, request_ids);
    for (const std::string& used : UsedRequestIds(txn, request_ids)) {
      Submission& submission = submissions[by_request_id.at(used)];
      absl::StatusOr<std::optional<SubmitResult>> earlier = FindEarlierSubmit(
          txn, used, submission.postmortem, submission.fingerprint);
      if (earlier.ok() && !earlier->has_value()) continue;  // none after all
      submission.answered = true;
      results[submission.slot] =
          earlier.ok() ? absl::StatusOr<SubmitResult>(**std::move(earlier))
                       : earlier.status();
    }
  }

  std::vector<Submission*> creating;
  int new_ids = 0;
  for (Submission& submission : submissions) {
    if (submission.answered) continue;
    creating.push_back(&submission);
    new_ids += 1 + submission.postmortem.action_items_size();
  }
  if (!creating.empty()) {
    const std::vector<std::string> ids = NewIds(txn, new_ids);
    const Timestamp now = TransactionNow(txn);
    auto next_id = ids.begin();
    std::vector<const v1::Postmortem*> postmortems;
    std::vector<std::string> request_ids, fingerprints, postmortem_ids;
    for (Submission* submission : creating) {
      v1::Postmortem& postmortem = submission->postmortem;
      postmortem.set_id(*next_id++);
      postmortem.set_version(1);
      *postmortem.mutable_created_at() = now;
      *postmortem.mutable_updated_at() = now;
      for (v1::ActionItem& item : *postmortem.mutable_action_items()) {
        StartActionItem(*next_id++, now, item);
      }
      postmortems.push_back(&postmortem);
      if (!submission->request_id.empty()) {
        request_ids.push_back(submission->request_id);
        fingerprints.push_back(submission->fingerprint);
        postmortem_ids.push_back(postmortem.id());
      }
    }
    DEJA_RETURN_IF_ERROR(WritePostmortems(txn, postmortems, {}));
    if (!request_ids.empty()) {
      InsertSubmitRequests(txn, request_ids, fingerprints, postmortem_ids);
    }
    for (Submission* submission : creating) {
      results[submission->slot] =
          SubmitResult{std::move(submission->postmortem), false};
    }
  }

  for (const Submission& repeat : repeats) {
    const Submission& first = submissions[by_request_id.at(repeat.request_id)];
    if (first.answered) {
      // Stored before this batch: the repeat is judged against that.
      absl::StatusOr<std::optional<SubmitResult>> earlier = FindEarlierSubmit(
          txn, repeat.request_id, repeat.postmortem, repeat.fingerprint);
      if (!earlier.ok()) {
        results[repeat.slot] = earlier.status();
      } else if (earlier->has_value()) {
        results[repeat.slot] = **std::move(earlier);
      } else {
        results[repeat.slot] = results[first.slot];
      }
    } else if (!results[first.slot].ok()) {
      results[repeat.slot] = results[first.slot].status();
    } else if (repeat.fingerprint != first.fingerprint) {
      results[repeat.slot] = RequestIdReused(
          repeat.request_id, results[first.slot]->postmortem.id());
    } else {
      results[repeat.slot] =
          SubmitResult{results[first.slot]->postmortem, true};
    }
  }
  return results;
}

absl::StatusOr<SubmitResult> SubmitIn(pqxx::transaction_base& txn,
                                      const v1::Postmortem& content,
                                      const std::string& request_id) {
  DEJA_ASSIGN_OR_RETURN(std::vector<absl::StatusOr<SubmitResult>> results,
                        SubmitAllIn(txn, {{&content, request_id}}));
  return std::move(results.front());
}

// One item of SubmitMany's slow path: SubmitIn inside a savepoint, undone
// alone when it fails. A broken connection is rethrown: the whole
// transaction is lost then, and RunInTransaction deals with it. The
// savepoint is plain SQL, not a pqxx::subtransaction: libpqxx 6.4 opens a
// subtransaction lazily, on its first exec() or exec_params(), and
// exec_prepared() does not open it, so a failing prepared statement would
// abort the whole transaction.
absl::StatusOr<SubmitResult> SubmitInSavepoint(
    pqxx::work& txn, const PostmortemStore::SubmitItem& item) {
  txn.exec0("SAVEPOINT submit_item");
  absl::StatusOr<SubmitResult> result;
  try {
    result = SubmitIn(txn, *item.postmortem, item.request_id);
  } catch (const pqxx::broken_connection&) {
    throw;
  } catch (const std::exception& e) {
    result = StatusFromPqxx(e, "submit postmortem");
  }
  txn.exec0(result.ok() ? "RELEASE SAVEPOINT submit_item"
                        : "ROLLBACK TO SAVEPOINT submit_item");
  return result;
}

// SubmitMany's body: all items at once (SubmitAllIn) and, when that fails,
// one at a time, so that only the items that fail alone fail.
absl::StatusOr<std::vector<absl::StatusOr<SubmitResult>>> SubmitManyIn(
    pqxx::work& txn, const std::vector<PostmortemStore::SubmitItem>& items) {
  txn.exec0("SAVEPOINT submit_all");
  try {
    absl::StatusOr<std::vector<absl::StatusOr<SubmitResult>>> results =
        SubmitAllIn(txn, items);
    if (results.ok()) {
      txn.exec0("RELEASE SAVEPOINT submit_all");
      return results;
    }
  } catch (const pqxx::broken_connection&) {
    throw;
  } catch (const std::exception& e) {
    // Out of time, the slow path would be too.
    const absl::Status status = StatusFromPqxx(e, "submit postmortems");
    if (status.code() == absl::StatusCode::kDeadlineExceeded ||
        status.code() == absl::StatusCode::kUnavailable) {
      throw;
    }
  }
  txn.exec0("ROLLBACK TO SAVEPOINT submit_all");
  // The rollback released the request ids' locks; taking them again, all
  // at once and in key order, keeps this batch from waiting crosswise on
  // another. Each item's own lock is then one it already holds.
  std::vector<std::string> request_ids;
  for (const PostmortemStore::SubmitItem& item : items) {
    if (!item.request_id.empty()) request_ids.push_back(item.request_id);
  }
  if (!request_ids.empty()) SerializeRequestIds(txn, request_ids);
  std::vector<absl::StatusOr<SubmitResult>> results;
  results.reserve(items.size());
  for (const PostmortemStore::SubmitItem& item : items) {
    results.push_back(SubmitInSavepoint(txn, item));
  }
  return results;
}

absl::StatusOr<v1::Postmortem> GetIn(pqxx::work& txn, const std::string& id) {
  const pqxx::result rows =
      ExecPrepared(txn,
                   "SELECT document::text FROM postmortems "
                   "WHERE id = $1::uuid AND deleted_at IS NULL",
                   id);
  if (rows.empty()) return PostmortemNotFound(id);
  return PostmortemFromDocument(rows[0][0].as<std::string>());
}

// Absent filters are NULL, so one statement serves every combination; libpq's
// unnamed statements are planned with the actual values.
constexpr char kListPostmortems[] = R"sql(
SELECT p.document::text, (extract(epoch FROM p.started_at) * 1000000)::int8,
       p.id::text
FROM postmortems p
WHERE p.deleted_at IS NULL
  AND ($1::text IS NULL OR lower(btrim(p.team)) = lower($1))
  AND ($2::text IS NULL OR EXISTS (
        SELECT 1 FROM postmortem_services s
        WHERE s.postmortem_id = p.id AND lower(s.service) = lower($2)))
  AND ($3::smallint IS NULL OR p.severity = $3)
  AND ($4::text IS NULL OR EXISTS (
        SELECT 1 FROM postmortem_tags t
        WHERE t.postmortem_id = p.id AND t.tag = $4))
  AND ($5::timestamptz IS NULL OR p.started_at >= $5)
  AND ($6::timestamptz IS NULL OR p.started_at < $6)
  AND ($7::timestamptz IS NULL OR (p.started_at, p.id) < ($7, $8::uuid))
ORDER BY p.started_at DESC, p.id DESC
LIMIT $9::int
)sql";

std::optional<std::string> NonEmpty(absl::string_view text) {
  if (text.empty()) return std::nullopt;
  return std::string(text);
}

absl::StatusOr<ListResult> ListIn(pqxx::work& txn,
                                  const v1::ListPostmortemsRequest& request,
                                  const std::optional<PagePosition>& after,
                                  int page_size) {
  const std::optional<std::string> team =
      NonEmpty(absl::StripAsciiWhitespace(request.team()));
  const std::optional<std::string> service =
      NonEmpty(absl::StripAsciiWhitespace(request.service()));
  // Tags are stored lowercased (NormalizeForStorage).
  const std::optional<std::string> tag = NonEmpty(
      absl::AsciiStrToLower(absl::StripAsciiWhitespace(request.tag())));
  std::optional<std::string> severity;
  if (request.severity() != v1::SEVERITY_UNSPECIFIED) {
    severity = std::to_string(static_cast<int>(request.severity()));
  }
  std::optional<std::string> started_after, started_before, after_time,
      after_id;
  if (request.has_started_after()) {
    started_after = SqlTimestamp(request.started_after());
  }
  if (request.has_started_before()) {
    started_before = SqlTimestamp(request.started_before());
  }
  if (after.has_value()) {
    after_time = SqlTimestamp(TimestampFromMicros(after->started_at_micros));
    after_id = after->id;
  }
  const pqxx::result rows = txn.exec_params(
      kListPostmortems, NullOr(team), NullOr(service), NullOr(severity),
      NullOr(tag), NullOr(started_after), NullOr(started_before),
      NullOr(after_time), NullOr(after_id), page_size + 1);
  ListResult result;
  for (const pqxx::row& row : rows) {
    if (static_cast<int>(result.postmortems.size()) == page_size) {
      const pqxx::row& last = rows[page_size - 1];
      result.next_page_token =
          EncodePageToken({last[1].as<int64_t>(), last[2].as<std::string>()});
      break;
    }
    DEJA_ASSIGN_OR_RETURN(v1::Postmortem postmortem,
                          PostmortemFromDocument(row[0].as<std::string>()));
    result.postmortems.push_back(std::move(postmortem));
  }
  return result;
}

// Gives replacement action items their ids: an existing id keeps the item
// (and its history), no id makes a new item, any other id is an error.
absl::Status MatchActionItems(
    pqxx::work& txn, const v1::Postmortem& current, const Timestamp& now,
    v1::Postmortem& replacement,
    std::map<std::string, std::vector<v1::ActionItemChange>>& changes) {
  std::map<std::string, const v1::ActionItem*> existing;
  for (const v1::ActionItem& item : current.action_items()) {
    existing[item.id()] = &item;
  }
  std::set<std::string> matched;
  int new_items = 0;
  for (int i = 0; i < replacement.action_items_size(); ++i) {
    const std::string& id = replacement.action_items(i).id();
    if (id.empty()) {
      ++new_items;
    } else if (existing.count(id) == 0 || !matched.insert(id).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("postmortem.action_items[", i, "].id: no action item ",
                       id, " in this postmortem"));
    }
  }
  const std::vector<std::string> ids = NewIds(txn, new_items);
  auto next_id = ids.begin();
  for (v1::ActionItem& item : *replacement.mutable_action_items()) {
    if (item.id().empty()) {
      StartActionItem(*next_id++, now, item);
      continue;
    }
    std::vector<v1::ActionItemChange> item_changes =
        CarryActionItemForward(*existing[item.id()], now, item);
    if (!item_changes.empty()) changes[item.id()] = std::move(item_changes);
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::Postmortem> UpdateIn(pqxx::work& txn,
                                        const v1::Postmortem& content,
                                        int64_t expected_version) {
  const std::string& id = content.id();
  DEJA_ASSIGN_OR_RETURN(LockedPostmortem locked, LockLivePostmortem(txn, id));
  if (locked.version != expected_version) {
    return StaleVersion(id, locked.version, expected_version);
  }
  const Timestamp now = TransactionNow(txn);
  v1::Postmortem postmortem = NormalizeForStorage(content);
  std::map<std::string, std::vector<v1::ActionItemChange>> changes;
  DEJA_RETURN_IF_ERROR(
      MatchActionItems(txn, locked.postmortem, now, postmortem, changes));
  // The stored spelling: the request may name the id in upper case.
  postmortem.set_id(locked.postmortem.id());
  postmortem.set_version(locked.version + 1);
  *postmortem.mutable_created_at() = locked.postmortem.created_at();
  *postmortem.mutable_updated_at() = now;
  DEJA_RETURN_IF_ERROR(WritePostmortems(txn, {&postmortem}, changes));
  return postmortem;
}

absl::StatusOr<v1::ActionItem> UpdateActionItemIn(
    pqxx::work& txn, const v1::UpdateActionItemRequest& request) {
  const std::string& id = request.postmortem_id();
  DEJA_ASSIGN_OR_RETURN(LockedPostmortem locked, LockLivePostmortem(txn, id));
  v1::Postmortem& postmortem = locked.postmortem;
  // Stored ids are lowercase (NormalizeForStorage); UUIDs ignore case.
  const std::string item_id = absl::AsciiStrToLower(request.action_item_id());
  auto items = postmortem.mutable_action_items();
  auto item = std::find_if(items->begin(), items->end(),
                           [&](const auto& a) { return a.id() == item_id; });
  if (item == items->end()) {
    return absl::NotFoundError(absl::StrCat("action item ",
                                            request.action_item_id(),
                                            " not found in postmortem ", id));
  }
  v1::ActionItem updated = *item;
  if (request.has_status()) updated.set_status(request.status());
  if (request.has_owner()) updated.set_owner(request.owner());
  if (request.has_due_date()) updated.set_due_date(request.due_date());
  const Timestamp now = TransactionNow(txn);
  std::vector<v1::ActionItemChange> changes =
      CarryActionItemForward(*item, now, updated);
  if (changes.empty()) return *item;  // nothing to record, version stays
  *item = updated;
  postmortem.set_version(locked.version + 1);
  *postmortem.mutable_updated_at() = now;
  DEJA_RETURN_IF_ERROR(WritePostmortems(txn, {&postmortem},
                                        {{updated.id(), std::move(changes)}}));
  return updated;
}

absl::Status DeleteIn(pqxx::work& txn, const std::string& id,
                      int64_t expected_version) {
  const pqxx::result rows =
      ExecPrepared(txn,
                   "SELECT version FROM postmortems "
                   "WHERE id = $1::uuid AND deleted_at IS NULL FOR UPDATE",
                   id);
  if (rows.empty()) return PostmortemNotFound(id);
  const int64_t version = rows[0][0].as<int64_t>();
  if (expected_version != 0 && expected_version != version) {
    return StaleVersion(id, version, expected_version);
  }
  ExecPrepared(txn,
               "UPDATE postmortems SET deleted_at = now(), updated_at = now(), "
               "version = $2::bigint WHERE id = $1::uuid",
               id, version + 1);
  InsertOutboxRows(txn, {id}, {version + 1}, "delete");
  return absl::OkStatus();
}

// The session of every store connection. Its statements run prepared
// (ExecPrepared: parsed once per connection), and PostgreSQL picks custom or
// generic plans (its default, named here so a server-wide setting cannot
// change it). Forcing custom plans also re-planned every foreign-key check
// of every inserted row, a fifth of PostgreSQL's CPU in a bulk import; with
// the batch statements of SubmitAllIn, `auto` imported 1,312-1,467
// postmortems/s against 1,107/s forced custom and 536-1,277/s forced
// generic (10,000 generated postmortems, indexer off, same machine and hour).
constexpr char kStoreSessionSetup[] = "SET plan_cache_mode = auto";

class PgStore : public PostmortemStore {
 public:
  explicit PgStore(const PgStoreOptions& options)
      : pool_(options.connection_string, options.pool_size,
              kStoreSessionSetup) {}

  absl::StatusOr<SubmitResult> Submit(const v1::Postmortem& postmortem,
                                      absl::string_view request_id,
                                      absl::Time deadline) override {
    const std::string key(request_id);
    return InTransaction("submit postmortem", deadline, [&](pqxx::work& txn) {
      return SubmitIn(txn, postmortem, key);
    });
  }

  absl::StatusOr<std::vector<absl::StatusOr<SubmitResult>>> SubmitMany(
      const std::vector<SubmitItem>& items, absl::Time deadline) override {
    return InTransaction("submit postmortems", deadline, [&](pqxx::work& txn) {
      return SubmitManyIn(txn, items);
    });
  }

  absl::StatusOr<v1::Postmortem> Get(absl::string_view id,
                                     absl::Time deadline) override {
    const std::string key(id);
    if (!IsUuid(key)) return PostmortemNotFound(key);
    return InTransaction("get postmortem", deadline,
                         [&](pqxx::work& txn) { return GetIn(txn, key); });
  }

  absl::StatusOr<ListResult> List(const v1::ListPostmortemsRequest& request,
                                  absl::Time deadline) override {
    std::optional<PagePosition> after;
    if (!request.page_token().empty()) {
      DEJA_ASSIGN_OR_RETURN(after, DecodePageToken(request.page_token()));
    }
    const int page_size = request.page_size() <= 0
                              ? kDefaultPageSize
                              : std::min(request.page_size(), 100);
    return InTransaction("list postmortems", deadline, [&](pqxx::work& txn) {
      return ListIn(txn, request, after, page_size);
    });
  }

  absl::StatusOr<v1::Postmortem> Update(const v1::Postmortem& postmortem,
                                        int64_t expected_version,
                                        absl::Time deadline) override {
    if (!IsUuid(postmortem.id())) return PostmortemNotFound(postmortem.id());
    return InTransaction("update postmortem", deadline, [&](pqxx::work& txn) {
      return UpdateIn(txn, postmortem, expected_version);
    });
  }

  absl::StatusOr<v1::ActionItem> UpdateActionItem(
      const v1::UpdateActionItemRequest& request,
      absl::Time deadline) override {
    if (!IsUuid(request.postmortem_id())) {
      return PostmortemNotFound(request.postmortem_id());
    }
    return InTransaction("update action item", deadline, [&](pqxx::work& txn) {
      return UpdateActionItemIn(txn, request);
    });
  }

  absl::Status Delete(absl::string_view id, int64_t expected_version,
                      absl::Time deadline) override {
    const std::string key(id);
    if (!IsUuid(key)) return PostmortemNotFound(key);
    return InTransaction("delete postmortem", deadline, [&](pqxx::work& txn) {
      return DeleteIn(txn, key, expected_version);
    });
  }

 private:
  // One transaction, retried once on a fresh connection after a restart
  // (store/pg_transaction.h).
  template <typename Body>
  auto InTransaction(absl::string_view what, absl::Time deadline, Body body)
      -> decltype(body(std::declval<pqxx::work&>())) {
    return RunInTransaction(pool_, what, deadline, std::move(body));
  }

  ConnectionPool pool_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<PostmortemStore>> OpenPgStore(
    const PgStoreOptions& options) {
  if (options.connection_string.empty()) {
    return absl::InvalidArgumentError("connection_string: required");
  }
  if (options.pool_size < 1) {
    return absl::InvalidArgumentError("pool_size: must be at least 1");
  }
  return std::unique_ptr<PostmortemStore>(new PgStore(options));
}

}  // namespace deja
