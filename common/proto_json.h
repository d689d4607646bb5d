#pragma once
// The one mapping from a protobuf message to JSON (by reflection, into nlohmann::json), in
// the two shapes c360 writes:
//   kTopicJson — what `--output-format json` puts on the output topics (SPEC section 1):
//     protobuf's JSON mapping with proto field names and every field, zeros included:
//     int64 as strings, enums by name, Timestamps as protobuf prints them; an unset
//     `optional` (or oneof) field is null, an unset sub-message is left out.
//   the API's (services/api): int64 as numbers, doubles rounded, Timestamps as RFC 3339 with
//     milliseconds, every unset field with presence null.
// Object keys come out sorted (nlohmann::json). Thread-safe; allocates the JSON tree only.

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>

#include <nlohmann/json.hpp>

namespace c360 {

struct JsonMapping {
  bool int64_as_string = true;          // protobuf's JSON mapping quotes 64-bit integers
  bool unset_messages_as_null = false;  // false: an unset sub-message is left out
  bool timestamp_millis = false;        // true: always .mmm; false: protobuf's 0, 3, 6 or 9 digits
  // Decimal places a double field is rounded to (half away from zero); null: not rounded.
  int (*decimal_places)(const google::protobuf::FieldDescriptor& field) = nullptr;
};

inline constexpr JsonMapping kTopicJson{};

nlohmann::json ProtoToJson(const google::protobuf::Message& message, const JsonMapping& mapping);

// Rounds half away from zero to `places` decimals.
double Rounded(double value, int places);

}  // namespace c360
