#pragma once
// The embedded Kafka-protocol broker for development, tests and the demo: librdkafka's
// mock cluster (rdkafka_mock.h) on 127.0.0.1, with every c360 topic created up front.
// Any Kafka client (kcat, confluent-kafka, the engine) reaches it over loopback TCP,
// consumer groups included.
//
// Known limit of the mock: each partition keeps about 5 MiB (or 100,000 producer batches)
// and silently drops older data. Spread large workloads over more partitions.
//
// Thread-safe after Start(); the mock runs on librdkafka's own threads.

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>  // needs rdkafka.h first

#include <memory>
#include <string>

#include "common/kafka.h"
#include "common/topics.h"

namespace c360 {

struct BrokerOptions {
  int port = 0;        // bootstrap port on 127.0.0.1; 0 picks a free one
  int partitions = 4;  // of every topic, inputs and outputs
  int broker_count = 1;
  TopicNames topics;
  bool faults = false;  // read fault-injection commands from stdin (ApplyFault)
};

class EmbeddedBroker {
 public:
  // Starts the cluster and creates the topics. Throws KafkaError (e.g. port in use).
  static std::unique_ptr<EmbeddedBroker> Start(const BrokerOptions& options);
  ~EmbeddedBroker();
  EmbeddedBroker(const EmbeddedBroker&) = delete;
  EmbeddedBroker& operator=(const EmbeddedBroker&) = delete;

  // "127.0.0.1:PORT": what clients put in bootstrap.servers.
  const std::string& bootstrap() const { return bootstrap_; }
  // For fault injection in tests (rd_kafka_mock_broker_set_down, ...).
  rd_kafka_mock_cluster_t* mock() const { return mock_; }
  // Applies one fault-injection command of the mock cluster, for tests driving
  // `c360 broker --faults` through its stdin:
  //   down BROKER_ID | up BROKER_ID      disconnect a broker and refuse connections / allow
  //   rtt BROKER_ID MS                   delay every response of a broker
  //   errors API_KEY COUNT ERROR_CODE    fail the next COUNT requests of an API (Kafka's
  //                                      numbers: 0 Produce, 1 Fetch, ...; codes: 6
  //                                      NOT_LEADER_OR_FOLLOWER, 7 REQUEST_TIMED_OUT, ...)
  // Returns "" when applied, else what is wrong with the command.
  std::string ApplyFault(const std::string& command);

 private:
  class Forwarder;
  EmbeddedBroker() = default;

  KafkaHandle owner_;  // the client handle the mock cluster is attached to
  rd_kafka_mock_cluster_t* mock_ = nullptr;
  std::unique_ptr<Forwarder> forwarder_;
  std::string bootstrap_;
};

}  // namespace c360
