#include "store/pg_stats_store.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <optional>
#include <pqxx/pqxx>
#include <string>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "core/stats_validation.h"
#include "core/status_macros.h"
#include "google/protobuf/util/time_util.h"
#include "store/connection_pool.h"
#include "store/pg_transaction.h"
#include "store/postmortem_rows.h"

namespace deja {
namespace {

using google::protobuf::Duration;
using google::protobuf::util::TimeUtil;

// The interface takes no deadline; a dashboard query that runs longer than
// this is cancelled (DEADLINE_EXCEEDED) rather than holding a connection.
constexpr absl::Duration kStatementBudget = absl::Seconds(30);

// Every call reads in one read-only snapshot, so the few statements of one
// answer agree with each other.
using SnapshotTxn = pqxx::transaction<pqxx::repeatable_read, pqxx::read_only>;

// ---- The filter every statement starts with ----

struct StatsFilter {
  std::optional<std::string> team;
  std::optional<std::string> service;
  std::optional<std::string> started_after;
  std::optional<std::string> started_before;
};

// The CTEs every statement starts with. $1 team, $2 service, $3
// started_after, $4 started_before, NULL when absent; further parameters
// start at $5. Teams and services compare ignoring case, as in
// ListPostmortems (the team expression is the one the postmortems_team index
// is built on); deleted postmortems never count.
//
// The team and service conditions are picked by which filters are present
// (constant SQL, values still parameters): "$2 IS NULL OR EXISTS (...)"
// keeps PostgreSQL from turning the service test into a semi-join, which
// made a service filter several times slower than none at 100k postmortems.
std::string FilteredCte(const StatsFilter& filter) {
  return absl::StrCat(
      R"sql(
WITH filtered AS (
  SELECT p.id, p.team, p.title, p.severity, p.started_at, p.detected_at,
         p.mitigated_at, p.resolved_at
  FROM postmortems p
  WHERE p.deleted_at IS NULL
    AND )sql",
      filter.team.has_value() ? "lower(btrim(p.team)) = lower($1::text)"
                              : "$1::text IS NULL",
      "\n    AND ",
      filter.service.has_value() ? "p.id IN (SELECT s.postmortem_id "
                                   "FROM postmortem_services s "
                                   "WHERE lower(s.service) = lower($2::text))"
                                 : "$2::text IS NULL",
      R"sql(
    AND ($3::timestamptz IS NULL OR p.started_at >= $3::timestamptz)
    AND ($4::timestamptz IS NULL OR p.started_at < $4::timestamptz)
),
-- The filtered incidents that repeat an earlier one: the later side of at
-- least one counted link. The earlier incident need not match the filter.
repeat_ids AS (
  SELECT f.id FROM filtered f
  WHERE EXISTS (SELECT 1 FROM recurrences r
                WHERE r.postmortem_id = f.id AND r.counted)
))sql");
}

std::optional<std::string> TrimmedOrNull(absl::string_view text) {
  text = absl::StripAsciiWhitespace(text);
  if (text.empty()) return std::nullopt;
  return std::string(text);
}

// StatsRequest and TrendRequest carry the same filter fields.
template <class Request>
StatsFilter FilterOf(const Request& request) {
  StatsFilter filter;
  filter.team = TrimmedOrNull(request.team());
  filter.service = TrimmedOrNull(request.service());
  if (request.has_started_after()) {
    filter.started_after = SqlTimestamp(request.started_after());
  }
  if (request.has_started_before()) {
    filter.started_before = SqlTimestamp(request.started_before());
  }
  return filter;
}

// Runs `sql` (which starts with FilteredCte(filter)) with the filter as $1..$4
// and `more` as $5...
template <typename... More>
pqxx::result ExecFiltered(pqxx::transaction_base& txn, const std::string& sql,
                          const StatsFilter& filter, const More&... more) {
  return txn.exec_params(sql, NullOr(filter.team), NullOr(filter.service),
                         NullOr(filter.started_after),
                         NullOr(filter.started_before), more...);
}

// ---- Values from rows ----

// Durations travel as float seconds (percentile_cont interpolates), rounded
// to PostgreSQL's microseconds.
Duration DurationFromSeconds(double seconds) {
  return TimeUtil::MicrosecondsToDuration(std::llround(seconds * 1e6));
}

// Sets the duration field that `mutable_field` names, unless `field` is
// NULL (no data: the field stays unset rather than reading as zero).
template <typename Message>
void SetDuration(const pqxx::field& field, Message& message,
                 Duration* (Message::*mutable_field)()) {
  if (!field.is_null()) {
    *(message.*mutable_field)() = DurationFromSeconds(field.as<double>());
  }
}

// Timestamps travel as microseconds since the epoch.
std::string Micros(absl::string_view column) {
  return absl::StrCat("(extract(epoch FROM ", column, ") * 1000000)::int8");
}

google::protobuf::Timestamp TimestampOf(const pqxx::field& field) {
  return TimestampFromMicros(field.as<int64_t>());
}

v1::ActionItem::Status StatusOf(const pqxx::field& field) {
  v1::ActionItem::Status status = v1::ActionItem::STATUS_UNSPECIFIED;
  v1::ActionItem::Status_Parse(field.as<std::string>(), &status);
  return status;
}

v1::ActionItem::Kind KindOf(const pqxx::field& field) {
  v1::ActionItem::Kind kind = v1::ActionItem::KIND_UNSPECIFIED;
  v1::ActionItem::Kind_Parse(field.as<std::string>(), &kind);
  return kind;
}

double RatioOrZero(int64_t part, int64_t whole) {
  return whole > 0 ? static_cast<double>(part) / static_cast<double>(whole)
                   : 0.0;
}

// The median as percentile_cont computes it: the middle value, or the mean
// of the two middle ones. `values` is sorted.
double SortedMedian(const std::vector<int64_t>& values) {
  const size_t n = values.size();
  if (n % 2 == 1) return static_cast<double>(values[n / 2]);
  return (static_cast<double>(values[n / 2 - 1]) +
          static_cast<double>(values[n / 2])) /
         2;
}

// "YYYY-MM-DD" of `now` in UTC: items due before it are overdue. A
// parameter rather than current_date, so the server's and the database's
// clocks (and time zones) cannot disagree, and tests can fix `now`.
std::string UtcDate(absl::Time now) {
  return absl::FormatTime("%E4Y-%m-%d", now, absl::UTCTimeZone());
}

// ---- Action item counts, shared by Overview and ActionItems ----

// The rows of action_item_followthrough that belong to the filtered
// incidents, read from the table: the view would join postmortems a second
// time, which cost a third of the call at 100k postmortems. Keep the columns
// in step with the view (schema/0003_recurrence_and_stats.sql).
constexpr char kCurrentItems[] = R"sql(
  SELECT a.id, a.postmortem_id, a.kind, a.status, a.due_date, a.completed_at,
         a.status IN ('OPEN', 'IN_PROGRESS') AS is_open,
         CASE WHEN a.status = 'DONE'
              THEN a.completed_at - coalesce(f.resolved_at, f.started_at)
         END AS time_to_close
  FROM action_item_records a JOIN filtered f ON f.id = a.postmortem_id
  WHERE a.removed_at IS NULL)sql";

