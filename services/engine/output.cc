#include "services/engine/output.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/util/json_util.h>

#include <nlohmann/json.hpp>

namespace c360 {
namespace {

// Adds null for every unset field with explicit presence (proto3 `optional`), recursively.
void AddNulls(const google::protobuf::Message& message, nlohmann::json* json) {
  const auto* d = message.GetDescriptor();
  const auto* r = message.GetReflection();
  for (int i = 0; i < d->field_count(); ++i) {
    const auto* f = d->field(i);
    if (f->is_repeated()) continue;
    if (f->has_presence() && f->containing_oneof() != nullptr && !r->HasField(message, f)) {
      (*json)[f->name()] = nullptr;  // proto3 optional: a synthetic oneof
    } else if (f->cpp_type() == google::protobuf::FieldDescriptor::CPPTYPE_MESSAGE &&
               r->HasField(message, f) && json->contains(f->name()) &&
               (*json)[f->name()].is_object()) {
      AddNulls(r->GetMessage(message, f), &(*json)[f->name()]);
    }
  }
}

}  // namespace

std::string ToJson(const google::protobuf::Message& message) {
  std::string text;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  options.always_print_enums_as_ints = false;
  (void)google::protobuf::util::MessageToJsonString(message, &text, options);
  nlohmann::json json = nlohmann::json::parse(text);
  AddNulls(message, &json);
  return json.dump();
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
