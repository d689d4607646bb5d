#include "state/keys.h"

namespace c360::state {

void AppendU16(std::string* out, uint16_t v) {
  out->push_back(static_cast<char>(v >> 8));
  out->push_back(static_cast<char>(v & 0xff));
}

void AppendU64(std::string* out, uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) {
    out->push_back(static_cast<char>((v >> shift) & 0xff));
  }
}

uint16_t ReadU16(std::string_view in) {
  return static_cast<uint16_t>((static_cast<uint8_t>(in[0]) << 8) | static_cast<uint8_t>(in[1]));
}

uint64_t ReadU64(std::string_view in) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(in[i]);
  return v;
}

std::string TaskPrefix(Family family, uint16_t task) {
  std::string key(1, static_cast<char>(family));
  AppendU16(&key, task);
  return key;
}

std::string CustomerKey(uint16_t task, std::string_view customer_id) {
  std::string key = TaskPrefix(Family::kCustomer, task);
  key.append(customer_id);
  return key;
}

std::string RowKey(uint16_t task, std::string_view customer_id) {
  std::string key = TaskPrefix(Family::kRow, task);
  key.append(customer_id);
  return key;
}

std::string OffsetKey(uint16_t task, uint8_t topic_id) {
  std::string key = TaskPrefix(Family::kOffset, task);
  key.push_back(static_cast<char>(topic_id));
  return key;
}

std::string StreamTimeKey(uint16_t task) { return TaskPrefix(Family::kStreamTime, task); }

std::string InputPartitionsKey() {
  return std::string(1, static_cast<char>(Family::kMeta)) + "input_partitions";
}

std::string ChangelogChainKey(uint16_t task) {
  std::string key = std::string(1, static_cast<char>(Family::kMeta)) + "changelog_chain";
  AppendU16(&key, task);
  return key;
}

std::string OutboxKey(uint16_t task, uint64_t sequence) {
  std::string key = TaskPrefix(Family::kOutbox, task);
  AppendU64(&key, sequence);
  return key;
}

namespace {
// task . customer_id . NUL: a customer's keys of a family with more than one per customer.
std::string CustomerPrefix(Family family, uint16_t task, std::string_view customer_id) {
  std::string key = TaskPrefix(family, task);
  key.append(customer_id);
  key.push_back('\0');
  return key;
}
}  // namespace

std::string JournalPrefix(uint16_t task, std::string_view customer_id) {
  return CustomerPrefix(Family::kJournal, task, customer_id);
}

std::string JournalKey(uint16_t task, std::string_view customer_id, uint64_t sequence) {
  std::string key = JournalPrefix(task, customer_id);
  AppendU64(&key, sequence);
  return key;
}

std::string DailyPrefix(uint16_t task, std::string_view customer_id) {
  return CustomerPrefix(Family::kDaily, task, customer_id);
}

std::string DailyKey(uint16_t task, std::string_view customer_id, int32_t month) {
  std::string key = DailyPrefix(task, customer_id);
  const uint32_t ordered = static_cast<uint32_t>(month) ^ (uint32_t{1} << 31);
  for (int shift = 24; shift >= 0; shift -= 8) key.push_back(static_cast<char>(ordered >> shift));
  return key;
}

std::string EncodeTimerKey(const TimerKey& t) {
  std::string key = TaskPrefix(Family::kTimer, t.task);
  AppendU64(&key, OrderedTime(t.deadline_ms));
  key.append(t.customer_id);
  key.push_back('\0');
  key.append(t.entity_id);
  key.push_back('\0');
  key.push_back(static_cast<char>(t.kind));
  return key;
}

std::optional<TimerKey> DecodeTimerKey(std::string_view key) {
  constexpr size_t kFixed = 1 + 2 + 8;
  if (key.size() < kFixed + 3 || key[0] != static_cast<char>(Family::kTimer)) {
    return std::nullopt;
  }
  TimerKey t;
  t.task = ReadU16(key.substr(1));
  t.deadline_ms = TimeFromOrdered(ReadU64(key.substr(3)));
  std::string_view rest = key.substr(kFixed);
  const size_t customer_end = rest.find('\0');
  if (customer_end == std::string_view::npos) return std::nullopt;
  t.customer_id = std::string(rest.substr(0, customer_end));
  rest.remove_prefix(customer_end + 1);
  const size_t entity_end = rest.find('\0');
  if (entity_end == std::string_view::npos || rest.size() != entity_end + 2) return std::nullopt;
  t.entity_id = std::string(rest.substr(0, entity_end));
  t.kind = static_cast<uint8_t>(rest[entity_end + 1]);
  return t;
}

std::string Printable(std::string_view id) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (char c : id.substr(0, 256)) {
    const auto b = static_cast<unsigned char>(c);
    if (b >= 0x20 && b < 0x7f && c != '"' && c != '\\') {
      out.push_back(c);
    } else {
      out += "\\x";
      out.push_back(kHex[b >> 4]);
      out.push_back(kHex[b & 0xf]);
    }
  }
  if (id.size() > 256) out += "...";
  return out;
}

}  // namespace c360::state
