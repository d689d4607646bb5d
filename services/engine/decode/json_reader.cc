#include "services/engine/decode/json_reader.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/timestamp.pb.h>
#include <simdjson.h>

#include <bit>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <initializer_list>

namespace c360 {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Timestamp;
using simdjson::dom::element;
using simdjson::dom::element_type;
using simdjson::dom::object;

// A value larger than this is parsed with a parser and buffer of its own, freed after the
// read, so that one huge record does not leave megabytes behind in every decoder.
constexpr size_t kRetainedBytes = 64 * 1024;
constexpr size_t kMaxFields = 16;  // per message: two slots each in a 32-bit mask

// What one Read needs besides the message.
struct Context {
  std::vector<BadEnum>* bad_enums;
  std::vector<std::unique_ptr<Timestamp>>* spare_timestamps;
  std::string error;  // on failure: where and why, e.g. "seconds: 5.5 is not an int64"
};

// --- Values, as protobuf's JSON parser converts them ---------------------------------

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

template <typename Word>
inline Word Load(const char* p) {
  Word word;
  std::memcpy(&word, p, sizeof word);
  return word;
}

// a == b for names: up to 16 bytes compared as two overlapping words, without a call.
[[gnu::always_inline]] inline bool Equal(std::string_view a, std::string_view b) {
  const size_t n = a.size();
  if (n != b.size()) return false;
  if (n >= 8 && n <= 16) {
    return Load<uint64_t>(a.data()) == Load<uint64_t>(b.data()) &&
           Load<uint64_t>(a.data() + n - 8) == Load<uint64_t>(b.data() + n - 8);
  }
  if (n >= 4 && n < 8) {
    return Load<uint32_t>(a.data()) == Load<uint32_t>(b.data()) &&
           Load<uint32_t>(a.data() + n - 4) == Load<uint32_t>(b.data() + n - 4);
  }
  if (n < 4) {
    for (size_t i = 0; i < n; ++i) {
      if (a[i] != b[i]) return false;
    }
    return true;
  }
  return a == b;
}

// "[+-]?[0-9]+" within Int's range, as protobuf's safe_strto32/64: no spaces, base 10.
template <typename Int>
std::optional<Int> ParseDecimal(std::string_view s) {
  const bool negative = !s.empty() && s[0] == '-';
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) s.remove_prefix(1);
  if (s.empty()) return std::nullopt;
  uint64_t n = 0;
  for (const char c : s) {
    if (!IsDigit(c) || __builtin_mul_overflow(n, 10, &n) ||
        __builtin_add_overflow(n, static_cast<unsigned>(c - '0'), &n)) {
      return std::nullopt;
    }
  }
  if (n > uint64_t{std::numeric_limits<Int>::max()} + (negative ? 1 : 0)) return std::nullopt;
  return static_cast<Int>(negative ? 0 - n : n);  // modular: -2^63 comes out whole
}

// A JSON value read into an Int field: an integer in range, a number in range with no
// fraction, or a decimal string. nullopt for anything else, uint64 included (simdjson
// uses it only above INT64_MAX).
template <typename Int>
std::optional<Int> ToInteger(element value) {
  constexpr double kLow = static_cast<double>(std::numeric_limits<Int>::min());  // -2^(n-1)
  switch (value.type()) {
    case element_type::INT64: {
      const int64_t i = value.get_int64().value_unsafe();
      if (i < std::numeric_limits<Int>::min() || i > std::numeric_limits<Int>::max()) break;
      return static_cast<Int>(i);
    }
    case element_type::DOUBLE: {
      const double d = value.get_double().value_unsafe();
      if (!(d >= kLow && d < -kLow) || d != std::trunc(d)) break;
      return static_cast<Int>(d);
    }
    case element_type::STRING: return ParseDecimal<Int>(value.get_string().value_unsafe());
    default: break;
  }
  return std::nullopt;
}

// --- Fields --------------------------------------------------------------------------

enum class Kind : uint8_t { kString, kInt32, kInt64, kEnum, kTimestamp };

