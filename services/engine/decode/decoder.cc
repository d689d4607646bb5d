#include "services/engine/decode/decoder.h"

#include <algorithm>
#include <utility>
#include <vector>

namespace c360 {
namespace {

// google.protobuf.Timestamp's valid range: 0001-01-01T00:00:00Z .. 9999-12-31T23:59:59Z.
constexpr int64_t kMinTimestampSeconds = -62'135'596'800;
constexpr int64_t kMaxTimestampSeconds = 253'402'300'799;

DeadLetter Reject(DeadLetterReason reason, std::string detail) {
  std::replace(detail.begin(), detail.end(), '\n', ' ');
  return DeadLetter{reason, std::move(detail)};
}

bool IsJsonContentType(std::optional<std::string_view> content_type) {
  if (!content_type) return false;
  std::string_view v = *content_type;
  while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
  constexpr std::string_view kJson = "application/json";
  if (v.size() < kJson.size()) return false;
  if (!v.starts_with(kJson)) {  // as producers mostly write it; else, letter case aside
    for (size_t i = 0; i < kJson.size(); ++i) {
      const char c = v[i] >= 'A' && v[i] <= 'Z' ? static_cast<char>(v[i] - 'A' + 'a') : v[i];
      if (c != kJson[i]) return false;
    }
  }
  return v.size() == kJson.size() || v[kJson.size()] == ';' || v[kJson.size()] == ' ';
}

// Parses the record's value into `message`; on failure returns the `malformed` verdict.
template <typename M>
std::optional<DeadLetter> ParseValue(const InputRecord& record, M* message, JsonReader* json,
                                     std::vector<BadEnum>* bad_enums) {
  const std::string_view value = record.value.value_or(std::string_view());
  if (IsJsonContentType(record.content_type)) {
    if (auto malformed = json->Read(value, message, bad_enums)) {
      return Reject(DeadLetterReason::kMalformed, std::move(*malformed));
    }
    return std::nullopt;
  }
  if (!message->ParseFromArray(value.data(), static_cast<int>(value.size()))) {
    return Reject(DeadLetterReason::kMalformed, "value (" + std::to_string(value.size()) +
                                                    " bytes) is not a valid " +
                                                    M::descriptor()->full_name() + " protobuf");
  }
  return std::nullopt;
}

// Checks that stand for every event type, in the SPEC's order, around the type's own
// checks: customer_id present, type-specific missing fields, key equal to customer_id,
// type-specific invalid values, then readable timestamps and the future bound.
class Validator {
 public:
  Validator(const InputRecord& record, const std::vector<BadEnum>& bad_enums)
      : record_(record), bad_enums_(bad_enums) {}

  std::optional<DeadLetter> Missing(std::string_view what) const {
    return Reject(DeadLetterReason::kMissingField, std::string(what));
  }

  // The key equals customer_id (key_mismatch), which is no longer than
  // kMaxCustomerIdBytes (invalid_value: checked here, first of the invalid values, since
  // it stands for every type).
  std::optional<DeadLetter> CheckKey(const std::string& customer_id) const {
    if (!record_.key) {
      return Reject(DeadLetterReason::kKeyMismatch,
                    "message has no key; expected customer_id " + customer_id);
    }
    if (*record_.key != customer_id) {
      return Reject(DeadLetterReason::kKeyMismatch, "key \"" + std::string(*record_.key) +
                                                        "\" differs from customer_id \"" +
                                                        customer_id + "\"");
    }
    return CheckCustomerIdLength(customer_id);
  }

  static std::optional<DeadLetter> CheckCustomerIdLength(std::string_view customer_id) {
    if (customer_id.size() <= kMaxCustomerIdBytes) return std::nullopt;
    return Reject(DeadLetterReason::kInvalidValue,
                  "customer_id is " + std::to_string(customer_id.size()) + " bytes; the limit is " +
                      std::to_string(kMaxCustomerIdBytes));
  }

