#include "services/main_flags.h"

#include <sys/resource.h>

#include <cstring>
#include <string>
#include <vector>

#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"
#include "core/event_log.h"

namespace deja {

std::vector<char*> NormalizeFlagNames(int argc, char** argv) {
  std::vector<char*> args(argv, argv + argc);
  for (int i = 1; i < argc; ++i) {
    char* arg = argv[i];
    if (std::strcmp(arg, "--") == 0) break;
    if (std::strncmp(arg, "--", 2) != 0) continue;
    for (char* c = arg + 2; *c != '\0' && *c != '='; ++c) {
      if (*c == '-') *c = '_';
    }
  }
  return args;
}

void RaiseOpenFileLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
  if (limit.rlim_cur >= limit.rlim_max) return;
  limit.rlim_cur = limit.rlim_max;
  // A refusal leaves the old limit, which only matters with many layers.
  setrlimit(RLIMIT_NOFILE, &limit);
}

void ShowFlagsOf(absl::string_view main_file) {
  absl::FlagsUsageConfig config;
  config.contains_helpshort_flags =
      [file = std::string(main_file)](absl::string_view path) {
        return absl::EndsWith(path, file);
      };
  config.contains_help_flags = config.contains_helpshort_flags;
  absl::SetFlagsUsageConfig(config);
}

int LogAndFail(absl::string_view what) {
  LogEvent(what);
  return 1;
}

}  // namespace deja
