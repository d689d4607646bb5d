#include "state/store.h"

#include <gtest/gtest.h>
#include <rocksdb/db.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

namespace c360 {
namespace {

namespace fs = std::filesystem;

class StateDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char name[] = "/tmp/c360-store-test-XXXXXX";
    ASSERT_NE(mkdtemp(name), nullptr);
    root_ = name;
  }
  void TearDown() override { fs::remove_all(root_); }

  static std::string Read(const fs::path& file) {
    std::ifstream in(file);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }
  static void Write(const fs::path& file, const std::string& text) { std::ofstream(file) << text; }
  static std::set<std::string> Listing(const fs::path& dir) {
    std::set<std::string> names;
    for (const auto& entry : fs::directory_iterator(dir)) names.insert(entry.path().filename());
    return names;
  }
  // The message of the StateDirectoryError that opening `dir` throws ("" if none).
  static std::string Refusal(const fs::path& dir) {
    try {
      StateStore::Open(dir);
    } catch (const StateDirectoryError& e) {
      return e.what();
    }
    return "";
  }

  fs::path root_;
};

TEST_F(StateDirTest, CreatesAMissingDirectoryAndItsParentsOwnerOnlyWithTheMarker) {
  const fs::path dir = root_ / "a" / "b" / "state";
  EXPECT_EQ(StateStore::Open(dir)->origin(), StateDirOrigin::kCreated);
  for (const fs::path& created : {root_ / "a", root_ / "a" / "b", dir}) {
    struct stat st {};
    ASSERT_EQ(::stat(created.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0700u) << created;
  }
  EXPECT_EQ(Read(dir / "C360-STATE"), "c360 state format 2\n");
  EXPECT_EQ(StateStore::Open(dir)->origin(), StateDirOrigin::kMarked);
}

TEST_F(StateDirTest, MarksAnEmptyDirectoryAndLeavesItsMode) {
  const fs::path dir = root_ / "empty";
  ASSERT_TRUE(fs::create_directory(dir));
  fs::permissions(dir, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec);
  fs::create_directory(dir / "lost+found");  // a fresh file system mounted there
  EXPECT_EQ(StateStore::Open(dir)->origin(), StateDirOrigin::kCreated);
  EXPECT_EQ(Read(dir / "C360-STATE"), "c360 state format 2\n");
  EXPECT_EQ(fs::status(dir).permissions() & fs::perms::all,
            fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec);
}

TEST_F(StateDirTest, RefusesAForeignDirectoryAndWritesNothingInIt) {
  const fs::path dir = root_ / "src";
  fs::create_directory(dir);
  Write(dir / "main.cc", "int main() {}\n");
  Write(dir / "README.md", "hello\n");
  const std::string why = Refusal(dir);
  EXPECT_NE(why.find("is not a c360 state directory"), std::string::npos) << why;
  EXPECT_NE(why.find("and 1 more entries that c360 did not write"), std::string::npos) << why;
  EXPECT_NE(why.find("point --state-dir at a new or empty directory"), std::string::npos) << why;
  EXPECT_EQ(Listing(dir), (std::set<std::string>{"main.cc", "README.md"}));
}

TEST_F(StateDirTest, RefusesAFile) {
  Write(root_ / "file", "x");
  EXPECT_NE(Refusal(root_ / "file").find("is not a directory"), std::string::npos);
}

TEST_F(StateDirTest, RefusesAnotherFormatNamingBoth) {
  const fs::path dir = root_ / "state";
  StateStore::Open(dir);
  Write(dir / "C360-STATE", "c360 state format 3\n");
  const std::string why = Refusal(dir);
  EXPECT_NE(why.find("has format 3; this c360 reads formats 1 to 2"), std::string::npos) << why;
  Write(dir / "C360-STATE", "something else\n");
  EXPECT_NE(Refusal(dir).find("has format \"something else\" (not a c360 format)"),
            std::string::npos)
      << Refusal(dir);
}

TEST_F(StateDirTest, UpgradesFormatOneInPlace) {
  const fs::path dir = root_ / "format1";
  {
    auto store = StateStore::Open(dir);
    StateBatch batch;
    batch.PutOffset(3, 0, 42);
    ASSERT_EQ(store->Commit(&batch), std::nullopt);
  }
  Write(dir / "C360-STATE", "c360 state format 1\n");  // as the c360 before family D left it
  auto store = StateStore::Open(dir);
  EXPECT_EQ(store->origin(), StateDirOrigin::kUpgraded);
  EXPECT_EQ(store->LoadOffset(3, 0), 42);
  EXPECT_EQ(Read(dir / "C360-STATE"), "c360 state format 2\n");
}

TEST_F(StateDirTest, AdoptsTheStateOfTheVersionBeforeTheMarker) {
  const fs::path dir = root_ / "old";
  {
    auto store = StateStore::Open(dir);
    StateBatch batch;
    batch.PutOffset(3, 0, 42);
    batch.PutCustomer(3, CustomerState("c-1"));
    ASSERT_EQ(store->Commit(&batch), std::nullopt);
  }
  fs::remove(dir / "C360-STATE");  // as the c360 before the marker left it
  auto store = StateStore::Open(dir);
  EXPECT_EQ(store->origin(), StateDirOrigin::kAdopted);
  EXPECT_EQ(store->LoadOffset(3, 0), 42);
  EXPECT_EQ(Read(dir / "C360-STATE"), "c360 state format 2\n");
}

TEST_F(StateDirTest, RefusesAnotherProgramsRocksDbAndLeavesItAsItWas) {
  const fs::path dir = root_ / "other";
  {
    rocksdb::Options options;
    options.create_if_missing = true;
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(options, dir, &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), "user:1", "alice").ok());
  }
  const std::set<std::string> before = Listing(dir);
  const std::string why = Refusal(dir);
  EXPECT_NE(why.find("a RocksDB database without c360's keys"), std::string::npos) << why;
  EXPECT_EQ(Listing(dir), before);
}

