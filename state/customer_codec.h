#pragma once
// CustomerState <-> its RocksDB value (state.proto's Customer, version 1).
// Thread-compatible; the codec keeps no state of its own.

#include <string>
#include <string_view>

#include "scoring/customer_state.h"
#include "state/state.pb.h"

namespace c360 {

class CustomerCodec {
 public:
  // `scratch` is reused between calls so that its buffers are allocated once.
  static void Encode(const CustomerState& state, state::v1::Customer* scratch, std::string* out);
  // False if the bytes are not a Customer value this version can read.
  [[nodiscard]] static bool Decode(std::string_view bytes, CustomerState* state);
};

}  // namespace c360
