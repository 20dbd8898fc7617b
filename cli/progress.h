#ifndef DEJA_CLI_PROGRESS_H_
#define DEJA_CLI_PROGRESS_H_

// Progress of long `deja` commands on stderr: on a terminal one line redrawn
// in place with "\r"; otherwise (a log, CI) plain lines, few enough to read.
// The line renderers are pure; ProgressDisplay decides when to show a line
// from the times it is given, so tests need no clock. Not thread-safe.

#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace deja::cli {

// "importing [#######.............]  500/10000   5%  420/s  ETA 23s", at
// most `width` columns (the bar shrinks first). Rate and ETA are left out
// until something is done.
std::string ProgressLine(absl::string_view label, int64_t done, int64_t total,
                         absl::Duration elapsed, size_t width);

// "importing 500/10000 (5%), 420/s, ETA 23s".
std::string PlainProgressLine(absl::string_view label, int64_t done,
                              int64_t total, absl::Duration elapsed);

class ProgressDisplay {
 public:
  ProgressDisplay(std::ostream& err, bool terminal, absl::Time start);

  // Offers the current state: `terminal_line` is redrawn at most every
  // 100 ms on a terminal; otherwise `plain_line` is printed when 2 s passed
  // since the last line or `fraction` (0..1) entered a new tenth. Nothing
  // within the first 2 s, so a quick command stays quiet.
  void Show(absl::string_view terminal_line, absl::string_view plain_line,
            double fraction, absl::Time now);
  // Redraws `terminal_line` and ends the line, if a line was drawn.
  void Finish(absl::string_view terminal_line);

 private:
  std::ostream& err_;
  const bool terminal_;
  const absl::Time start_;
  absl::Time last_ = absl::InfinitePast();
  int last_tenth_ = 0;
  size_t drawn_width_ = 0;

  void Draw(absl::string_view terminal_line);
};

}  // namespace deja::cli

#endif  // DEJA_CLI_PROGRESS_H_
