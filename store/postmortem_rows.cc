#include "store/postmortem_rows.h"

#include <optional>
#include <pqxx/pqxx>
#include <unordered_set>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "core/error_signature.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/time_util.h"
#include "store/pg_transaction.h"
#include "store/proto_json.h"

namespace deja {
namespace {

using google::protobuf::RepeatedPtrField;
using google::protobuf::Timestamp;

// Trimmed, without empties, the first of each case-insensitive spelling.
void KeepDistinctTrimmed(bool lowercase,
                         RepeatedPtrField<std::string>& values) {
  std::unordered_set<std::string> seen;
  RepeatedPtrField<std::string> kept;
  for (const std::string& value : values) {
    std::string trimmed(absl::StripAsciiWhitespace(value));
    if (trimmed.empty()) continue;
    std::string key = absl::AsciiStrToLower(trimmed);
    if (!seen.insert(key).second) continue;
    *kept.Add() = lowercase ? std::move(key) : std::move(trimmed);
  }
  values.Swap(&kept);
}

std::optional<std::string> TimestampParam(bool present,
                                          const Timestamp& timestamp) {
  if (!present) return std::nullopt;
  return SqlTimestamp(timestamp);
}

// Severity is the enum's name in a document ("SEV2"), or its number when
// the value has no name (which the CHECK then refuses). Protobuf's JSON
// prints int64 values as strings and a Duration as seconds with an "s".
constexpr char kUpsertPostmortems[] = R"sql(
INSERT INTO postmortems (
  id, team, title, summary, severity, status, started_at, detected_at,
  mitigated_at, resolved_at, impact_description, users_affected,
  impact_seconds, detection_source, resolution, external_id, source_url,
  version, created_at, updated_at, document)
SELECT (d->>'id')::uuid, d->>'team', d->>'title', d->>'summary',
  CASE WHEN jsonb_typeof(d->'severity') = 'number'
       THEN (d->>'severity')::smallint
       ELSE array_position('{SEV1,SEV2,SEV3,SEV4,SEV5}'::text[],
                           d->>'severity') END,
  d->>'status', (d->>'started_at')::timestamptz,
  (d->>'detected_at')::timestamptz, (d->>'mitigated_at')::timestamptz,
  (d->>'resolved_at')::timestamptz,
  coalesce(d->'impact'->>'description', ''),
  coalesce((d->'impact'->>'users_affected')::bigint, 0),
  trunc(rtrim(d->'impact'->>'duration', 's')::numeric)::bigint,
  coalesce(d->'detection'->>'source', 'SOURCE_UNSPECIFIED'),
  d->>'resolution', d->>'external_id', d->>'source_url',
  (d->>'version')::bigint, (d->>'created_at')::timestamptz,
  (d->>'updated_at')::timestamptz, d
FROM jsonb_array_elements($1::jsonb) AS d
ON CONFLICT (id) DO UPDATE SET
  team = EXCLUDED.team, title = EXCLUDED.title, summary = EXCLUDED.summary,
  severity = EXCLUDED.severity, status = EXCLUDED.status,
  started_at = EXCLUDED.started_at, detected_at = EXCLUDED.detected_at,
  mitigated_at = EXCLUDED.mitigated_at, resolved_at = EXCLUDED.resolved_at,
  impact_description = EXCLUDED.impact_description,
  users_affected = EXCLUDED.users_affected,
  impact_seconds = EXCLUDED.impact_seconds,
  detection_source = EXCLUDED.detection_source,
  resolution = EXCLUDED.resolution, external_id = EXCLUDED.external_id,
  source_url = EXCLUDED.source_url, version = EXCLUDED.version,
  updated_at = EXCLUDED.updated_at, document = EXCLUDED.document
)sql";

// Data-modifying CTEs all run, so one round trip clears every detail table.
constexpr char kDeleteDetailRows[] = R"sql(
WITH s AS (DELETE FROM postmortem_services WHERE postmortem_id = ANY($1::uuid[])),
     t AS (DELETE FROM postmortem_tags WHERE postmortem_id = ANY($1::uuid[])),
     e AS (DELETE FROM timeline_events WHERE postmortem_id = ANY($1::uuid[])),
     w AS (DELETE FROM whys WHERE postmortem_id = ANY($1::uuid[])),
     r AS (DELETE FROM root_causes WHERE postmortem_id = ANY($1::uuid[])),
     f AS (DELETE FROM contributing_factors WHERE postmortem_id = ANY($1::uuid[])),
     d AS (DELETE FROM declared_recurrences WHERE postmortem_id = ANY($1::uuid[]))
SELECT 1
)sql";

