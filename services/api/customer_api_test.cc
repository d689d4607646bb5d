#include "services/api/customer_api.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <random>
#include <set>

#include <nlohmann/json.hpp>

#include "c360/v1/health.pb.h"
#include "scoring/test_events.h"
#include "services/engine/fake_record_owner.h"
#include "state/customer_codec.h"
#include "services/engine/task.h"

namespace c360::api {
namespace {

using namespace c360::testing;
using nlohmann::json;

// Crafted customers go through a real Task into a real StateStore; the API reads the
// store's snapshot as it does beside the engine.
class CustomerApiTest : public ::testing::Test {
 protected:
  CustomerApiTest()
      : dir_(std::filesystem::temp_directory_path() /
             ("c360-api-test-" + std::to_string(::getpid()) + "-" +
              ::testing::UnitTest::GetInstance()->current_test_info()->name())),
        clock_(At(11)),
        task_(0, config_, clock_, OutputFormat::kProtobuf, &owner_) {
    std::filesystem::remove_all(dir_);
    store_ = StateStore::Open(dir_.string());
    task_.Restore(*store_);
    // The engine's way: the task's rows loaded when it is assigned, then each commit's.
    index_ = std::make_unique<RowIndex>();
    index_->Load(0, std::shared_ptr<const StateView>(store_->View()));
    api_ = std::make_shared<CustomerApi>(
        config_, clock_, [this] { return store_.get(); },
        [] {
          return Ownership{{0}, 2, "c360-test"};
        },
        nullptr, index_.get());
  }
  ~CustomerApiTest() override {
    router_.reset();
    api_.reset();
    index_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  template <typename Event>
  void Feed(InputTopic topic, Event e, const std::string& customer, TimeMs t) {
    e.set_customer_id(customer);
    *e.mutable_event_time() = ToTimestamp(t);
    FeedRaw(topic, customer, e.SerializeAsString(), t);
  }
  void Profile(const std::string& id, const std::string& name, v1::CustomerProfile::Segment segment,
               int64_t revenue_cents) {
    v1::CustomerProfile p;
    p.set_customer_id(id);
    p.set_name(name);
    p.set_segment(segment);
    p.set_annual_revenue_cents(revenue_cents);
    FeedRaw(InputTopic::kCustomers, id, p.SerializeAsString(), At(0));
  }
  void FeedRaw(InputTopic topic, const std::string& key, std::optional<std::string> value,
               TimeMs t) {
    void* handle = owner_.Hold({key, value.value_or(""), {}});
    auto* held = static_cast<FakeOwner::Held*>(handle);
    TaskRecord r;
    r.input.topic = topic;
    r.input.key = held->key;
    if (value) r.input.value = held->value;
    r.input.kafka_timestamp_ms = t;
    r.offset = offset_++;
    r.handle = handle;
    task_.Buffer(r);
  }
  // Applies everything and commits, as the engine's processing loop does; the outputs
  // go to `published` if given.
  void Commit(std::vector<PublishItem>* published = nullptr) {
    for (InputTopic topic : kAllInputTopics) task_.MarkAtEnd(topic);
    task_.Process(1'000'000);
    for (int round = 0; round < 2; ++round) {
      StateBatch batch;
      std::vector<PublishItem> publish;
      std::vector<RowChange> rows;
      task_.Drain(&batch, &publish, &rows);
      ASSERT_FALSE(store_->Commit(&batch).has_value());
      index_->Apply(std::move(rows));
      if (published != nullptr) {
        for (PublishItem& item : publish) published->push_back(std::move(item));
      }
      task_.SweepStep(static_cast<size_t>(-1));
    }
  }

  // Through the routes the server registers: path and parameters as a client sends them.
  HttpResponse Get(const std::string& path, std::map<std::string, std::string> params = {}) {
    index_->WaitIdle();  // what was committed is in the index
    if (router_ == nullptr) {
      router_ = std::make_unique<Router>();
      CustomerApi::Register(api_, *router_);
    }
    auto escape = [](const std::string& text) {
      static constexpr char kHex[] = "0123456789ABCDEF";
      std::string out;
      for (unsigned char c : text) {
        if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || c == ',') {
          out.push_back(static_cast<char>(c));
        } else {
          out += {'%', kHex[c >> 4], kHex[c & 15]};
        }
      }
      return out;
    };
    std::string target = path;
    char separator = '?';
    for (const auto& [name, value] : params) {
      target += separator + escape(name) + "=" + escape(value);
      separator = '&';
    }
    RawRequest raw;
    raw.method = "GET";
    raw.target = target;
    return router_->Handle(raw);
  }
  json GetJson(const std::string& path, std::map<std::string, std::string> params = {}) {
    const HttpResponse r = Get(path, std::move(params));
    EXPECT_EQ(r.status, 200) << path << ": " << r.body;
    return json::parse(r.body);
  }

