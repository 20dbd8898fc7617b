// `deja`: the command-line client of dejad. See docs/cli.md.

#include <sys/ioctl.h>
#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"

int main(int argc, char** argv) {
  deja::cli::Environment env;
  if (const char* server = std::getenv("DEJA_SERVER"); server != nullptr) {
    env.default_server = server;
  }
  env.connect = [](const std::string& server) {
    return grpc::CreateChannel(server, grpc::InsecureChannelCredentials());
  };
  env.err_is_terminal = isatty(STDERR_FILENO) == 1;
  if (winsize size{}; env.err_is_terminal &&
                      ioctl(STDERR_FILENO, TIOCGWINSZ, &size) == 0 &&
                      size.ws_col > 0) {
    env.err_columns = size.ws_col;
  }
  env.in = &std::cin;
  env.out = &std::cout;
  env.err = &std::cerr;
  const int exit_code =
      deja::cli::RunDeja(std::vector<std::string>(argv + 1, argv + argc), env);
  std::cout.flush();
  return exit_code;
}
