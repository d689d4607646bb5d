// bare_consumer BROKERS: the baseline for bench/e2e.sh. Reads every input topic from the
// beginning to the end of every partition with librdkafka, the engine's fetch settings and
// rd_kafka_consume_batch_queue, discards the messages, and prints
// "bare_consumer records=N seconds=S rate=R/s".

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "common/kafka.h"
#include "common/topics.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: bare_consumer BROKERS\n");
    return 2;
  }
  using namespace c360;
  KafkaHandle rk = MakeClient(RD_KAFKA_CONSUMER, {{"bootstrap.servers", argv[1]},
                                                  {"group.id", "c360-bare-consumer"},
                                                  {"enable.auto.commit", "false"},
                                                  {"enable.partition.eof", "true"},
                                                  {"queued.min.messages", "1000000"},
                                                  {"queued.max.messages.kbytes", "1048576"},
                                                  {"fetch.wait.max.ms", "100"}});
  const TopicNames names;
  std::vector<std::string> topics;
  for (InputTopic t : kAllInputTopics) topics.push_back(names.Input(t));
  const std::vector<int> counts = PartitionCounts(rk.get(), topics, 10'000);
  PartitionList list(rd_kafka_topic_partition_list_new(64));
  int partitions = 0;
  for (size_t i = 0; i < topics.size(); ++i) {
    for (int p = 0; p < counts[i]; ++p, ++partitions) {
      rd_kafka_topic_partition_list_add(list.get(), topics[i].c_str(), p)->offset =
          RD_KAFKA_OFFSET_BEGINNING;
    }
  }
  const auto start = std::chrono::steady_clock::now();
  rd_kafka_assign(rk.get(), list.get());
  rd_kafka_queue_t* queue = rd_kafka_queue_get_consumer(rk.get());
  std::vector<rd_kafka_message_t*> batch(10'000);
  long records = 0;
  int at_end = 0;
  while (at_end < partitions) {
    const ssize_t n = rd_kafka_consume_batch_queue(queue, 100, batch.data(), batch.size());
    for (ssize_t i = 0; i < n; ++i) {
      if (batch[i]->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        ++at_end;
      } else if (batch[i]->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        ++records;
      }
      rd_kafka_message_destroy(batch[i]);
    }
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("bare_consumer records=%ld seconds=%.3f rate=%.0f/s\n", records, seconds,
              records / seconds);
  rd_kafka_queue_destroy(queue);
  rd_kafka_consumer_close(rk.get());
  return 0;
}
