#ifndef DEJA_CORE_ERROR_SIGNATURE_H_
#define DEJA_CORE_ERROR_SIGNATURE_H_

// Error signatures: a pasted log or error line reduced to a template (host,
// pod, ip, time, pid, ids, numbers and quoted values replaced by
// placeholders) and hashed, so the same error from another host, pod or day
// gets the same id and a different error does not. Pure functions,
// thread-safe; any bytes are accepted (invalid UTF-8 is dropped) and only the
// first 4 KiB of a line are read.

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace deja {

struct ErrorSignature {
  // The template, e.g. "dial tcp: lookup <host> on <ip>:<num>: server
  // misbehaving". Valid UTF-8, at most kMaxNormalizedBytes, case kept.
  std::string normalized;
  // 16 lowercase hex chars: FNV-1a 64 of the ASCII-lowercased `normalized`.
  // Stable across runs, builds and platforms; this is what gets indexed.
  std::string id;

  friend bool operator==(const ErrorSignature& a, const ErrorSignature& b) {
    return a.normalized == b.normalized && a.id == b.id;
  }
};

inline constexpr size_t kMaxScannedLogLineBytes = 4096;
inline constexpr size_t kMaxNormalizedBytes = 300;

// The template of `line`: log prefixes stripped (timestamps, levels, pids,
// syslog/klog/nginx headers), variable parts replaced by <time>, <uuid>,
// <ip>, <hex>, <num>, <dur>, <host>, <id>, <str>, <v> (key=value ids),
// whitespace collapsed. May be "".
std::string NormalizeErrorLine(absl::string_view line);

// The signature of `line`, or nullopt when it carries no identity: blank,
// fewer than two meaningful words, or a stack frame / traceback header
// ("Traceback (most recent call last):", "at com.x.Y(Y.java:1)",
// "goroutine 1 [running]:", 'File "x.py", line 3, in f').
std::optional<ErrorSignature> SignatureOf(absl::string_view line);

// The distinct signatures of `log_lines`, in first-seen order.
std::vector<ErrorSignature> SignaturesOf(
    const std::vector<std::string>& log_lines);

}  // namespace deja

#endif  // DEJA_CORE_ERROR_SIGNATURE_H_
