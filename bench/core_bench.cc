// The per-event core path, measured without Kafka or RocksDB: decode + merge + apply +
// re-score + rules (Task::Process), and its parts. State is realistic: customers with 60
// days of usage history, 10 open tickets and 5 invoices each, cached in memory.
//
//   build/bench/core_bench                  (docs/performance.md has the latest figures)

#include <benchmark/benchmark.h>
#include <google/protobuf/util/json_util.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <list>
#include <map>
#include <random>

#include "scoring/churn_model.h"
#include "scoring/kpis.h"
#include "scoring/rules.h"
#include "scoring/scores.h"
#include "scoring/test_events.h"
#include "services/engine/decode/decoder.h"
#include "services/engine/output.h"
#include "services/engine/processing_pool.h"
#include "services/engine/task.h"
#include "services/generator/simulation.h"
#include "state/customer_codec.h"

namespace c360 {
namespace {

using namespace c360::testing;

class BenchOwner : public RecordOwner {
 public:
  void Release(void*) override {}
  void CopyHeaders(void*, state::v1::OutboxEntry*) override {}
};

constexpr int kCustomers = 10'000;
constexpr int kHistoryDays = 60;

std::string CustomerId(int i) { return "cust-" + std::to_string(100000 + i); }

// A task holding kCustomers customers with 60 days of history each.
struct Fixture {
  Config config;
  ManualClock clock{At(400)};
  BenchOwner owner;
  Task task{0, config, clock, OutputFormat::kProtobuf, &owner};
  std::list<std::string> bytes;  // records' values, alive while buffered
  std::vector<std::string> ids;
  int64_t offset[kInputTopicCount] = {};

  void Feed(InputTopic topic, const std::string& key, const google::protobuf::Message& m,
            TimeMs t) {
    bytes.push_back(m.SerializeAsString());
    TaskRecord r;
    r.input.topic = topic;
    r.input.key = key;
    r.input.value = bytes.back();
    r.input.kafka_timestamp_ms = t;
    r.offset = offset[static_cast<int>(topic)]++;
    task.Buffer(r);
  }
  void Drain() {
    StateBatch batch;
    std::vector<PublishItem> publish;
    task.Drain(&batch, &publish);
    for (InputTopic topic : kAllInputTopics) task.MarkAtEnd(topic);
    bytes.clear();
  }

