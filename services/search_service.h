#ifndef DEJA_SERVICES_SEARCH_SERVICE_H_
#define DEJA_SERVICES_SEARCH_SERVICE_H_

// deja.v1.SearchService over a PostmortemSearcher: each call is validated
// (core/search_validation.h: INVALID_ARGUMENT naming the field), then passed
// to the searcher with the current time (which decides what is overdue).
// Searcher errors reach the client with their code and message unchanged.
//
// Thread-safe as far as the searcher is (PostmortemSearcher promises it).
// The searcher must outlive the service.

#include "core/postmortem_searcher.h"
#include "services/proto_service.h"

namespace deja {

class SearchService : public ProtoService {
 public:
  explicit SearchService(PostmortemSearcher& searcher);

 private:
  absl::Status Search(grpc::ServerContext& context,
                      const v1::SearchRequest& request,
                      v1::SearchResponse& response);
  absl::Status FindSimilar(grpc::ServerContext& context,
                           const v1::FindSimilarRequest& request,
                           v1::FindSimilarResponse& response);

  PostmortemSearcher& searcher_;
};

}  // namespace deja

#endif  // DEJA_SERVICES_SEARCH_SERVICE_H_
