// Engine::Impl: the outputs: the fence or the transaction, the producer, delivery reports
// (engine_impl.h).
#include "services/engine/engine_impl.h"
#include "common/logfmt.h"

namespace c360 {
namespace {

// After the group coordinator rejected an output fence, the held outputs are fenced again
// after this long (or at the next rebalance, which decides their fate).
constexpr auto kFenceRetry = std::chrono::seconds(1);

}  // namespace

// The fence (docs/reliability.md): a batch's outputs are published only after the group
// coordinator has accepted an offset commit from this member in its current generation,
// made after the batch was written. A member that was expelled while it was frozen or
// cut off (a zombie) is refused (UNKNOWN_MEMBER_ID, ILLEGAL_GENERATION) and publishes
// nothing stale over the newer outputs of the task's new owner. The commit carries the
// offsets stored in RocksDB with the state (which stay the ones c360 resumes from), so
// the group's committed offsets also show its progress to Kafka's tools.
PartitionList Engine::Impl::FenceOffsets() const {
  PartitionList offsets(
      rd_kafka_topic_partition_list_new(static_cast<int>(tasks_.size()) * kInputTopicCount));
  for (const auto& [id, task] : tasks_) {
    for (InputTopic topic : kAllInputTopics) {
      if (const auto next = task->resume_offset(topic)) {
        rd_kafka_topic_partition_list_add(offsets.get(), config_.topics.Input(topic).c_str(), id)
            ->offset = *next;
      }
    }
  }
  return offsets;
}

// exactly_once: the offsets of every task as of its last RocksDB commit (not the ones
// in memory, which run ahead while a batch fills), each with the commit metadata
// "c360-txn <transactional.id> <sequence>", the task's highest outbox sequence that a
// committed transaction (this one, if it commits) has published.
PartitionList Engine::Impl::TransactionOffsets(const std::map<int32_t, uint64_t>& published) const {
  PartitionList offsets(
      rd_kafka_topic_partition_list_new(static_cast<int>(progress_.size()) * kInputTopicCount));
  for (const auto& [id, progress] : progress_) {
    const std::string mark = std::string(kTransactionMark) + " " + transactional_id_ + " " +
                             std::to_string(published.at(id));
    for (InputTopic topic : kAllInputTopics) {
      const int64_t next = progress.offsets[static_cast<int>(topic)];
      if (next < 0) continue;
      rd_kafka_topic_partition_t* e =
          rd_kafka_topic_partition_list_add(offsets.get(), config_.topics.Input(topic).c_str(), id);
      e->offset = next;
      e->metadata = std::malloc(mark.size());  // the list frees it
      std::memcpy(e->metadata, mark.data(), mark.size());
      e->metadata_size = mark.size();
    }
  }
  return offsets;
}

// The sum of every task's stored offsets: it grows whenever any of them moves.
int64_t Engine::Impl::OffsetsSum() const {
  int64_t sum = 0;
  for (const auto& [id, progress] : progress_) {
    for (int64_t next : progress.offsets) sum += std::max<int64_t>(next, 0);
  }
  return sum;
}

// exactly_once: the outputs waiting (held_) and every task's stored offsets in one
// transaction (transaction.h), after their batch is in RocksDB; skipped when neither
// moved. The transaction runs on a thread of its own (transaction_job_) while the
// processing thread applies and writes the next batches, whose outputs wait in held_ for
// the transaction after it: one transaction at a time, in commit order. FinishTransaction
// decides its outputs once it has ended.
void Engine::Impl::StartTransaction() {
  if (transacting_.active) return;  // the outputs wait for the next one
  const int64_t progress = OffsetsSum();
  if (held_.empty() && progress == transacted_progress_) return;
  std::map<int32_t, uint64_t> published;
  for (const auto& [id, p] : progress_) published[id] = p.published_sequence;
  for (const PublishItem& item : held_) {
    if (auto it = published.find(item.task); it != published.end()) {
      it->second = std::max(it->second, item.sequence);
    }
  }
  transacting_.active = true;
  transacting_.outputs = held_.size();
  transacting_.progress = progress;
  transacting_.offsets = TransactionOffsets(published);
  transacting_.published = std::move(published);
  transacting_.items = std::move(held_);
  held_.clear();
  commits_ahead_ = 0;
  transacting_.flights.clear();
  transacting_.produce_failed = false;
  transacting_.aborted.reset();
  transacting_.fenced = false;
  transaction_job_.Submit([this] {
    try {
      transacting_.aborted = transactions_->Run(
          [this] {
            for (PublishItem& item : transacting_.items) {
              Publish(std::move(item));
              CrashPoint("publishing");
            }
            transacting_.items.clear();
            return !transacting_.produce_failed;
          },
          transacting_.offsets.get());
    } catch (const TransactionFenced& e) {
      transacting_.aborted = e.what();
      transacting_.fenced = true;
    }
  });
}

// Decides the outputs of the transaction started last, once it has ended (at once if
// `wait`): committed, they are confirmed (deleted from the outbox with the next commit);
// aborted (a refused offset commit: a zombie; a failed delivery, a timeout), they are
// held, as after a refused fence: tried again a second later, or decided by the rebalance
// under way. A fenced producer is replaced first. Returns true if a transaction ended.
bool Engine::Impl::FinishTransaction(bool wait) {
  if (!transacting_.active || (!wait && !transaction_job_.finished())) return false;
  transacting_.active = false;
  transacting_.outputs = 0;
  transaction_job_.Wait();  // throws a fatal KafkaError from the job
  std::optional<std::string> aborted = std::move(transacting_.aborted);
  // Every delivery report of the transaction (commit flushes; abort purges) before its
  // outputs are decided: a late one must not be taken for the next transaction's.
  if (transacting_.fenced) ReplaceFencedProducer(*aborted);
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::milliseconds(2 * config_.transaction_timeout_ms);
  while (in_flight_ > 0) {
    if (std::chrono::steady_clock::now() >= deadline) {
      throw EngineError("delivery reports of a transaction's outputs missing after " +
                        std::to_string(2 * config_.transaction_timeout_ms) + " ms");
    }
    rd_kafka_poll(producer_.get(), 10);
  }
  std::vector<std::unique_ptr<InFlight>> flights;  // in the order they were handed over
  flights.swap(transacting_.flights);
  // Outputs the job did not hand over (the transaction failed to begin) come first.
  std::vector<PublishItem> unsent = std::move(transacting_.items);
  transacting_.items.clear();
  transacting_.offsets.reset();
  if (!aborted) {
    transacted_progress_ = transacting_.progress;
    for (auto& [id, p] : progress_) {
      if (auto it = transacting_.published.find(id); it != transacting_.published.end()) {
        p.published_sequence = it->second;
      }
    }
    for (const auto& flight : flights) Confirm(*flight);
    return true;
  }
  // Held again before what waited for the next transaction, in order.
  std::vector<PublishItem> again;
  for (auto& flight : flights) {
    again.push_back(PublishItem{flight->task, flight->sequence, std::move(flight->entry)});
  }
  for (PublishItem& item : unsent) again.push_back(std::move(item));
  for (PublishItem& item : held_) again.push_back(std::move(item));
  held_ = std::move(again);
  ++fence_rejections_;
  fence_retry_at_ = std::chrono::steady_clock::now() + kFenceRetry;
  spdlog::warn("event=transaction_aborted error={} held_outputs={} action=hold", LogValue(*aborted),
               held_.size());
  return true;
}

// The transaction under way ended, then one for everything waiting, ended too (a
// revocation, shutdown).
void Engine::Impl::TransactNow() {
  FinishTransaction(/*wait=*/true);
  StartTransaction();
  FinishTransaction(/*wait=*/true);
}

// Asks the coordinator, asynchronously, to accept a commit; its answer (ServeFences)
// publishes or holds everything held now.
void Engine::Impl::IssueFence() {
  PartitionList offsets = FenceOffsets();
  if (offsets->cnt == 0) {
    // Nothing consumed yet in any task, so no output either; never held in practice.
    PublishAll(&held_);
    return;
  }
  const uint64_t id = next_fence_id_++;
  const rd_kafka_resp_err_t err =
      rd_kafka_commit_queue(consumer_.get(), offsets.get(), fence_queue_.get(), nullptr,
                            reinterpret_cast<void*>(static_cast<uintptr_t>(id)));
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    RejectFences(err);
    return;
  }
  fences_.push_back(Fence{id, std::move(held_), std::chrono::steady_clock::now()});
  held_.clear();
}

