#pragma once
// The one place where consumed Kafka records become events, and where every dead-letter
// reason of SPEC section 6.1 is decided.
//
// Decoder::Decode() takes a record (key, value, content-type header, Kafka timestamp) of
// one input topic and either validates it into the decoder's message for that topic or
// returns a DeadLetter with its reason and a one-line detail. Reasons are checked in the
// SPEC's order: oversize, malformed, missing_field, key_mismatch, invalid_value,
// future_timestamp. too_late depends on the task's stream time and is decided by
// CheckTooLate() below, after the record reaches the head of its task's merge.
//
// Pure: no Kafka or RocksDB. The decoded message lives in the Decoder until the next call
// (its buffers are reused, so the per-record path does not allocate once warm). A Decoder
// is not thread-safe; use one per processing thread.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "c360/v1/campaign.pb.h"
#include "c360/v1/customer.pb.h"
#include "c360/v1/invoice.pb.h"
#include "c360/v1/ticket.pb.h"
#include "c360/v1/usage.pb.h"
#include "common/time.h"
#include "common/topics.h"
#include "services/engine/decode/json_reader.h"

namespace c360 {

enum class DeadLetterReason : uint8_t {
  kOversize,
  kMalformed,
  kMissingField,
  kKeyMismatch,
  kInvalidValue,
  kFutureTimestamp,
  kTooLate,
};
inline constexpr int kDeadLetterReasonCount = 7;

// The SPEC's label: "oversize", "malformed", ... (also the metric label).
std::string_view ReasonLabel(DeadLetterReason reason);

struct DeadLetter {
  DeadLetterReason reason;
  std::string detail;  // one line for a person, naming the field or value at fault
};

// One consumed record, as plain values. Views must outlive the Decode() call.
struct InputRecord {
  InputTopic topic = InputTopic::kUsage;
  std::optional<std::string_view> key;           // nullopt: the message has no key
  std::optional<std::string_view> value;         // nullopt: null value (a tombstone)
  std::optional<std::string_view> content_type;  // the `content-type` header, if any
  TimeMs kafka_timestamp_ms = -1;                // -1: none
};

struct DecodeResult {
  std::optional<DeadLetter> dead_letter;  // set: the record goes to the dead-letter topic
  // The time that orders the record in its task: event_time when readable, else the
  // Kafka timestamp; -1 if neither exists.
  TimeMs event_time = -1;
  bool tombstone = false;  // customers topic only: remove the profile of `key`

  bool ok() const { return !dead_letter.has_value(); }
};

inline constexpr size_t kMaxValueBytes = 1 << 20;       // larger is `oversize`
inline constexpr size_t kMaxCustomerIdBytes = 256;      // longer is `invalid_value`
inline constexpr TimeMs kMaxFutureSkewMs = kMsPerHour;  // further ahead is `future_timestamp`

class Decoder {
 public:
  // now_ms is the wall clock (SPEC: future_timestamp is judged against it in both modes).
  DecodeResult Decode(const InputRecord& record, TimeMs now_ms);

  // The message of the last successful Decode() for its topic.
  const v1::UsageEvent& usage() const { return usage_; }
  const v1::TicketEvent& ticket() const { return ticket_; }
  const v1::InvoiceEvent& invoice() const { return invoice_; }
  const v1::CampaignEvent& campaign() const { return campaign_; }
  const v1::CustomerProfile& profile() const { return profile_; }

 private:
  v1::UsageEvent usage_;
  v1::TicketEvent ticket_;
  v1::InvoiceEvent invoice_;
  v1::CampaignEvent campaign_;
  v1::CustomerProfile profile_;
  JsonReader json_;  // JSON values (content-type application/json) straight into these
};

// SPEC section 2: an event dated before the start of day D - (retention_days - 1), where
// D is the UTC day of the task's stream time, is `too_late` (90 days keeps R90D whole).
std::optional<DeadLetter> CheckTooLate(TimeMs event_time, TimeMs stream_time, int retention_days);

}  // namespace c360
