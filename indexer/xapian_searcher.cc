#include "indexer/xapian_searcher.h"

#include <sys/stat.h>
#include <xapian.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "core/status_macros.h"
#include "indexer/document_builder.h"
#include "indexer/index_directory.h"
#include "indexer/index_schema.h"
#include "indexer/recent_layers.h"
#include "indexer/search.h"
#include "indexer/similarity.h"

namespace deja {
namespace {

// A query that meets a changed index (DatabaseModifiedError, as ABORTED)
// runs again on a reopened database, this many times in all, waiting a
// little longer each time: a reader only meets the error when the writer
// committed twice during its query, so a short pause lets it through.
constexpr int kQueryAttempts = 8;
constexpr absl::Duration kRetryBackoff = absl::Milliseconds(1);
// Idle databases kept for reuse; more are opened when more queries run at
// once, and the surplus is closed when they finish.
constexpr size_t kMaxIdleReaders = 16;
// WaitUntilSearchable looks again after 2 ms, then half as long again each
// time up to 25 ms: each look reopens the index and its layers, and with
// dozens of submits waiting at once, looking every few ms each took a good
// share of the CPU the indexer needed to make them searchable.
constexpr absl::Duration kFirstSearchablePoll = absl::Milliseconds(2);
constexpr absl::Duration kMaxSearchablePoll = absl::Milliseconds(25);
// And it looks only when a ChangeStamp changed, or this long after its last
// look: the stamp is a hint (an inode can be reused within one tick of the
// file clock), not a proof that nothing changed.
constexpr absl::Duration kUnchangedRelook = absl::Milliseconds(200);
constexpr char kNoIndexYet[] =
    "the search index is not built yet (the indexer builds it at start)";

// A file's identity and last change; all zero when it is missing.
struct FileStamp {
  ino_t inode = 0;
  int64_t changed_ns = 0;
  bool operator==(const FileStamp& other) const {
    return inode == other.inode && changed_ns == other.changed_ns;
  }
};

FileStamp StampOf(const std::string& path) {
  struct stat info {};
  if (stat(path.c_str(), &info) != 0) return {};
  return {info.st_ino, static_cast<int64_t>(info.st_mtim.tv_sec) * 1000000000 +
                           info.st_mtim.tv_nsec};
}

// What changes when a search may find something new, for a fraction of the
// cost of reopening the index and its layers: the generation in use, its
// version file (Xapian's glass rewrites "iamglass" by a rename at every
// commit) and the layers' VIEW (likewise at every layer written or
// dropped).
struct ChangeStamp {
  std::string generation;
  FileStamp version;
  FileStamp view;
  bool operator==(const ChangeStamp& other) const {
    return generation == other.generation && version == other.version &&
           view == other.view;
  }
};

ChangeStamp ReadChangeStamp(const std::string& index_dir) {
  ChangeStamp stamp;
  stamp.generation = index::CurrentIndexPath(index_dir).value_or("");
  if (!stamp.generation.empty()) {
    stamp.version = StampOf(stamp.generation + "/iamglass");
  }
  stamp.view = StampOf(index::LayerViewPath(index_dir));
  return stamp;
}

// One read-only database and the generation it has open, plus the recent
// layers it does not hold yet: `view` is what queries search.
struct Reader {
  std::string path;
  Xapian::Database db;
  std::map<int64_t, Xapian::Database> layers;
  Xapian::Database view;
};

template <typename T>
using DatabaseQuery =
    std::function<absl::StatusOr<T>(const Xapian::Database& db)>;

class XapianSearcher final : public PostmortemSearcher {
 public:
  explicit XapianSearcher(std::string index_dir)
      : index_dir_(std::move(index_dir)) {}

  absl::StatusOr<v1::SearchResponse> Search(const v1::SearchRequest& request,
                                            absl::Time now) override {
    return WithDatabase<v1::SearchResponse>([&](const Xapian::Database& db) {
      return index::RunSearch(db, request, absl::ToUnixSeconds(now));
    });
  }

  absl::StatusOr<v1::FindSimilarResponse> FindSimilar(
      const v1::FindSimilarRequest& request, absl::Time now) override {
    return WithDatabase<v1::FindSimilarResponse>(
        [&](const Xapian::Database& db) {
          return index::RunFindSimilar(db, request, absl::ToUnixSeconds(now));
        });
  }

