#pragma once
// Engine::Impl, declared here once and defined in units named for their one job:
//   engine.cc             construction, start and stop, stats and readiness
//   engine_clients.cc     the Kafka clients: their properties, librdkafka's callbacks, the fenced
//   producer's replacement engine_loop.cc        the processing loop: consume, route, apply over
//   the processing threads, batch engine_rebalance.cc   the group: topics checked at start, tasks
//   assigned and restored, revoked engine_commit.cc      the commit: every task drained into one
//   WriteBatch, written by the commit writer engine_publish.cc     the outputs: the fence or the
//   transaction, the producer, delivery reports
// Private to the engine: include engine.h elsewhere.

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <set>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <cstring>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "services/engine/engine.h"
#include "common/background_job.h"
#include "common/crash_point.h"
#include "common/kafka.h"
#include "services/api/row_index.h"
#include "services/engine/changelog_reader.h"
#include "services/engine/commit_writer.h"
#include "services/engine/processing_pool.h"
#include "services/engine/metrics.h"
#include "services/engine/task.h"
#include "services/engine/transaction.h"
#include "state/store.h"

namespace c360 {

class Engine::Impl final : public RecordOwner {
 public:
  // engine.cc
  Impl(EngineSettings settings, const Clock& clock);
  ~Impl() override;
  void Start();
  void OnDelivered(std::function<void(const state::v1::OutboxEntry&)> callback);
  EngineStats stats() const;
  Readiness readiness() const;
  void CountHttpRequest(const std::string& route, int status);
  EngineStats CurrentStats() const;
  Readiness CurrentReadiness();
  static void AddCounters(const TaskCounters& c, EngineStats* s);
  // engine_clients.cc
  std::string TransactionalId() const;
  void CreateClients();
  KafkaHandle MakeProducer();
  void ReplaceFencedProducer(const std::string& why);
  void Release(void* handle) override;
  void CopyHeaders(void* handle, state::v1::OutboxEntry* entry) override;
  // engine_group.cc: the group as the changelog names it (queries on any engine).
  std::map<uint16_t, std::string> Owners(std::chrono::milliseconds max_age);
  void SetAdvertisedHttp(const std::string& address);
  std::string advertised_http() const;
  std::vector<uint16_t> standbys();
  // engine_loop.cc
  void Run(const std::function<bool()>& stop);
  void Consume(const std::function<bool()>& stop);
  int ProcessTasks();
  int SweepTasks();

  // Thread-safe (stats() and readiness(): the copies published at the last commit or refresh).
  const StateStore* state() const { return store_view_.load(std::memory_order_acquire); }
  const api::RowIndex* row_index() const { return &row_index_; }
  const Config& config() const { return config_; }
  std::string RenderMetrics() const { return metrics_.Render(); }

  // Keeps a dropped task's counts in the totals.
  void Retire(const TaskCounters& counters) { AddCounters(counters, &stats_); }

 private:
  // The commit metadata of the offsets this engine commits in its transactions:
  // "c360-txn <transactional.id> <outbox sequence>" (DecideRestoredOutboxes reads it back).
  static constexpr std::string_view kTransactionMark = "c360-txn";
  struct InFlight {
    uint16_t task;
    uint64_t sequence;  // 0: not in the outbox (a changelog message)
    state::v1::OutboxEntry entry;
    int64_t offset = -1;  // where the broker put it (its delivery report)
  };
  // A task's changelog as this engine writes it (SPEC 6.4, engine_changelog.cc).
  struct TaskChangelog {
    uint64_t epoch = 0;               // this engine's, for the task while it holds it
    changelog::BatchId applied;       // the batch the task's drained state ends with
    state::v1::ChangelogChain chain;  // as stored, with the confirmed position
    bool chain_dirty = false;         // the confirmed position moved: stored with the next commit
    int64_t base_offset = -1;         // the latest checkpoint known delivered
    changelog::BatchId checkpoint_pending;  // a checkpoint sent, its marker not confirmed yet
    int64_t checkpoint_pending_offset = -1;
    int64_t checkpoint_bytes = 0;  // the last checkpoint's size
    int64_t delta_bytes = 0;       // written since it
    std::chrono::steady_clock::time_point checkpoint_at;
  };
  // Committed outputs waiting for the group coordinator to accept an offset commit in this
  // member's generation (the fence; docs/reliability.md).
  struct Fence {
    uint64_t id;
    std::vector<PublishItem> items;
    std::chrono::steady_clock::time_point issued;
    bool answered = false;
    rd_kafka_resp_err_t error = RD_KAFKA_RESP_ERR_NO_ERROR;
  };

