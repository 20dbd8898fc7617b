#include "store/pg_recurrence_store.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <exception>
#include <limits>
#include <map>
#include <optional>
#include <pqxx/pqxx>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "core/stats_validation.h"
#include "core/status_macros.h"
#include "core/validation.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/time_util.h"
#include "store/connection_pool.h"
#include "store/pg_errors.h"
#include "store/pg_transaction.h"
#include "store/postmortem_rows.h"

namespace deja {
namespace {

using v1::RecurrenceLink;

// The interface has no deadlines: a call gives up after this long (waiting
// for a connection, or in a statement), so a stuck database never holds an
// indexer batch or an RPC thread for ever.
constexpr absl::Duration kCallTimeout = absl::Seconds(30);

std::string PairName(absl::string_view later_id, absl::string_view earlier_id) {
  return absl::StrCat(later_id, " -> ", earlier_id);
}

// ---- Page tokens: opaque, "<started_at micros>:<later id>:<earlier id>" ----

struct PagePosition {
  int64_t started_at_micros = 0;
  std::string later_id;
  std::string earlier_id;
};

std::string EncodePageToken(const PagePosition& position) {
  return absl::WebSafeBase64Escape(absl::StrCat(position.started_at_micros, ":",
                                                position.later_id, ":",
                                                position.earlier_id));
}

absl::StatusOr<PagePosition> DecodePageToken(absl::string_view token) {
  const absl::Status malformed =
      absl::InvalidArgumentError("page_token: malformed");
  std::string raw;
  if (!absl::WebSafeBase64Unescape(token, &raw)) return malformed;
  std::vector<std::string> parts = absl::StrSplit(raw, ':');
  PagePosition position;
  if (parts.size() != 3 ||
      !absl::SimpleAtoi(parts[0], &position.started_at_micros) ||
      !IsUuid(parts[1]) || !IsUuid(parts[2])) {
    return malformed;
  }
  using google::protobuf::util::TimeUtil;
  constexpr int64_t kMicrosPerSecond = 1000000;
  if (position.started_at_micros <
          TimeUtil::kTimestampMinSeconds * kMicrosPerSecond ||
      position.started_at_micros >
          TimeUtil::kTimestampMaxSeconds * kMicrosPerSecond) {
    return malformed;
  }
  position.later_id = std::move(parts[1]);
  position.earlier_id = std::move(parts[2]);
  return position;
}

// ---- Reading links (through the `recurrences` view, which hides links of
// deleted postmortems and defines `counted`) ----

constexpr char kLinkColumns[] = R"sql(
SELECT r.postmortem_id::text, r.earlier_id::text, r.source, r.state, r.score,
       r.reasons::text, r.counted, r.decided_by, r.note,
       (extract(epoch FROM r.decided_at) * 1000000)::int8,
       (extract(epoch FROM r.created_at) * 1000000)::int8,
       r.title, (extract(epoch FROM r.started_at) * 1000000)::int8,
       r.earlier_title,
       (extract(epoch FROM r.earlier_started_at) * 1000000)::int8
FROM recurrences r
)sql";
constexpr int kStartedAtColumn = 12;

absl::StatusOr<std::vector<std::string>> ReasonsFromJson(
    const std::string& json) {
  google::protobuf::ListValue list;
  const auto status = google::protobuf::util::JsonStringToMessage(json, &list);
  if (!status.ok()) {
    return absl::DataLossError(
        absl::StrCat("stored recurrence reasons: ", status.ToString()));
  }
  std::vector<std::string> reasons;
  for (const google::protobuf::Value& value : list.values()) {
    if (value.has_string_value()) reasons.push_back(value.string_value());
  }
  return reasons;
}

absl::StatusOr<RecurrenceLink> LinkFromRow(const pqxx::row& row) {
  RecurrenceLink link;
  link.set_postmortem_id(row[0].as<std::string>());
  link.set_earlier_id(row[1].as<std::string>());
  RecurrenceLink::Source source = RecurrenceLink::SOURCE_UNSPECIFIED;
  RecurrenceLink::Source_Parse(row[2].as<std::string>(), &source);
  link.set_source(source);
  RecurrenceLink::State state = RecurrenceLink::STATE_UNSPECIFIED;
  RecurrenceLink::State_Parse(row[3].as<std::string>(), &state);
  link.set_state(state);
  link.set_score(row[4].as<double>());
  DEJA_ASSIGN_OR_RETURN(const std::vector<std::string> reasons,
                        ReasonsFromJson(row[5].as<std::string>()));
  for (const std::string& reason : reasons) link.add_reasons(reason);
  link.set_counted(row[6].as<bool>());
  link.set_decided_by(row[7].as<std::string>());
  link.set_note(row[8].as<std::string>());
  if (!row[9].is_null()) {
    *link.mutable_decided_at() = TimestampFromMicros(row[9].as<int64_t>());
  }
  *link.mutable_created_at() = TimestampFromMicros(row[10].as<int64_t>());
  link.set_title(row[11].as<std::string>());
  *link.mutable_started_at() = TimestampFromMicros(row[12].as<int64_t>());
  link.set_earlier_title(row[13].as<std::string>());
  *link.mutable_earlier_started_at() =
      TimestampFromMicros(row[14].as<int64_t>());
  return link;
}

// ---- RecordSuggestions ----

struct CheckedSuggestion {
  std::string later_id;
  std::string earlier_id;
  double score = 0;
  std::string reasons_json;
};

// Lowercased (stored UUIDs are), one per unordered pair (the best score).
absl::StatusOr<std::vector<CheckedSuggestion>> CheckSuggestions(
    const std::string& postmortem_id, const std::vector<SuggestedLink>& links) {
  std::map<std::pair<std::string, std::string>, CheckedSuggestion> by_pair;
  for (size_t i = 0; i < links.size(); ++i) {
    const SuggestedLink& link = links[i];
    const std::string path = absl::StrCat("links[", i, "]");
    if (!IsUuid(link.later_id) || !IsUuid(link.earlier_id)) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": malformed postmortem id"));
    }
    CheckedSuggestion checked;
    checked.later_id = absl::AsciiStrToLower(link.later_id);
    checked.earlier_id = absl::AsciiStrToLower(link.earlier_id);
    if (checked.later_id == checked.earlier_id) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": links a postmortem to itself"));
    }
    if (checked.later_id != postmortem_id &&
        checked.earlier_id != postmortem_id) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": does not involve postmortem ", postmortem_id));
    }
    if (!std::isfinite(link.score) || link.score < 0 || link.score > 1) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ".score: must be 0..1, not ", link.score));
    }
    checked.score = link.score;
    DEJA_ASSIGN_OR_RETURN(checked.reasons_json, JsonStringArray(link.reasons));
    const auto key = std::minmax(checked.later_id, checked.earlier_id);
    auto [it, inserted] = by_pair.emplace(key, checked);
    if (!inserted && checked.score > it->second.score) it->second = checked;
  }
  std::vector<CheckedSuggestion> checked;
  for (auto& [pair, suggestion] : by_pair) {
    checked.push_back(std::move(suggestion));
  }
  return checked;
}

