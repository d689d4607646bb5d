#include "state/customer_codec.h"

#include <array>
#include <bit>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "state/state.pb.h"

namespace c360 {

namespace {

// The protobuf wire format (protobuf.dev/programming-guides/encoding), as much of it as
// state.proto's Customer uses. Encode writes it directly instead of filling a
// state::v1::Customer and serializing it: that copied every string of the state (entity
// ids, applied event_ids, module names) into the message first, for every customer
// written at every commit. The bytes are the same as the message's SerializeToString
// (customer_codec_test compares them): fields in ascending number, proto3's zero scalars
// and empty strings left out, repeated numbers packed.
constexpr uint32_t kVarintType = 0;
constexpr uint32_t kLengthDelimitedType = 2;

// 1 + floor(log2(v) / 7), without a division (protobuf's way).
size_t VarintSize(uint64_t v) {
  const auto log2 = static_cast<size_t>(63 ^ std::countl_zero(v | 1));
  return (log2 * 9 + 73) / 64;
}
// int32 and int64 are written as 64-bit two's complement: a negative one takes 10 bytes.
uint64_t Int(int64_t v) { return static_cast<uint64_t>(v); }
uint64_t ZigZag(int64_t v) {
  return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
}
uint64_t ZigZag32(int32_t v) {
  return (static_cast<uint32_t>(v) << 1) ^ static_cast<uint32_t>(v >> 31);
}

uint8_t* WriteVarint(uint8_t* p, uint64_t v) {
  while (v >= 0x80) {
    *p++ = static_cast<uint8_t>(v | 0x80);
    v >>= 7;
  }
  *p++ = static_cast<uint8_t>(v);
  return p;
}

// Encode runs the layout twice: over a Counter, for the size of the value, then over a
// Writer into the output resized to it. A nested message or packed field has its length
// before it: the Counter notes each one's in `lengths`, in the order the layout reaches
// them, and the Writer takes them from there in the same order.
class Counter {
 public:
  explicit Counter(std::vector<size_t>* lengths) : lengths_(lengths) {}
  void Varint(uint64_t v) { size_ += VarintSize(v); }
  // value(item) for each item: the elements of a packed field.
  template <typename Items, typename Value>
  void Varints(const Items& items, const Value& value) {
    for (const auto& item : items) size_ += VarintSize(value(item));
  }
  void Bytes(std::string_view b) { size_ += b.size(); }
  // The length of what body(*this) writes, then that.
  template <typename Body>
  void Nested(const Body& body) {
    const size_t slot = lengths_->size();
    lengths_->push_back(0);
    const size_t start = size_;
    body(*this);
    const size_t length = size_ - start;
    (*lengths_)[slot] = length;
    size_ += VarintSize(length);
  }
  // A generated message: its length, then its bytes (ByteSizeLong caches its size).
  void Message(const google::protobuf::MessageLite& m) {
    const size_t n = m.ByteSizeLong();
    Varint(n);
    size_ += n;
  }
  size_t size() const { return size_; }

 private:
  std::vector<size_t>* lengths_;
  size_t size_ = 0;
};

// Loops write through a local copy of the position: a store through a uint8_t* may alias
// anything, so one through p_ would reload and store p_ at every byte.
class Writer {
 public:
  Writer(char* out, const size_t* lengths)
      : p_(reinterpret_cast<uint8_t*>(out)), lengths_(lengths) {}
  void Varint(uint64_t v) { p_ = WriteVarint(p_, v); }
  template <typename Items, typename Value>
  void Varints(const Items& items, const Value& value) {
    uint8_t* p = p_;
    for (const auto& item : items) p = WriteVarint(p, value(item));
    p_ = p;
  }
  void Bytes(std::string_view b) {
    std::memcpy(p_, b.data(), b.size());
    p_ += b.size();
  }
  template <typename Body>
  void Nested(const Body& body) {
    Varint(*lengths_++);
    body(*this);
  }
  // The size the Counter's pass has just cached (ByteSizeLong), as protobuf's own
  // serialization of nested messages does.
  void Message(const google::protobuf::MessageLite& m) {
    Varint(static_cast<uint64_t>(m.GetCachedSize()));
    p_ = m.SerializeWithCachedSizesToArray(p_);
  }
  const char* end() const { return reinterpret_cast<const char*>(p_); }
  const size_t* lengths_end() const { return lengths_; }

