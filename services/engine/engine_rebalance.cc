// Engine::Impl: the group: topics checked at start, tasks assigned and restored, revoked
// (engine_impl.h).
#include "services/engine/engine_impl.h"

namespace c360 {

void Engine::Impl::CheckTopics() {
  const auto names = config_.topics.All();
  // The changelog is checked (and created when missing) after the others.
  const std::vector<std::string> all(names.begin(), names.end() - 1);
  std::vector<int> counts;
  try {
    counts = PartitionCounts(consumer_.get(), all, 10'000);
  } catch (const KafkaError& e) {
    throw EngineError(std::string(e.what()) + " (is a broker at " + settings_.brokers + "?)");
  }
  std::string missing;
  for (size_t i = 0; i < all.size(); ++i) {
    if (counts[i] == 0) missing += (missing.empty() ? "" : ", ") + all[i];
  }
  if (!missing.empty()) throw EngineError("topics do not exist: " + missing);
  std::string mismatch;
  for (int i = 1; i < kInputTopicCount; ++i) {
    if (counts[i] != counts[0]) {
      mismatch = "input topics are not co-partitioned: ";
      for (int j = 0; j < kInputTopicCount; ++j) {
        mismatch +=
            all[j] + " has " + std::to_string(counts[j]) + (j + 1 < kInputTopicCount ? ", " : "");
      }
    }
  }
  if (!mismatch.empty()) throw EngineError(mismatch + " partitions");
  stats_.partitions = counts[0];
  CheckStoredPartitions(counts[0]);
  try {
    EnsureChangelogTopic(counts[0]);
  } catch (const KafkaError& e) {
    throw EngineError(std::string(e.what()) + " (create it with " + std::to_string(counts[0]) +
                      " partitions, docs/scale.md)");
  }
}

// Task p is partition p of every input topic, so the state holds each customer under
// the task its partition number gave; with another partition count customers hash to
// other partitions and their state would sit in the wrong tasks. The count is stored on
// the first start and checked on every later one.
void Engine::Impl::CheckStoredPartitions(int partitions) {
  const std::string how =
      "; c360 keeps a customer's state in the task of its partition, so the stored state "
      "does not fit: recreate the input topics with the stored count, or point --state-dir "
      "at a new directory and replay the topics";
  std::optional<int> stored;
  try {
    stored = store_->LoadInputPartitions();
    if (!stored) {
      // State from before the count was stored: its tasks tell a lower bound.
      const std::vector<uint16_t> tasks = store_->Tasks();
      const auto highest = std::max_element(tasks.begin(), tasks.end());
      if (highest != tasks.end() && *highest >= partitions) {
        throw EngineRefused("state directory " + settings_.state_dir + " holds task " +
                            std::to_string(*highest) + ", but the input topics have " +
                            std::to_string(partitions) + " partitions" + how);
      }
    }
  } catch (const StateError& e) {
    throw EngineError(e.what());
  }
  if (stored && *stored != partitions) {
    throw EngineRefused("state directory " + settings_.state_dir +
                        " was built for input topics with " + std::to_string(*stored) +
                        " partitions, but they now have " + std::to_string(partitions) + how);
  }
  if (!stored) {
    if (auto error = store_->SaveInputPartitions(partitions)) {
      throw EngineError("cannot store the partition count: " + *error);
    }
  }
}

void Engine::Impl::OnRebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                               rd_kafka_topic_partition_list_t* partitions, void* opaque) {
  auto* self = static_cast<Impl*>(opaque);
  // No exception may cross librdkafka's C frames: a failure is kept for Run to raise.
  try {
    // The commit being written belongs to the tasks as they were: finished first (its
    // outputs wait with the others for the fence or transaction that follows), and so
    // is a transaction under way (its outputs, aborted, are held with them).
    self->FinishCommit(/*wait=*/true, /*publish_now=*/false);
    self->FinishTransaction(/*wait=*/true);  // and the transaction under way
    self->metrics_.CountRebalance();
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
      self->Assign(partitions);
      rd_kafka_assign(rk, partitions);
      return;
    }
    self->Revoke(rk);
  } catch (const std::exception& e) {
    if (self->fatal_.empty()) self->fatal_ = e.what();
    self->state_failed_ = true;
    self->tasks_.clear();
  }
  rd_kafka_assign(rk, nullptr);
}

