#include "services/engine/commit_writer.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <thread>

namespace c360 {
namespace {

class CommitWriterTest : public ::testing::Test {
 protected:
  CommitWriterTest()
      : dir_(std::filesystem::temp_directory_path() /
             ("c360-commit-writer-test-" + std::to_string(::getpid()) + "-" +
              ::testing::UnitTest::GetInstance()->current_test_info()->name())) {
    std::filesystem::remove_all(dir_);
    store_ = StateStore::Open(dir_.string());
  }
  ~CommitWriterTest() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  std::filesystem::path dir_;
  std::unique_ptr<StateStore> store_;
};

TEST_F(CommitWriterTest, WritesEachBatchWholeOnItsThreadOneAtATime) {
  CommitWriter writer(store_.get());
  EXPECT_FALSE(writer.Wait().error);  // nothing submitted: returns at once
  StateBatch batches[2];
  for (int64_t round = 1; round <= 20; ++round) {
    StateBatch& batch = batches[round % 2];
    batch.Clear();
    for (uint8_t topic = 0; topic < 5; ++topic) batch.PutOffset(7, topic, round * 10 + topic);
    writer.Submit(&batch);
    // One write at a time: a second Submit before Wait is a programming error.
    EXPECT_THROW(writer.Submit(&batches[(round + 1) % 2]), std::logic_error);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!writer.finished() && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    ASSERT_TRUE(writer.finished());
    const CommitWriter::Result result = writer.Wait();
    EXPECT_FALSE(result.error);
    EXPECT_GT(result.took.count(), 0);
    EXPECT_FALSE(writer.finished());
    for (uint8_t topic = 0; topic < 5; ++topic)
      EXPECT_EQ(store_->LoadOffset(7, topic), round * 10 + topic);
  }
}

TEST_F(CommitWriterTest, WaitWaitsForTheWriteAndTheDestructorForOneInProgress) {
  StateBatch batch;
  for (int i = 0; i < 50'000; ++i)
    batch.PutOffset(static_cast<uint16_t>(i % 1000), static_cast<uint8_t>(i % 5), i);
  StateBatch last;  // outlives the writer, as the engine's batches do
  last.PutOffset(3, 3, 123);
  {
    CommitWriter writer(store_.get());
    writer.Submit(&batch);
    EXPECT_FALSE(writer.Wait().error);  // blocks until written
    EXPECT_EQ(store_->LoadOffset(999, 4), 49'999);
    writer.Submit(&last);
  }  // destroyed with a write submitted: it is written before the thread ends
  EXPECT_EQ(store_->LoadOffset(3, 3), 123);
}

}  // namespace
}  // namespace c360
