#include "core/validation.h"

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/status_macros.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"
#include "google/protobuf/unknown_field_set.h"

namespace deja {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;
using google::protobuf::UnknownField;
using google::protobuf::UnknownFieldSet;

// 1900-01-01T00:00:00Z and 9999-12-31T23:59:59Z. Nothing earlier is an
// incident, and four-digit years keep every layer (RFC 3339, PostgreSQL's
// timestamptz input, the index) reading the same instant.
constexpr int64_t kMinTimestampSeconds = -2208988800;
constexpr int64_t kMaxTimestampSeconds = 253402300799;
// About 10,000 years, the range of google.protobuf.Duration.
constexpr int64_t kMaxDurationSeconds = 315576000000;
constexpr int32_t kMaxNanos = 999999999;

absl::Status Invalid(absl::string_view path, absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat(path, ": ", problem));
}

std::string FieldPath(absl::string_view parent, absl::string_view field) {
  if (parent.empty()) return std::string(field);
  return absl::StrCat(parent, ".", field);
}

std::string ElementPath(absl::string_view list, int index) {
  return absl::StrCat(list, "[", index, "]");
}

bool IsValidUtf8(absl::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    const auto lead = static_cast<unsigned char>(text[i]);
    if (lead < 0x80) {
      ++i;
      continue;
    }
    size_t length;
    uint32_t code_point;
    uint32_t smallest;  // anything below is an overlong encoding
    if ((lead & 0xE0) == 0xC0) {
      length = 2;
      code_point = lead & 0x1F;
      smallest = 0x80;
    } else if ((lead & 0xF0) == 0xE0) {
      length = 3;
      code_point = lead & 0x0F;
      smallest = 0x800;
    } else if ((lead & 0xF8) == 0xF0) {
      length = 4;
      code_point = lead & 0x07;
      smallest = 0x10000;
    } else {
      return false;
    }
    if (text.size() - i < length) return false;
    for (size_t k = 1; k < length; ++k) {
      const auto next = static_cast<unsigned char>(text[i + k]);
      if ((next & 0xC0) != 0x80) return false;
      code_point = (code_point << 6) | (next & 0x3F);
    }
    if (code_point < smallest || code_point > 0x10FFFF ||
        (code_point >= 0xD800 && code_point <= 0xDFFF)) {
      return false;
    }
    i += length;
  }
  return true;
}

// "" when the text may be stored; libpqxx cuts parameters at NUL, so a NUL
// would make the database and the index disagree.
absl::string_view TextProblem(absl::string_view text) {
  if (!IsValidUtf8(text)) return "not valid UTF-8";
  if (absl::StrContains(text, '\0')) return "contains a NUL byte";
  return "";
}

bool IsBlank(absl::string_view text) {
  return absl::StripAsciiWhitespace(text).empty();
}

bool HasControlCharacter(absl::string_view text) {
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7F) return true;
  }
  return false;
}

struct TextLimit {
  absl::string_view field;
  size_t max_bytes;
};

// By field name, shared across messages on purpose: a new "owner" or "url"
// field elsewhere gets the same limit without touching this table. Anything
// not listed is long prose.
constexpr TextLimit kTextLimits[] = {
    {"title", kMaxTitle},
    {"team", kMaxShortText},
    {"services", kMaxShortText},
    {"service", kMaxShortText},
    {"tags", kMaxShortText},
    {"tag", kMaxShortText},
    {"owner", kMaxShortText},
    {"name", kMaxShortText},
    {"role", kMaxShortText},
    {"due_date", kMaxShortText},
    {"id", kMaxShortText},
    {"postmortem_id", kMaxShortText},
    {"action_item_id", kMaxShortText},
    {"external_id", kMaxShortText},
    {"recurrence_of", kMaxShortText},
    {"field", kMaxShortText},
    {"old_value", kMaxShortText},
    {"new_value", kMaxShortText},
    {"request_id", kMaxRequestId},
    {"page_token", kMaxPageToken},
    {"url", kMaxUrl},
    {"tracker_url", kMaxUrl},
    {"source_url", kMaxUrl},
    {"log_lines", kMaxLogLine},
};