  // An enum field set to a number its type does not define.
  template <typename IsValid>
  std::optional<DeadLetter> CheckEnum(std::string_view field, int number, IsValid is_valid,
                                      std::string_view type_name) const {
    if (is_valid(number)) return std::nullopt;
    std::string shown = std::to_string(number);
    for (const BadEnum& bad : bad_enums_) {
      if (bad.field == field) shown = "\"" + bad.text + "\"";
    }
    return Reject(
        DeadLetterReason::kInvalidValue,
        std::string(field) + ": " + shown + " is not a " + std::string(type_name) + " value");
  }

  static std::optional<DeadLetter> CheckRange(std::string_view field, int64_t value, int64_t lo,
                                              int64_t hi) {
    if (value >= lo && value <= hi) return std::nullopt;
    return Reject(DeadLetterReason::kInvalidValue,
                  std::string(field) + " " + std::to_string(value) + " is outside " +
                      std::to_string(lo) + ".." + std::to_string(hi));
  }

  static std::optional<DeadLetter> CheckNotNegative(std::string_view field, int64_t value) {
    if (value >= 0) return std::nullopt;
    return Reject(DeadLetterReason::kInvalidValue,
                  std::string(field) + " " + std::to_string(value) + " is negative");
  }

  static std::optional<DeadLetter> CheckTimestamp(std::string_view field, bool present,
                                                  const google::protobuf::Timestamp& ts) {
    if (!present) return std::nullopt;
    if (ts.seconds() >= kMinTimestampSeconds && ts.seconds() <= kMaxTimestampSeconds &&
        ts.nanos() >= 0 && ts.nanos() <= 999'999'999) {
      return std::nullopt;
    }
    return Reject(DeadLetterReason::kInvalidValue,
                  std::string(field) + " is outside the Timestamp range");
  }

