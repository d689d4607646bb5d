// A task's state carried from one state store to another through its changelog partition
// on the embedded broker: the writer's side (StateBatch::RecordsByTask, BatchMessages), the
// reader's (RestoreFromChangelog), and a zombie's batch that lands late.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "services/broker/embedded_broker.h"
#include "services/engine/changelog_reader.h"
#include "state/keys.h"

namespace c360 {
namespace {

constexpr char kTopic[] = "c360.changelog";
constexpr uint16_t kTask = 1;
constexpr char kGroup[] = "c360";
using changelog::BatchId;

class ChangelogRestoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    BrokerOptions options;
    options.partitions = 2;
    broker_ = EmbeddedBroker::Start(options);  // creates the changelog with the others
    producer_ = MakeClient(RD_KAFKA_PRODUCER, {{"bootstrap.servers", broker_->bootstrap()},
                                               {"enable.idempotence", "true"},
                                               {"linger.ms", "1"},
                                               {"log_level", "3"}});
    consumer_ = MakeClient(RD_KAFKA_CONSUMER, {{"bootstrap.servers", broker_->bootstrap()},
                                               {"group.id", "c360-restore-test"},
                                               {"enable.partition.eof", "true"},
                                               {"log_level", "3"}});
    dir_ = std::filesystem::temp_directory_path() /
           ("c360-changelog-restore-" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
    source_ = StateStore::Open(dir_ / "source");
  }
  void TearDown() override {
    source_.reset();
    consumer_.reset();
    producer_.reset();
    broker_.reset();
    std::filesystem::remove_all(dir_);
  }

  // Commits the batch to the source store and sends task kTask's part of it as batch
  // `id`; returns how many messages that was.
  int Commit(StateBatch* batch, BatchId id, BatchId prev, bool to_source = true,
             const std::string& group = kGroup) {
    std::vector<changelog::Message> messages = Messages(batch, id, prev, to_source);
    return Send(messages, 0, messages.size(), group);
  }

  // Batch `id` of task kTask's part of the batch (committed to the source store first
  // if `to_source`), not sent yet; the batch is cleared.
  std::vector<changelog::Message> Messages(StateBatch* batch, BatchId id, BatchId prev,
                                           bool to_source = true) {
    if (to_source) {
      EXPECT_FALSE(source_->Commit(batch));
    }
    const auto by_task = batch->RecordsByTask();
    std::vector<changelog::Record> records;
    if (by_task.count(kTask) > 0) records = by_task.at(kTask);
    batch->Clear();
    state::v1::ChangelogMarker marker;
    marker.add_offsets(static_cast<int64_t>(id.sequence) * 10);
    return changelog::BatchMessages(kTask, id, prev, false, records, marker);
  }