// Over rows `a` of current_items; $5 is the UTC date of `now`.
constexpr char kItemCountColumns[] = R"sql(
  count(*) AS total,
  count(*) FILTER (WHERE a.is_open) AS open,
  count(*) FILTER (WHERE a.is_open AND a.due_date < $5::date) AS overdue,
  count(*) FILTER (WHERE a.status = 'DONE') AS done,
  count(*) FILTER (WHERE a.status = 'WONT_DO') AS wont_do)sql";

// Reads the five columns of kItemCountColumns starting at `first`.
v1::ActionItemCounts ItemCountsAt(const pqxx::row& row, int first) {
  v1::ActionItemCounts counts;
  counts.set_total(row[first].as<int64_t>());
  counts.set_open(row[first + 1].as<int64_t>());
  counts.set_overdue(row[first + 2].as<int64_t>());
  counts.set_done(row[first + 3].as<int64_t>());
  counts.set_wont_do(row[first + 4].as<int64_t>());
  return counts;
}

// done / (total - wont_do); 0 when nothing is left to do.
double CompletionRate(const v1::ActionItemCounts& counts) {
  return RatioOrZero(counts.done(), counts.total() - counts.wont_do());
}

// ---- Overview ----

// The three durations: count, median, p90, mean (in seconds) of each.
std::string DurationColumns(absl::string_view end_column) {
  const std::string seconds = absl::StrCat("extract(epoch FROM f.", end_column,
                                           " - f.started_at)::float8");
  return absl::StrCat("count(f.", end_column, "), ",
                      "percentile_cont(0.5) WITHIN GROUP (ORDER BY ", seconds,
                      "), ", "percentile_cont(0.9) WITHIN GROUP (ORDER BY ",
                      seconds, "), ", "avg(", seconds, ")");
}

std::string OverviewSql(const StatsFilter& filter) {
  return absl::StrCat(FilteredCte(filter), R"sql(,
incident_stats AS (
  SELECT count(*) AS incidents,
         count(*) FILTER (WHERE f.severity = 1),
         count(*) FILTER (WHERE f.severity = 2),
         count(*) FILTER (WHERE f.severity = 3),
         count(*) FILTER (WHERE f.severity = 4),
         count(*) FILTER (WHERE f.severity = 5),
         )sql",
                      DurationColumns("detected_at"), ",\n",
                      DurationColumns("mitigated_at"), ",\n",
                      DurationColumns("resolved_at"), R"sql(,
         (SELECT count(*) FROM repeat_ids) AS repeats
  FROM filtered f
),
current_items AS (
  )sql",
                      kCurrentItems, R"sql(
),
item_stats AS (
  SELECT )sql",
                      kItemCountColumns, R"sql(
  FROM current_items a
)
SELECT * FROM incident_stats, item_stats)sql");
}

// Fills `stats` from the four columns of DurationColumns at `first`.
void ReadDurationStats(const pqxx::row& row, int first,
                       v1::DurationStats& stats) {
  stats.set_incidents(row[first].as<int64_t>());
  SetDuration(row[first + 1], stats, &v1::DurationStats::mutable_median);
  SetDuration(row[first + 2], stats, &v1::DurationStats::mutable_p90);
  SetDuration(row[first + 3], stats, &v1::DurationStats::mutable_mean);
}