 private:
  const InputRecord& record_;
  const std::vector<BadEnum>& bad_enums_;
};

#define C360_RETURN_IF_SET(expr)               \
  do {                                         \
    if (auto verdict = (expr)) return verdict; \
  } while (false)

std::optional<DeadLetter> ValidateUsage(const v1::UsageEvent& e, const Validator& v) {
  if (e.customer_id().empty()) return v.Missing("customer_id is missing");
  C360_RETURN_IF_SET(v.CheckKey(e.customer_id()));
  C360_RETURN_IF_SET(v.CheckNotNegative("quantity", e.quantity()));
  return Validator::CheckTimestamp("event_time", e.has_event_time(), e.event_time());
}

std::optional<DeadLetter> ValidateTicket(const v1::TicketEvent& e, const Validator& v) {
  if (e.customer_id().empty()) return v.Missing("customer_id is missing");
  if (e.event_id().empty()) return v.Missing("event_id is missing");
  if (e.ticket_id().empty()) return v.Missing("ticket_id is missing");
  if (e.kind() == v1::TicketEvent::KIND_UNSPECIFIED) return v.Missing("kind is missing");
  if (e.kind() == v1::TicketEvent::CREATED &&
      e.priority() == v1::TicketEvent::PRIORITY_UNSPECIFIED) {
    return v.Missing("priority is missing on a CREATED ticket");
  }
  C360_RETURN_IF_SET(v.CheckKey(e.customer_id()));
  C360_RETURN_IF_SET(
      v.CheckEnum("kind", e.kind(), v1::TicketEvent::Kind_IsValid, "TicketEvent.Kind"));
  C360_RETURN_IF_SET(v.CheckEnum("priority", e.priority(), v1::TicketEvent::Priority_IsValid,
                                 "TicketEvent.Priority"));
  if (e.has_csat()) C360_RETURN_IF_SET(Validator::CheckRange("csat", e.csat(), 1, 5));
  C360_RETURN_IF_SET(Validator::CheckTimestamp("event_time", e.has_event_time(), e.event_time()));
  C360_RETURN_IF_SET(
      Validator::CheckTimestamp("response_due", e.has_response_due(), e.response_due()));
  return Validator::CheckTimestamp("resolution_due", e.has_resolution_due(), e.resolution_due());
}

std::optional<DeadLetter> ValidateInvoice(const v1::InvoiceEvent& e, const Validator& v) {
  if (e.customer_id().empty()) return v.Missing("customer_id is missing");
  if (e.event_id().empty()) return v.Missing("event_id is missing");
  if (e.kind() == v1::InvoiceEvent::KIND_UNSPECIFIED) return v.Missing("kind is missing");
  const bool credit_hold = e.kind() == v1::InvoiceEvent::CREDIT_HOLD_SET ||
                           e.kind() == v1::InvoiceEvent::CREDIT_HOLD_RELEASED;
  if (!credit_hold && e.invoice_id().empty()) return v.Missing("invoice_id is missing");
  C360_RETURN_IF_SET(v.CheckKey(e.customer_id()));
  C360_RETURN_IF_SET(
      v.CheckEnum("kind", e.kind(), v1::InvoiceEvent::Kind_IsValid, "InvoiceEvent.Kind"));
  C360_RETURN_IF_SET(Validator::CheckNotNegative("amount_cents", e.amount_cents()));
  if (e.has_paid_cents()) {
    C360_RETURN_IF_SET(Validator::CheckNotNegative("paid_cents", e.paid_cents()));
  }
  C360_RETURN_IF_SET(Validator::CheckTimestamp("event_time", e.has_event_time(), e.event_time()));
  return Validator::CheckTimestamp("due_date", e.has_due_date(), e.due_date());
}

std::optional<DeadLetter> ValidateCampaign(const v1::CampaignEvent& e, const Validator& v) {
  if (e.customer_id().empty()) return v.Missing("customer_id is missing");
  if (e.event_id().empty()) return v.Missing("event_id is missing");
  if (e.campaign_id().empty()) return v.Missing("campaign_id is missing");
  if (e.kind() == v1::CampaignEvent::KIND_UNSPECIFIED) return v.Missing("kind is missing");
  C360_RETURN_IF_SET(v.CheckKey(e.customer_id()));
  C360_RETURN_IF_SET(
      v.CheckEnum("kind", e.kind(), v1::CampaignEvent::Kind_IsValid, "CampaignEvent.Kind"));
  if (e.has_nps()) C360_RETURN_IF_SET(Validator::CheckRange("nps", e.nps(), 0, 10));
  if (e.has_csat()) C360_RETURN_IF_SET(Validator::CheckRange("csat", e.csat(), 1, 5));
  return Validator::CheckTimestamp("event_time", e.has_event_time(), e.event_time());
}

std::optional<DeadLetter> ValidateProfile(const v1::CustomerProfile& p, const Validator& v) {
  if (p.customer_id().empty()) return v.Missing("customer_id is missing");
  C360_RETURN_IF_SET(v.CheckKey(p.customer_id()));
  C360_RETURN_IF_SET(v.CheckEnum("segment", p.segment(), v1::CustomerProfile::Segment_IsValid,
                                 "CustomerProfile.Segment"));
  C360_RETURN_IF_SET(Validator::CheckNotNegative("annual_revenue_cents", p.annual_revenue_cents()));
  C360_RETURN_IF_SET(
      Validator::CheckTimestamp("contract_start", p.has_contract_start(), p.contract_start()));
  return Validator::CheckTimestamp("contract_end", p.has_contract_end(), p.contract_end());
}

#undef C360_RETURN_IF_SET

// event_time when present and valid, else the Kafka timestamp (-1 if none).
template <typename Event>
TimeMs OrderingTime(const Event& event, TimeMs kafka_timestamp_ms) {
  if (event.has_event_time() && event.event_time().seconds() >= kMinTimestampSeconds &&
      event.event_time().seconds() <= kMaxTimestampSeconds) {
    return ToMs(event.event_time());
  }
  return kafka_timestamp_ms;
}

}  // namespace

std::string_view ReasonLabel(DeadLetterReason reason) {
  switch (reason) {
    case DeadLetterReason::kOversize: return "oversize";
    case DeadLetterReason::kMalformed: return "malformed";
    case DeadLetterReason::kMissingField: return "missing_field";
    case DeadLetterReason::kKeyMismatch: return "key_mismatch";
    case DeadLetterReason::kInvalidValue: return "invalid_value";
    case DeadLetterReason::kFutureTimestamp: return "future_timestamp";
    case DeadLetterReason::kTooLate: return "too_late";
  }
  return "unknown";
}

DecodeResult Decoder::Decode(const InputRecord& record, TimeMs now_ms) {
  DecodeResult result;
  result.event_time = record.kafka_timestamp_ms;
  if (record.value && record.value->size() > kMaxValueBytes) {
    result.dead_letter = Reject(DeadLetterReason::kOversize,
                                "value is " + std::to_string(record.value->size()) +
                                    " bytes; the limit is " + std::to_string(kMaxValueBytes));
    return result;
  }

  if (record.topic == InputTopic::kCustomers && !record.value) {
    // A tombstone removes the profile of its key; it needs a key to name the customer.
    if (!record.key) {
      result.dead_letter = Reject(DeadLetterReason::kKeyMismatch, "tombstone without a key");
    } else if (auto too_long = Validator::CheckCustomerIdLength(*record.key)) {
      result.dead_letter = std::move(too_long);
    } else {
      result.tombstone = true;
    }
    return result;
  }
  if (!record.value) {
    result.dead_letter = Reject(DeadLetterReason::kMissingField,
                                "value is null; only the customers topic takes tombstones");
    return result;
  }

  std::vector<BadEnum> bad_enums;
  const auto parse = [&](auto* message) { return ParseValue(record, message, &json_, &bad_enums); };
  std::optional<DeadLetter> malformed;
  switch (record.topic) {
    case InputTopic::kUsage: malformed = parse(&usage_); break;
    case InputTopic::kTickets: malformed = parse(&ticket_); break;
    case InputTopic::kInvoices: malformed = parse(&invoice_); break;
    case InputTopic::kCampaigns: malformed = parse(&campaign_); break;
    case InputTopic::kCustomers: malformed = parse(&profile_); break;
  }
  if (malformed) {
    result.dead_letter = std::move(malformed);
    return result;
  }

  const Validator validator(record, bad_enums);
  std::optional<DeadLetter> verdict;
  const auto check = [&](const auto& event, auto validate) {
    verdict = validate(event, validator);
    result.event_time = OrderingTime(event, record.kafka_timestamp_ms);
  };
  switch (record.topic) {
    case InputTopic::kUsage: check(usage_, ValidateUsage); break;
    case InputTopic::kTickets: check(ticket_, ValidateTicket); break;
    case InputTopic::kInvoices: check(invoice_, ValidateInvoice); break;
    case InputTopic::kCampaigns: check(campaign_, ValidateCampaign); break;
    case InputTopic::kCustomers:
      // Profiles are a table: they never move stream time and are never too_late or
      // future_timestamp (SPEC section 1).
      result.dead_letter = ValidateProfile(profile_, validator);
      return result;
  }
  if (verdict) {
    result.dead_letter = std::move(verdict);
    return result;
  }
  if (result.event_time < 0 && record.kafka_timestamp_ms < 0) {
    result.dead_letter =
        Reject(DeadLetterReason::kMissingField, "no event_time and no Kafka timestamp");
    return result;
  }
  if (result.event_time > now_ms + kMaxFutureSkewMs) {
    result.dead_letter = Reject(DeadLetterReason::kFutureTimestamp,
                                "event_time " + FormatRfc3339(result.event_time) +
                                    " is more than 1 hour ahead of " + FormatRfc3339(now_ms));
  }
  return result;
}

std::optional<DeadLetter> CheckTooLate(TimeMs event_time, TimeMs stream_time, int retention_days) {
  const TimeMs cutoff = StartOfDay(DayOf(stream_time) - (retention_days - 1));
  if (event_time >= cutoff) return std::nullopt;
  return Reject(DeadLetterReason::kTooLate, "event_time " + FormatRfc3339(event_time) +
                                                " is before the retained window, " +
                                                "which starts " + FormatRfc3339(cutoff));
}

}  // namespace c360