void Engine::Impl::Assign(rd_kafka_topic_partition_list_t* partitions) {
  std::set<uint16_t> owned;
  for (int i = 0; i < partitions->cnt; ++i) {
    owned.insert(static_cast<uint16_t>(partitions->elems[i].partition));
  }
  // Standby copies of the tasks assigned here stop first (one being synced finishes).
  SetStandbys(owned, StandbyTasks(owned, stats_.partitions, config_.standby_replicas));
  std::vector<Task*> restored;
  for (int i = 0; i < partitions->cnt; ++i) {
    const int32_t p = partitions->elems[i].partition;
    const auto topic = config_.topics.InputByName(partitions->elems[i].topic);
    if (!topic) continue;
    auto it = tasks_.find(p);
    if (it == tasks_.end()) {
      RestoreTask(static_cast<uint16_t>(p));  // the changelog's state, before it is loaded
      auto task =
          std::make_unique<Task>(static_cast<uint16_t>(p), config_, clock_, settings_.format, this);
      task->Restore(*store_);
      row_index_.Load(static_cast<uint16_t>(p), std::shared_ptr<const StateView>(store_->View()));
      restored.push_back(task.get());
      it = tasks_.emplace(p, std::move(task)).first;
    }
    const auto offset = it->second->resume_offset(*topic);
    partitions->elems[i].offset = offset ? *offset : RD_KAFKA_OFFSET_BEGINNING;
  }
  if (transactions_ && !restored.empty()) {
    DecideRestoredOutboxes(restored);
  } else {
    // Fenced like any batch's outputs, by the next loop of Run.
    for (Task* task : restored) {
      for (PublishItem& item : task->TakeRestoredOutbox()) held_.push_back(std::move(item));
    }
  }
  std::string names;
  for (const auto& [id, task] : tasks_) names += (names.empty() ? "" : ",") + std::to_string(id);
  spdlog::info("event=assigned tasks={} partitions={}", names, partitions->cnt);
  PublishStats();
}

