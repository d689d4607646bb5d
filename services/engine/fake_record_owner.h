#pragma once
// Test helper: owns record bytes in memory, as the engine's librdkafka messages do, for
// tests that drive a Task directly.

#include <list>
#include <string>
#include <utility>
#include <vector>

#include "services/engine/task.h"

namespace c360::testing {

// Owns record bytes in memory, as the engine's librdkafka messages do.
class FakeOwner : public RecordOwner {
 public:
  struct Held {
    std::string key, value;
    std::vector<std::pair<std::string, std::string>> headers;
  };
  void* Hold(Held held) {
    held_.push_back(std::move(held));
    ++live;
    return &held_.back();
  }
  void Release(void*) override { --live; }
  void CopyHeaders(void* handle, state::v1::OutboxEntry* entry) override {
    for (const auto& [name, value] : static_cast<Held*>(handle)->headers) {
      auto* h = entry->add_headers();
      h->set_name(name);
      h->set_value(value);
    }
  }
  int live = 0;

 private:
  std::list<Held> held_;
};

}  // namespace c360::testing
