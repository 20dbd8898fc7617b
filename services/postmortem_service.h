#ifndef DEJA_SERVICES_POSTMORTEM_SERVICE_H_
#define DEJA_SERVICES_POSTMORTEM_SERVICE_H_

// deja.v1.PostmortemService over a PostmortemStore: each call is validated
// (INVALID_ARGUMENT naming the field, nothing written), then passed to the
// store with the client's deadline, capped at `max_call_time` so that a
// caller without a deadline cannot hold a database connection forever (dejad
// derives its shutdown grace from the same value). Store errors reach the
// client with their code and message unchanged.
//
// Thread-safe as far as the store is (PostmortemStore promises it). The
// store must outlive the service.

#include "absl/time/time.h"
#include "core/postmortem_store.h"
#include "services/proto_service.h"

namespace deja {

class PostmortemService : public ProtoService {
 public:
  PostmortemService(PostmortemStore& store, absl::Duration max_call_time);

 private:
  absl::Status Submit(grpc::ServerContext& context,
                      const v1::SubmitPostmortemRequest& request,
                      v1::SubmitPostmortemResponse& response);
  absl::Status Get(grpc::ServerContext& context,
                   const v1::GetPostmortemRequest& request,
                   v1::Postmortem& response);
  absl::Status List(grpc::ServerContext& context,
                    const v1::ListPostmortemsRequest& request,
                    v1::ListPostmortemsResponse& response);
  absl::Status Update(grpc::ServerContext& context,
                      const v1::UpdatePostmortemRequest& request,
                      v1::Postmortem& response);
  absl::Status UpdateActionItem(grpc::ServerContext& context,
                                const v1::UpdateActionItemRequest& request,
                                v1::ActionItem& response);
  absl::Status Delete(grpc::ServerContext& context,
                      const v1::DeletePostmortemRequest& request,
                      v1::DeletePostmortemResponse& response);

  // The client's deadline, or now + max_call_time_ when that comes first.
  absl::Time StoreDeadline(const grpc::ServerContext& context) const;

  PostmortemStore& store_;
  const absl::Duration max_call_time_;
};

}  // namespace deja

#endif  // DEJA_SERVICES_POSTMORTEM_SERVICE_H_
