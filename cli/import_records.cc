#include "cli/import_records.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <system_error>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "cli/format.h"
#include "google/protobuf/util/json_util.h"

namespace deja::cli {
namespace {

namespace fs = std::filesystem;

// What ImportMarkdown says of an action item with no owner; the defaults
// give it one, so it is no longer worth a note.
constexpr absl::string_view kNoOwnerReason = "action item without an owner";

enum class FileKind { kMarkdown, kJson, kJsonLines, kOther };

FileKind KindOf(const fs::path& path) {
  const std::string extension =
      absl::AsciiStrToLower(path.extension().string());
  if (extension == ".md" || extension == ".markdown") {
    return FileKind::kMarkdown;
  }
  if (extension == ".json") return FileKind::kJson;
  if (extension == ".jsonl") return FileKind::kJsonLines;
  return FileKind::kOther;
}

absl::StatusOr<std::string> ReadFileBytes(const fs::path& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) return absl::NotFoundError(std::strerror(errno));
  std::ostringstream content;
  content << file.rdbuf();
  if (file.bad()) return absl::DataLossError(std::strerror(errno));
  return content.str();
}

// Editors on Windows start UTF-8 files with a byte-order mark; it is not
// part of the text.
absl::string_view WithoutByteOrderMark(absl::string_view text) {
  absl::ConsumePrefix(&text, "\xEF\xBB\xBF");
  return text;
}

bool IsHidden(const fs::path& path) {
  const std::string name = path.filename().string();
  return !name.empty() && name[0] == '.';
}

// The request id of a parsed record: the external id wins over `key`.
std::string RequestIdFor(const v1::Postmortem& postmortem,
                         absl::string_view key) {
  return ImportRequestId(postmortem.external_id().empty()
                             ? key
                             : absl::string_view(postmortem.external_id()));
}

void FillDefaults(const ImportDefaults& defaults, SourceRecord& record) {
  record.defaulted = ApplyImportDefaults(defaults, record.postmortem);
  const bool owner_filled =
      std::find(record.defaulted.begin(), record.defaulted.end(),
                "action_items.owner") != record.defaulted.end();
  if (owner_filled) {
    record.unmapped.erase(
        std::remove_if(record.unmapped.begin(), record.unmapped.end(),
                       [](const UnmappedPart& part) {
                         return part.reason == kNoOwnerReason;
                       }),
        record.unmapped.end());
  }
}

SourceRecord Rejected(std::string source, std::string problem) {
  SourceRecord record;
  record.source = std::move(source);
  record.problem = std::move(problem);
  return record;
}

// The file's bytes; or none, after adding a rejected record saying why.
std::optional<std::string> BytesOrRejected(const fs::path& path,
                                           const std::string& source,
                                           std::vector<SourceRecord>& records) {
  absl::StatusOr<std::string> bytes = ReadFileBytes(path);
  if (bytes.ok()) return *std::move(bytes);
  records.push_back(Rejected(source, std::string(bytes.status().message())));
  return std::nullopt;
}

// `relative` is the path that goes into the request id.
void ReadMarkdown(const fs::path& path, const std::string& source,
                  const std::string& relative, const ImportDefaults& defaults,
                  std::vector<SourceRecord>& records) {
  const std::optional<std::string> bytes =
      BytesOrRejected(path, source, records);
  if (!bytes) return;
  // The id stays over the raw bytes, so ids of earlier imports still match.
  auto imported = ImportMarkdown(WithoutByteOrderMark(*bytes));
  if (!imported.ok()) {
    records.push_back(
        Rejected(source, std::string(imported.status().message())));
    return;
  }
  SourceRecord record;
  record.source = source;
  record.postmortem = std::move(imported->postmortem);
  record.unmapped = std::move(imported->unmapped);
  record.request_id =
      RequestIdFor(record.postmortem, absl::StrCat(relative, "\n", *bytes));
  FillDefaults(defaults, record);
  records.push_back(std::move(record));
}

// A .json file: one postmortem, read as `deja submit` reads it. Its request
// id is the one `deja submit FILE` sends, taken before any default is
// filled, so a file submitted earlier comes back unchanged (a default only
// fills what the server would have refused, so nothing was stored then).
void ReadJson(const fs::path& path, const std::string& source,
              const ImportDefaults& defaults,
              std::vector<SourceRecord>& records) {
  const std::optional<std::string> bytes =
      BytesOrRejected(path, source, records);
  if (!bytes) return;
  absl::StatusOr<v1::Postmortem> parsed = ParsePostmortemFile(*bytes);
  if (!parsed.ok()) {
    records.push_back(Rejected(source, std::string(parsed.status().message())));
    return;
  }
  SourceRecord record;
  record.source = source;
  record.postmortem = *std::move(parsed);
  record.request_id = DefaultRequestId(record.postmortem);
  FillDefaults(defaults, record);
  records.push_back(std::move(record));
}

void ReadJsonLines(const fs::path& path, const std::string& source,
                   const ImportDefaults& defaults,
                   std::vector<SourceRecord>& records) {
  const std::optional<std::string> bytes =
      BytesOrRejected(path, source, records);
  if (!bytes) return;
  int number = 0;
  bool any = false;
  for (absl::string_view line :
       absl::StrSplit(WithoutByteOrderMark(*bytes), '\n')) {
    ++number;
    absl::ConsumeSuffix(&line, "\r");
    if (absl::StripAsciiWhitespace(line).empty()) continue;
    any = true;
    const std::string line_source = absl::StrCat(source, ":", number);
    absl::StatusOr<v1::Postmortem> parsed = ParsePostmortemJson(line);
    if (!parsed.ok()) {
      records.push_back(
          Rejected(line_source, std::string(parsed.status().message())));
      continue;
    }
    SourceRecord record;
    record.postmortem = *std::move(parsed);
    record.source = line_source;
    record.request_id = RequestIdFor(record.postmortem, line);
    FillDefaults(defaults, record);
    records.push_back(std::move(record));
  }
  // Said here, or the command would report "no .jsonl files in" the file.
  if (!any) records.push_back(Rejected(source, "no postmortems in the file"));
}

void ReadFile(const fs::path& path, const std::string& source,
              const std::string& relative, const ImportDefaults& defaults,
              std::vector<SourceRecord>& records) {
  switch (KindOf(path)) {
    case FileKind::kMarkdown:
      ReadMarkdown(path, source, relative, defaults, records);
      return;
    case FileKind::kJson:
      ReadJson(path, source, defaults, records);
      return;
    case FileKind::kJsonLines:
      ReadJsonLines(path, source, defaults, records);
      return;
    case FileKind::kOther:
      records.push_back(
          Rejected(source, "not a .md, .markdown, .json or .jsonl file"));
      return;
  }
}

// Something a directory walk found: a file to read, or (with a problem) a
// path it could not go into.
struct WalkEntry {
  fs::path path;
  std::string problem;
};

// The folders a walk went into, by canonical path, so that a symlink back up
// neither hangs nor reads a file twice.
struct EnteredFolders {
  std::vector<fs::path> ancestors;
  std::map<fs::path, fs::path> first_seen_as;
};

void WalkFolder(const fs::path& folder, const fs::path& root,
                EnteredFolders& entered, std::vector<WalkEntry>& found);

// Goes into `folder` unless it is one already entered (followed symlinks).
void EnterFolder(const fs::path& folder, const fs::path& root,
                 EnteredFolders& entered, std::vector<WalkEntry>& found) {
  std::error_code error;
  const fs::path canonical = fs::canonical(folder, error);
  if (error) {
    found.push_back({folder, error.message()});
    return;
  }
  if (std::find(entered.ancestors.begin(), entered.ancestors.end(),
                canonical) != entered.ancestors.end()) {
    found.push_back({folder, "symlink loop: skipped"});
    return;
  }
  const auto [it, inserted] = entered.first_seen_as.emplace(canonical, folder);
  if (!inserted) {
    found.push_back(
        {folder,
         absl::StrCat("same folder as ",
                      it->second.lexically_relative(root).generic_string(),
                      ": skipped")});
    return;
  }
  entered.ancestors.push_back(canonical);
  WalkFolder(folder, root, entered, found);
  entered.ancestors.pop_back();
}

// Appends the importable files under `folder` in path order. A folder that
// cannot be listed is one problem entry; the walk goes on with the rest.
void WalkFolder(const fs::path& folder, const fs::path& root,
                EnteredFolders& entered, std::vector<WalkEntry>& found) {
  std::error_code error;
  fs::directory_iterator it(folder, error);
  if (error) {
    found.push_back({folder, error.message()});
    return;
  }
  std::vector<fs::path> children;
  for (const fs::directory_iterator end; it != end;) {
    children.push_back(it->path());
    it.increment(error);
    if (error) {
      found.push_back({folder, error.message()});
      break;
    }
  }
  std::sort(children.begin(), children.end());
  for (const fs::path& child : children) {
    if (IsHidden(child)) continue;
    // Follows symlinks: a linked folder or file counts as what it links to.
    const fs::file_status status = fs::status(child, error);
    if (error) {
      // A dangling link is noise unless it names a postmortem.
      if (error != std::errc::no_such_file_or_directory ||
          KindOf(child) != FileKind::kOther) {
        found.push_back({child, error.message()});
      }
      continue;
    }
    if (fs::is_directory(status)) {
      EnterFolder(child, root, entered, found);
    } else if (fs::is_regular_file(status) &&
               KindOf(child) != FileKind::kOther) {
      found.push_back({child, ""});
    }
  }
}

void ReadDirectory(const fs::path& root, const ImportDefaults& defaults,
                   std::vector<SourceRecord>& records) {
  EnteredFolders entered;
  std::vector<WalkEntry> found;
  EnterFolder(root, root, entered, found);
  for (const WalkEntry& entry : found) {
    if (entry.path == root) {
      records.push_back(Rejected(root.string(), entry.problem));
      continue;
    }
    const std::string relative =
        entry.path.lexically_relative(root).generic_string();
    const std::string source = (root / relative).generic_string();
    if (entry.problem.empty()) {
      ReadFile(entry.path, source, relative, defaults, records);
    } else {
      records.push_back(Rejected(source, entry.problem));
    }
  }
}

// "Timeline (lines 14, 15)", "Stats (line 46)", or the reason for a part
// outside any section.
std::string UnmappedSummary(const std::vector<UnmappedPart>& parts) {
  std::vector<std::pair<std::string, std::vector<int>>> sections;
  for (const UnmappedPart& part : parts) {
    const std::string name = part.section.empty() ? part.reason : part.section;
    auto it = std::find_if(sections.begin(), sections.end(),
                           [&](const auto& s) { return s.first == name; });
    if (it == sections.end()) {
      sections.emplace_back(name, std::vector<int>());
      it = sections.end() - 1;
    }
    if (part.line > 0) it->second.push_back(part.line);
  }
  std::vector<std::string> words;
  for (const auto& [name, lines] : sections) {
    if (lines.empty()) {
      words.push_back(name);
    } else {
      words.push_back(absl::StrCat(name, " (line", lines.size() > 1 ? "s" : "",
                                   " ", absl::StrJoin(lines, ", "), ")"));
    }
  }
  return absl::StrJoin(words, ", ");
}

}  // namespace

