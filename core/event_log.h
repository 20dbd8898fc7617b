#ifndef DEJA_CORE_EVENT_LOG_H_
#define DEJA_CORE_EVENT_LOG_H_

// One line per event on stderr: "2026-11-24T10:00:00.123Z dejad: <event>".
// Thread-safe; lines from different threads never interleave.

#include <string>

#include "absl/strings/string_view.h"

namespace deja {

void SetLogProgramName(absl::string_view name);  // default "deja"
// Multi-line messages (libpq's, for one) are folded with OneLine.
void LogEvent(absl::string_view message);

// `text` with line breaks and tabs turned into single spaces and the ends
// trimmed, for log lines and status messages.
std::string OneLine(absl::string_view text);

}  // namespace deja

#endif  // DEJA_CORE_EVENT_LOG_H_
