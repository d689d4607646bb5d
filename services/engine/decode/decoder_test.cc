#include "services/engine/decode/decoder.h"

#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include <string>

namespace c360 {
namespace {

constexpr TimeMs kNow = 1'795'000'000'000;  // 2026-11-18T09:46:40Z
constexpr TimeMs kKafkaTs = kNow - 5 * kMsPerHour;

enum class Format { kProtobuf, kJson };

std::string Encode(const google::protobuf::Message& m, Format format) {
  if (format == Format::kProtobuf) return m.SerializeAsString();
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  EXPECT_TRUE(google::protobuf::util::MessageToJsonString(m, &json, options).ok());
  return json;
}

struct Built {
  std::string_view key;
  std::string_view value;
  Format format;
  InputRecord Record(InputTopic topic) const {
    InputRecord r;
    r.topic = topic;
    r.key = key;
    r.value = value;
    if (format == Format::kJson) r.content_type = "application/json";
    r.kafka_timestamp_ms = kKafkaTs;
    return r;
  }
};

v1::TicketEvent GoodTicket() {
  v1::TicketEvent t;
  t.set_event_id("e-1");
  t.set_customer_id("cust-1");
  *t.mutable_event_time() = ToTimestamp(kNow - kMsPerHour);
  t.set_ticket_id("T-1");
  t.set_kind(v1::TicketEvent::CREATED);
  t.set_priority(v1::TicketEvent::P1);
  return t;
}

class DecoderFormatTest : public ::testing::TestWithParam<Format> {
 protected:
  DecodeResult Decode(InputTopic topic, const google::protobuf::Message& m,
                      std::string key = "cust-1") {
    record_value_ = Encode(m, GetParam());
    record_key_ = std::move(key);
    InputRecord r = Built{record_key_, record_value_, GetParam()}.Record(topic);
    return decoder_.Decode(r, kNow);
  }
  static std::string ReasonOf(const DecodeResult& r) {
    return r.ok() ? "ok" : std::string(ReasonLabel(r.dead_letter->reason));
  }

