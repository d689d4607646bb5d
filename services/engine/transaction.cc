#include "services/engine/transaction.h"

#include "common/crash_point.h"

#include <chrono>
#include <thread>

namespace c360 {
namespace {

// Retriable errors (a coordinator moving, a request timing out) are retried this often
// before the transaction is aborted.
constexpr int kRetries = 3;

// The errors with which the coordinator tells a producer that a newer one holds its
// transactional id, or that it aborted the producer's transaction itself (the producer
// stalled past the transaction timeout).
bool IsFenced(rd_kafka_error_t* error) {
  const rd_kafka_resp_err_t code = rd_kafka_error_code(error);
  return rd_kafka_error_is_fatal(error) &&
         (code == RD_KAFKA_RESP_ERR__FENCED || code == RD_KAFKA_RESP_ERR_PRODUCER_FENCED ||
          code == RD_KAFKA_RESP_ERR_INVALID_PRODUCER_EPOCH);
}

std::string Describe(rd_kafka_error_t* error, const char* step) {
  return std::string(step) + ": " + rd_kafka_error_name(error) + " (" +
         rd_kafka_error_string(error) + ")";
}

}  // namespace

void OutputTransactions::Init() {
  if (rd_kafka_error_t* error = rd_kafka_init_transactions(producer_, 3 * timeout_ms_)) {
    const std::string why = Describe(error, "init");
    rd_kafka_error_destroy(error);
    throw KafkaError("cannot start Kafka transactions: " + why +
                     " (a broker without transactions, such as `c360 broker`, needs "
                     "engine.processing_guarantee: at_least_once)");
  }
}

std::optional<std::string> OutputTransactions::Run(const std::function<bool()>& produce,
                                                   const rd_kafka_topic_partition_list_t* offsets) {
  if (rd_kafka_error_t* error = rd_kafka_begin_transaction(producer_)) return Abort(error, "begin");
  open_ = true;
  if (!produce()) {
    AbortOpen();
    return std::string("produce: the producer did not take every output (its queue is full)");
  }
  if (offsets != nullptr && offsets->cnt > 0) {
    rd_kafka_consumer_group_metadata_t* group = rd_kafka_consumer_group_metadata(consumer_);
    rd_kafka_error_t* error = nullptr;
    for (int attempt = 0; attempt <= kRetries; ++attempt) {
      if (error) rd_kafka_error_destroy(error);
      error = rd_kafka_send_offsets_to_transaction(producer_, offsets, group, timeout_ms_);
      if (!error || !rd_kafka_error_is_retriable(error)) break;
    }
    rd_kafka_consumer_group_metadata_destroy(group);
    if (error) return Abort(error, "offsets");
  }
  // Offsets in, not yet committed: a member frozen here holds the task's offsets unstable
  // for its next owner (tests freeze it here: NAME:N:stop).
  CrashPoint("transaction");
  rd_kafka_error_t* error = nullptr;
  for (int attempt = 0; attempt <= kRetries; ++attempt) {
    if (error) rd_kafka_error_destroy(error);
    // Flushes the outputs first, serving their delivery reports.
    error = rd_kafka_commit_transaction(producer_, timeout_ms_);
    if (!error || !rd_kafka_error_is_retriable(error)) break;
  }
  if (error) return Abort(error, "commit");
  open_ = false;
  return std::nullopt;
}

std::string OutputTransactions::Abort(rd_kafka_error_t* error, const char* step) {
  const bool fatal = rd_kafka_error_is_fatal(error);
  const bool fenced = IsFenced(error);
  const std::string why = Describe(error, step);
  rd_kafka_error_destroy(error);
  if (fenced) {
    open_ = false;  // the producer is dead: nothing to abort
    throw TransactionFenced("transaction " + why);
  }
  if (fatal) {
    throw KafkaError("Kafka transaction failed: " + why +
                     " (another producer with this engine's transactional id? "
                     "engine.transactional_id, docs/config.md)");
  }
  AbortOpen();
  return why;
}

void OutputTransactions::AbortOpen() {
  if (!open_) return;
  rd_kafka_error_t* error = nullptr;
  for (int attempt = 0; attempt <= kRetries; ++attempt) {
    if (error) rd_kafka_error_destroy(error);
    error = rd_kafka_abort_transaction(producer_, timeout_ms_);
    if (!error || !rd_kafka_error_is_retriable(error)) break;
  }
  if (error) {
    // A transaction that failed abortably (its outputs timed out while this process was
    // stopped) can find, on abort, that the coordinator has since fenced the producer, or
    // aborted the transaction itself past its timeout and moved the producer's epoch on
    // (Kafka 4 answers the old epoch's abort with a fatal INVALID_TXN_STATE): the same as
    // a fence met anywhere else, a new producer takes over.
    const bool fenced =
        IsFenced(error) || (rd_kafka_error_is_fatal(error) &&
                            rd_kafka_error_code(error) == RD_KAFKA_RESP_ERR_INVALID_TXN_STATE);
    const std::string why = Describe(error, "abort");
    rd_kafka_error_destroy(error);
    open_ = false;
    if (fenced) throw TransactionFenced("transaction " + why);
    throw KafkaError("cannot abort a Kafka transaction: " + why);
  }
  open_ = false;
}

void StableCommittedOffsets(rd_kafka_t* consumer, rd_kafka_topic_partition_list_t* partitions,
                            int timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (true) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                          deadline - std::chrono::steady_clock::now())
                          .count();
    const rd_kafka_resp_err_t err =
        rd_kafka_committed(consumer, partitions, static_cast<int>(std::max<int64_t>(left, 1)));
    bool unstable = false;
    rd_kafka_resp_err_t partition_err = RD_KAFKA_RESP_ERR_NO_ERROR;
    for (int i = 0; i < partitions->cnt; ++i) {
      if (partitions->elems[i].err == RD_KAFKA_RESP_ERR_UNSTABLE_OFFSET_COMMIT)
        unstable = true;
      else if (partitions->elems[i].err != RD_KAFKA_RESP_ERR_NO_ERROR)
        partition_err = partitions->elems[i].err;
    }
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR && !unstable &&
        partition_err == RD_KAFKA_RESP_ERR_NO_ERROR)
      return;
    if (std::chrono::steady_clock::now() >= deadline ||
        (!unstable && err != RD_KAFKA_RESP_ERR__TIMED_OUT)) {
      const rd_kafka_resp_err_t why = err != RD_KAFKA_RESP_ERR_NO_ERROR ? err
                                      : unstable ? RD_KAFKA_RESP_ERR_UNSTABLE_OFFSET_COMMIT
                                                 : partition_err;
      throw KafkaError(std::string("cannot read the group's committed offsets: ") +
                       rd_kafka_err2name(why));
    }
    // Another member's transaction still holds them: it commits or the coordinator aborts
    // it within the transaction timeout.
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

}  // namespace c360
