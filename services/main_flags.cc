#include "services/main_flags.h"

#include <cstring>
#include <vector>

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

int LogAndFail(absl::string_view what) {
  LogEvent(what);
  return 1;
}

}  // namespace deja
