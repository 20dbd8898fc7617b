// deja-load: the load generator of the performance benchmarks. Sends one
// kind of request (see --help) in a closed loop (--concurrency C: C requests
// always outstanding) or an open loop (--rate R: Poisson arrivals, latency
// from each scheduled send time), after a warm-up whose figures are dropped.
//
// Contract with scripts: a readable table on stdout; with --json, one JSON
// object with the same figures as the last stdout line. Exit 0 when the run
// completed, whatever the figures; 1 on a setup error (bad flags, unreadable
// request file, target not reachable within 10 s), said on stderr.

#include <sched.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "bench/load/drivers.h"
#include "bench/load/histogram.h"
#include "bench/load/load_loop.h"
#include "core/event_log.h"
#include "services/main_flags.h"

ABSL_FLAG(std::string, kind, "",
          "find-similar | search | submit | echo | pg-find-similar | "
          "pg-search | inproc-find-similar | inproc-search");
ABSL_FLAG(std::string, target, "127.0.0.1:50051",
          "host:port of dejad (or of deja-echo-server for --kind echo)");
ABSL_FLAG(std::string, pg, "", "libpq connection string, for pg-* kinds");
ABSL_FLAG(std::string, pg_table, "fts",
          "table with columns id text, tsv tsvector, for pg-* kinds");
ABSL_FLAG(std::string, index_dir, "",
          "dejad's index directory (<data-dir>/index), for inproc-* kinds");
ABSL_FLAG(std::string, requests, "",
          "JSON Lines file: request n is line n mod L (FindSimilarRequest, "
          "SearchRequest or, for submit, Postmortem)");
ABSL_FLAG(int, concurrency, 0, "closed loop: requests always outstanding");
ABSL_FLAG(double, rate, 0, "open loop: Poisson arrivals per second");
ABSL_FLAG(double, duration, 10, "measured seconds");
ABSL_FLAG(double, warmup, 2, "seconds of warm-up, left out of the figures");
ABSL_FLAG(uint64_t, seed, 1, "seed of the open loop's arrival schedule");
ABSL_FLAG(int, max_outstanding, 2000,
          "open loop: arrivals beyond this many requests in flight are "
          "dropped and the run is reported as saturated");
ABSL_FLAG(int, deadline_ms, 10000, "deadline of each request");
ABSL_FLAG(int, channels, 2, "gRPC channels (connections) to spread load on");
ABSL_FLAG(int, workers, 0,
          "pg-* and inproc-*: threads (and PostgreSQL connections) answering; "
          "0: the concurrency in a closed loop, dejad's default thread count "
          "in an open loop");
ABSL_FLAG(int, wait_searchable_every, 0,
          "submit: every K-th submit waits until searchable; its latency is "
          "the submit→searchable histogram (0: none)");
ABSL_FLAG(int, echo_request_bytes, 300, "echo: request payload bytes");
ABSL_FLAG(int, echo_response_bytes, 2048, "echo: response payload bytes");
ABSL_FLAG(int, server_pid, 0,
          "report this process's CPU time per request (from /proc/PID/stat)");
ABSL_FLAG(std::string, cpu, "",
          "pin deja-load to these CPUs, e.g. \"1\", \"0,2\" or \"2-3\"");
ABSL_FLAG(bool, json, false, "also print the figures as one JSON line, last");
ABSL_FLAG(std::string, label, "", "free text copied into the output");

namespace deja::bench {
namespace {

// dejad's DefaultThreads().
int DefaultServerThreads() {
  return std::max(16,
                  4 * static_cast<int>(std::thread::hardware_concurrency()));
}

absl::Status PinToCpus(const std::string& list) {
  cpu_set_t set;
  CPU_ZERO(&set);
  for (absl::string_view part : absl::StrSplit(list, ',')) {
    std::vector<absl::string_view> range = absl::StrSplit(part, '-');
    int first = 0;
    int last = 0;
    if (range.size() > 2 || !absl::SimpleAtoi(range[0], &first) ||
        !absl::SimpleAtoi(range.back(), &last) || first < 0 || last < first ||
        last >= CPU_SETSIZE) {
      return absl::InvalidArgumentError(
          absl::StrCat("--cpu '", list, "': expected e.g. 1 or 0,2 or 2-3"));
    }
    for (int cpu = first; cpu <= last; ++cpu) CPU_SET(cpu, &set);
  }
  if (sched_setaffinity(0, sizeof set, &set) != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("--cpu '", list, "': sched_setaffinity failed"));
  }
  return absl::OkStatus();
}

// utime + stime of `pid`, in milliseconds.
absl::StatusOr<double> ProcessCpuMillis(int pid) {
  const std::string path = absl::StrCat("/proc/", pid, "/stat");
  std::ifstream in(path);
  std::string stat;
  if (!in || !std::getline(in, stat)) {
    return absl::NotFoundError(absl::StrCat("cannot read ", path));
  }
  // The command name may hold spaces and parentheses; fields resume after
  // the last ')'. utime and stime are fields 14 and 15.
  const size_t paren = stat.rfind(')');
  std::vector<absl::string_view> fields = absl::StrSplit(
      absl::string_view(stat).substr(paren + 1), ' ', absl::SkipEmpty());
  int64_t utime = 0;
  int64_t stime = 0;
  if (paren == std::string::npos || fields.size() < 13 ||
      !absl::SimpleAtoi(fields[11], &utime) ||
      !absl::SimpleAtoi(fields[12], &stime)) {
    return absl::DataLossError(absl::StrCat("cannot parse ", path));
  }
  return static_cast<double>(utime + stime) * 1000.0 /
         static_cast<double>(sysconf(_SC_CLK_TCK));
}

double OwnCpuMillis() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto millis = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) * 1000.0 +
           static_cast<double>(t.tv_usec) / 1000.0;
  };
  return millis(usage.ru_utime) + millis(usage.ru_stime);
}

