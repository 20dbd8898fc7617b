#ifndef DEJA_CLI_RENDER_H_
#define DEJA_CLI_RENDER_H_

// How `deja` shows postmortems to people (the tables and the `get` view) and
// to programs (the proto3 JSON mapping). Times are shown in UTC. Pure
// functions, thread-safe; `now` decides which action items are overdue.

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "cli/table.h"
#include "deja/v1/postmortem.pb.h"
#include "google/protobuf/message.h"

namespace deja::cli {

// Column limits, so a row fits a terminal; full text is in `get` and --json.
inline constexpr size_t kTitleWidth = 60;
inline constexpr size_t kDescriptionWidth = 60;
inline constexpr size_t kServicesWidth = 30;
inline constexpr size_t kShortIdLength = 8;

// The proto3 JSON mapping on one line: lowerCamelCase field names, enums by
// name, fields with default values included (so a field's absence never
// means something), no trailing newline.
std::string ToJson(const google::protobuf::Message& message);

// True when the item is still open or in progress and its due date is before
// the UTC day of `now`.
bool IsOverdue(const v1::ActionItem& item, absl::Time now);

// ID (first kShortIdLength characters), STATUS, KIND, OWNER, DUE (with
// "OVERDUE" appended when overdue), DESCRIPTION.
Table ActionItemTable(const std::vector<const v1::ActionItem*>& items,
                      absl::Time now);

// ID, STARTED, SEV, TEAM, SERVICES, TITLE.
Table PostmortemListTable(const std::vector<v1::Postmortem>& postmortems);

// The `deja get` view: a header block, then one section per part that is not
// empty.
std::string RenderPostmortem(const v1::Postmortem& postmortem, absl::Time now);

}  // namespace deja::cli

#endif  // DEJA_CLI_RENDER_H_
