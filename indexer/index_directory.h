#ifndef DEJA_INDEXER_INDEX_DIRECTORY_H_
#define DEJA_INDEXER_INDEX_DIRECTORY_H_

// Where the index lives on disk. A rebuild writes a whole new Xapian database
// next to the one in use and swaps it in by replacing one symlink, an atomic
// rename, so readers see either the old index or the new one, never a mix:
//
//   <index_dir>/current -> gen-000007     (the index in use)
//   <index_dir>/gen-000007/               (a Xapian glass database)
//   <index_dir>/gen-000006/               (the previous one, removed later)
//
// Readers resolve `current` before each query and reopen when it points
// elsewhere. Functions are thread-safe; only the one writer calls the ones
// that change the directory.

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace deja::index {

// The database `current` points to, as an absolute path; NOT_FOUND when
// there is no index yet.
absl::StatusOr<std::string> CurrentIndexPath(const std::string& index_dir);

// Creates index_dir if needed and returns the path of a new, empty
// generation directory (not yet in use).
absl::StatusOr<std::string> NewGeneration(const std::string& index_dir);

// Points `current` at `generation_path` atomically.
absl::Status SwapIn(const std::string& index_dir,
                    const std::string& generation_path);

// Removes every generation but the current one and the one before it (a
// reader may still have that one open).
absl::Status RemoveOldGenerations(const std::string& index_dir);

}  // namespace deja::index

#endif  // DEJA_INDEXER_INDEX_DIRECTORY_H_