// The coordinator's answers: publishes the fences that passed, in order.
void Engine::Impl::ServeFences() {
  while (rd_kafka_event_t* event = rd_kafka_queue_poll(fence_queue_.get(), 0)) {
    if (rd_kafka_event_type(event) == RD_KAFKA_EVENT_OFFSET_COMMIT) {
      const auto id =
          static_cast<uint64_t>(reinterpret_cast<uintptr_t>(rd_kafka_event_opaque(event)));
      rd_kafka_resp_err_t err = rd_kafka_event_error(event);
      if (const auto* offsets = rd_kafka_event_topic_partition_list(event)) {
        for (int i = 0; i < offsets->cnt && err == RD_KAFKA_RESP_ERR_NO_ERROR; ++i) {
          err = offsets->elems[i].err;
        }
      }
      // A fence not found was dropped by a rebalance; its answer no longer matters.
      for (Fence& fence : fences_) {
        if (fence.id == id) {
          fence.answered = true;
          fence.error = err;
          metrics_.ObserveFence(
              std::chrono::duration<double>(std::chrono::steady_clock::now() - fence.issued)
                  .count());
        }
      }
    }
    rd_kafka_event_destroy(event);
  }
  while (!fences_.empty() && fences_.front().answered) {
    if (fences_.front().error != RD_KAFKA_RESP_ERR_NO_ERROR) {
      RejectFences(fences_.front().error);
      return;
    }
    PublishAll(&fences_.front().items);
    fences_.pop_front();
  }
}