absl::StatusOr<v1::Postmortem> ParsePostmortemJson(absl::string_view json) {
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  v1::Postmortem postmortem;
  json = WithoutByteOrderMark(json);
  const auto status = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(json.data(), json.size()), &postmortem,
      options);
  if (status.ok()) return postmortem;
  // protobuf's message may go on with the input and a caret: one line.
  const auto message = status.message();
  const absl::string_view text = absl::StripTrailingAsciiWhitespace(
      absl::string_view(message.data(), message.size()));
  return absl::InvalidArgumentError(absl::StrCat(
      "invalid postmortem JSON: ", OneLine(text.substr(0, text.find('\n')))));
}

absl::StatusOr<v1::Postmortem> ParsePostmortemFile(absl::string_view text) {
  if (absl::StartsWith(
          absl::StripLeadingAsciiWhitespace(WithoutByteOrderMark(text)), "[")) {
    return absl::InvalidArgumentError(
        "a JSON array: give one postmortem per file (several FILEs are fine)");
  }
  return ParsePostmortemJson(text);
}

std::string ImportRequestId(absl::string_view key) {
  return absl::StrCat("import-", Fnv1a128Hex(key));
}

std::vector<SourceRecord> ReadImportRecords(
    const std::vector<std::string>& paths, const ImportDefaults& defaults) {
  std::vector<SourceRecord> records;
  for (const std::string& argument : paths) {
    const fs::path path(argument);
    std::error_code error;
    const fs::file_status status = fs::status(path, error);
    if (error || !fs::exists(status)) {
      records.push_back(Rejected(
          argument, error ? error.message() : "No such file or directory"));
    } else if (fs::is_directory(status)) {
      ReadDirectory(path, defaults, records);
    } else if (!fs::is_regular_file(status)) {
      // Reading a FIFO or a device would wait forever or never end.
      records.push_back(Rejected(argument, "not a regular file"));
    } else {
      ReadFile(path, argument, path.filename().generic_string(), defaults,
               records);
    }
  }
  return records;
}

