// c360_state_dump [--tasks-only] STATE_DIR: prints an engine's RocksDB state as JSON lines,
// read-only (safe beside a running engine). For black-box tests that compare state with the input:
//   {"kind":"task","task":0,"stream_time":...,"offsets":{"usage":123,...},"outbox":2}
//   {"kind":"customer","task":0,"customer_id":"c-1","usage_total":40,"profile":true,
//    "entities":{"T-1":3,...},"ratings":2}      (entities: applied event_ids per entity)
// --tasks-only prints the task lines alone (what polling for progress needs: cheap).
//
// c360_state_dump --corrupt-customer TASK CUSTOMER_ID STATE_DIR writes bytes that do not
// decode as the customer's stored value (reliability tests; the engine must be stopped).

#include <iostream>
#include <nlohmann/json.hpp>

#include "common/topics.h"
#include "state/state.pb.h"
#include "state/store.h"

namespace {

int CorruptCustomer(const std::string& task, const std::string& customer_id,
                    const std::string& dir) {
  try {
    auto store = c360::StateStore::Open(dir);
    c360::StateBatch batch;
    batch.raw()->Put(c360::state::CustomerKey(static_cast<uint16_t>(std::stoi(task)), customer_id),
                     "\xff\xff\xff\xff not a c360 customer");
    if (auto error = store->Commit(&batch)) {
      std::cerr << "c360_state_dump: " << *error << std::endl;
      return 1;
    }
  } catch (const std::exception& e) {
    std::cerr << "c360_state_dump: " << e.what() << std::endl;
    return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 5 && std::string(argv[1]) == "--corrupt-customer") {
    return CorruptCustomer(argv[2], argv[3], argv[4]);
  }
  const bool tasks_only = argc == 3 && std::string(argv[1]) == "--tasks-only";
  if (argc != 2 && !tasks_only) {
    std::cerr << "usage: c360_state_dump [--tasks-only] STATE_DIR | --corrupt-customer TASK "
                 "CUSTOMER_ID STATE_DIR"
              << std::endl;
    return 2;
  }
  try {
    auto store = c360::StateStore::OpenReadOnly(argv[argc - 1]);
    for (uint16_t task : store->Tasks()) {
      nlohmann::json t;
      t["kind"] = "task";
      t["task"] = task;
      const auto meta = store->LoadTask(task);
      t["stream_time"] = meta ? meta->stream_time() : 0;
      nlohmann::json offsets = nlohmann::json::object();
      for (c360::InputTopic topic : c360::kAllInputTopics) {
        if (auto offset = store->LoadOffset(task, static_cast<uint8_t>(topic))) {
          offsets[std::string(c360::InputTopicLabel(topic))] = *offset;
        }
      }
      t["offsets"] = offsets;
      int outbox = 0;
      store->ForEachOutbox(task, [&](uint64_t, const c360::state::v1::OutboxEntry&) { ++outbox; });
      t["outbox"] = outbox;
      int timers = 0;
      store->ForEachTimer(task, [&](const c360::state::TimerKey&) { ++timers; });
      t["timers"] = timers;
      std::cout << t.dump() << "\n";
      if (tasks_only) continue;
      store->ForEachCustomer(task, [&](const std::string& id, std::string_view value) {
        c360::state::v1::Customer c;
        c.ParseFromArray(value.data(), static_cast<int>(value.size()));
        nlohmann::json j;
        j["kind"] = "customer";
        j["task"] = task;
        j["customer_id"] = id;
        int64_t usage = 0;
        for (int64_t m : c.month_count()) usage += m;
        j["usage_total"] = usage;
        j["profile"] = c.has_profile();
        j["has_events"] = c.has_events();
        nlohmann::json entities = nlohmann::json::object();
        for (const auto& x : c.tickets()) entities[x.id()] = x.applied_size();
        for (const auto& x : c.invoices()) entities[x.id()] = x.applied_size();
        for (const auto& x : c.campaigns()) entities[x.id()] = x.applied_size();
        j["entities"] = entities;
        j["ratings"] = c.rating_time_size();
        j["credit_hold"] = c.credit_hold();
        std::cout << j.dump() << "\n";
      });
    }
  } catch (const std::exception& e) {
    std::cerr << "c360_state_dump: " << e.what() << std::endl;
    return 1;
  }
  return 0;
}
