#include "indexer/index_directory.h"

#include <stdio.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace deja::index {
namespace {

namespace fs = std::filesystem;

constexpr char kCurrentLink[] = "current";
constexpr char kGenerationPrefix[] = "gen-";

// The generation number of a "gen-000007" name, or -1.
int64_t GenerationNumber(const std::string& name) {
  if (!absl::StartsWith(name, kGenerationPrefix)) return -1;
  int64_t number = -1;
  if (!absl::SimpleAtoi(name.substr(std::strlen(kGenerationPrefix)), &number)) {
    return -1;
  }
  return number;
}

// Generation numbers present in index_dir, ascending.
std::vector<int64_t> Generations(const fs::path& index_dir) {
  std::vector<int64_t> numbers;
  std::error_code error;
  for (const fs::directory_entry& entry :
       fs::directory_iterator(index_dir, error)) {
    const int64_t number = GenerationNumber(entry.path().filename().string());
    if (number >= 0) numbers.push_back(number);
  }
  std::sort(numbers.begin(), numbers.end());
  return numbers;
}

std::string GenerationName(int64_t number) {
  return absl::StrFormat("%s%06d", kGenerationPrefix, number);
}

}  // namespace

absl::StatusOr<std::string> CurrentIndexPath(const std::string& index_dir) {
  const fs::path link = fs::path(index_dir) / kCurrentLink;
  std::error_code error;
  const fs::path target = fs::read_symlink(link, error);
  if (error) {
    return absl::NotFoundError(absl::StrCat("no index in ", index_dir, " yet (",
                                            link.string(), ": ",
                                            error.message(), ")"));
  }
  const fs::path resolved =
      target.is_absolute() ? target : fs::path(index_dir) / target;
  return fs::absolute(resolved, error).lexically_normal().string();
}

absl::StatusOr<std::string> NewGeneration(const std::string& index_dir) {
  std::error_code error;
  fs::create_directories(index_dir, error);
  if (error) {
    return absl::FailedPreconditionError(absl::StrCat(
        "cannot create index directory ", index_dir, ": ", error.message()));
  }
  const std::vector<int64_t> numbers = Generations(index_dir);
  const int64_t next = numbers.empty() ? 1 : numbers.back() + 1;
  const fs::path path =
      fs::absolute(fs::path(index_dir) / GenerationName(next), error);
  fs::create_directory(path, error);
  if (error) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot create index generation ", path.string(), ": ",
                     error.message()));
  }
  return path.lexically_normal().string();
}

absl::Status SwapIn(const std::string& index_dir,
                    const std::string& generation_path) {
  const fs::path dir(index_dir);
  const fs::path link = dir / kCurrentLink;
  const fs::path staged = dir / "current.new";
  std::error_code error;
  fs::remove(staged, error);
  // Relative, so the index directory can be moved as a whole.
  fs::create_directory_symlink(fs::path(generation_path).filename(), staged,
                               error);
  if (error) {
    return absl::InternalError(
        absl::StrCat("cannot create ", staged.string(), ": ", error.message()));
  }
  // rename(2) replaces the old link in one step: readers never see none.
  if (rename(staged.c_str(), link.c_str()) != 0) {
    return absl::InternalError(absl::StrCat("cannot swap in ", generation_path,
                                            ": ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

absl::Status RemoveOldGenerations(const std::string& index_dir) {
  absl::StatusOr<std::string> current = CurrentIndexPath(index_dir);
  if (!current.ok()) return absl::OkStatus();
  const int64_t in_use =
      GenerationNumber(fs::path(*current).filename().string());
  const std::vector<int64_t> numbers = Generations(index_dir);
  // Keep the one just before the current one: a reader may be mid-query.
  int64_t keep_previous = -1;
  for (const int64_t number : numbers) {
    if (number < in_use) keep_previous = number;
  }
  for (const int64_t number : numbers) {
    if (number == in_use || number == keep_previous) continue;
    std::error_code error;
    fs::remove_all(fs::path(index_dir) / GenerationName(number), error);
    if (error) {
      return absl::InternalError(absl::StrCat("cannot remove old index ",
                                              GenerationName(number), ": ",
                                              error.message()));
    }
  }
  return absl::OkStatus();
}

}  // namespace deja::index