std::optional<Kind> KindOf(const FieldDescriptor* field) {
  if (field->is_repeated()) return std::nullopt;
  switch (field->type()) {
    case FieldDescriptor::TYPE_STRING: return Kind::kString;
    case FieldDescriptor::TYPE_INT32: return Kind::kInt32;
    case FieldDescriptor::TYPE_INT64: return Kind::kInt64;
    case FieldDescriptor::TYPE_ENUM: return Kind::kEnum;
    case FieldDescriptor::TYPE_MESSAGE:
      if (field->message_type() == Timestamp::descriptor()) return Kind::kTimestamp;
      return std::nullopt;
    default: return std::nullopt;
  }
}

std::string_view Expected(Kind kind) {
  switch (kind) {
    case Kind::kString: return "a string";
    case Kind::kInt32: return "an int32";
    case Kind::kInt64: return "an int64";
    case Kind::kEnum: return "an enum name or number";
    case Kind::kTimestamp: return "an RFC 3339 timestamp";
  }
  return "";
}

struct EnumValue {
  std::string_view name;
  int32_t number;
};

// One field of M: its proto name, and how a JSON value (not null) is applied to it.
template <typename M>
struct Field {
  std::string_view name;
  Kind kind;
  bool (*apply)(Context&, M*, const Field&, element);
  Timestamp* (*release)(M*) = nullptr;  // Timestamps: takes the field's value, if set
  // Set by Table:
  const FieldDescriptor* descriptor = nullptr;
  std::vector<EnumValue> enum_values;  // enums: every value the schema defines
};

// Every field of M, checked against M's descriptor (a field added to the .proto and not
// here, or of another kind, stops the process at the first Read), and its JSON names.
template <typename M>
class Table {
 public:
  Table(std::initializer_list<Field<M>> fields) : fields_(fields) {
    const google::protobuf::Descriptor* type = M::descriptor();
    Require(static_cast<int>(fields_.size()) == type->field_count() && fields_.size() <= kMaxFields,
            "the table does not list every field of the message");
    for (size_t i = 0; i < fields_.size(); ++i) {
      Field<M>& field = fields_[i];
      field.descriptor = type->FindFieldByName(std::string(field.name));
      Require(field.descriptor != nullptr && KindOf(field.descriptor) == field.kind,
              "a field's name or kind is not the .proto's");
      if (field.kind == Kind::kTimestamp) timestamps_.push_back(field.release);
      if (field.kind == Kind::kEnum) {
        const google::protobuf::EnumDescriptor* values = field.descriptor->enum_type();
        for (int v = 0; v < values->value_count(); ++v) {
          field.enum_values.push_back({values->value(v)->name(), values->value(v)->number()});
        }
      }
      // The decoder used to read JSON through nlohmann::json, whose keys come out sorted,
      // so of a field given under both names the one that sorts first is applied first.
      std::string_view first = field.name;
      std::string_view second = field.descriptor->json_name();
      if (second < first) std::swap(first, second);
      names_.push_back({first, static_cast<int>(2 * i)});
      if (second != first) names_.push_back({second, static_cast<int>(2 * i + 1)});
    }
  }

  // The slot (2 x field index + which of its names) of `key`, or -1 if no field has that
  // name. Looks from *next on: keys mostly come in field order.
  int Find(std::string_view key, size_t* next) const {
    for (size_t n = 0; n < names_.size(); ++n) {
      size_t k = *next + n;
      if (k >= names_.size()) k -= names_.size();
      if (Equal(names_[k].name, key)) {
        *next = k + 1;
        return names_[k].slot;
      }
    }
    return -1;
  }

  const Field<M>& field(int index) const { return fields_[index]; }
  // Takes every Timestamp `message` has (to reuse them) into *spares.
  void ReleaseTimestamps(M* message, std::vector<std::unique_ptr<Timestamp>>* spares) const {
    for (Timestamp* (*release)(M*) : timestamps_) {
      if (Timestamp* timestamp = release(message)) spares->emplace_back(timestamp);
    }
  }

 private:
  struct Name {
    std::string_view name;
    int slot;
  };
  static void Require(bool ok, const char* what) {
    if (ok) return;
    std::fprintf(stderr, "c360 json_reader: %s: %s\n", M::descriptor()->full_name().c_str(), what);
    std::abort();
  }

