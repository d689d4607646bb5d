// Every c360.v1 message, with every field set, survives a round trip through protobuf
// binary and through protobuf's JSON mapping (the two encodings SPEC section 1 allows).

#include <google/protobuf/descriptor.h>
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include <memory>

#include "c360/v1/alert.pb.h"
#include "c360/v1/campaign.pb.h"
#include "c360/v1/customer.pb.h"
#include "c360/v1/health.pb.h"
#include "c360/v1/invoice.pb.h"
#include "c360/v1/ticket.pb.h"
#include "c360/v1/usage.pb.h"

namespace c360 {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;

// Sets every field of `m` to a value distinct from its default, recursively; repeated
// fields get two elements. `n` makes values differ between fields.
void FillEveryField(Message* m, int* n) {
  const auto* d = m->GetDescriptor();
  const auto* r = m->GetReflection();
  if (d->full_name() == "google.protobuf.Timestamp") {
    ++*n;
    r->SetInt64(m, d->FindFieldByName("seconds"), 1'795'000'000 + *n);
    r->SetInt32(m, d->FindFieldByName("nanos"), *n * 1000);
    return;
  }
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* f = d->field(i);
    const int copies = f->is_repeated() ? 2 : 1;
    for (int c = 0; c < copies; ++c) {
      ++*n;
      switch (f->cpp_type()) {
        case FieldDescriptor::CPPTYPE_STRING:
          f->is_repeated() ? r->AddString(m, f, "s" + std::to_string(*n))
                           : r->SetString(m, f, "s" + std::to_string(*n));
          break;
        case FieldDescriptor::CPPTYPE_INT32:
          f->is_repeated() ? r->AddInt32(m, f, *n) : r->SetInt32(m, f, *n);
          break;
        case FieldDescriptor::CPPTYPE_INT64:
          f->is_repeated() ? r->AddInt64(m, f, *n * 1000) : r->SetInt64(m, f, *n * 1000);
          break;
        case FieldDescriptor::CPPTYPE_DOUBLE:
          f->is_repeated() ? r->AddDouble(m, f, *n + 0.25) : r->SetDouble(m, f, *n + 0.25);
          break;
        case FieldDescriptor::CPPTYPE_BOOL:
          f->is_repeated() ? r->AddBool(m, f, true) : r->SetBool(m, f, true);
          break;
        case FieldDescriptor::CPPTYPE_ENUM: {
          const auto* last = f->enum_type()->value(f->enum_type()->value_count() - 1);
          f->is_repeated() ? r->AddEnum(m, f, last) : r->SetEnum(m, f, last);
          break;
        }
        case FieldDescriptor::CPPTYPE_MESSAGE:
          FillEveryField(f->is_repeated() ? r->AddMessage(m, f) : r->MutableMessage(m, f), n);
          break;
        default: FAIL() << "field type not covered: " << f->full_name();
      }
    }
  }
}

class SchemaRoundTripTest : public ::testing::TestWithParam<std::shared_ptr<Message>> {};

TEST_P(SchemaRoundTripTest, BinaryAndJsonKeepEveryField) {
  std::unique_ptr<Message> original(GetParam()->New());
  int n = 0;
  FillEveryField(original.get(), &n);
  ASSERT_GT(n, 3);

  std::unique_ptr<Message> from_binary(original->New());
  ASSERT_TRUE(from_binary->ParseFromString(original->SerializeAsString()));
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(*original, *from_binary))
      << from_binary->DebugString();

  std::string json;
  google::protobuf::util::JsonPrintOptions print;
  print.preserve_proto_field_names = true;
  ASSERT_TRUE(google::protobuf::util::MessageToJsonString(*original, &json, print).ok());
  std::unique_ptr<Message> from_json(original->New());
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(json, from_json.get()).ok()) << json;
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(*original, *from_json)) << json;
}

TEST(SchemaTest, EnumsAreNestedWithAnUnspecifiedZero) {
  const std::vector<const google::protobuf::EnumDescriptor*> enums = {
      v1::TicketEvent::Kind_descriptor(),         v1::TicketEvent::Priority_descriptor(),
      v1::InvoiceEvent::Kind_descriptor(),        v1::CampaignEvent::Kind_descriptor(),
      v1::CustomerProfile::Segment_descriptor(),  v1::AlertEvent::Rule_descriptor(),
      v1::AlertEvent::State_descriptor(),         v1::AlertEvent::Severity_descriptor(),
      v1::AlertEvent::SlaKind_descriptor(),       v1::HealthSnapshot::Status_descriptor(),
      v1::HealthSnapshot::RiskLevel_descriptor(), v1::Lifecycle::Stage_descriptor()};
  for (const auto* e : enums) {
    ASSERT_NE(e->containing_type(), nullptr) << e->full_name();
    const auto* zero = e->FindValueByNumber(0);
    ASSERT_NE(zero, nullptr) << e->full_name();
    EXPECT_TRUE(zero->name().ends_with("_UNSPECIFIED")) << zero->name();
  }
  // SPEC names, exactly.
  EXPECT_EQ(v1::TicketEvent::Kind_Name(v1::TicketEvent::REOPENED), "REOPENED");
  EXPECT_EQ(v1::InvoiceEvent::Kind_Name(v1::InvoiceEvent::CREDIT_HOLD_RELEASED),
            "CREDIT_HOLD_RELEASED");
  EXPECT_EQ(v1::CustomerProfile::Segment_Name(v1::CustomerProfile::MID_MARKET), "MID_MARKET");
  EXPECT_EQ(v1::AlertEvent::Rule_Name(v1::AlertEvent::RESPONSE_TIME_HIGH), "RESPONSE_TIME_HIGH");
}

INSTANTIATE_TEST_SUITE_P(
    EveryMessage, SchemaRoundTripTest,
    ::testing::Values(std::make_shared<v1::UsageEvent>(), std::make_shared<v1::TicketEvent>(),
                      std::make_shared<v1::InvoiceEvent>(), std::make_shared<v1::CampaignEvent>(),
                      std::make_shared<v1::CustomerProfile>(), std::make_shared<v1::AlertEvent>(),
                      std::make_shared<v1::HealthSnapshot>()),
    [](const auto& info) { return info.param->GetDescriptor()->name(); });

}  // namespace
}  // namespace c360
