#ifndef DEJA_CLI_COMMAND_LINE_H_
#define DEJA_CLI_COMMAND_LINE_H_

// The `deja` command line: a command, its positional arguments and options.
// Options may appear anywhere ("--name value" or "--name=value"); "--" ends
// them; "-" alone is an argument (stdin). Each option may be given once,
// except those a command lists as repeatable (`deja search --service a
// --service b`).
// Errors are INVALID_ARGUMENT with a one-line message for a usage error.

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace deja::cli {

inline constexpr absl::string_view kDefaultServer = "127.0.0.1:50051";

struct CommandLine {
  // "submit", "get", "list", "update", "update-action", "delete", "search",
  // "seen", "admin"; a command with subcommands names both ("stats
  // overview", "recurrence confirm"); empty when only general help was asked
  // for.
  std::string command;
  std::vector<std::string> args;
  // Command options by name without dashes; flags map to "". A repeatable
  // option maps to its last value here and to all of them in `lists`.
  std::map<std::string, std::string> options;
  std::map<std::string, std::vector<std::string>> lists;

  std::string server;  // --server, else $DEJA_SERVER, else kDefaultServer
  bool json = false;
  bool help = false;
  absl::Duration timeout = absl::Seconds(10);
  // Whether --timeout was given (a rebuild has no deadline otherwise).
  bool timeout_given = false;

  bool Has(absl::string_view name) const;
  // The option's value, or "" when it was not given.
  std::string Get(absl::string_view name) const;
  // Every value of a repeatable option, in order; empty when not given.
  std::vector<std::string> GetAll(absl::string_view name) const;
};

// `argv` without the program name. `env_server` is $DEJA_SERVER ("" when
// unset).
absl::StatusOr<CommandLine> ParseCommandLine(
    const std::vector<std::string>& argv, absl::string_view env_server);

// Help text for `command`, or the overview for "". Ends in "\n".
std::string Usage(absl::string_view command);

}  // namespace deja::cli

#endif  // DEJA_CLI_COMMAND_LINE_H_
