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
// kMaxSearchableWait and ending shortly before the client's deadline and
// before the call's start + `max_call_time` (so the whole call, store work
// included, fits in dejad's shutdown grace); a cancelled call stops waiting.
// Running out of time is not an error: the response says searchable = false
// (always so without a searcher).
//
// ImportPostmortems checks each streamed record the way SubmitPostmortem
// would, stores the records of each message in one transaction (each in its
// own savepoint), and turns a record's failure into a REJECTED result so
// that the import goes on. Failures that would reject
// every following record too (the database unavailable, the deadline or the
// client gone, a message that does not parse, too many records) end the
// call instead; the records stored before stay stored, and importing again
// is harmless because each record carries its own request id.
//
// Blameless-language check (core/blameless_lint.h): a submitted postmortem's
// findings come back as the response's warnings. With
// `options.require_blameless`, any finding makes the submit fail with
// FAILED_PRECONDITION naming the first one, and nothing is written. Updates
// are not checked (UpdatePostmortem answers a plain Postmortem).
//
// Thread-safe as far as the store and searcher are (their interfaces promise
// it). Both must outlive the service.

#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/blameless_lint.h"
#include "core/postmortem_searcher.h"
#include "core/postmortem_store.h"
#include "services/proto_service.h"

namespace deja {

struct PostmortemServiceOptions {
  // Reject postmortems with blaming language instead of warning about it.
  bool require_blameless = false;
};

class PostmortemService : public ProtoService {
 public:
  static constexpr absl::Duration kMaxSearchableWait = absl::Seconds(10);
  // ImportPostmortems limits: records per stream message, and per call (the
  // one response holds a result for each, under gRPC's 4 MiB default).
  static constexpr int kMaxImportBatch = 1000;
  static constexpr int kMaxImportRecords = 10000;
  // Once the answer reaches this size the server stores and answers no
  // more records of the call (the response says complete = false), so that it
  // stays under gRPC's 4 MiB default; a single result is at most a few KiB
  // (source, reason and warnings are bounded).
  static constexpr size_t kMaxImportResponseBytes = 3 << 20;
  static constexpr int kMaxImportWarnings = 10;
  static constexpr size_t kMaxImportSourceBytes = 1024;

  // `searcher` may be null: nothing is ever reported searchable then.
  PostmortemService(PostmortemStore& store, absl::Duration max_call_time,
                    PostmortemSearcher* searcher = nullptr,
                    PostmortemServiceOptions options = {});

  // When a read-your-writes wait starting at `now` must end, for a call that
  // started at `call_start` with the client's deadline `client`
  // (InfiniteFuture() for none): a margin before the earlier of `client` and
  // `call_start` + `max_call_time`, and never after now + kMaxSearchableWait.
  static absl::Time SearchableDeadline(absl::Time call_start, absl::Time now,
                                       absl::Time client,
                                       absl::Duration max_call_time);

 private:
  absl::Status Submit(grpc::ServerContext& context,
                      const v1::SubmitPostmortemRequest& request,
                      v1::SubmitPostmortemResponse& response);
  absl::Status Import(grpc::ServerContext& context,
                      const StreamReader<v1::ImportPostmortemsRequest>& next,
                      v1::ImportPostmortemsResponse& response);
  // A record of an import waiting to be stored: its result's index in the
  // response, and the record (owned by the message being read).
  struct PendingImport {
    int result;
    const v1::ImportRecord* record;
  };
  // Validation and the blameless check of one record; its warnings go into
  // `result`, an error is the record's rejection.
  absl::Status CheckImportRecord(const v1::ImportRecord& record,
                                 v1::ImportResult& result) const;
  // Stores the checked records of one message together and fills in their
  // results; an error ends the call.
  absl::Status StoreImports(grpc::ServerContext& context,
                            const std::vector<PendingImport>& pending,
                            v1::ImportPostmortemsResponse& response);
  // Validation and the blameless check shared by Submit and import: the
  // findings to report, or why the postmortem is refused.
  absl::StatusOr<std::vector<BlameFinding>> CheckSubmit(
      const v1::SubmitPostmortemRequest& request) const;
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
  // Whether `postmortem` became searchable within the wait allowed to a call
  // that started at `call_start`.
  bool WaitSearchable(const grpc::ServerContext& context,
                      const v1::Postmortem& postmortem, absl::Time call_start);

  PostmortemStore& store_;
  PostmortemSearcher* const searcher_;
  const absl::Duration max_call_time_;
  const PostmortemServiceOptions options_;
};

}  // namespace deja

#endif  // DEJA_SERVICES_POSTMORTEM_SERVICE_H_