  Decoder decoder_;
  std::string record_key_;
  std::string record_value_;
};

TEST_P(DecoderFormatTest, AcceptsAGoodTicketAndExposesIt) {
  const DecodeResult r = Decode(InputTopic::kTickets, GoodTicket());
  ASSERT_TRUE(r.ok()) << r.dead_letter->detail;
  EXPECT_EQ(r.event_time, kNow - kMsPerHour);
  EXPECT_EQ(decoder_.ticket().ticket_id(), "T-1");
  EXPECT_EQ(decoder_.ticket().priority(), v1::TicketEvent::P1);
}

TEST_P(DecoderFormatTest, UsageWithoutEventTimeTakesTheKafkaTimestamp) {
  v1::UsageEvent u;
  u.set_customer_id("cust-1");
  u.set_module("reports");
  const DecodeResult r = Decode(InputTopic::kUsage, u);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.event_time, kKafkaTs);
}

TEST_P(DecoderFormatTest, MissingFieldsAreNamed) {
  v1::TicketEvent no_customer = GoodTicket();
  no_customer.clear_customer_id();
  EXPECT_EQ(ReasonOf(Decode(InputTopic::kTickets, no_customer)), "missing_field");

  v1::TicketEvent no_event_id = GoodTicket();
  no_event_id.clear_event_id();
  const DecodeResult r = Decode(InputTopic::kTickets, no_event_id);
  EXPECT_EQ(ReasonOf(r), "missing_field");
  EXPECT_NE(r.dead_letter->detail.find("event_id"), std::string::npos);

  v1::TicketEvent no_priority = GoodTicket();
  no_priority.clear_priority();
  EXPECT_EQ(ReasonOf(Decode(InputTopic::kTickets, no_priority)), "missing_field");

  v1::TicketEvent no_kind = GoodTicket();
  no_kind.clear_kind();
  EXPECT_EQ(ReasonOf(Decode(InputTopic::kTickets, no_kind)), "missing_field");

  v1::InvoiceEvent invoice;
  invoice.set_event_id("e-2");
  invoice.set_customer_id("cust-1");
  invoice.set_kind(v1::InvoiceEvent::PAID);
  EXPECT_EQ(ReasonOf(Decode(InputTopic::kInvoices, invoice)), "missing_field");
  invoice.set_kind(v1::InvoiceEvent::CREDIT_HOLD_SET);  // per customer: no invoice_id needed
  EXPECT_EQ(ReasonOf(Decode(InputTopic::kInvoices, invoice)), "ok");

  v1::CampaignEvent campaign;
  campaign.set_event_id("e-3");
  campaign.set_customer_id("cust-1");
  campaign.set_kind(v1::CampaignEvent::SENT);
  EXPECT_EQ(ReasonOf(Decode(InputTopic::kCampaigns, campaign)), "missing_field");
}

TEST_P(DecoderFormatTest, MissingFieldIsCheckedBeforeKeyMismatch) {
  v1::TicketEvent t = GoodTicket();
  t.clear_ticket_id();
  EXPECT_EQ(ReasonOf(Decode(InputTopic::kTickets, t, "someone-else")), "missing_field");
}

TEST_P(DecoderFormatTest, KeyMustEqualCustomerId) {
  const DecodeResult r = Decode(InputTopic::kTickets, GoodTicket(), "cust-2");
  EXPECT_EQ(ReasonOf(r), "key_mismatch");
  EXPECT_NE(r.dead_letter->detail.find("cust-2"), std::string::npos);

  const std::string value = Encode(GoodTicket(), GetParam());
  InputRecord no_key = Built{"", value, GetParam()}.Record(InputTopic::kTickets);
  no_key.key.reset();
  EXPECT_EQ(ReasonOf(decoder_.Decode(no_key, kNow)), "key_mismatch");
}

TEST_P(DecoderFormatTest, KeyMismatchIsCheckedBeforeInvalidValue) {
  v1::TicketEvent t = GoodTicket();
  t.set_csat(9);
  EXPECT_EQ(ReasonOf(Decode(InputTopic::kTickets, t, "cust-2")), "key_mismatch");
}

TEST_P(DecoderFormatTest, InvalidValues) {
  v1::TicketEvent csat = GoodTicket();
  csat.set_csat(6);
  EXPECT_EQ(ReasonOf(Decode(InputTopic::kTickets, csat)), "invalid_value");
  csat.set_csat(0);
  EXPECT_EQ(ReasonOf(Decode(InputTopic::kTickets, csat)), "invalid_value");
  csat.set_csat(1);
  EXPECT_EQ(ReasonOf(Decode(InputTopic::kTickets, csat)), "ok");

  v1::TicketEvent kind = GoodTicket();
  kind.set_kind(static_cast<v1::TicketEvent::Kind>(42));
  EXPECT_EQ(ReasonOf(Decode(InputTopic::kTickets, kind)), "invalid_value");

  v1::CampaignEvent survey;
  survey.set_event_id("e-4");
  survey.set_customer_id("cust-1");
  survey.set_campaign_id("CMP-1");
  survey.set_kind(v1::CampaignEvent::RESPONDED);
  survey.set_nps(11);
  EXPECT_EQ(ReasonOf(Decode(InputTopic::kCampaigns, survey)), "invalid_value");
  survey.set_nps(0);
  EXPECT_EQ(ReasonOf(Decode(InputTopic::kCampaigns, survey)), "ok");

  v1::UsageEvent usage;
  usage.set_customer_id("cust-1");
  usage.set_quantity(-1);
  EXPECT_EQ(ReasonOf(Decode(InputTopic::kUsage, usage)), "invalid_value");

  v1::InvoiceEvent invoice;
  invoice.set_event_id("e-5");
  invoice.set_customer_id("cust-1");
  invoice.set_invoice_id("INV-1");
  invoice.set_kind(v1::InvoiceEvent::ISSUED);
  invoice.set_amount_cents(-100);
  EXPECT_EQ(ReasonOf(Decode(InputTopic::kInvoices, invoice)), "invalid_value");

  v1::CustomerProfile profile;
  profile.set_customer_id("cust-1");
  profile.set_segment(static_cast<v1::CustomerProfile::Segment>(9));
  EXPECT_EQ(ReasonOf(Decode(InputTopic::kCustomers, profile)), "invalid_value");
}

TEST_P(DecoderFormatTest, CustomerIdOfMoreThan256BytesIsInvalidValue) {
  const std::string longest(256, 'c');
  const std::string too_long(257, 'c');
  v1::TicketEvent ticket = GoodTicket();
  ticket.set_customer_id(longest);
  EXPECT_EQ(ReasonOf(Decode(InputTopic::kTickets, ticket, longest)), "ok");
  ticket.set_customer_id(too_long);
  const DecodeResult r = Decode(InputTopic::kTickets, ticket, too_long);
  EXPECT_EQ(ReasonOf(r), "invalid_value");
  EXPECT_EQ(r.dead_letter->detail, "customer_id is 257 bytes; the limit is 256");
  // After key_mismatch, like every invalid value.
  EXPECT_EQ(ReasonOf(Decode(InputTopic::kTickets, ticket, "cust-1")), "key_mismatch");

  v1::UsageEvent usage;
  usage.set_customer_id(too_long);
  EXPECT_EQ(ReasonOf(Decode(InputTopic::kUsage, usage, too_long)), "invalid_value");
  v1::CustomerProfile profile;
  profile.set_customer_id(too_long);
  EXPECT_EQ(ReasonOf(Decode(InputTopic::kCustomers, profile, too_long)), "invalid_value");
  profile.set_customer_id(longest);
  EXPECT_EQ(ReasonOf(Decode(InputTopic::kCustomers, profile, longest)), "ok");
}

TEST_P(DecoderFormatTest, FutureTimestampIsJudgedAgainstTheWallClock) {
  v1::TicketEvent t = GoodTicket();
  *t.mutable_event_time() = ToTimestamp(kNow + kMsPerHour);  // exactly 1 h ahead: accepted
  EXPECT_EQ(ReasonOf(Decode(InputTopic::kTickets, t)), "ok");
  *t.mutable_event_time() = ToTimestamp(kNow + kMsPerHour + 1);
  const DecodeResult r = Decode(InputTopic::kTickets, t);
  EXPECT_EQ(ReasonOf(r), "future_timestamp");
  EXPECT_EQ(r.event_time, kNow + kMsPerHour + 1);
}

TEST_P(DecoderFormatTest, ProfilesAreNeverFutureTimestamp) {
  v1::CustomerProfile p;
  p.set_customer_id("cust-1");
  *p.mutable_contract_end() = ToTimestamp(kNow + 400 * kMsPerDay);
  EXPECT_EQ(ReasonOf(Decode(InputTopic::kCustomers, p)), "ok");
}

TEST_P(DecoderFormatTest, OversizeComesFirst) {
  v1::TicketEvent t = GoodTicket();
  t.set_subject(std::string(kMaxValueBytes, 'x'));
  t.clear_customer_id();  // also missing a field, but oversize is checked first
  EXPECT_EQ(ReasonOf(Decode(InputTopic::kTickets, t)), "oversize");
}

INSTANTIATE_TEST_SUITE_P(BothFormats, DecoderFormatTest,
                         ::testing::Values(Format::kProtobuf, Format::kJson), [](const auto& info) {
                           return info.param == Format::kProtobuf ? "Protobuf" : "Json";
                         });

DecodeResult DecodeRaw(Decoder& d, InputTopic topic, std::string_view value, bool json,
                       std::optional<std::string_view> key = "cust-1") {
  InputRecord r;
  r.topic = topic;
  r.key = key;
  r.value = value;
  if (json) r.content_type = "application/json";
  r.kafka_timestamp_ms = kKafkaTs;
  return d.Decode(r, kNow);
}

TEST(DecoderTest, MalformedProtobufAndJson) {
  Decoder d;
  const std::string good = GoodTicket().SerializeAsString();
  const DecodeResult truncated =
      DecodeRaw(d, InputTopic::kTickets, std::string_view(good).substr(0, good.size() - 3), false);
  ASSERT_FALSE(truncated.ok());
  EXPECT_EQ(ReasonLabel(truncated.dead_letter->reason), "malformed");

  for (std::string_view bad :
       {"{not json", "[1,2,3]", "{\"quantity\": \"lots\"}", "{\"event_time\": \"yesterday\"}"}) {
    const DecodeResult r = DecodeRaw(d, InputTopic::kUsage, bad, true);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(ReasonLabel(r.dead_letter->reason), "malformed") << bad;
  }
}

TEST(DecoderTest, JsonIgnoresUnknownFieldsAndAcceptsContentTypeParameters) {
  Decoder d;
  InputRecord r;
  r.topic = InputTopic::kUsage;
  r.key = "cust-1";
  const std::string json =
      R"({"customer_id":"cust-1","module":"reports","quantity":"3","added_in_v9":{"x":1}})";
  r.value = json;
  r.content_type = "Application/JSON; charset=utf-8";
  r.kafka_timestamp_ms = kKafkaTs;
  const DecodeResult result = d.Decode(r, kNow);
  ASSERT_TRUE(result.ok()) << result.dead_letter->detail;
  EXPECT_EQ(d.usage().quantity(), 3);
  EXPECT_EQ(result.event_time, kKafkaTs);
}

TEST(DecoderTest, JsonUnknownEnumNameIsInvalidValueNotMissing) {
  Decoder d;
  const DecodeResult r = DecodeRaw(
      d, InputTopic::kTickets,
      R"({"event_id":"e","customer_id":"cust-1","ticket_id":"T","kind":"EXPLODED"})", true);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(ReasonLabel(r.dead_letter->reason), "invalid_value");
  EXPECT_NE(r.dead_letter->detail.find("EXPLODED"), std::string::npos);

  const DecodeResult priority = DecodeRaw(
      d, InputTopic::kTickets,
      R"({"event_id":"e","customer_id":"cust-1","ticket_id":"T","kind":"CREATED","priority":"P9"})",
      true);
  ASSERT_FALSE(priority.ok());
  EXPECT_EQ(ReasonLabel(priority.dead_letter->reason), "invalid_value");
}

TEST(DecoderTest, UnspecifiedEnumNameIsMissingField) {
  Decoder d;
  const DecodeResult r = DecodeRaw(
      d, InputTopic::kTickets,
      R"({"event_id":"e","customer_id":"cust-1","ticket_id":"T","kind":"KIND_UNSPECIFIED"})", true);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(ReasonLabel(r.dead_letter->reason), "missing_field");
}

TEST(DecoderTest, DeeplyNestedJsonIsRejectedWithoutCrashing) {
  Decoder d;
  std::string deep = R"({"customer_id":"cust-1","x":)";
  deep += std::string(100'000, '[') + std::string(100'000, ']') + "}";
  const DecodeResult r = DecodeRaw(d, InputTopic::kUsage, deep, true);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.dead_letter->reason, DeadLetterReason::kMalformed);
  EXPECT_NE(r.dead_letter->detail.find("deeper"), std::string::npos);

  // Nesting inside an unknown field within the bound is forward compatible, and brackets
  // inside strings do not count.
  const std::string shallow = R"({"customer_id":"cust-1","future":[[{"a":"[[[[{{{{"}]]})";
  EXPECT_TRUE(DecodeRaw(d, InputTopic::kUsage, shallow, true).ok());
}

TEST(DecoderTest, TombstonesOnlyOnTheCustomersTopic) {
  Decoder d;
  InputRecord r;
  r.topic = InputTopic::kCustomers;
  r.key = "cust-1";
  const DecodeResult tombstone = d.Decode(r, kNow);
  ASSERT_TRUE(tombstone.ok());
  EXPECT_TRUE(tombstone.tombstone);

  r.key.reset();
  EXPECT_EQ(d.Decode(r, kNow).dead_letter->reason, DeadLetterReason::kKeyMismatch);
  const std::string too_long(257, 'c');
  r.key = too_long;  // no customer can have that id, so no profile to remove
  EXPECT_EQ(d.Decode(r, kNow).dead_letter->reason, DeadLetterReason::kInvalidValue);

  r.topic = InputTopic::kUsage;
  r.key = "cust-1";
  EXPECT_EQ(d.Decode(r, kNow).dead_letter->reason, DeadLetterReason::kMissingField);
}

TEST(DecoderTest, OutOfRangeTimestampIsInvalidValue) {
  Decoder d;
  v1::TicketEvent t = GoodTicket();
  t.mutable_event_time()->set_seconds(int64_t{1} << 60);
  const DecodeResult r = DecodeRaw(d, InputTopic::kTickets, t.SerializeAsString(), false);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.dead_letter->reason, DeadLetterReason::kInvalidValue);
  EXPECT_EQ(r.event_time, kKafkaTs);  // unreadable event_time: ordered by the Kafka time
}

TEST(DecoderTest, TooLateStartsBeforeDayDMinus89) {
  // T on day D; the window keeps days D-89..D (90 days).
  const TimeMs t = StartOfDay(20'000) + 5 * kMsPerHour;
  const TimeMs first_kept = StartOfDay(20'000 - 89);
  EXPECT_FALSE(CheckTooLate(first_kept, t, 90).has_value());
  const auto late = CheckTooLate(first_kept - 1, t, 90);
  ASSERT_TRUE(late.has_value());
  EXPECT_EQ(ReasonLabel(late->reason), "too_late");
  EXPECT_TRUE(CheckTooLate(first_kept, t, 60).has_value());
}

}  // namespace
}  // namespace c360