// Reads the document written earlier in this transaction.
constexpr char kInsertDetailRows[] = R"sql(
WITH doc AS (
  SELECT id, document FROM postmortems WHERE id = ANY($1::uuid[])),
s AS (
  INSERT INTO postmortem_services (postmortem_id, service)
  SELECT doc.id, v FROM doc, jsonb_array_elements_text(doc.document->'services') v
  ON CONFLICT DO NOTHING),
t AS (
  INSERT INTO postmortem_tags (postmortem_id, tag)
  SELECT doc.id, v FROM doc, jsonb_array_elements_text(doc.document->'tags') v
  ON CONFLICT DO NOTHING),
e AS (
  INSERT INTO timeline_events (postmortem_id, position, at, description)
  SELECT doc.id, x.ord, (x.v->>'at')::timestamptz,
         coalesce(x.v->>'description', '')
  FROM doc, jsonb_array_elements(doc.document->'timeline')
            WITH ORDINALITY AS x(v, ord)),
w AS (
  INSERT INTO whys (postmortem_id, position, question, answer)
  SELECT doc.id, x.ord, coalesce(x.v->>'question', ''),
         coalesce(x.v->>'answer', '')
  FROM doc, jsonb_array_elements(doc.document->'whys')
            WITH ORDINALITY AS x(v, ord)),
r AS (
  INSERT INTO root_causes (postmortem_id, position, category, description)
  SELECT doc.id, x.ord, coalesce(x.v->>'category', 'CATEGORY_UNSPECIFIED'),
         coalesce(x.v->>'description', '')
  FROM doc, jsonb_array_elements(doc.document->'root_causes')
            WITH ORDINALITY AS x(v, ord)),
f AS (
  INSERT INTO contributing_factors (postmortem_id, position, description)
  SELECT doc.id, x.ord, x.v
  FROM doc, jsonb_array_elements_text(doc.document->'contributing_factors')
            WITH ORDINALITY AS x(v, ord)),
d AS (
  INSERT INTO declared_recurrences (postmortem_id, earlier_id)
  SELECT doc.id, v::uuid
  FROM doc, jsonb_array_elements_text(doc.document->'recurrence_of') v
  WHERE v ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
  ON CONFLICT DO NOTHING)
SELECT 1
)sql";

// Removed items keep their row, so their history survives (0002).
constexpr char kMarkRemovedActionItems[] = R"sql(
UPDATE action_item_records r SET removed_at = now(), updated_at = now()
FROM postmortems p
WHERE p.id = ANY($1::uuid[]) AND r.postmortem_id = p.id
  AND r.removed_at IS NULL
  AND NOT EXISTS (
    SELECT 1 FROM jsonb_array_elements(p.document->'action_items') a
    WHERE a->>'id' = r.id::text)
)sql";

// Positions are unique per postmortem among items not removed, checked at
// commit, so reordering items in place is fine.
constexpr char kUpsertActionItems[] = R"sql(
INSERT INTO action_item_records AS r (
  id, postmortem_id, position, description, owner, due_date, status, kind,
  tracker_url, completed_at)
SELECT (x.v->>'id')::uuid, p.id, x.ord, coalesce(x.v->>'description', ''),
       coalesce(x.v->>'owner', ''), NULLIF(x.v->>'due_date', '')::date,
       coalesce(x.v->>'status', 'OPEN'),
       coalesce(x.v->>'kind', 'KIND_UNSPECIFIED'),
       coalesce(x.v->>'tracker_url', ''), (x.v->>'completed_at')::timestamptz
FROM postmortems p, jsonb_array_elements(p.document->'action_items')
                    WITH ORDINALITY AS x(v, ord)
WHERE p.id = ANY($1::uuid[])
ON CONFLICT (id) DO UPDATE SET
  position = EXCLUDED.position, description = EXCLUDED.description,
  owner = EXCLUDED.owner, due_date = EXCLUDED.due_date,
  status = EXCLUDED.status, kind = EXCLUDED.kind,
  tracker_url = EXCLUDED.tracker_url, completed_at = EXCLUDED.completed_at,
  updated_at = now()