// A refused (or failed) fence: its outputs and every later one's wait, in order, for a
// retry or for the rebalance that is likely under way.
void Engine::Impl::RejectFences(rd_kafka_resp_err_t err) {
  held_ = TakeUnpublished();
  ++fence_rejections_;
  fence_retry_at_ = std::chrono::steady_clock::now() + kFenceRetry;
  spdlog::warn("event=output_fence_rejected error={} held_outputs={} action=hold",
               rd_kafka_err2name(err), held_.size());
}

// At a revocation, inside the rebalance callback (still in the old generation): one
// synchronous fence for everything waiting; refused, it all stays in the outbox.
void Engine::Impl::FenceNow(rd_kafka_t* rk) {
  std::vector<PublishItem> waiting = TakeUnpublished();
  if (waiting.empty()) return;
  PartitionList offsets = FenceOffsets();
  rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
  if (offsets->cnt != 0) {
    const auto issued = std::chrono::steady_clock::now();
    err = rd_kafka_commit(rk, offsets.get(), 0);
    metrics_.ObserveFence(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - issued).count());
  }
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    ++fence_rejections_;
    spdlog::warn("event=output_fence_rejected error={} held_outputs={} action=keep_in_outbox",
                 rd_kafka_err2name(err), waiting.size());
    return;
  }
  PublishAll(&waiting);
}

// Every committed output not yet handed to the producer, oldest first: those in fences
// (in order), then the held ones.
std::vector<PublishItem> Engine::Impl::TakeUnpublished() {
  std::vector<PublishItem> items;
  for (Fence& fence : fences_) {
    for (PublishItem& item : fence.items) items.push_back(std::move(item));
  }
  for (PublishItem& item : held_) items.push_back(std::move(item));
  fences_.clear();
  held_.clear();
  return items;
}

void Engine::Impl::PublishAll(std::vector<PublishItem>* items) {
  for (PublishItem& item : *items) {
    Publish(std::move(item));
    CrashPoint("publishing");
  }
  items->clear();
}