  absl::Status WaitUntilSearchable(absl::string_view postmortem_id,
                                   int64_t version,
                                   absl::Time deadline) override {
    const std::string id_term = index::IdTerm(std::string(postmortem_id));
    const DatabaseQuery<bool> reached = [&](const Xapian::Database& db) {
      return Reached(db, id_term, version);
    };
    absl::Status last_error;
    absl::Duration poll = kFirstSearchablePoll;
    ChangeStamp seen;
    absl::Time looked = absl::InfinitePast();
    while (true) {
      // With dozens of submits waiting, each reopening the index and every
      // layer at each poll took a good share of the CPU that would make
      // them searchable.
      const ChangeStamp stamp = ReadChangeStamp(index_dir_);
      if (!(stamp == seen) || absl::Now() - looked >= kUnchangedRelook) {
        seen = stamp;
        looked = absl::Now();
        const absl::StatusOr<bool> done = WithDatabase(reached);
        if (done.ok() && *done) return absl::OkStatus();
        // Keep polling through errors, looking again at the next poll: the
        // index may be being built or swapped right now.
        if (!done.ok()) {
          last_error = done.status();
          looked = absl::InfinitePast();
        }
      }
      const absl::Time now = absl::Now();
      if (now >= deadline) {
        return absl::DeadlineExceededError(absl::StrCat(
            "postmortem ", postmortem_id,
            version == 0 ? " is still in the search index"
                         : absl::StrCat(" is not searchable at version ",
                                        version, " yet"),
            last_error.ok() ? ""
                            : absl::StrCat(" (", last_error.message(), ")")));
      }
      absl::SleepFor(std::min(poll, deadline - now));
      poll = std::min(poll * 3 / 2, kMaxSearchablePoll);
    }
  }

  absl::StatusOr<int64_t> DocumentCount() override {
    return WithDatabase<int64_t>(
        [](const Xapian::Database& db) -> absl::StatusOr<int64_t> {
          try {
            return static_cast<int64_t>(db.get_doccount());
          } catch (const Xapian::DatabaseModifiedError& e) {
            return ChangedError(e);
          } catch (const Xapian::Error& e) {
            return XapianError(e);
          }
        });
  }

 private:
  static absl::Status ChangedError(const Xapian::Error& e) {
    return absl::AbortedError(absl::StrCat(
        "the search index changed during the query: ", e.get_msg()));
  }

  static absl::Status XapianError(const Xapian::Error& e) {
    return absl::UnavailableError(
        absl::StrCat("search index: ", e.get_type(), ": ", e.get_msg()));
  }

  // Whether the index holds `id_term` at `version` or newer (version 0:
  // whether it no longer holds it).
  static absl::StatusOr<bool> Reached(const Xapian::Database& db,
                                      const std::string& id_term,
                                      int64_t version) {
    try {
      const Xapian::PostingIterator posting = db.postlist_begin(id_term);
      if (posting == db.postlist_end(id_term)) return version == 0;
      if (version == 0) return false;
      return index::VersionOf(db.get_document(*posting)) >= version;
    } catch (const Xapian::DatabaseModifiedError& e) {
      return ChangedError(e);
    } catch (const Xapian::Error& e) {
      return XapianError(e);
    }
  }

  // Runs `query` on a pooled database brought up to date with the current
  // generation; again, after reopening, when the index changed under it.
  template <typename T>
  absl::StatusOr<T> WithDatabase(const DatabaseQuery<T>& query) {
    absl::Status last_error;
    for (int attempt = 0; attempt < kQueryAttempts; ++attempt) {
      if (attempt > 0) absl::SleepFor(kRetryBackoff * attempt);
      std::unique_ptr<Reader> reader = Checkout();
      if (absl::Status status = Refresh(*reader); !status.ok()) {
        // Its state is unknown: let it go rather than pool it.
        if (!absl::IsAborted(status)) return status;
        last_error = status;
        continue;
      }
      absl::StatusOr<T> result = query(reader->view);
      Return(std::move(reader));
      if (result.status().code() != absl::StatusCode::kAborted) return result;
      last_error = result.status();
    }
    return absl::UnavailableError(
        absl::StrCat("the search index kept changing during the query (",
                     kQueryAttempts, " attempts): ", last_error.message()));
  }

