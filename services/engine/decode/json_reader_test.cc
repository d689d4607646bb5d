// JsonReader against the path it replaced: nlohmann::json (after a depth pre-scan), enum
// names the schema does not define marked, dumped back to a string and read by protobuf's
// JsonStringToMessage with ignore_unknown_fields. Kept here, as ReferenceRead, only to
// compare with. The decoder consumes nothing else of a JSON value than what both return
// (the message, the undefined enum names, or the malformed verdict), so equal results here
// are equal dead letters; DecoderSeesJsonAsProtobuf checks the whole Decode on top.
//
// Inputs: a table of edge cases, every input type's records from the generator (proto
// and lowerCamelCase names), thousands of them mutated member by member (values from
// pools of edge values, names swapped, duplicated, dropped, reordered, unknown members
// added) and thousands mutated byte by byte. One reader and one message per type serve
// every input, as in the engine (protobuf records are decoded into the same messages in
// between), so state left over from one value would show in the next.

#include "services/engine/decode/json_reader.h"

#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "common/time.h"
#include "common/topics.h"
#include "services/engine/decode/decoder.h"
#include "services/generator/simulation.h"

// Counts heap allocations while `counting` is set (AllocationFreeOnceWarm).
namespace {
std::atomic<bool> counting{false};
std::atomic<int64_t> allocations{0};

void* CountedAlloc(std::size_t size) noexcept {
  if (counting.load(std::memory_order_relaxed)) allocations.fetch_add(1);
  return std::malloc(size == 0 ? 1 : size);
}
}  // namespace

// Every form of new and delete, so that all of them meet in malloc and free (under
// AddressSanitizer too, whose own forms would otherwise pair with these). GCC takes the
// free() below for a mismatch with the new of the call sites it inlines into.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void* operator new(std::size_t size) {
  if (void* p = CountedAlloc(size)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t size) { return operator new(size); }
void* operator new(std::size_t size, const std::nothrow_t&) noexcept { return CountedAlloc(size); }
void* operator new[](std::size_t size, const std::nothrow_t&) noexcept {
  return CountedAlloc(size);
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }
#pragma GCC diagnostic pop

namespace c360 {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;

// --- The old path ----------------------------------------------------------------------

struct Outcome {
  std::optional<std::string> malformed;
  std::vector<BadEnum> bad_enums;
};

int ReferenceDepth(std::string_view text) {
  int depth = 0;
  int deepest = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      deepest = std::max(deepest, ++depth);
      if (deepest > kMaxJsonDepth) break;
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  return deepest;
}

void ReferenceMarkUndefinedEnumNames(nlohmann::json& object, const Descriptor* descriptor,
                                     std::vector<BadEnum>* bad) {
  for (auto& [name, value] : object.items()) {
    const FieldDescriptor* field = descriptor->FindFieldByName(name);
    if (field == nullptr) field = descriptor->FindFieldByCamelcaseName(name);
    if (field == nullptr || field->is_repeated()) continue;
    if (field->type() == FieldDescriptor::TYPE_ENUM && value.is_string()) {
      const std::string text = value.get<std::string>();
      if (field->enum_type()->FindValueByName(text) == nullptr) {
        bad->push_back({field->name(), text});
        value = kUndefinedEnumNumber;
      }
    } else if (field->type() == FieldDescriptor::TYPE_MESSAGE && value.is_object() &&
               field->message_type()->file()->package() != "google.protobuf") {
      ReferenceMarkUndefinedEnumNames(value, field->message_type(), bad);
    }
  }
}

Outcome ReferenceRead(std::string_view value, Message* message) {
  Outcome out;
  const std::string& type = message->GetDescriptor()->full_name();
  if (ReferenceDepth(value) > kMaxJsonDepth) {
    out.malformed = "JSON nests deeper than " + std::to_string(kMaxJsonDepth) + " levels";
    return out;
  }
  nlohmann::json json = nlohmann::json::parse(value, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) {
    out.malformed = "value is not valid JSON";
    return out;
  }
  if (!json.is_object()) {
    out.malformed = std::string("JSON value is ") + json.type_name() + ", not an object";
    return out;
  }
  ReferenceMarkUndefinedEnumNames(json, message->GetDescriptor(), &out.bad_enums);
  const std::string dumped = json.dump();
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;
  message->Clear();
  const auto status = google::protobuf::util::JsonStringToMessage(dumped, message, options);
  if (!status.ok()) {
    out.malformed = "JSON does not match " + type + ": " + std::string(status.message());
  }
  return out;
}

// --- The comparison --------------------------------------------------------------------

// A malformed detail as far as the two paths say the same: which check failed (the
// mismatch itself is worded by each path).
std::string DetailClass(const std::string& detail) {
  if (detail.starts_with("JSON does not match ")) return detail.substr(0, detail.find(':'));
  return detail;  // depth, not valid JSON, not an object: word for word
}

class Differential {
 public:
  // Reads `json` both ways as the message of `topic`; EXPECTs the same outcome.
  void Check(InputTopic topic, std::string_view json) {
    switch (topic) {
      case InputTopic::kUsage: Compare<v1::UsageEvent>(json, &usage_); break;
      case InputTopic::kTickets: Compare<v1::TicketEvent>(json, &ticket_); break;
      case InputTopic::kInvoices: Compare<v1::InvoiceEvent>(json, &invoice_); break;
      case InputTopic::kCampaigns: Compare<v1::CampaignEvent>(json, &campaign_); break;
      case InputTopic::kCustomers: Compare<v1::CustomerProfile>(json, &profile_); break;
    }
  }
  // Parses protobuf bytes into the message the next JSON value of `topic` reuses.
  void Protobuf(InputTopic topic, const std::string& bytes) {
    Message* m = nullptr;
    switch (topic) {
      case InputTopic::kUsage: m = &usage_; break;
      case InputTopic::kTickets: m = &ticket_; break;
      case InputTopic::kInvoices: m = &invoice_; break;
      case InputTopic::kCampaigns: m = &campaign_; break;
      case InputTopic::kCustomers: m = &profile_; break;
    }
    ASSERT_TRUE(m->ParseFromString(bytes));
  }