  std::vector<Field<M>> fields_;
  std::vector<Name> names_;
  std::vector<Timestamp* (*)(M*)> timestamps_;
};

template <typename M>
const Table<M>& TableOf();

// The message's fields from the JSON object's members: of each name the last member,
// then each field's names in the table's order. Fails at the first value its field does
// not take, with ctx.error saying which.
template <typename M>
bool ReadFields(Context& ctx, object members, M* message) {
  const Table<M>& table = TableOf<M>();
  union Slot {  // set only where `given` says so
    Slot() {}
    element value;
  } slots[2 * kMaxFields];
  uint32_t given = 0;
  size_t next = 0;
  for (const simdjson::dom::key_value_pair member : members) {
    const int slot = table.Find(member.key, &next);
    if (slot < 0 && member.key.empty()) {  // protobuf refuses it, whatever its value
      ctx.error = "\"\": a member needs a name";
      return false;
    }
    if (slot < 0) continue;  // not a field: skipped (SPEC: forward compatible)
    slots[slot].value = member.value;
    given |= uint32_t{1} << slot;
  }
  for (; given != 0; given &= given - 1) {
    const int slot = std::countr_zero(given);
    const element value = slots[slot].value;
    if (value.is_null()) continue;
    const Field<M>& field = table.field(slot / 2);
    if (field.apply(ctx, message, field, value)) continue;
    if (ctx.error.empty()) {  // else a Timestamp's member failed and said why
      std::string shown = simdjson::minify(value);
      if (shown.size() > 64) shown = shown.substr(0, 60) + " ...";
      ctx.error = ": " + shown + " is not " + std::string(Expected(field.kind));
    } else {
      ctx.error.insert(0, ".");
    }
    ctx.error.insert(0, field.name);
    return false;
  }
  return true;
}

// The class and argument type of a generated accessor (mutable_x() or set_x(value)).
template <typename T>
struct Accessor;
template <typename C, typename R>
struct Accessor<R (C::*)()> {
  using Class = C;
};
template <typename C, typename A>
struct Accessor<void (C::*)(A)> {
  using Class = C;
  using Arg = A;
};
template <auto kAccessor>
using ClassOf = typename Accessor<decltype(kAccessor)>::Class;
template <auto kAccessor>
using ArgOf = typename Accessor<decltype(kAccessor)>::Arg;

template <auto kMutable>
bool ApplyString(Context&, ClassOf<kMutable>* message, const Field<ClassOf<kMutable>>&,
                 element value) {
  std::string_view s;
  if (value.get_string().get(s) != simdjson::SUCCESS) return false;
  (message->*kMutable)()->assign(s);  // into the string's buffer: no allocation once warm
  return true;
}

template <auto kSet>
bool ApplyInteger(Context&, ClassOf<kSet>* message, const Field<ClassOf<kSet>>&, element value) {
  const std::optional<ArgOf<kSet>> i = ToInteger<ArgOf<kSet>>(value);
  if (!i) return false;
  (message->*kSet)(*i);
  return true;
}

template <auto kSet>
bool ApplyEnum(Context& ctx, ClassOf<kSet>* message, const Field<ClassOf<kSet>>& field,
               element value) {
  int32_t number = 0;
  std::string_view name;
  if (value.get_string().get(name) == simdjson::SUCCESS) {
    number = kUndefinedEnumNumber;
    for (const EnumValue& defined : field.enum_values) {
      if (!Equal(defined.name, name)) continue;
      number = defined.number;
      break;
    }
    if (number == kUndefinedEnumNumber) {
      ctx.bad_enums->push_back({std::string(field.name), std::string(name)});
    }
  } else if (const std::optional<int32_t> n = ToInteger<int32_t>(value)) {
    number = *n;
  } else {
    return false;
  }
  (message->*kSet)(static_cast<ArgOf<kSet>>(number));  // proto3 enums are open
  return true;
}

// The text of a Timestamp, read left to right.
class TimeText {
 public:
  explicit TimeText(std::string_view text) : text_(text) {}