  // Opens the generation `current` points to, or reopens the one the
  // reader has at its latest commit, and adds the live layers it does not
  // hold.
  absl::Status Refresh(Reader& reader) {
    // The layers first: the writer drops a layer from the view only after
    // the index has committed its postmortems, so a view read before the
    // index is reopened holds every layer the index does not.
    const absl::StatusOr<std::vector<int64_t>> live =
        index::ReadLayerView(index_dir_);
    if (!live.ok()) return absl::UnavailableError(live.status().message());
    const absl::StatusOr<std::string> path =
        index::CurrentIndexPath(index_dir_);
    if (!path.ok()) {
      if (absl::IsNotFound(path.status())) {
        return absl::UnavailableError(kNoIndexYet);
      }
      return absl::UnavailableError(path.status().message());
    }
    // Opening and reopening read the latest commit, which the writer may
    // replace meanwhile (DatabaseModifiedError).
    try {
      if (reader.path != *path) {
        reader.path.clear();
        reader.db = Xapian::Database(*path);
        // A generation keeps the format it was built in (a writer of another
        // format builds a new one), so checking it once is enough.
        DEJA_RETURN_IF_ERROR(CheckFormat(reader.db, *path));
        reader.path = *path;
      } else {
        reader.db.reopen();
      }
    } catch (const Xapian::DatabaseModifiedError& e) {
      return ChangedError(e);
    } catch (const Xapian::Error& e) {
      return absl::UnavailableError(
          absl::StrCat("cannot open the search index ", *path, ": ",
                       e.get_type(), ": ", e.get_msg()));
    }
    return AddLayers(*live, reader);
  }

  // Makes reader.view the index plus the `live` layers above the one it
  // holds (recent_layers.h). The layers' databases are kept between
  // queries: a layer never changes.
  absl::Status AddLayers(const std::vector<int64_t>& live, Reader& reader) {
    reader.view = reader.db;
    if (live.empty()) {
      reader.layers.clear();
      return absl::OkStatus();
    }
    std::map<int64_t, Xapian::Database> layers;
    try {
      const int64_t held = index::CommittedLayer(reader.db);
      for (const int64_t number : live) {
        if (number <= held) continue;
        auto open = reader.layers.find(number);
        Xapian::Database layer =
            open != reader.layers.end()
                ? open->second
                : Xapian::Database(index::LayerPath(index_dir_, number));
        reader.view.add_database(layer);
        layers.emplace(number, std::move(layer));
      }
    } catch (const Xapian::DatabaseModifiedError& e) {
      return ChangedError(e);
    } catch (const Xapian::DatabaseOpeningError& e) {
      // Dropped and removed since the view was read: the index has taken it
      // in by now, so another look at both finds it there.
      return ChangedError(e);
    } catch (const Xapian::Error& e) {
      return XapianError(e);
    }
    reader.layers = std::move(layers);
    return absl::OkStatus();
  }

  // An index of another format (written by a deja-indexer or dejad of
  // another version) would answer wrongly: terms and values this searcher
  // looks up would be missing or read differently.
  static absl::Status CheckFormat(const Xapian::Database& db,
                                  const std::string& path) {
    const std::string format = db.get_metadata(index::kSchemaVersionKey);
    if (format == index::IndexFormatVersion()) return absl::OkStatus();
    return absl::FailedPreconditionError(absl::StrCat(
        "the search index ", path, " is in format ",
        format.empty() ? "(none)" : format, " and this server reads format ",
        index::IndexFormatVersion(),
        ": run the indexer of this version (dejad --indexer=on or "
        "deja-indexer), which rebuilds the index in its format, and retry "
        "when it has"));
  }

  std::unique_ptr<Reader> Checkout() {
    {
      absl::MutexLock lock(&mu_);
      if (!idle_.empty()) {
        std::unique_ptr<Reader> reader = std::move(idle_.back());
        idle_.pop_back();
        return reader;
      }
    }
    return std::make_unique<Reader>();
  }

  void Return(std::unique_ptr<Reader> reader) {
    absl::MutexLock lock(&mu_);
    if (idle_.size() < kMaxIdleReaders) idle_.push_back(std::move(reader));
  }

  const std::string index_dir_;
  absl::Mutex mu_;
  std::vector<std::unique_ptr<Reader>> idle_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

absl::StatusOr<std::unique_ptr<PostmortemSearcher>> OpenXapianSearcher(
    const XapianSearcherOptions& options) {
  if (options.index_dir.empty()) {
    return absl::InvalidArgumentError("index_dir: empty");
  }
  return std::make_unique<XapianSearcher>(options.index_dir);
}

}  // namespace deja