// The postmortem's own suggestions (it is the repeat) that this indexing did
// not find again go. Links to it as the earlier incident stay: they came
// from the later incidents' matches, and "more like this" is neither
// symmetric nor unlimited (an earlier incident with many repeats keeps only
// its best few), so closing one of its action items, which re-indexes it,
// must not erase its repeats.
constexpr char kRemoveStaleSuggestions[] = R"sql(
DELETE FROM recurrence_links l
WHERE l.postmortem_id = $1::uuid
  AND l.source = 'AUTO' AND l.state = 'SUGGESTED'
  AND NOT EXISTS (
    SELECT 1
    FROM ROWS FROM (jsonb_array_elements_text($2::jsonb),
                    jsonb_array_elements_text($3::jsonb)) AS k(later, earlier)
    WHERE k.later::uuid = l.postmortem_id AND k.earlier::uuid = l.earlier_id)
)sql";

// Both sides must be live. A person's decision and a declaration win: a
// REJECTED link keeps its state and score, a DECLARED one is not the
// indexer's to touch, and a link the other way round that survived the
// removal above (decided or declared) already covers the pair. Unchanged
// rows are not rewritten.
constexpr char kUpsertSuggestion[] = R"sql(
INSERT INTO recurrence_links AS l
  (postmortem_id, earlier_id, source, state, score, reasons)
SELECT p.id, e.id, 'AUTO', 'SUGGESTED', $3::float8, $4::jsonb
FROM postmortems p, postmortems e
WHERE p.id = $1::uuid AND e.id = $2::uuid
  AND p.deleted_at IS NULL AND e.deleted_at IS NULL
  AND NOT EXISTS (
    SELECT 1 FROM recurrence_links r
    WHERE r.postmortem_id = e.id AND r.earlier_id = p.id)
ON CONFLICT (postmortem_id, earlier_id) DO UPDATE SET
  score = EXCLUDED.score, reasons = EXCLUDED.reasons, updated_at = now()
WHERE l.source = 'AUTO' AND l.state <> 'REJECTED'
  AND (l.score, l.reasons) IS DISTINCT FROM (EXCLUDED.score, EXCLUDED.reasons)
)sql";