absl::StatusOr<v1::Overview> OverviewIn(SnapshotTxn& txn,
                                        const StatsFilter& filter,
                                        absl::Time now) {
  const pqxx::row row =
      ExecFiltered(txn, OverviewSql(filter), filter, UtcDate(now))[0];
  v1::Overview overview;
  overview.set_incidents(row[0].as<int64_t>());
  for (int severity = 1; severity <= 5; ++severity) {
    v1::SeverityCount* count = overview.add_by_severity();
    count->set_severity(static_cast<v1::Severity>(severity));
    count->set_incidents(row[severity].as<int64_t>());
  }
  ReadDurationStats(row, 6, *overview.mutable_time_to_detect());
  ReadDurationStats(row, 10, *overview.mutable_time_to_mitigate());
  ReadDurationStats(row, 14, *overview.mutable_time_to_resolve());
  overview.set_repeats(row[18].as<int64_t>());
  overview.set_repeat_rate(
      RatioOrZero(overview.repeats(), overview.incidents()));
  *overview.mutable_action_items() = ItemCountsAt(row, 19);
  return overview;
}

// ---- Trend ----

// The keys an incident counts under, as rows (bucket, key, id) over
// `bucketed b`. Teams and services compare ignoring case everywhere else, so
// their keys are lowercased; an incident with two root causes of one
// category counts once under it (count(DISTINCT id) below).
const char* SplitKeysSql(v1::TrendRequest::SplitBy split_by) {
  switch (split_by) {
    case v1::TrendRequest::SEVERITY:
      return "SELECT b.bucket, 'SEV' || b.severity AS key, b.id "
             "FROM bucketed b";
    case v1::TrendRequest::SERVICE:
      return "SELECT b.bucket, lower(s.service) AS key, b.id "
             "FROM bucketed b "
             "JOIN postmortem_services s ON s.postmortem_id = b.id";
    case v1::TrendRequest::CAUSE_CATEGORY:
      return "SELECT b.bucket, r.category AS key, b.id "
             "FROM bucketed b JOIN root_causes r ON r.postmortem_id = b.id";
    case v1::TrendRequest::TEAM:
      return "SELECT b.bucket, lower(btrim(b.team)) AS key, b.id "
             "FROM bucketed b";
    default:
      // No split: no rows (the columns still need their types).
      return "SELECT NULL::timestamp AS bucket, NULL::text AS key, "
             "NULL::uuid AS id WHERE false";
  }
}

// $5 the date_trunc field ('week' or 'month'), $6 its interval, $7 the most
// buckets. Buckets are computed on UTC wall-clock time (timestamp without
// time zone) and returned as epoch seconds. The series runs from the bucket
// of started_after (else of the first incident) to the bucket of the last
// instant before started_before (else of the last incident); with neither
// bound nor incident at one end there is no series and no bucket. Only the
// latest $7 buckets are kept.
std::string TrendSql(const StatsFilter& filter,
                     v1::TrendRequest::SplitBy split_by) {
  return absl::StrCat(FilteredCte(filter), R"sql(,
bucketed AS (
  SELECT f.id, f.team, f.severity,
         date_trunc($5::text, f.started_at AT TIME ZONE 'UTC') AS bucket
  FROM filtered f
),
bounds AS (
  SELECT coalesce(date_trunc($5::text, $3::timestamptz AT TIME ZONE 'UTC'),
                  (SELECT min(bucket) FROM bucketed)) AS first_bucket,
         coalesce(date_trunc($5::text, ($4::timestamptz - interval '1 microsecond')
                                       AT TIME ZONE 'UTC'),
                  (SELECT max(bucket) FROM bucketed)) AS last_bucket
),
series AS (
  SELECT generate_series(
           greatest(first_bucket, last_bucket - ($7::int - 1) * $6::interval),
           last_bucket, $6::interval) AS bucket
  FROM bounds
),
totals AS (
  SELECT s.bucket, count(b.id) AS incidents
  FROM series s LEFT JOIN bucketed b ON b.bucket = s.bucket
  GROUP BY s.bucket
),
splits AS (
  SELECT k.bucket, k.key, count(DISTINCT k.id) AS incidents
  FROM ()sql",
                      SplitKeysSql(split_by), R"sql() k
  GROUP BY k.bucket, k.key
)
SELECT extract(epoch FROM t.bucket)::int8, t.incidents, k.key, k.incidents
FROM totals t LEFT JOIN splits k ON k.bucket = t.bucket
ORDER BY t.bucket, k.incidents DESC, k.key COLLATE "C")sql");
}