  // Sends messages[first, last); returns how many.
  int Send(const std::vector<changelog::Message>& messages, size_t first, size_t last,
           const std::string& group = kGroup) {
    int sent = 0;
    for (size_t i = first; i < last; ++i) {
      const changelog::Message& m = messages[i];
      char* value = m.value ? const_cast<char*>(m.value->data()) : nullptr;  // null: a tombstone
      const size_t size = m.value ? m.value->size() : 0;
      EXPECT_EQ(
          rd_kafka_producev(
              producer_.get(), RD_KAFKA_V_TOPIC(kTopic), RD_KAFKA_V_PARTITION(kTask),
              RD_KAFKA_V_KEY(m.key.data(), m.key.size()), RD_KAFKA_V_VALUE(value, size),
              RD_KAFKA_V_HEADER(changelog::kBatchHeader, m.batch_header.data(),
                                static_cast<ssize_t>(m.batch_header.size())),
              RD_KAFKA_V_HEADER(kGroupHeader, group.data(), static_cast<ssize_t>(group.size())),
              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END),
          RD_KAFKA_RESP_ERR_NO_ERROR);
      ++sent;
    }
    EXPECT_EQ(rd_kafka_flush(producer_.get(), 10'000), RD_KAFKA_RESP_ERR_NO_ERROR);
    return sent;
  }

  int64_t High() { return ChangelogWatermarks(consumer_.get(), kTopic, kTask, 10'000).second; }

  static CustomerState Customer(const std::string& id, int64_t revenue) {
    CustomerState c(id);
    v1::CustomerProfile p;
    p.set_customer_id(id);
    p.set_annual_revenue_cents(revenue);
    c.ApplyProfile(p);
    return c;
  }
  // Every customer of the task as stored bytes, by id.
  static std::map<std::string, std::string> Customers(const StateStore& store, uint16_t task) {
    std::map<std::string, std::string> out;
    store.ForEachCustomer(
        task, [&](const std::string& id, std::string_view value) { out[id] = std::string(value); });
    return out;
  }

  std::unique_ptr<EmbeddedBroker> broker_;
  KafkaHandle producer_;
  KafkaHandle consumer_;
  std::filesystem::path dir_;
  std::unique_ptr<StateStore> source_;
};

TEST_F(ChangelogRestoreTest, AStoreRestoredFromTheChangelogEqualsTheWritersWithoutTheZombies) {
  StateBatch batch;
  int messages = 0;
  batch.PutCustomer(kTask, Customer("a", 100));
  batch.PutCustomer(kTask, Customer("b", 200));
  batch.PutCustomer(0, Customer("other-task", 1));  // not task 1's: not on its partition
  batch.PutOffset(kTask, 0, 10);
  messages += Commit(&batch, {1, 1}, {});
  batch.PutCustomer(kTask, Customer("a", 101));
  batch.DeleteRow(kTask, "b");
  batch.PutOffset(kTask, 0, 20);
  messages += Commit(&batch, {1, 2}, {1, 1});
  // A second engine took the task over from (1, 2) ...
  batch.PutCustomer(kTask, Customer("c", 300));
  batch.PutOffset(kTask, 0, 30);
  messages += Commit(&batch, {2, 3}, {1, 2});
  // ... and the first one's last batch, queued when it froze, lands after it.
  batch.PutCustomer(kTask, Customer("a", 999));
  batch.PutOffset(kTask, 0, 99);
  messages += Commit(&batch, {1, 3}, {1, 2}, /*to_source=*/false);
  batch.PutCustomer(kTask, Customer("b", 201));
  batch.PutOffset(kTask, 0, 40);
  messages += Commit(&batch, {2, 4}, {2, 3});
  // Another group's engines (another application) share the topic: never read.
  batch.PutCustomer(kTask, Customer("a", 5));
  const int foreign = Commit(&batch, {9, 5}, {2, 4}, /*to_source=*/false, "other-group");

  auto restored = StateStore::Open(dir_ / "restored");
  const ChangelogRestore r = RestoreFromChangelog(consumer_.get(), kTopic, kGroup, kTask, 0, High(),
                                                  {}, {}, restored.get(), 10'000);
  EXPECT_EQ(r.applied, (BatchId{2, 4}));
  EXPECT_EQ(r.batches_applied, 4);
  EXPECT_EQ(r.records_read, messages);
  EXPECT_EQ(r.next_offset, messages + foreign);
  ASSERT_TRUE(r.marker);
  EXPECT_EQ(r.marker->offsets(0), 40);
  EXPECT_FALSE(r.conflict);
  EXPECT_FALSE(r.gap);
  EXPECT_EQ(r.max_epoch, 2u);  // not the other group's 9
  EXPECT_FALSE(r.local_seen);  // no local batch
  EXPECT_EQ(restored->LoadChangelogChain(kTask).sequence(), 4u);
  EXPECT_EQ(Customers(*restored, kTask), Customers(*source_, kTask));
  EXPECT_EQ(restored->LoadOffset(kTask, 0), 40);
  EXPECT_TRUE(Customers(*restored, 0).empty());

  // Caught up: from where it stopped, nothing more to apply, and no gap.
  const ChangelogRestore again =
      RestoreFromChangelog(consumer_.get(), kTopic, kGroup, kTask, r.next_offset, High(), r.applied,
                           {}, restored.get(), 10'000);
  EXPECT_EQ(again.batches_applied, 0);
  EXPECT_EQ(again.records_read, 0);
  EXPECT_EQ(again.applied, (BatchId{2, 4}));
  EXPECT_FALSE(again.gap);

  // A tail: the next batch, read from where the last restore stopped.
  batch.PutCustomer(kTask, Customer("d", 400));
  batch.PutOffset(kTask, 0, 50);
  Commit(&batch, {2, 5}, {2, 4});
  const ChangelogRestore tail =
      RestoreFromChangelog(consumer_.get(), kTopic, kGroup, kTask, r.next_offset, High(), r.applied,
                           {}, restored.get(), 10'000);
  EXPECT_EQ(tail.applied, (BatchId{2, 5}));
  EXPECT_EQ(tail.batches_applied, 1);
  EXPECT_FALSE(tail.local_seen);  // its marker precedes the tail
  // The last marker, found from the end: the tail's, of the highest (epoch, sequence).
  const auto [low, high] = ChangelogWatermarks(consumer_.get(), kTopic, kTask, 10'000);
  const auto last = LastChangelogMarker(consumer_.get(), kTopic, kGroup, kTask, low, high, 10'000);
  ASSERT_TRUE(last);
  EXPECT_EQ(last->sequence(), 5u);
  EXPECT_EQ(last->offsets(0), 50);
  // Read again from the start with the tail as the local batch: its marker is seen.
  const ChangelogRestore seen = RestoreFromChangelog(
      consumer_.get(), kTopic, kGroup, kTask, 0, high, tail.applied, {}, restored.get(), 10'000);
  EXPECT_TRUE(seen.local_seen);
  EXPECT_EQ(seen.batches_applied, 0);
  EXPECT_EQ(Customers(*restored, kTask), Customers(*source_, kTask));
}

TEST_F(ChangelogRestoreTest, ABatchWhoseMarkerHadNotLandedIsAppliedByTheNextRead) {
  StateBatch batch;
  batch.PutCustomer(kTask, Customer("a", 100));
  const int first = Commit(&batch, {1, 1}, {});
  // The next batch's records are on the partition, its marker not yet: a standby (or a
  // restore) reading now stops before them...
  batch.PutCustomer(kTask, Customer("a", 101));
  batch.PutCustomer(kTask, Customer("b", 200));
  const std::vector<changelog::Message> second = Messages(&batch, {1, 2}, {1, 1});
  Send(second, 0, second.size() - 1);
  auto restored = StateStore::Open(dir_ / "restored");
  const ChangelogRestore r = RestoreFromChangelog(consumer_.get(), kTopic, kGroup, kTask, 0, High(),
                                                  {}, {}, restored.get(), 10'000);
  EXPECT_EQ(r.applied, (BatchId{1, 1}));
  EXPECT_EQ(r.next_offset, first + static_cast<int64_t>(second.size()) - 1);
  EXPECT_EQ(r.resume_offset, first);  // after the applied batch's marker
  // ... and the next read, from there, applies it whole once its marker has landed.
  Send(second, second.size() - 1, second.size());
  const ChangelogRestore next =
      RestoreFromChangelog(consumer_.get(), kTopic, kGroup, kTask, r.resume_offset, High(),
                           r.applied, {}, restored.get(), 10'000);
  EXPECT_EQ(next.applied, (BatchId{1, 2}));
  EXPECT_EQ(next.batches_applied, 1);
  EXPECT_EQ(Customers(*restored, kTask), Customers(*source_, kTask));
  // Read from where the first read ended instead, the batch looks cut short: not applied.
  auto other = StateStore::Open(dir_ / "other");
  RestoreFromChangelog(consumer_.get(), kTopic, kGroup, kTask, 0, first, {}, {}, other.get(),
                       10'000);
  const ChangelogRestore cut =
      RestoreFromChangelog(consumer_.get(), kTopic, kGroup, kTask, r.next_offset, High(), {1, 1},
                           {}, other.get(), 10'000);
  EXPECT_EQ(cut.batches_applied, 0);
}

TEST_F(ChangelogRestoreTest, ARecordThatIsNotTheTasksChangelogStopsTheRestoreWithItsOffset) {
  StateBatch batch;
  batch.PutCustomer(kTask, Customer("a", 100));
  Commit(&batch, {1, 1}, {});
  ASSERT_EQ(
      rd_kafka_producev(producer_.get(), RD_KAFKA_V_TOPIC(kTopic), RD_KAFKA_V_PARTITION(kTask),
                        RD_KAFKA_V_KEY("junk", 4), RD_KAFKA_V_VALUE(const_cast<char*>("x"), 1),
                        RD_KAFKA_V_HEADER(kGroupHeader, kGroup, 4),
                        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END),
      RD_KAFKA_RESP_ERR_NO_ERROR);
  ASSERT_EQ(rd_kafka_flush(producer_.get(), 10'000), RD_KAFKA_RESP_ERR_NO_ERROR);
  auto restored = StateStore::Open(dir_ / "restored");
  try {
    RestoreFromChangelog(consumer_.get(), kTopic, kGroup, kTask, 0, High(), {}, {}, restored.get(),
                         10'000);
    FAIL() << "a foreign record was accepted";
  } catch (const StateError& e) {
    EXPECT_NE(std::string(e.what()).find("offset 2"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace c360
