#include "core/import_defaults.h"

#include <algorithm>
#include <optional>
#include <utility>

#include "absl/strings/ascii.h"

namespace deja {
namespace {

bool IsBlank(absl::string_view text) {
  return absl::StripAsciiWhitespace(text).empty();
}

std::string OrDefault(const std::string& chosen, absl::string_view fallback) {
  return IsBlank(chosen) ? std::string(fallback) : chosen;
}

bool Earlier(const google::protobuf::Timestamp& a,
             const google::protobuf::Timestamp& b) {
  return std::make_pair(a.seconds(), a.nanos()) <
         std::make_pair(b.seconds(), b.nanos());
}

// The earliest time the document states, if any.
std::optional<google::protobuf::Timestamp> EarliestStatedTime(
    const v1::Postmortem& postmortem) {
  std::optional<google::protobuf::Timestamp> earliest;
  const auto consider = [&](bool has, const google::protobuf::Timestamp& at) {
    if (has && (!earliest.has_value() || Earlier(at, *earliest))) {
      earliest = at;
    }
  };
  for (const v1::TimelineEvent& event : postmortem.timeline()) {
    consider(event.has_at(), event.at());
  }
  consider(postmortem.has_detected_at(), postmortem.detected_at());
  consider(postmortem.has_mitigated_at(), postmortem.mitigated_at());
  consider(postmortem.has_resolved_at(), postmortem.resolved_at());
  return earliest;
}

}  // namespace

std::vector<std::string> ApplyImportDefaults(const ImportDefaults& defaults,
                                             v1::Postmortem& postmortem) {
  std::vector<std::string> filled;
  if (IsBlank(postmortem.team())) {
    postmortem.set_team(OrDefault(defaults.team, kDefaultImportTeam));
    filled.push_back("team");
  }
  const bool has_service =
      std::any_of(postmortem.services().begin(), postmortem.services().end(),
                  [](const std::string& service) { return !IsBlank(service); });
  if (!has_service) {
    postmortem.clear_services();
    postmortem.add_services(OrDefault(defaults.service, kDefaultImportService));
    filled.push_back("services");
  }
  if (postmortem.severity() == v1::SEVERITY_UNSPECIFIED) {
    postmortem.set_severity(defaults.severity != v1::SEVERITY_UNSPECIFIED
                                ? defaults.severity
                                : kDefaultImportSeverity);
    filled.push_back("severity");
  }
  if (!postmortem.has_started_at()) {
    if (auto earliest = EarliestStatedTime(postmortem); earliest.has_value()) {
      *postmortem.mutable_started_at() = *earliest;
      filled.push_back("started_at");
    }
  }
  bool owner_filled = false;
  for (v1::ActionItem& item : *postmortem.mutable_action_items()) {
    if (!IsBlank(item.owner())) continue;
    item.set_owner(OrDefault(defaults.owner, postmortem.team()));
    owner_filled = true;
  }
  if (owner_filled) filled.push_back("action_items.owner");

  if (!filled.empty() &&
      std::find(postmortem.tags().begin(), postmortem.tags().end(),
                kImportDefaultsTag) == postmortem.tags().end()) {
    postmortem.add_tags(std::string(kImportDefaultsTag));
  }
  return filled;
}

}  // namespace deja
