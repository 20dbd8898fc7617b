#include "services/admin_service.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "core/event_log.h"
#include "core/status_macros.h"
#include "deja/v1/admin_service.grpc.pb.h"

namespace deja {
namespace {

const google::protobuf::ServiceDescriptor& Descriptor() {
  return *v1::GetIndexStatusRequest::descriptor()->file()->FindServiceByName(
      "AdminService");
}

}  // namespace

AdminService::AdminService(IndexSync* sync, IndexFeed& feed,
                           PostmortemSearcher& searcher, std::string index_path)
    : ProtoService(Descriptor()),
      sync_(sync),
      feed_(feed),
      searcher_(searcher),
      index_path_(std::move(index_path)) {
  AddUnary<v1::GetIndexStatusRequest, v1::IndexStatus>(
      "GetIndexStatus", [this](auto& c, const auto& req, auto& resp) {
        return GetIndexStatus(c, req, resp);
      });
  AddUnary<v1::RebuildIndexRequest, v1::RebuildIndexResponse>(
      "RebuildIndex", [this](auto& c, const auto& req, auto& resp) {
        return RebuildIndex(c, req, resp);
      });
}

absl::Status AdminService::GetIndexStatus(
    grpc::ServerContext& /*context*/,
    const v1::GetIndexStatusRequest& /*request*/, v1::IndexStatus& response) {
  if (sync_ != nullptr) {
    // indexer_running as the IndexSync knows it: false once its loop stopped.
    response = sync_->Status();
    return absl::OkStatus();
  }
  DEJA_ASSIGN_OR_RETURN(OutboxStats stats, feed_.Stats());
  SetOutboxStats(stats, response);
  response.set_indexer_running(false);
  response.set_index_path(index_path_);
  // Another process writes the index; until it has made one, the status
  // still answers, and says why there are no documents.
  absl::StatusOr<int64_t> documents = searcher_.DocumentCount();
  if (documents.ok()) {
    response.set_documents(*documents);
  } else {
    response.set_last_error(
        absl::StrCat("index: ", OneLine(documents.status().message())));
  }
  return absl::OkStatus();
}

absl::Status AdminService::RebuildIndex(
    grpc::ServerContext& /*context*/,
    const v1::RebuildIndexRequest& /*request*/,
    v1::RebuildIndexResponse& response) {
  if (sync_ == nullptr) {
    return absl::FailedPreconditionError(
        "this dejad runs with --indexer=off: stop the running deja-indexer, "
        "then run `deja-indexer --rebuild` (and start deja-indexer again)");
  }
  LogEvent("index rebuild requested");
  DEJA_ASSIGN_OR_RETURN(response, sync_->Rebuild());
  LogEvent(absl::StrFormat(
      "index rebuilt on request: %d documents in %.2f s, %s",
      response.documents(), response.seconds(), response.index_path()));
  return absl::OkStatus();
}

}  // namespace deja