absl::StatusOr<v1::Trend> TrendIn(SnapshotTxn& txn,
                                  const v1::TrendRequest& request) {
  v1::Trend trend;
  trend.set_interval(request.interval() == v1::TrendRequest::WEEK
                         ? v1::TrendRequest::WEEK
                         : v1::TrendRequest::MONTH);
  trend.set_split_by(request.split_by());
  const bool weekly = trend.interval() == v1::TrendRequest::WEEK;
  const StatsFilter filter = FilterOf(request);
  const pqxx::result rows =
      ExecFiltered(txn, TrendSql(filter, request.split_by()), filter,
                   weekly ? "week" : "month", weekly ? "1 week" : "1 month",
                   kMaxTrendBuckets);
  for (const pqxx::row& row : rows) {
    const int64_t start = row[0].as<int64_t>();
    if (trend.buckets_size() == 0 ||
        trend.buckets(trend.buckets_size() - 1).start().seconds() != start) {
      v1::TrendBucket* bucket = trend.add_buckets();
      bucket->mutable_start()->set_seconds(start);
      bucket->set_incidents(row[1].as<int64_t>());
    }
    if (!row[2].is_null()) {
      v1::KeyCount* split =
          trend.mutable_buckets(trend.buckets_size() - 1)->add_split();
      split->set_key(row[2].as<std::string>());
      split->set_count(row[3].as<int64_t>());
    }
  }
  return trend;
}

// ---- Recurrence ----

// Every counted link between two live postmortems: the edges of the
// clusters. Clusters are connected components of the whole graph, so two
// matching incidents joined only through one outside the filter still form
// a cluster.
constexpr char kCountedLinks[] = R"sql(
SELECT postmortem_id::text, earlier_id::text FROM recurrences WHERE counted)sql";

// The filtered incidents on either side of a counted link: the candidate
// cluster members.
std::string LinkedMembersSql(const StatsFilter& filter) {
  return absl::StrCat(FilteredCte(filter), R"sql(
SELECT f.id::text, f.title, f.team, f.severity, )sql",
                      Micros("f.started_at"), R"sql(
FROM filtered f
WHERE EXISTS (SELECT 1 FROM recurrences r
              WHERE r.counted AND r.postmortem_id = f.id)
   OR EXISTS (SELECT 1 FROM recurrences r
              WHERE r.counted AND r.earlier_id = f.id))sql");
}

// One row per part of the answer, by `part`:
//   'totals'    incidents, repeats, median time between repeats (seconds)
//   'signature' signature, example, incidents (held by >= 2 filtered ones)
//   'category'  category, repeats with a root cause of it
// $5 the list limit.
std::string RecurrenceSummarySql(const StatsFilter& filter) {
  return absl::StrCat(FilteredCte(filter), R"sql(
SELECT 'totals' AS part, NULL::text AS key, NULL::text AS example,
       (SELECT count(*) FROM filtered) AS incidents,
       (SELECT count(*) FROM repeat_ids) AS repeats,
       (SELECT percentile_cont(0.5) WITHIN GROUP (
                 ORDER BY extract(epoch FROM r.time_since_earlier)::float8)
        FROM recurrences r JOIN filtered f ON f.id = r.postmortem_id
        WHERE r.counted) AS median_seconds
UNION ALL
(SELECT 'signature', s.signature, min(s.example), count(*), NULL, NULL
 FROM postmortem_signatures s JOIN filtered f ON f.id = s.postmortem_id
 GROUP BY s.signature HAVING count(*) >= 2
 ORDER BY count(*) DESC, s.signature COLLATE "C" LIMIT $5::int)
UNION ALL
(SELECT 'category', c.category, NULL, count(DISTINCT c.postmortem_id),
        NULL, NULL
 FROM root_causes c JOIN repeat_ids r ON r.id = c.postmortem_id
 GROUP BY c.category
 ORDER BY count(DISTINCT c.postmortem_id) DESC, c.category COLLATE "C"
 LIMIT $5::int))sql");
}

// What two or more members of one cluster share. $1 the member ids, $2 the
// index of each one's cluster (parallel arrays). Rows (cluster, kind, key,
// example, members), most members first.
constexpr char kSharedByClusterSql[] = R"sql(
WITH m AS (SELECT * FROM unnest($1::uuid[], $2::int[]) AS m(id, cluster))
SELECT m.cluster, 'signature' AS kind, s.signature COLLATE "C" AS key,
       min(s.example) AS example, count(*) AS members
FROM m JOIN postmortem_signatures s ON s.postmortem_id = m.id
GROUP BY m.cluster, s.signature HAVING count(*) >= 2
UNION ALL
SELECT m.cluster, 'service', lower(s.service), NULL,
       count(DISTINCT m.id)
FROM m JOIN postmortem_services s ON s.postmortem_id = m.id
GROUP BY m.cluster, lower(s.service) HAVING count(DISTINCT m.id) >= 2
UNION ALL
SELECT m.cluster, 'category', c.category, NULL, count(DISTINCT m.id)
FROM m JOIN root_causes c ON c.postmortem_id = m.id
GROUP BY m.cluster, c.category HAVING count(DISTINCT m.id) >= 2
ORDER BY 1, 2, 5 DESC, 3)sql";

// Connected components over string ids (union by size, path halving).
class Components {
 public:
  void Join(const std::string& a, const std::string& b) {
    int ra = Find(IndexOf(a)), rb = Find(IndexOf(b));
    if (ra == rb) return;
    if (size_[ra] < size_[rb]) std::swap(ra, rb);
    parent_[rb] = ra;
    size_[ra] += size_[rb];
  }
  // The component of `id`; ids never joined are their own component.
  int Of(const std::string& id) { return Find(IndexOf(id)); }

