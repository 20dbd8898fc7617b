#include "services/search_service.h"

#include <utility>

#include "absl/time/clock.h"
#include "core/search_validation.h"
#include "core/status_macros.h"
#include "deja/v1/search_service.grpc.pb.h"

namespace deja {
namespace {

// C++ generic services are off, so the descriptor comes from the file that
// declares the request types.
const google::protobuf::ServiceDescriptor& Descriptor() {
  return *v1::SearchRequest::descriptor()->file()->FindServiceByName(
      "SearchService");
}

}  // namespace

SearchService::SearchService(PostmortemSearcher& searcher)
    : ProtoService(Descriptor()), searcher_(searcher) {
  AddUnary<v1::SearchRequest, v1::SearchResponse>(
      "Search", [this](auto& c, const auto& req, auto& resp) {
        return Search(c, req, resp);
      });
  AddUnary<v1::FindSimilarRequest, v1::FindSimilarResponse>(
      "FindSimilar", [this](auto& c, const auto& req, auto& resp) {
        return FindSimilar(c, req, resp);
      });
}

absl::Status SearchService::Search(grpc::ServerContext& /*context*/,
                                   const v1::SearchRequest& request,
                                   v1::SearchResponse& response) {
  DEJA_RETURN_IF_ERROR(ValidateSearch(request));
  DEJA_ASSIGN_OR_RETURN(response, searcher_.Search(request, absl::Now()));
  return absl::OkStatus();
}

absl::Status SearchService::FindSimilar(grpc::ServerContext& /*context*/,
                                        const v1::FindSimilarRequest& request,
                                        v1::FindSimilarResponse& response) {
  DEJA_RETURN_IF_ERROR(ValidateFindSimilar(request));
  DEJA_ASSIGN_OR_RETURN(response, searcher_.FindSimilar(request, absl::Now()));
  return absl::OkStatus();
}

}  // namespace deja
