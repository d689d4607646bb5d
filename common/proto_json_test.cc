#include "common/proto_json.h"

#include <google/protobuf/timestamp.pb.h>
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/time_util.h>
#include <gtest/gtest.h>

#include <random>
#include <string>

#include "c360/v1/alert.pb.h"
#include "c360/v1/health.pb.h"

namespace c360 {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;

// What the topics' JSON was before the one mapper: protobuf's MessageToJsonString, parsed,
// with null added for every unset field with presence in a oneof (proto3 `optional`), dumped.
void AddNulls(const Message& message, nlohmann::json* json) {
  const auto* d = message.GetDescriptor();
  const auto* r = message.GetReflection();
  for (int i = 0; i < d->field_count(); ++i) {
    const auto* f = d->field(i);
    if (f->is_repeated()) continue;
    if (f->has_presence() && f->containing_oneof() != nullptr && !r->HasField(message, f)) {
      (*json)[f->name()] = nullptr;
    } else if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE && r->HasField(message, f) &&
               json->contains(f->name()) && (*json)[f->name()].is_object()) {
      AddNulls(r->GetMessage(message, f), &(*json)[f->name()]);
    }
  }
}

std::string ProtobufMapping(const Message& message) {
  std::string text;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  EXPECT_TRUE(google::protobuf::util::MessageToJsonString(message, &text, options).ok());
  nlohmann::json json = nlohmann::json::parse(text);
  AddNulls(message, &json);
  return json.dump();
}

// Fills a message at random by reflection: each field set or not, values across their
// range (integral, fractional, huge and tiny doubles; unknown enum numbers; timestamps with
// 0, 3, 6 or 9 digits of fraction), repeated fields with 0 to 3 elements.
class Filler {
 public:
  explicit Filler(uint32_t seed) : rng_(seed) {}