std::vector<size_t> PlanBatches(const std::vector<size_t>& sizes,
                                size_t max_records, size_t max_bytes) {
  std::vector<size_t> batches;
  size_t count = 0;
  size_t bytes = 0;
  for (size_t size : sizes) {
    if (count > 0 && (count == max_records || bytes + size > max_bytes)) {
      batches.push_back(count);
      count = 0;
      bytes = 0;
    }
    ++count;
    bytes += size;
  }
  if (count > 0) batches.push_back(count);
  return batches;
}

std::string CommonDirectory(const std::vector<SourceRecord>& records) {
  if (records.empty()) return "";
  absl::string_view common = records.front().source;
  for (const SourceRecord& record : records) {
    size_t same = 0;
    const absl::string_view source = record.source;
    while (same < common.size() && same < source.size() &&
           common[same] == source[same]) {
      ++same;
    }
    common = common.substr(0, same);
  }
  const size_t slash = common.rfind('/');
  // "sources in /" would say nothing.
  return slash == absl::string_view::npos || slash == 0
             ? ""
             : std::string(common.substr(0, slash + 1));
}

std::string ImportNotes(const SourceRecord& record, int warnings) {
  std::vector<std::string> parts;
  if (!record.defaulted.empty()) {
    parts.push_back(
        absl::StrCat("defaults: ", absl::StrJoin(record.defaulted, ", ")));
  }
  if (!record.unmapped.empty()) {
    parts.push_back(
        absl::StrCat("not mapped: ", UnmappedSummary(record.unmapped)));
  }
  if (warnings > 0) {
    parts.push_back(
        absl::StrCat(warnings, " blameless warning", warnings == 1 ? "" : "s"));
  }
  return absl::StrJoin(parts, "; ");
}

}  // namespace deja::cli