size_t MaxBytes(const FieldDescriptor& field) {
  for (const TextLimit& limit : kTextLimits) {
    if (limit.field == field.name()) return limit.max_bytes;
  }
  return kMaxLongText;
}

// The server owns these: they are dropped before storing, so their content
// cannot hurt and a client echoing a read-back postmortem is not refused.
bool IsOutputOnly(const FieldDescriptor& field) {
  const Descriptor* postmortem = v1::Postmortem::descriptor();
  const Descriptor* action_item = v1::ActionItem::descriptor();
  if (field.containing_type() == postmortem) {
    const int number = field.number();
    return number == v1::Postmortem::kIdFieldNumber ||
           number == v1::Postmortem::kVersionFieldNumber ||
           number == v1::Postmortem::kCreatedAtFieldNumber ||
           number == v1::Postmortem::kUpdatedAtFieldNumber;
  }
  if (field.containing_type() == action_item) {
    const int number = field.number();
    return number == v1::ActionItem::kCompletedAtFieldNumber ||
           number == v1::ActionItem::kHistoryFieldNumber;
  }
  return false;
}

absl::Status CheckWellKnownTime(const Message& message,
                                absl::string_view path) {
  const Descriptor& type = *message.GetDescriptor();
  const bool is_timestamp = type.full_name() == "google.protobuf.Timestamp";
  const bool is_duration = type.full_name() == "google.protobuf.Duration";
  if (!is_timestamp && !is_duration) return absl::OkStatus();
  const Reflection& reflection = *message.GetReflection();
  const int64_t seconds =
      reflection.GetInt64(message, type.FindFieldByName("seconds"));
  const int32_t nanos =
      reflection.GetInt32(message, type.FindFieldByName("nanos"));
  if (is_timestamp) {
    if (seconds < kMinTimestampSeconds || seconds > kMaxTimestampSeconds) {
      return Invalid(path, "out of range (1900..9999)");
    }
    if (nanos < 0 || nanos > kMaxNanos) {
      return Invalid(path, "not a valid time (nanos must be 0..999999999)");
    }
    return absl::OkStatus();
  }
  if (seconds > kMaxDurationSeconds || seconds < -kMaxDurationSeconds ||
      nanos > kMaxNanos || nanos < -kMaxNanos || (seconds > 0 && nanos < 0) ||
      (seconds < 0 && nanos > 0)) {
    return Invalid(path, "not a valid duration");
  }
  if (seconds < 0 || nanos < 0) return Invalid(path, "must not be negative");
  return absl::OkStatus();
}

absl::Status CheckFields(const Message& message, absl::string_view path);