 private:
  int IndexOf(const std::string& id) {
    auto [it, added] = index_.try_emplace(id, static_cast<int>(parent_.size()));
    if (added) {
      parent_.push_back(it->second);
      size_.push_back(1);
    }
    return it->second;
  }
  int Find(int x) {
    while (parent_[x] != x) {
      parent_[x] = parent_[parent_[x]];
      x = parent_[x];
    }
    return x;
  }

  std::unordered_map<std::string, int> index_;
  std::vector<int> parent_;
  std::vector<int> size_;
};

struct Member {
  v1::ClusterMember proto;
  int64_t started_micros = 0;
};

struct Cluster {
  std::vector<Member> members;  // oldest first
};

// Groups `members` into the clusters of `links` that hold at least two of
// them, most members first, then the most recent; at most `limit`.
std::vector<Cluster> BuildClusters(const pqxx::result& links,
                                   std::vector<Member> members, int limit) {
  Components components;
  for (const pqxx::row& link : links) {
    components.Join(link[0].as<std::string>(), link[1].as<std::string>());
  }
  std::map<int, Cluster> by_root;
  for (Member& member : members) {
    by_root[components.Of(member.proto.postmortem_id())].members.push_back(
        std::move(member));
  }
  std::vector<Cluster> clusters;
  for (auto& [root, cluster] : by_root) {
    if (cluster.members.size() < 2) continue;
    std::sort(cluster.members.begin(), cluster.members.end(),
              [](const Member& a, const Member& b) {
                return std::tie(a.started_micros, a.proto.postmortem_id()) <
                       std::tie(b.started_micros, b.proto.postmortem_id());
              });
    clusters.push_back(std::move(cluster));
  }
  std::sort(clusters.begin(), clusters.end(),
            [](const Cluster& a, const Cluster& b) {
              const Member& a_last = a.members.back();
              const Member& b_last = b.members.back();
              // The last tie-break (the oldest member's id) only makes the
              // order stable.
              return std::make_tuple(b.members.size(), b_last.started_micros,
                                     a.members.front().proto.postmortem_id()) <
                     std::make_tuple(a.members.size(), a_last.started_micros,
                                     b.members.front().proto.postmortem_id());
            });
  if (static_cast<int>(clusters.size()) > limit) clusters.resize(limit);
  return clusters;
}

// The median gap between consecutive members (members are oldest first).
Duration MedianTimeBetween(const std::vector<Member>& members) {
  std::vector<int64_t> gaps;
  for (size_t i = 1; i < members.size(); ++i) {
    gaps.push_back(members[i].started_micros - members[i - 1].started_micros);
  }
  std::sort(gaps.begin(), gaps.end());
  return TimeUtil::MicrosecondsToDuration(std::llround(SortedMedian(gaps)));
}

// The cluster's proto without its shared attributes. Statistics cover every
// matching member; the member list holds the latest `limit` of them (still
// oldest first), so one huge cluster cannot blow up the answer.
v1::RecurrenceCluster ClusterProto(const Cluster& cluster, int limit) {
  v1::RecurrenceCluster proto;
  const std::vector<Member>& members = cluster.members;
  const size_t first_listed =
      members.size() > static_cast<size_t>(limit) ? members.size() - limit : 0;
  for (size_t i = first_listed; i < members.size(); ++i) {
    *proto.add_members() = members[i].proto;
  }
  proto.set_member_count(static_cast<int64_t>(members.size()));
  *proto.mutable_first_started_at() = members.front().proto.started_at();
  *proto.mutable_last_started_at() = members.back().proto.started_at();
  *proto.mutable_median_time_between() = MedianTimeBetween(members);
  return proto;
}

// A PostgreSQL array literal of plain tokens (uuids, integers).
std::string ArrayLiteral(const std::vector<std::string>& tokens) {
  return absl::StrCat("{", absl::StrJoin(tokens, ","), "}");
}

// Adds the shared signatures, services and cause categories to `protos`
// (parallel to `clusters`), at most `limit` of each, in one statement.
void AddSharedAttributes(SnapshotTxn& txn, const std::vector<Cluster>& clusters,
                         int limit,
                         std::vector<v1::RecurrenceCluster>& protos) {
  std::vector<std::string> ids, cluster_of;
  for (size_t c = 0; c < clusters.size(); ++c) {
    for (const Member& member : clusters[c].members) {
      ids.push_back(member.proto.postmortem_id());
      cluster_of.push_back(std::to_string(c));
    }
  }
  if (ids.empty()) return;
  const pqxx::result rows = txn.exec_params(
      kSharedByClusterSql, ArrayLiteral(ids), ArrayLiteral(cluster_of));
  for (const pqxx::row& row : rows) {
    v1::RecurrenceCluster& proto = protos[row[0].as<int>()];
    const std::string kind = row[1].as<std::string>();
    if (kind == "signature") {
      if (proto.shared_signatures_size() >= limit) continue;
      v1::ErrorSignatureCount* signature = proto.add_shared_signatures();
      signature->set_signature(row[2].as<std::string>());
      signature->set_example(row[3].as<std::string>());
      signature->set_incidents(row[4].as<int64_t>());
      continue;
    }
    auto* list = kind == "service" ? proto.mutable_shared_services()
                                   : proto.mutable_shared_cause_categories();
    if (list->size() >= limit) continue;
    v1::KeyCount* count = list->Add();
    count->set_key(row[2].as<std::string>());
    count->set_count(row[4].as<int64_t>());
  }
}