  void Fill(Message* m, int depth) {
    const auto* d = m->GetDescriptor();
    const auto* r = m->GetReflection();
    if (d == google::protobuf::Timestamp::descriptor()) {
      auto* ts = static_cast<google::protobuf::Timestamp*>(m);
      ts->set_seconds(static_cast<int64_t>(rng_() % 4'000'000'000u));
      const int32_t nanos[] = {0, 500'000'000, 123'000'000, 123'456'000, 123'456'789, 1'000};
      ts->set_nanos(nanos[rng_() % 6]);
      return;
    }
    for (int i = 0; i < d->field_count(); ++i) {
      const FieldDescriptor* f = d->field(i);
      if (rng_() % 4 == 0) continue;  // left unset
      const int n = f->is_repeated() ? static_cast<int>(rng_() % 4) : 1;
      for (int k = 0; k < n; ++k) Set(m, r, f, depth);
    }
  }

 private:
  double RandomDouble() {
    switch (rng_() % 7) {
      case 0: return 0.0;
      case 1: return static_cast<double>(static_cast<int>(rng_() % 200) - 100);  // integral
      case 2: return std::uniform_real_distribution<double>(-100, 100)(rng_);
      case 3: return 1e20 * (rng_() % 2 ? 1 : -1);
      case 4: return 1.0 / 3.0;
      case 5: return 123456789012345.0;
      default: return std::uniform_real_distribution<double>(0, 1e-6)(rng_);
    }
  }
  int64_t RandomInt() {
    const int64_t values[] = {0, 1, -1, 42, 9'007'199'254'740'993, INT64_MIN, INT64_MAX};
    return values[rng_() % 7];
  }
  std::string RandomString() {
    const char* values[] = {"",
                            "cust-00042",
                            "Tidal Retail \"42\"",
                            "caf\xc3\xa9 \xe2\x82\xac",
                            "line\nbreak\ttab\\",
                            "\x01"};
    return values[rng_() % 6];
  }

  void Set(Message* m, const google::protobuf::Reflection* r, const FieldDescriptor* f, int depth) {
    const bool rep = f->is_repeated();
    switch (f->cpp_type()) {
      case FieldDescriptor::CPPTYPE_INT32: {
        const auto v = static_cast<int32_t>(RandomInt());
        rep ? r->AddInt32(m, f, v) : r->SetInt32(m, f, v);
        break;
      }
      case FieldDescriptor::CPPTYPE_UINT32: {
        const auto v = static_cast<uint32_t>(RandomInt());
        rep ? r->AddUInt32(m, f, v) : r->SetUInt32(m, f, v);
        break;
      }
      case FieldDescriptor::CPPTYPE_INT64: {
        const int64_t v = RandomInt();
        rep ? r->AddInt64(m, f, v) : r->SetInt64(m, f, v);
        break;
      }
      case FieldDescriptor::CPPTYPE_UINT64: {
        const auto v = static_cast<uint64_t>(RandomInt());
        rep ? r->AddUInt64(m, f, v) : r->SetUInt64(m, f, v);
        break;
      }
      case FieldDescriptor::CPPTYPE_BOOL: {
        const bool v = rng_() % 2;
        rep ? r->AddBool(m, f, v) : r->SetBool(m, f, v);
        break;
      }
      case FieldDescriptor::CPPTYPE_STRING: {
        const std::string v = RandomString();
        rep ? r->AddString(m, f, v) : r->SetString(m, f, v);
        break;
      }
      case FieldDescriptor::CPPTYPE_FLOAT: {
        const auto v = static_cast<float>(RandomDouble());
        rep ? r->AddFloat(m, f, v) : r->SetFloat(m, f, v);
        break;
      }
      case FieldDescriptor::CPPTYPE_DOUBLE: {
        const double v = RandomDouble();
        rep ? r->AddDouble(m, f, v) : r->SetDouble(m, f, v);
        break;
      }
      case FieldDescriptor::CPPTYPE_ENUM: {
        const auto* e = f->enum_type();
        const int v =
            rng_() % 8 == 0 ? 97 : e->value(static_cast<int>(rng_() % e->value_count()))->number();
        rep ? r->AddEnumValue(m, f, v) : r->SetEnumValue(m, f, v);
        break;
      }
      case FieldDescriptor::CPPTYPE_MESSAGE: {
        if (depth > 3) break;
        Message* sub = rep ? r->AddMessage(m, f) : r->MutableMessage(m, f);
        Fill(sub, depth + 1);
        break;
      }
    }
  }

  std::mt19937 rng_;
};

// The topics' JSON is protobuf's JSON mapping, exactly as before the one mapper (which no
// longer prints text, parses it and prints it again).
TEST(ProtoJsonTest, TopicJsonIsProtobufsMappingWithNulls) {
  Filler filler(7);
  for (int i = 0; i < 2000; ++i) {
    v1::HealthSnapshot snapshot;
    v1::AlertEvent alert;
    filler.Fill(&snapshot, 0);
    filler.Fill(&alert, 0);
    ASSERT_EQ(ProtoToJson(snapshot, kTopicJson).dump(), ProtobufMapping(snapshot))
        << snapshot.DebugString();
    ASSERT_EQ(ProtoToJson(alert, kTopicJson).dump(), ProtobufMapping(alert)) << alert.DebugString();
  }
  // And the empty messages: every field, zeros included; unset sub-messages left out.
  EXPECT_EQ(ProtoToJson(v1::AlertEvent(), kTopicJson).dump(), ProtobufMapping(v1::AlertEvent()));
}

int TwoPlaces(const FieldDescriptor&) { return 2; }

TEST(ProtoJsonTest, TheApisShape) {
  v1::AlertEvent alert;
  alert.set_customer_id("cust-1");
  alert.set_observed_value(2.0 / 3.0);
  alert.set_source_offset(9'007'199'254'740'993);
  *alert.mutable_event_time() = google::protobuf::util::TimeUtil::MillisecondsToTimestamp(0);
  const JsonMapping api{.int64_as_string = false,
                        .unset_messages_as_null = true,
                        .timestamp_millis = true,
                        .decimal_places = &TwoPlaces};
  const nlohmann::json json = ProtoToJson(alert, api);
  EXPECT_EQ(json["observed_value"], 0.67);
  EXPECT_EQ(json["source_offset"], 9'007'199'254'740'993);  // a number, not a string
  EXPECT_EQ(json["event_time"], "1970-01-01T00:00:00.000Z");
  EXPECT_TRUE(json["stream_time"].is_null());  // unset sub-message
  EXPECT_EQ(ProtoToJson(alert, kTopicJson)["source_offset"], "9007199254740993");
  EXPECT_EQ(ProtoToJson(alert, kTopicJson)["event_time"], "1970-01-01T00:00:00Z");
  EXPECT_FALSE(ProtoToJson(alert, kTopicJson).contains("stream_time"));
}

TEST(ProtoJsonTest, RoundedHalfAwayFromZero) {
  EXPECT_EQ(Rounded(0.125, 2), 0.13);
  EXPECT_EQ(Rounded(-0.125, 2), -0.13);
  EXPECT_EQ(Rounded(-2.5, 0), -3.0);
  EXPECT_EQ(Rounded(1.0 / 3.0, 3), 0.333);
}

}  // namespace
}  // namespace c360
