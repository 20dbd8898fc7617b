#include "store/proto_json.h"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <set>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/time_util.h"

namespace deja {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

using google::protobuf::util::TimeUtil;

constexpr int32_t kMaxNanos = 999999999;

bool IsTimestamp(const Descriptor& type) {
  return type.full_name() == "google.protobuf.Timestamp";
}

bool IsDuration(const Descriptor& type) {
  return type.full_name() == "google.protobuf.Duration";
}

// How the writer sees a message type: whether it handles every field, and
// the fields in number order (protobuf prints them in wire order).
struct TypeLayout {
  bool writable = true;
  std::vector<const FieldDescriptor*> fields;
};

bool Writable(const Descriptor& type, std::set<const Descriptor*>& seen) {
  if (IsTimestamp(type) || IsDuration(type)) return true;
  if (type.well_known_type() != Descriptor::WELLKNOWNTYPE_UNSPECIFIED) {
    return false;
  }
  if (!seen.insert(&type).second) return true;  // checked further up
  if (type.oneof_decl_count() > 0) return false;
  for (int i = 0; i < type.field_count(); ++i) {
    const FieldDescriptor& field = *type.field(i);
    if (field.is_map()) return false;
    switch (field.cpp_type()) {
      case FieldDescriptor::CPPTYPE_FLOAT:
      case FieldDescriptor::CPPTYPE_DOUBLE:
        return false;
      case FieldDescriptor::CPPTYPE_STRING:
        if (field.type() == FieldDescriptor::TYPE_BYTES) return false;
        break;
      case FieldDescriptor::CPPTYPE_MESSAGE:
        if (!Writable(*field.message_type(), seen)) return false;
        break;
      default:
        break;
    }
  }
  return true;
}

// Per thread, so that writers never wait for each other; a thread sees a
// handful of types.
const TypeLayout& LayoutOf(const Descriptor& type) {
  thread_local std::map<const Descriptor*, TypeLayout> layouts;
  auto [at, inserted] = layouts.try_emplace(&type);
  if (inserted) {
    std::set<const Descriptor*> seen;
    at->second.writable = Writable(type, seen);
    for (int i = 0; i < type.field_count(); ++i) {
      at->second.fields.push_back(type.field(i));
    }
    std::sort(at->second.fields.begin(), at->second.fields.end(),
              [](const FieldDescriptor* a, const FieldDescriptor* b) {
                return a->number() < b->number();
              });
  }
  return at->second;
}

// Nine, six or three digits of fraction, as few as keep the value.
std::string Fraction(int32_t nanos) {
  if (nanos == 0) return "";
  if (nanos % 1000000 == 0) return absl::StrFormat(".%03d", nanos / 1000000);
  if (nanos % 1000 == 0) return absl::StrFormat(".%06d", nanos / 1000);
  return absl::StrFormat(".%09d", nanos);
}

class Writer {
 public:
  Writer(bool print_defaults, std::string& out)
      : print_defaults_(print_defaults), out_(out) {}

  // False when the message holds a value the writer leaves to protobuf.
  bool WriteMessage(const Message& message) {
    const Descriptor& type = *message.GetDescriptor();
    if (IsTimestamp(type)) return WriteTimestamp(message);
    if (IsDuration(type)) return WriteDuration(message);
    const Reflection& reflection = *message.GetReflection();
    out_ += '{';
    bool first = true;
    for (const FieldDescriptor* field : LayoutOf(type).fields) {
      const bool message_field =
          field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE;
      int count = 0;
      if (field->is_repeated()) {
        count = reflection.FieldSize(message, field);
        if (count == 0 && !print_defaults_) continue;
      } else if (!reflection.HasField(message, field) &&
                 (message_field || !print_defaults_)) {
        continue;
      }
      if (!first) out_ += ',';
      first = false;
      WriteString(field->name());
      out_ += ':';
      if (!field->is_repeated()) {
        if (!WriteValue(message, *field, -1)) return false;
        continue;
      }
      out_ += '[';
      for (int i = 0; i < count; ++i) {
        if (i > 0) out_ += ',';
        if (!WriteValue(message, *field, i)) return false;
      }
      out_ += ']';
    }
    out_ += '}';
    return true;
  }