  Fixture() {
    for (InputTopic topic : kAllInputTopics) task.MarkAtEnd(topic);
    for (int i = 0; i < kCustomers; ++i) ids.push_back(CustomerId(i));
    using K = v1::TicketEvent;
    for (int day = 0; day < kHistoryDays; ++day) {
      for (int i = 0; i < kCustomers; ++i) {
        v1::UsageEvent u = Usage(i % 3 == 0 ? "api" : "reports", 3);
        u.set_customer_id(ids[i]);
        *u.mutable_event_time() = ToTimestamp(At(day, 10));
        Feed(InputTopic::kUsage, ids[i], u, At(day, 10));
        if (day == kHistoryDays - 2) {  // 10 tickets still open, 5 invoices
          for (int k = 0; k < 10; ++k) {
            v1::TicketEvent t =
                Ticket("t" + std::to_string(k), "T-" + std::to_string(k), K::CREATED, K::P3);
            t.set_customer_id(ids[i]);
            *t.mutable_event_time() = ToTimestamp(At(day, 9));
            Feed(InputTopic::kTickets, ids[i], t, At(day, 9));
          }
          for (int k = 0; k < 5; ++k) {
            v1::InvoiceEvent inv = Invoice("i" + std::to_string(k), "INV-" + std::to_string(k),
                                           v1::InvoiceEvent::ISSUED);
            inv.set_customer_id(ids[i]);
            inv.set_amount_cents(100'000);
            *inv.mutable_due_date() = ToTimestamp(At(day + 300, 0));
            *inv.mutable_event_time() = ToTimestamp(At(day, 8));
            Feed(InputTopic::kInvoices, ids[i], inv, At(day, 8));
          }
        }
      }
      for (InputTopic topic : kAllInputTopics) task.MarkAtEnd(topic);
      task.Process(1 << 30);
      Drain();
    }
  }
};

Fixture& SharedFixture() {
  static Fixture* fixture = new Fixture();
  return *fixture;
}

// Times Task::Process over batches of 10,000 records; `make(n, id, t)` feeds record n for
// customer `id` at time t (untimed).
template <typename Make>
void ProcessBatches(benchmark::State& state, uint32_t seed, TimeMs t, Make make) {
  Fixture& f = SharedFixture();
  std::mt19937 rng(seed);
  constexpr int kBatch = 10'000;
  int64_t events = 0;
  const int64_t snapshots = f.task.counters().snapshots;
  for (auto _ : state) {
    state.PauseTiming();
    f.bytes.clear();
    for (int n = 0; n < kBatch; ++n) make(f, n, f.ids[rng() % kCustomers], ++t);
    for (InputTopic topic : kAllInputTopics) f.task.MarkAtEnd(topic);
    state.ResumeTiming();
    events += f.task.Process(1 << 30);
    state.PauseTiming();
    f.Drain();
    state.ResumeTiming();
  }
  state.SetItemsProcessed(events);
  state.counters["snapshots/event"] =
      static_cast<double>(f.task.counters().snapshots - snapshots) / static_cast<double>(events);
}

// Whole per-event path for usage events of random customers within one day.
void BM_ProcessUsageEvent(benchmark::State& state) {
  ProcessBatches(state, 1, At(kHistoryDays - 1, 11),
                 [](Fixture& f, int n, const std::string& id, TimeMs t) {
                   v1::UsageEvent u = Usage(n % 4 == 0 ? "api" : "dashboards", 1 + n % 5);
                   u.set_customer_id(id);
                   *u.mutable_event_time() = ToTimestamp(t);
                   f.Feed(InputTopic::kUsage, id, u, t);
                 });
}
BENCHMARK(BM_ProcessUsageEvent)->Unit(benchmark::kMillisecond)->UseRealTime();

// engine.threads: two tasks of 10,000 customers each, a batch of 10,000 usage events each,
// applied by a ProcessingPool of 1 or 2 threads (the engine's turn, without Kafka). On this
// machine's 2 cores with nothing else running, the rate at 2 over the rate at 1 is how far
// processing scales with threads when the cores are free.
void BM_ProcessUsageEventThreads(benchmark::State& state) {
  static Fixture* second = new Fixture();
  Fixture* fixtures[] = {&SharedFixture(), second};
  ProcessingPool pool(static_cast<int>(state.range(0)));
  std::mt19937 rng(5);
  constexpr int kBatch = 10'000;
  TimeMs t = At(kHistoryDays - 1, 13);
  std::atomic<int64_t> events{0};
  for (auto _ : state) {
    state.PauseTiming();
    for (Fixture* f : fixtures) {
      f->bytes.clear();
      for (int n = 0; n < kBatch; ++n) {
        const std::string& id = f->ids[rng() % kCustomers];
        v1::UsageEvent u = Usage(n % 4 == 0 ? "api" : "dashboards", 1 + n % 5);
        u.set_customer_id(id);
        *u.mutable_event_time() = ToTimestamp(++t);
        f->Feed(InputTopic::kUsage, id, u, t);
      }
      for (InputTopic topic : kAllInputTopics) f->task.MarkAtEnd(topic);
    }
    state.ResumeTiming();
    pool.ForEach(2, [&](size_t i) { events += fixtures[i]->task.Process(1 << 30); });
    state.PauseTiming();
    for (Fixture* f : fixtures) f->Drain();
    state.ResumeTiming();
  }
  state.SetItemsProcessed(events.load());
}
BENCHMARK(BM_ProcessUsageEventThreads)
    ->ArgName("threads")
    ->Arg(1)
    ->Arg(2)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// Ticket updates of random customers (each changes the entities: KPIs recomputed, timers
// synced).
void BM_ProcessTicketEvent(benchmark::State& state) {
  int64_t n_total = 0;
  ProcessBatches(state, 2, At(kHistoryDays - 1, 12),
                 [&n_total](Fixture& f, int n, const std::string& id, TimeMs t) {
                   v1::TicketEvent e =
                       Ticket("u" + std::to_string(++n_total), "T-" + std::to_string(n % 10),
                              v1::TicketEvent::UPDATED, v1::TicketEvent::P3);
                   e.set_customer_id(id);
                   *e.mutable_event_time() = ToTimestamp(t);
                   f.Feed(InputTopic::kTickets, id, e, t);
                 });
}
BENCHMARK(BM_ProcessTicketEvent)->Unit(benchmark::kMillisecond)->UseRealTime();

// Invoice disputes opened and resolved on the customers' 5 invoices.
void BM_ProcessInvoiceEvent(benchmark::State& state) {
  int64_t n_total = 0;
  ProcessBatches(
      state, 3, At(kHistoryDays - 1, 13),
      [&n_total](Fixture& f, int n, const std::string& id, TimeMs t) {
        v1::InvoiceEvent e =
            Invoice("d" + std::to_string(++n_total), "INV-" + std::to_string(n % 5),
                    n % 2 == 0 ? v1::InvoiceEvent::DISPUTED : v1::InvoiceEvent::DISPUTE_RESOLVED);
        e.set_customer_id(id);
        *e.mutable_event_time() = ToTimestamp(t);
        f.Feed(InputTopic::kInvoices, id, e, t);
      });
}
BENCHMARK(BM_ProcessInvoiceEvent)->Unit(benchmark::kMillisecond)->UseRealTime();

// Campaign responses (opened, clicked) on three campaigns.
void BM_ProcessCampaignEvent(benchmark::State& state) {
  int64_t n_total = 0;
  ProcessBatches(state, 4, At(kHistoryDays - 1, 14),
                 [&n_total](Fixture& f, int n, const std::string& id, TimeMs t) {
                   v1::CampaignEvent e = Campaign(
                       "c" + std::to_string(++n_total), "C-" + std::to_string(n % 3),
                       n % 2 == 0 ? v1::CampaignEvent::OPENED : v1::CampaignEvent::CLICKED);
                   e.set_customer_id(id);
                   *e.mutable_event_time() = ToTimestamp(t);
                   f.Feed(InputTopic::kCampaigns, id, e, t);
                 });
}
BENCHMARK(BM_ProcessCampaignEvent)->Unit(benchmark::kMillisecond)->UseRealTime();

// Decoding one record of each input type (protobuf; checks included).
template <typename Message>
void BM_Decode(benchmark::State& state, InputTopic topic, Message m) {
  m.set_customer_id("cust-100001");
  *m.mutable_event_time() = ToTimestamp(At(3));
  const std::string value = m.SerializeAsString();
  InputRecord r;
  r.topic = topic;
  r.key = "cust-100001";
  r.value = value;
  r.kafka_timestamp_ms = At(3);
  Decoder decoder;
  if (!decoder.Decode(r, At(4)).ok()) state.SkipWithError("the record does not decode");
  for (auto _ : state) benchmark::DoNotOptimize(decoder.Decode(r, At(4)));
  state.SetItemsProcessed(state.iterations());
}
v1::UsageEvent UsageForDecode() {
  v1::UsageEvent u = Usage("reports", 3);
  u.set_user_id("cust-100001-u3");
  u.set_action("export");
  return u;
}
BENCHMARK_CAPTURE(BM_Decode, usage, InputTopic::kUsage, UsageForDecode());
BENCHMARK_CAPTURE(BM_Decode, ticket, InputTopic::kTickets,
                  Ticket("e1", "T-1", v1::TicketEvent::CREATED, v1::TicketEvent::P2));
BENCHMARK_CAPTURE(BM_Decode, invoice, InputTopic::kInvoices,
                  Invoice("e1", "INV-1", v1::InvoiceEvent::PAID));
BENCHMARK_CAPTURE(BM_Decode, campaign, InputTopic::kCampaigns,
                  Campaign("e1", "C-1", v1::CampaignEvent::OPENED));

// The generator's records of one topic (200 customers, 30 days: ~2,000 of each type at
// most), each as protobuf and as the JSON `c360 gen --format json` writes.
struct GeneratedRecords {
  struct Record {
    std::string key, protobuf, json;
    TimeMs time;
  };
  std::vector<Record> records;
  TimeMs now = 0;

