#include "state/keys.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

namespace c360::state {
namespace {

TEST(KeysTest, TimerKeysSortByTaskThenDeadlineThenCustomerEntityKind) {
  const std::vector<TimerKey> expected = {
      {1, -5000, "b", "T-1", 0},  // before the epoch still sorts first
      {1, 1000, "a", "T-9", 1},
      {1, 2000, "a", "T-1", 0},
      {1, 2000, "a", "T-1", 1},  // response (0) before resolution (1)
      {1, 2000, "a", "T-2", 0},
      {1, 2000, "ab", "T-0", 0},  // "a" < "ab": the NUL terminator sorts first
      {1, 2000, "b", "T-0", 0},
      {2, -9000, "a", "T-0", 0},  // next task
  };
  std::vector<std::string> keys;
  for (const TimerKey& t : expected) keys.push_back(EncodeTimerKey(t));
  std::vector<std::string> sorted = keys;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(sorted, keys);
  for (size_t i = 0; i < keys.size(); ++i) {
    const auto decoded = DecodeTimerKey(keys[i]);
    ASSERT_TRUE(decoded.has_value());
    EXPECT_EQ(decoded->task, expected[i].task);
    EXPECT_EQ(decoded->deadline_ms, expected[i].deadline_ms);
    EXPECT_EQ(decoded->customer_id, expected[i].customer_id);
    EXPECT_EQ(decoded->entity_id, expected[i].entity_id);
    EXPECT_EQ(decoded->kind, expected[i].kind);
  }
}

TEST(KeysTest, DecodeRejectsForeignOrTruncatedKeys) {
  const std::string key = EncodeTimerKey({3, 42, "c", "e", 1});
  EXPECT_FALSE(DecodeTimerKey(key.substr(0, key.size() - 1)).has_value());
  EXPECT_FALSE(DecodeTimerKey(CustomerKey(3, "c")).has_value());
}

TEST(KeysTest, OutboxAndTaskPrefixesAreBigEndian) {
  EXPECT_LT(OutboxKey(1, 255), OutboxKey(1, 256));
  EXPECT_LT(OutboxKey(1, UINT64_MAX), OutboxKey(2, 0));
  EXPECT_LT(CustomerKey(255, "z"), CustomerKey(256, "a"));
  EXPECT_EQ(CustomerKey(258, "c-1"), std::string("C\x01\x02"
                                                 "c-1",
                                                 6));
}

}  // namespace
}  // namespace c360::state
