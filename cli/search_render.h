#ifndef DEJA_CLI_SEARCH_RENDER_H_
#define DEJA_CLI_SEARCH_RENDER_H_

// How `deja search`, `deja seen` and `deja admin index-status` show their
// answers to people. Times in UTC. Pure functions, thread-safe; the
// command-line hints (next page, did you mean) are added by the commands,
// which know the words that were typed.

#include <string>

#include "absl/strings/string_view.h"
#include "deja/v1/admin_service.pb.h"
#include "deja/v1/search_service.pb.h"

namespace deja::cli {

// A server snippet for a terminal: <mark>word</mark> becomes *word*, HTML
// entities are decoded, and the text is put on one line.
std::string SnippetText(absl::string_view html);

// "SEEN BEFORE", "POSSIBLY RELATED", "NEW"; "-" when unspecified.
std::string VerdictName(v1::Verdict verdict);

// "12 matches" (or "no matches"), then a table (SCORE, STARTED, SEV, TEAM,
// TITLE, ID) with each hit's snippet indented on the line below its row,
// then one line per facet ("service: checkout 3, api 2"). Estimated counts
// read "about 4100 matches" and "service: checkout about 310, api about 95".
std::string RenderSearchResults(const v1::SearchResponse& response);

// The overall verdict first, then each incident: verdict, score, title,
// started, id, why it matched, root causes, what fixed it and its action
// items with OPEN / OVERDUE flags.
std::string RenderSimilar(const v1::FindSimilarResponse& response);

std::string RenderIndexStatus(const v1::IndexStatus& status);

}  // namespace deja::cli

#endif  // DEJA_CLI_SEARCH_RENDER_H_
