#ifndef DEJA_CLI_COMMANDS_H_
#define DEJA_CLI_COMMANDS_H_

// The `deja` commands, runnable in-process: deja_main.cc passes the real
// streams and a network channel; tests pass string streams and an in-process
// server's channel.
//
// Exit codes: 0 success, 1 a call or a file failed (one line per failure on
// `err`: "deja: CODE: message" or "deja: FILE: problem"), 2 a usage error
// ("deja: problem (see 'deja COMMAND --help')").

#include <functional>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "grpcpp/channel.h"

namespace deja::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

struct Environment {
  // $DEJA_SERVER, "" when unset.
  std::string default_server;
  // Opens a channel to "HOST:PORT"; called at most once per run.
  std::function<std::shared_ptr<grpc::ChannelInterface>(const std::string&)>
      connect;
  // Decides which action items are overdue.
  absl::Time now = absl::Now();
  // Whether stderr is a terminal (progress is then redrawn in place), and
  // its width in columns.
  bool err_is_terminal = false;
  size_t err_columns = 80;
  std::istream* in = nullptr;
  std::ostream* out = nullptr;
  std::ostream* err = nullptr;
};

// Runs `deja` with `argv` (without the program name); returns the exit code.
int RunDeja(const std::vector<std::string>& argv, const Environment& env);

}  // namespace deja::cli

#endif  // DEJA_CLI_COMMANDS_H_
