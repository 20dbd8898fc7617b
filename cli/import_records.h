#ifndef DEJA_CLI_IMPORT_RECORDS_H_
#define DEJA_CLI_IMPORT_RECORDS_H_

// What `deja import` sends: the records read from Markdown, JSON and JSON
// Lines files and directories of them, each with its idempotence key, the
// defaults it got and what its document could not map. Reading never stops at a
// bad file or line: that record carries its problem instead and is reported as
// rejected. Not thread-safe only in the sense that it reads the file system.

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/import_defaults.h"
#include "core/markdown_import.h"
#include "deja/v1/postmortem.pb.h"

namespace deja::cli {

// gRPC's default receive limit is 4 MiB; a message stays well under it.
inline constexpr size_t kMaxImportMessageBytes = 2 << 20;
// A record that alone exceeds this cannot be sent at all.
inline constexpr size_t kMaxImportRecordBytes = (4 << 20) - (64 << 10);

struct SourceRecord {
  // "dir/PM-1.md" (the PATH argument joined with the file's path under it)
  // or "incidents.jsonl:17".
  std::string source;
  // "import-" + 32 hex digits; see ImportRequestId.
  std::string request_id;
  v1::Postmortem postmortem;
  // Non-empty: the record could not be read and is not sent.
  std::string problem;
  // Fields ApplyImportDefaults filled.
  std::vector<std::string> defaulted;
  // Markdown only: what ImportMarkdown could not map.
  std::vector<UnmappedPart> unmapped;
};

// "import-" + Fnv1a128Hex(key). The key is the postmortem's external_id when
// it has one; else, for Markdown, the file's path relative to its PATH
// argument (the file name for a file argument), "\n" and the file's bytes;
// for JSON Lines the line's bytes. So the id depends neither on the current
// directory nor on where the folder sits. (A .json file's record gets the
// id `deja submit` would send instead: DefaultRequestId in cli/format.h.)
std::string ImportRequestId(absl::string_view key);

// One postmortem in the proto3 JSON mapping, a UTF-8 byte-order mark
// skipped. Unknown fields are errors (a misspelt field would otherwise
// vanish from the stored postmortem): INVALID_ARGUMENT "invalid postmortem
// JSON: ..." on one line.
absl::StatusOr<v1::Postmortem> ParsePostmortemJson(absl::string_view json);

// A file holding one postmortem, as `deja submit`, `deja update` and `deja
// import` (.json) read it: ParsePostmortemJson, and a JSON array refused
// with a hint.
absl::StatusOr<v1::Postmortem> ParsePostmortemFile(absl::string_view text);

// Reads every PATH in order: a .md/.markdown file, a .json file (one
// postmortem, as ParsePostmortemFile reads it; in a folder, any .json file
// is taken for one, and one that is not becomes a rejected record), a
// .jsonl file (one postmortem per line, blank lines and a UTF-8 byte-order
// mark skipped) or a directory (walked recursively in path order,
// following symlinks but entering each folder once; hidden entries, other
// extensions and non-regular files ignored). A missing or unreadable path or
// subfolder (only that subtree is skipped), a symlink loop, a file argument
// that is not a regular file or has another extension, a .jsonl file with no
// postmortem, a malformed document or line becomes a record with a problem.
// `defaults` fill what each postmortem lacks.
std::vector<SourceRecord> ReadImportRecords(
    const std::vector<std::string>& paths, const ImportDefaults& defaults);

// How many records go into each message, in order: at most `max_records`
// and `max_bytes` (the sum of `sizes`) per message; a record larger than
// `max_bytes` goes alone.
std::vector<size_t> PlanBatches(const std::vector<size_t>& sizes,
                                size_t max_records, size_t max_bytes);

// The directory prefix ("/data/pm/", with its "/") that every source
// shares, so that tables can leave it out; "" when there is none or it is
// just "/".
std::string CommonDirectory(const std::vector<SourceRecord>& records);

// The notes column for one record: "defaults: team, severity; not mapped:
// Stats (line 40), Timeline (lines 14, 15); 2 blameless warnings"; "" when
// there is nothing to say.
std::string ImportNotes(const SourceRecord& record, int warnings);

}  // namespace deja::cli

#endif  // DEJA_CLI_IMPORT_RECORDS_H_