 private:
  // `index` -1: a singular field.
  bool WriteValue(const Message& message, const FieldDescriptor& field,
                  int index) {
    const Reflection& r = *message.GetReflection();
    const bool one = index < 0;
    switch (field.cpp_type()) {
      case FieldDescriptor::CPPTYPE_INT32:
        absl::StrAppend(&out_,
                        one ? r.GetInt32(message, &field)
                            : r.GetRepeatedInt32(message, &field, index));
        return true;
      case FieldDescriptor::CPPTYPE_UINT32:
        absl::StrAppend(&out_,
                        one ? r.GetUInt32(message, &field)
                            : r.GetRepeatedUInt32(message, &field, index));
        return true;
      case FieldDescriptor::CPPTYPE_INT64:
        absl::StrAppend(&out_, "\"",
                        one ? r.GetInt64(message, &field)
                            : r.GetRepeatedInt64(message, &field, index),
                        "\"");
        return true;
      case FieldDescriptor::CPPTYPE_UINT64:
        absl::StrAppend(&out_, "\"",
                        one ? r.GetUInt64(message, &field)
                            : r.GetRepeatedUInt64(message, &field, index),
                        "\"");
        return true;
      case FieldDescriptor::CPPTYPE_BOOL:
        out_ += (one ? r.GetBool(message, &field)
                     : r.GetRepeatedBool(message, &field, index))
                    ? "true"
                    : "false";
        return true;
      case FieldDescriptor::CPPTYPE_ENUM: {
        const int number = one ? r.GetEnumValue(message, &field)
                               : r.GetRepeatedEnumValue(message, &field, index);
        const auto* value = field.enum_type()->FindValueByNumber(number);
        if (value == nullptr) {
          absl::StrAppend(&out_, number);  // a value this build has no name for
        } else {
          WriteString(value->name());
        }
        return true;
      }
      case FieldDescriptor::CPPTYPE_STRING: {
        std::string scratch;
        WriteString(one ? r.GetStringReference(message, &field, &scratch)
                        : r.GetRepeatedStringReference(message, &field, index,
                                                       &scratch));
        return true;
      }
      case FieldDescriptor::CPPTYPE_MESSAGE:
        return WriteMessage(one ? r.GetMessage(message, &field)
                                : r.GetRepeatedMessage(message, &field, index));
      default:
        return false;  // LayoutOf said unwritable; not reached
    }
  }

  // Protobuf's escapes for ASCII; other bytes (UTF-8) as they are.
  void WriteString(absl::string_view text) {
    out_ += '"';
    for (const char c : text) {
      const auto byte = static_cast<unsigned char>(c);
      switch (c) {
        case '"':
          out_ += "\\\"";
          break;
        case '\\':
          out_ += "\\\\";
          break;
        case '<':
          out_ += "\\u003c";
          break;
        case '>':
          out_ += "\\u003e";
          break;
        case '\b':
          out_ += "\\b";
          break;
        case '\t':
          out_ += "\\t";
          break;
        case '\n':
          out_ += "\\n";
          break;
        case '\f':
          out_ += "\\f";
          break;
        case '\r':
          out_ += "\\r";
          break;
        default:
          if (byte < 0x20 || byte == 0x7f) {
            absl::StrAppendFormat(&out_, "\\u%04x", byte);
          } else {
            out_ += c;
          }
      }
    }
    out_ += '"';
  }

  static void SecondsAndNanos(const Message& message, int64_t& seconds,
                              int32_t& nanos) {
    const Descriptor& type = *message.GetDescriptor();
    const Reflection& r = *message.GetReflection();
    seconds = r.GetInt64(message, type.FindFieldByNumber(1));
    nanos = r.GetInt32(message, type.FindFieldByNumber(2));
  }

  bool WriteTimestamp(const Message& message) {
    int64_t seconds = 0;
    int32_t nanos = 0;
    SecondsAndNanos(message, seconds, nanos);
    // The JSON range: 0001-01-01 to 9999-12-31.
    if (seconds < TimeUtil::kTimestampMinSeconds ||
        seconds > TimeUtil::kTimestampMaxSeconds || nanos < 0 ||
        nanos > kMaxNanos) {
      return false;
    }
    const absl::CivilSecond t = absl::ToCivilSecond(
        absl::FromUnixSeconds(seconds), absl::UTCTimeZone());
    absl::StrAppendFormat(&out_, "\"%04d-%02d-%02dT%02d:%02d:%02d%sZ\"",
                          t.year(), t.month(), t.day(), t.hour(), t.minute(),
                          t.second(), Fraction(nanos));
    return true;
  }

  bool WriteDuration(const Message& message) {
    int64_t seconds = 0;
    int32_t nanos = 0;
    SecondsAndNanos(message, seconds, nanos);
    if (seconds < TimeUtil::kDurationMinSeconds ||
        seconds > TimeUtil::kDurationMaxSeconds || nanos < -kMaxNanos ||
        nanos > kMaxNanos || (seconds < 0 && nanos > 0) ||
        (seconds > 0 && nanos < 0)) {
      return false;
    }
    out_ += '"';
    if (seconds < 0 || nanos < 0) out_ += '-';
    absl::StrAppend(&out_, std::abs(seconds), Fraction(std::abs(nanos)), "s\"");
    return true;
  }

  const bool print_defaults_;
  std::string& out_;
};

}  // namespace

absl::StatusOr<std::string> ProtobufJson(const Message& message,
                                         bool print_defaults) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = print_defaults;
  std::string json;
  const auto status =
      google::protobuf::util::MessageToJsonString(message, &json, options);
  if (!status.ok()) {
    return absl::InternalError(absl::StrCat(message.GetDescriptor()->name(),
                                            " to JSON: ", status.ToString()));
  }
  return json;
}

absl::StatusOr<std::string> ProtoJson(const Message& message,
                                      bool print_defaults) {
  if (LayoutOf(*message.GetDescriptor()).writable) {
    std::string json;
    if (Writer(print_defaults, json).WriteMessage(message)) return json;
  }
  return ProtobufJson(message, print_defaults);
}

}  // namespace deja
