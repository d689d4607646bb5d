#include "services/engine/output.h"

#include "common/proto_json.h"

namespace c360 {

std::string ToJson(const google::protobuf::Message& message) {
  return ProtoToJson(message, kTopicJson).dump();
}
const char* EncodeOutput(const google::protobuf::Message& message, OutputFormat format,
                         std::string* out) {
  if (format == OutputFormat::kJson) {
    *out = ToJson(message);
    return kJsonContentType;
  }
  message.SerializeToString(out);
  return kProtobufContentType;
}

}  // namespace c360