absl::Status RecordIn(pqxx::work& txn, const std::string& postmortem_id,
                      const std::vector<CheckedSuggestion>& suggestions) {
  // Deleted or gone since it was indexed: its links no longer matter (the
  // view hides them), and failing would only hold up the indexer.
  if (txn.exec_params("SELECT 1 FROM postmortems "
                      "WHERE id = $1::uuid AND deleted_at IS NULL",
                      postmortem_id)
          .empty()) {
    return absl::OkStatus();
  }
  std::vector<std::string> later_ids;
  std::vector<std::string> earlier_ids;
  for (const CheckedSuggestion& suggestion : suggestions) {
    later_ids.push_back(suggestion.later_id);
    earlier_ids.push_back(suggestion.earlier_id);
  }
  DEJA_ASSIGN_OR_RETURN(const std::string later_json,
                        JsonStringArray(later_ids));
  DEJA_ASSIGN_OR_RETURN(const std::string earlier_json,
                        JsonStringArray(earlier_ids));
  txn.exec_params(kRemoveStaleSuggestions, postmortem_id, later_json,
                  earlier_json);
  for (const CheckedSuggestion& suggestion : suggestions) {
    txn.exec_params(kUpsertSuggestion, suggestion.later_id,
                    suggestion.earlier_id, suggestion.score,
                    suggestion.reasons_json);
  }
  return absl::OkStatus();
}

// ---- List ----

constexpr char kListFilter[] = R"sql(
WHERE ($1::uuid IS NULL OR r.postmortem_id = $1::uuid
                        OR r.earlier_id = $1::uuid)
  AND ($2::text[] IS NULL OR r.state = ANY ($2::text[]))
  AND ($3::timestamptz IS NULL
       OR (r.started_at, r.postmortem_id, r.earlier_id)
          < ($3::timestamptz, $4::uuid, $5::uuid))
ORDER BY r.started_at DESC, r.postmortem_id DESC, r.earlier_id DESC
LIMIT $6::int
)sql";

std::optional<std::string> StatesArray(
    const v1::ListRecurrencesRequest& request) {
  if (request.states_size() == 0) return std::nullopt;
  std::vector<std::string> names;
  for (int state : request.states()) {
    names.push_back(
        RecurrenceLink::State_Name(static_cast<RecurrenceLink::State>(state)));
  }
  return absl::StrCat("{", absl::StrJoin(names, ","), "}");
}

absl::StatusOr<v1::ListRecurrencesResponse> ListIn(
    pqxx::work& txn, const v1::ListRecurrencesRequest& request,
    const std::optional<PagePosition>& after, int page_size) {
  std::optional<std::string> postmortem_id;
  if (!request.postmortem_id().empty()) {
    postmortem_id = absl::AsciiStrToLower(request.postmortem_id());
    if (txn.exec_params("SELECT 1 FROM postmortems "
                        "WHERE id = $1::uuid AND deleted_at IS NULL",
                        *postmortem_id)
            .empty()) {
      return absl::NotFoundError(
          absl::StrCat("postmortem ", request.postmortem_id(), " not found"));
    }
  }
  const std::optional<std::string> states = StatesArray(request);
  std::optional<std::string> after_time, after_later, after_earlier;
  if (after.has_value()) {
    after_time = SqlTimestamp(TimestampFromMicros(after->started_at_micros));
    after_later = after->later_id;
    after_earlier = after->earlier_id;
  }
  const pqxx::result rows = txn.exec_params(
      absl::StrCat(kLinkColumns, kListFilter), NullOr(postmortem_id),
      NullOr(states), NullOr(after_time), NullOr(after_later),
      NullOr(after_earlier), page_size + 1);
  v1::ListRecurrencesResponse response;
  for (const pqxx::row& row : rows) {
    if (response.links_size() == page_size) {
      const pqxx::row& last = rows[page_size - 1];
      response.set_next_page_token(EncodePageToken(
          {last[kStartedAtColumn].as<int64_t>(), last[0].as<std::string>(),
           last[1].as<std::string>()}));
      break;
    }
    DEJA_ASSIGN_OR_RETURN(*response.add_links(), LinkFromRow(row));
  }
  return response;
}

// ---- Decide ----

// Deciding again with the same decision, by the same person, with the same
// note changes nothing (decided_at stays): a retried RPC is harmless.
constexpr char kDecide[] = R"sql(
UPDATE recurrence_links l
SET state = $3::text, decided_by = $4::text, note = $5::text,
    decided_at = now(),
    updated_at = now()