  // A number of 1 to `width` digits within [min, max].
  [[gnu::always_inline]] bool Number(int width, int min, int max, int* n) {
    if (at_ == text_.size() || !IsDigit(text_[at_])) return false;
    *n = 0;
    for (int i = 0; i < width && at_ < text_.size() && IsDigit(text_[at_]); ++i) {
      *n = *n * 10 + (text_[at_++] - '0');
    }
    return *n >= min && *n <= max;
  }
  [[gnu::always_inline]] bool Next(char c) {
    if (at_ == text_.size() || text_[at_] != c) return false;
    ++at_;
    return true;
  }
  // One or more digits, of which the first 9 are the nanoseconds.
  bool Fraction(int32_t* nanos) {
    if (at_ == text_.size() || !IsDigit(text_[at_])) return false;
    int digits = 0;
    for (*nanos = 0; at_ < text_.size() && IsDigit(text_[at_]); ++at_, ++digits) {
      if (digits < 9) *nanos = *nanos * 10 + (text_[at_] - '0');
    }
    for (; digits < 9; ++digits) *nanos *= 10;
    return true;
  }
  // Protobuf reads the text as a C string: a NUL byte ends it (and is no digit or sign).
  bool AtEnd() const { return at_ == text_.size() || text_[at_] == '\0'; }

 private:
  std::string_view text_;
  size_t at_ = 0;
};

// An RFC 3339 time as protobuf 3.21 reads a Timestamp string: the year in 1 to 4 digits
// (1..9999), the other numbers in 1 or 2, a valid date, any number of fraction digits
// (the first 9 count), then "Z" or an offset "+hh:mm"/"-hh:mm" and nothing more. An offset
// can move the time outside the Timestamp range: the decoder's check reports that.
bool ParseTime(std::string_view text, int64_t* seconds, int32_t* nanos) {
  TimeText t(text);
  int year, month, day, hour, minute, second;
  if (!t.Number(4, 1, 9999, &year) || !t.Next('-') || !t.Number(2, 1, 12, &month) || !t.Next('-') ||
      !t.Number(2, 1, 31, &day) || !t.Next('T') || !t.Number(2, 0, 23, &hour) || !t.Next(':') ||
      !t.Number(2, 0, 59, &minute) || !t.Next(':') || !t.Number(2, 0, 59, &second)) {
    return false;
  }
  const std::chrono::year_month_day date{std::chrono::year(year),
                                         std::chrono::month(static_cast<unsigned>(month)),
                                         std::chrono::day(static_cast<unsigned>(day))};
  if (!date.ok()) return false;  // 30 February
  *seconds = int64_t{std::chrono::sys_days(date).time_since_epoch().count()} * 86'400 +
             hour * 3'600 + minute * 60 + second;
  *nanos = 0;
  if (t.Next('.') && !t.Fraction(nanos)) return false;
  if (t.Next('Z')) return t.AtEnd();
  const bool ahead = t.Next('+');
  if (!ahead && !t.Next('-')) return false;
  int offset_hours, offset_minutes;
  if (!t.Number(2, 0, 23, &offset_hours) || !t.Next(':') || !t.Number(2, 0, 59, &offset_minutes)) {
    return false;
  }
  const int offset = offset_hours * 3'600 + offset_minutes * 60;
  *seconds += ahead ? -offset : offset;
  return t.AtEnd();
}

// The Timestamp of a field: the one the field's other name set, else a spare one
// (cleared), else a new one.
template <auto kRelease, auto kSetAllocated>
Timestamp* MutableTimestamp(Context& ctx, ClassOf<kRelease>* message) {
  Timestamp* timestamp = (message->*kRelease)();
  if (timestamp == nullptr && !ctx.spare_timestamps->empty()) {
    timestamp = ctx.spare_timestamps->back().release();
    ctx.spare_timestamps->pop_back();
    timestamp->Clear();
  }
  if (timestamp == nullptr) timestamp = new Timestamp();
  (message->*kSetAllocated)(timestamp);
  return timestamp;
}