 private:
  uint8_t* p_;
  const size_t* lengths_;
};

constexpr uint32_t Tag(int field, uint32_t type) {
  return static_cast<uint32_t>(field) << 3 | type;
}

// A proto3 scalar (already in its varint form): left out when zero.
template <typename Out>
void VarintField(Out& out, int field, uint64_t v) {
  if (v == 0) return;
  out.Varint(Tag(field, kVarintType));
  out.Varint(v);
}

// A repeated string's element (written even when empty).
template <typename Out>
void BytesField(Out& out, int field, std::string_view v) {
  out.Varint(Tag(field, kLengthDelimitedType));
  out.Varint(v.size());
  out.Bytes(v);
}

// A singular proto3 string: left out when empty.
template <typename Out>
void StringField(Out& out, int field, std::string_view v) {
  if (!v.empty()) BytesField(out, field, v);
}

// A length-delimited field whose contents `body(out)` writes: a nested message, or the
// elements of a packed field.
template <typename Out, typename Body>
void NestedField(Out& out, int field, const Body& body) {
  out.Varint(Tag(field, kLengthDelimitedType));
  out.Nested(body);
}

// A packed repeated number: value(item) is each item's varint form; left out when empty.
template <typename Out, typename Items, typename Value>
void PackedField(Out& out, int field, const Items& items, const Value& value) {
  if (items.empty()) return;
  NestedField(out, field, [&](auto& contents) { contents.Varints(items, value); });
}

template <typename Out>
void RepeatedStrings(Out& out, int field, const std::vector<std::string>& values) {
  for (const std::string& v : values) BytesField(out, field, v);
}

template <typename Out>
void WriteTicket(Out& out, const TicketState& t) {
  using P = state::v1::Ticket;
  StringField(out, P::kIdFieldNumber, t.id);
  VarintField(out, P::kPriorityFieldNumber, Int(t.priority));
  StringField(out, P::kCategoryFieldNumber, t.category);
  StringField(out, P::kModuleFieldNumber, t.module);
  StringField(out, P::kSubjectFieldNumber, t.subject);
  VarintField(out, P::kCreatedFieldNumber, ZigZag(t.created));
  VarintField(out, P::kResponseDueFieldNumber, ZigZag(t.response_due));
  VarintField(out, P::kResolutionDueFieldNumber, ZigZag(t.resolution_due));
  VarintField(out, P::kFirstResponseFieldNumber, ZigZag(t.first_response));
  VarintField(out, P::kFirstResolvedFieldNumber, ZigZag(t.first_resolved));
  VarintField(out, P::kResolvedFieldNumber, ZigZag(t.resolved));
  VarintField(out, P::kClosedFieldNumber, t.closed);
  VarintField(out, P::kResponseBreachedFieldNumber, t.response_breached);
  VarintField(out, P::kResolutionBreachedFieldNumber, t.resolution_breached);
  VarintField(out, P::kResponseAlertedFieldNumber, t.response_alerted);
  VarintField(out, P::kResolutionAlertedFieldNumber, t.resolution_alerted);
  RepeatedStrings(out, P::kAppliedFieldNumber, t.applied);
}

template <typename Out>
void WriteInvoice(Out& out, const InvoiceState& i) {
  using P = state::v1::Invoice;
  StringField(out, P::kIdFieldNumber, i.id);
  VarintField(out, P::kAmountCentsFieldNumber, Int(i.amount_cents));
  VarintField(out, P::kPaidCentsFieldNumber, Int(i.paid_cents));
  VarintField(out, P::kIssuedFieldNumber, ZigZag(i.issued));
  VarintField(out, P::kDueFieldNumber, ZigZag(i.due));
  VarintField(out, P::kDisputedFieldNumber, i.disputed);
  VarintField(out, P::kVoidedFieldNumber, i.voided);
  VarintField(out, P::kOverdueAlertedFieldNumber, i.overdue_alerted);
  VarintField(out, P::kOverdueResolvedFieldNumber, i.overdue_resolved);
  RepeatedStrings(out, P::kAppliedFieldNumber, i.applied);
}

template <typename Out>
void WriteCampaign(Out& out, const CampaignState& k) {
  using P = state::v1::Campaign;
  StringField(out, P::kIdFieldNumber, k.id);
  VarintField(out, P::kSentDayFieldNumber, ZigZag32(k.sent_day));
  VarintField(out, P::kEngagedDayFieldNumber, ZigZag32(k.engaged_day));
  RepeatedStrings(out, P::kAppliedFieldNumber, k.applied);
}

template <typename Out>
void WriteRule(Out& out, const RuleState& r) {
  using P = state::v1::RuleState;
  VarintField(out, P::kFiringFieldNumber, r.firing);
  VarintField(out, P::kEpisodeFieldNumber, Int(r.episode));
  VarintField(out, P::kSeverityFieldNumber, Int(r.severity));
  StringField(out, P::kKeyFieldNumber, r.key());
}

}  // namespace

void CustomerCodec::Encode(const CustomerState& s, std::string* out) {
  using C = state::v1::Customer;
  // The value's layout, for both passes. A lambda in this member, so that it can read the
  // state's private fields (CustomerCodec is CustomerState's friend).
  const auto layout = [&s](auto& w) {
    VarintField(w, C::kVersionFieldNumber, 1);
    StringField(w, C::kCustomerIdFieldNumber, s.customer_id_);
    VarintField(w, C::kHasEventsFieldNumber, s.has_events_);
    if (s.profile_) {  // present even when empty: it says the customer has a profile
      w.Varint(Tag(C::kProfileFieldNumber, kLengthDelimitedType));
      w.Message(*s.profile_);
    }
    PackedField(w, C::kUsageDayFieldNumber, s.usage_days_,
                [](const UsageDay& u) { return ZigZag32(u.day); });
    PackedField(w, C::kUsageCountFieldNumber, s.usage_days_,
                [](const UsageDay& u) { return Int(u.count); });
    PackedField(w, C::kModuleDayFieldNumber, s.module_days_,
                [](const ModuleDay& m) { return ZigZag32(m.day); });
    PackedField(w, C::kModuleIndexFieldNumber, s.module_days_,
                [](const ModuleDay& m) { return uint64_t{m.module}; });
    PackedField(w, C::kModuleCountFieldNumber, s.module_days_,
                [](const ModuleDay& m) { return Int(m.count); });
    RepeatedStrings(w, C::kModulesFieldNumber, s.modules_);
    PackedField(w, C::kMonthFieldNumber, s.months_,
                [](const MonthCount& m) { return Int(m.month); });
    PackedField(w, C::kMonthCountFieldNumber, s.months_,
                [](const MonthCount& m) { return Int(m.count); });
    VarintField(w, C::kLastUsageDayFieldNumber, ZigZag32(s.last_usage_day_));
    for (const TicketState& t : s.tickets_) {
      NestedField(w, C::kTicketsFieldNumber, [&t](auto& m) { WriteTicket(m, t); });
    }
    for (const InvoiceState& i : s.invoices_) {
      NestedField(w, C::kInvoicesFieldNumber, [&i](auto& m) { WriteInvoice(m, i); });
    }
    for (const CampaignState& k : s.campaigns_) {
      NestedField(w, C::kCampaignsFieldNumber, [&k](auto& m) { WriteCampaign(m, k); });
    }
    PackedField(w, C::kRatingTimeFieldNumber, s.ratings_,
                [](const Rating& r) { return ZigZag(r.time); });
    PackedField(w, C::kRatingCsatFieldNumber, s.ratings_,
                [](const Rating& r) { return Int(r.csat); });
    VarintField(w, C::kNpsFieldNumber, Int(s.nps_));
    VarintField(w, C::kNpsTimeFieldNumber, ZigZag(s.nps_time_));
    VarintField(w, C::kCreditHoldFieldNumber, s.credit_hold_);
    VarintField(w, C::kCreditHoldTimeFieldNumber, ZigZag(s.credit_hold_time_));
    VarintField(w, C::kLastInteractionFieldNumber, ZigZag(s.last_interaction_));
    for (const RuleState& r : s.rules_) {  // every rule, an empty message for one never run
      NestedField(w, C::kRulesFieldNumber, [&r](auto& m) { WriteRule(m, r); });
    }
    VarintField(w, C::kPublishedHealthFieldNumber, Int(s.published_.health));
    VarintField(w, C::kPublishedRiskFieldNumber, Int(s.published_.risk));
    VarintField(w, C::kPublishedStatusFieldNumber, Int(s.published_.status));
    VarintField(w, C::kPublishedRiskLevelFieldNumber, Int(s.published_.risk_level));
    VarintField(w, C::kPrunedDayFieldNumber, ZigZag32(s.pruned_day_));
    VarintField(w, C::kRescoredDayFieldNumber, ZigZag32(s.rescored_day_));
    PackedField(w, C::kDailyScoresFieldNumber, s.daily_scores_,
                [](const DailyScore& d) { return PackDaily(d); });
    VarintField(w, C::kJournalNextFieldNumber, s.journal_next_);
    PackedField(w, C::kDailyMonthsFieldNumber, s.daily_months_,
                [](int32_t month) { return Int(month); });
    static_assert(std::endian::native == std::endian::little, "users are stored little-endian");
    if (const UserActivity* a = s.users_.get()) {
      StringField(w, C::kUsersFieldNumber,
                  std::string_view(reinterpret_cast<const char*>(a->users.data()),
                                   a->users.size() * sizeof(UserDays)));
      VarintField(w, C::kUsersAnchorDayFieldNumber, ZigZag32(a->anchor_day));
    }
    PackedField(w, C::kDailyTailFieldNumber, s.daily_tail_,
                [](const DailyScore& d) { return PackDaily(d); });
    VarintField(w, C::kPublishedLifecycleFieldNumber, Int(s.published_.lifecycle));
    VarintField(w, C::kPublishedContextFieldNumber, s.published_.context);
    VarintField(w, C::kPublishedShadowRiskFieldNumber, Int(s.published_.shadow_risk + 1));
  };

  // Per thread, so that encoding allocates nothing once warm.
  thread_local std::vector<size_t> lengths;
  lengths.clear();
  Counter counter(&lengths);
  layout(counter);
  out->resize(counter.size());
  Writer writer(out->data(), lengths.data());
  layout(writer);
  if (writer.end() != out->data() + out->size() ||
      writer.lengths_end() != lengths.data() + lengths.size()) {
    std::fprintf(stderr, "c360 CustomerCodec::Encode: wrote %td bytes of %zu\n",
                 writer.end() - out->data(), out->size());
    std::abort();
  }
}

bool CustomerCodec::Decode(std::string_view bytes, CustomerState* s) {
  state::v1::Customer c;
  if (!c.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())) || c.version() != 1) {
    return false;
  }
  if (c.usage_day_size() != c.usage_count_size() || c.module_day_size() != c.module_index_size() ||
      c.module_day_size() != c.module_count_size() || c.month_size() != c.month_count_size() ||
      c.rating_time_size() != c.rating_csat_size() || c.rules_size() > kRuleCount) {
    return false;
  }
  *s = CustomerState(c.customer_id());
  s->has_events_ = c.has_events();
  if (c.has_profile()) s->profile_ = c.profile();
  for (int i = 0; i < c.usage_day_size(); ++i) {
    s->usage_days_.push_back({c.usage_day(i), c.usage_count(i)});
  }
  for (const std::string& m : c.modules()) s->modules_.push_back(m);
  s->module_r30_.assign(s->modules_.size(), 0);
  for (int i = 0; i < c.module_day_size(); ++i) {
    if (c.module_index(i) >= s->modules_.size()) return false;
    s->module_days_.push_back(
        {c.module_day(i), static_cast<uint16_t>(c.module_index(i)), c.module_count(i)});
  }
  for (int i = 0; i < c.month_size(); ++i) s->months_.push_back({c.month(i), c.month_count(i)});
  s->last_usage_day_ = c.last_usage_day();
  for (const auto& p : c.tickets()) {
    TicketState& t = s->tickets_.emplace_back();
    t.id = p.id();
    t.priority = p.priority();
    t.category = p.category();
    t.module = p.module();
    t.subject = p.subject();
    t.created = p.created();
    t.response_due = p.response_due();
    t.resolution_due = p.resolution_due();
    t.first_response = p.first_response();
    t.first_resolved = p.first_resolved();
    t.resolved = p.resolved();
    t.closed = p.closed();
    t.response_breached = p.response_breached();
    t.resolution_breached = p.resolution_breached();
    t.response_alerted = p.response_alerted();
    t.resolution_alerted = p.resolution_alerted();
    t.applied.assign(p.applied().begin(), p.applied().end());
  }
  for (const auto& p : c.invoices()) {
    InvoiceState& i = s->invoices_.emplace_back();
    i.id = p.id();
    i.amount_cents = p.amount_cents();
    i.paid_cents = p.paid_cents();
    i.issued = p.issued();
    i.due = p.due();
    i.disputed = p.disputed();
    i.voided = p.voided();
    i.overdue_alerted = p.overdue_alerted();
    i.overdue_resolved = p.overdue_resolved();
    i.applied.assign(p.applied().begin(), p.applied().end());
  }
  for (const auto& p : c.campaigns()) {
    CampaignState& k = s->campaigns_.emplace_back();
    k.id = p.id();
    k.sent_day = p.sent_day();
    k.engaged_day = p.engaged_day();
    k.applied.assign(p.applied().begin(), p.applied().end());
  }
  for (int i = 0; i < c.rating_time_size(); ++i) {
    s->ratings_.push_back({c.rating_time(i), c.rating_csat(i)});
  }
  s->nps_ = c.nps();
  s->nps_time_ = c.nps_time();
  s->credit_hold_ = c.credit_hold();
  s->credit_hold_time_ = c.credit_hold_time();
  s->last_interaction_ = c.last_interaction();
  for (int r = 0; r < c.rules_size(); ++r) {
    // The key is a date ("YYYY-MM-DD", RENEWAL_DUE's contract end) or empty.
    const std::optional<TimeMs> key = ParseDate(c.rules(r).key());
    s->rules_[r] =
        RuleState{c.rules(r).firing(), static_cast<int8_t>(c.rules(r).severity()),
                  c.rules(r).episode(), key ? static_cast<int32_t>(DayOf(*key)) : kNoDay};
  }
  s->published_ = {c.published_health(),
                   c.published_risk(),
                   c.published_status(),
                   c.published_risk_level(),
                   c.published_lifecycle(),
                   c.published_context(),
                   c.published_shadow_risk() > 0 ? c.published_shadow_risk() - 1 : -1};
  if (c.users().size() % sizeof(UserDays) != 0) return false;
  if (!c.users().empty()) {
    UserActivity& a = s->users_.emplace();
    a.users.resize(c.users().size() / sizeof(UserDays));
    std::memcpy(a.users.data(), c.users().data(), c.users().size());
    a.anchor_day = c.users_anchor_day();
  }
  s->pruned_day_ = c.pruned_day();
  s->rescored_day_ = c.rescored_day();
  const auto unpack = [](uint64_t v) {
    return DailyScore{static_cast<int32_t>(static_cast<uint32_t>(v >> 24)),
                      static_cast<uint8_t>(v >> 16), static_cast<uint8_t>(v >> 8),
                      static_cast<uint8_t>(v)};
  };
  for (uint64_t v : c.daily_scores()) s->daily_scores_.push_back(unpack(v));
  for (uint64_t v : c.daily_tail()) s->daily_tail_.push_back(unpack(v));
  s->journal_next_ = c.journal_next();
  s->daily_months_.assign(c.daily_months().begin(), c.daily_months().end());
  s->CloseEarlierMonths();  // format 1 kept the whole timeline here
  s->sums_day_ = kNoDay;    // rebuilt on first use
  return true;
}

}  // namespace c360
