#ifndef DEJA_INDEXER_RECENT_LAYERS_H_
#define DEJA_INDEXER_RECENT_LAYERS_H_

// Recent layers: new postmortems made searchable before the index commits
// them.
//
// A commit of the index costs about half a second at 100,000 postmortems (it
// rewrites the B-tree leaf of every term it touches), so under a steady
// stream of submits a change that waited for its commit took seconds to
// become searchable (docs/BENCHMARKS.md). The indexer
// instead reads the outbox ahead of its commits (IndexFeed::Peek) and writes
// the new postmortems it finds into a layer: a small Xapian database of their
// own, written once and never changed. Searches open the index in use plus
// the layers it does not hold yet:
//
//   <index_dir>/layers/VIEW        the live layers' numbers, one a line
//   <index_dir>/layers/000000042/  a layer (a glass database)
//
// Layers are numbered in the order they are written. The commit of the index
// that takes in a layer's postmortems records the highest layer number it
// holds (CommittedLayer), so a reader that opened the index at that commit
// leaves those layers out: each postmortem is counted once, in a layer or in
// the index. A reader reads VIEW before it reopens the index: the writer
// drops a layer from VIEW only after that commit. Only postmortems the index
// does not hold are put in layers; updates and deletions become searchable
// with their commit.
//
// The one writer (index_sync.cc) writes the layers and calls
// WriteLayerView, ClearLayers and RemoveLayer; readers call ReadLayerView
// and CommittedLayer. Thread-safe.

#include <xapian.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace deja::index {

// Index metadata: the highest layer number whose postmortems it holds.
inline constexpr char kLayersCommittedKey[] = "deja.layers_committed";

// The database of layer `number`.
std::string LayerPath(const std::string& index_dir, int64_t number);

// The VIEW file (replaced by a rename whenever the live layers change).
std::string LayerViewPath(const std::string& index_dir);

// The live layers, ascending; none when there is no VIEW (no writer has
// written a layer). INTERNAL when VIEW cannot be read or parsed.
absl::StatusOr<std::vector<int64_t>> ReadLayerView(
    const std::string& index_dir);

// Replaces VIEW atomically (rename): readers see the old list or the new.
absl::Status WriteLayerView(const std::string& index_dir,
                            const std::vector<int64_t>& numbers);

// The highest layer number `index` holds (0 when none).
int64_t CommittedLayer(const Xapian::Database& index);

// Empties VIEW (creating the layers' directory if needed), then removes
// every layer: on start, when the layers a previous writer left may hold
// postmortems committed since, or lost by a machine crash (they are written
// without fsync). Returns the highest layer number it found (in VIEW or on
// disk; 0 when none), so that the next writer never reuses one.
absl::StatusOr<int64_t> ClearLayers(const std::string& index_dir);

// Removes the directory of layer `number` (no error when it is gone).
absl::Status RemoveLayer(const std::string& index_dir, int64_t number);

// How long the writer waits from the start of one round of writing a layer
// to the start of the next, given the `live` layers, the `unclaimed` ones
// among them (written since the commit under way began, so not in it), and
// whether the last round found the layers `full`. None below
// kLayersBeforeRest live layers, so that on a quiet index a submit is
// searchable at once. Then `interval`, so that a stream of submits makes a
// layer every tenth of a second (each search opens every layer), and one
// more `interval` for each kLayersPerRest unclaimed layers: a commit takes
// in every layer live when it begins, so a slow one (seconds on a busy
// machine) gets fewer, larger layers instead of filling the writer's
// limit, which would hold new postmortems back until it ends.
inline constexpr size_t kLayersBeforeRest = 4;
inline constexpr size_t kLayersPerRest = 8;
absl::Duration RestBetweenLayers(size_t live, size_t unclaimed, bool full,
                                 absl::Duration interval);

}  // namespace deja::index

#endif  // DEJA_INDEXER_RECENT_LAYERS_H_
