// deja-echo-server: answers deja.bench.Echo with a payload of the asked size
// and does nothing else. Its ServerBuilder is dejad's (services/
// dejad_main.cc): the same thread quota, one completion queue, the same
// poller bounds and message limits, health checking and reflection. So
// deja-load --kind echo against it measures what dejad's RPC layer costs a
// call, and find-similar minus echo is the search itself.
//
// Prints "listening on <host>:<port>" on stdout once it takes calls (port 0
// picks a free port); stops on SIGINT or SIGTERM. Exit 1 when it cannot
// listen.

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/resource_quota.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>
#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "bench/load/echo.grpc.pb.h"
#include "core/event_log.h"
#include "services/main_flags.h"

namespace {

// dejad's DefaultThreads().
int DefaultThreads() {
  return std::max(16,
                  4 * static_cast<int>(std::thread::hardware_concurrency()));
}

}  // namespace

ABSL_FLAG(std::string, listen, "127.0.0.1:0",
          "host:port to serve on; port 0 picks a free port");
ABSL_FLAG(int, threads, DefaultThreads(),
          "gRPC worker threads (dejad's --threads and its default)");

namespace deja::bench {
namespace {

// dejad's --max-message-bytes default.
constexpr int kMaxMessageBytes = 4 << 20;

class EchoService final : public Echo::Service {
  grpc::Status Echo(grpc::ServerContext* /*context*/,
                    const EchoRequest* request,
                    EchoResponse* response) override {
    const int bytes =
        std::clamp(request->response_bytes(), 0, kMaxMessageBytes);
    response->mutable_payload()->assign(static_cast<size_t>(bytes), 'x');
    return grpc::Status::OK;
  }
};

std::string WithPort(const std::string& listen, int port) {
  const size_t colon = listen.rfind(':');
  return absl::StrCat(
      colon == std::string::npos ? listen : listen.substr(0, colon), ":", port);
}

int Run(int argc, char** argv) {
  SetLogProgramName("deja-echo-server");
  absl::SetProgramUsageMessage(
      "gRPC echo server built like dejad, for deja-load --kind echo.\n"
      "Usage: deja-echo-server [--listen=host:port] [--threads=N]");
  ShowFlagsOf("echo_server_main.cc");
  std::vector<char*> args = NormalizeFlagNames(argc, argv);
  const std::vector<char*> positional =
      absl::ParseCommandLine(static_cast<int>(args.size()), args.data());
  if (positional.size() > 1) {
    return LogAndFail(
        absl::StrCat("unexpected argument '", positional[1], "'"));
  }
  const std::string listen = absl::GetFlag(FLAGS_listen);
  const int threads = absl::GetFlag(FLAGS_threads);
  if (threads < 2) return LogAndFail("--threads must be at least 2");

  // As in dejad: blocked before any thread exists, taken by sigwait below.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  EchoService service;
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ResourceQuota quota("deja-echo-server");
  quota.SetMaxThreads(threads);
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(listen, grpc::InsecureServerCredentials(), &port);
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.SetResourceQuota(quota);
  builder.SetSyncServerOption(grpc::ServerBuilder::NUM_CQS, 1);
  builder.SetSyncServerOption(grpc::ServerBuilder::MIN_POLLERS, 1);
  builder.SetSyncServerOption(grpc::ServerBuilder::MAX_POLLERS, threads);
  builder.SetMaxReceiveMessageSize(kMaxMessageBytes);
  builder.SetMaxSendMessageSize(kMaxMessageBytes);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    return LogAndFail(absl::StrCat("cannot listen on ", listen,
                                   " (address in use or not valid)"));
  }
  server->GetHealthCheckService()->SetServingStatus("", true);
  std::cout << "listening on " << WithPort(listen, port) << std::endl;

  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  server->Shutdown();
  return 0;
}

}  // namespace
}  // namespace deja::bench

int main(int argc, char** argv) { return deja::bench::Run(argc, argv); }
