#include "cli/import_records.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <system_error>
#include <utility>

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

enum class FileKind { kMarkdown, kJsonLines, kOther };

FileKind KindOf(const fs::path& path) {
  const std::string extension =
      absl::AsciiStrToLower(path.extension().string());
  if (extension == ".md" || extension == ".markdown") {
    return FileKind::kMarkdown;
  }
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

// `relative` is the path that goes into the request id.
void ReadMarkdown(const fs::path& path, const std::string& source,
                  const std::string& relative, const ImportDefaults& defaults,
                  std::vector<SourceRecord>& records) {
  auto bytes = ReadFileBytes(path);
  if (!bytes.ok()) {
    records.push_back(Rejected(source, std::string(bytes.status().message())));
    return;
  }
  auto imported = ImportMarkdown(*bytes);
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

void ReadJsonLines(const fs::path& path, const std::string& source,
                   const ImportDefaults& defaults,
                   std::vector<SourceRecord>& records) {
  auto bytes = ReadFileBytes(path);
  if (!bytes.ok()) {
    records.push_back(Rejected(source, std::string(bytes.status().message())));
    return;
  }
  google::protobuf::util::JsonParseOptions options;
  // A misspelt field would otherwise vanish from the stored postmortem.
  options.ignore_unknown_fields = false;
  int number = 0;
  for (absl::string_view line : absl::StrSplit(*bytes, '\n')) {
    ++number;
    absl::ConsumeSuffix(&line, "\r");
    if (absl::StripAsciiWhitespace(line).empty()) continue;
    const std::string line_source = absl::StrCat(source, ":", number);
    SourceRecord record;
    const auto status = google::protobuf::util::JsonStringToMessage(
        google::protobuf::StringPiece(line.data(), line.size()),
        &record.postmortem, options);
    if (!status.ok()) {
      const auto message = status.message();
      records.push_back(Rejected(
          line_source,
          absl::StrCat("invalid postmortem JSON: ",
                       absl::string_view(message.data(), message.size()))));
      continue;
    }
    record.source = line_source;
    record.request_id = RequestIdFor(record.postmortem, line);
    FillDefaults(defaults, record);
    records.push_back(std::move(record));
  }
}

void ReadFile(const fs::path& path, const std::string& source,
              const std::string& relative, const ImportDefaults& defaults,
              std::vector<SourceRecord>& records) {
  switch (KindOf(path)) {
    case FileKind::kMarkdown:
      ReadMarkdown(path, source, relative, defaults, records);
      return;
    case FileKind::kJsonLines:
      ReadJsonLines(path, source, defaults, records);
      return;
    case FileKind::kOther:
      records.push_back(
          Rejected(source, "not a .md, .markdown or .jsonl file"));
      return;
  }
}

void ReadDirectory(const fs::path& root, const ImportDefaults& defaults,
                   std::vector<SourceRecord>& records) {
  std::vector<fs::path> files;
  std::error_code error;
  fs::recursive_directory_iterator it(root, error), end;
  if (error) {
    records.push_back(Rejected(root.string(), error.message()));
    return;
  }
  for (; it != end; it.increment(error)) {
    if (error) break;
    if (IsHidden(it->path())) {
      if (it->is_directory(error)) it.disable_recursion_pending();
      continue;
    }
    if (it->is_regular_file(error) && KindOf(it->path()) != FileKind::kOther) {
      files.push_back(it->path());
    }
  }
  if (error) records.push_back(Rejected(root.string(), error.message()));
  std::sort(files.begin(), files.end());
  for (const fs::path& file : files) {
    const std::string relative = file.lexically_relative(root).generic_string();
    ReadFile(file, (root / relative).generic_string(), relative, defaults,
             records);
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
  return slash == absl::string_view::npos
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
