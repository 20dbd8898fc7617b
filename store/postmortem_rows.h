#ifndef DEJA_STORE_POSTMORTEM_ROWS_H_
#define DEJA_STORE_POSTMORTEM_ROWS_H_

// How a Postmortem maps to rows, private to store/. The document column (proto3
// JSON) is the read model; the normalised tables are derived from it inside
// the same transaction, so both always agree. Functions that take a
// transaction throw libpqxx exceptions; the caller maps them.

#include <cstdint>
#include <optional>
#include <pqxx/transaction_base>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "deja/v1/postmortem.pb.h"
#include "deja/v1/postmortem_service.pb.h"
#include "google/protobuf/timestamp.pb.h"

namespace deja {

// ---- Pure mapping (no I/O) ----

// postmortems.signatures_version of a row whose postmortem_signatures are
// current; 0 marks rows written before signatures were stored
// (schema/0003), which BackfillSignatures fills in.
inline constexpr int kSignaturesVersion = 1;

// The stored form of client content: team trimmed, services and tags trimmed
// and de-duplicated case-insensitively (tags lowercased, services keep the
// first spelling), status PUBLISHED and action item status OPEN when
// unspecified, output-only fields cleared (the completion time of a closed
// action item is kept for StartActionItem; action item ids are kept,
// lowercased, for Update to match: ids are case-insensitive like UUIDs).
v1::Postmortem NormalizeForStorage(const v1::Postmortem& postmortem);

// Proto3 JSON with proto field names and every field printed, so SQL can read
// the document without knowing proto3's defaults (store/proto_json.h).
absl::StatusOr<std::string> DocumentJson(const v1::Postmortem& postmortem);
absl::StatusOr<v1::Postmortem> PostmortemFromDocument(absl::string_view json);

// A JSON array of the strings (for jsonb parameters). Strings must be valid
// UTF-8.
absl::StatusOr<std::string> JsonStringArray(
    const std::vector<std::string>& values);

google::protobuf::Timestamp TimestampFromMicros(int64_t micros);
// RFC 3339 text that PostgreSQL reads as timestamptz without loss of
// microseconds. The year always has four digits ("0012-01-02T..."): PostgreSQL
// reads "12-01-02" as 2002-12-01.
std::string SqlTimestamp(const google::protobuf::Timestamp& timestamp);

// libpqxx 6.4 as packaged here lacks std::optional parameters; a null
// `const char*` is how it sends SQL NULL.
inline const char* NullOr(const std::optional<std::string>& value) {
  return value.has_value() ? value->c_str() : nullptr;
}

// True for statuses that close an action item (DONE, WONT_DO).
bool IsClosed(v1::ActionItem::Status status);

// Gives a brand-new action item its id and, when it starts closed, its
// completion time: the one it carries if not in the future, else `now`.
void StartActionItem(const std::string& id,
                     const google::protobuf::Timestamp& now,
                     v1::ActionItem& item);

// Carries `previous`'s history and completion time into `replacement` (same
// id), appending one change per differing status, owner or due date, stamped
// `now`. Returns the appended changes (empty when nothing changed).
std::vector<v1::ActionItemChange> CarryActionItemForward(
    const v1::ActionItem& previous, const google::protobuf::Timestamp& now,
    v1::ActionItem& replacement);

// A PostgreSQL array literal of `values` ("{\"a\",\"b\"}"), for a text[] or
// uuid[] parameter: one statement then covers many rows. Values must not
// contain NUL bytes (text cannot).
std::string SqlArray(const std::vector<std::string>& values);

// ---- Rows (throw pqxx exceptions) ----
//
// Each statement covers every postmortem it is given, so writing a batch of
// an import costs about as many round trips as writing one postmortem. They
// run unprepared, planned with their values on every call: a plan cached
// while the tables were small kept scanning them whole as they grew.

// Inserts or replaces the postmortems rows (all columns but created_at on
// replace). The columns are read from each document (DocumentJson of a
// postmortem that carries id, version and times), as the detail rows are.
// `documents` is a JSON array of them.
void WritePostmortemRows(pqxx::transaction_base& txn,
                         const std::string& documents);

// Whether the rows written are the postmortems' first versions: they have
// no detail, action-item, signature or link rows yet, so the statements that
// remove old ones are skipped.
enum class PriorRows { kNone, kMayExist };

// Rebuilds services, tags, timeline, whys, root causes, contributing factors
// and declared recurrences from the stored documents.
void RewriteDetailRows(pqxx::transaction_base& txn,
                       const std::vector<std::string>& postmortem_ids,
                       PriorRows prior);

// Makes action_item_records match the stored documents: marks items no
// longer there removed (removed_at; the row and its history stay, the
// action_items view hides it), inserts new ones, updates the rest (their ids
// are stable, so action_item_history stays attached).
void SyncActionItemRows(pqxx::transaction_base& txn,
                        const std::vector<std::string>& postmortem_ids,
                        PriorRows prior);

void InsertActionItemChanges(pqxx::transaction_base& txn,
                             const std::string& action_item_id,
                             const std::vector<v1::ActionItemChange>& changes);

// One outbox row per postmortem, at its version. operation: "upsert" or
// "delete".
void InsertOutboxRows(pqxx::transaction_base& txn,
                      const std::vector<std::string>& postmortem_ids,
                      const std::vector<int64_t>& versions,
                      absl::string_view operation);

// Makes postmortem_signatures hold the error signatures of each postmortem's
// log lines (core/error_signature.h SignaturesOf; `log_lines[i]` belongs to
// `postmortem_ids[i]`) and marks the rows as written at kSignaturesVersion.
// Replaces whatever they had.
void RewriteSignatureRows(
    pqxx::transaction_base& txn, const std::vector<std::string>& postmortem_ids,
    const std::vector<std::vector<std::string>>& log_lines,
    PriorRows prior = PriorRows::kMayExist);

// Mirrors the stored declared_recurrences of the postmortems (their
// recurrence_of) into recurrence_links as DECLARED / CONFIRMED links with
// score 1, to live postmortems that did not start later. An AUTO link of the
// pair is upgraded unless a person rejected it; a DECLARED link no longer
// declared is removed unless a person decided it. Call after
// RewriteDetailRows.
void SyncDeclaredLinks(pqxx::transaction_base& txn,
                       const std::vector<std::string>& postmortem_ids,
                       PriorRows prior);

// The transaction's start time (now()), the clock for every time it writes.
google::protobuf::Timestamp TransactionNow(pqxx::transaction_base& txn);

// `count` new UUIDs from the database.
std::vector<std::string> NewIds(pqxx::transaction_base& txn, int count);

}  // namespace deja

#endif  // DEJA_STORE_POSTMORTEM_ROWS_H_