  int compared = 0;
  int malformed = 0;
  int with_bad_enums = 0;

 private:
  template <typename M>
  void Compare(std::string_view json, M* reused) {
    M expected;
    const Outcome old = ReferenceRead(json, &expected);
    Outcome now;
    now.malformed = reader_.Read(json, reused, &now.bad_enums);
    ++compared;
    ASSERT_EQ(old.malformed.has_value(), now.malformed.has_value())
        << "input: " << json
        << "\nold: " << old.malformed.value_or("ok " + expected.ShortDebugString())
        << "\nnew: " << now.malformed.value_or("ok " + reused->ShortDebugString());
    if (old.malformed) {
      ++malformed;
      EXPECT_EQ(DetailClass(*old.malformed), DetailClass(*now.malformed))
          << "input: " << json << "\nold: " << *old.malformed << "\nnew: " << *now.malformed;
      return;
    }
    // Bytes compare presence too (an empty Timestamp set, an optional 0).
    EXPECT_EQ(expected.SerializeAsString(), reused->SerializeAsString())
        << "input: " << json << "\nold: " << expected.ShortDebugString()
        << "\nnew: " << reused->ShortDebugString();
    ASSERT_EQ(old.bad_enums.size(), now.bad_enums.size()) << "input: " << json;
    if (!old.bad_enums.empty()) ++with_bad_enums;
    for (size_t i = 0; i < old.bad_enums.size(); ++i) {
      EXPECT_EQ(old.bad_enums[i].field, now.bad_enums[i].field) << "input: " << json;
      EXPECT_EQ(old.bad_enums[i].text, now.bad_enums[i].text) << "input: " << json;
    }
  }

