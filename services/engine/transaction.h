#pragma once
// Exactly-once outputs on a broker with transactions (`engine.processing_guarantee:
// exactly_once`, docs/reliability.md "Transactions"): a batch's outputs and its tasks'
// input offsets are written in one Kafka transaction of the engine's producer, the offsets
// committed with the consumer's group metadata (KIP-447): the group coordinator refuses
// them from a member it has expelled, so a zombie's transaction aborts and its outputs are
// never visible to read_committed consumers. librdkafka 2.0.2's transactional API, blocking:
// the engine calls it from one thread at a time (the transaction's job, engine_publish.cc).
//
// Errors: an abortable one (a refused offset commit, a failed delivery, a timeout) aborts
// the transaction and is returned, for the caller to hold its outputs and decide; a fenced
// producer throws TransactionFenced; any other fatal one throws KafkaError.

#include <librdkafka/rdkafka.h>

#include <functional>
#include <optional>
#include <string>

#include "common/kafka.h"

namespace c360 {

// The producer is fenced (librdkafka: fatal): the coordinator aborted its open
// transaction on timeout, or a newer producer took its transactional.id. It cannot be used
// again; a new producer can take the id back.
class TransactionFenced : public KafkaError {
 public:
  using KafkaError::KafkaError;
};

class OutputTransactions {
 public:
  // `producer` has a transactional.id; `consumer` is the group member whose offsets the
  // transactions commit. Neither is owned.
  OutputTransactions(rd_kafka_t* producer, rd_kafka_t* consumer, int timeout_ms)
      : producer_(producer), consumer_(consumer), timeout_ms_(timeout_ms) {}

  // Registers the transactional.id with the coordinator, aborting what a previous
  // producer with the same id left open. Throws KafkaError.
  void Init();

  // One transaction: `produce` hands the outputs to the producer (false: it could not
  // hand them all), then `offsets` are committed in it with the consumer's group metadata,
  // then it is committed. Returns nullopt once committed, else why it was aborted (nothing
  // of it is visible).
  std::optional<std::string> Run(const std::function<bool()>& produce,
                                 const rd_kafka_topic_partition_list_t* offsets);

  // Aborts a transaction left open (an error between begin and commit). No-op otherwise.
  // Throws TransactionFenced when the coordinator fenced the producer meanwhile (it
  // stalled past the transaction timeout), KafkaError for any other failed abort.
  void AbortOpen();

 private:
  // Why `error` was abortable (after aborting), or throws for a fatal one.
  std::string Abort(rd_kafka_error_t* error, const char* step);

  rd_kafka_t* producer_;
  rd_kafka_t* consumer_;
  int timeout_ms_;
  bool open_ = false;
};

// The group's committed offsets of `partitions` (offsets set in place, RD_KAFKA_OFFSET_INVALID
// where none), waiting while another member's transaction holds them unstable (KIP-447's
// require_stable: librdkafka asks it when isolation.level is read_committed), up to
// `timeout_ms`. Throws KafkaError when they cannot be read in time.
void StableCommittedOffsets(rd_kafka_t* consumer, rd_kafka_topic_partition_list_t* partitions,
                            int timeout_ms);

}  // namespace c360