TEST_F(StateDirTest, KeepsTheInputPartitionCount) {
  const fs::path dir = root_ / "state";
  {
    auto store = StateStore::Open(dir);
    EXPECT_EQ(store->LoadInputPartitions(), std::nullopt);
    EXPECT_EQ(store->SaveInputPartitions(8), std::nullopt);
  }
  auto store = StateStore::Open(dir);
  EXPECT_EQ(store->LoadInputPartitions(), 8);
  EXPECT_TRUE(store->Tasks().empty());  // not a task's key
}

TEST_F(StateDirTest, AnUndecodableCustomerIsAStateErrorNamingIt) {
  auto store = StateStore::Open(root_ / "state");
  StateBatch batch;
  batch.raw()->Put(state::CustomerKey(2, "c-\"7\""), "\xff\xff garbage");
  ASSERT_EQ(store->Commit(&batch), std::nullopt);
  CustomerState customer;
  try {
    store->LoadCustomer(2, "c-\"7\"", &customer);
    FAIL() << "no StateError";
  } catch (const StateError& e) {
    EXPECT_STREQ(e.what(),
                 "unreadable state for customer c-\\x227\\x22 of task 2: its stored value "
                 "(10 bytes) does not decode");
  }
}

// The changelog's two ends in the store: a commit's records split by task, and a
// restored batch applied to another store.
TEST_F(StateDirTest, ACommitsRecordsMoveToAnotherStoreThroughTheChangelog) {
  auto source = StateStore::Open(root_ / "a");
  auto target = StateStore::Open(root_ / "b");
  StateBatch batch;
  batch.PutOffset(1, 0, 42);
  batch.PutCustomer(2, CustomerState("cust-2"));
  batch.PutOffset(0xffff, 3, 7);  // the last task: its key range ends at the next family
  batch.DeleteOutbox(1, 5);
  ASSERT_FALSE(source->Commit(&batch));
  const auto by_task = batch.RecordsByTask();
  ASSERT_EQ(by_task.size(), 3u);
  ASSERT_EQ(by_task.at(1).size(), 2u);
  EXPECT_EQ(by_task.at(1)[0].key, state::OffsetKey(1, 0));
  EXPECT_FALSE(by_task.at(1)[1].value);  // the outbox delete
  EXPECT_EQ(by_task.at(2)[0].key, state::CustomerKey(2, "cust-2"));

  for (const auto& [task, records] : by_task) {
    changelog::Batch restored;
    restored.records = records;
    ASSERT_FALSE(target->ApplyChangelog(task, restored));
  }
  EXPECT_EQ(target->LoadOffset(1, 0), 42);
  EXPECT_EQ(target->LoadOffset(0xffff, 3), 7);
  CustomerState loaded;
  EXPECT_TRUE(target->LoadCustomer(2, "cust-2", &loaded));

  // A checkpoint replaces the task's whole state, and only that task's.
  changelog::Batch checkpoint;
  checkpoint.checkpoint = true;
  checkpoint.records.push_back({state::OffsetKey(1, 1), std::string("\0\0\0\0\0\0\0\x09", 8)});
  ASSERT_FALSE(target->ApplyChangelog(1, checkpoint));
  EXPECT_FALSE(target->LoadOffset(1, 0));
  EXPECT_EQ(target->LoadOffset(1, 1), 9);
  EXPECT_TRUE(target->LoadCustomer(2, "cust-2", &loaded));
  EXPECT_EQ(target->LoadOffset(0xffff, 3), 7);
  changelog::Batch last;
  last.checkpoint = true;
  ASSERT_FALSE(target->ApplyChangelog(0xffff, last));
  EXPECT_FALSE(target->LoadOffset(0xffff, 3));
  EXPECT_TRUE(target->LoadCustomer(2, "cust-2", &loaded));

  changelog::Batch foreign;  // a record of another task is refused, nothing written
  foreign.records.push_back({state::OffsetKey(3, 0), std::string(8, '\0')});
  EXPECT_TRUE(target->ApplyChangelog(1, foreign));
  EXPECT_FALSE(target->LoadOffset(3, 0));
}