// One value of `field`; `index` is -1 for a singular field.
absl::Status CheckValue(const Message& message, const FieldDescriptor& field,
                        int index, absl::string_view path) {
  const Reflection& reflection = *message.GetReflection();
  switch (field.cpp_type()) {
    case FieldDescriptor::CPPTYPE_STRING: {
      std::string scratch;
      const std::string& text =
          index < 0 ? reflection.GetStringReference(message, &field, &scratch)
                    : reflection.GetRepeatedStringReference(message, &field,
                                                            index, &scratch);
      if (field.type() == FieldDescriptor::TYPE_STRING) {
        const absl::string_view problem = TextProblem(text);
        if (!problem.empty()) return Invalid(path, problem);
      }
      const size_t limit = MaxBytes(field);
      if (text.size() > limit) {
        return Invalid(path, absl::StrCat("too long (", text.size(),
                                          " bytes, at most ", limit, ")"));
      }
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_ENUM: {
      // Proto3 enums are open: an unknown number parses and must be caught.
      const int value =
          index < 0 ? reflection.GetEnumValue(message, &field)
                    : reflection.GetRepeatedEnumValue(message, &field, index);
      if (field.enum_type()->FindValueByNumber(value) == nullptr) {
        return Invalid(path, absl::StrCat("unknown value ", value));
      }
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_MESSAGE: {
      const Message& child =
          index < 0 ? reflection.GetMessage(message, &field)
                    : reflection.GetRepeatedMessage(message, &field, index);
      DEJA_RETURN_IF_ERROR(CheckWellKnownTime(child, path));
      return CheckFields(child, path);
    }
    default:
      return absl::OkStatus();
  }
}

// Walks every set field through reflection, so fields added to the protos
// later get the text, size and enum rules without anyone remembering to.
absl::Status CheckFields(const Message& message, absl::string_view path) {
  const Reflection& reflection = *message.GetReflection();
  std::vector<const FieldDescriptor*> fields;
  reflection.ListFields(message, &fields);
  for (const FieldDescriptor* field : fields) {
    if (IsOutputOnly(*field)) continue;
    const std::string field_path = FieldPath(path, field->name());
    if (!field->is_repeated()) {
      DEJA_RETURN_IF_ERROR(CheckValue(message, *field, -1, field_path));
      continue;
    }
    const int count = reflection.FieldSize(message, field);
    if (static_cast<size_t>(count) > kMaxListItems) {
      return Invalid(field_path,
                     absl::StrCat("too many entries (", count, ", at most ",
                                  kMaxListItems, ")"));
    }
    for (int i = 0; i < count; ++i) {
      DEJA_RETURN_IF_ERROR(
          CheckValue(message, *field, i, ElementPath(field_path, i)));
    }
  }
  return absl::OkStatus();
}

absl::Status RequireText(absl::string_view text, absl::string_view path) {
  if (IsBlank(text)) return Invalid(path, "required");
  return absl::OkStatus();
}

// Names used as index terms and filters: one line, nothing invisible.
absl::Status CheckName(absl::string_view text, absl::string_view path) {
  DEJA_RETURN_IF_ERROR(RequireText(text, path));
  if (HasControlCharacter(text)) {
    return Invalid(path, "control characters are not allowed");
  }
  return absl::OkStatus();
}

absl::Status CheckOwner(absl::string_view owner, absl::string_view path) {
  DEJA_RETURN_IF_ERROR(CheckName(owner, path));
  if (NamesSeveralOwners(owner)) {
    return Invalid(
        path, absl::StrCat("exactly one owner, got several (\"", owner, "\")"));
  }
  return absl::OkStatus();
}

absl::Status CheckDueDate(absl::string_view due_date, absl::string_view path) {
  if (due_date.empty() || IsCalendarDate(due_date)) return absl::OkStatus();
  return Invalid(path, "not a calendar date (YYYY-MM-DD)");
}

absl::Status CheckUrl(absl::string_view url, absl::string_view path) {
  if (url.empty() || IsWebUrl(url)) return absl::OkStatus();
  return Invalid(path, "must be an http:// or https:// URL");
}

absl::Status CheckPostmortemId(absl::string_view id, absl::string_view path) {
  if (id.empty()) return Invalid(path, "required");
  if (!IsUuid(id)) return Invalid(path, "not a valid postmortem id");
  return absl::OkStatus();
}

std::pair<int64_t, int32_t> Instant(const google::protobuf::Timestamp& time) {
  return {time.seconds(), time.nanos()};
}

absl::Status CheckTimeOrder(const v1::Postmortem& postmortem,
                            absl::string_view path) {
  const auto started = Instant(postmortem.started_at());
  if (postmortem.has_detected_at() &&
      Instant(postmortem.detected_at()) < started) {
    return Invalid(FieldPath(path, "detected_at"), "before started_at");
  }
  if (postmortem.has_mitigated_at() &&
      Instant(postmortem.mitigated_at()) < started) {
    return Invalid(FieldPath(path, "mitigated_at"), "before started_at");
  }
  if (postmortem.has_resolved_at()) {
    if (Instant(postmortem.resolved_at()) < started) {
      return Invalid(FieldPath(path, "resolved_at"), "before started_at");
    }
    if (postmortem.has_mitigated_at() &&
        Instant(postmortem.resolved_at()) <
            Instant(postmortem.mitigated_at())) {
      return Invalid(FieldPath(path, "resolved_at"), "before mitigated_at");
    }
  }
  return absl::OkStatus();
}

absl::Status CheckNameList(
    const google::protobuf::RepeatedPtrField<std::string>& names,
    absl::string_view path) {
  for (int i = 0; i < names.size(); ++i) {
    DEJA_RETURN_IF_ERROR(CheckName(names[i], ElementPath(path, i)));
  }
  return absl::OkStatus();
}

absl::Status CheckActionItem(const v1::ActionItem& item,
                             absl::string_view path) {
  DEJA_RETURN_IF_ERROR(
      RequireText(item.description(), FieldPath(path, "description")));
  DEJA_RETURN_IF_ERROR(CheckOwner(item.owner(), FieldPath(path, "owner")));
  DEJA_RETURN_IF_ERROR(
      CheckDueDate(item.due_date(), FieldPath(path, "due_date")));
  return CheckUrl(item.tracker_url(), FieldPath(path, "tracker_url"));
}

// The path of the first string field in `fields` (a message of `type`)
// that could not be stored, or "".
std::string FindUncleanString(const Descriptor& type,
                              const UnknownFieldSet& fields,
                              absl::string_view path) {
  std::map<int, int> seen;  // field number -> occurrences so far
  for (int i = 0; i < fields.field_count(); ++i) {
    const UnknownField& wire = fields.field(i);
    if (wire.type() != UnknownField::TYPE_LENGTH_DELIMITED) continue;
    const FieldDescriptor* field = type.FindFieldByNumber(wire.number());
    if (field == nullptr) continue;
    const int occurrence = seen[wire.number()]++;
    std::string field_path = FieldPath(path, field->name());
    if (field->is_repeated()) {
      field_path = ElementPath(field_path, occurrence);
    }
    if (field->type() == FieldDescriptor::TYPE_STRING) {
      if (!TextProblem(wire.length_delimited()).empty()) return field_path;
    } else if (field->type() == FieldDescriptor::TYPE_MESSAGE) {
      UnknownFieldSet nested;
      if (!nested.ParseFromString(wire.length_delimited())) continue;
      std::string found =
          FindUncleanString(*field->message_type(), nested, field_path);
      if (!found.empty()) return found;
    }
  }
  return "";
}

}  // namespace

bool IsCleanUtf8(absl::string_view text) { return TextProblem(text).empty(); }

bool IsWebUrl(absl::string_view url) {
  absl::string_view rest;
  if (absl::StartsWithIgnoreCase(url, "https://")) {
    rest = url.substr(8);
  } else if (absl::StartsWithIgnoreCase(url, "http://")) {
    rest = url.substr(7);
  } else {
    return false;
  }
  if (rest.empty() || rest.front() == '/') return false;  // no host
  for (const char c : rest) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte <= 0x20 || byte == 0x7F) return false;
  }
  return true;
}