FROM postmortems p, postmortems e
WHERE l.postmortem_id = $1::uuid AND l.earlier_id = $2::uuid
  AND p.id = l.postmortem_id AND p.deleted_at IS NULL
  AND e.id = l.earlier_id AND e.deleted_at IS NULL
  AND (l.state, l.decided_by, l.note)
      IS DISTINCT FROM ($3::text, $4::text, $5::text)
)sql";

absl::StatusOr<RecurrenceLink> DecideIn(
    pqxx::work& txn, const v1::DecideRecurrenceRequest& request,
    RecurrenceLink::State state) {
  txn.exec_params(kDecide, request.postmortem_id(), request.earlier_id(),
                  RecurrenceLink::State_Name(state), request.decided_by(),
                  request.note());
  const pqxx::result rows =
      txn.exec_params(absl::StrCat(kLinkColumns,
                                   "WHERE r.postmortem_id = $1::uuid "
                                   "AND r.earlier_id = $2::uuid"),
                      request.postmortem_id(), request.earlier_id());
  if (!rows.empty()) return LinkFromRow(rows[0]);
  std::string hint;
  if (!txn.exec_params(absl::StrCat(kLinkColumns,
                                    "WHERE r.postmortem_id = $2::uuid "
                                    "AND r.earlier_id = $1::uuid"),
                       request.postmortem_id(), request.earlier_id())
           .empty()) {
    hint = absl::StrCat(" (there is one the other way round: ",
                        PairName(request.earlier_id(), request.postmortem_id()),
                        ")");
  }
  return absl::NotFoundError(
      absl::StrCat("no recurrence link ",
                   PairName(request.postmortem_id(), request.earlier_id()),
                   " (postmortem_id -> earlier_id)", hint));
}

class PgRecurrenceStore : public RecurrenceStore {
 public:
  explicit PgRecurrenceStore(const PgRecurrenceStoreOptions& options)
      : pool_(options.connection_string, options.pool_size) {}

  absl::Status RecordSuggestions(
      const std::string& postmortem_id,
      const std::vector<SuggestedLink>& links) override {
    if (!IsUuid(postmortem_id)) {
      return absl::InvalidArgumentError(
          absl::StrCat("postmortem_id: malformed (", postmortem_id, ")"));
    }
    const std::string id = absl::AsciiStrToLower(postmortem_id);
    DEJA_ASSIGN_OR_RETURN(const std::vector<CheckedSuggestion> suggestions,
                          CheckSuggestions(id, links));
    return InTransaction("record recurrence suggestions", [&](pqxx::work& txn) {
      return RecordIn(txn, id, suggestions);
    });
  }

  absl::StatusOr<v1::ListRecurrencesResponse> List(
      const v1::ListRecurrencesRequest& request) override {
    DEJA_RETURN_IF_ERROR(ValidateListRecurrences(request));
    std::optional<PagePosition> after;
    if (!request.page_token().empty()) {
      DEJA_ASSIGN_OR_RETURN(after, DecodePageToken(request.page_token()));
    }
    const int page_size = request.page_size() == 0 ? kDefaultRecurrencePageSize
                                                   : request.page_size();
    return InTransaction("list recurrences", [&](pqxx::work& txn) {
      return ListIn(txn, request, after, page_size);
    });
  }

  absl::StatusOr<RecurrenceLink> Decide(
      const v1::DecideRecurrenceRequest& request,
      RecurrenceLink::State state) override {
    if (state != RecurrenceLink::CONFIRMED &&
        state != RecurrenceLink::REJECTED) {
      return absl::InvalidArgumentError(
          "state: a decision is CONFIRMED or REJECTED");
    }
    DEJA_RETURN_IF_ERROR(ValidateDecideRecurrence(request));
    const char* what = state == RecurrenceLink::CONFIRMED ? "confirm recurrence"
                                                          : "reject recurrence";
    return InTransaction(
        what, [&](pqxx::work& txn) { return DecideIn(txn, request, state); });
  }

 private:
  // One transaction bounded by kCallTimeout (the interface has no deadline),
  // retried once on a fresh connection after a restart
  // (store/pg_transaction.h).
  template <typename Body>
  auto InTransaction(absl::string_view what, Body body)
      -> decltype(body(std::declval<pqxx::work&>())) {
    return RunInTransaction(pool_, what, absl::Now() + kCallTimeout,
                            std::move(body));
  }

  ConnectionPool pool_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<RecurrenceStore>> OpenPgRecurrenceStore(
    const PgRecurrenceStoreOptions& options) {
  if (options.connection_string.empty()) {
    return absl::InvalidArgumentError("connection_string: required");
  }
  if (options.pool_size < 1) {
    return absl::InvalidArgumentError("pool_size: must be at least 1");
  }
  return std::unique_ptr<RecurrenceStore>(new PgRecurrenceStore(options));
}

}  // namespace deja