template <auto kRelease, auto kSetAllocated>
bool ApplyTimestamp(Context& ctx, ClassOf<kRelease>* message, const Field<ClassOf<kRelease>>&,
                    element value) {
  std::string_view text;
  if (value.get_string().get(text) == simdjson::SUCCESS) {
    int64_t seconds;
    int32_t nanos;
    if (!ParseTime(text, &seconds, &nanos)) return false;
    Timestamp* timestamp = MutableTimestamp<kRelease, kSetAllocated>(ctx, message);
    timestamp->set_seconds(seconds);
    timestamp->set_nanos(nanos);
    return true;
  }
  object members;
  if (value.get_object().get(members) != simdjson::SUCCESS) return false;
  return ReadFields(ctx, members, MutableTimestamp<kRelease, kSetAllocated>(ctx, message));
}

template <auto kRelease>
Timestamp* Release(ClassOf<kRelease>* message) {
  return (message->*kRelease)();
}

template <auto kMutable>
Field<ClassOf<kMutable>> String(std::string_view name) {
  return {name, Kind::kString, &ApplyString<kMutable>};
}
template <auto kSet>
Field<ClassOf<kSet>> Integer(std::string_view name) {
  static_assert(std::is_same_v<ArgOf<kSet>, int32_t> || std::is_same_v<ArgOf<kSet>, int64_t>);
  return {name, sizeof(ArgOf<kSet>) == 4 ? Kind::kInt32 : Kind::kInt64, &ApplyInteger<kSet>};
}
template <auto kSet>
Field<ClassOf<kSet>> Enum(std::string_view name) {
  return {name, Kind::kEnum, &ApplyEnum<kSet>};
}
template <auto kRelease, auto kSetAllocated>
Field<ClassOf<kRelease>> Time(std::string_view name) {
  return {name, Kind::kTimestamp, &ApplyTimestamp<kRelease, kSetAllocated>, &Release<kRelease>};
}

// --- The tables, in field-number order ------------------------------------------------

template <>
const Table<v1::UsageEvent>& TableOf() {
  using M = v1::UsageEvent;
  static const Table<M> table{
      String<&M::mutable_event_id>("event_id"),
      String<&M::mutable_customer_id>("customer_id"),
      Time<&M::release_event_time, &M::set_allocated_event_time>("event_time"),
      String<&M::mutable_module>("module"),
      String<&M::mutable_user_id>("user_id"),
      String<&M::mutable_action>("action"),
      Integer<&M::set_quantity>("quantity"),
  };
  return table;
}

template <>
const Table<v1::TicketEvent>& TableOf() {
  using M = v1::TicketEvent;
  static const Table<M> table{
      String<&M::mutable_event_id>("event_id"),
      String<&M::mutable_customer_id>("customer_id"),
      Time<&M::release_event_time, &M::set_allocated_event_time>("event_time"),
      String<&M::mutable_ticket_id>("ticket_id"),
      Enum<&M::set_kind>("kind"),
      Enum<&M::set_priority>("priority"),
      String<&M::mutable_category>("category"),
      String<&M::mutable_module>("module"),
      Time<&M::release_response_due, &M::set_allocated_response_due>("response_due"),
      Time<&M::release_resolution_due, &M::set_allocated_resolution_due>("resolution_due"),
      Integer<&M::set_csat>("csat"),
      String<&M::mutable_subject>("subject"),
  };
  return table;
}

template <>
const Table<v1::InvoiceEvent>& TableOf() {
  using M = v1::InvoiceEvent;
  static const Table<M> table{
      String<&M::mutable_event_id>("event_id"),
      String<&M::mutable_customer_id>("customer_id"),
      Time<&M::release_event_time, &M::set_allocated_event_time>("event_time"),
      String<&M::mutable_invoice_id>("invoice_id"),
      Enum<&M::set_kind>("kind"),
      Integer<&M::set_amount_cents>("amount_cents"),
      Integer<&M::set_paid_cents>("paid_cents"),
      String<&M::mutable_currency>("currency"),
      Time<&M::release_due_date, &M::set_allocated_due_date>("due_date"),
  };
  return table;
}

template <>
const Table<v1::CampaignEvent>& TableOf() {
  using M = v1::CampaignEvent;
  static const Table<M> table{
      String<&M::mutable_event_id>("event_id"),
      String<&M::mutable_customer_id>("customer_id"),
      Time<&M::release_event_time, &M::set_allocated_event_time>("event_time"),
      String<&M::mutable_campaign_id>("campaign_id"),
      String<&M::mutable_channel>("channel"),
      Enum<&M::set_kind>("kind"),
      Integer<&M::set_nps>("nps"),
      Integer<&M::set_csat>("csat"),
  };
  return table;
}