  JsonReader reader_;
  v1::UsageEvent usage_;
  v1::TicketEvent ticket_;
  v1::InvoiceEvent invoice_;
  v1::CampaignEvent campaign_;
  v1::CustomerProfile profile_;
};

const Descriptor* DescriptorOf(InputTopic topic) {
  switch (topic) {
    case InputTopic::kUsage: return v1::UsageEvent::descriptor();
    case InputTopic::kTickets: return v1::TicketEvent::descriptor();
    case InputTopic::kInvoices: return v1::InvoiceEvent::descriptor();
    case InputTopic::kCampaigns: return v1::CampaignEvent::descriptor();
    case InputTopic::kCustomers: return v1::CustomerProfile::descriptor();
  }
  return nullptr;
}

// --- Inputs ------------------------------------------------------------------------------

struct Generated {
  InputTopic topic;
  std::string key;
  std::string protobuf;
  std::string json;        // proto field names, as `c360 gen --format json`
  std::string camel_json;  // lowerCamelCase json_names, protobuf's default
  TimeMs time;
};

// Up to `per_topic` records of each input type from the generator, profiles included.
std::vector<Generated> GeneratedRecords(size_t per_topic) {
  gen::Simulation sim(
      {.customers = 60, .history_days = 40, .seed = 11, .start_ms = 1'780'000'000'000});
  std::vector<gen::GeneratedRecord> records = sim.Profiles();
  std::vector<gen::GeneratedRecord> day;
  for (int d = 0; d < 40; ++d) {
    sim.NextDay(&day);
    records.insert(records.end(), day.begin(), day.end());
  }
  google::protobuf::util::JsonPrintOptions snake;
  snake.preserve_proto_field_names = true;
  const google::protobuf::util::JsonPrintOptions camel;
  std::vector<Generated> out;
  size_t count[kAllInputTopics.size()] = {};
  for (const gen::GeneratedRecord& r : records) {
    if (count[static_cast<int>(r.topic)]++ >= per_topic) continue;
    Generated& g = out.emplace_back();
    g.topic = r.topic;
    g.key = r.customer_id;
    g.protobuf = r.AsMessage().SerializeAsString();
    EXPECT_TRUE(google::protobuf::util::MessageToJsonString(r.AsMessage(), &g.json, snake).ok());
    EXPECT_TRUE(
        google::protobuf::util::MessageToJsonString(r.AsMessage(), &g.camel_json, camel).ok());
    g.time = r.time;
  }
  return out;
}

// Values of JSON members, as text, by what they try.
const std::vector<std::string> kAnyValues = {
    "null",
    "true",
    "false",
    "[]",
    "[1,\"a\",null]",
    "{}",
    "{\"a\":{\"b\":[1,2]}}",
    "\"\"",
    "\"text\"",
    "0",
    "-1",
    "1.5",
    "1e400x",
    "\"\\u00e9\\ud83d\\ude00\"",
};
const std::vector<std::string> kStringValues = {
    "\"\"",
    "\"cust-1\"",
    "\"h\\u00e9llo \\u2713\"",
    "\"\\ud83d\\ude00\"",
    "\"a\\u0000b\"",
    "\"tab\\there\\nnew line\"",
    "\"\\\"quoted\\\" \\\\ slash \\/\"",
    "\"" + std::string(300, 'x') + "\"",
    "5",
    "true",
    "{}",
    "[\"a\"]",
};
const std::vector<std::string> kIntegerValues = {
    "0",
    "1",
    "-1",
    "3",
    "2147483647",
    "2147483648",
    "-2147483648",
    "-2147483649",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775808",
    "-9223372036854775809",
    "18446744073709551615",
    "18446744073709551616",
    "123456789012345678901234567890",
    "-123456789012345678901234567890",
    "1.0",
    "1.5",
    "1e2",
    "1E2",
    "1e+2",
    "-0",
    "-0.0",
    "0.0",
    "1e-5",
    "2.5e-400",
    "1e308",
    "9.2233720368547758e18",
    "9.223372036854775e18",
    "-9.223372036854775808e18",
    "2147483647.0",
    "2147483648.0",
    "-2147483648.0",
    "-2147483649.0",
    "\"3\"",
    "\"+3\"",
    "\"-0\"",
    "\"007\"",
    "\" 3\"",
    "\"3 \"",
    "\"3.0\"",
    "\"1e2\"",
    "\"\"",
    "\"-\"",
    "\"+\"",
    "\"0x10\"",
    "\"9223372036854775807\"",
    "\"9223372036854775808\"",
    "\"-9223372036854775808\"",
    "\"-9223372036854775809\"",
    "\"2147483648\"",
    "\"-2147483648\"",
    "\"3\\u0000\"",
    "\"\\u0033\"",
    "\"00000000000000000000000001\"",
};
const std::vector<std::string> kEnumValues = {
    "\"created\"",
    "\"EXPLODED\"",
    "\"1\"",
    "\"\"",
    "\" CREATED\"",
    "1",
    "2",
    "4",
    "99",
    "-1",
    "1.0",
    "1.5",
    "2147483648",
    "-2147483648",
    "\"KIND_UNSPECIFIED\"",
    "\"SEGMENT_UNSPECIFIED\"",
    "\"P9\"",
    "\"CREDIT_HOLD_RELEASED\"",
    "\"DISPUTE_RESOLVED\"",
};
const std::vector<std::string> kTimestampValues = {
    "\"2026-11-18T09:46:40Z\"",
    "\"2026-11-18T09:46:40.5Z\"",
    "\"2026-11-18T09:46:40.582Z\"",
    "\"2026-11-18T09:46:40.123456Z\"",
    "\"2026-11-18T09:46:40.123456789Z\"",
    "\"2026-11-18T09:46:40.1234567891Z\"",
    "\"2026-11-18T09:46:40.Z\"",
    "\"2026-11-18T09:46:40+01:00\"",
    "\"2026-11-18T09:46:40.25-01:30\"",
    "\"2026-11-18T09:46:40+1:00\"",
    "\"2026-11-18T09:46:40+01:60\"",
    "\"2026-11-18T09:46:40+24:00\"",
    "\"2026-11-18T09:46:40+0100\"",
    "\"2026-11-18t09:46:40z\"",
    "\"2026-11-18 09:46:40Z\"",
    "\"2026-11-18T09:46:40\"",
    "\"2026-02-29T00:00:00Z\"",
    "\"2028-02-29T00:00:00Z\"",
    "\"2026-02-30T09:46:40Z\"",
    "\"2026-13-01T09:46:40Z\"",
    "\"2026-00-10T09:46:40Z\"",
    "\"2026-11-00T09:46:40Z\"",
    "\"2026-11-18T24:00:00Z\"",
    "\"2026-11-18T23:60:00Z\"",
    "\"2026-11-18T23:59:60Z\"",
    "\"0001-01-01T00:00:00Z\"",
    "\"0000-12-31T23:59:59Z\"",
    "\"9999-12-31T23:59:59Z\"",
    "\"9999-12-31T23:59:59-01:00\"",
    "\"0001-01-01T00:00:00+01:00\"",
    "\"10000-01-01T00:00:00Z\"",
    "\"1970-01-01T00:00:00Z\"",
    "\"1969-12-31T23:59:59.999Z\"",
    "\"2026-1-18T09:46:40Z\"",
    "\"2026-11-8T9:46:40Z\"",
    "\"+2026-11-18T09:46:40Z\"",
    "\" 2026-11-18T09:46:40Z\"",
    "\"2026-11-18T09:46:40Z \"",
    "\"2026-11-18T09:46:40Zjunk\"",
    "\"2026-11-18T09:46:40Z\\u0000junk\"",
    "\"2026-11-18T09:46:4OZ\"",
    "\"2026-11-18T09:46:40.1a3Z\"",
    "\"\"",
    "5",
    "true",
    "[]",
    "{}",
    "{\"seconds\":5}",
    "{\"seconds\":\"5\",\"nanos\":7}",
    "{\"nanos\":-1}",
    "{\"seconds\":5.5}",
    "{\"seconds\":null}",
    "{\"seconds\":1,\"seconds\":2}",
    "{\"seconds\":{}}",
    "{\"seconds\":[1]}",
    "{\"Seconds\":1}",
    "{\"x\":[1,{\"y\":2}],\"nanos\":3}",
    "{\"value\":\"2026-11-18T09:46:40Z\"}",
    "{\"seconds\":99999999999999}",
    "{\"nanos\":2147483648}",
};

const std::vector<std::string> kUnknownNames = {
    "added_in_v9",        "CustomerId", "customerid",          "@type", "",
    "event_time.seconds", "kind ",      "\u00e9v\u00e9nement",
};

const std::vector<std::string>& ValuesFor(const FieldDescriptor* field) {
  if (field == nullptr) return kAnyValues;
  switch (field->type()) {
    case FieldDescriptor::TYPE_STRING: return kStringValues;
    case FieldDescriptor::TYPE_ENUM: return kEnumValues;
    case FieldDescriptor::TYPE_MESSAGE: return kTimestampValues;
    default: return kIntegerValues;
  }
}

// A JSON object as its members' text, so members can repeat.
using Members = std::vector<std::pair<std::string, std::string>>;

Members MembersOf(const std::string& json) {
  Members members;
  const nlohmann::ordered_json object = nlohmann::ordered_json::parse(json);
  for (const auto& [key, value] : object.items()) {
    members.emplace_back(key, value.dump());
  }
  return members;
}

std::string Text(const Members& members, std::mt19937& rng) {
  const auto space = [&rng] {
    return rng() % 8 == 0 ? std::string(" \n\t\r").substr(rng() % 4, 1) : "";
  };
  std::string out = space() + "{";
  for (size_t i = 0; i < members.size(); ++i) {
    if (i > 0) out += ",";
    out += space() + nlohmann::json(members[i].first).dump() + space() + ":" + space() +
           members[i].second + space();
  }
  return out + "}" + space();
}

// One to three member-level changes.
void Mutate(Members* members, const Descriptor* type, std::mt19937& rng) {
  const auto pick = [&rng](const auto& v) -> const auto& { return v[rng() % v.size()]; };
  const auto random_field = [&]() {
    return type->field(static_cast<int>(rng() % type->field_count()));
  };
  const auto value_for = [&](const FieldDescriptor* field) -> std::string {
    if (field != nullptr && field->type() == FieldDescriptor::TYPE_ENUM && rng() % 2 == 0) {
      const auto* e = field->enum_type();
      return "\"" + e->value(static_cast<int>(rng() % e->value_count()))->name() + "\"";
    }
    return rng() % 10 == 0 ? pick(kAnyValues) : pick(ValuesFor(field));
  };
  const int changes = 1 + static_cast<int>(rng() % 3);
  for (int c = 0; c < changes; ++c) {
    const size_t at = members->empty() ? 0 : rng() % members->size();
    switch (rng() % 9) {
      case 0:
      case 1: {  // a field's value
        const FieldDescriptor* field = random_field();
        bool found = false;
        for (auto& [key, value] : *members) {
          if (key == field->name() || key == field->json_name()) {
            value = value_for(field);
            found = true;
          }
        }
        if (!found) members->emplace_back(field->name(), value_for(field));
        break;
      }
      case 2:  // the other name
        if (!members->empty()) {
          auto& key = (*members)[at].first;
          if (const FieldDescriptor* f = type->FindFieldByName(key)) {
            key = f->json_name();
          } else if (const FieldDescriptor* g = type->FindFieldByCamelcaseName(key)) {
            key = g->name();
          }
        }
        break;
      case 3: {  // a field given twice, under either name
        const FieldDescriptor* field = random_field();
        const std::string key = rng() % 2 ? field->name() : field->json_name();
        members->insert(members->begin() +
                            static_cast<long>(members->empty() ? 0 : rng() % (members->size() + 1)),
                        {key, value_for(field)});
        break;
      }
      case 4:  // an unknown member
        members->insert(members->begin() + static_cast<long>(at),
                        {pick(kUnknownNames), pick(kAnyValues)});
        break;
      case 5:  // dropped
        if (!members->empty()) members->erase(members->begin() + static_cast<long>(at));
        break;
      case 6:  // null
        if (!members->empty()) (*members)[at].second = "null";
        break;
      case 7:  // reordered
        std::shuffle(members->begin(), members->end(), rng);
        break;
      case 8:  // a value of another field
        if (!members->empty()) (*members)[at].second = value_for(random_field());
        break;
    }
  }
}

// One to three byte-level changes: mostly not JSON any more, sometimes still.
std::string MutateBytes(std::string text, std::mt19937& rng) {
  const int changes = 1 + static_cast<int>(rng() % 3);
  for (int c = 0; c < changes && !text.empty(); ++c) {
    const size_t at = rng() % text.size();
    switch (rng() % 7) {
      case 0: text[at] = static_cast<char>(rng() % 256); break;
      case 1: text.insert(at, 1, static_cast<char>(rng() % 256)); break;
      case 2: text.erase(at, 1); break;
      case 3: text.resize(at); break;
      case 4: text.insert(at, "\xC3\x28"); break;     // invalid UTF-8
      case 5: text.insert(0, "\xEF\xBB\xBF"); break;  // byte order mark
      case 6: text.insert(at, std::string(1, "{}[]\",:\\0123456789-.eE"[rng() % 22])); break;
    }
  }
  return text;
}

std::string Nested(int depth, std::string_view inner = "") {
  return std::string(depth, '[') + std::string(inner) + std::string(depth, ']');
}

// --- Tests -------------------------------------------------------------------------------

TEST(JsonReaderTest, EdgeCasesReadAsBefore) {
  const std::string t = R"("event_id":"e","customer_id":"c","ticket_id":"T",)";
  const std::vector<std::pair<InputTopic, std::string>> cases = {
      // Not objects, not JSON.
      {InputTopic::kUsage, ""},
      {InputTopic::kUsage, "   "},
      {InputTopic::kUsage, "null"},
      {InputTopic::kUsage, "true"},
      {InputTopic::kUsage, "1"},
      {InputTopic::kUsage, "1.5"},
      {InputTopic::kUsage, "-1"},
      {InputTopic::kUsage, "18446744073709551615"},
      {InputTopic::kUsage, "\"s\""},
      {InputTopic::kUsage, "[]"},
      {InputTopic::kUsage, "[{}]"},
      {InputTopic::kUsage, "{not json"},
      {InputTopic::kUsage, "{\"customer_id\":\"c\"} x"},
      {InputTopic::kUsage, "{\"customer_id\":\"c\"}{}"},
      {InputTopic::kUsage, "{\"customer_id\":\"c\",}"},
      {InputTopic::kUsage, "{\"customer_id\":\"c\"} //"},
      {InputTopic::kUsage, "{'customer_id':'c'}"},
      {InputTopic::kUsage, " \n{\"customer_id\":\"c\"}\t\r\n"},
      {InputTopic::kUsage, "\xEF\xBB\xBF{\"customer_id\":\"c\"}"},
      {InputTopic::kUsage, "\xEF\xBB\xBF"},
      {InputTopic::kUsage, "\xEF\xBB{}"},
      {InputTopic::kUsage, "{\"customer_id\":\"c\"}\xEF\xBB\xBF"},
      // nlohmann ended the value at a NUL byte.
      {InputTopic::kUsage, std::string("{\"customer_id\":\"c\"}\0", 20)},
      {InputTopic::kUsage, std::string("{\"customer_id\":\"c\"}\0{not json", 29)},
      {InputTopic::kUsage, std::string("{\"customer_id\":\"c\"\0}", 20)},
      {InputTopic::kUsage, std::string("{\"customer_id\":\"c\0\"}", 20)},
      {InputTopic::kUsage, std::string("{\"customer_id\":\"c\",\"quantity\":12\0}", 34)},
      {InputTopic::kUsage, std::string("12\0abc", 6)},
      {InputTopic::kUsage, std::string("\0{}", 3)},
      {InputTopic::kUsage,
       std::string("{\"customer_id\":\"c\",\"x\":123456789012345678901234567890}\0 ", 56)},
      {InputTopic::kUsage, "{\"customer_id\":\"c\xff\"}"},
      {InputTopic::kUsage, "{\"customer_id\":\"c\",\"x\":\"\xed\xa0\x80\"}"},
      {InputTopic::kUsage, "{\"customer_id\":\"c\",\"x\":\"\xc0\xaf\"}"},
      {InputTopic::kUsage, "{\"customer_id\":\"c\",\"x\":\"\x01\"}"},
      {InputTopic::kUsage, R"({"customer_id":"c","x":"\x"})"},
      {InputTopic::kUsage, R"({"customer_id":"c","x":"\ud83d"})"},
      {InputTopic::kUsage, R"({"customer_id":"c","x":"\ude00"})"},
      {InputTopic::kUsage, R"({"customer_id":"c","x":"\ude00\ud83d"})"},
      {InputTopic::kUsage, R"({"customer_id":"c","x":"\ud83d\u0041"})"},
      {InputTopic::kUsage, R"({"customer_id":"c","x":"\uD83D\uDE00"})"},
      {InputTopic::kUsage, R"({"customer_id":"c","x":"\u12"})"},
      {InputTopic::kUsage, R"({"customer_id":"c","x":tru})"},
      {InputTopic::kUsage, R"({"customer_id":"c","x":NaN})"},
      {InputTopic::kUsage, R"({"customer_id":"c","x":Infinity})"},
      {InputTopic::kUsage, R"({"customer_id":"c","x":01})"},
      {InputTopic::kUsage, R"({"customer_id":"c","x":-})"},
      {InputTopic::kUsage, R"({"customer_id":"c","x":1.})"},
      {InputTopic::kUsage, R"({"customer_id":"c","x":.5})"},
      {InputTopic::kUsage, R"({"customer_id":"c","x":+1})"},
      {InputTopic::kUsage, R"({"customer_id":"c","x":1e400})"},
      {InputTopic::kUsage, R"({"customer_id":"c","x":-1e400})"},
      // Integers beyond 64 bits are doubles to nlohmann: fine where unknown.
      {InputTopic::kUsage, R"({"customer_id":"c","x":123456789012345678901234567890})"},
      {InputTopic::kUsage, R"({"customer_id":"c","x":[-99999999999999999999,1]})"},
      {InputTopic::kUsage, R"({"customer_id":"c","x":"123456789012345678901234567890"})"},
      {InputTopic::kUsage, R"({"customer_id":"c","quantity":-9223372036854775809})"},
      {InputTopic::kUsage, R"({"customer_id":"c","quantity":18446744073709551616})"},
      {InputTopic::kUsage, R"({"customer_id":"c","x":123456789012345678901234567890,"q":01})"},
      {InputTopic::kUsage, R"({"customer_id":"c","x":-012345678901234567890123})"},
      // Names.
      {InputTopic::kUsage, R"({"customer_id":"c","customer_id":"d"})"},
      {InputTopic::kUsage, R"({"customer_id":"c","customerId":"d"})"},
      {InputTopic::kUsage, R"({"customerId":"d","customer_id":"c"})"},
      {InputTopic::kUsage, R"({"customerId":"c","customer_id":null})"},
      {InputTopic::kUsage, R"({"customerId":5,"customer_id":"c"})"},
      {InputTopic::kUsage, R"({"customer_id":"c","customerId":5})"},
      {InputTopic::kUsage, R"({"customer_id":"c","customerid":"d","CustomerId":"e"})"},
      {InputTopic::kUsage, R"({"customer\u005fid":"c","customer_id":"d"})"},
      {InputTopic::kUsage, R"({"customer_id":"c","":"d","@type":"x"})"},
      {InputTopic::kUsage, R"({"customer_id":"c","quantity":"lots","quantity":2})"},
      {InputTopic::kUsage, R"({"customer_id":"c","quantity":2,"quantity":"lots"})"},
      // Types and nulls.
      {InputTopic::kUsage,
       R"({"customer_id":null,"module":null,"quantity":null,"event_time":null})"},
      {InputTopic::kUsage, R"({"customer_id":"c","module":5})"},
      {InputTopic::kUsage, R"({"customer_id":"c","module":{}})"},
      {InputTopic::kUsage, R"({"customer_id":"c","module":["a"]})"},
      {InputTopic::kUsage, R"({"customer_id":"c","module":"\u0000x"})"},
      {InputTopic::kUsage, R"({"customer_id":"c","quantity":true})"},
      {InputTopic::kUsage, R"({"customer_id":"c","quantity":{}})"},
      {InputTopic::kUsage, R"({"customer_id":"c","quantity":[]})"},
      // Timestamps under both names (object values merge).
      {InputTopic::kUsage,
       R"({"customer_id":"c","event_time":"2026-11-18T09:46:40.5Z","eventTime":"1970-01-01T00:00:00Z"})"},
      {InputTopic::kUsage,
       R"({"customer_id":"c","eventTime":"2026-11-18T09:46:40.5Z","event_time":{"seconds":5}})"},
      {InputTopic::kUsage,
       R"({"customer_id":"c","eventTime":{"nanos":5},"event_time":"2026-11-18T09:46:40Z"})"},
      {InputTopic::kUsage, R"({"customer_id":"c","eventTime":{"nanos":5},"event_time":null})"},
      {InputTopic::kUsage,
       R"({"customer_id":"c","eventTime":{"seconds":5},"event_time":{"nanos":0}})"},
      // Enums.
      {InputTopic::kTickets, "{" + t + R"("kind":"CREATED","priority":"P1"})"},
      {InputTopic::kTickets, "{" + t + R"("kind":1,"priority":2})"},
      {InputTopic::kTickets, "{" + t + R"("kind":"EXPLODED","priority":"P9"})"},
      {InputTopic::kTickets, "{" + t + R"("kind":"CREATED","priority":"P9","priority":"P1"})"},
      {InputTopic::kTickets, "{" + t + R"("kind":"CREATED","priority":"P1","priority":"P9"})"},
      {InputTopic::kTickets, "{" + t + R"("kind":"BAD","kind":"ALSO_BAD"})"},
      {InputTopic::kTickets, "{" + t + R"("kind":"BAD","csat":1.5})"},
      {InputTopic::kTickets, "{" + t + R"("kind":null,"priority":"P1"})"},
      {InputTopic::kTickets, "{" + t + R"("kind":"CREATED","csat":0})"},
      {InputTopic::kTickets, "{" + t + R"("kind":"CREATED","csat":"0"})"},
      {InputTopic::kTickets, "{" + t + R"("kind":"CREATED","csat":null})"},
      {InputTopic::kInvoices,
       R"({"event_id":"e","customer_id":"c","kind":"PAID","invoice_id":"I","paid_cents":"0","amount_cents":"-5"})"},
      {InputTopic::kCampaigns,
       R"({"event_id":"e","customer_id":"c","campaign_id":"C","kind":"RESPONDED","nps":0,"csat":5})"},
      {InputTopic::kCustomers,
       R"({"customer_id":"c","segment":"ENTERPRISE","annualRevenueCents":"100","contractStart":"2026-01-01T00:00:00Z","contract_end":{}})"},
      {InputTopic::kCustomers, R"({"customer_id":"c","segment":"enterprise"})"},
      // Depth: 64 levels are read, 65 are not, wherever they are and whatever the size.
      {InputTopic::kUsage, "{\"customer_id\":\"c\",\"x\":" + Nested(63) + "}"},
      {InputTopic::kUsage, "{\"customer_id\":\"c\",\"x\":" + Nested(64) + "}"},
      {InputTopic::kUsage, "{\"customer_id\":\"c\",\"x\":" + Nested(100'000) + "}"},
      {InputTopic::kUsage, "{\"customer_id\":\"c\",\"x\":" + Nested(62, "{\"a\":{}}") + "}"},
      {InputTopic::kUsage, "{\"customer_id\":\"c\",\"x\":" + Nested(62, "{\"a\":{\"b\":1}}") + "}"},
      {InputTopic::kUsage, "{\"customer_id\":\"c\",\"x\":\"" + std::string(70, '[') + "\"}"},
      {InputTopic::kUsage, "{\"customer_id\":\"c\",\"x\":\"\\\"" + std::string(70, '[') + "\"}"},
      {InputTopic::kUsage, "{\"customer_id\":\"c\",\"y\":\"" + std::string(20'000, 'y') +
                               "\",\"x\":" + Nested(63) + "}"},
      {InputTopic::kUsage, "{\"customer_id\":\"c\",\"y\":\"" + std::string(20'000, 'y') +
                               "\",\"x\":" + Nested(64) + "}"},
      {InputTopic::kUsage, "{\"customer_id\":\"c\",\"y\":\"" + std::string(200'000, 'y') +
                               "\",\"x\":" + Nested(63) + "}"},
      {InputTopic::kUsage, "{\"customer_id\":\"c\",\"y\":\"" + std::string(200'000, 'y') +
                               "\",\"x\":" + Nested(64) + "}"},
      {InputTopic::kUsage, "{\"customer_id\":\"c\",\"x\":" + Nested(64) + ",\"q\":01}"},
      {InputTopic::kUsage,
       "{\"customer_id\":\"c\",\"x\":" + Nested(64) + ",\"q\":123456789012345678901234567890}"},
      {InputTopic::kUsage,
       "{\"customer_id\":\"c\",\"q\":123456789012345678901234567890,\"x\":" + Nested(64) + "}"},
  };
  Differential differential;
  for (const auto& [topic, json] : cases) {
    differential.Check(topic, json);
    if (::testing::Test::HasFatalFailure()) return;
  }
  // Each value of each kind in each field of each type.
  for (InputTopic topic : kAllInputTopics) {
    const Descriptor* type = DescriptorOf(topic);
    for (int f = 0; f < type->field_count(); ++f) {
      const FieldDescriptor* field = type->field(f);
      for (const auto* values :
           {&kAnyValues, &kStringValues, &kIntegerValues, &kEnumValues, &kTimestampValues}) {
        for (const std::string& value : *values) {
          for (const std::string& name : {field->name(), field->json_name()}) {
            differential.Check(topic, "{\"customer_id\":\"c\",\"" + name + "\":" + value + "}");
            if (::testing::Test::HasFatalFailure()) return;
          }
        }
      }
    }
  }
  std::printf("%d edge cases: %d malformed, %d with undefined enum names\n", differential.compared,
              differential.malformed, differential.with_bad_enums);
}

TEST(JsonReaderTest, GeneratedAndMutatedRecordsReadAsBefore) {
  const std::vector<Generated> records = GeneratedRecords(400);
  std::mt19937 rng(20'261'118);
  Differential differential;
  for (const Generated& g : records) {
    differential.Check(g.topic, g.json);
    differential.Check(g.topic, g.camel_json);
    if (::testing::Test::HasFatalFailure()) return;
  }
  for (int i = 0; i < 6'000; ++i) {
    const Generated& g = records[rng() % records.size()];
    if (rng() % 8 == 0) differential.Protobuf(g.topic, g.protobuf);  // as the decoder does
    Members members = MembersOf(rng() % 4 == 0 ? g.camel_json : g.json);
    Mutate(&members, DescriptorOf(g.topic), rng);
    differential.Check(g.topic, Text(members, rng));
    if (::testing::Test::HasFatalFailure()) return;
  }
  for (int i = 0; i < 3'000; ++i) {
    const Generated& g = records[rng() % records.size()];
    differential.Check(g.topic, MutateBytes(rng() % 4 == 0 ? g.camel_json : g.json, rng));
    if (::testing::Test::HasFatalFailure()) return;
  }
  std::printf("%d records: %d malformed, %d with undefined enum names\n", differential.compared,
              differential.malformed, differential.with_bad_enums);
  EXPECT_GT(differential.malformed, 2'000);
  EXPECT_GT(differential.compared - differential.malformed, 5'000);
  EXPECT_GT(differential.with_bad_enums, 100);
}

// The whole Decode of each generated record: the same verdict, event time and message
// from its JSON (either names) as from its protobuf.
TEST(JsonReaderTest, DecoderSeesJsonAsProtobuf) {
  Decoder from_protobuf;
  Decoder from_json;
  const TimeMs now = 1'780'000'000'000 + 60 * kMsPerDay;
  int decoded = 0;
  for (const Generated& g : GeneratedRecords(400)) {
    for (const std::string* json : {&g.json, &g.camel_json}) {
      InputRecord r{.topic = g.topic,
                    .key = g.key,
                    .value = g.protobuf,
                    .content_type = "application/x-protobuf",
                    .kafka_timestamp_ms = g.time};
      const DecodeResult expected = from_protobuf.Decode(r, now);
      r.value = *json;
      r.content_type = "application/json";
      const DecodeResult actual = from_json.Decode(r, now);
      ASSERT_EQ(expected.ok(), actual.ok()) << *json;
      if (!expected.ok()) {
        EXPECT_EQ(expected.dead_letter->reason, actual.dead_letter->reason) << *json;
        EXPECT_EQ(expected.dead_letter->detail, actual.dead_letter->detail) << *json;
      }
      EXPECT_EQ(expected.event_time, actual.event_time) << *json;
      EXPECT_EQ(expected.tombstone, actual.tombstone);
      const auto bytes = [&g](const Decoder& d) {
        switch (g.topic) {
          case InputTopic::kUsage: return d.usage().SerializeAsString();
          case InputTopic::kTickets: return d.ticket().SerializeAsString();
          case InputTopic::kInvoices: return d.invoice().SerializeAsString();
          case InputTopic::kCampaigns: return d.campaign().SerializeAsString();
          case InputTopic::kCustomers: return d.profile().SerializeAsString();
        }
        return std::string();
      };
      EXPECT_EQ(bytes(from_protobuf), bytes(from_json)) << *json;
      ++decoded;
    }
  }
  EXPECT_GT(decoded, 2'000);
}

// Once each type's message, reader and parser have seen a value, decoding JSON allocates
// nothing (Timestamps included: they are kept from one value to the next).
TEST(JsonReaderTest, AllocationFreeOnceWarm) {
  const std::vector<Generated> records = GeneratedRecords(300);
  Decoder decoder;
  const TimeMs now = 1'780'000'000'000 + 60 * kMsPerDay;
  const auto decode_all = [&] {
    int ok = 0;
    for (const Generated& g : records) {
      for (const std::string* json : {&g.json, &g.camel_json}) {
        const InputRecord r{.topic = g.topic,
                            .key = g.key,
                            .value = *json,
                            .content_type = "application/json",
                            .kafka_timestamp_ms = g.time};
        ok += decoder.Decode(r, now).ok() ? 1 : 0;
      }
    }
    return ok;
  };
  const int warm = decode_all();
  counting = true;
  const int measured = decode_all();
  counting = false;
  EXPECT_EQ(warm, measured);
  EXPECT_GT(measured, 1'000);
  EXPECT_EQ(allocations.load(), 0);
}

}  // namespace
}  // namespace c360