bool IsUuid(absl::string_view text) {
  if (text.size() != 36) return false;
  for (size_t i = 0; i < text.size(); ++i) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (text[i] != '-') return false;
    } else if (!absl::ascii_isxdigit(static_cast<unsigned char>(text[i]))) {
      return false;
    }
  }
  return true;
}

bool IsCalendarDate(absl::string_view text) {
  if (text.size() != 10 || text[4] != '-' || text[7] != '-') return false;
  int parts[3] = {0, 0, 0};
  int part = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if (i == 4 || i == 7) {
      ++part;
      continue;
    }
    if (!absl::ascii_isdigit(static_cast<unsigned char>(text[i]))) {
      return false;
    }
    parts[part] = parts[part] * 10 + (text[i] - '0');
  }
  const int year = parts[0];
  const int month = parts[1];
  const int day = parts[2];
  if (year < 1 || month < 1 || month > 12 || day < 1) return false;
  static constexpr int kDaysInMonth[] = {31, 28, 31, 30, 31, 30,
                                         31, 31, 30, 31, 30, 31};
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  const int days = kDaysInMonth[month - 1] + (month == 2 && leap ? 1 : 0);
  return day <= days;
}

bool NamesSeveralOwners(absl::string_view owner) {
  // Separators people use to list names; none appears inside one team name
  // in practice, and "alice+oncall@example.com" keeps '+' allowed.
  if (owner.find_first_of(",;/&|") != absl::string_view::npos) return true;
  int mentions = 0;
  for (const absl::string_view word :
       absl::StrSplit(owner, absl::ByAnyChar(" \t\r\n"), absl::SkipEmpty())) {
    if (absl::EqualsIgnoreCase(word, "and") ||
        absl::EqualsIgnoreCase(word, "or")) {
      return true;
    }
    if (absl::StrContains(word, '@')) ++mentions;
  }
  return mentions > 1;
}