double Millis(int64_t nanos) { return static_cast<double>(nanos) / 1e6; }

std::string JsonString(absl::string_view text) {
  std::string out = "\"";
  for (const char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out += absl::StrFormat("\\u%04x", c);
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string JsonNumber(double value) { return absl::StrFormat("%.4f", value); }

std::string JsonCounts(const std::map<std::string, int64_t>& counts) {
  std::vector<std::string> parts;
  for (const auto& [name, count] : counts) {
    parts.push_back(absl::StrCat(JsonString(name), ":", count));
  }
  return absl::StrCat("{", absl::StrJoin(parts, ","), "}");
}

std::string JsonLatency(const LatencyHistogram& h, bool with_buckets) {
  std::string json =
      absl::StrCat("{\"count\":", h.Count(),
                   ",\"p50\":", JsonNumber(Millis(h.Percentile(50))),
                   ",\"p90\":", JsonNumber(Millis(h.Percentile(90))),
                   ",\"p99\":", JsonNumber(Millis(h.Percentile(99))),
                   ",\"p999\":", JsonNumber(Millis(h.Percentile(99.9))),
                   ",\"max\":", JsonNumber(Millis(h.Max())),
                   ",\"min\":", JsonNumber(Millis(h.Min())),
                   ",\"mean\":", JsonNumber(h.Mean() / 1e6));
  if (with_buckets) {
    std::vector<std::string> buckets;
    for (const auto& [upper, count] : h.Buckets()) {
      buckets.push_back(absl::StrCat("[", upper, ",", count, "]"));
    }
    absl::StrAppend(&json, ",\"buckets_ns\":[", absl::StrJoin(buckets, ","),
                    "]");
  }
  return json + "}";
}

std::string LatencyLine(const LatencyHistogram& h) {
  return absl::StrFormat(
      "p50 %.3f  p90 %.3f  p99 %.3f  p99.9 %.3f  max %.3f  (n=%d)",
      Millis(h.Percentile(50)), Millis(h.Percentile(90)),
      Millis(h.Percentile(99)), Millis(h.Percentile(99.9)), Millis(h.Max()),
      h.Count());
}

struct Report {
  std::string kind;
  std::string label;
  LoadOptions load;
  LoadResult result;
  double client_cpu_ms = 0;
  std::optional<double> server_cpu_ms;
};

double PerRequest(double millis, const LoadResult& result) {
  return result.completed_in_period == 0
             ? 0
             : millis / static_cast<double>(result.completed_in_period);
}

void PrintTable(const Report& r, std::ostream& out) {
  const LoadResult& result = r.result;
  const std::string mode =
      result.open_loop
          ? absl::StrFormat("open loop, offered %.1f req/s", r.load.rate)
          : absl::StrFormat("closed loop, concurrency %d", r.load.concurrency);
  std::vector<std::string> errors;
  int64_t ok = 0;
  for (const auto& [code, count] : result.codes) {
    if (code == "OK") {
      ok = count;
    } else {
      errors.push_back(absl::StrCat(code, " ", count));
    }
  }
  out << absl::StrFormat("deja-load  %s  %s%s\n", r.kind, mode,
                         r.label.empty() ? "" : "  [" + r.label + "]");
  out << absl::StrFormat("  measured      %.1f s (after %.1f s warm-up)\n",
                         absl::ToDoubleSeconds(r.load.duration),
                         absl::ToDoubleSeconds(r.load.warmup));
  out << absl::StrFormat("  achieved      %.1f req/s (OK %.1f req/s)\n",
                         result.achieved_rate, result.ok_rate);
  out << absl::StrFormat("  requests      %d  ok %d  errors %s\n",
                         result.requests, ok,
                         errors.empty() ? "none" : absl::StrJoin(errors, ", "));
  if (result.open_loop) {
    out << absl::StrFormat(
        "  dropped       %d%s (max in flight %d)\n", result.dropped,
        result.saturated ? "  SATURATED" : "", result.max_in_flight);
  }
  out << "  latency ms    " << LatencyLine(result.latency) << "\n";
  for (const auto& [name, histogram] : result.series) {
    out << "  " << name << " ms  " << LatencyLine(histogram) << "\n";
  }
  for (const auto& [event, count] : result.events) {
    out << absl::StrFormat("  %-13s %d\n", event, count);
  }
  out << absl::StrFormat("  client CPU    %.4f ms/req\n",
                         PerRequest(r.client_cpu_ms, result));
  if (r.server_cpu_ms.has_value()) {
    out << absl::StrFormat("  server CPU    %.4f ms/req\n",
                           PerRequest(*r.server_cpu_ms, result));
  }
  if (result.undrained > 0) {
    out << absl::StrFormat("  undrained     %d requests still in flight\n",
                           result.undrained);
  }
}

std::string JsonReport(const Report& r) {
  const LoadResult& result = r.result;
  int64_t ok = 0;
  std::map<std::string, int64_t> errors;
  for (const auto& [code, count] : result.codes) {
    if (code == "OK") {
      ok = count;
    } else {
      errors[code] = count;
    }
  }
  std::vector<std::string> series;
  for (const auto& [name, histogram] : result.series) {
    series.push_back(
        absl::StrCat(JsonString(name), ":", JsonLatency(histogram, false)));
  }
  return absl::StrCat(
      "{\"kind\":", JsonString(r.kind), ",\"label\":", JsonString(r.label),
      ",\"mode\":", result.open_loop ? "\"open\"" : "\"closed\"",
      ",\"concurrency\":",
      result.open_loop ? "null" : absl::StrCat(r.load.concurrency),
      ",\"offered_rate\":", result.open_loop ? JsonNumber(r.load.rate) : "null",
      ",\"duration_s\":", JsonNumber(absl::ToDoubleSeconds(r.load.duration)),
      ",\"warmup_s\":", JsonNumber(absl::ToDoubleSeconds(r.load.warmup)),
      ",\"achieved_rate\":", JsonNumber(result.achieved_rate),
      ",\"ok_rate\":", JsonNumber(result.ok_rate),
      ",\"requests\":", result.requests, ",\"ok\":", ok,
      ",\"errors\":", JsonCounts(errors),
      ",\"events\":", JsonCounts(result.events),
      ",\"dropped\":", result.dropped,
      ",\"saturated\":", result.saturated ? "true" : "false",
      // In a closed loop the engine's count briefly holds a request and its
      // successor: only the open loop's figure means something.
      ",\"max_in_flight\":",
      result.open_loop ? absl::StrCat(result.max_in_flight) : "null",
      ",\"undrained\":", result.undrained,
      ",\"latency_ms\":", JsonLatency(result.latency, true), ",\"series\":{",
      absl::StrJoin(series, ","), "}", ",\"client_cpu_ms_per_req\":",
      JsonNumber(PerRequest(r.client_cpu_ms, result)),
      ",\"server_cpu_ms_per_req\":",
      r.server_cpu_ms.has_value()
          ? JsonNumber(PerRequest(*r.server_cpu_ms, result))
          : "null",
      "}");
}

int Run(int argc, char** argv) {
  SetLogProgramName("deja-load");
  absl::SetProgramUsageMessage(absl::StrCat(
      "Load generator of the Deja benchmarks.\nUsage: deja-load --kind ",
      absl::StrJoin(DriverKinds(), "|"),
      "\n         [--target HOST:PORT] [--pg CONNINFO --pg-table fts] "
      "[--index-dir DIR] [--requests FILE]\n"
      "         (--concurrency C | --rate R) [--duration S (default 10)] "
      "[--warmup S (default 2)] [--seed N]\n"
      "         [--server-pid PID] [--cpu LIST] [--json] [--label TEXT]\n"
      "Prints a table; with --json also one JSON object as the last line. "
      "Exit 0 when the run completed, 1 on a setup error.\n"
      "Flag names may be written with '-' or '_'."));
  ShowFlagsOf("deja_load_main.cc");
  std::vector<char*> args = NormalizeFlagNames(argc, argv);
  const std::vector<char*> positional =
      absl::ParseCommandLine(static_cast<int>(args.size()), args.data());
  if (positional.size() > 1) {
    return LogAndFail(absl::StrCat("unexpected argument '", positional[1],
                                   "' (see deja-load --help)"));
  }

  // Pinned before any thread exists, so every thread inherits it.
  if (const std::string cpus = absl::GetFlag(FLAGS_cpu); !cpus.empty()) {
    if (absl::Status pinned = PinToCpus(cpus); !pinned.ok()) {
      return LogAndFail(pinned.message());
    }
  }

  Report report;
  report.kind = absl::GetFlag(FLAGS_kind);
  report.label = absl::GetFlag(FLAGS_label);
  LoadOptions& load = report.load;
  load.concurrency = absl::GetFlag(FLAGS_concurrency);
  load.rate = absl::GetFlag(FLAGS_rate);
  load.duration = absl::Seconds(absl::GetFlag(FLAGS_duration));
  load.warmup = absl::Seconds(absl::GetFlag(FLAGS_warmup));
  load.seed = absl::GetFlag(FLAGS_seed);
  load.max_outstanding = absl::GetFlag(FLAGS_max_outstanding);
  if (report.kind.empty()) return LogAndFail("--kind is required (see --help)");
  if ((load.concurrency > 0) == (load.rate > 0)) {
    return LogAndFail("give one of --concurrency C or --rate R");
  }
  if (absl::GetFlag(FLAGS_deadline_ms) < 1) {
    return LogAndFail("--deadline-ms must be at least 1");
  }

  DriverOptions driver_options;
  driver_options.kind = report.kind;
  driver_options.requests_path = absl::GetFlag(FLAGS_requests);
  driver_options.deadline =
      absl::Milliseconds(absl::GetFlag(FLAGS_deadline_ms));
  driver_options.target = absl::GetFlag(FLAGS_target);
  driver_options.channels = absl::GetFlag(FLAGS_channels);
  driver_options.run_id =
      absl::StrCat("load-", absl::ToUnixMicros(absl::Now()), "-", getpid());
  driver_options.wait_searchable_every =
      absl::GetFlag(FLAGS_wait_searchable_every);
  driver_options.echo_request_bytes = absl::GetFlag(FLAGS_echo_request_bytes);
  driver_options.echo_response_bytes = absl::GetFlag(FLAGS_echo_response_bytes);
  driver_options.workers = absl::GetFlag(FLAGS_workers);
  if (driver_options.workers == 0) {
    driver_options.workers =
        load.concurrency > 0 ? load.concurrency : DefaultServerThreads();
  }
  driver_options.pg_conninfo = absl::GetFlag(FLAGS_pg);
  driver_options.pg_table = absl::GetFlag(FLAGS_pg_table);
  driver_options.index_dir = absl::GetFlag(FLAGS_index_dir);
  // libpq's own connect timeout, as for gRPC (the string may be a URL, so
  // it cannot simply be appended to).
  setenv("PGCONNECT_TIMEOUT", "10", /*overwrite=*/0);

  const int server_pid = absl::GetFlag(FLAGS_server_pid);
  if (server_pid > 0) {
    if (absl::StatusOr<double> cpu = ProcessCpuMillis(server_pid); !cpu.ok()) {
      return LogAndFail(absl::StrCat("--server-pid: ", cpu.status().message()));
    }
  }

  absl::StatusOr<std::unique_ptr<Driver>> driver = MakeDriver(driver_options);
  if (!driver.ok()) return LogAndFail(driver.status().message());

  double client_start = 0;
  double server_start = 0;
  bool server_read = server_pid > 0;
  load.on_measure_start = [&] {
    client_start = OwnCpuMillis();
    if (server_pid > 0) {
      absl::StatusOr<double> cpu = ProcessCpuMillis(server_pid);
      server_read = server_read && cpu.ok();
      if (cpu.ok()) server_start = *cpu;
    }
  };
  load.on_measure_end = [&] {
    report.client_cpu_ms = OwnCpuMillis() - client_start;
    if (server_pid > 0) {
      absl::StatusOr<double> cpu = ProcessCpuMillis(server_pid);
      server_read = server_read && cpu.ok();
      if (server_read) report.server_cpu_ms = *cpu - server_start;
    }
  };
  absl::StatusOr<LoadResult> result = RunLoad(**driver, load);
  if (!result.ok()) return LogAndFail(result.status().message());
  report.result = *std::move(result);
  if (server_pid > 0 && !server_read) {
    LogEvent(absl::StrCat("the CPU time of process ", server_pid,
                          " could not be read during the run"));
  }

  PrintTable(report, std::cout);
  if (absl::GetFlag(FLAGS_json)) std::cout << JsonReport(report) << "\n";
  std::cout.flush();
  if (report.result.undrained > 0) {
    // Requests still in flight hold on to the driver: leave without
    // destroying it.
    LogEvent(absl::StrCat(report.result.undrained,
                          " requests did not complete in time"));
    std::_Exit(0);
  }
  return 0;
}

}  // namespace
}  // namespace deja::bench

int main(int argc, char** argv) { return deja::bench::Run(argc, argv); }
