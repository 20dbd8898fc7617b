#ifndef DEJA_SERVICES_ADMIN_SERVICE_H_
#define DEJA_SERVICES_ADMIN_SERVICE_H_

// deja.v1.AdminService: the index's status and a rebuild from PostgreSQL.
//
// `sync` is the IndexSync this dejad runs, or null with --indexer=off (a
// separate deja-indexer writes the index then). Without it, GetIndexStatus is
// put together from the outbox (`feed`) and the index as the searcher sees it
// (indexer_running = false), and RebuildIndex answers FAILED_PRECONDITION.
// A rebuild runs as long as it takes: it has no call-time cap, and searches
// continue meanwhile. A second RebuildIndex while one runs gets ABORTED; one
// cut short by dejad's shutdown gets CANCELLED.
//
// Thread-safe. `sync`, `feed` and `searcher` must outlive the service.

#include <string>

#include "core/index_feed.h"
#include "core/postmortem_searcher.h"
#include "indexer/index_sync.h"
#include "services/proto_service.h"

namespace deja {

class AdminService : public ProtoService {
 public:
  // `index_path` is what GetIndexStatus reports as index_path without sync.
  AdminService(IndexSync* sync, IndexFeed& feed, PostmortemSearcher& searcher,
               std::string index_path);

 private:
  absl::Status GetIndexStatus(grpc::ServerContext& context,
                              const v1::GetIndexStatusRequest& request,
                              v1::IndexStatus& response);
  absl::Status RebuildIndex(grpc::ServerContext& context,
                            const v1::RebuildIndexRequest& request,
                            v1::RebuildIndexResponse& response);

  IndexSync* const sync_;
  IndexFeed& feed_;
  PostmortemSearcher& searcher_;
  const std::string index_path_;
};

}  // namespace deja

#endif  // DEJA_SERVICES_ADMIN_SERVICE_H_
