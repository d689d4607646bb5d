#pragma once
// JSON input (SPEC section 1): a record's JSON value read straight into its c360.v1
// message, the way protobuf 3.21's JsonStringToMessage reads it with
// ignore_unknown_fields (the proto3 JSON mapping), without protobuf's converter or any
// intermediate string. simdjson's DOM parser validates the whole value (syntax, UTF-8,
// nesting up to kMaxJsonDepth); a table per message then maps each field's two JSON names
// to its generated accessor. What protobuf accepts, and so what is read here:
//
//  - A field is named by its proto name (customer_id) or its json_name (customerId); any
//    other key is skipped, whatever its value, but the empty key is malformed. Of a key
//    given twice the last counts; a field given under both names takes the json_name's
//    value, then the proto name's.
//  - The value ends at a NUL byte, if it has one; a UTF-8 byte order mark before it is
//    skipped (as nlohmann::json, which the decoder used before, read them).
//  - null leaves a field unset.
//  - string fields take strings only.
//  - int32 and int64 fields take an integer in range, a number in range with no fraction
//    (3.0, 1e2), or a string of decimal digits with an optional sign ("3", "+3", "-007").
//  - Enum fields take a name the enum defines, or a number as an int32 field does (an
//    undefined number is kept). A name it does not define sets kUndefinedEnumNumber and
//    is listed in a BadEnum, so the decoder reports it as the name written (invalid_value).
//  - Timestamp fields take an RFC 3339 string (as lenient as protobuf's: "2026-1-8T9:05:00Z"
//    and offsets "+01:00" are read, and more than 9 fraction digits), or an object of
//    `seconds` and `nanos` merged into the value the field already has.
//
// Anything else is `malformed`. json_reader_test.cc checks all of it against
// JsonStringToMessage, on a table of edge cases and thousands of mutated records.
// The per-record path does not allocate once warm. Not thread-safe.

#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "c360/v1/campaign.pb.h"
#include "c360/v1/customer.pb.h"
#include "c360/v1/invoice.pb.h"
#include "c360/v1/ticket.pb.h"
#include "c360/v1/usage.pb.h"

namespace c360 {

// JSON nesting beyond this is malformed: c360's schemas nest 2 deep, and a bound keeps a
// hostile value from costing time and memory.
inline constexpr int kMaxJsonDepth = 64;

// An enum name that the schema does not define sets its field to this number (which no
// c360 enum defines), so JSON and protobuf input reach the same invalid_value check.
inline constexpr int32_t kUndefinedEnumNumber = std::numeric_limits<int32_t>::min();

struct BadEnum {
  std::string field;  // the proto name
  std::string text;   // as written in the JSON input
};

class JsonReader {
 public:
  JsonReader();
  ~JsonReader();
  JsonReader(JsonReader&&) noexcept;
  JsonReader& operator=(JsonReader&&) noexcept;

  // Reads `json` into *message, replacing all of it. Returns nullopt, with the enum names
  // the schema does not define appended to *bad_enums, or why the value is malformed (one
  // line for a person).
  std::optional<std::string> Read(std::string_view json, v1::UsageEvent* message,
                                  std::vector<BadEnum>* bad_enums);
  std::optional<std::string> Read(std::string_view json, v1::TicketEvent* message,
                                  std::vector<BadEnum>* bad_enums);
  std::optional<std::string> Read(std::string_view json, v1::InvoiceEvent* message,
                                  std::vector<BadEnum>* bad_enums);
  std::optional<std::string> Read(std::string_view json, v1::CampaignEvent* message,
                                  std::vector<BadEnum>* bad_enums);
  std::optional<std::string> Read(std::string_view json, v1::CustomerProfile* message,
                                  std::vector<BadEnum>* bad_enums);

 private:
  struct Impl;  // simdjson's parser and the reused buffers, made on the first Read
  template <typename M>
  std::optional<std::string> ReadMessage(std::string_view json, M* message,
                                         std::vector<BadEnum>* bad_enums);
  std::unique_ptr<Impl> impl_;
};

}  // namespace c360
