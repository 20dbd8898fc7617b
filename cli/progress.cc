#include "cli/progress.h"

#include <algorithm>
#include <cmath>
#include <ostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "cli/format.h"

namespace deja::cli {
namespace {

constexpr size_t kMinBar = 10;
constexpr size_t kMaxBar = 40;
constexpr absl::Duration kQuietStart = absl::Seconds(2);
constexpr absl::Duration kPlainEvery = absl::Seconds(2);
constexpr absl::Duration kRedrawEvery = absl::Milliseconds(100);

int PercentDone(int64_t done, int64_t total) {
  if (total <= 0) return 100;
  return static_cast<int>(std::min<int64_t>(100, done * 100 / total));
}

// "420/s" and "ETA 23s"; both empty while nothing is done yet.
std::pair<std::string, std::string> RateAndEta(int64_t done, int64_t total,
                                               absl::Duration elapsed) {
  const double seconds = absl::ToDoubleSeconds(elapsed);
  if (done <= 0 || seconds <= 0) return {"", ""};
  const double rate = done / seconds;
  const std::string rate_text = rate >= 10 ? absl::StrFormat("%.0f/s", rate)
                                           : absl::StrFormat("%.1f/s", rate);
  const int64_t left = std::max<int64_t>(0, total - done);
  return {rate_text,
          absl::StrCat("ETA ", CompactDuration(absl::Seconds(std::ceil(
                                   static_cast<double>(left) / rate))))};
}

}  // namespace

std::string ProgressLine(absl::string_view label, int64_t done, int64_t total,
                         absl::Duration elapsed, size_t width) {
  const auto [rate, eta] = RateAndEta(done, total, elapsed);
  std::string tail =
      absl::StrFormat("%d/%d %3d%%", done, total, PercentDone(done, total));
  if (!rate.empty()) absl::StrAppend(&tail, "  ", rate, "  ", eta);
  // label + " [" + bar + "] " + tail
  const size_t fixed = label.size() + 4 + tail.size();
  const size_t room = width > fixed ? width - fixed : 0;
  if (room < kMinBar) {
    return TruncateToWidth(absl::StrCat(label, " ", tail), width);
  }
  const size_t bar = std::min(room, kMaxBar);
  const size_t filled =
      total <= 0 ? bar
                 : static_cast<size_t>(
                       std::min<int64_t>(total, std::max<int64_t>(0, done)) *
                       static_cast<int64_t>(bar) / total);
  return absl::StrCat(label, " [", std::string(filled, '#'),
                      std::string(bar - filled, '.'), "] ", tail);
}

std::string PlainProgressLine(absl::string_view label, int64_t done,
                              int64_t total, absl::Duration elapsed) {
  const auto [rate, eta] = RateAndEta(done, total, elapsed);
  std::string line = absl::StrFormat("%s %d/%d (%d%%)", label, done, total,
                                     PercentDone(done, total));
  if (!rate.empty()) absl::StrAppend(&line, ", ", rate, ", ", eta);
  return line;
}

ProgressDisplay::ProgressDisplay(std::ostream& err, bool terminal,
                                 absl::Time start)
    : err_(err), terminal_(terminal), start_(start) {}

void ProgressDisplay::Show(absl::string_view terminal_line,
                           absl::string_view plain_line, double fraction,
                           absl::Time now) {
  if (terminal_) {
    if (now - last_ < kRedrawEvery) return;
    last_ = now;
    Draw(terminal_line);
    return;
  }
  if (now - start_ < kQuietStart) return;
  const int tenth = static_cast<int>(std::floor(fraction * 10));
  if (now - last_ < kPlainEvery && tenth <= last_tenth_) return;
  last_ = now;
  last_tenth_ = tenth;
  err_ << plain_line << "\n";
}

void ProgressDisplay::Draw(absl::string_view terminal_line) {
  const size_t width = DisplayWidth(terminal_line);
  // Spaces wipe what is left of a longer previous line.
  err_ << "\r" << terminal_line
       << std::string(drawn_width_ > width ? drawn_width_ - width : 0, ' ')
       << std::flush;
  drawn_width_ = width;
}

void ProgressDisplay::Finish(absl::string_view terminal_line) {
  if (!terminal_ || drawn_width_ == 0) return;
  Draw(terminal_line);
  err_ << "\n";
  drawn_width_ = 0;
}

}  // namespace deja::cli