  // engine.cc
  void PublishStats();
  void Shutdown();
  // engine_clients.cc
  static void OnKafkaError(rd_kafka_t* rk, int err, const char* reason, void* opaque);
  static int OnKafkaStats(rd_kafka_t*, char* json, size_t json_len, void* opaque);
  static void OnKafkaLog(const rd_kafka_t* rk, int level, const char* facility, const char* buf);
  // engine_loop.cc
  void Route(rd_kafka_message_t* msg);
  // engine_rebalance.cc
  void CheckTopics();
  void CheckStoredPartitions(int partitions);
  static void OnRebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                          rd_kafka_topic_partition_list_t* partitions, void* opaque);
  void Assign(rd_kafka_topic_partition_list_t* partitions);
  void DecideRestoredOutboxes(const std::vector<Task*>& restored);
  void Revoke(rd_kafka_t* rk);
  // engine_changelog.cc
  KafkaHandle MakeChangelogReader() const;
  void CreateRestoreConsumer();
  void EnsureChangelogTopic(int partitions);
  struct TaskSync {
    const char* how = "local";  // local, tail, full, new, local_checkpointed
    bool restored = false;      // batches were read and applied
    bool needs_checkpoint = false;
    uint64_t max_epoch = 0;
    int64_t from = 0;  // the stored position before, and the partition's end
    int64_t high = 0;
    ChangelogRestore read;
    state::v1::ChangelogChain chain;  // as it is now, with the position read to
  };
  TaskSync SyncTask(uint16_t task, rd_kafka_t* consumer);
  void RestoreTask(uint16_t task);
  // engine_standby.cc
  static std::set<uint16_t> StandbyTasks(const std::set<uint16_t>& owned, int partitions,
                                         int replicas);
  void StartStandbys();
  void StopStandbys();
  // Stops keeping `owned` as standbys (waiting for one being synced) and keeps
  // `standbys` instead.
  void SetStandbys(const std::set<uint16_t>& owned, const std::set<uint16_t>& standbys);
  void StandbyLoop();
  void AppendChangelog(const StateBatch& batch, const std::vector<uint16_t>& changed,
                       std::vector<PublishItem>* publish);
  void WriteCheckpoint(uint16_t task);
  void MaybeCheckpoint();
  void ChangelogDelivered(const InFlight& flight);
  PublishItem ChangelogItem(uint16_t task, changelog::Message message, bool marker) const;
  // engine_commit.cc
  void Commit();
  void SubmitCommit();
  bool FinishCommit(bool wait, bool publish_now = true);
  // engine_publish.cc
  PartitionList FenceOffsets() const;
  PartitionList TransactionOffsets(const std::map<int32_t, uint64_t>& published) const;
  int64_t OffsetsSum() const;
  void StartTransaction();
  bool FinishTransaction(bool wait);
  void TransactNow();
  void IssueFence();
  void ServeFences();
  void RejectFences(rd_kafka_resp_err_t err);
  void FenceNow(rd_kafka_t* rk);
  std::vector<PublishItem> TakeUnpublished();
  void PublishAll(std::vector<PublishItem>* items);
  void Publish(PublishItem item);
  void RetryFailed();
  static void OnDelivery(rd_kafka_t*, const rd_kafka_message_t* msg, void* opaque);
  void Confirm(const InFlight& flight);

  // Forgets the outputs no fence has passed (they stay in the RocksDB outbox).
  size_t DropUnfenced() { return TakeUnpublished().size(); }