// Hands an output to the producer. Its InFlight travels as the message's opaque: owned by
// the message until its delivery report (OnDelivery takes it back), or, with exactly_once,
// by the open transaction, in order, whatever the delivery reports say (FinishTransaction
// decides them once the transaction has ended). exactly_once: called on the transaction's
// job only.
void Engine::Impl::Publish(PublishItem item) {
  auto flight =
      std::make_unique<InFlight>(InFlight{item.task, item.sequence, std::move(item.entry)});
  InFlight* const opaque = flight.get();
  if (transactions_) transacting_.flights.push_back(std::move(flight));
  const state::v1::OutboxEntry& e = opaque->entry;
  rd_kafka_headers_t* headers = rd_kafka_headers_new(static_cast<size_t>(e.headers_size()));
  for (const auto& h : e.headers()) {
    rd_kafka_header_add(headers, h.name().data(), static_cast<ssize_t>(h.name().size()),
                        h.value().data(), static_cast<ssize_t>(h.value().size()));
  }
  const rd_kafka_resp_err_t err = rd_kafka_producev(
      producer_.get(), RD_KAFKA_V_TOPIC(e.topic().c_str()),
      RD_KAFKA_V_KEY(e.has_key() ? e.key().data() : nullptr, e.has_key() ? e.key().size() : 0),
      RD_KAFKA_V_VALUE(e.has_value() ? const_cast<char*>(e.value().data()) : nullptr,
                       e.has_value() ? e.value().size() : 0),
      RD_KAFKA_V_PARTITION(e.has_partition() ? e.partition() : RD_KAFKA_PARTITION_UA),
      RD_KAFKA_V_HEADERS(headers), RD_KAFKA_V_OPAQUE(opaque), RD_KAFKA_V_END);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    rd_kafka_headers_destroy(headers);
    if (transactions_) {
      transacting_.produce_failed = true;  // the transaction aborts
    } else {
      failed_.push_back(std::move(flight));  // retried from the main loop
    }
    return;
  }
  if (!transactions_) (void)flight.release();  // the message's now
  ++in_flight_;
}

void Engine::Impl::RetryFailed() {
  if (failed_.empty()) return;
  std::vector<std::unique_ptr<InFlight>> retry;
  retry.swap(failed_);
  for (auto& flight : retry) {
    Publish(PublishItem{flight->task, flight->sequence, std::move(flight->entry)});
  }
}

void Engine::Impl::OnDelivery(rd_kafka_t*, const rd_kafka_message_t* msg, void* opaque) {
  auto* self = static_cast<Impl*>(opaque);
  --self->in_flight_;
  static_cast<InFlight*>(msg->_private)->offset = msg->offset;
  const bool purged =
      msg->err == RD_KAFKA_RESP_ERR__PURGE_QUEUE || msg->err == RD_KAFKA_RESP_ERR__PURGE_INFLIGHT;
  if (self->transactions_) {
    // Its transaction owns it and decides (Transact): delivered is not visible until it
    // commits.
    const auto* flight = static_cast<const InFlight*>(msg->_private);
    if (msg->err != RD_KAFKA_RESP_ERR_NO_ERROR && !purged) {
      ++self->kafka_errors_;
      spdlog::warn("event=publish_failed topic={} error={} action=abort_transaction",
                   LogValue(flight->entry.topic()), LogValue(rd_kafka_err2str(msg->err)));
    }
    return;
  }
  std::unique_ptr<InFlight> flight(static_cast<InFlight*>(msg->_private));  // back from the message
  if (purged) return;  // not sent (assignment lost, or the engine is going): it stays in the outbox
  if (msg->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    ++self->kafka_errors_;
    spdlog::warn("event=publish_failed topic={} error={} action=retry",
                 LogValue(flight->entry.topic()), LogValue(rd_kafka_err2str(msg->err)));
    self->failed_.push_back(std::move(flight));
    return;
  }
  self->Confirm(*flight);
}

// An output the broker confirmed (exactly_once: in a committed transaction): counted, and
// its outbox entry deleted with the next commit.
void Engine::Impl::Confirm(const InFlight& flight) {
  CrashPoint("after-delivery");
  metrics_.Delivered(flight.entry, clock_.NowMs());
  if (flight.entry.topic() == config_.topics.alerts) ++stats_.alerts_published;
  if (on_delivered_) on_delivered_(flight.entry);
  if (flight.entry.changelog() != 0) {
    ChangelogDelivered(flight);
    return;
  }
  delivered_.emplace_back(flight.task, flight.sequence);
}

}  // namespace c360