std::vector<Member> MembersFrom(const pqxx::result& rows) {
  std::vector<Member> members;
  members.reserve(rows.size());
  for (const pqxx::row& row : rows) {
    Member member;
    member.proto.set_postmortem_id(row[0].as<std::string>());
    member.proto.set_title(row[1].as<std::string>());
    member.proto.set_team(row[2].as<std::string>());
    member.proto.set_severity(static_cast<v1::Severity>(row[3].as<int>()));
    member.started_micros = row[4].as<int64_t>();
    *member.proto.mutable_started_at() =
        TimestampFromMicros(member.started_micros);
    members.push_back(std::move(member));
  }
  return members;
}

void ReadRecurrenceSummary(const pqxx::result& rows,
                           v1::RecurrenceStats& stats) {
  for (const pqxx::row& row : rows) {
    const std::string part = row[0].as<std::string>();
    if (part == "totals") {
      stats.set_incidents(row[3].as<int64_t>());
      stats.set_repeats(row[4].as<int64_t>());
      stats.set_repeat_rate(RatioOrZero(stats.repeats(), stats.incidents()));
      SetDuration(row[5], stats,
                  &v1::RecurrenceStats::mutable_median_time_between_repeats);
    } else if (part == "signature") {
      v1::ErrorSignatureCount* signature = stats.add_top_signatures();
      signature->set_signature(row[1].as<std::string>());
      signature->set_example(row[2].as<std::string>());
      signature->set_incidents(row[3].as<int64_t>());
    } else {
      v1::KeyCount* category = stats.add_top_repeat_cause_categories();
      category->set_key(row[1].as<std::string>());
      category->set_count(row[3].as<int64_t>());
    }
  }
}

absl::StatusOr<v1::RecurrenceStats> RecurrenceIn(SnapshotTxn& txn,
                                                 const StatsFilter& filter,
                                                 int limit) {
  v1::RecurrenceStats stats;
  ReadRecurrenceSummary(
      ExecFiltered(txn, RecurrenceSummarySql(filter), filter, limit), stats);
  const std::vector<Cluster> clusters = BuildClusters(
      txn.exec(kCountedLinks),
      MembersFrom(ExecFiltered(txn, LinkedMembersSql(filter), filter)), limit);
  std::vector<v1::RecurrenceCluster> protos;
  for (const Cluster& cluster : clusters) {
    protos.push_back(ClusterProto(cluster, limit));
  }
  AddSharedAttributes(txn, clusters, limit, protos);
  for (v1::RecurrenceCluster& proto : protos) {
    *stats.add_clusters() = std::move(proto);
  }
  return stats;
}

// ---- Action items ----

// Counts and median time to close, per kind and ($6, the known kind names;
// anything else counts as KIND_UNSPECIFIED) overall: the row with
// is_total.
std::string ItemsByKindSql(const StatsFilter& filter) {
  return absl::StrCat(FilteredCte(filter), R"sql(,
current_items AS (
  )sql",
                      kCurrentItems, R"sql(
),
items AS (
  SELECT CASE WHEN a.kind = ANY($6::text[]) THEN a.kind
              ELSE 'KIND_UNSPECIFIED' END AS kind,
         a.is_open, a.status, a.due_date, a.time_to_close
  FROM current_items a
)
SELECT GROUPING(a.kind) = 1 AS is_total, a.kind, )sql",
                      kItemCountColumns, R"sql(,
       percentile_cont(0.5) WITHIN GROUP (
         ORDER BY extract(epoch FROM a.time_to_close)::float8)
FROM items a
GROUP BY GROUPING SETS ((a.kind), ()))sql");
}

// Open items past their due date ($5, today in UTC), most overdue first; $6
// the limit.
std::string OverdueSql(const StatsFilter& filter) {
  return absl::StrCat(FilteredCte(filter), R"sql(
SELECT a.id::text, a.postmortem_id::text, a.postmortem_title, a.team,
       a.description, a.owner, to_char(a.due_date, 'YYYY-MM-DD'),
       $5::date - a.due_date, a.status, a.kind
FROM action_item_followthrough a JOIN filtered f ON f.id = a.postmortem_id
WHERE a.is_open AND a.due_date < $5::date
ORDER BY a.due_date, a.incident_started_at, a.id
LIMIT $6::int)sql");
}

