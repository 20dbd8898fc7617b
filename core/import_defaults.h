#ifndef DEJA_CORE_IMPORT_DEFAULTS_H_
#define DEJA_CORE_IMPORT_DEFAULTS_H_

// Fills the fields the API requires but real write-ups seldom state (team,
// services, severity, start time, action-item owners), so that a folder of
// existing postmortems imports with one command. What the document says
// always wins: only empty fields are filled. Every filled field is marked,
// so that a reader and a later clean-up can tell a guess from a fact: the
// postmortem gets the tag kImportDefaultsTag, and the caller gets the names
// of the filled fields to report. Pure function, thread-safe.

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "deja/v1/postmortem.pb.h"

namespace deja {

inline constexpr absl::string_view kImportDefaultsTag = "import-defaults";
inline constexpr absl::string_view kDefaultImportTeam = "imported";
inline constexpr absl::string_view kDefaultImportService = "unknown";
// The middle of the scale: an unrated incident neither inflates nor hides
// the SEV1/SEV2 counts, and the tag says it was not rated.
inline constexpr v1::Severity kDefaultImportSeverity = v1::SEV3;

// The importer's choices (`deja import --team --service --severity --owner`);
// empty / unspecified means the built-in default.
struct ImportDefaults {
  std::string team;
  std::string service;
  v1::Severity severity = v1::SEVERITY_UNSPECIFIED;
  // Owner of action items that name none; empty: the postmortem's team.
  std::string owner;
};

// Fills the empty fields of `postmortem`:
// - team: defaults.team, else kDefaultImportTeam;
// - services: defaults.service, else kDefaultImportService;
// - severity: defaults.severity, else kDefaultImportSeverity;
// - started_at: the earliest time the document gives (timeline events,
//   detected_at, mitigated_at, resolved_at), so it is never after them;
//   left unset when there is none (the server then rejects the record);
// - action_items[].owner: defaults.owner, else the (possibly defaulted) team.
// Returns the names of the filled fields in that order ("team", "services",
// "severity", "started_at", "action_items.owner"); empty when nothing was
// filled, and then the postmortem is unchanged.
std::vector<std::string> ApplyImportDefaults(const ImportDefaults& defaults,
                                             v1::Postmortem& postmortem);

}  // namespace deja

#endif  // DEJA_CORE_IMPORT_DEFAULTS_H_