WHERE (r.position, r.description, r.owner, r.due_date, r.status, r.kind,
       r.tracker_url, r.completed_at)
  IS DISTINCT FROM
      (EXCLUDED.position, EXCLUDED.description, EXCLUDED.owner,
       EXCLUDED.due_date, EXCLUDED.status, EXCLUDED.kind,
       EXCLUDED.tracker_url, EXCLUDED.completed_at)
)sql";

// Two statements: a DELETE and an INSERT of the same key in one statement
// would not see each other.
constexpr char kInsertSignatures[] = R"sql(
WITH s AS (
  INSERT INTO postmortem_signatures (postmortem_id, signature, example)
  SELECT x.postmortem_id, x.signature, x.example
  FROM unnest($2::uuid[], $3::text[], $4::text[])
       AS x(postmortem_id, signature, example)
  ON CONFLICT DO NOTHING)
UPDATE postmortems SET signatures_version = $5::smallint
WHERE id = ANY($1::uuid[])
)sql";

// Links follow declared_recurrences, which RewriteDetailRows has just
// rewritten. A link a person decided (decided_at) is theirs: it stays even
// when the submitter stops declaring it.
constexpr char kRemoveUndeclaredLinks[] = R"sql(
DELETE FROM recurrence_links l
WHERE l.postmortem_id = ANY($1::uuid[]) AND l.source = 'DECLARED'
  AND l.decided_at IS NULL
  AND NOT EXISTS (
    SELECT 1 FROM declared_recurrences d
    WHERE d.postmortem_id = l.postmortem_id AND d.earlier_id = l.earlier_id)
)sql";

// Only to live postmortems that did not start later: a link always points
// back in time. A suggestion the indexer made the other way round for the
// pair (equal start times) gives way to the declaration.
constexpr char kUpsertDeclaredLinks[] = R"sql(
WITH declared AS (
  SELECT d.postmortem_id, d.earlier_id
  FROM declared_recurrences d
  JOIN postmortems p ON p.id = d.postmortem_id
  JOIN postmortems e ON e.id = d.earlier_id
  WHERE d.postmortem_id = ANY($1::uuid[]) AND d.earlier_id <> d.postmortem_id
    AND e.deleted_at IS NULL AND e.started_at <= p.started_at),
reversed AS (
  DELETE FROM recurrence_links l USING declared
  WHERE l.postmortem_id = declared.earlier_id
    AND l.earlier_id = declared.postmortem_id
    AND l.source = 'AUTO' AND l.state = 'SUGGESTED')
INSERT INTO recurrence_links AS l
  (postmortem_id, earlier_id, source, state, score, reasons)
SELECT postmortem_id, earlier_id, 'DECLARED', 'CONFIRMED', 1,
       '["declared by the submitter (recurrence_of)"]'
FROM declared
ON CONFLICT (postmortem_id, earlier_id) DO UPDATE SET
  source = 'DECLARED', state = 'CONFIRMED', score = 1,
  reasons = EXCLUDED.reasons, updated_at = now()
WHERE l.source = 'AUTO' AND l.state <> 'REJECTED'
)sql";

v1::ActionItemChange Change(const Timestamp& now, absl::string_view field,
                            std::string old_value, std::string new_value) {
  v1::ActionItemChange change;
  *change.mutable_at() = now;
  change.set_field(std::string(field));
  change.set_old_value(std::move(old_value));
  change.set_new_value(std::move(new_value));
  return change;
}

}  // namespace

v1::Postmortem NormalizeForStorage(const v1::Postmortem& postmortem) {
  v1::Postmortem stored = postmortem;
  stored.clear_id();
  stored.clear_version();
  stored.clear_created_at();
  stored.clear_updated_at();
  stored.set_team(std::string(absl::StripAsciiWhitespace(stored.team())));
  KeepDistinctTrimmed(/*lowercase=*/false, *stored.mutable_services());
  KeepDistinctTrimmed(/*lowercase=*/true, *stored.mutable_tags());
  if (stored.status() == v1::Postmortem::STATUS_UNSPECIFIED) {
    stored.set_status(v1::Postmortem::PUBLISHED);
  }
  for (v1::ActionItem& item : *stored.mutable_action_items()) {
    absl::AsciiStrToLower(item.mutable_id());
    item.clear_history();
    if (item.status() == v1::ActionItem::STATUS_UNSPECIFIED) {
      item.set_status(v1::ActionItem::OPEN);
    }
    // A closed item may say when it was closed (StartActionItem).
    if (!IsClosed(item.status())) item.clear_completed_at();
  }
  return stored;
}