absl::Status ValidatePostmortem(const v1::Postmortem& postmortem,
                                absl::string_view path) {
  // Text, sizes and enums first: the rules below may then trust the strings.
  DEJA_RETURN_IF_ERROR(CheckFields(postmortem, path));

  DEJA_RETURN_IF_ERROR(CheckName(postmortem.team(), FieldPath(path, "team")));
  DEJA_RETURN_IF_ERROR(
      RequireText(postmortem.title(), FieldPath(path, "title")));
  DEJA_RETURN_IF_ERROR(
      RequireText(postmortem.summary(), FieldPath(path, "summary")));
  if (postmortem.severity() == v1::SEVERITY_UNSPECIFIED) {
    return Invalid(FieldPath(path, "severity"), "required (SEV1 to SEV5)");
  }
  if (!postmortem.has_started_at()) {
    return Invalid(FieldPath(path, "started_at"), "required");
  }
  DEJA_RETURN_IF_ERROR(CheckTimeOrder(postmortem, path));
  if (postmortem.impact().users_affected() < 0) {
    return Invalid(FieldPath(path, "impact.users_affected"),
                   "must not be negative");
  }

  const std::string services_path = FieldPath(path, "services");
  if (postmortem.services().empty()) {
    return Invalid(services_path, "at least one service is required");
  }
  DEJA_RETURN_IF_ERROR(CheckNameList(postmortem.services(), services_path));
  DEJA_RETURN_IF_ERROR(
      CheckNameList(postmortem.tags(), FieldPath(path, "tags")));

  const std::string items_path = FieldPath(path, "action_items");
  for (int i = 0; i < postmortem.action_items_size(); ++i) {
    DEJA_RETURN_IF_ERROR(CheckActionItem(postmortem.action_items(i),
                                         ElementPath(items_path, i)));
  }

  const std::string participants_path = FieldPath(path, "participants");
  int facilitator = -1;
  for (int i = 0; i < postmortem.participants_size(); ++i) {
    if (!postmortem.participants(i).facilitator()) continue;
    if (facilitator >= 0) {
      return Invalid(
          FieldPath(ElementPath(participants_path, i), "facilitator"),
          absl::StrCat("at most one facilitator (participants[", facilitator,
                       "] is one)"));
    }
    facilitator = i;
  }

  const std::string links_path = FieldPath(path, "links");
  for (int i = 0; i < postmortem.links_size(); ++i) {
    DEJA_RETURN_IF_ERROR(
        CheckUrl(postmortem.links(i).url(),
                 FieldPath(ElementPath(links_path, i), "url")));
  }
  DEJA_RETURN_IF_ERROR(
      CheckUrl(postmortem.source_url(), FieldPath(path, "source_url")));

  const std::string recurrence_path = FieldPath(path, "recurrence_of");
  for (int i = 0; i < postmortem.recurrence_of_size(); ++i) {
    DEJA_RETURN_IF_ERROR(CheckPostmortemId(postmortem.recurrence_of(i),
                                           ElementPath(recurrence_path, i)));
  }
  return absl::OkStatus();
}

