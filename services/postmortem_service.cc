#include "services/postmortem_service.h"

#include <algorithm>
#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "core/blameless_lint.h"
#include "core/event_log.h"
#include "core/status_macros.h"
#include "core/validation.h"
#include "deja/v1/postmortem_service.grpc.pb.h"

namespace deja {
namespace {

// C++ generic services are off, so the descriptor comes from the file that
// declares the request types.
const google::protobuf::ServiceDescriptor& Descriptor() {
  return *v1::SubmitPostmortemRequest::descriptor()->file()->FindServiceByName(
      "PostmortemService");
}

// The wait for searchability ends this much before the client's deadline, so
// that the answer (searchable = false) still reaches the client in time
// instead of turning into DEADLINE_EXCEEDED.
constexpr absl::Duration kAnswerMargin = absl::Milliseconds(250);

// A sync handler learns of cancellation only by asking, so the wait goes in
// slices this long, checking in between.
constexpr absl::Duration kCancelPoll = absl::Milliseconds(100);

// The client's deadline; InfiniteFuture() for none.
absl::Time ClientDeadline(const grpc::ServerContext& context) {
  const std::chrono::system_clock::time_point deadline = context.deadline();
  // gRPC reports "no deadline" as time_point::max(), which FromChrono would
  // overflow.
  if (deadline == std::chrono::system_clock::time_point::max()) {
    return absl::InfiniteFuture();
  }
  return absl::FromChrono(deadline);
}

// Why `finding` is refused under require_blameless. The field path is the
// one the warnings use, so a client can point at the same place.
absl::Status BlameRejection(const BlameFinding& finding) {
  return absl::FailedPreconditionError(
      absl::StrCat(finding.field, ": \"", finding.phrase, "\" blames people; ",
                   finding.suggestion, " (rule ", finding.rule, ")"));
}

// Bytes a result adds to the response besides its own: its tag and length.
constexpr size_t kResultFraming = 4;
// What storing adds to a result: the postmortem id and the outcome.
constexpr size_t kStoredResultBytes = 42;

// Failures that would reject every following record of an import as well:
// the call ends with them instead.
bool ImportEndsTheCall(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
    case absl::StatusCode::kCancelled:
    case absl::StatusCode::kInternal:
    case absl::StatusCode::kResourceExhausted:
      return true;
    default:
      return false;
  }
}

void AddWarnings(const std::vector<BlameFinding>& findings,
                 v1::SubmitPostmortemResponse& response) {
  for (const BlameFinding& finding : findings) {
    v1::BlamelessFinding* warning = response.add_warnings();
    warning->set_field(finding.field);
    warning->set_phrase(finding.phrase);
    warning->set_rule(finding.rule);
    warning->set_suggestion(finding.suggestion);
  }
}

}  // namespace

PostmortemService::PostmortemService(PostmortemStore& store,
                                     absl::Duration max_call_time,
                                     PostmortemSearcher* searcher,
                                     PostmortemServiceOptions options)
    : ProtoService(Descriptor()),
      store_(store),
      searcher_(searcher),
      max_call_time_(max_call_time),
      options_(options) {
  // Generic lambdas convert to each method's typed UnaryHandler.
  AddUnary<v1::SubmitPostmortemRequest, v1::SubmitPostmortemResponse>(
      "SubmitPostmortem", [this](auto& c, const auto& req, auto& resp) {
        return Submit(c, req, resp);
      });
  AddUnary<v1::GetPostmortemRequest, v1::Postmortem>(
      "GetPostmortem", [this](auto& c, const auto& req, auto& resp) {
        return Get(c, req, resp);
      });
  AddUnary<v1::ListPostmortemsRequest, v1::ListPostmortemsResponse>(
      "ListPostmortems", [this](auto& c, const auto& req, auto& resp) {
        return List(c, req, resp);
      });
  AddUnary<v1::UpdatePostmortemRequest, v1::Postmortem>(
      "UpdatePostmortem", [this](auto& c, const auto& req, auto& resp) {
        return Update(c, req, resp);
      });
  AddUnary<v1::UpdateActionItemRequest, v1::ActionItem>(
      "UpdateActionItem", [this](auto& c, const auto& req, auto& resp) {
        return UpdateActionItem(c, req, resp);
      });
  AddUnary<v1::DeletePostmortemRequest, v1::DeletePostmortemResponse>(
      "DeletePostmortem", [this](auto& c, const auto& req, auto& resp) {
        return Delete(c, req, resp);
      });
  AddClientStreaming<v1::ImportPostmortemsRequest,
                     v1::ImportPostmortemsResponse>(
      "ImportPostmortems", [this](auto& c, const auto& next, auto& resp) {
        return Import(c, next, resp);
      });
}

