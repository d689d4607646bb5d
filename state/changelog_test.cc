#include "state/changelog.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "state/keys.h"

namespace c360::changelog {
namespace {

constexpr uint16_t kTask = 7;

// A task's changelog partition as a writer would produce it, record by record.
struct Log {
  struct Entry {
    std::string key;
    std::optional<std::string> value;
    std::optional<std::string> header;
  };
  std::vector<Entry> entries;

  // `puts`: customer ids written with the value "<id>@<epoch>.<sequence>"; `deletes`:
  // customer ids deleted. Without the marker when `marker` is false.
  void Records(BatchId id, const std::vector<std::string>& puts,
               const std::vector<std::string>& deletes = {}, bool checkpoint = false) {
    for (const std::string& c : puts) {
      entries.push_back(
          {state::CustomerKey(kTask, c), Value(c, id), EncodeBatchHeader(id, checkpoint)});
    }
    for (const std::string& c : deletes) {
      entries.push_back(
          {state::CustomerKey(kTask, c), std::nullopt, EncodeBatchHeader(id, checkpoint)});
    }
  }
  void Marker(BatchId id, BatchId prev, uint32_t records, bool checkpoint = false) {
    state::v1::ChangelogMarker m;
    m.set_epoch(id.epoch);
    m.set_sequence(id.sequence);
    m.set_prev_epoch(prev.epoch);
    m.set_prev_sequence(prev.sequence);
    m.set_records(records);
    m.set_checkpoint(checkpoint);
    m.add_offsets(static_cast<int64_t>(id.sequence) * 100);
    entries.push_back({MarkerKey(kTask), m.SerializeAsString(), EncodeBatchHeader(id, checkpoint)});
  }
  // A whole batch, as the writer (BatchMessages) sends it.
  void Delta(BatchId id, BatchId prev, const std::vector<std::string>& puts,
             const std::vector<std::string>& deletes = {}) {
    std::vector<Record> records;
    for (const std::string& c : puts)
      records.push_back({state::CustomerKey(kTask, c), Value(c, id)});
    for (const std::string& c : deletes)
      records.push_back({state::CustomerKey(kTask, c), std::nullopt});
    state::v1::ChangelogMarker marker;
    marker.add_offsets(static_cast<int64_t>(id.sequence) * 100);
    for (Message& m : BatchMessages(kTask, id, prev, false, records, marker)) {
      entries.push_back({std::move(m.key), std::move(m.value), std::move(m.batch_header)});
    }
  }
  static std::string Value(const std::string& c, BatchId id) {
    return c + "@" + std::to_string(id.epoch) + "." + std::to_string(id.sequence);
  }
};

struct Outcome {
  std::vector<BatchId> applied;
  std::vector<Batch> batches;
  bool conflict = false;
  bool gap = false;
  std::set<BatchId> superseded;
};

Outcome Restore(const Log& log, BatchId local = {}, std::set<BatchId> excluded = {},
                std::vector<BatchId>* before_finish = nullptr) {
  Restorer r(kTask, local, std::move(excluded));
  Outcome out;
  for (const Log::Entry& e : log.entries) {
    std::optional<std::string_view> value;
    if (e.value) value = *e.value;
    std::optional<std::string_view> header;
    if (e.header) header = *e.header;
    const auto error = r.Add(e.key, value, header);
    EXPECT_FALSE(error) << *error;
    for (Batch& b : r.TakeReady()) {
      out.applied.push_back(b.id);
      out.batches.push_back(std::move(b));
    }
  }
  if (before_finish != nullptr) *before_finish = out.applied;
  r.Finish();
  for (Batch& b : r.TakeReady()) {
    out.applied.push_back(b.id);
    out.batches.push_back(std::move(b));
  }
  out.conflict = r.conflict();
  out.gap = r.gap();
  out.superseded = r.superseded();
  return out;
}

using Ids = std::vector<BatchId>;

TEST(ChangelogTest, BatchHeaderRoundTripsAndRefusesWhatIsNotOne) {
  const auto h = DecodeBatchHeader(EncodeBatchHeader({3, 1ull << 40}, true));
  ASSERT_TRUE(h);
  EXPECT_EQ(h->id, (BatchId{3, 1ull << 40}));
  EXPECT_TRUE(h->checkpoint);
  EXPECT_FALSE(DecodeBatchHeader("short"));
  EXPECT_FALSE(DecodeBatchHeader(EncodeBatchHeader({0, 0}, false)));  // "no batch"
  std::string bad_kind = EncodeBatchHeader({1, 1}, false);
  bad_kind.back() = 2;
  EXPECT_FALSE(DecodeBatchHeader(bad_kind));
}

TEST(ChangelogTest, AppliesBatchesInOrderEachOnceALaterMarkerConfirmsIt) {
  Log log;
  log.Delta({1, 1}, {}, {"a", "b"});
  log.Delta({1, 2}, {1, 1}, {"a"}, {"b"});
  log.Delta({1, 3}, {1, 2}, {"c"});
  Ids before;
  const Outcome out = Restore(log, {}, {}, &before);
  EXPECT_EQ(before, (Ids{{1, 1}, {1, 2}}));  // the last waits for the end of the partition
  EXPECT_EQ(out.applied, (Ids{{1, 1}, {1, 2}, {1, 3}}));
  ASSERT_EQ(out.batches[1].records.size(), 2u);
  EXPECT_EQ(out.batches[1].records[0].value, Log::Value("a", {1, 2}));
  EXPECT_EQ(out.batches[1].records[1].key, state::CustomerKey(kTask, "b"));
  EXPECT_FALSE(out.batches[1].records[1].value);  // a delete
  EXPECT_EQ(out.batches[2].marker.offsets(0), 300);
  EXPECT_FALSE(out.conflict);
  EXPECT_FALSE(out.gap);
}

TEST(ChangelogTest, NeverAppliesPartOfABatch) {
  Log log;
  log.Delta({1, 1}, {}, {"a"});
  log.Records({1, 2}, {"a", "b"});  // the writer died before the marker
  EXPECT_EQ(Restore(log).applied, (Ids{{1, 1}}));

  Log lost;  // a marker announcing more records than arrived
  lost.Delta({1, 1}, {}, {"a"});
  lost.Records({1, 2}, {"a"});
  lost.Marker({1, 2}, {1, 1}, 2);
  EXPECT_EQ(Restore(lost).applied, (Ids{{1, 1}}));
}

TEST(ChangelogTest, AZombiesBatchAfterTheNewOwnersIsNotApplied) {
  Log log;
  log.Delta({1, 1}, {}, {"a"});
  log.Delta({1, 2}, {1, 1}, {"a"});
  log.Delta({2, 3}, {1, 2}, {"a"});  // B took the task over from (1, 2)
  log.Delta({1, 3}, {1, 2}, {"a"});  // A's last batch, queued when it froze, lands late
  log.Delta({2, 4}, {2, 3}, {"b"});
  const Outcome out = Restore(log);
  EXPECT_EQ(out.applied, (Ids{{1, 1}, {1, 2}, {2, 3}, {2, 4}}));
  EXPECT_EQ(out.batches[2].records[0].value, Log::Value("a", {2, 3}));
  EXPECT_FALSE(out.conflict);
}

TEST(ChangelogTest, AZombiesBatchBeforeTheNewOwnersFirstMarkerIsNotApplied) {
  Log log;
  log.Delta({1, 1}, {}, {"a"});
  log.Delta({1, 2}, {1, 1}, {"a"});
  log.Delta({1, 3}, {1, 2}, {"a"});  // lands after B restored up to (1, 2)
  log.Delta({2, 3}, {1, 2}, {"a"});
  log.Delta({2, 4}, {2, 3}, {"b"});
  EXPECT_EQ(Restore(log).applied, (Ids{{1, 1}, {1, 2}, {2, 3}, {2, 4}}));

  Log tip;  // the same when B's batch is the partition's last
  tip.Delta({1, 1}, {}, {"a"});
  tip.Delta({1, 2}, {1, 1}, {"a"});
  tip.Delta({1, 3}, {1, 2}, {"a"});
  tip.Delta({2, 3}, {1, 2}, {"a"});
  EXPECT_EQ(Restore(tip).applied, (Ids{{1, 1}, {1, 2}, {2, 3}}));
}

TEST(ChangelogTest, AZombieBranchAppliedBeforeTheOwnerShowedUpIsAConflictThenExcluded) {
  Log log;
  log.Delta({1, 1}, {}, {"a"});
  log.Delta({1, 2}, {1, 1}, {"a"});
  log.Delta({1, 3}, {1, 2}, {"a"});  // two zombie batches, the second confirming the first
  log.Delta({1, 4}, {1, 3}, {"a"});
  log.Delta({2, 3}, {1, 2}, {"b"});  // the owner's, from (1, 2)
  log.Delta({2, 4}, {2, 3}, {"b"});
  const Outcome first = Restore(log);
  EXPECT_TRUE(first.conflict);
  EXPECT_EQ(first.superseded, (std::set<BatchId>{{1, 3}}));
  const Outcome again = Restore(log, {}, first.superseded);
  EXPECT_FALSE(again.conflict);
  EXPECT_EQ(again.applied, (Ids{{1, 1}, {1, 2}, {2, 3}, {2, 4}}));
}

TEST(ChangelogTest, AHigherEpochSupersedesTheZombiesBranchEvenWhenItsOwnBatchIsIncomplete) {
  Log log;
  log.Delta({1, 1}, {}, {"a"});
  log.Delta({1, 2}, {1, 1}, {"a"});
  log.Records({2, 3}, {"a"});  // the owner's batch from (1, 2), missing a record
  log.Marker({2, 3}, {1, 2}, 2);
  log.Delta({1, 3}, {1, 2}, {"a"});  // the zombie's, confirmed by its next
  log.Delta({1, 4}, {1, 3}, {"a"});
  EXPECT_EQ(Restore(log).applied, (Ids{{1, 1}, {1, 2}}));
}

TEST(ChangelogTest, ATailRestoreAppliesOnlyWhatFollowsTheLocalState) {
  Log log;
  log.Delta({1, 1}, {}, {"a"});
  log.Delta({1, 2}, {1, 1}, {"a"});
  log.Delta({1, 3}, {1, 2}, {"a"});
  log.Delta({2, 4}, {1, 3}, {"a"});
  const Outcome out = Restore(log, {1, 2});
  EXPECT_EQ(out.applied, (Ids{{1, 3}, {2, 4}}));
  EXPECT_FALSE(out.gap);
  // Local state at the partition's last batch: nothing to do, and no gap.
  const Outcome current = Restore(log, {2, 4});
  EXPECT_TRUE(current.applied.empty());
  EXPECT_FALSE(current.gap);
}

TEST(ChangelogTest, ALocalStateTheChangelogNoLongerContinuesIsAGap) {
  Log log;  // retention dropped (1, 3) .. (1, 9)
  log.Records({1, 10}, {"a", "b"}, {}, /*checkpoint=*/true);
  log.Marker({1, 10}, {1, 9}, 2, /*checkpoint=*/true);
  log.Delta({1, 11}, {1, 10}, {"a"});
  const Outcome out = Restore(log, {1, 2});
  EXPECT_TRUE(out.applied.empty());
  EXPECT_TRUE(out.gap);
}

TEST(ChangelogTest, ARestoreFromNothingStartsWithTheCheckpointAndThenItsDeltas) {
  // The checkpoint of (1, 10) streams while the writer goes on committing: (1, 11)'s
  // records and marker arrive between the checkpoint's records, before its marker.
  Log log;
  log.Records({1, 10}, {"a"}, {}, /*checkpoint=*/true);
  log.Delta({1, 11}, {1, 10}, {"a"});
  log.Records({1, 10}, {"b"}, {}, /*checkpoint=*/true);
  log.Marker({1, 10}, {1, 9}, 2, /*checkpoint=*/true);
  log.Delta({1, 12}, {1, 11}, {"c"});
  const Outcome out = Restore(log);
  EXPECT_EQ(out.applied, (Ids{{1, 10}, {1, 11}, {1, 12}}));
  EXPECT_TRUE(out.batches[0].checkpoint);
  ASSERT_EQ(out.batches[0].records.size(), 2u);
  EXPECT_EQ(out.batches[0].records[1].value, Log::Value("b", {1, 10}));
  EXPECT_FALSE(out.batches[1].checkpoint);
}

TEST(ChangelogTest, RefusesRecordsThatAreNotTheTasksChangelog) {
  Restorer r(kTask, {});
  const std::string header = EncodeBatchHeader({1, 1}, false);
  EXPECT_TRUE(r.Add(state::CustomerKey(static_cast<uint16_t>(kTask + 1), "a"), "v", header));
  EXPECT_TRUE(r.Add(state::InputPartitionsKey(), "v", header));
  EXPECT_TRUE(r.Add(state::CustomerKey(kTask, "a"), "v", std::nullopt));
  EXPECT_TRUE(r.Add(state::CustomerKey(kTask, "a"), "v", "junk"));
  EXPECT_TRUE(r.Add(MarkerKey(kTask), "\xff\xff", header));
  state::v1::ChangelogMarker other;
  other.set_epoch(1);
  other.set_sequence(2);  // not the header's batch
  EXPECT_TRUE(r.Add(MarkerKey(kTask), other.SerializeAsString(), header));
  r.Finish();
  EXPECT_TRUE(r.TakeReady().empty());
}

TEST(ChangelogTest, AMarkerSeenTwiceAppliesItsBatchOnce) {
  Log log;
  log.Delta({1, 1}, {}, {"a"});
  log.Marker({1, 1}, {}, 1);
  log.Delta({1, 2}, {1, 1}, {"b"});
  const Outcome out = Restore(log);
  EXPECT_EQ(out.applied, (Ids{{1, 1}, {1, 2}}));
  EXPECT_EQ(out.batches[0].records.size(), 1u);
}

}  // namespace
}  // namespace c360::changelog
