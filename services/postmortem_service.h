#ifndef DEJA_SERVICES_POSTMORTEM_SERVICE_H_
#define DEJA_SERVICES_POSTMORTEM_SERVICE_H_

// deja.v1.PostmortemService over a PostmortemStore: each call is validated
// (INVALID_ARGUMENT naming the field, nothing written), then passed to the
// store with the client's deadline, capped at `max_call_time` so that a
// caller without a deadline cannot hold a database connection forever (dejad
// derives its shutdown grace from the same value). Store errors reach the
// client with their code and message unchanged.
//
// Read-your-writes: a SubmitPostmortem with wait_searchable (a replay too)
// waits on `searcher` until the postmortem's version is searchable, at most
// until shortly before the client's deadline and never more than
// kMaxSearchableWait. Running out of time is not an error: the response says
// searchable = false (always so without a searcher).
//
// Thread-safe as far as the store and searcher are (their interfaces promise
// it). Both must outlive the service.

#include "absl/time/time.h"
#include "core/postmortem_searcher.h"
#include "core/postmortem_store.h"
#include "services/proto_service.h"

namespace deja {

class PostmortemService : public ProtoService {
 public:
  static constexpr absl::Duration kMaxSearchableWait = absl::Seconds(10);

  // `searcher` may be null: nothing is ever reported searchable then.
  PostmortemService(PostmortemStore& store, absl::Duration max_call_time,
                    PostmortemSearcher* searcher = nullptr);

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
  // Whether `postmortem` became searchable within the wait allowed.
  bool WaitSearchable(const grpc::ServerContext& context,
                      const v1::Postmortem& postmortem);

  PostmortemStore& store_;
  PostmortemSearcher* const searcher_;
  const absl::Duration max_call_time_;
};

}  // namespace deja

#endif  // DEJA_SERVICES_POSTMORTEM_SERVICE_H_