absl::Time PostmortemService::SearchableDeadline(absl::Time call_start,
                                                 absl::Time now,
                                                 absl::Time client,
                                                 absl::Duration max_call_time) {
  const absl::Time call_end = std::min(client, call_start + max_call_time);
  return std::min(now + kMaxSearchableWait, call_end - kAnswerMargin);
}

absl::Time PostmortemService::StoreDeadline(
    const grpc::ServerContext& context) const {
  return std::min(ClientDeadline(context), absl::Now() + max_call_time_);
}

absl::Status PostmortemService::Submit(
    grpc::ServerContext& context, const v1::SubmitPostmortemRequest& request,
    v1::SubmitPostmortemResponse& response) {
  const absl::Time call_start = absl::Now();
  DEJA_ASSIGN_OR_RETURN(const std::vector<BlameFinding> findings,
                        CheckSubmit(request));
  DEJA_ASSIGN_OR_RETURN(
      SubmitResult result,
      store_.Submit(request.postmortem(), request.request_id(),
                    StoreDeadline(context)));
  *response.mutable_postmortem() = std::move(result.postmortem);
  response.set_replayed(result.replayed);
  AddWarnings(findings, response);
  if (request.wait_searchable()) {
    response.set_searchable(
        WaitSearchable(context, response.postmortem(), call_start));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<BlameFinding>> PostmortemService::CheckSubmit(
    const v1::SubmitPostmortemRequest& request) const {
  DEJA_RETURN_IF_ERROR(ValidateSubmit(request));
  // Checked on the request, not the stored copy, so that a replay reports
  // the same warnings as the first answer.
  std::vector<BlameFinding> findings = LintBlameless(request.postmortem());
  if (options_.require_blameless && !findings.empty()) {
    return BlameRejection(findings.front());
  }
  return findings;
}

absl::Status PostmortemService::Import(
    grpc::ServerContext& context,
    const StreamReader<v1::ImportPostmortemsRequest>& next,
    v1::ImportPostmortemsResponse& response) {
  v1::ImportPostmortemsRequest batch;
  bool dry_run = false;
  size_t response_bytes = 0;
  bool full = false;
  for (int message = 0;; ++message) {
    DEJA_ASSIGN_OR_RETURN(const bool more, next(batch));
    if (!more) break;
    if (message == 0) dry_run = batch.dry_run();
    if (batch.records_size() > kMaxImportBatch) {
      return absl::InvalidArgumentError(absl::StrCat(
          "records: at most ", kMaxImportBatch, " per message, got ",
          batch.records_size(), " (message ", message + 1, ")"));
    }
    if (response.results_size() + batch.records_size() > kMaxImportRecords) {
      return absl::InvalidArgumentError(
          absl::StrCat("records: at most ", kMaxImportRecords,
                       " per call; split the import into several calls (",
                       response.results_size(), " records were answered)"));
    }
    // Checked one by one, then stored together (one transaction per
    // message: a durable commit per record is what bulk import would
    // otherwise wait on).
    std::vector<PendingImport> pending;
    for (v1::ImportRecord& record : *batch.mutable_records()) {
      if (context.IsCancelled()) {
        return absl::CancelledError("the client cancelled the import");
      }
      if (response_bytes >= kMaxImportResponseBytes) {
        // The rest of the stream is read but neither stored nor answered;
        // reading it to the end keeps the client's writes from blocking.
        full = true;
        break;
      }
      const int index = response.results_size();
      v1::ImportResult& result = *response.add_results();
      result.set_source(std::string(
          absl::string_view(record.source()).substr(0, kMaxImportSourceBytes)));
      const absl::Status status = CheckImportRecord(record, result);
      if (!status.ok()) {
        result.set_outcome(v1::ImportResult::REJECTED);
        result.set_reason(absl::StrCat(absl::StatusCodeToString(status.code()),
                                       ": ", status.message()));
      } else if (dry_run) {
        result.set_outcome(v1::ImportResult::VALID);
      } else {
        pending.push_back(PendingImport{index, &record});
      }
      response_bytes += result.ByteSizeLong() + kResultFraming +
                        (status.ok() ? kStoredResultBytes : 0);
    }
    DEJA_RETURN_IF_ERROR(StoreImports(context, pending, response));
  }
  response.set_complete(!full);
  for (const v1::ImportResult& result : response.results()) {
    switch (result.outcome()) {
      case v1::ImportResult::IMPORTED:
        response.set_imported(response.imported() + 1);
        break;
      case v1::ImportResult::UNCHANGED:
        response.set_unchanged(response.unchanged() + 1);
        break;
      case v1::ImportResult::VALID:
        response.set_valid(response.valid() + 1);
        break;
      default:
        response.set_rejected(response.rejected() + 1);
        break;
    }
  }
  return absl::OkStatus();
}

absl::Status PostmortemService::CheckImportRecord(
    const v1::ImportRecord& record, v1::ImportResult& result) const {
  if (record.source().empty()) {
    return absl::InvalidArgumentError(
        "source: required (the file or line the record came from)");
  }
  if (record.source().size() > kMaxImportSourceBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("source: too long (", record.source().size(),
                     " bytes, at most ", kMaxImportSourceBytes, ")"));
  }
  if (record.request_id().empty()) {
    return absl::InvalidArgumentError(
        "request_id: required (derive it from the source, so that importing "
        "it again creates nothing)");
  }
  v1::SubmitPostmortemRequest request;
  request.set_request_id(record.request_id());
  *request.mutable_postmortem() = record.postmortem();
  DEJA_ASSIGN_OR_RETURN(const std::vector<BlameFinding> findings,
                        CheckSubmit(request));
  v1::SubmitPostmortemResponse warnings;
  AddWarnings(findings, warnings);
  for (v1::BlamelessFinding& warning : *warnings.mutable_warnings()) {
    if (result.warnings_size() == kMaxImportWarnings) break;
    *result.add_warnings() = std::move(warning);
  }
  return absl::OkStatus();
}

absl::Status PostmortemService::StoreImports(
    grpc::ServerContext& context, const std::vector<PendingImport>& pending,
    v1::ImportPostmortemsResponse& response) {
  if (pending.empty()) return absl::OkStatus();
  std::vector<PostmortemStore::SubmitItem> items;
  items.reserve(pending.size());
  for (const PendingImport& import : pending) {
    items.push_back(PostmortemStore::SubmitItem{&import.record->postmortem(),
                                                import.record->request_id()});
  }
  absl::StatusOr<std::vector<absl::StatusOr<SubmitResult>>> stored =
      store_.SubmitMany(items, StoreDeadline(context));
  if (!stored.ok()) {
    if (ImportEndsTheCall(stored.status().code())) return stored.status();
    // The batch as a whole failed (e.g. a deadlock with a concurrent import
    // of the same records): one transaction per record instead.
    stored.emplace();
    for (const PostmortemStore::SubmitItem& item : items) {
      stored->push_back(store_.Submit(*item.postmortem, item.request_id,
                                      StoreDeadline(context)));
    }
  }
  for (size_t i = 0; i < pending.size(); ++i) {
    v1::ImportResult& result = *response.mutable_results(pending[i].result);
    const absl::StatusOr<SubmitResult>& one = (*stored)[i];
    if (!one.ok()) {
      if (ImportEndsTheCall(one.status().code())) return one.status();
      result.set_outcome(v1::ImportResult::REJECTED);
      result.set_reason(
          absl::StrCat(absl::StatusCodeToString(one.status().code()), ": ",
                       one.status().message()));
      continue;
    }
    result.set_postmortem_id(one->postmortem.id());
    result.set_outcome(one->replayed ? v1::ImportResult::UNCHANGED
                                     : v1::ImportResult::IMPORTED);
  }
  return absl::OkStatus();
}

bool PostmortemService::WaitSearchable(const grpc::ServerContext& context,
                                       const v1::Postmortem& postmortem,
                                       absl::Time call_start) {
  if (searcher_ == nullptr) return false;
  const absl::Time start = absl::Now();
  const absl::Time deadline = SearchableDeadline(
      call_start, start, ClientDeadline(context), max_call_time_);
  absl::Status status;
  while (true) {
    if (context.IsCancelled()) {
      status = absl::CancelledError("the call was cancelled");
      break;
    }
    const absl::Time slice_end = std::min(deadline, absl::Now() + kCancelPoll);
    // A replay may return a postmortem that has been updated since: waiting
    // for its current version covers the one this request created.
    status = searcher_->WaitUntilSearchable(postmortem.id(),
                                            postmortem.version(), slice_end);
    if (status.code() != absl::StatusCode::kDeadlineExceeded ||
        slice_end >= deadline) {
      break;
    }
  }
  if (status.ok()) return true;
  // The postmortem is stored all the same; the index catches up later.
  LogEvent(absl::StrCat("postmortem ", postmortem.id(), " version ",
                        postmortem.version(), " not searchable after ",
                        absl::FormatDuration(absl::Now() - start), ": ",
                        status.ToString()));
  return false;
}

absl::Status PostmortemService::Get(grpc::ServerContext& context,
                                    const v1::GetPostmortemRequest& request,
                                    v1::Postmortem& response) {
  DEJA_RETURN_IF_ERROR(ValidateGet(request));
  DEJA_ASSIGN_OR_RETURN(response,
                        store_.Get(request.id(), StoreDeadline(context)));
  return absl::OkStatus();
}

absl::Status PostmortemService::List(grpc::ServerContext& context,
                                     const v1::ListPostmortemsRequest& request,
                                     v1::ListPostmortemsResponse& response) {
  DEJA_RETURN_IF_ERROR(ValidateList(request));
  DEJA_ASSIGN_OR_RETURN(ListResult result,
                        store_.List(request, StoreDeadline(context)));
  for (v1::Postmortem& postmortem : result.postmortems) {
    *response.add_postmortems() = std::move(postmortem);
  }
  response.set_next_page_token(std::move(result.next_page_token));
  return absl::OkStatus();
}

absl::Status PostmortemService::Update(
    grpc::ServerContext& context, const v1::UpdatePostmortemRequest& request,
    v1::Postmortem& response) {
  DEJA_RETURN_IF_ERROR(ValidateUpdate(request));
  DEJA_ASSIGN_OR_RETURN(
      response, store_.Update(request.postmortem(), request.expected_version(),
                              StoreDeadline(context)));
  return absl::OkStatus();
}

absl::Status PostmortemService::UpdateActionItem(
    grpc::ServerContext& context, const v1::UpdateActionItemRequest& request,
    v1::ActionItem& response) {
  DEJA_RETURN_IF_ERROR(ValidateUpdateActionItem(request));
  DEJA_ASSIGN_OR_RETURN(
      response, store_.UpdateActionItem(request, StoreDeadline(context)));
  return absl::OkStatus();
}

absl::Status PostmortemService::Delete(
    grpc::ServerContext& context, const v1::DeletePostmortemRequest& request,
    v1::DeletePostmortemResponse& /*response*/) {
  DEJA_RETURN_IF_ERROR(ValidateDelete(request));
  return store_.Delete(request.id(), request.expected_version(),
                       StoreDeadline(context));
}

}  // namespace deja
