#ifndef DEJA_INDEXER_INDEX_SCHEMA_H_
#define DEJA_INDEXER_INDEX_SCHEMA_H_

// The Xapian index's conventions, shared by the document builder (writes
// them) and the searcher (reads them). Changing one is a format change: the
// index must then be rebuilt (kSchemaVersion).
//
// Prefixes follow omega's conventions: Q unique id, S title, K tag, X... for
// Deja's own. Boolean terms hold lowercased values.

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/string_view.h"
#include "deja/v1/postmortem.pb.h"

namespace deja::index {

// Part of IndexFormatVersion() (document_builder.h), stored in the index's
// metadata under kSchemaVersionKey; an index built with another value is
// rebuilt on start. 2: headline terms and synonym group terms. 3: the facet
// values in one slot.
inline constexpr int kSchemaVersion = 3;
inline constexpr char kSchemaVersionKey[] = "deja.schema_version";

// Boolean filter terms (exact values, no positions, no weight).
inline constexpr char kIdPrefix[] = "Q";                // Q<uuid>
inline constexpr char kTagPrefix[] = "K";               // Kdns
inline constexpr char kTeamPrefix[] = "XTEAM";          // XTEAMpayments
inline constexpr char kServicePrefix[] = "XSVC";        // XSVCorders-db
inline constexpr char kSeverityPrefix[] = "XSEV";       // XSEV1 .. XSEV5
inline constexpr char kCauseCategoryPrefix[] = "XCAT";  // XCATconfig_change
inline constexpr char kYearPrefix[] = "XY";             // XY2024
inline constexpr char kMonthPrefix[] = "XM";            // XM202403
inline constexpr char kSignaturePrefix[] = "XSIG";      // XSIGd7d43238198522c8

// Free-text prefixes: every word is indexed with its field prefix (for
// `field:word` searches and per-field reasons) and without one (for plain
// queries), with the field's weight as wdf increment.
inline constexpr char kTitlePrefix[] = "S";
inline constexpr char kSummaryPrefix[] = "XS";
inline constexpr char kImpactPrefix[] = "XI";
inline constexpr char kDetectionPrefix[] = "XD";
inline constexpr char kTimelinePrefix[] = "XT";
inline constexpr char kWhysPrefix[] = "XW";
inline constexpr char kRootCausePrefix[] = "XC";
inline constexpr char kContributingPrefix[] = "XF";
inline constexpr char kResolutionPrefix[] = "XR";  // resolution + mitigation
inline constexpr char kActionItemPrefix[] = "XA";
inline constexpr char kOwnerPrefix[] = "XO";
inline constexpr char kLessonsPrefix[] = "XL";
inline constexpr char kLogPrefix[] = "XG";
inline constexpr char kNarrativePrefix[] = "XN";
// Title and summary together, each occurrence counting 1 and not in the
// unprefixed terms: FindSimilar matches the short fields that state what
// failed with one posting list per word.
inline constexpr char kHeadlinePrefix[] = "XH";
// Synonym groups (synonyms.h): "Z" + field prefix + "#" + key per field,
// "Z#" + key over all text, wdf the sum of the group's forms.

// Value slots.
inline constexpr unsigned kStartedAtSlot = 0;  // sortable_serialise(unix s)
inline constexpr unsigned kSeveritySlot = 1;   // sortable_serialise(1..5)
inline constexpr unsigned kVersionSlot = 2;    // sortable_serialise(version)
// Every facet value of the document (facets.h), lowercased as the query
// language writes them: "orders-db", "sev2", "config_change", "2024". One
// slot, because the facet counter reads it for up to a thousand matches per
// search, and Xapian keeps only the last slot it read at hand: six slots read
// in turn cost a quarter of a search at 10,000 postmortems.
inline constexpr unsigned kFacetsSlot = 3;

// Document data: a serialized v1::IncidentSummary.

// Xapian's limit on a term's length: it throws on a longer one, so such a
// term is never in the index.
inline constexpr size_t kMaxTermBytes = 245;

// The normal form of a boolean term's or facet's value (team, service, tag,
// signature): trimmed, ASCII lowercase. The builder writes it, queries and
// filters look it up.
inline std::string NormalTermValue(absl::string_view value) {
  return absl::AsciiStrToLower(absl::StripAsciiWhitespace(value));
}

// A root cause category as terms and facets hold it: "config_change".
inline std::string CategoryTermValue(v1::RootCause::Category category) {
  return absl::AsciiStrToLower(v1::RootCause::Category_Name(category));
}

}  // namespace deja::index

#endif  // DEJA_INDEXER_INDEX_SCHEMA_H_
