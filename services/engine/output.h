#pragma once
// How c360's outputs are encoded on their topics: protobuf by default or protobuf's JSON
// mapping (`--output-format json`), always with a `content-type` header. JSON prints every
// field, zeros included, and an absent KPI as null (SPEC section 1). Thread-compatible.

#include <string>

#include <google/protobuf/message.h>

namespace c360 {

enum class OutputFormat { kProtobuf, kJson };

inline constexpr char kProtobufContentType[] = "application/x-protobuf";
inline constexpr char kJsonContentType[] = "application/json";

// Serialises `message` into *out; returns the content type.
const char* EncodeOutput(const google::protobuf::Message& message, OutputFormat format,
                         std::string* out);

// JSON with every field (zeros included) and null for unset optional fields (kTopicJson,
// common/proto_json.h).
std::string ToJson(const google::protobuf::Message& message);

}  // namespace c360
