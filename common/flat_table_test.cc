#include "common/flat_table.h"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <string>

namespace c360 {
namespace {

struct Item {
  std::string id;
  int value = 0;
};
struct IdOf {
  const std::string& operator()(const Item& item) const { return item.id; }
};
using Table = FlatTable<Item, IdOf>;

// Random inserts, erases and lookups over a small key space (long probe runs, wrap-around,
// growth), checked against std::map after every step.
TEST(FlatTableTest, BehavesLikeAMapUnderRandomInsertsErasesAndLookups) {
  std::mt19937 rng(42);
  Table table;
  std::map<std::string, int> reference;
  for (int step = 0; step < 200'000; ++step) {
    const std::string key = "cust-" + std::to_string(rng() % 3'000);
    switch (rng() % 3) {
      case 0:
        if (reference.count(key) == 0) {
          const int value = static_cast<int>(rng());
          Item* item = table.Insert(std::make_unique<Item>(Item{key, value}));
          ASSERT_EQ(item->id, key);
          reference[key] = value;
        }
        break;
      case 1: ASSERT_EQ(table.Erase(key), reference.erase(key) == 1) << key; break;
      default: {
        const Item* found = table.Find(key);
        const auto it = reference.find(key);
        ASSERT_EQ(found != nullptr, it != reference.end()) << key << " at step " << step;
        if (found != nullptr) {
          ASSERT_EQ(found->value, it->second);
        }
      }
    }
    ASSERT_EQ(table.size(), reference.size());
  }
  // Every key still there is found; ForEach visits each exactly once.
  for (const auto& [key, value] : reference) {
    const Item* found = table.Find(key);
    ASSERT_NE(found, nullptr) << key;
    EXPECT_EQ(found->value, value);
  }
  std::map<std::string, int> visited;
  table.ForEach([&](Item& item) { ++visited[item.id]; });
  EXPECT_EQ(visited.size(), reference.size());
  for (const auto& [key, n] : visited) EXPECT_EQ(n, 1) << key;
}

TEST(FlatTableTest, ValuesStayWhereTheyAreWhileTheTableGrowsAndOthersAreErased) {
  Table table;
  Item* first = table.Insert(std::make_unique<Item>(Item{"first", 1}));
  for (int i = 0; i < 10'000; ++i) {
    table.Insert(std::make_unique<Item>(Item{"k" + std::to_string(i), i}));
  }
  for (int i = 0; i < 10'000; i += 2) EXPECT_TRUE(table.Erase("k" + std::to_string(i)));
  EXPECT_EQ(table.Find("first"), first);
  EXPECT_EQ(first->value, 1);
  EXPECT_EQ(table.size(), 5'001u);
  EXPECT_EQ(table.Find("k2"), nullptr);
  EXPECT_FALSE(table.Erase("k2"));
  ASSERT_NE(table.Find("k3"), nullptr);
  table.Clear();
  EXPECT_EQ(table.size(), 0u);
  EXPECT_EQ(table.Find("first"), nullptr);
  EXPECT_FALSE(table.Erase("first"));
}

}  // namespace
}  // namespace c360
