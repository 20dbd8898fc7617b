#include "core/event_log.h"

#include <cstdio>
#include <mutex>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace deja {
namespace {

struct LogState {
  std::mutex mu;
  std::string program = "deja";
};

LogState& State() {
  static LogState* state = new LogState;  // never destroyed: logging at exit
  return *state;
}

}  // namespace

void SetLogProgramName(absl::string_view name) {
  std::lock_guard<std::mutex> lock(State().mu);
  State().program = std::string(name);
}

std::string OneLine(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  bool pending_space = false;
  for (char c : absl::StripAsciiWhitespace(text)) {
    if (c == '\n' || c == '\r' || c == '\t') {
      pending_space = true;
      continue;
    }
    if (pending_space && !out.empty() && out.back() != ' ' && c != ' ') {
      out.push_back(' ');
    }
    pending_space = false;
    out.push_back(c);
  }
  return out;
}

void LogEvent(absl::string_view message) {
  const std::string stamp = absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ",
                                             absl::Now(), absl::UTCTimeZone());
  std::lock_guard<std::mutex> lock(State().mu);
  const std::string line =
      absl::StrCat(stamp, " ", State().program, ": ", OneLine(message), "\n");
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

}  // namespace deja
