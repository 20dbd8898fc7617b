#ifndef DEJA_BENCH_LOAD_DRIVERS_H_
#define DEJA_BENCH_LOAD_DRIVERS_H_

// The drivers of deja-load, one per kind of request (see deja_load_main.cc):
// gRPC calls to dejad (find-similar, search, submit) or to the echo server
// (echo), the same request files answered by PostgreSQL full-text search
// (pg-find-similar, pg-search) or by the Xapian searcher in-process
// (inproc-find-similar, inproc-search).
//
// Request n is line n mod L of the JSON Lines request file. Every request
// gets a deadline; a request that misses it ends DEADLINE_EXCEEDED.
// Drivers are thread-safe and must outlive the requests they started.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "bench/load/load_loop.h"

namespace deja::bench {

// The histogram of submits with wait_searchable (the index lag) and the
// event counted when one answers searchable = false.
inline constexpr absl::string_view kSearchableSeries = "submit→searchable";
inline constexpr absl::string_view kLagTimeoutEvent = "lag_timeout";

struct DriverOptions {
  std::string kind;
  std::string requests_path;
  absl::Duration deadline = absl::Seconds(10);
  // Setup (connecting, opening) fails after this long.
  absl::Duration connect_timeout = absl::Seconds(10);

  // gRPC kinds.
  std::string target = "127.0.0.1:50051";
  int channels = 2;
  // submit: request ids are "<run_id>-<n>"; every K-th submit waits until
  // searchable (0: none does).
  std::string run_id;
  int wait_searchable_every = 0;
  // echo.
  int echo_request_bytes = 300;
  int echo_response_bytes = 2048;

  // pg-* and inproc-*: threads (and PostgreSQL connections) answering.
  int workers = 16;
  std::string pg_conninfo;
  std::string pg_table = "fts";
  std::string index_dir;
};

// The kinds MakeDriver knows, for --help.
std::vector<std::string> DriverKinds();

// Reads the request file, connects and checks the target. Errors name what
// failed: NOT_FOUND / INVALID_ARGUMENT for the request file (with the line
// number), UNAVAILABLE when the target cannot be reached in time,
// INVALID_ARGUMENT for an unknown kind or bad options.
absl::StatusOr<std::unique_ptr<Driver>> MakeDriver(
    const DriverOptions& options);

// The non-blank lines of a JSON Lines file.
absl::StatusOr<std::vector<std::string>> ReadJsonLines(const std::string& path);

// The distinct lowercase [a-z0-9]+ words of `text`, in order of first
// appearance, OR-ed for to_tsquery: "disk | full | db1". Empty for no words.
std::string OrTsQuery(absl::string_view text);

}  // namespace deja::bench

#endif  // DEJA_BENCH_LOAD_DRIVERS_H_