absl::Status ValidateSubmit(const v1::SubmitPostmortemRequest& request) {
  if (!request.has_postmortem()) return Invalid("postmortem", "required");
  const std::string& request_id = request.request_id();
  if (request_id.size() > kMaxRequestId) {
    return Invalid("request_id",
                   absl::StrCat("too long (", request_id.size(),
                                " bytes, at most ", kMaxRequestId, ")"));
  }
  for (const char c : request_id) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte > 0x7E) {
      return Invalid("request_id", "printable ASCII only");
    }
  }
  return ValidatePostmortem(request.postmortem(), "postmortem");
}

absl::Status ValidateGet(const v1::GetPostmortemRequest& request) {
  return CheckPostmortemId(request.id(), "id");
}

absl::Status ValidateList(const v1::ListPostmortemsRequest& request) {
  DEJA_RETURN_IF_ERROR(CheckFields(request, ""));
  if (request.page_size() < 0) {
    return Invalid("page_size", "must not be negative");
  }
  if (request.page_size() > kMaxPageSize) {
    return Invalid("page_size", absl::StrCat("at most ", kMaxPageSize));
  }
  if (request.has_started_after() && request.has_started_before() &&
      Instant(request.started_before()) <= Instant(request.started_after())) {
    return Invalid("started_before", "must be after started_after");
  }
  return absl::OkStatus();
}

absl::Status ValidateUpdate(const v1::UpdatePostmortemRequest& request) {
  if (!request.has_postmortem()) return Invalid("postmortem", "required");
  DEJA_RETURN_IF_ERROR(
      CheckPostmortemId(request.postmortem().id(), "postmortem.id"));
  if (request.expected_version() < 1) {
    return Invalid("expected_version", "required (the version you read)");
  }
  return ValidatePostmortem(request.postmortem(), "postmortem");
}

absl::Status ValidateUpdateActionItem(
    const v1::UpdateActionItemRequest& request) {
  DEJA_RETURN_IF_ERROR(CheckFields(request, ""));
  DEJA_RETURN_IF_ERROR(
      CheckPostmortemId(request.postmortem_id(), "postmortem_id"));
  if (request.action_item_id().empty()) {
    return Invalid("action_item_id", "required");
  }
  if (!IsUuid(request.action_item_id())) {
    return Invalid("action_item_id", "not a valid action item id");
  }
  if (!request.has_status() && !request.has_owner() &&
      !request.has_due_date()) {
    return absl::InvalidArgumentError(
        "nothing to change: set status, owner or due_date");
  }
  if (request.has_status() &&
      request.status() == v1::ActionItem::STATUS_UNSPECIFIED) {
    return Invalid("status", "must not be STATUS_UNSPECIFIED");
  }
  if (request.has_owner()) {
    DEJA_RETURN_IF_ERROR(CheckOwner(request.owner(), "owner"));
  }
  if (request.has_due_date()) {
    DEJA_RETURN_IF_ERROR(CheckDueDate(request.due_date(), "due_date"));
  }
  return absl::OkStatus();
}

absl::Status ValidateDelete(const v1::DeletePostmortemRequest& request) {
  DEJA_RETURN_IF_ERROR(CheckPostmortemId(request.id(), "id"));
  if (request.expected_version() < 0) {
    return Invalid("expected_version", "must not be negative");
  }
  return absl::OkStatus();
}

std::string FindInvalidUtf8Field(const google::protobuf::Descriptor& type,
                                 absl::string_view serialized) {
  UnknownFieldSet fields;
  // Any well-formed wire data parses here; only the descriptor gives it
  // meaning, so string fields are found without the UTF-8 check that failed.
  if (!fields.ParseFromArray(serialized.data(),
                             static_cast<int>(serialized.size()))) {
    return "";
  }
  return FindUncleanString(type, fields, "");
}

}  // namespace deja