  // Four customers whose scores follow from SPEC section 4 by hand (see each comment).
  // Each topic's records go in in time order, as one partition holds them.
  void CraftCustomers() {
    Profile("worked", "Worked Example", v1::CustomerProfile::SMB, 5'000'000);
    Profile("healthy", "Healthy Corp", v1::CustomerProfile::ENTERPRISE, 200'000'000);
    Profile("late", "Late Payer", v1::CustomerProfile::MID_MARKET, 30'000'000);
    Profile("support", "Support Heavy", v1::CustomerProfile::ENTERPRISE, 80'000'000);
    // Late payer: INV-3 due on day 2, unpaid at day 10 -> 8 days overdue: financial 92,
    // usage 50 (never used), engagement 70: health floor((175000+250000+230000+105000+5000)/1e4)
    // = 76.
    v1::InvoiceEvent issued = Invoice("l1", "INV-3", v1::InvoiceEvent::ISSUED);
    issued.set_amount_cents(500'000);
    *issued.mutable_due_date() = ToTimestamp(At(2, 0));
    Feed(InputTopic::kInvoices, issued, "late", At(1, 9));
    // Support-heavy: P1 T-9 created day 9 12:00, unanswered past its 1 h response and 8 h
    // resolution SLAs, a credit hold at 14:00: support 35, financial 60 -> health 52, AT_RISK.
    Feed(InputTopic::kTickets, Ticket("s1", "T-9", v1::TicketEvent::CREATED, v1::TicketEvent::P1),
         "support", At(9, 12));
    Feed(InputTopic::kInvoices, Invoice("s2", "", v1::InvoiceEvent::CREDIT_HOLD_SET), "support",
         At(9, 14));
    // SPEC 4's worked example: no usage, no tickets, a credit hold, one survey with NPS 4.
    Feed(InputTopic::kInvoices, Invoice("w1", "", v1::InvoiceEvent::CREDIT_HOLD_SET), "worked",
         At(10, 8));
    v1::CampaignEvent survey = Campaign("w2", "S1", v1::CampaignEvent::RESPONDED);
    survey.set_nps(4);
    Feed(InputTopic::kCampaigns, survey, "worked", At(10, 9));
    // Healthy VIP: usage every day (prior window empty -> usage 100): health 96.
    for (int d = 1; d <= 10; ++d)
      Feed(InputTopic::kUsage, Usage("reports", 3), "healthy", At(d, 10));
    Commit();
  }

  std::filesystem::path dir_;
  Config config_;
  ManualClock clock_;
  FakeOwner owner_;
  Task task_;
  std::unique_ptr<StateStore> store_;
  std::unique_ptr<RowIndex> index_;
  std::shared_ptr<CustomerApi> api_;
  std::unique_ptr<Router> router_;
  int64_t offset_ = 0;
};

TEST_F(CustomerApiTest, WorkedExampleMatchesTheSpec) {
  CraftCustomers();
  const json v = GetJson("/api/v1/customers/worked");
  EXPECT_EQ(v["customer_id"], "worked");
  EXPECT_EQ(v["profile"]["name"], "Worked Example");
  EXPECT_EQ(v["profile"]["segment"], "SMB");
  EXPECT_EQ(v["profile"]["annual_revenue_cents"], 5'000'000);  // a number, not a string
  EXPECT_EQ(v["health"], 64);
  EXPECT_EQ(v["status"], "WATCH");
  EXPECT_EQ(v["risk"], 31);
  EXPECT_EQ(v["risk_level"], "LOW");
  EXPECT_EQ(v["components"],
            json({{"usage", 50.0}, {"support", 100.0}, {"financial", 60.0}, {"engagement", 40.0}}));
  ASSERT_EQ(v["drivers"].size(), 3u);
  EXPECT_EQ(v["drivers"][0]["component"], "usage");
  EXPECT_EQ(v["drivers"][0]["deficit"], 17.5);
  EXPECT_EQ(v["drivers"][1]["component"], "financial");
  EXPECT_EQ(v["drivers"][1]["deficit"], 10.0);
  EXPECT_EQ(v["drivers"][2]["component"], "engagement");
  EXPECT_EQ(v["drivers"][2]["deficit"], 9.0);
  const json& k = v["kpis"];
  EXPECT_EQ(k["credit_hold"], true);
  EXPECT_EQ(k["nps_latest"], 4);
  EXPECT_TRUE(k["csat_avg_r90d"].is_null());
  EXPECT_TRUE(k["days_since_last_usage"].is_null());
  EXPECT_TRUE(k["days_to_renewal"].is_null());
  EXPECT_EQ(k["usage_events_r30d"], 0);
  EXPECT_EQ(k["monthly_usage"].size(), 12u);
  EXPECT_EQ(k["monthly_usage"].back()["month"], "2026-03");
  EXPECT_EQ(k["tickets_by_priority_r30d"], json({{"P1", 0}, {"P2", 0}, {"P3", 0}, {"P4", 0}}));
  EXPECT_EQ(v["stream_time"], "2026-03-11T10:00:00.000Z");  // T: the latest event (usage of day 10)
  EXPECT_EQ(v["staleness_seconds"], 26 * 3600.0);           // the clock is at day 11 12:00
  EXPECT_EQ(v["weekly_tickets"]["weeks"].size(), 13u);
  EXPECT_EQ(v["weekly_tickets"]["sla_target_pct"], 95.0);
}

TEST_F(CustomerApiTest, UnknownCustomerIs404AndNamesTheTasks) {
  CraftCustomers();
  const HttpResponse r = Get("/api/v1/customers/nobody");
  EXPECT_EQ(r.status, 404);
  const json body = json::parse(r.body);
  EXPECT_EQ(body["error"], "customer_not_found");
  EXPECT_NE(body["detail"].get<std::string>().find("0 of 2"), std::string::npos) << body;
  // A tombstone removes a customer known only by its profile.
  Profile("ghost", "Ghost", v1::CustomerProfile::SMB, 1);
  Commit();
  EXPECT_EQ(Get("/api/v1/customers/ghost").status, 200);
  EXPECT_EQ(GetJson("/api/v1/customers")["total"], 5);
  FeedRaw(InputTopic::kCustomers, "ghost", std::nullopt, At(0));  // a tombstone
  Commit();
  EXPECT_EQ(Get("/api/v1/customers/ghost").status, 404);
  EXPECT_EQ(GetJson("/api/v1/customers")["total"], 4);  // its list row went with it
  // A customer with events outlives its profile's tombstone.
  FeedRaw(InputTopic::kCustomers, "late", std::nullopt, At(0));
  Commit();
  const json late = GetJson("/api/v1/customers/late");
  EXPECT_TRUE(late["profile"].is_null());
  EXPECT_EQ(late["kpis"]["days_overdue"], 8);
}

TEST_F(CustomerApiTest, StateFromBeforeListRowsGetsThemAtTheFirstCommit) {
  CraftCustomers();
  // Make the store look like one written before list rows: no R keys, no rows_version.
  StateBatch old;
  for (const char* id : {"worked", "healthy", "late", "support"}) old.DeleteRow(0, id);
  state::v1::Task meta = *store_->LoadTask(0);
  meta.clear_rows_version();
  old.PutTask(0, meta);
  ASSERT_FALSE(store_->Commit(&old).has_value());
  index_->Load(0, std::shared_ptr<const StateView>(store_->View()));  // as at an assignment
  EXPECT_EQ(GetJson("/api/v1/customers")["total"], 0);
  // A task restored from it writes every stored customer's row with its next commit.
  Task restored(0, config_, clock_, OutputFormat::kProtobuf, &owner_);
  restored.Restore(*store_);
  StateBatch batch;
  std::vector<PublishItem> publish;
  std::vector<RowChange> rows;
  restored.Drain(&batch, &publish, &rows);
  ASSERT_FALSE(store_->Commit(&batch).has_value());
  index_->Apply(std::move(rows));
  const json list = GetJson("/api/v1/customers");
  EXPECT_EQ(list["total"], 4);
  EXPECT_EQ(list["customers"][0]["customer_id"], "support");
  EXPECT_EQ(list["customers"][0]["health"], 52);
  EXPECT_EQ(store_->LoadTask(0)->rows_version(), 2);
}

TEST_F(CustomerApiTest, PortfolioRollsUpByEachDimension) {
  const auto profile = [&](const std::string& id, v1::CustomerProfile::Segment segment,
                           const std::string& industry, const std::string& owner, int64_t revenue,
                           std::optional<int> contract_end_day, std::optional<int> churned_day) {
    v1::CustomerProfile p;
    p.set_customer_id(id);
    p.set_name(id);
    p.set_segment(segment);
    p.set_industry(industry);
    p.set_region("EMEA");
    p.set_owner(owner);
    p.set_annual_revenue_cents(revenue);
    if (contract_end_day) *p.mutable_contract_end() = ToTimestamp(At(*contract_end_day, 0));
    if (churned_day) *p.mutable_churned_on() = ToTimestamp(At(*churned_day, 0));
    FeedRaw(InputTopic::kCustomers, id, p.SerializeAsString(), At(0));
  };
  const auto survey = [&](const std::string& id, int nps, int csat, int day) {
    v1::CampaignEvent e = Campaign(id + "-s", "S1", v1::CampaignEvent::RESPONDED);
    e.set_nps(nps);
    e.set_csat(csat);
    Feed(InputTopic::kCampaigns, e, id, At(day, 9));
  };
  const auto use = [&](const std::string& id, const std::string& user, int day) {
    v1::UsageEvent e = Usage("reports");
    e.set_user_id(user);
    Feed(InputTopic::kUsage, e, id, At(day, 10));
  };
  profile("a", v1::CustomerProfile::SMB, "retail", "Ana", 1'000, 40, std::nullopt);
  profile("b", v1::CustomerProfile::SMB, "retail", "Ben", 3'000, 130, std::nullopt);
  profile("c", v1::CustomerProfile::ENTERPRISE, "bank", "Ana", 5'000, std::nullopt, 5);
  survey("a", 10, 5, 3);
  survey("b", 6, 3, 4);
  use("a", "u1", 6);
  use("a", "u2", 7);
  use("d", "u9", 8);   // no profile
  use("c", "u5", 10);  // T: day 10
  Commit();

  std::map<std::string, int> health;
  const json list = GetJson("/api/v1/customers");
  for (const json& c : list["customers"]) {
    health[c["customer_id"].get<std::string>()] = c["health"].get<int>();
  }
  ASSERT_EQ(health.size(), 4u);

  const json segment = GetJson("/api/v1/portfolio");  // by=segment, the default
  EXPECT_EQ(segment["by"], "segment");
  EXPECT_EQ(segment["health_target"], 75.0);
  ASSERT_EQ(segment["rows"].size(), 2u);  // SMB and "" (d); ENTERPRISE's only customer churned
  const json& smb = segment["rows"][0];   // more revenue first
  EXPECT_EQ(smb["value"], "SMB");
  EXPECT_EQ(smb["segment"], "SMB");
  EXPECT_EQ(smb["customers"], 2);
  EXPECT_EQ(smb["revenue_cents"], 4'000);
  EXPECT_EQ(smb["average_health"], (health["a"] + health["b"]) / 2.0);
  EXPECT_EQ(smb["nps"], 0.0);  // 100 x (1 promoter - 1 detractor) / 2
  EXPECT_EQ(smb["nps_respondents"], 2);
  EXPECT_EQ(smb["csat_avg"], 4.0);  // (5 + 3) / 2
  EXPECT_EQ(smb["active_users_r30d"], 2);
  EXPECT_EQ(smb["renewals_due_90d"], json({{"customers", 1}, {"revenue_cents", 1'000}}));
  EXPECT_EQ(smb["renewals_due_180d"], json({{"customers", 2}, {"revenue_cents", 4'000}}));
  EXPECT_EQ(smb["firing_alerts"]["by_rule"]["NPS_DETRACTOR"], 1);  // b's 6
  const json& none = segment["rows"][1];
  EXPECT_EQ(none["value"], "");
  EXPECT_EQ(none["customers"], 1);
  EXPECT_TRUE(none["nps"].is_null());
  EXPECT_TRUE(none["csat_avg"].is_null());
  EXPECT_EQ(segment["totals"]["customers"], 3);
  int scored = 0;
  for (const json& b : segment["health_distribution"]) scored += b["customers"].get<int>();
  EXPECT_EQ(scored, 3);

  const json stage = GetJson("/api/v1/portfolio", {{"by", "lifecycle_stage"}});
  EXPECT_EQ(stage["totals"]["customers"], 4);  // CHURNED counts here
  bool churned = false;
  for (const json& row : stage["rows"]) {
    if (row["value"] == "CHURNED") {
      churned = true;
      EXPECT_EQ(row["customers"], 1);
      EXPECT_EQ(row["revenue_cents"], 5'000);
    }
  }
  EXPECT_TRUE(churned) << stage.dump();

  const json owner = GetJson("/api/v1/portfolio", {{"by", "owner"}});
  std::map<std::string, int> owners;
  for (const json& row : owner["rows"])
    owners[row["owner"].get<std::string>()] = row["customers"].get<int>();
  EXPECT_EQ(owners, (std::map<std::string, int>{{"", 1}, {"Ana", 1}, {"Ben", 1}}));
  const json industry = GetJson("/api/v1/portfolio", {{"by", "industry"}});
  EXPECT_EQ(industry["rows"][0]["value"], "retail");
  EXPECT_EQ(industry["rows"][0]["customers"], 2);

  EXPECT_EQ(Get("/api/v1/portfolio", {{"by", "color"}}).status, 400);
}

// The index follows the commits; a fresh read of the state must give the same answers.
TEST_F(CustomerApiTest, TheRowIndexAnswersAsAFreshReadOfTheState) {
  CraftCustomers();
  // More commits over the same customers: a profile changes, one is removed, one added.
  Profile("late", "Late Payer Renamed", v1::CustomerProfile::GOVERNMENT, 31'000'000);
  FeedRaw(InputTopic::kCustomers, "worked", std::nullopt, At(10));  // tombstone: events stay
  Profile("new", "Newcomer", v1::CustomerProfile::SMB, 7'000);
  Feed(InputTopic::kUsage, Usage("api", 2), "new", At(10, 11));
  Commit();
  const auto fresh = std::make_shared<CustomerApi>(
      config_, clock_, [this] { return store_.get(); },
      [] {
        return Ownership{{0}, 2, "c360-test"};
      });
  Router fresh_router;
  CustomerApi::Register(fresh, fresh_router);
  ASSERT_EQ(Get("/api/v1/summary").status, 200);  // the router, and the index caught up
  const auto both = [&](const std::string& target) {
    RawRequest raw;
    raw.method = "GET";
    raw.target = target;
    const HttpResponse indexed = router_->Handle(raw);
    const HttpResponse read = fresh_router.Handle(raw);
    EXPECT_EQ(indexed.status, 200) << target;
    EXPECT_EQ(indexed.body, read.body) << target;
  };
  for (const char* target :
       {"/api/v1/summary", "/api/v1/portfolio", "/api/v1/portfolio?by=industry",
        "/api/v1/portfolio?by=region", "/api/v1/portfolio?by=owner",
        "/api/v1/portfolio?by=lifecycle_stage", "/api/v1/customers?sort=-revenue",
        "/api/v1/customers?sort=name&limit=2",
        "/api/v1/customers?status=AT_RISK,WATCH&sort=-risk"}) {
    both(target);
  }
}

TEST_F(CustomerApiTest, TiesPageByCustomerIdAndEmptyParametersAreAbsent) {
  // Three customers known only by identical profiles: the same scores (usage 50, support
  // and financial 100, engagement 70: 78), so every sort key ties.
  for (const char* id : {"p3", "p1", "p2"}) Profile(id, "Same", v1::CustomerProfile::SMB, 1000);
  Feed(InputTopic::kUsage, Usage(), "clock", At(1));  // the task's first record scores them
  Commit();
  std::vector<std::string> paged;
  std::map<std::string, std::string> params = {{"limit", "1"}, {"sort", "-health"}, {"q", "p"}};
  for (int i = 0; i < 10; ++i) {
    const json page = GetJson("/api/v1/customers", params);
    for (const json& c : page["customers"]) {
      EXPECT_EQ(c["health"], 78);
      paged.push_back(c["customer_id"]);
    }
    if (page["next_cursor"].is_null()) break;
    params["cursor"] = page["next_cursor"];
  }
  EXPECT_EQ(paged, (std::vector<std::string>{"p1", "p2", "p3"}));
  // SPEC writes the URL with empty parameters: they mean "not given".
  const json all = GetJson(
      "/api/v1/customers",
      {{"status", ""}, {"segment", ""}, {"risk", ""}, {"sort", ""}, {"limit", ""}, {"cursor", ""}});
  EXPECT_EQ(all["total"], 4);
}

TEST_F(CustomerApiTest, JournalKeepsTheLast200Entries) {
  // INV-1 40 days overdue: 68 WATCH. Each credit hold drops it to 58 AT_RISK (a status
  // change and HEALTH_LOW FIRING), each release back to 68 WATCH (a status change and
  // HEALTH_LOW RESOLVED): 4 journal entries per cycle, 2 of them alerts.
  clock_.Set(At(41));  // day 40 is not in the future
  v1::InvoiceEvent issued = Invoice("i1", "INV-1", v1::InvoiceEvent::ISSUED);
  issued.set_amount_cents(1000);
  *issued.mutable_due_date() = ToTimestamp(At(0, 0));
  Feed(InputTopic::kInvoices, issued, "flip", At(0, 1));
  constexpr int kCycles = 60;
  for (int i = 0; i < kCycles; ++i) {
    Feed(InputTopic::kInvoices,
         Invoice("s" + std::to_string(i), "", v1::InvoiceEvent::CREDIT_HOLD_SET), "flip",
         At(40, 0) + 2 * i * 60'000);
    Feed(InputTopic::kInvoices,
         Invoice("r" + std::to_string(i), "", v1::InvoiceEvent::CREDIT_HOLD_RELEASED), "flip",
         At(40, 0) + (2 * i + 1) * 60'000);
  }
  Commit();
  const json t = GetJson("/api/v1/customers/flip/timeline");
  // 1 + 2 first scores and the overdue alert, + 6 x 60 (CREDIT_HOLD fires and resolves
  // too): the journal holds the last 200.
  ASSERT_EQ(t["events"].size(), Task::kJournalKept);
  EXPECT_EQ(t["events"].back()["type"], "status_change");
  EXPECT_EQ(t["events"].back()["to"], "WATCH");
  EXPECT_EQ(t["events"].back()["cause"]["text"], "CREDIT_HOLD_RELEASED on the account");
  const json alerts = GetJson("/api/v1/customers/flip/alerts");
  // The last 33 cycles' 4 alerts (HEALTH_LOW and CREDIT_HOLD, FIRING and RESOLVED) and the
  // one before's CREDIT_HOLD RESOLVED: 200 = 33 x 6 + 2 entries.
  EXPECT_EQ(alerts["history"].size(), 133u);
  EXPECT_EQ(alerts["history"][0]["state"], "RESOLVED");
  EXPECT_EQ(alerts["history"][0]["episode"], kCycles);
  EXPECT_EQ(GetJson("/api/v1/customers/flip")["status"], "WATCH");
}

TEST_F(CustomerApiTest, SupportHeavyCustomerExplainsItself) {
  CraftCustomers();
  const json v = GetJson("/api/v1/customers/support");
  EXPECT_EQ(v["health"], 52);
  EXPECT_EQ(v["status"], "AT_RISK");
  EXPECT_EQ(v["kpis"]["open_p1"], 1);
  EXPECT_EQ(v["kpis"]["sla_breach_rate_pct_r30d"], 100.0);
  ASSERT_EQ(v["recent_tickets"].size(), 1u);
  EXPECT_EQ(v["recent_tickets"][0]["id"], "T-9");
  EXPECT_EQ(v["recent_tickets"][0]["ticket_id"], "T-9");
  EXPECT_EQ(v["recent_tickets"][0]["priority"], "P1");
  EXPECT_EQ(v["recent_tickets"][0]["status"], "OPEN");
  EXPECT_EQ(v["recent_tickets"][0]["sla"], "BREACHED");
  EXPECT_EQ(v["recent_tickets"][0]["response_sla"], "BREACHED");
  EXPECT_EQ(v["recent_tickets"][0]["resolution_sla"], "BREACHED");
  EXPECT_EQ(v["weekly_tickets"]["weeks"].back()["created"], 1);
  EXPECT_EQ(v["weekly_tickets"]["weeks"].back()["breached"], 1);
  std::multiset<std::string> firing;
  for (const json& a : v["firing_alerts"]) firing.insert(a["rule"].get<std::string>());
  // Risk: z = -3 + 2 (breach rate 1) + 0.6 (engagement 70) + 1 (hold) + 0.5 (one P1) = 1.1
  // -> 75, HIGH.
  EXPECT_EQ(v["risk"], 75);
  // The hold is its own alert, and health fell 26 points in a week (78 -> 52).
  EXPECT_EQ(firing, (std::multiset<std::string>{"SLA_BREACH", "SLA_BREACH", "HEALTH_LOW",
                                                "CHURN_RISK_HIGH", "CREDIT_HOLD", "HEALTH_DROP"}));
  EXPECT_EQ(v["kpis"]["health_change_7d"], -26);

  // The timeline says why: the breach came from the response timer, AT_RISK from the hold.
  const json t = GetJson("/api/v1/customers/support/timeline");
  ASSERT_FALSE(t["days"].empty());
  EXPECT_EQ(t["days"].back()["health"], 52);
  EXPECT_EQ(t["days"].back()["status"], "AT_RISK");
  // Known by its profile from the task's first record on (day 1): 78, WATCH, until day 9.
  EXPECT_EQ(t["days"].front()["date"], "2026-03-02");
  EXPECT_EQ(t["days"].front()["health"], 78);
  EXPECT_EQ(t["days"].size(), 10u);
  bool breach_by_timer = false, at_risk_by_hold = false;
  for (const json& e : t["events"]) {
    if (e["type"] == "alert" && e["rule"] == "SLA_BREACH") {
      breach_by_timer |= e["cause"]["kind"] == "timer" &&
                         e["cause"]["text"] == "response SLA deadline of ticket T-9 passed";
    }
    if (e["type"] == "status_change" && e["to"] == "AT_RISK") {
      at_risk_by_hold |=
          e["cause"]["kind"] == "event" &&
          e["cause"]["text"].get<std::string>().find("CREDIT_HOLD_SET") != std::string::npos;
    }
  }
  EXPECT_TRUE(breach_by_timer) << t.dump(2);
  EXPECT_TRUE(at_risk_by_hold) << t.dump(2);

  const json recs = GetJson("/api/v1/customers/support/recommendations");
  ASSERT_FALSE(recs["recommendations"].empty());
  EXPECT_EQ(recs["recommendations"][0]["entity_id"], "T-9");
  EXPECT_NE(recs["recommendations"][0]["action"].get<std::string>().find("Escalate ticket T-9"),
            std::string::npos);

  const json alerts = GetJson("/api/v1/customers/support/alerts");
  // Both SLA kinds of T-9, HEALTH_LOW, CHURN_RISK_HIGH, CREDIT_HOLD, HEALTH_DROP.
  EXPECT_EQ(alerts["firing"].size(), 6u);
  EXPECT_EQ(alerts["firing"][0]["severity"], "CRITICAL");  // P1 breach, most severe first
  EXPECT_EQ(alerts["history"].size(), 6u);
}

TEST_F(CustomerApiTest, LatePayerGetsABillingCall) {
  CraftCustomers();
  const json v = GetJson("/api/v1/customers/late");
  EXPECT_EQ(v["health"], 76);
  EXPECT_EQ(v["kpis"]["days_overdue"], 8);
  EXPECT_EQ(v["kpis"]["overdue_amount_cents"], 500'000);
  ASSERT_EQ(v["open_invoices"].size(), 1u);
  EXPECT_EQ(v["open_invoices"][0]["overdue"], true);
  const json recs = GetJson("/api/v1/customers/late/recommendations");
  ASSERT_FALSE(recs["recommendations"].empty());
  EXPECT_EQ(recs["recommendations"][0]["action"], "Call billing about invoice INV-3");
  EXPECT_EQ(recs["recommendations"][0]["reason"], "5,000.00 unpaid, 8 days overdue");
}

TEST_F(CustomerApiTest, ListFiltersSortsAndPages) {
  CraftCustomers();
  auto ids = [](const json& list) {
    std::vector<std::string> out;
    for (const json& c : list["customers"]) out.push_back(c["customer_id"]);
    return out;
  };
  EXPECT_EQ(ids(GetJson("/api/v1/customers")),
            (std::vector<std::string>{"support", "worked", "late", "healthy"}));
  EXPECT_EQ(ids(GetJson("/api/v1/customers", {{"sort", "-health"}})),
            (std::vector<std::string>{"healthy", "late", "worked", "support"}));
  EXPECT_EQ(ids(GetJson("/api/v1/customers", {{"status", "WATCH"}})),
            (std::vector<std::string>{"worked", "late"}));
  EXPECT_EQ(ids(GetJson("/api/v1/customers", {{"status", "watch"}})),
            (std::vector<std::string>{"worked", "late"}));
  EXPECT_EQ(ids(GetJson("/api/v1/customers", {{"segment", "ENTERPRISE"}, {"sort", "-revenue"}})),
            (std::vector<std::string>{"healthy", "support"}));
  EXPECT_EQ(ids(GetJson("/api/v1/customers", {{"status", "AT_RISK,CRITICAL"}})),
            (std::vector<std::string>{"support"}));
  EXPECT_EQ(ids(GetJson("/api/v1/customers", {{"risk", "LOW"}, {"sort", "id"}})).front(),
            "healthy");
  EXPECT_EQ(ids(GetJson("/api/v1/customers", {{"q", "PAYER"}})),
            (std::vector<std::string>{"late"}));  // name
  EXPECT_EQ(
      ids(GetJson("/api/v1/customers", {{"q", "or"}, {"sort", "id"}})),
      (std::vector<std::string>{"healthy", "support", "worked"}));  // "Corp", "support", "worked"
  const json healthy = GetJson("/api/v1/customers", {{"status", "HEALTHY"}})["customers"][0];
  EXPECT_EQ(healthy["health"], 96);
  EXPECT_EQ(healthy["vip"], true);
  EXPECT_EQ(healthy["segment"], "ENTERPRISE");

  // Pages of one, following next_cursor: every customer exactly once, in order.
  std::vector<std::string> paged;
  std::map<std::string, std::string> params = {{"limit", "1"}, {"sort", "-revenue"}};
  for (int i = 0; i < 10; ++i) {
    const json page = GetJson("/api/v1/customers", params);
    EXPECT_EQ(page["total"], 4);
    for (const std::string& id : ids(page)) paged.push_back(id);
    if (page["next_cursor"].is_null()) break;
    params["cursor"] = page["next_cursor"];
  }
  EXPECT_EQ(paged, (std::vector<std::string>{"healthy", "support", "late", "worked"}));

  for (const auto& [name, value] : std::map<std::string, std::string>{{"limit", "abc"},
                                                                      {"status", "PURPLE"},
                                                                      {"segment", "HUGE"},
                                                                      {"risk", "EXTREME"},
                                                                      {"sort", "mood"},
                                                                      {"cursor", "zz"}}) {
    const HttpResponse r = Get("/api/v1/customers", {{name, value}});
    EXPECT_EQ(r.status, 400) << name << "=" << value;
    const json body = json::parse(r.body);
    EXPECT_EQ(body["error"], "bad_parameter");
    EXPECT_NE(body["detail"].get<std::string>().find(name), std::string::npos) << body;
  }
  for (const std::string bad : {"-5", "0", "1001", "2x"}) {
    EXPECT_EQ(Get("/api/v1/customers", {{"limit", bad}}).status, 400) << bad;
  }
  // A cursor of another sort order is refused, not misread.
  const json first = GetJson("/api/v1/customers", {{"limit", "1"}});
  EXPECT_EQ(Get("/api/v1/customers", {{"cursor", first["next_cursor"]}, {"sort", "name"}}).status,
            400);
}

TEST_F(CustomerApiTest, SummaryCountsAndRevenue) {
  CraftCustomers();
  const json s = GetJson("/api/v1/summary");
  EXPECT_EQ(s["customers"], 4);
  EXPECT_EQ(s["by_status"], json({{"HEALTHY", 1}, {"WATCH", 2}, {"AT_RISK", 1}, {"CRITICAL", 0}}));
  EXPECT_EQ(s["by_segment"]["ENTERPRISE"], 2);
  EXPECT_EQ(s["average_health"], (64 + 96 + 76 + 52) / 4.0);
  EXPECT_EQ(s["total_revenue_cents"], 315'000'000);
  EXPECT_EQ(s["revenue_at_risk_cents"], 80'000'000);
  ASSERT_EQ(s["top_customers_by_revenue"].size(), 4u);
  EXPECT_EQ(s["top_customers_by_revenue"][0]["customer_id"], "healthy");
  EXPECT_EQ(s["top_customers_revenue_share_pct"], 100.0);
  ASSERT_EQ(s["top_at_risk_by_revenue"].size(), 1u);
  EXPECT_EQ(s["top_at_risk_by_revenue"][0]["customer_id"], "support");
  // Within 24 h of T (day 10 10:00): T-9's two SLA breaches (day 9 13:00 and 20:00),
  // HEALTH_LOW, CHURN_RISK_HIGH, CREDIT_HOLD and HEALTH_DROP (day 9 14:00); worked's
  // CREDIT_HOLD (day 10 8:00) and NPS_DETRACTOR (nps 4, 9:00); not INVOICE_OVERDUE (day 2).
  EXPECT_EQ(s["alerts_last_24h"]["by_rule"]["SLA_BREACH"], 2);
  EXPECT_EQ(s["alerts_last_24h"]["by_rule"]["HEALTH_LOW"], 1);
  EXPECT_EQ(s["alerts_last_24h"]["by_rule"]["CHURN_RISK_HIGH"], 1);
  EXPECT_EQ(s["alerts_last_24h"]["by_rule"]["CREDIT_HOLD"], 2);
  EXPECT_EQ(s["alerts_last_24h"]["by_rule"]["HEALTH_DROP"], 1);
  EXPECT_EQ(s["alerts_last_24h"]["by_rule"]["NPS_DETRACTOR"], 1);
  EXPECT_EQ(s["alerts_last_24h"]["by_rule"]["INVOICE_OVERDUE"], 0);
  EXPECT_EQ(s["alerts_last_24h"]["total"], 8);
  EXPECT_EQ(s["tasks"]["owned"], json::array({0}));
  EXPECT_EQ(s["tasks"]["not_owned"], json({1}));
}

// More than a year of daily scores: the customer's value keeps its open month, each closed
// month goes to key family D once, and the timeline still shows each of the last 366 days
// with the scores of that day's last health snapshot (carried forward over days without
// one). The customer is evicted after every commit, so it is read back from the store each
// time.
TEST_F(CustomerApiTest, TimelineKeepsAYearWhileTheCustomerValueKeepsItsOpenMonth) {
  clock_.Set(At(500));
  std::map<int64_t, std::tuple<int, int, int>> last_of_day;  // day -> health, risk, status
  std::mt19937 rng(7);
  constexpr int kDays = 430;
  for (int from = 0; from < kDays; from += 20) {
    for (int d = from; d < std::min(from + 20, kDays); ++d) {
      Feed(InputTopic::kUsage, Usage("reports", 1 + rng() % 40), "year", At(d, 10));
    }
    std::vector<PublishItem> published;
    Commit(&published);
    for (const PublishItem& item : published) {
      if (item.entry.topic() != config_.topics.health) continue;
      v1::HealthSnapshot snapshot;
      ASSERT_TRUE(snapshot.ParseFromString(item.entry.value()));
      last_of_day[DayOf(ToMs(snapshot.stream_time()))] = {snapshot.health(), snapshot.risk(),
                                                          snapshot.status()};
    }
    task_.Evict(0);
  }
  ASSERT_GT(last_of_day.size(), 100u) << "the scores should change on many days";

  CustomerState stored;
  ASSERT_TRUE(store_->LoadCustomer(0, "year", &stored));
  EXPECT_LE(stored.daily_scores().size(), 31u);
  EXPECT_LE(stored.daily_months().size(), 14u);
  EXPECT_GE(stored.daily_months().size(), 12u);
  // Every stored D key is a month the customer lists (none left behind).
  std::set<int32_t> months;
  for (const DailyScore& d : store_->View()->DailyHistory(0, "year"))
    months.insert(MonthIndexOfDay(d.day));
  EXPECT_EQ(months, std::set<int32_t>(stored.daily_months().begin(), stored.daily_months().end()));

  const json days = GetJson("/api/v1/customers/year/timeline")["days"];
  ASSERT_EQ(days.size(), static_cast<size_t>(kDailyScoreDays));
  const int64_t last_day = DayOf(At(kDays - 1));
  for (size_t i = 0; i < days.size(); ++i) {
    const int64_t day = last_day - (kDailyScoreDays - 1) + static_cast<int64_t>(i);
    auto it = last_of_day.upper_bound(day);
    ASSERT_NE(it, last_of_day.begin());
    const auto& [health, risk, status] = std::prev(it)->second;
    const json& entry = days[i];
    ASSERT_EQ(entry["date"], FormatDate(StartOfDay(day)));
    EXPECT_EQ(entry["health"], health) << entry;
    EXPECT_EQ(entry["risk"], risk) << entry;
    EXPECT_EQ(entry["status"],
              v1::HealthSnapshot::Status_Name(static_cast<v1::HealthSnapshot::Status>(status)))
        << entry;
  }
}

// State of format 1 kept a customer's whole timeline in its value: the API reads it as it
// is, and the first commit after the engine loads the customer moves the closed months
// to family D, the timeline unchanged.
TEST_F(CustomerApiTest, FormatOneTimelineMovesToClosedMonthsUnchanged) {
  clock_.Set(At(200));
  Feed(InputTopic::kUsage, Usage("reports", 5), "old", At(150, 10));
  Commit();
  state::v1::Customer value;
  {
    const auto view = store_->View();
    std::string bytes;
    view->ForEachCustomer(0, [&](std::string_view id, std::string_view v) {
      if (id == "old") bytes = std::string(v);
    });
    ASSERT_TRUE(value.ParseFromString(bytes));
  }
  // As format 1 wrote it: a change every 10 days over 150 days, all in the value.
  value.clear_daily_scores();
  value.clear_daily_months();
  const int32_t first = static_cast<int32_t>(DayOf(At(0)));
  for (int i = 0; i <= 15; ++i) {
    value.add_daily_scores(CustomerCodec::PackDaily(
        DailyScore{first + 10 * i, static_cast<uint8_t>(50 + i), static_cast<uint8_t>(i), 2}));
  }
  StateBatch old;
  old.raw()->Put(state::CustomerKey(0, "old"), value.SerializeAsString());
  ASSERT_FALSE(store_->Commit(&old).has_value());
  task_.Evict(0);
  const json before = GetJson("/api/v1/customers/old/timeline")["days"];
  ASSERT_EQ(before.front()["date"], FormatDate(StartOfDay(DayOf(At(0)))));
  ASSERT_EQ(before.front()["health"], 50);

  Feed(InputTopic::kTickets, Ticket("t1", "T-1", v1::TicketEvent::CREATED, v1::TicketEvent::P4),
       "other", At(150, 11));  // loads nothing of "old"
  Commit();
  CustomerState stored;
  ASSERT_TRUE(store_->LoadCustomer(0, "old", &stored));
  EXPECT_EQ(stored.daily_months().size(), 0u);  // not loaded by the engine yet
  Feed(InputTopic::kUsage, Usage("reports", 1), "old", At(150, 12));
  Commit();
  ASSERT_TRUE(store_->LoadCustomer(0, "old", &stored));
  EXPECT_FALSE(stored.daily_months().empty());
  for (const DailyScore& d : stored.daily_scores()) {
    EXPECT_EQ(MonthIndexOfDay(d.day), MonthIndexOfDay(stored.daily_scores().back().day));
  }
  const json after = GetJson("/api/v1/customers/old/timeline")["days"];
  ASSERT_EQ(after.size(), before.size());
  for (size_t i = 0; i + 1 < after.size(); ++i) EXPECT_EQ(after[i], before[i]) << i;
}

}  // namespace
}  // namespace c360::api