// A checkpoint: every record of a task as of one commit, applied to a store whose copy of
// the task is stale, leaves it equal to the source's, the other tasks as they were.
TEST_F(StateDirTest, ACheckpointOfATaskMakesAnotherStoresCopyEqual) {
  auto source = StateStore::Open(root_ / "a");
  auto target = StateStore::Open(root_ / "b");
  const auto records = [](const StateStore& store, uint16_t task) {
    std::vector<std::pair<std::string, std::string>> out;
    store.View()->ForEachTaskRecord(
        task, [&](std::string_view k, std::string_view v) { out.emplace_back(k, v); });
    return out;
  };
  StateBatch batch;
  batch.PutCustomer(1, CustomerState("a"));
  batch.PutOffset(1, 2, 30);
  batch.PutTimer(state::TimerKey{1, 5000, "a", "T-1", 0});
  CustomerState a("a");
  batch.PutRow(1, a, 0);
  batch.PutCustomer(2, CustomerState("b"));
  ASSERT_FALSE(source->Commit(&batch));
  batch.Clear();
  batch.PutCustomer(1, CustomerState("stale"));  // the target's older copy of task 1
  batch.PutOffset(1, 2, 10);
  batch.PutCustomer(2, CustomerState("kept"));
  ASSERT_FALSE(target->Commit(&batch));

  changelog::Batch checkpoint;
  checkpoint.checkpoint = true;
  for (auto& [key, value] : records(*source, 1)) checkpoint.records.push_back({key, value});
  ASSERT_EQ(checkpoint.records.size(), 4u);  // customer, offset, timer, row
  ASSERT_FALSE(target->ApplyChangelog(1, checkpoint));
  EXPECT_EQ(records(*target, 1), records(*source, 1));
  CustomerState loaded;
  EXPECT_FALSE(target->LoadCustomer(1, "stale", &loaded));
  EXPECT_TRUE(target->LoadCustomer(2, "kept", &loaded));
  EXPECT_FALSE(target->LoadCustomer(2, "b", &loaded));
}

}  // namespace
}  // namespace c360
