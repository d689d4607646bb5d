#pragma once
// RocksDB key families of the per-task state (docs/state.md). Keys are a prefix byte, the
// task as a big-endian u16, then fixed-width big-endian fields, so that RocksDB's bytewise
// order is the order the engine scans in: by task, then by deadline for timers, by
// sequence for the outbox. Pure encoding; thread-safe.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace c360::state {

enum class Family : char {
  kCustomer = 'C',    // task . customer_id                   -> CustomerState
  kOffset = 'O',      // task . topic id(u8)                  -> next offset to read
  kStreamTime = 'S',  // task                                 -> stream time, last day
  kTimer = 'T',       // task . deadline(u64) . customer_id . 0 . entity . kind(u8)
  kOutbox = 'X',      // task . sequence(u64)                 -> outbox entry
  kMeta = 'M',        // name                                 -> store-wide values
  kJournal = 'J',     // task . customer_id . 0 . sequence(u64) -> JournalEntry
  kRow = 'R',         // task . customer_id                   -> CustomerRow
  kDaily = 'D',       // task . customer_id . 0 . month(u32)  -> DailyScores of a closed month
  // Never stored: the key of a commit marker on a task's changelog partition
  // (state/changelog.h).
  kChangelogMarker = 'Z',  // task                              -> ChangelogMarker
};

// The families whose keys belong to one task (all but kMeta; kChangelogMarker is never
// stored).
inline constexpr Family kTaskFamilies[] = {Family::kCustomer, Family::kOffset, Family::kStreamTime,
                                           Family::kTimer,    Family::kOutbox, Family::kJournal,
                                           Family::kRow,      Family::kDaily};

void AppendU16(std::string* out, uint16_t v);
void AppendU64(std::string* out, uint64_t v);
uint16_t ReadU16(std::string_view in);
uint64_t ReadU64(std::string_view in);

// Signed times sort correctly once the sign bit is flipped.
inline uint64_t OrderedTime(int64_t t) { return static_cast<uint64_t>(t) ^ (uint64_t{1} << 63); }
inline int64_t TimeFromOrdered(uint64_t v) { return static_cast<int64_t>(v ^ (uint64_t{1} << 63)); }

std::string TaskPrefix(Family family, uint16_t task);
std::string CustomerKey(uint16_t task, std::string_view customer_id);
std::string RowKey(uint16_t task, std::string_view customer_id);
std::string OffsetKey(uint16_t task, uint8_t topic_id);
std::string StreamTimeKey(uint16_t task);
// Meta data of the whole store (family M, then a name): the input topics' partition count
// the tasks were made for, u64 big-endian.
std::string InputPartitionsKey();
// What the store knows of task's changelog (ChangelogChain): family M, "changelog_chain",
// then the task as a big-endian u16; kept out of the changelog (a store's own knowledge).
std::string ChangelogChainKey(uint16_t task);
std::string OutboxKey(uint16_t task, uint64_t sequence);
// A customer's journal entries sort by sequence under JournalPrefix.
std::string JournalPrefix(uint16_t task, std::string_view customer_id);
std::string JournalKey(uint16_t task, std::string_view customer_id, uint64_t sequence);
// A customer's closed months of daily scores sort by month under DailyPrefix; the month
// is MonthIndexOfDay's (year * 12 + month - 1), its sign bit flipped.
std::string DailyPrefix(uint16_t task, std::string_view customer_id);
std::string DailyKey(uint16_t task, std::string_view customer_id, int32_t month);

struct TimerKey {
  uint16_t task = 0;
  int64_t deadline_ms = 0;
  std::string customer_id;
  std::string entity_id;
  uint8_t kind = 0;  // response before resolution, as SPEC section 2 breaks ties
};
// customer_id and entity_id are NUL-terminated inside the key, so they may not contain
// NUL; ids come from validated events, which protobuf guarantees to be UTF-8.
std::string EncodeTimerKey(const TimerKey& key);
std::optional<TimerKey> DecodeTimerKey(std::string_view key);

// An id (a customer_id, a file name) as it may appear inside a one-line, quoted log or
// error message: printable ASCII as is, other bytes, quotes and backslashes as \xNN; at
// most 256 bytes of it.
std::string Printable(std::string_view id);

}  // namespace c360::state