// Counted links whose later incident L is in the filter, judged against the
// current action items of the earlier incident E:
//   'open'  some item of E was open when L started (still open, or closed
//           only after L.started_at);
//   'fixed' every item of E was closed by L.started_at, one at least DONE.
// A link whose E has no items is in neither. Each list holds the latest
// repeats first, at most $5 links; `total` counts the distinct repeat
// incidents of the whole list (a repeat of two earlier incidents is one). One
// row per listed link and item: its items open at L's start, or its DONE items.
// A closed item without completed_at (none is written so) is taken as
// closed at an unknown time: not open at L, and not "closed by" it either.
std::string RepeatsAgainstFixesSql(const StatsFilter& filter) {
  return absl::StrCat(FilteredCte(filter), R"sql(,
repeat_links AS (
  SELECT r.postmortem_id, r.title, r.started_at, r.earlier_id,
         r.earlier_title, r.earlier_started_at
  FROM recurrences r JOIN filtered f ON f.id = r.postmortem_id
  WHERE r.counted
),
judged AS (
  SELECT l.postmortem_id, l.title, l.started_at, l.earlier_id,
         l.earlier_title, l.earlier_started_at,
         bool_or(coalesce(a.status IN ('OPEN', 'IN_PROGRESS')
                          OR a.completed_at > l.started_at, false))
           AS open_at_repeat,
         bool_and(coalesce(a.status IN ('DONE', 'WONT_DO')
                           AND a.completed_at <= l.started_at, false))
           AS closed_before,
         bool_or(a.status = 'DONE') AS any_done
  FROM repeat_links l
  JOIN action_item_records a
    ON a.postmortem_id = l.earlier_id AND a.removed_at IS NULL
  GROUP BY l.postmortem_id, l.title, l.started_at, l.earlier_id,
           l.earlier_title, l.earlier_started_at
),
picked AS (
  (SELECT 'open' AS list,
          (SELECT count(DISTINCT o.postmortem_id) FROM judged o
           WHERE o.open_at_repeat) AS total, j.*
   FROM judged j WHERE j.open_at_repeat
   ORDER BY j.started_at DESC, j.earlier_started_at DESC, j.postmortem_id,
            j.earlier_id
   LIMIT $5::int)
  UNION ALL
  (SELECT 'fixed',
          (SELECT count(DISTINCT x.postmortem_id) FROM judged x
           WHERE x.closed_before AND x.any_done), j.*
   FROM judged j WHERE j.closed_before AND j.any_done
   ORDER BY j.started_at DESC, j.earlier_started_at DESC, j.postmortem_id,
            j.earlier_id
   LIMIT $5::int)
)
SELECT p.list, p.total, p.postmortem_id::text, p.title, )sql",
                      Micros("p.started_at"), R"sql(,
       p.earlier_id::text, p.earlier_title, )sql",
                      Micros("p.earlier_started_at"), R"sql(,
       a.id::text, a.description, a.owner, a.status, a.kind, )sql",
                      Micros("a.completed_at"), R"sql(
FROM picked p
JOIN action_item_records a
  ON a.postmortem_id = p.earlier_id AND a.removed_at IS NULL
WHERE CASE WHEN p.list = 'open'
           THEN a.status IN ('OPEN', 'IN_PROGRESS')
                OR a.completed_at > p.started_at
           ELSE a.status = 'DONE' END
ORDER BY p.list, p.started_at DESC, p.earlier_started_at DESC,
         p.postmortem_id, p.earlier_id, a.position)sql");
}

// The kind names the store knows, for $6 of ItemsByKindSql.
std::string KnownKinds() {
  std::vector<std::string> names;
  const auto* kinds = v1::ActionItem::Kind_descriptor();
  for (int i = 0; i < kinds->value_count(); ++i) {
    names.push_back(kinds->value(i)->name());
  }
  return ArrayLiteral(names);
}

// The order of by_kind: PREVENT, MITIGATE, DETECT, PROCESS, then
// KIND_UNSPECIFIED (the proto's order, the unspecified kind last).
int KindRank(v1::ActionItem::Kind kind) {
  return kind == v1::ActionItem::KIND_UNSPECIFIED ? 1 << 20
                                                  : static_cast<int>(kind);
}

void ReadItemsByKind(const pqxx::result& rows, v1::ActionItemStats& stats) {
  for (const pqxx::row& row : rows) {
    const v1::ActionItemCounts counts = ItemCountsAt(row, 2);
    if (row[0].as<bool>()) {
      *stats.mutable_counts() = counts;
      stats.set_completion_rate(CompletionRate(counts));
      SetDuration(row[7], stats,
                  &v1::ActionItemStats::mutable_median_time_to_close);
      continue;
    }
    v1::KindFollowThrough* kind = stats.add_by_kind();
    kind->set_kind(KindOf(row[1]));
    *kind->mutable_counts() = counts;
    kind->set_completion_rate(CompletionRate(counts));
    SetDuration(row[7], *kind,
                &v1::KindFollowThrough::mutable_median_time_to_close);
  }
  std::sort(stats.mutable_by_kind()->begin(), stats.mutable_by_kind()->end(),
            [](const v1::KindFollowThrough& a, const v1::KindFollowThrough& b) {
              return KindRank(a.kind()) < KindRank(b.kind());
            });
}