  explicit GeneratedRecords(InputTopic topic) {
    gen::Simulation sim({.customers = 200, .history_days = 30, .seed = 7, .start_ms = At(0, 0)});
    google::protobuf::util::JsonPrintOptions options;
    options.preserve_proto_field_names = true;  // as gen_command.cc
    std::vector<gen::GeneratedRecord> day;
    while (sim.days_simulated() < 30 && records.size() < 2'000) {
      now = sim.NextDay(&day) + kMsPerDay;
      for (const gen::GeneratedRecord& g : day) {
        if (g.topic != topic || records.size() == 2'000) continue;
        Record& r = records.emplace_back();
        r.key = g.customer_id;
        r.protobuf = g.AsMessage().SerializeAsString();
        (void)google::protobuf::util::MessageToJsonString(g.AsMessage(), &r.json, options);
        r.time = g.time;
      }
    }
  }
};

// Decoding the generator's records of one topic, as protobuf or as JSON (checks included):
// events/s of each and their ratio (issue 17: JSON at >= 0.6 x protobuf).
void BM_DecodeGenerated(benchmark::State& state, InputTopic topic, bool json) {
  static std::map<InputTopic, GeneratedRecords> cache;  // protobuf and JSON: the same events
  const GeneratedRecords& generated = cache.try_emplace(topic, topic).first->second;
  std::vector<InputRecord> inputs;
  int64_t bytes = 0;
  for (const GeneratedRecords::Record& g : generated.records) {
    InputRecord& r = inputs.emplace_back();
    r.topic = topic;
    r.key = g.key;
    r.value = json ? g.json : g.protobuf;
    r.content_type = json ? "application/json" : "application/x-protobuf";  // as c360 gen
    r.kafka_timestamp_ms = g.time;
    bytes += static_cast<int64_t>(r.value->size());
  }
  Decoder decoder;
  for (const InputRecord& r : inputs) {
    if (!decoder.Decode(r, generated.now).ok()) state.SkipWithError("a record does not decode");
  }
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(decoder.Decode(inputs[i], generated.now));
    if (++i == inputs.size()) i = 0;
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["bytes_per_record"] = static_cast<double>(bytes) / inputs.size();
}
BENCHMARK_CAPTURE(BM_DecodeGenerated, usage_protobuf, InputTopic::kUsage, false);
BENCHMARK_CAPTURE(BM_DecodeGenerated, usage_json, InputTopic::kUsage, true);
BENCHMARK_CAPTURE(BM_DecodeGenerated, ticket_protobuf, InputTopic::kTickets, false);
BENCHMARK_CAPTURE(BM_DecodeGenerated, ticket_json, InputTopic::kTickets, true);
BENCHMARK_CAPTURE(BM_DecodeGenerated, invoice_protobuf, InputTopic::kInvoices, false);
BENCHMARK_CAPTURE(BM_DecodeGenerated, invoice_json, InputTopic::kInvoices, true);

void BM_KpisAndScores(benchmark::State& state) {
  Fixture& f = SharedFixture();
  CustomerState customer = *f.task.customer(f.ids[7]);
  const TimeMs t = At(kHistoryDays - 1, 20);
  Config config;
  for (auto _ : state) {
    const CoreKpis k = ComputeKpis(customer, t, t - 1);
    benchmark::DoNotOptimize(ComputeScores(k, config));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_KpisAndScores);

// A gradient-boosted model of `trees` full trees of `depth` splits in XGBoost's JSON, on
// random features at random thresholds near `around` (so walks go both ways), for timing
// the evaluator without a trained file.
std::string SyntheticModel(int trees, int depth, const Features& around) {
  std::mt19937 rng(42);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  nlohmann::json names = nlohmann::json::array();
  for (std::string_view n : kFeatureNames) names.push_back(std::string(n));
  nlohmann::json list = nlohmann::json::array();
  const int nodes = (1 << (depth + 1)) - 1;
  for (int t = 0; t < trees; ++t) {
    nlohmann::json left, right, cond, index, dleft;
    for (int i = 0; i < nodes; ++i) {
      const bool leaf = i >= (1 << depth) - 1;
      const int f = static_cast<int>(rng() % kFeatureCount);
      const double v = std::isnan(around[f]) ? 1.0 : around[f];
      left.push_back(leaf ? -1 : 2 * i + 1);
      right.push_back(leaf ? -1 : 2 * i + 2);
      cond.push_back(leaf ? unit(rng) - 0.5 : v * (0.5 + unit(rng)));
      index.push_back(leaf ? 0 : f);
      dleft.push_back(static_cast<int>(rng() % 2));
    }
    list.push_back({{"left_children", left},
                    {"right_children", right},
                    {"split_conditions", cond},
                    {"split_indices", index},
                    {"default_left", dleft}});
  }
  return nlohmann::json{
      {"learner",
       {{"attributes", {{"c360_feature_set", std::string(kFeatureSetVersion)}}},
        {"feature_names", names},
        {"learner_model_param", {{"base_score", "5E-1"}}},
        {"objective", {{"name", "binary:logistic"}}},
        {"gradient_booster", {{"name", "gbtree"}, {"model", {{"trees", list}}}}}}}}
      .dump();
}

Features FixtureFeatures() {
  Fixture& f = SharedFixture();
  CustomerState customer = *f.task.customer(f.ids[7]);
  const TimeMs t = At(kHistoryDays - 1, 20);
  const CoreKpis k = ComputeKpis(customer, t, t - 1);
  Features features;
  ComputeFeatures(k, ComputeScores(k, f.config), &features);
  return features;
}

// One prediction of the churn model (SPEC section 10): the features of a re-score, then the
// trees. Args: trees, depth (150 x 4 is scripts/train-churn-model's default). With
// C360_CHURN_MODEL=FILE, also that model (the `file` run).
void BM_ChurnModelPredict(benchmark::State& state) {
  const Features around = FixtureFeatures();
  std::shared_ptr<const ChurnModel> model;
  if (state.range(0) == 0) {
    const char* file = std::getenv("C360_CHURN_MODEL");
    if (file == nullptr) {
      state.SkipWithError("set C360_CHURN_MODEL to a model file");
      return;
    }
    model = ChurnModel::Load(file);
  } else {
    model = ChurnModel::Parse(
        SyntheticModel(static_cast<int>(state.range(0)), static_cast<int>(state.range(1)), around),
        "synthetic");
  }
  Fixture& f = SharedFixture();
  CustomerState customer = *f.task.customer(f.ids[7]);
  const TimeMs t = At(kHistoryDays - 1, 20);
  const CoreKpis k = ComputeKpis(customer, t, t - 1);
  const Scores scores = ComputeScores(k, f.config);
  for (auto _ : state) {
    Features features;
    ComputeFeatures(k, scores, &features);
    benchmark::DoNotOptimize(model->Risk(features));
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["trees"] = static_cast<double>(model->trees());
}
BENCHMARK(BM_ChurnModelPredict)
    ->ArgNames({"trees", "depth"})
    ->Args({150, 4})
    ->Args({500, 6})
    ->Args({0, 0});

// BM_ProcessUsageEvent with scoring.churn_model live (C360_CHURN_MODEL, else a synthetic
// 150 trees of depth 4), and with `models:2` the same model as shadow too: the whole
// per-event path with one or two predictions per re-score.
void BM_ProcessUsageEventWithModels(benchmark::State& state) {
  Fixture& f = SharedFixture();
  const char* file = std::getenv("C360_CHURN_MODEL");
  const auto model =
      file != nullptr ? ChurnModel::Load(file)
                      : ChurnModel::Parse(SyntheticModel(150, 4, FixtureFeatures()), "synthetic");
  f.config.churn_model = model;
  f.config.shadow_churn_model = state.range(0) == 2 ? model : nullptr;
  ProcessBatches(state, 1, At(kHistoryDays - 1, 11),
                 [](Fixture& fx, int n, const std::string& id, TimeMs t) {
                   v1::UsageEvent u = Usage(n % 4 == 0 ? "api" : "dashboards", 1 + n % 5);
                   u.set_customer_id(id);
                   *u.mutable_event_time() = ToTimestamp(t);
                   fx.Feed(InputTopic::kUsage, id, u, t);
                 });
  f.config.churn_model = nullptr;
  f.config.shadow_churn_model = nullptr;
}
BENCHMARK(BM_ProcessUsageEventWithModels)
    ->ArgName("models")
    ->Arg(1)
    ->Arg(2)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// Alert evaluation alone (every rule of SPEC section 5, entities included) for a customer
// with 10 open tickets and 5 invoices, nothing firing or resolving.
void BM_EvaluateRules(benchmark::State& state) {
  Fixture& f = SharedFixture();
  CustomerState customer = *f.task.customer(f.ids[7]);
  const TimeMs t = At(kHistoryDays - 1, 20);
  Config config;
  const CoreKpis k = ComputeKpis(customer, t, t - 1);
  const Scores scores = ComputeScores(k, config);
  const RuleContext ctx{config, t, t - 1, t, AlertCause{t, "c360.usage", 0, 1}, true};
  std::vector<v1::AlertEvent> alerts;
  EvaluateRules(customer, k, scores, ctx, &alerts);  // opens what fires; timed: steady state
  for (auto _ : state) {
    alerts.clear();
    EvaluateRules(customer, k, scores, ctx, &alerts);
    benchmark::DoNotOptimize(alerts.data());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_EvaluateRules);

void BM_StateBatchPutCustomer(benchmark::State& state) {
  Fixture& f = SharedFixture();
  const CustomerState& customer = *f.task.customer(f.ids[7]);
  for (auto _ : state) {
    StateBatch batch;
    batch.PutCustomer(0, customer);
    benchmark::DoNotOptimize(batch.bytes());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_StateBatchPutCustomer);

// A customer as the engine holds it after `days` days of history: usage every day (two
// modules), daily scores that change every day, a profile, and the fixture's 10 open
// tickets and 5 invoices. Its value grows with the days up to 60 usage days, 13 months
// and, since format 2, the open month's daily scores and the list of stored months.
CustomerState CustomerWithHistory(int days) {
  Config config;
  CustomerState s(CustomerId(7));
  v1::CustomerProfile profile;
  profile.set_customer_id(s.customer_id());
  profile.set_name("Tidal Retail 7");
  profile.set_segment(v1::CustomerProfile::MID_MARKET);
  profile.set_industry("retail");
  profile.set_region("EMEA");
  profile.set_annual_revenue_cents(120'000'00);
  *profile.mutable_contract_start() = ToTimestamp(At(-30));
  *profile.mutable_contract_end() = ToTimestamp(At(335));
  profile.set_owner("csm-3");
  s.ApplyProfile(profile);
  for (int day = 0; day < days; ++day) {
    const auto d = static_cast<int32_t>(DayOf(At(day)));
    s.Prune(d);
    s.ApplyUsage(Usage(day % 3 == 0 ? "api" : "reports", 3 + day % 7), At(day, 10), d);
    benchmark::DoNotOptimize(s.UsageR30(d));  // as a re-score does: drops days out of the windows
    s.RecordDaily(d, 50 + day % 41, 10 + day % 31, 1 + day % 3);
    (void)s.TakeDailyFlush();  // as each commit does: closed months go to their own keys
  }
  const int last = days - 1;
  for (int k = 0; k < 10; ++k) {
    (void)s.ApplyTicket(Ticket("t" + std::to_string(k), "T-" + std::to_string(k),
                               v1::TicketEvent::CREATED, v1::TicketEvent::P3),
                        At(last, 9), config);
  }
  for (int k = 0; k < 5; ++k) {
    v1::InvoiceEvent inv =
        Invoice("i" + std::to_string(k), "INV-" + std::to_string(k), v1::InvoiceEvent::ISSUED);
    inv.set_amount_cents(100'000);
    *inv.mutable_due_date() = ToTimestamp(At(last + 300, 0));
    (void)s.ApplyInvoice(inv, At(last, 8));
  }
  return s;
}

// CustomerCodec::Encode alone (what PutCustomer adds to the WriteBatch), by days of history.
void BM_EncodeCustomer(benchmark::State& state) {
  const CustomerState customer = CustomerWithHistory(static_cast<int>(state.range(0)));
  std::string bytes;
  for (auto _ : state) {
    CustomerCodec::Encode(customer, &bytes);
    benchmark::DoNotOptimize(bytes.data());
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["bytes"] = static_cast<double>(bytes.size());
}
BENCHMARK(BM_EncodeCustomer)->ArgName("days")->Arg(1)->Arg(30)->Arg(60)->Arg(365)->Arg(730);

// A health snapshot as --output-format json writes it (output.h: the one protobuf-to-JSON
// mapper, common/proto_json.h), against the path before it: protobuf's MessageToJsonString,
// parsed by nlohmann::json to add the nulls, dumped again.
v1::HealthSnapshot SnapshotForJson() {
  v1::HealthSnapshot s;
  s.set_customer_id("cust-00042");
  s.set_customer_name("Tidal Retail 42");
  s.set_health(58);
  s.set_risk(71);
  s.set_source_topic("c360.usage");
  s.set_source_partition(3);
  s.set_source_offset(123'456);
  *s.mutable_stream_time() = ToTimestamp(At(30, 10));
  *s.mutable_emitted_at() = ToTimestamp(At(30, 10));
  for (const char* component : {"financial", "usage", "support"}) {
    auto* d = s.add_drivers();
    d->set_component(component);
    d->set_deficit(12.5);
    d->set_text("usage down 62% vs prior 30 days");
  }
  auto* k = s.mutable_kpis();
  k->set_usage_events_r30d(1'234);
  k->set_usage_events_prior_r30d(2'345);
  k->set_usage_change_pct(-47.4);
  k->set_days_since_last_usage(2);
  k->set_open_tickets(3);
  k->set_sla_breach_rate_pct_r30d(12.5);
  k->set_avg_response_hours_r30d(4.25);
  k->set_overdue_invoices(1);
  k->set_overdue_amount_cents(1'250'000);
  return s;
}

void BM_TopicJson(benchmark::State& state) {
  const v1::HealthSnapshot s = SnapshotForJson();
  std::string out;
  for (auto _ : state) {
    EncodeOutput(s, OutputFormat::kJson, &out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_TopicJson);

void BM_TopicJsonThroughText(benchmark::State& state) {
  const v1::HealthSnapshot s = SnapshotForJson();
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  std::string text, out;
  for (auto _ : state) {
    text.clear();
    (void)google::protobuf::util::MessageToJsonString(s, &text, options);
    nlohmann::json json = nlohmann::json::parse(text);
    json["kpis"]["csat_avg_r90d"] = nullptr;  // what adding the nulls did, roughly
    out = json.dump();
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_TopicJsonThroughText);

}  // namespace
}  // namespace c360

BENCHMARK_MAIN();
