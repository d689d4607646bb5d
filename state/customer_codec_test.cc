#include "state/customer_codec.h"

#include <google/protobuf/unknown_field_set.h>
#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include <limits>
#include <random>

#include "common/time.h"
#include "scoring/test_events.h"

namespace c360 {

// The encoder before the direct writer (as of 87fa115), unchanged: it fills the message
// from the state and serializes it. Encode must write the same bytes.
struct CustomerCodec::MessageEncoder {
  static void Encode(const CustomerState& s, state::v1::Customer* scratch, std::string* out) {
    state::v1::Customer& c = *scratch;
    c.Clear();
    c.set_version(1);
    c.set_customer_id(s.customer_id_);
    c.set_has_events(s.has_events_);
    if (s.profile_) *c.mutable_profile() = *s.profile_;
    for (const UsageDay& u : s.usage_days_) {
      c.add_usage_day(u.day);
      c.add_usage_count(u.count);
    }
    for (const ModuleDay& m : s.module_days_) {
      c.add_module_day(m.day);
      c.add_module_index(m.module);
      c.add_module_count(m.count);
    }
    for (const std::string& m : s.modules_) c.add_modules(m);
    for (const MonthCount& m : s.months_) {
      c.add_month(m.month);
      c.add_month_count(m.count);
    }
    c.set_last_usage_day(s.last_usage_day_);
    for (const TicketState& t : s.tickets_) {
      state::v1::Ticket* p = c.add_tickets();
      p->set_id(t.id);
      p->set_priority(t.priority);
      p->set_category(t.category);
      p->set_module(t.module);
      p->set_subject(t.subject);
      p->set_created(t.created);
      p->set_response_due(t.response_due);
      p->set_resolution_due(t.resolution_due);
      p->set_first_response(t.first_response);
      p->set_first_resolved(t.first_resolved);
      p->set_resolved(t.resolved);
      p->set_closed(t.closed);
      p->set_response_breached(t.response_breached);
      p->set_resolution_breached(t.resolution_breached);
      p->set_response_alerted(t.response_alerted);
      p->set_resolution_alerted(t.resolution_alerted);
      for (const std::string& id : t.applied) p->add_applied(id);
    }
    for (const InvoiceState& i : s.invoices_) {
      state::v1::Invoice* p = c.add_invoices();
      p->set_id(i.id);
      p->set_amount_cents(i.amount_cents);
      p->set_paid_cents(i.paid_cents);
      p->set_issued(i.issued);
      p->set_due(i.due);
      p->set_disputed(i.disputed);
      p->set_voided(i.voided);
      p->set_overdue_alerted(i.overdue_alerted);
      p->set_overdue_resolved(i.overdue_resolved);
      for (const std::string& id : i.applied) p->add_applied(id);
    }
    for (const CampaignState& k : s.campaigns_) {
      state::v1::Campaign* p = c.add_campaigns();
      p->set_id(k.id);
      p->set_sent_day(k.sent_day);
      p->set_engaged_day(k.engaged_day);
      for (const std::string& id : k.applied) p->add_applied(id);
    }
    for (const Rating& r : s.ratings_) {
      c.add_rating_time(r.time);
      c.add_rating_csat(r.csat);
    }
    c.set_nps(s.nps_);
    c.set_nps_time(s.nps_time_);
    c.set_credit_hold(s.credit_hold_);
    c.set_credit_hold_time(s.credit_hold_time_);
    c.set_last_interaction(s.last_interaction_);
    for (const RuleState& r : s.rules_) {
      state::v1::RuleState* p = c.add_rules();
      p->set_firing(r.firing);
      p->set_episode(r.episode);
      p->set_severity(r.severity);
      p->set_key(r.key());
    }
    c.set_published_health(s.published_.health);
    c.set_published_risk(s.published_.risk);
    c.set_published_status(s.published_.status);
    c.set_published_risk_level(s.published_.risk_level);
    c.set_pruned_day(s.pruned_day_);
    c.set_rescored_day(s.rescored_day_);
    for (const DailyScore& d : s.daily_scores_) c.add_daily_scores(PackDaily(d));
    c.set_journal_next(s.journal_next_);
    for (int32_t month : s.daily_months_) c.add_daily_months(month);
    if (const UserActivity* u = s.users_.get()) {
      std::string users;
      for (const UserDays& d : u->users) {
        for (int i = 0; i < 8; ++i) users.push_back(static_cast<char>(d.hash >> (8 * i)));
        for (int i = 0; i < 8; ++i) users.push_back(static_cast<char>(d.days >> (8 * i)));
      }
      c.set_users(users);
      c.set_users_anchor_day(u->anchor_day);
    }
    for (const DailyScore& d : s.daily_tail_) c.add_daily_tail(PackDaily(d));
    c.set_published_lifecycle(s.published_.lifecycle);
    c.set_published_context(s.published_.context);
    c.set_published_shadow_risk(s.published_.shadow_risk + 1);
    c.SerializeToString(out);
  }
};

namespace {

using namespace c360::testing;

constexpr int64_t kInt64Min = std::numeric_limits<int64_t>::min();

std::vector<DailyScore> Daily(std::initializer_list<DailyScore> scores) { return scores; }

TEST(DailyScoresTest, KeepsTheLastValueOfEachDayAndOnlyChanges) {
  CustomerState s("c1");
  s.RecordDaily(100, 80, 10, 1);
  s.RecordDaily(100, 75, 12, 2);  // later the same day: the day's value is the last one
  EXPECT_EQ(s.daily_scores(), Daily({{100, 75, 12, 2}}));
  s.RecordDaily(101, 75, 12, 2);  // unchanged: carried forward, no entry
  s.RecordDaily(103, 70, 15, 2);
  EXPECT_EQ(s.daily_scores(), Daily({{100, 75, 12, 2}, {103, 70, 15, 2}}));
  s.RecordDaily(103, 75, 12, 2);  // back to the day before's value: the entry goes
  EXPECT_EQ(s.daily_scores(), Daily({{100, 75, 12, 2}}));
  s.RecordDaily(99, 60, 30, 3);  // a timer's deadline behind T counts for the last day
  EXPECT_EQ(s.daily_scores(), Daily({{100, 60, 30, 3}}));
}

using Months = std::vector<int32_t>;

TEST(DailyScoresTest, ClosedMonthsAreStoredOnceAndKeep366DaysAndTheValueInForceAtTheirStart) {
  const int32_t jan70 = MonthIndexOfDay(0), jan71 = MonthIndexOfDay(380),
                feb71 = MonthIndexOfDay(400), mar72 = MonthIndexOfDay(800);
  ASSERT_EQ(jan71, jan70 + 12);
  CustomerState s("c1");
  s.RecordDaily(0, 50, 1, 2);
  s.RecordDaily(10, 60, 1, 2);
  EXPECT_FALSE(s.daily_flush_pending());
  s.RecordDaily(380, 70, 1, 2);  // a later month: January 1970 closes
  EXPECT_EQ(s.daily_scores(), Daily({{380, 70, 1, 2}}));
  ASSERT_TRUE(s.daily_flush_pending());
  CustomerState::DailyFlush flush = s.TakeDailyFlush();
  ASSERT_EQ(flush.put.size(), 1u);
  EXPECT_EQ(flush.put[0].first, jan70);
  EXPECT_EQ(flush.put[0].second, Daily({{0, 50, 1, 2}, {10, 60, 1, 2}}));
  EXPECT_EQ(flush.drop, Months{});  // [15, 380]: day 10's value is in force at day 15
  EXPECT_EQ(s.daily_months(), Months{jan70});
  EXPECT_FALSE(s.daily_flush_pending());

  s.RecordDaily(400, 80, 1, 1);
  s.RecordDaily(800, 90, 1, 1);  // keeps [435, 800]: only day 400's value is in force
  EXPECT_EQ(s.daily_scores(), Daily({{800, 90, 1, 1}}));
  flush = s.TakeDailyFlush();
  ASSERT_EQ(flush.put.size(), 1u);  // January 1971 closed and out of range at once
  EXPECT_EQ(flush.put[0].first, feb71);
  EXPECT_EQ(flush.put[0].second, Daily({{400, 80, 1, 1}}));
  EXPECT_EQ(flush.drop, (Months{jan70, jan71}));
  EXPECT_EQ(s.daily_months(), Months{feb71});
  EXPECT_EQ(MonthIndexOfDay(s.daily_scores().back().day), mar72);

  // A customer created again starts a new timeline: its stored months go.
  s.ClearDailyScores();
  s.RecordDaily(900, 40, 60, 3);
  flush = s.TakeDailyFlush();
  EXPECT_TRUE(flush.put.empty());
  EXPECT_EQ(flush.drop, Months{feb71});
  EXPECT_EQ(s.daily_months(), Months{});
  EXPECT_EQ(s.daily_scores(), Daily({{900, 40, 60, 3}}));
}

TEST(DailyScoresTest, AFormatOneTimelineClosesItsEarlierMonthsWhenDecoded) {
  state::v1::Customer value;  // as format 1 wrote it: the whole timeline in the value
  value.set_version(1);
  value.set_customer_id("c1");
  for (int32_t day : {0, 40, 70, 75}) {
    value.add_daily_scores(CustomerCodec::PackDaily({day, 60, 10, 2}));
  }
  CustomerState s;
  ASSERT_TRUE(CustomerCodec::Decode(value.SerializeAsString(), &s));
  EXPECT_EQ(s.daily_scores(), Daily({{70, 60, 10, 2}, {75, 60, 10, 2}}));  // March 1970
  ASSERT_TRUE(s.daily_flush_pending());
  const CustomerState::DailyFlush flush = s.TakeDailyFlush();
  ASSERT_EQ(flush.put.size(), 2u);
  EXPECT_EQ(flush.put[0].second, Daily({{0, 60, 10, 2}}));
  EXPECT_EQ(flush.put[1].second, Daily({{40, 60, 10, 2}}));
  EXPECT_EQ(s.daily_months(), (Months{MonthIndexOfDay(0), MonthIndexOfDay(40)}));
  // Encoded, the value lists its stored months and keeps the open one's entries only.
  std::string bytes;
  CustomerCodec::Encode(s, &bytes);
  CustomerState back;
  ASSERT_TRUE(CustomerCodec::Decode(bytes, &back));
  EXPECT_FALSE(back.daily_flush_pending());
  EXPECT_EQ(back.daily_months(), s.daily_months());
  EXPECT_EQ(back.daily_scores(), s.daily_scores());
}

TEST(CustomerCodecTest, RoundTripsDailyScoresAndTheJournalSequence) {
  CustomerState s("c1");
  s.RecordDaily(20'000, 96, 8, 1);
  s.RecordDaily(20'001, 52, 75, 3);
  s.RecordDaily(-3, 1, 2, 4);  // before 1970 still counts for the last day
  for (int i = 0; i < 7; ++i) s.TakeJournalSequence();
  std::string bytes;
  CustomerCodec::Encode(s, &bytes);
  CustomerState back;
  ASSERT_TRUE(CustomerCodec::Decode(bytes, &back));
  EXPECT_EQ(back.daily_scores(), Daily({{20'000, 96, 8, 1}, {20'001, 1, 2, 4}}));
  EXPECT_EQ(back.journal_next(), 7u);
}

// Encode against the message-building encoder: the same bytes, which Decode reads back
// into a state that encodes to them again. `bytes` is the caller's reused buffer.
void ExpectSameBytes(const CustomerState& s, std::string* bytes) {
  state::v1::Customer message;
  std::string expected;
  CustomerCodec::MessageEncoder::Encode(s, &message, &expected);
  CustomerCodec::Encode(s, bytes);
  if (*bytes != expected) {
    state::v1::Customer written;
    std::string report;
    google::protobuf::util::MessageDifferencer differ;
    differ.ReportDifferencesToString(&report);
    if (!written.ParseFromString(*bytes)) {
      report = "Encode's bytes do not parse";
    } else if (differ.Compare(message, written)) {
      report = "the same message, other bytes";
    }
    ADD_FAILURE() << "Encode's " << bytes->size() << " bytes differ from the reference's "
                  << expected.size() << ": " << report;
    return;
  }
  CustomerState back;
  ASSERT_TRUE(CustomerCodec::Decode(*bytes, &back));
  std::string again;
  CustomerCodec::Encode(back, &again);
  EXPECT_EQ(again, *bytes) << "Decode(Encode(s)) encodes to other bytes";
}

// Random states: built from events through CustomerState's public API (FromEvents), and
// decoded from random Customer messages (FromMessage), which reach every field with any
// value, INT64_MIN and friends included.
class RandomStates {
 public:
  explicit RandomStates(uint64_t seed) : rng_(seed) {}

  CustomerState FromEvents() {
    CustomerState s(OneIn(20) ? "" : Pick(kTexts) + std::to_string(Between(0, 99)));
    TimeMs stream = OneIn(4) ? Between(-40 * kMsPerDay * 365, 0) : At(Small(0, 400));
    const int events = static_cast<int>(Between(0, OneIn(10) ? 400 : 60));
    for (int n = 0; n < events; ++n) {
      stream += Between(0, 2 * kMsPerDay);
      const TimeMs t = stream - (OneIn(5) ? Between(0, 90 * kMsPerDay) : 0);  // late events
      const auto day = static_cast<int32_t>(DayOf(stream));
      switch (Between(0, 13)) {
        case 0:
        case 1:
        case 2: {
          v1::UsageEvent e = Usage(Pick(kModules), OneIn(10) ? 0 : Between(1, 1'000'000'000));
          if (!OneIn(4)) e.set_user_id("u" + std::to_string(Small(0, 40)));
          (void)s.ApplyUsage(e, t, day);
          break;
        }
        case 3:
        case 4: (void)s.ApplyTicket(TicketEvent(), t, config_); break;
        case 5:
        case 6: (void)s.ApplyInvoice(InvoiceEvent(), t); break;
        case 7: (void)s.ApplyCampaign(CampaignEvent(), t); break;
        case 8:
          if (OneIn(5)) {
            s.RemoveProfile();
          } else {
            s.ApplyProfile(Profile());
          }
          break;
        case 9: s.RecordDaily(day + Small(-3, 3), Small(0, 100), Small(0, 100), Small(0, 4)); break;
        case 10: s.Prune(day); break;
        case 11: {
          RuleState& r = s.rules()[static_cast<size_t>(Between(0, kRuleCount - 1))];
          r = {OneIn(2), static_cast<int8_t>(Small(0, 3)), Int32(),
               OneIn(2) ? kNoDay : static_cast<int32_t>(Small(0, 2'900'000))};
          break;
        }
        case 12:
          s.published() = {Int32(), Int32(), Int32(), Int32()};
          s.published().shadow_risk = static_cast<int32_t>(Between(-1, 100));
          if (OneIn(2)) s.set_rescored_day(OneIn(3) ? kNoDay : Int32());
          for (int64_t j = Between(0, 3); j > 0; --j) s.TakeJournalSequence();
          break;
        case 13:  // a commit stores the closed months; a customer created again
          if (OneIn(8)) {
            s.ClearDailyScores();
          } else {
            (void)s.TakeDailyFlush();
          }
          break;
      }
    }
    // Times the events do not reach: none, the extremes, before 1970.
    for (TicketState& ticket : s.mutable_tickets()) {
      if (OneIn(4)) ticket.created = ExtremeTime();
      if (OneIn(4)) ticket.resolved = ExtremeTime();
      if (OneIn(4)) ticket.first_response = ExtremeTime();
      if (OneIn(8)) ticket.priority = Int32();
      if (OneIn(8)) ticket.response_alerted = ticket.resolution_alerted = true;
    }
    for (InvoiceState& invoice : s.mutable_invoices()) {
      if (OneIn(4)) invoice.due = ExtremeTime();
      if (OneIn(4)) invoice.paid_cents = Int64();
      if (OneIn(8)) invoice.overdue_alerted = invoice.overdue_resolved = true;
    }
    return s;
  }

  CustomerState FromMessage() {
    state::v1::Customer c;
    c.set_version(1);
    c.set_customer_id(Pick(kTexts));
    c.set_has_events(OneIn(2));
    if (OneIn(2)) *c.mutable_profile() = Profile();
    for (int64_t n = Between(0, 70); n > 0; --n) {
      c.add_usage_day(Int32());
      c.add_usage_count(Int64());
    }
    for (int64_t n = Between(0, 5); n > 0; --n) c.add_modules(Pick(kModules));
    for (int64_t n = c.modules_size() == 0 ? 0 : Between(0, 40); n > 0; --n) {
      c.add_module_day(Int32());
      c.add_module_index(static_cast<uint32_t>(Between(0, c.modules_size() - 1)));
      c.add_module_count(Int64());
    }
    for (int64_t n = Between(0, 14); n > 0; --n) {
      c.add_month(Int32());
      c.add_month_count(Int64());
    }
    c.set_last_usage_day(Int32());
    for (int64_t n = Between(0, 12); n > 0; --n) {
      state::v1::Ticket* t = c.add_tickets();
      t->set_id(Pick(kTexts));
      t->set_priority(Int32());
      t->set_category(Pick(kTexts));
      t->set_module(Pick(kModules));
      t->set_subject(Pick(kTexts));
      t->set_created(Int64());
      t->set_response_due(Int64());
      t->set_resolution_due(Int64());
      t->set_first_response(Int64());
      t->set_first_resolved(Int64());
      t->set_resolved(Int64());
      t->set_closed(OneIn(2));
      t->set_response_breached(OneIn(2));
      t->set_resolution_breached(OneIn(2));
      t->set_response_alerted(OneIn(2));
      t->set_resolution_alerted(OneIn(2));
      for (int64_t k = Between(0, 6); k > 0; --k) t->add_applied(Pick(kTexts));
    }
    for (int64_t n = Between(0, 6); n > 0; --n) {
      state::v1::Invoice* i = c.add_invoices();
      i->set_id(Pick(kTexts));
      i->set_amount_cents(Int64());
      i->set_paid_cents(Int64());
      i->set_issued(Int64());
      i->set_due(Int64());
      i->set_disputed(OneIn(2));
      i->set_voided(OneIn(2));
      i->set_overdue_alerted(OneIn(2));
      i->set_overdue_resolved(OneIn(2));
      for (int64_t k = Between(0, 6); k > 0; --k) i->add_applied(Pick(kTexts));
    }
    for (int64_t n = Between(0, 4); n > 0; --n) {
      state::v1::Campaign* k = c.add_campaigns();
      k->set_id(Pick(kTexts));
      k->set_sent_day(Int32());
      k->set_engaged_day(Int32());
      for (int64_t j = Between(0, 4); j > 0; --j) k->add_applied(Pick(kTexts));
    }
    for (int64_t n = Between(0, 20); n > 0; --n) {
      c.add_rating_time(Int64());
      c.add_rating_csat(Int32());
    }
    c.set_nps(Int32());
    c.set_nps_time(Int64());
    c.set_credit_hold(OneIn(2));
    c.set_credit_hold_time(Int64());
    c.set_last_interaction(Int64());
    for (int64_t n = Between(0, kRuleCount); n > 0; --n) {
      state::v1::RuleState* r = c.add_rules();
      r->set_firing(OneIn(2));
      r->set_episode(Int32());
      r->set_severity(static_cast<int32_t>(Small(0, 3)));
      // A stored key is a date or empty (RENEWAL_DUE's contract end).
      r->set_key(OneIn(2) ? "" : FormatDate(StartOfDay(Small(0, 2'900'000))));
    }
    c.set_published_health(Int32());
    c.set_published_risk(Int32());
    c.set_published_status(Int32());
    c.set_published_risk_level(Int32());
    if (OneIn(2)) c.set_published_shadow_risk(Int32());
    c.set_pruned_day(Int32());
    c.set_rescored_day(Int32());
    for (int64_t n = Between(0, 400); n > 0; --n) c.add_daily_scores(rng_());
    for (int64_t n = Between(0, 16); n > 0; --n) c.add_daily_months(Int32());
    c.set_journal_next(OneIn(4) ? std::numeric_limits<uint64_t>::max() : rng_() >> Between(0, 63));
    if (OneIn(2)) {
      std::string users;  // whole UserDays: 16 bytes each
      for (int64_t n = Between(1, 50) * 16; n > 0; --n) users.push_back(static_cast<char>(rng_()));
      c.set_users(users);
      c.set_users_anchor_day(Int32());
    }
    for (int64_t n = Between(0, 9); n > 0; --n) c.add_daily_tail(rng_());
    c.set_published_lifecycle(Int32());
    c.set_published_context(static_cast<uint32_t>(rng_()));
    CustomerState s;
    EXPECT_TRUE(CustomerCodec::Decode(c.SerializeAsString(), &s));
    return s;
  }

 private:
  // Strings of every length class and of several scripts, NUL included (valid UTF-8:
  // proto3 strings must be).
  inline static const std::vector<std::string> kTexts = {"",
                                                         "a",
                                                         "T-1",
                                                         "INV-0042",
                                                         "cust-00042",
                                                         "évènement",
                                                         "日本語のチケット",
                                                         "🙂🚀",
                                                         "Ω≈ç√∫",
                                                         std::string("nul\0inside", 10),
                                                         std::string(127, 'x'),
                                                         std::string(128, 'y'),
                                                         std::string(300, 'z'),
                                                         std::string(20'000, 'w')};
  inline static const std::vector<std::string> kModules = {
      "", "api", "reports", "dashboards", "other", "модуль", "模块", std::string(200, 'm')};

  int64_t Between(int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>(lo, hi)(rng_);
  }
  int Small(int lo, int hi) { return static_cast<int>(Between(lo, hi)); }
  bool OneIn(int n) { return Between(0, n - 1) == 0; }
  const std::string& Pick(const std::vector<std::string>& from) {
    // The 20 KB string rarely, so that most states stay small.
    const std::string& s = from[static_cast<size_t>(Small(0, static_cast<int>(from.size()) - 1))];
    return s.size() > 1000 && !OneIn(20) ? from[0] : s;
  }
  // Small, negative, at each width of varint, and the extremes.
  int64_t Int64() {
    switch (Between(0, 5)) {
      case 0: return 0;
      case 1: return Between(-300, 300);
      case 2: return OneIn(2) ? kInt64Min : std::numeric_limits<int64_t>::max();
      case 3: return static_cast<int64_t>(rng_() >> Between(1, 63)) * (OneIn(2) ? -1 : 1);
      default: return At(Small(-30'000, 30'000), Small(0, 23));
    }
  }
  int32_t Int32() {
    switch (Between(0, 3)) {
      case 0: return 0;
      case 1: return static_cast<int32_t>(Between(-300, 300));
      case 2: return OneIn(2) ? kNoDay : std::numeric_limits<int32_t>::max();  // INT32_MIN
      default: return static_cast<int32_t>(static_cast<uint32_t>(rng_()));
    }
  }
  TimeMs ExtremeTime() {
    switch (Between(0, 4)) {
      case 0: return kNoTime;  // INT64_MIN
      case 1: return std::numeric_limits<TimeMs>::max();
      case 2: return -1;
      case 3: return 0;
      default: return Between(-100 * 365 * kMsPerDay, -1);
    }
  }
  google::protobuf::Timestamp Time() { return ToTimestamp(At(Small(-20'000, 2'000))); }

  v1::CustomerProfile Profile() {
    v1::CustomerProfile p;
    if (OneIn(6)) return p;  // a profile with nothing set is still a profile
    p.set_customer_id(Pick(kTexts));
    p.set_name(Pick(kTexts));
    p.set_segment(static_cast<v1::CustomerProfile::Segment>(Between(0, 4)));
    p.set_industry(Pick(kTexts));
    p.set_region(Pick(kTexts));
    p.set_annual_revenue_cents(Int64());
    if (OneIn(2)) *p.mutable_contract_start() = Time();
    if (OneIn(2)) *p.mutable_contract_end() = Time();
    p.set_owner(Pick(kTexts));
    // A field of a newer producer's schema, kept and written back as protobuf does.
    if (OneIn(8)) p.GetReflection()->MutableUnknownFields(&p)->AddVarint(100, 7);
    return p;
  }
  v1::TicketEvent TicketEvent() {
    v1::TicketEvent e = Ticket("e" + std::to_string(Between(0, 40)), Pick(kTexts),
                               static_cast<v1::TicketEvent::Kind>(Between(0, 6)),
                               static_cast<v1::TicketEvent::Priority>(Between(0, 4)));
    if (OneIn(2)) e.set_category(Pick(kTexts));
    if (OneIn(2)) e.set_module(Pick(kModules));
    if (OneIn(2)) e.set_subject(Pick(kTexts));
    if (OneIn(3)) e.set_csat(static_cast<int32_t>(Between(1, 5)));
    if (OneIn(4)) *e.mutable_response_due() = Time();
    if (OneIn(4)) *e.mutable_resolution_due() = Time();
    return e;
  }
  v1::InvoiceEvent InvoiceEvent() {
    v1::InvoiceEvent e = Invoice("e" + std::to_string(Between(0, 40)), Pick(kTexts),
                                 static_cast<v1::InvoiceEvent::Kind>(Between(0, 7)));
    e.set_amount_cents(Between(0, 1'000'000'000));
    if (OneIn(2)) e.set_paid_cents(Between(0, 1'000'000));
    if (OneIn(2)) *e.mutable_due_date() = Time();
    return e;
  }
  v1::CampaignEvent CampaignEvent() {
    v1::CampaignEvent e = Campaign("e" + std::to_string(Between(0, 40)), Pick(kTexts),
                                   static_cast<v1::CampaignEvent::Kind>(Between(0, 7)));
    if (OneIn(3)) e.set_nps(static_cast<int32_t>(Between(0, 10)));
    if (OneIn(3)) e.set_csat(static_cast<int32_t>(Between(1, 5)));
    return e;
  }

  std::mt19937_64 rng_;
  Config config_;
};

TEST(CustomerCodecTest, WritesTheMessageEncodersBytesForStatesFromEvents) {
  RandomStates random(17);
  std::string bytes = std::string(100'000, '?');  // reused, as StateBatch's buffer is
  for (int n = 0; n < 2'000; ++n) {
    SCOPED_TRACE("state " + std::to_string(n) + " of seed 17");
    ExpectSameBytes(random.FromEvents(), &bytes);
    if (::testing::Test::HasFailure()) return;
  }
}

TEST(CustomerCodecTest, WritesTheMessageEncodersBytesForStatesFromRandomMessages) {
  RandomStates random(1717);
  std::string bytes;
  for (int n = 0; n < 2'000; ++n) {
    SCOPED_TRACE("state " + std::to_string(n) + " of seed 1717");
    ExpectSameBytes(random.FromMessage(), &bytes);
    if (::testing::Test::HasFailure()) return;
  }
}

TEST(CustomerCodecTest, WritesTheMessageEncodersBytesForEdgeStates) {
  std::string bytes;
  ExpectSameBytes(CustomerState(), &bytes);  // no id; the sentinels (kNoTime, kNoDay, -1)

  CustomerState profile_only("c1");
  profile_only.ApplyProfile(v1::CustomerProfile());  // an empty profile is still written
  ExpectSameBytes(profile_only, &bytes);

  // A year of history, as BM_EncodeCustomer's: 60 usage days, the open month's daily
  // scores and the stored months.
  CustomerState year("cust-100007");
  Config config;
  for (int day = 0; day < 400; ++day) {
    const auto d = static_cast<int32_t>(DayOf(At(day)));
    year.Prune(d);
    (void)year.ApplyUsage(Usage(day % 3 == 0 ? "api" : "reports", 3 + day % 7), At(day, 10), d);
    year.RecordDaily(d, 50 + day % 41, 10 + day % 31, 1 + day % 3);
    (void)year.TakeDailyFlush();
    (void)year.ApplyTicket(Ticket("t" + std::to_string(day), "T-" + std::to_string(day % 20),
                                  v1::TicketEvent::Kind(1 + day % 6)),
                           At(day, 9), config);
  }
  ExpectSameBytes(year, &bytes);
}

// Strings that are not UTF-8 cannot come from input (protobuf's and simdjson's parsers
// refuse them), but if one did: the same bytes as before, which Decode refuses, as
// protobuf's parser does for proto3 strings.
TEST(CustomerCodecTest, WritesTheMessageEncodersBytesForStringsThatAreNotUtf8) {
  CustomerState s("c\xff");
  state::v1::Customer message;
  std::string expected, bytes;
  CustomerCodec::MessageEncoder::Encode(s, &message, &expected);  // logs protobuf's complaint
  CustomerCodec::Encode(s, &bytes);
  EXPECT_EQ(bytes, expected);
  CustomerState back;
  EXPECT_FALSE(CustomerCodec::Decode(bytes, &back));
}

}  // namespace
}  // namespace c360
