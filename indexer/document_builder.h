#ifndef DEJA_INDEXER_DOCUMENT_BUILDER_H_
#define DEJA_INDEXER_DOCUMENT_BUILDER_H_

// Turns a stored postmortem into its Xapian document, following
// index_schema.h: the unique term, boolean filters, prefixed and weighted
// free text (English stemming), the value slots, and a serialized
// v1::IncidentSummary as document data. Pure and thread-safe.

#include <xapian.h>

#include <cstdint>
#include <string>

#include "deja/v1/postmortem.pb.h"
#include "deja/v1/search_service.pb.h"

namespace deja::index {

// `postmortem` has an id and a version (it was stored). Terms longer than
// Xapian's limit are dropped, never thrown. With `spelling_db`, its words are
// also added to that database's spelling data (for "did you mean").
Xapian::Document BuildDocument(const v1::Postmortem& postmortem,
                               Xapian::WritableDatabase* spelling_db = nullptr);

// The compact form kept as document data (action items' `overdue` is left
// false: it depends on the time of the query).
v1::IncidentSummary SummaryOf(const v1::Postmortem& postmortem);

// Sets `overdue` on the open action items of `summary` whose due date is
// before the day of `now` (UTC), as answers show them.
void MarkOverdue(v1::IncidentSummary& summary, int64_t now_unix_seconds);

// The version stored in a document's kVersionSlot (0 when absent).
int64_t VersionOf(const Xapian::Document& document);

// The format BuildDocument writes: kSchemaVersion and the synonym table's
// fingerprint ("2-89ab…"), since the table shapes the group terms. An index
// stored with another (kSchemaVersionKey) is rebuilt on start.
std::string IndexFormatVersion();

// "Q" + id.
std::string IdTerm(const std::string& postmortem_id);

}  // namespace deja::index

#endif  // DEJA_INDEXER_DOCUMENT_BUILDER_H_
