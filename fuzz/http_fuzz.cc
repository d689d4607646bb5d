// libFuzzer target: the HTTP request path (SPEC section 8). The bytes are a raw request
// (method, target, headers, body) parsed by Boost.Beast with the server's limits, then
// routed and answered by the Router and the Customer 360 API over a small real state
// (a Task's commits in a RocksDB directory), once openly and once with the loopback Host
// check and a token. Whatever the bytes: no crash, leak or hang (ASan, UBSan), a status
// in 200..599, every error a JSON object with "error" (HEAD: no body). Built by scripts/fuzz.
#include <boost/beast/http.hpp>
#include <google/protobuf/stubs/logging.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <memory>

#include "scoring/test_events.h"
#include "services/api/customer_api.h"
#include "services/engine/fake_record_owner.h"
#include "services/engine/task.h"
#include "services/http/router.h"

namespace {

using namespace c360;
using namespace c360::testing;
namespace http = boost::beast::http;

class FixedClock : public Clock {
 public:
  TimeMs NowMs() const override { return At(40); }
};

// A few customers with tickets, invoices, usage and a profile, committed as the engine
// commits them.
struct World {
  World() {
    dir = std::filesystem::temp_directory_path() / ("c360-http-fuzz-" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir);
    store = StateStore::Open(dir.string());
    Task task(0, config, clock, OutputFormat::kProtobuf, &owner);
    task.Restore(*store);
    int64_t offset = 0;
    auto feed = [&](InputTopic topic, const std::string& key, std::string value, TimeMs t) {
      void* handle = owner.Hold({key, std::move(value), {}});
      auto* held = static_cast<FakeOwner::Held*>(handle);
      TaskRecord r;
      r.input.topic = topic;
      r.input.key = held->key;
      r.input.value = held->value;
      r.input.kafka_timestamp_ms = t;
      r.offset = offset++;
      r.handle = handle;
      task.Buffer(r);
    };
    for (const std::string id : {"cust-1", "cust-2", "c/3 é"}) {
      v1::CustomerProfile p;
      p.set_customer_id(id);
      p.set_name("Name of " + id);
      p.set_segment(v1::CustomerProfile::ENTERPRISE);
      p.set_annual_revenue_cents(500'000'000);
      feed(InputTopic::kCustomers, id, p.SerializeAsString(), At(0));
      for (int day = 0; day < 35; day += 3) {
        v1::UsageEvent u = Usage("reports", day % 7 + 1);
        u.set_customer_id(id);
        *u.mutable_event_time() = ToTimestamp(At(day));
        feed(InputTopic::kUsage, id, u.SerializeAsString(), At(day));
      }
      v1::TicketEvent created = Ticket("e1", "T-1", v1::TicketEvent::CREATED, v1::TicketEvent::P1);
      created.set_customer_id(id);
      *created.mutable_event_time() = ToTimestamp(At(30));
      feed(InputTopic::kTickets, id, created.SerializeAsString(), At(30));
      v1::InvoiceEvent issued = Invoice("i1", "INV-1", v1::InvoiceEvent::ISSUED);
      issued.set_customer_id(id);
      issued.set_amount_cents(120'000);
      *issued.mutable_due_date() = ToTimestamp(At(31));
      *issued.mutable_event_time() = ToTimestamp(At(1));
      feed(InputTopic::kInvoices, id, issued.SerializeAsString(), At(1));
    }
    for (InputTopic topic : kAllInputTopics) task.MarkAtEnd(topic);
    task.Process(1'000'000);
    for (int round = 0; round < 2; ++round) {
      StateBatch batch;
      std::vector<PublishItem> publish;
      task.Drain(&batch, &publish);
      if (store->Commit(&batch)) std::abort();
      task.SweepStep(static_cast<size_t>(-1));
    }
    auto api = std::make_shared<const api::CustomerApi>(
        config, clock, [this] { return store.get(); },
        [] {
          return api::Ownership{{0}, 2, "fuzz"};
        });
    for (Router* router : {&open, &guarded}) {
      api::CustomerApi::Register(api, *router);
      router->Get(
          "/healthz",
          [](const HttpRequest&) {
            return HttpResponse{200, "application/json", "{}", {}};
          },
          Router::Cost::kCheap);
    }
    guarded.RequireHost({"localhost", "127.0.0.1"});
    guarded.RequireToken("fuzz-token-0123456789");
  }
  ~World() {
    store.reset();
    std::filesystem::remove_all(dir);
  }

  std::filesystem::path dir;
  Config config;
  FixedClock clock;
  FakeOwner owner;
  std::unique_ptr<StateStore> store;
  Router open;
  Router guarded;
};

World* world = nullptr;

// A HEAD's answer has no body.
void Check(const HttpResponse& r, bool head) {
  if (r.status < 200 || r.status > 599) std::abort();
  if (head && !r.body.empty()) std::abort();
  if (r.status >= 400 && !head) {
    const auto body = nlohmann::json::parse(r.body, nullptr, false);
    if (body.is_discarded() || !body.is_object() || !body.contains("error")) std::abort();
  }
}

std::string_view View(boost::beast::string_view s) { return {s.data(), s.size()}; }

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // Parse failures of fuzzed bytes are expected; their log lines would flood the run.
  google::protobuf::SetLogHandler(nullptr);
  spdlog::set_level(spdlog::level::off);
  world = new World();
  std::atexit([] { delete world; });
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  http::request_parser<http::string_body> parser;
  parser.header_limit(16 << 10);
  parser.body_limit(64 << 10);
  parser.eager(true);
  boost::beast::error_code ec;
  parser.put(boost::asio::buffer(data, size), ec);
  if (ec || !parser.is_header_done()) return 0;  // the server answers these without routing
  const auto& req = parser.get();
  RawRequest raw;
  raw.method = View(req.method_string());
  raw.target = View(req.target());
  if (auto it = req.find(http::field::host); it != req.end()) raw.host = View(it->value());
  if (auto it = req.find(http::field::authorization); it != req.end())
    raw.authorization = View(it->value());
  raw.http10 = req.version() == 10;
  const bool head = raw.method == "HEAD";
  Check(world->open.Handle(raw), head);
  Check(world->guarded.Handle(raw), head);
  return 0;
}