absl::StatusOr<std::string> DocumentJson(const v1::Postmortem& postmortem) {
  return ProtoJson(postmortem, /*print_defaults=*/true);
}

absl::StatusOr<v1::Postmortem> PostmortemFromDocument(absl::string_view json) {
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;  // documents written by newer servers
  v1::Postmortem postmortem;
  const auto status = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(json.data(), json.size()), &postmortem,
      options);
  if (!status.ok()) {
    return absl::DataLossError(
        absl::StrCat("stored postmortem document: ", status.ToString()));
  }
  return postmortem;
}

absl::StatusOr<std::string> JsonStringArray(
    const std::vector<std::string>& values) {
  google::protobuf::ListValue list;
  for (const std::string& value : values) {
    list.add_values()->set_string_value(value);
  }
  std::string json;
  const auto status = google::protobuf::util::MessageToJsonString(list, &json);
  if (!status.ok()) {
    return absl::InternalError(
        absl::StrCat("strings to JSON: ", status.ToString()));
  }
  return json;
}

Timestamp TimestampFromMicros(int64_t micros) {
  return google::protobuf::util::TimeUtil::MicrosecondsToTimestamp(micros);
}

std::string SqlTimestamp(const Timestamp& timestamp) {
  const absl::Time time = absl::FromUnixSeconds(timestamp.seconds()) +
                          absl::Nanoseconds(timestamp.nanos());
  // absl::RFC3339_full's %Y does not pad years below 1000.
  return absl::FormatTime("%E4Y-%m-%d%ET%H:%M:%E*S%Ez", time,
                          absl::UTCTimeZone());
}

bool IsClosed(v1::ActionItem::Status status) {
  return status == v1::ActionItem::DONE || status == v1::ActionItem::WONT_DO;
}

void StartActionItem(const std::string& id, const Timestamp& now,
                     v1::ActionItem& item) {
  item.set_id(id);
  item.clear_history();
  if (!IsClosed(item.status())) {
    item.clear_completed_at();
    return;
  }
  // A postmortem of a past incident (an import) may say when an item was
  // closed; follow-through statistics need that time, not the import's.
  const bool given =
      item.has_completed_at() && std::make_pair(item.completed_at().seconds(),
                                                item.completed_at().nanos()) <=
                                     std::make_pair(now.seconds(), now.nanos());
  if (!given) *item.mutable_completed_at() = now;
}

std::vector<v1::ActionItemChange> CarryActionItemForward(
    const v1::ActionItem& previous, const Timestamp& now,
    v1::ActionItem& replacement) {
  std::vector<v1::ActionItemChange> changes;
  if (previous.status() != replacement.status()) {
    changes.push_back(
        Change(now, "status", v1::ActionItem::Status_Name(previous.status()),
               v1::ActionItem::Status_Name(replacement.status())));
  }
  if (previous.owner() != replacement.owner()) {
    changes.push_back(
        Change(now, "owner", previous.owner(), replacement.owner()));
  }
  if (previous.due_date() != replacement.due_date()) {
    changes.push_back(
        Change(now, "due_date", previous.due_date(), replacement.due_date()));
  }
  *replacement.mutable_history() = previous.history();
  for (const v1::ActionItemChange& change : changes) {
    *replacement.add_history() = change;
  }
  // Closing keeps the first completion time; reopening forgets it.
  replacement.clear_completed_at();
  if (IsClosed(replacement.status())) {
    *replacement.mutable_completed_at() =
        IsClosed(previous.status()) && previous.has_completed_at()
            ? previous.completed_at()
            : now;
  }
  return changes;
}

std::string SqlArray(const std::vector<std::string>& values) {
  std::string literal = "{";
  for (const std::string& value : values) {
    if (literal.size() > 1) literal += ',';
    // Inside double quotes only '"' and '\\' need a backslash.
    literal += '"';
    for (const char c : value) {
      if (c == '"' || c == '\\') literal += '\\';
      literal += c;
    }
    literal += '"';
  }
  literal += '}';
  return literal;
}

void WritePostmortemRows(pqxx::transaction_base& txn,
                         const std::string& documents) {
  txn.exec_params(kUpsertPostmortems, documents);
}