void ReadOverdue(const pqxx::result& rows, v1::ActionItemStats& stats) {
  for (const pqxx::row& row : rows) {
    v1::OverdueActionItem* item = stats.add_overdue();
    item->set_action_item_id(row[0].as<std::string>());
    item->set_postmortem_id(row[1].as<std::string>());
    item->set_postmortem_title(row[2].as<std::string>());
    item->set_team(row[3].as<std::string>());
    item->set_description(row[4].as<std::string>());
    item->set_owner(row[5].as<std::string>());
    item->set_due_date(row[6].as<std::string>());
    item->set_days_overdue(row[7].as<int64_t>());
    item->set_status(StatusOf(row[8]));
    item->set_kind(KindOf(row[9]));
  }
}

void ReadRepeatsAgainstFixes(const pqxx::result& rows,
                             v1::ActionItemStats& stats) {
  // Rows come grouped by list and link: one repeat per run of rows.
  v1::RepeatAgainstFixes* repeat = nullptr;
  std::string repeat_key;
  for (const pqxx::row& row : rows) {
    const bool open = row[0].as<std::string>() == "open";
    const std::string postmortem_id = row[2].as<std::string>();
    const std::string earlier_id = row[5].as<std::string>();
    std::string key = absl::StrCat(open, "/", postmortem_id, "/", earlier_id);
    if (repeat == nullptr || key != repeat_key) {
      repeat_key = std::move(key);
      if (open) {
        stats.set_repeats_while_open_count(row[1].as<int64_t>());
        repeat = stats.add_repeats_while_open();
      } else {
        stats.set_repeats_after_fixes_count(row[1].as<int64_t>());
        repeat = stats.add_repeats_after_fixes();
      }
      repeat->set_postmortem_id(postmortem_id);
      repeat->set_title(row[3].as<std::string>());
      *repeat->mutable_started_at() = TimestampOf(row[4]);
      repeat->set_earlier_id(earlier_id);
      repeat->set_earlier_title(row[6].as<std::string>());
      *repeat->mutable_earlier_started_at() = TimestampOf(row[7]);
    }
    v1::ActionItemRef* item = repeat->add_action_items();
    item->set_action_item_id(row[8].as<std::string>());
    item->set_description(row[9].as<std::string>());
    item->set_owner(row[10].as<std::string>());
    item->set_status(StatusOf(row[11]));
    item->set_kind(KindOf(row[12]));
    if (!row[13].is_null()) {
      *item->mutable_completed_at() = TimestampOf(row[13]);
    }
  }
}

absl::StatusOr<v1::ActionItemStats> ActionItemsIn(SnapshotTxn& txn,
                                                  const StatsFilter& filter,
                                                  int limit, absl::Time now) {
  static const std::string known_kinds = KnownKinds();
  const std::string today = UtcDate(now);
  v1::ActionItemStats stats;
  ReadItemsByKind(
      ExecFiltered(txn, ItemsByKindSql(filter), filter, today, known_kinds),
      stats);
  ReadOverdue(ExecFiltered(txn, OverdueSql(filter), filter, today, limit),
              stats);
  ReadRepeatsAgainstFixes(
      ExecFiltered(txn, RepeatsAgainstFixesSql(filter), filter, limit), stats);
  return stats;
}

// ---- The store ----

class PgStatsStore : public StatsStore {
 public:
  explicit PgStatsStore(const PgStatsStoreOptions& options)
      : pool_(options.connection_string, options.pool_size) {}

  // Runs `body` in a read-only snapshot within kStatementBudget.
  template <typename Body>
  auto Read(absl::string_view what, Body body)
      -> decltype(body(std::declval<SnapshotTxn&>())) {
    return RunInTransaction<SnapshotTxn>(pool_, what,
                                         absl::Now() + kStatementBudget, body);
  }

  absl::StatusOr<v1::Overview> Overview(const v1::StatsRequest& request,
                                        absl::Time now) override {
    const StatsFilter filter = FilterOf(request);
    return Read("stats overview",
                [&](SnapshotTxn& txn) { return OverviewIn(txn, filter, now); });
  }

  absl::StatusOr<v1::Trend> Trend(const v1::TrendRequest& request) override {
    return Read("stats trend",
                [&](SnapshotTxn& txn) { return TrendIn(txn, request); });
  }

  absl::StatusOr<v1::RecurrenceStats> Recurrence(
      const v1::StatsRequest& request) override {
    const StatsFilter filter = FilterOf(request);
    const int limit = StatsLimit(request);
    return Read("stats recurrence", [&](SnapshotTxn& txn) {
      return RecurrenceIn(txn, filter, limit);
    });
  }

  absl::StatusOr<v1::ActionItemStats> ActionItems(
      const v1::StatsRequest& request, absl::Time now) override {
    const StatsFilter filter = FilterOf(request);
    const int limit = StatsLimit(request);
    return Read("stats action items", [&](SnapshotTxn& txn) {
      return ActionItemsIn(txn, filter, limit, now);
    });
  }

 private:
  ConnectionPool pool_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<StatsStore>> OpenPgStatsStore(
    const PgStatsStoreOptions& options) {
  if (options.connection_string.empty()) {
    return absl::InvalidArgumentError("connection_string: required");
  }
  if (options.pool_size < 1) {
    return absl::InvalidArgumentError("pool_size: must be at least 1");
  }
  return std::unique_ptr<StatsStore>(new PgStatsStore(options));
}

}  // namespace deja