template <>
const Table<v1::CustomerProfile>& TableOf() {
  using M = v1::CustomerProfile;
  static const Table<M> table{
      String<&M::mutable_customer_id>("customer_id"),
      String<&M::mutable_name>("name"),
      Enum<&M::set_segment>("segment"),
      String<&M::mutable_industry>("industry"),
      String<&M::mutable_region>("region"),
      Integer<&M::set_annual_revenue_cents>("annual_revenue_cents"),
      Time<&M::release_contract_start, &M::set_allocated_contract_start>("contract_start"),
      Time<&M::release_contract_end, &M::set_allocated_contract_end>("contract_end"),
      String<&M::mutable_owner>("owner"),
      Time<&M::release_churned_on, &M::set_allocated_churned_on>("churned_on"),
  };
  return table;
}

// A Timestamp given as an object (protobuf reads it as any message).
template <>
const Table<Timestamp>& TableOf() {
  using M = Timestamp;
  static const Table<M> table{
      Integer<&M::set_seconds>("seconds"),
      Integer<&M::set_nanos>("nanos"),
  };
  return table;
}

// --- Parsing ---------------------------------------------------------------------------

// Whether "-?[0-9]+" fits int64 (negative) or uint64, as simdjson needs.
bool FitsIn64Bits(std::string_view integer) {
  const bool negative = integer.starts_with('-');
  if (negative) integer.remove_prefix(1);
  uint64_t n = 0;
  for (const char c : integer) {
    if (__builtin_mul_overflow(n, 10, &n) || __builtin_add_overflow(n, c - '0', &n)) {
      return false;
    }
  }
  return !negative || n <= uint64_t{1} << 63;
}

// nlohmann's parser, which the decoder used before, reads an integer beyond 64 bits as a
// double (and protobuf then reads that double); simdjson refuses the document. Returns
// `json` with ".0" after each such integer outside strings, or nullopt if it has none.
std::optional<std::string> WidenBigIntegers(std::string_view json) {
  std::string widened;
  size_t copied = 0;
  for (size_t i = 0; i < json.size(); ++i) {
    if (json[i] == '"') {
      for (++i; i < json.size() && json[i] != '"'; ++i) {
        if (json[i] == '\\') ++i;
      }
      continue;
    }
    if (json[i] != '-' && !IsDigit(json[i])) continue;
    size_t end = i + 1;
    while (end < json.size() && IsDigit(json[end])) ++end;
    const bool integer = end == json.size() || std::strchr(".eE", json[end]) == nullptr;
    if (integer && !FitsIn64Bits(json.substr(i, end - i))) {
      widened.append(json.substr(copied, end - copied)).append(".0");
      copied = end;
    }
    while (end < json.size() && std::strchr("0123456789.eE+-", json[end]) != nullptr) ++end;
    i = end - 1;
  }
  if (copied == 0) return std::nullopt;
  return widened.append(json.substr(copied));
}

// nlohmann's names for the JSON types, as the decoder's details have always said them.
std::string_view TypeName(element value) {
  switch (value.type()) {
    case element_type::ARRAY: return "array";
    case element_type::OBJECT: return "object";
    case element_type::STRING: return "string";
    case element_type::BOOL: return "boolean";
    case element_type::NULL_VALUE: return "null";
    default: return "number";
  }
}

simdjson::dom::parser MakeParser(size_t capacity) {
  simdjson::dom::parser parser;
  // Every later growth of the parser keeps this depth.
  if (parser.allocate(capacity, kMaxJsonDepth) != simdjson::SUCCESS) std::abort();
  return parser;
}

}  // namespace

struct JsonReader::Impl {
  simdjson::dom::parser parser = MakeParser(4096);
  std::string padded;                                        // the value, then simdjson's padding
  std::vector<std::unique_ptr<Timestamp>> spare_timestamps;  // at most one per field

  Impl() { spare_timestamps.reserve(16); }