void RewriteDetailRows(pqxx::transaction_base& txn,
                       const std::vector<std::string>& postmortem_ids,
                       PriorRows prior) {
  const std::string ids = SqlArray(postmortem_ids);
  if (prior == PriorRows::kMayExist) {
    txn.exec_params(kDeleteDetailRows, ids);
  }
  txn.exec_params(kInsertDetailRows, ids);
}

void SyncActionItemRows(pqxx::transaction_base& txn,
                        const std::vector<std::string>& postmortem_ids,
                        PriorRows prior) {
  const std::string ids = SqlArray(postmortem_ids);
  if (prior == PriorRows::kMayExist) {
    txn.exec_params(kMarkRemovedActionItems, ids);
  }
  txn.exec_params(kUpsertActionItems, ids);
}

void InsertActionItemChanges(pqxx::transaction_base& txn,
                             const std::string& action_item_id,
                             const std::vector<v1::ActionItemChange>& changes) {
  for (const v1::ActionItemChange& change : changes) {
    const std::optional<std::string> at = TimestampParam(true, change.at());
    ExecPrepared(txn,
                 "INSERT INTO action_item_history "
                 "(action_item_id, at, field, old_value, new_value) "
                 "VALUES ($1::uuid, $2::timestamptz, $3, $4, $5)",
                 action_item_id, NullOr(at), change.field(), change.old_value(),
                 change.new_value());
  }
}

void RewriteSignatureRows(
    pqxx::transaction_base& txn, const std::vector<std::string>& postmortem_ids,
    const std::vector<std::vector<std::string>>& log_lines, PriorRows prior) {
  std::vector<std::string> owners;
  std::vector<std::string> signatures;
  std::vector<std::string> examples;
  for (size_t i = 0; i < postmortem_ids.size(); ++i) {
    for (ErrorSignature& signature : SignaturesOf(log_lines[i])) {
      owners.push_back(postmortem_ids[i]);
      signatures.push_back(std::move(signature.id));
      examples.push_back(std::move(signature.normalized));
    }
  }
  const std::string ids = SqlArray(postmortem_ids);
  if (prior == PriorRows::kMayExist) {
    txn.exec_params(
        "DELETE FROM postmortem_signatures "
        "WHERE postmortem_id = ANY($1::uuid[])",
        ids);
  }
  txn.exec_params(kInsertSignatures, ids, SqlArray(owners),
                  SqlArray(signatures), SqlArray(examples), kSignaturesVersion);
}

void SyncDeclaredLinks(pqxx::transaction_base& txn,
                       const std::vector<std::string>& postmortem_ids,
                       PriorRows prior) {
  const std::string ids = SqlArray(postmortem_ids);
  if (prior == PriorRows::kMayExist) {
    txn.exec_params(kRemoveUndeclaredLinks, ids);
  }
  txn.exec_params(kUpsertDeclaredLinks, ids);
}

void InsertOutboxRows(pqxx::transaction_base& txn,
                      const std::vector<std::string>& postmortem_ids,
                      const std::vector<int64_t>& versions,
                      absl::string_view operation) {
  std::vector<std::string> version_texts;
  version_texts.reserve(versions.size());
  for (const int64_t version : versions) {
    version_texts.push_back(std::to_string(version));
  }
  txn.exec_params(
      "INSERT INTO index_outbox (postmortem_id, version, operation) "
      "SELECT x.postmortem_id, x.version, $3 "
      "FROM unnest($1::uuid[], $2::bigint[]) AS x(postmortem_id, "
      "version)",
      SqlArray(postmortem_ids), SqlArray(version_texts),
      std::string(operation));
}

Timestamp TransactionNow(pqxx::transaction_base& txn) {
  const pqxx::row row = ExecPrepared(
      txn, "SELECT (extract(epoch FROM now()) * 1000000)::int8")[0];
  return TimestampFromMicros(row[0].as<int64_t>());
}

std::vector<std::string> NewIds(pqxx::transaction_base& txn, int count) {
  std::vector<std::string> ids;
  if (count <= 0) return ids;
  const pqxx::result rows = ExecPrepared(
      txn, "SELECT gen_random_uuid()::text FROM generate_series(1, $1::int)",
      count);
  ids.reserve(rows.size());
  for (const pqxx::row& row : rows) ids.push_back(row[0].as<std::string>());
  return ids;
}

}  // namespace deja