// exactly_once: which of a restored task's outbox entries a committed transaction has
// published, from the group's committed offsets of the task. Each transaction commits
// them with the metadata "c360-txn <transactional.id> <sequence>" (TransactionOffsets):
// - written by this engine's transactional id: the entries up to that sequence are
//   published (deleted with the next commit), the later ones go out in a new transaction;
// - otherwise (another member's offsets, a fresh group, the fence's): all go out, at
//   least once. Offsets ahead of the stored ones mean another member processed the task
//   beyond this copy of its state (a zombie's, regaining its task): its outbox still
//   goes out, because the state records it as published (a customer's last snapshot),
//   and the task resumes from its stored offsets, so that what follows on the topics
//   is this state's. (Moving a task's state with it is the changelog's job.)
// The offsets are read stable: while another member's transaction holds them (a zombie
// between its offset commit and its commit), this waits for it to end, at most the
// transaction timeout, so that this engine's outputs come after it.
void Engine::Impl::DecideRestoredOutboxes(const std::vector<Task*>& restored) {
  PartitionList committed(
      rd_kafka_topic_partition_list_new(static_cast<int>(restored.size()) * kInputTopicCount));
  for (const Task* task : restored) {
    for (InputTopic topic : kAllInputTopics) {
      rd_kafka_topic_partition_list_add(committed.get(), config_.topics.Input(topic).c_str(),
                                        task->id());
    }
  }
  StableCommittedOffsets(consumer_.get(), committed.get(), config_.transaction_timeout_ms + 10'000);
  const std::string ours = std::string(kTransactionMark) + " " + transactional_id_ + " ";
  for (Task* task : restored) {
    TaskProgress& progress = progress_[task->id()];
    bool ahead = false;
    std::optional<uint64_t> published;
    for (int i = 0; i < committed->cnt; ++i) {
      const rd_kafka_topic_partition_t& e = committed->elems[i];
      if (e.partition != task->id()) continue;
      const InputTopic topic = *config_.topics.InputByName(e.topic);
      const int64_t stored = task->resume_offset(topic).value_or(-1);
      progress.offsets[static_cast<int>(topic)] = stored;
      if (e.offset >= 0 && e.offset > stored) ahead = true;
      const std::string_view meta(static_cast<const char*>(e.metadata),
                                  e.metadata ? e.metadata_size : 0);
      if (meta.starts_with(ours)) {
        uint64_t sequence = 0;
        const std::string_view digits = meta.substr(ours.size());
        if (std::from_chars(digits.data(), digits.data() + digits.size(), sequence).ec ==
            std::errc()) {
          published = std::max(published.value_or(0), sequence);
        }
      }
    }
    progress.published_sequence = published.value_or(0);
    std::vector<PublishItem> outbox = task->TakeRestoredOutbox();
    size_t resent = 0;
    for (PublishItem& item : outbox) {
      if (published && item.sequence <= *published) {
        delivered_.emplace_back(item.task, item.sequence);
      } else {
        held_.push_back(std::move(item));
        ++resent;
      }
    }
    if (!published && ahead) {
      spdlog::warn("event=stale_task_state task={} outbox={} action=publish_outbox_and_replay",
                   task->id(), outbox.size());
    } else if (!outbox.empty()) {
      spdlog::info("event=outbox_restored task={} published={} to_publish={}", task->id(),
                   outbox.size() - resent, resent);
    }
  }
}

// `rk` is the consumer: while ~Impl destroys it, consumer_ is already null.
void Engine::Impl::Revoke(rd_kafka_t* rk) {
  if (rd_kafka_assignment_lost(rk)) {
    // Expelled (a session timeout: a zombie): the tasks may already be processed by
    // another member, so what this process did since its last commit is dropped, not
    // committed, and committed outputs that no fence has passed yet are not published:
    // they stay in the RocksDB outbox, with the state at that commit, from which this
    // process resumes if the tasks come back.
    // Outputs the producer has not sent yet are purged too (their delivery reports say
    // so; they stay in the outbox): after a network partition, the consumer knows it
    // was expelled (its session timed out locally) before the producer can send them.
    const size_t unfenced = DropUnfenced();
    const size_t queued = rd_kafka_outq_len(producer_.get());
    rd_kafka_purge(producer_.get(), RD_KAFKA_PURGE_F_QUEUE);
    if (transactions_) {
      try {
        transactions_->AbortOpen();
      } catch (const TransactionFenced& e) {
        ReplaceFencedProducer(e.what());  // expelled and fenced: a new producer for later
      }
    }
    spdlog::warn(
        "event=assignment_lost tasks={} action=drop_uncommitted "
        "unfenced_outputs={} producer_queue={}",
        tasks_.size(), unfenced, queued);
  } else if (!state_failed_) {
    // Still a member of the current generation: commit, fence what waits, publish it,
    // and wait for the broker so that the outbox is clean for the next owner. (After a
    // state failure this process writes and publishes nothing more: a restart does.)
    // The commit that deletes the confirmed outputs is a changelog batch too, published
    // the same way, and the commit after it stores its confirmation: the changelog then
    // ends with this engine's last batch, which a reassignment finds (engine_changelog.cc).
    Commit();
    for (int round = 0; round < 3 && !held_.empty(); ++round) {
      if (transactions_) {
        TransactNow();                          // what waits, in this generation's last transaction
        const size_t refused = DropUnfenced();  // refused: it stays in the outbox
        if (refused > 0) spdlog::warn("event=revoked_outputs_held outputs={}", refused);
      } else {
        FenceNow(rk);
        rd_kafka_flush(producer_.get(), 5000);
      }
      Commit();  // deletes what the flush or the transaction confirmed
    }
    if (transactions_) {
      // Nothing is left for a transaction after that one, as a rule; one that started
      // anyway belongs to this generation and ends before the tasks go.
      FinishTransaction(/*wait=*/true);
      DropUnfenced();
    }
  }
  std::string names;
  for (const auto& [id, task] : tasks_) names += (names.empty() ? "" : ",") + std::to_string(id);
  spdlog::info("event=revoked tasks={} unconfirmed_outputs={}", names, in_flight_.load());
  for (const auto& [id, task] : tasks_) {
    Retire(task->counters());
    row_index_.Drop(static_cast<uint16_t>(id));
  }
  tasks_.clear();
  changelogs_.clear();
  progress_.clear();
  transacted_progress_ = -1;
  PublishStats();
}

}  // namespace c360
