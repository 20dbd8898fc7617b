#ifndef DEJA_CORE_MARKDOWN_IMPORT_H_
#define DEJA_CORE_MARKDOWN_IMPORT_H_

// Markdown -> Postmortem: reads the project template (docs/postmortem-
// template.md, YAML front matter + sections) and, leniently, real-world
// write-ups (heading synonyms, timeline and action-item tables or bullet
// lists, a trailing "Stats" section). Whatever has no field is reported as an
// UnmappedPart instead of being dropped silently. Pure function, thread-safe.
//
// Decisions worth knowing:
// - Headings are matched case-insensitively; a trailing "(...)" is ignored.
//   "Root cause analysis" fills contributing_factors when it is a plain bullet
//   list, root_causes otherwise.
// - Root causes "CATEGORY: text" take the category; without a known prefix the
//   category stays CATEGORY_UNSPECIFIED (the writer did not say; UNKNOWN means
//   "we do not know the cause").
// - Lessons learned: "went well" / "went wrong" / "lucky" subsections fill
//   their lists; a flat list, paragraphs and any other subsection go to
//   went_wrong (a lesson is mostly something to change).
// - Action items without an owner keep owner "" and are reported ("action
//   item without an owner") so the importer can fill a default.
// - Timeline and front-matter times: dates "2023-11-17", "2023/11/17",
//   "2023.11.17", "17 Nov 2023", "Nov 17, 2023", "November 17, 2023," (English
//   month names or abbreviations, any case, "Sept."); clocks "06:10[:42]",
//   "6:10 PM", "6:10pm", "06:10 a.m." (12:05 AM is 00:05). A date alone means
//   midnight; a clock alone takes the previous entry's date (or started_at's).
//   Numeric day/month dates ("17/11/2023") are ambiguous (day-first or
//   month-first) and are reported as not understood, never guessed.
// - Time zones as fixed offsets: UTC, GMT, Z, CET (+1), CEST (+2), BST (+1),
//   EST/EDT (-5/-4), MST/MDT (-7/-6), PST/PDT (-8/-7), "UTC+2", "GMT-5",
//   "+02:00", "-0500". Ambiguous names (CST, IST) and any other zone leave
//   `at` unset and are reported.
// - Unknown sections are kept in `narrative` (under their heading) and
//   reported.
// - A "Links" section ("Related links", "References") takes "[title](url)",
//   bare URLs and "title: url" bullets; other bullets are reported.
// - PostmortemToMarkdown's escapes are undone: one leading "\" of each line
//   of prose (summary, impact, detection, resolution, text under the title;
//   not unknown sections, kept verbatim); in table cells "\|", "<br>" and
//   the entities, decoded in one pass.
// - An empty "Lessons learned" section leaves `lessons` unset.

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "deja/v1/postmortem.pb.h"

namespace deja {

inline constexpr size_t kMaxMarkdownBytes = 1 << 20;  // 1 MiB

// Something in the document that could not be put into the Postmortem.
struct UnmappedPart {
  int line = 0;         // 1-based line of the heading or text
  std::string section;  // the heading it sat under ("" before any heading)
  std::string reason;   // e.g. "no field for section 'Stats'"
};

struct MarkdownImport {
  v1::Postmortem postmortem;
  std::vector<UnmappedPart> unmapped;
};

// INVALID_ARGUMENT "line N: problem" for malformed input: binary data (NUL or
// invalid UTF-8), an unterminated front matter block, a table row with more
// cells than its header (fewer are padded), bad front-matter values (unknown
// severity, unparsable time). A document over kMaxMarkdownBytes is refused
// without a line number. Never throws.
absl::StatusOr<MarkdownImport> ImportMarkdown(absl::string_view text);

}  // namespace deja

#endif  // DEJA_CORE_MARKDOWN_IMPORT_H_
