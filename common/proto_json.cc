#include "common/proto_json.h"

#include <google/protobuf/timestamp.pb.h>
#include <google/protobuf/util/time_util.h>

#include <cmath>
#include <cstdint>
#include <limits>

#include "common/time.h"

namespace c360 {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;
using nlohmann::json;

// A double as protobuf's JSON mapping writes it: integral values without a fraction (as
// protobuf prints 30.0 as 30), NaN and the infinities as strings.
json Double(double v, const JsonMapping& mapping, const FieldDescriptor& f) {
  if (mapping.decimal_places != nullptr) v = Rounded(v, mapping.decimal_places(f));
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "Infinity" : "-Infinity";
  if (mapping.decimal_places == nullptr && std::trunc(v) == v && std::fabs(v) < 1e15) {
    return static_cast<int64_t>(v);
  }
  return v;
}

json Value(const Message& m, const FieldDescriptor& f, int index, const JsonMapping& mapping) {
  const Reflection* r = m.GetReflection();
  const bool rep = f.is_repeated();
  switch (f.cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32:
      return rep ? r->GetRepeatedInt32(m, &f, index) : r->GetInt32(m, &f);
    case FieldDescriptor::CPPTYPE_UINT32:
      return rep ? r->GetRepeatedUInt32(m, &f, index) : r->GetUInt32(m, &f);
    case FieldDescriptor::CPPTYPE_INT64: {
      const int64_t v = rep ? r->GetRepeatedInt64(m, &f, index) : r->GetInt64(m, &f);
      return mapping.int64_as_string ? json(std::to_string(v)) : json(v);
    }
    case FieldDescriptor::CPPTYPE_UINT64: {
      const uint64_t v = rep ? r->GetRepeatedUInt64(m, &f, index) : r->GetUInt64(m, &f);
      return mapping.int64_as_string ? json(std::to_string(v)) : json(v);
    }
    case FieldDescriptor::CPPTYPE_BOOL:
      return rep ? r->GetRepeatedBool(m, &f, index) : r->GetBool(m, &f);
    case FieldDescriptor::CPPTYPE_STRING:
      return rep ? r->GetRepeatedString(m, &f, index) : r->GetString(m, &f);
    case FieldDescriptor::CPPTYPE_FLOAT:
      return Double(rep ? r->GetRepeatedFloat(m, &f, index) : r->GetFloat(m, &f), mapping, f);
    case FieldDescriptor::CPPTYPE_DOUBLE:
      return Double(rep ? r->GetRepeatedDouble(m, &f, index) : r->GetDouble(m, &f), mapping, f);
    case FieldDescriptor::CPPTYPE_ENUM: {
      const int number = rep ? r->GetRepeatedEnumValue(m, &f, index) : r->GetEnumValue(m, &f);
      const auto* value = f.enum_type()->FindValueByNumber(number);
      return value != nullptr ? json(value->name()) : json(number);  // unknown: its number
    }
    case FieldDescriptor::CPPTYPE_MESSAGE: {
      const Message& sub = rep ? r->GetRepeatedMessage(m, &f, index) : r->GetMessage(m, &f);
      if (sub.GetDescriptor() == google::protobuf::Timestamp::descriptor()) {
        const auto& ts = static_cast<const google::protobuf::Timestamp&>(sub);
        return mapping.timestamp_millis ? FormatRfc3339(ToMs(ts))
                                        : google::protobuf::util::TimeUtil::ToString(ts);
      }
      return ProtoToJson(sub, mapping);
    }
  }
  return nullptr;
}

}  // namespace

json ProtoToJson(const Message& message, const JsonMapping& mapping) {
  json out = json::object();
  const google::protobuf::Descriptor* d = message.GetDescriptor();
  const Reflection* r = message.GetReflection();
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor& f = *d->field(i);
    if (f.is_repeated()) {
      json list = json::array();
      for (int k = 0; k < r->FieldSize(message, &f); ++k) {
        list.push_back(Value(message, f, k, mapping));
      }
      out[f.name()] = std::move(list);
    } else if (f.has_presence() && !r->HasField(message, &f)) {
      // proto3 `optional` and oneof members: null; an unset sub-message: as the mapping says.
      if (f.containing_oneof() != nullptr || mapping.unset_messages_as_null ||
          f.cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE) {
        out[f.name()] = nullptr;
      }
    } else {
      out[f.name()] = Value(message, f, 0, mapping);
    }
  }
  return out;
}

double Rounded(double value, int places) {
  const double scale = std::pow(10.0, places);
  return std::round(value * scale) / scale;
}

}  // namespace c360
