#include "indexer/recent_layers.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <system_error>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace deja::index {
namespace {

namespace fs = std::filesystem;

constexpr char kLayersDir[] = "layers";
constexpr char kViewFile[] = "VIEW";

fs::path LayersDir(const std::string& index_dir) {
  return fs::path(index_dir) / kLayersDir;
}

absl::Status FileError(const std::string& what, const fs::path& path,
                       const std::error_code& error) {
  return absl::InternalError(
      absl::StrCat(what, " ", path.string(), ": ", error.message()));
}

}  // namespace

std::string LayerPath(const std::string& index_dir, int64_t number) {
  return (LayersDir(index_dir) / absl::StrFormat("%09d", number)).string();
}

std::string LayerViewPath(const std::string& index_dir) {
  return (LayersDir(index_dir) / kViewFile).string();
}

absl::StatusOr<std::vector<int64_t>> ReadLayerView(
    const std::string& index_dir) {
  const fs::path path = LayersDir(index_dir) / kViewFile;
  std::ifstream in(path);
  std::vector<int64_t> numbers;
  if (!in) {
    std::error_code error;
    if (!fs::exists(path, error)) return numbers;
    return absl::InternalError(absl::StrCat("cannot read ", path.string()));
  }
  std::stringstream text;
  text << in.rdbuf();
  for (absl::string_view line :
       absl::StrSplit(text.str(), '\n', absl::SkipWhitespace())) {
    int64_t number = 0;
    if (!absl::SimpleAtoi(line, &number) || number <= 0) {
      return absl::InternalError(
          absl::StrCat(path.string(), ": not a layer number: '", line, "'"));
    }
    numbers.push_back(number);
  }
  return numbers;
}

absl::Status WriteLayerView(const std::string& index_dir,
                            const std::vector<int64_t>& numbers) {
  const fs::path dir = LayersDir(index_dir);
  std::error_code error;
  fs::create_directories(dir, error);
  if (error) return FileError("cannot create", dir, error);
  const fs::path path = dir / kViewFile;
  const fs::path temporary = dir / absl::StrCat(kViewFile, ".new");
  {
    std::ofstream out(temporary, std::ios::trunc);
    for (const int64_t number : numbers) out << number << '\n';
    out.flush();
    if (!out) {
      return absl::InternalError(
          absl::StrCat("cannot write ", temporary.string()));
    }
  }
  // No fsync: layers do not outlive the writer (ClearLayers on start).
  fs::rename(temporary, path, error);
  if (error) return FileError("cannot replace", path, error);
  return absl::OkStatus();
}

int64_t CommittedLayer(const Xapian::Database& index) {
  int64_t number = 0;
  if (!absl::SimpleAtoi(index.get_metadata(kLayersCommittedKey), &number)) {
    return 0;
  }
  return number;
}

absl::StatusOr<int64_t> ClearLayers(const std::string& index_dir) {
  const fs::path dir = LayersDir(index_dir);
  int64_t highest = 0;
  if (absl::StatusOr<std::vector<int64_t>> listed = ReadLayerView(index_dir);
      listed.ok() && !listed->empty()) {
    highest = *std::max_element(listed->begin(), listed->end());
  }
  // Also creates the directory, for the layers to come.
  if (absl::Status emptied = WriteLayerView(index_dir, {}); !emptied.ok()) {
    return emptied;
  }
  std::error_code error;
  for (const fs::directory_entry& entry : fs::directory_iterator(dir, error)) {
    const std::string name = entry.path().filename().string();
    if (name == kViewFile) continue;
    int64_t number = 0;
    if (absl::SimpleAtoi(name, &number)) highest = std::max(highest, number);
    std::error_code removing;
    fs::remove_all(entry.path(), removing);
    if (removing) return FileError("cannot remove", entry.path(), removing);
  }
  if (error) return FileError("cannot list", dir, error);
  return highest;
}

absl::Status RemoveLayer(const std::string& index_dir, int64_t number) {
  const fs::path path = LayerPath(index_dir, number);
  std::error_code error;
  fs::remove_all(path, error);
  if (error) return FileError("cannot remove", path, error);
  return absl::OkStatus();
}

absl::Duration RestBetweenLayers(size_t live, size_t unclaimed, bool full,
                                 absl::Duration interval) {
  if (live < kLayersBeforeRest && !full) return absl::ZeroDuration();
  return interval * static_cast<int64_t>(1 + unclaimed / kLayersPerRest);
}

}  // namespace deja::index
