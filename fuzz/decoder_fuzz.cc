// libFuzzer target: every input decoder (SPEC section 1 and 6.1). The first byte picks the
// topic and the content type, the second whether the record has the key "c"; the rest is
// the value. Whatever the bytes, Decode must return a message or a dead-letter reason and
// never crash, hang or read out of bounds (ASan, UBSan). Built by scripts/fuzz.
#include <google/protobuf/stubs/logging.h>

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "services/engine/decode/decoder.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // Parse failures are the expected outcome here (the engine logs them at debug): printed,
  // a 20-minute run wrote 155 MB of them.
  google::protobuf::SetLogHandler(nullptr);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  static c360::Decoder decoder;  // reused, as the engine reuses its decoders
  c360::InputRecord record;
  record.topic = static_cast<c360::InputTopic>((data[0] & 0x7f) % 5);
  if (data[0] & 0x80) record.content_type = std::string_view("application/json");
  if (data[1] & 1) record.key = std::string_view("c");
  record.value = std::string_view(reinterpret_cast<const char*>(data + 2), size - 2);
  if (data[1] & 2) record.value.reset();  // a tombstone
  record.kafka_timestamp_ms = 1'780'000'000'000;
  (void)decoder.Decode(record, 1'790'000'000'000);
  return 0;
}
