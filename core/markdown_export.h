#ifndef DEJA_CORE_MARKDOWN_EXPORT_H_
#define DEJA_CORE_MARKDOWN_EXPORT_H_

// Postmortem -> Markdown in the form of docs/postmortem-template.md, the
// plain-text summary for chat and e-mail, and the blank template for
// `deja new`. Pure functions, thread-safe, deterministic (same input, same
// bytes).
//
// Decisions worth knowing:
// - Front matter holds the template's keys that are set, plus source_url.
//   The server-owned id and version are written as YAML comments: they say
//   where the document came from but are not read back, since a document
//   submitted again gets its id and version from the server.
// - Sections keep the template's order and headings; a section with nothing
//   in it is left out, and the template's one-line guidance is not written.
//   Links go in a "Links" section after "Log lines" (the template has none);
//   narrative (imported text that had no field) goes last, verbatim when it
//   starts with its own "## " heading, else right under the title.
// - Escaping, so that ImportMarkdown reads back the same value: in a table
//   cell "|" becomes "\|", a newline "<br>", a literal "<br>" "&lt;br>" and
//   "&" before an entity name "&amp;"; a prose line that Markdown would read as
//   structure (a heading, a fence, a table row, a rule, a list item) or that
//   starts with "\" gets a leading "\"; front matter values are double-quoted
//   (with \" \\ \n \t) when YAML would misread them.
// - Times are UTC, RFC 3339 in the front matter and "YYYY-MM-DD HH:MM[:SS]"
//   in the timeline; sub-second parts are not written.

#include <string>

#include "absl/strings/string_view.h"
#include "deja/v1/postmortem.pb.h"

namespace deja {

// The postmortem as a Markdown document that ImportMarkdown reads back.
std::string PostmortemToMarkdown(const v1::Postmortem& postmortem);

// A short plain-text form for a wider audience: title, severity, team,
// services and date, what happened (the summary), impact, root causes (or
// else contributing factors), what fixed it, action items with
// owners and status. At most kMaxSummaryLines lines, no Markdown tables.
inline constexpr int kMaxSummaryLines = 40;
std::string PostmortemSummaryText(const v1::Postmortem& postmortem);

// docs/postmortem-template.md (compiled in) with every {{DATE}} replaced by
// `today` ("YYYY-MM-DD"; not checked).
std::string FilledTemplate(absl::string_view today);

}  // namespace deja

#endif  // DEJA_CORE_MARKDOWN_EXPORT_H_
