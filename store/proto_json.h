#ifndef DEJA_STORE_PROTO_JSON_H_
#define DEJA_STORE_PROTO_JSON_H_

// Proto3 JSON written straight from a message, for the two forms the store
// keeps of every postmortem: its document (every field printed) and its
// content fingerprint (fields at their defaults left out). Protobuf's
// MessageToJsonString serialises the message, parses that back as a stream
// and, to print defaults, first builds a tree of every field: in a bulk
// import it was half of dejad's CPU. Private to store/.
//
// The text is MessageToJsonString's with preserve_proto_field_names (and
// always_print_primitive_fields when `print_defaults`), except that
// characters outside ASCII are written as UTF-8, where protobuf writes some
// of them as \u escapes, and that with `print_defaults` fields come in field
// number order. A message using what this writer does not handle (maps,
// oneofs, floating point, bytes, well-known types other than Timestamp and
// Duration, or a time outside their JSON range) is printed by protobuf
// instead, so the output is always proto3 JSON of the message.

#include <string>

#include "absl/status/statusor.h"
#include "google/protobuf/message.h"

namespace deja {

absl::StatusOr<std::string> ProtoJson(const google::protobuf::Message& message,
                                      bool print_defaults);

// What MessageToJsonString prints with preserve_proto_field_names (and
// always_print_primitive_fields when `print_defaults`), byte for byte.
absl::StatusOr<std::string> ProtobufJson(
    const google::protobuf::Message& message, bool print_defaults);

}  // namespace deja

#endif  // DEJA_STORE_PROTO_JSON_H_
