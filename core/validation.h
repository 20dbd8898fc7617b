#ifndef DEJA_CORE_VALIDATION_H_
#define DEJA_CORE_VALIDATION_H_

// Checks requests before anything is written. Each function returns OK or
// INVALID_ARGUMENT whose message starts with the field path, e.g.
// "postmortem.action_items[2].owner: required". Pure functions, thread-safe.

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "deja/v1/postmortem.pb.h"
#include "deja/v1/postmortem_service.pb.h"

namespace deja {

// Size limits, shared by validation, the store and (later) the index.
inline constexpr size_t kMaxShortText = 200;  // team, service, tag, owner, ...
inline constexpr size_t kMaxTitle = 300;
inline constexpr size_t kMaxLongText = 64 * 1024;  // summary, resolution, ...
inline constexpr size_t kMaxLogLine = 4096;
inline constexpr size_t kMaxListItems = 200;  // any repeated field
inline constexpr size_t kMaxRequestId = 128;
inline constexpr size_t kMaxUrl = 2048;  // tracker_url, source_url, links
inline constexpr size_t kMaxPageToken = 1024;
inline constexpr int kMaxPageSize = 100;

// A new or replacing postmortem. `path` prefixes field names in messages
// ("postmortem"). Output-only fields (id, version, times, action item
// history) are ignored, not rejected.
absl::Status ValidatePostmortem(const v1::Postmortem& postmortem,
                                absl::string_view path = "postmortem");

absl::Status ValidateSubmit(const v1::SubmitPostmortemRequest& request);
absl::Status ValidateGet(const v1::GetPostmortemRequest& request);
absl::Status ValidateList(const v1::ListPostmortemsRequest& request);
absl::Status ValidateUpdate(const v1::UpdatePostmortemRequest& request);
absl::Status ValidateUpdateActionItem(
    const v1::UpdateActionItemRequest& request);
absl::Status ValidateDelete(const v1::DeletePostmortemRequest& request);

// True when `text` is valid UTF-8 and holds no NUL byte.
bool IsCleanUtf8(absl::string_view text);

// True for an absolute http:// or https:// URL with a host and no spaces
// or control characters: what links and tracker URLs must be.
bool IsWebUrl(absl::string_view url);

// True for the canonical 8-4-4-4-12 hex form that ids are written in.
bool IsUuid(absl::string_view text);

// True for a real calendar date written "YYYY-MM-DD".
bool IsCalendarDate(absl::string_view text);

// True when `owner` names more than one person or team ("alice, bob",
// "alice and bob", "@a @b"); "payments-oncall" or "SRE team" is one owner.
bool NamesSeveralOwners(absl::string_view owner);

// For a serialized message that failed to parse: the path of the first string
// field holding invalid UTF-8 or a NUL byte (e.g.
// "postmortem.action_items[2].owner"), or "" when the bytes are malformed for
// another reason.
std::string FindInvalidUtf8Field(const google::protobuf::Descriptor& type,
                                 absl::string_view serialized);

}  // namespace deja

#endif  // DEJA_CORE_VALIDATION_H_