  EngineSettings settings_;
  const Config& config_;
  const Clock& clock_;
  std::unique_ptr<StateStore> store_;
  std::atomic<const StateStore*> store_view_{nullptr};  // store_ for readers, once started
  // The owned tasks' list rows in memory, for the API and the segment metrics; declared
  // after store_, so destroyed (its thread stopped) before it.
  api::RowIndex row_index_;
  bool state_failed_ = false;  // a state write failed: write and publish nothing more
  std::string fatal_;          // an error raised in a librdkafka callback, for Run to throw
  // Two batches, so that one is drained while the other is written. A buffer that grew
  // beyond kKeepBatchBytes is freed once written (FinishCommit) instead of kept.
  static constexpr size_t kKeepBatchBytes = 8u << 20;
  StateBatch batches_[2];
  int next_batch_ = 0;
  // Set when the state is open; declared after store_ and batches_, so destroyed before
  // them (finishing a write in progress).
  std::unique_ptr<CommitWriter> writer_;
  struct Writing {  // the commit the writer is writing
    bool active = false;
    std::vector<PublishItem> publish;  // its outputs, published once it is written
    std::vector<RowChange> rows;       // its list rows, for the row index once written
    std::map<int32_t, std::array<int64_t, kInputTopicCount>> offsets;  // exactly_once
  } writing_;
  bool sweep_due_ =
      false;  // a commit completed (or had nothing to write) since the last sweep slice
  KafkaHandle consumer_;
  KafkaHandle producer_;
  KafkaHandle restore_consumer_;  // reads changelog partitions (assign only, no group)
  std::map<int32_t, TaskChangelog> changelogs_;  // the assigned tasks'
  // Standbys (engine.standby_replicas, engine_standby.cc): warm copies of tasks this
  // engine does not own, synced from their changelog partitions by standby_thread_.
  KafkaHandle standby_consumer_;
  std::thread standby_thread_;
  std::mutex standby_mu_;  // guards the four below
  std::condition_variable standby_cv_;
  std::set<uint16_t> standby_wanted_;
  int standby_busy_ = -1;  // the task being synced
  bool standby_stop_ = false;
  // The owners directory (engine_group.cc): its own reader, used under owners_mu_.
  std::mutex owners_mu_;
  KafkaHandle owners_consumer_;
  std::map<uint16_t, std::string> owners_;
  std::chrono::steady_clock::time_point owners_read_at_;
  mutable std::mutex advertised_mu_;
  std::map<int32_t, std::unique_ptr<Task>> tasks_;
  std::unique_ptr<ProcessingPool> pool_;  // engine.threads
  std::vector<Task*> task_list_;          // ProcessTasks' turn: the tasks, and what each applied
  std::vector<int> task_applied_;
  std::vector<std::pair<uint16_t, uint64_t>> delivered_;
  std::vector<std::unique_ptr<InFlight>> failed_;  // to publish again
  // exactly_once (transaction.h): null otherwise.
  std::unique_ptr<OutputTransactions> transactions_;
  // The transaction running on transaction_job_ (StartTransaction): set and read by the
  // processing thread, except `flights`, `produce_failed` and `aborted`/`fenced`, which the
  // job fills and the processing thread reads once it waited for the job.
  struct Transacting {
    bool active = false;
    size_t outputs = 0;    // handed to the job
    int64_t progress = 0;  // OffsetsSum() of its offsets
    std::map<int32_t, uint64_t> published;
    PartitionList offsets{nullptr};
    std::vector<PublishItem> items;                  // to hand to the producer
    std::vector<std::unique_ptr<InFlight>> flights;  // handed, in order
    bool produce_failed = false;
    std::optional<std::string> aborted;
    bool fenced = false;
  } transacting_;
  // Commits written since the last transaction began (FinishCommit), at most kCommitsAhead.
  static constexpr int kCommitsAhead = 8;
  int commits_ahead_ = 0;
  int64_t transacted_progress_ = -1;  // OffsetsSum() at the last commit
  std::string transactional_id_;
  KafkaProperties producer_props_;
  std::vector<std::chrono::steady_clock::time_point> fenced_at_;  // the last minute's fences
  struct TaskProgress {
    std::array<int64_t, kInputTopicCount> offsets{};  // as stored; -1: none
    uint64_t published_sequence = 0;  // highest outbox sequence a committed transaction sent
  };
  std::map<int32_t, TaskProgress> progress_;  // exactly_once: the assigned tasks'
  std::atomic<size_t> in_flight_{0};          // also counted by the transaction's job
  // Committed outputs not yet published: waiting for a fence, or in one (IssueFence).
  std::vector<PublishItem> held_;
  std::deque<Fence> fences_;
  uint64_t next_fence_id_ = 1;
  int64_t fence_rejections_ = 0;
  std::chrono::steady_clock::time_point fence_retry_at_;
  std::unique_ptr<rd_kafka_queue_t, decltype(&rd_kafka_queue_destroy)> fence_queue_{
      nullptr, &rd_kafka_queue_destroy};
  std::function<void(const state::v1::OutboxEntry&)> on_delivered_;
  EngineStats stats_;
  EngineMetrics metrics_;
  bool started_ = false;
  // Set from librdkafka's callbacks, read on the processing thread. brokers_up_: -1
  // until the first statistics arrive.
  std::atomic<int> brokers_up_{-1};
  std::atomic<int64_t> kafka_errors_{0};
  mutable std::mutex stats_mu_;  // guards the two below
  EngineStats published_stats_;
  Readiness readiness_;
  // exactly_once: runs each transaction while the processing thread goes on. Last, so
  // destroyed first; ~Impl waits for it before it destroys the producer.
  BackgroundJob transaction_job_;
};

}  // namespace c360
