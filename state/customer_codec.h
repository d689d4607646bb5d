#pragma once
// CustomerState <-> its RocksDB value (state.proto's Customer, version 1).
// Thread-compatible; the codec keeps no state of its own but a per-thread list of
// lengths that Encode reuses.

#include <string>
#include <string_view>

#include "scoring/customer_state.h"
#include "state/state.pb.h"

namespace c360 {

class CustomerCodec {
 public:
  // Writes the value straight into `out` (whose buffer is reused): the bytes a
  // state::v1::Customer filled from the state would serialize to, without building one.
  static void Encode(const CustomerState& state, std::string* out);
  // False if the bytes are not a Customer value this version can read.
  [[nodiscard]] static bool Decode(std::string_view bytes, CustomerState* state);

  // A daily score as stored (Customer.daily_scores, DailyScores.entries):
  // day << 24 | health << 16 | risk << 8 | status.
  static uint64_t PackDaily(const DailyScore& d) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(d.day)) << 24) |
           (uint64_t{d.health} << 16) | (uint64_t{d.risk} << 8) | d.status;
  }
  static DailyScore UnpackDaily(uint64_t v) {
    return {static_cast<int32_t>(static_cast<uint32_t>(v >> 24)), static_cast<uint8_t>(v >> 16),
            static_cast<uint8_t>(v >> 8), static_cast<uint8_t>(v)};
  }

  // The encoder before the direct writer: it filled a state::v1::Customer and serialized
  // it. Defined in customer_codec_test.cc only, as the reference Encode is compared with
  // (a member, so that it reads the state as the codec does).
  struct MessageEncoder;
};

}  // namespace c360