  // Parses `json` (a leading UTF-8 byte order mark skipped, as nlohmann did) with
  // `parser`, into *root; or returns why it is not valid JSON.
  static std::optional<std::string> Parse(std::string_view json, simdjson::dom::parser& parser,
                                          std::string& padded, element* root) {
    if (json.starts_with("\xEF\xBB\xBF")) json.remove_prefix(3);
    if (padded.size() < json.size() + simdjson::SIMDJSON_PADDING) {
      padded.resize(json.size() + simdjson::SIMDJSON_PADDING);
    }
    std::memcpy(padded.data(), json.data(), json.size());
    std::memset(padded.data() + json.size(), 0, simdjson::SIMDJSON_PADDING);
    simdjson::error_code error = parser.parse(padded.data(), json.size(), false).get(*root);
    // Read again as nlohmann did, where simdjson refuses what nlohmann read: a NUL byte ended
    // the value (a C string's end, which some producers send), and integers beyond 64 bits
    // were doubles.
    if (error != simdjson::SUCCESS && json.find('\0') != std::string_view::npos) {
      return Parse(json.substr(0, json.find('\0')), parser, padded, root);
    }
    if (error == simdjson::NUMBER_ERROR) {
      if (std::optional<std::string> widened = WidenBigIntegers(json)) {
        return Parse(*widened, parser, padded, root);
      }
    }
    if (error == simdjson::DEPTH_ERROR) {
      return "JSON nests deeper than " + std::to_string(kMaxJsonDepth) + " levels";
    }
    if (error != simdjson::SUCCESS) return std::string("value is not valid JSON");
    return std::nullopt;
  }
};

JsonReader::JsonReader() = default;
JsonReader::~JsonReader() = default;
JsonReader::JsonReader(JsonReader&&) noexcept = default;
JsonReader& JsonReader::operator=(JsonReader&&) noexcept = default;

template <typename M>
std::optional<std::string> JsonReader::ReadMessage(std::string_view json, M* message,
                                                   std::vector<BadEnum>* bad_enums) {
  if (!impl_) impl_ = std::make_unique<Impl>();
  Impl& impl = *impl_;
  // Cleared, but its Timestamps kept for the fields this value sets.
  TableOf<M>().ReleaseTimestamps(message, &impl.spare_timestamps);
  message->Clear();

  std::optional<simdjson::dom::parser> large_parser;
  std::string large_padded;
  const bool large = json.size() > kRetainedBytes;
  if (large) large_parser = MakeParser(json.size());
  element root;
  if (auto invalid = Impl::Parse(json, large ? *large_parser : impl.parser,
                                 large ? large_padded : impl.padded, &root)) {
    return invalid;
  }
  object members;
  if (root.get_object().get(members) != simdjson::SUCCESS) {
    return "JSON value is " + std::string(TypeName(root)) + ", not an object";
  }
  Context ctx{bad_enums, &impl.spare_timestamps, {}};
  if (!ReadFields(ctx, members, message)) {
    return "JSON does not match " + M::descriptor()->full_name() + ": " + ctx.error;
  }
  return std::nullopt;
}

std::optional<std::string> JsonReader::Read(std::string_view json, v1::UsageEvent* message,
                                            std::vector<BadEnum>* bad_enums) {
  return ReadMessage(json, message, bad_enums);
}
std::optional<std::string> JsonReader::Read(std::string_view json, v1::TicketEvent* message,
                                            std::vector<BadEnum>* bad_enums) {
  return ReadMessage(json, message, bad_enums);
}
std::optional<std::string> JsonReader::Read(std::string_view json, v1::InvoiceEvent* message,
                                            std::vector<BadEnum>* bad_enums) {
  return ReadMessage(json, message, bad_enums);
}
std::optional<std::string> JsonReader::Read(std::string_view json, v1::CampaignEvent* message,
                                            std::vector<BadEnum>* bad_enums) {
  return ReadMessage(json, message, bad_enums);
}
std::optional<std::string> JsonReader::Read(std::string_view json, v1::CustomerProfile* message,
                                            std::vector<BadEnum>* bad_enums) {
  return ReadMessage(json, message, bad_enums);
}

}  // namespace c360
