#include "state/store.h"

#include <rocksdb/options.h>
#include <rocksdb/table.h>

#include <filesystem>

#include "common/crash_point.h"
#include "common/fnv.h"
#include "scoring/rules.h"
#include "state/customer_codec.h"

namespace c360 {
namespace {

// The smallest key greater than every key starting with `prefix` (nullopt: none, the
// prefix is all 0xff). Task ids end in any byte, 0xff included (task 255, 511, ...).
std::optional<std::string> PrefixEnd(std::string prefix) {
  while (!prefix.empty() && static_cast<unsigned char>(prefix.back()) == 0xff) prefix.pop_back();
  if (prefix.empty()) return std::nullopt;
  prefix.back() = static_cast<char>(static_cast<unsigned char>(prefix.back()) + 1);
  return prefix;
}

}  // namespace

void StateBatch::PutCustomer(uint16_t task, const CustomerState& customer) {
  CustomerCodec::Encode(customer, &scratch_);
  batch_.Put(state::CustomerKey(task, customer.customer_id()), scratch_);
}

void StateBatch::PutOffset(uint16_t task, uint8_t topic_id, int64_t next_offset) {
  std::string value;
  state::AppendU64(&value, static_cast<uint64_t>(next_offset));
  batch_.Put(state::OffsetKey(task, topic_id), value);
}

void StateBatch::PutTask(uint16_t task, const state::v1::Task& meta) {
  meta.SerializeToString(&scratch_);
  batch_.Put(state::StreamTimeKey(task), scratch_);
}

void StateBatch::PutChangelogChain(uint16_t task, const state::v1::ChangelogChain& chain) {
  chain.SerializeToString(&scratch_);
  batch_.Put(state::ChangelogChainKey(task), scratch_);
}

void StateBatch::PutOutbox(uint16_t task, uint64_t sequence, const state::v1::OutboxEntry& entry) {
  entry.SerializeToString(&scratch_);
  batch_.Put(state::OutboxKey(task, sequence), scratch_);
}

void StateBatch::DeleteOutbox(uint16_t task, uint64_t sequence) {
  batch_.Delete(state::OutboxKey(task, sequence));
}

void StateBatch::PutTimer(const state::TimerKey& timer) {
  batch_.Put(state::EncodeTimerKey(timer), rocksdb::Slice());
}

void StateBatch::DeleteTimer(const state::TimerKey& timer) {
  batch_.Delete(state::EncodeTimerKey(timer));
}

void StateBatch::PutJournal(uint16_t task, std::string_view customer_id, uint64_t sequence,
                            const state::v1::JournalEntry& entry) {
  entry.SerializeToString(&scratch_);
  batch_.Put(state::JournalKey(task, customer_id, sequence), scratch_);
}

void StateBatch::DeleteJournal(uint16_t task, std::string_view customer_id, uint64_t sequence) {
  batch_.Delete(state::JournalKey(task, customer_id, sequence));
}

void StateBatch::PutDaily(uint16_t task, std::string_view customer_id, int32_t month,
                          const std::vector<DailyScore>& entries) {
  state::v1::DailyScores& value = daily_scratch_;
  value.Clear();
  value.set_version(1);
  for (const DailyScore& d : entries) value.add_entries(CustomerCodec::PackDaily(d));
  value.SerializeToString(&scratch_);
  batch_.Put(state::DailyKey(task, customer_id, month), scratch_);
}

void StateBatch::DeleteDaily(uint16_t task, std::string_view customer_id, int32_t month) {
  batch_.Delete(state::DailyKey(task, customer_id, month));
}

bool StateBatch::PutRow(uint16_t task, CustomerState& customer, int32_t day, uint32_t* hash,
                        state::v1::CustomerRow* out) {
  state::v1::CustomerRow& row = row_scratch_;
  row.Clear();
  if (const auto& profile = customer.profile()) {
    row.set_has_profile(true);
    row.set_name(profile->name());
    row.set_segment(profile->segment());
    row.set_annual_revenue_cents(profile->annual_revenue_cents());
    row.set_industry(profile->industry());
    row.set_region(profile->region());
    row.set_owner(profile->owner());
    if (profile->has_contract_end()) {
      row.set_contract_end_day(static_cast<int32_t>(DayOf(ToMs(profile->contract_end()))));
    }
  }
  const CustomerState::Published& p = customer.published();
  row.set_health(p.health);
  row.set_risk(p.risk);
  row.set_status(p.status);
  row.set_risk_level(p.risk_level);
  row.set_lifecycle_stage(p.lifecycle);
  row.set_day(day);
  if (const auto nps = customer.nps_latest()) row.set_nps_latest(*nps);
  int64_t csat_sum = 0, ratings = 0;
  for (const Rating& r : customer.ratings()) {
    const int64_t d = DayOf(r.time);
    if (d > day - 90 && d <= day) {
      csat_sum += r.csat;
      ++ratings;
    }
  }
  if (ratings > 0)
    row.set_csat_avg_r90d(static_cast<double>(csat_sum) / static_cast<double>(ratings));
  row.set_active_users_r30d(customer.ActiveUsersR30(day));
  if (p.status != 0) {
    if (const auto before = customer.HealthOnOrBefore(day - 7)) {
      row.set_health_change_7d(p.health - *before);
    }
  }
  const std::array<int32_t, kRuleCount> firing = FiringCounts(customer);
  int last = kRuleCount - 1;
  while (last > 0 && firing[last] == 0) --last;
  for (int r = 0; r <= last && firing[last] != 0; ++r) row.add_firing(firing[r]);
  row.SerializeToString(&scratch_);
  if (hash != nullptr) {
    const uint32_t mine = Fold32(Fnv1a64(scratch_)) | 2;  // never 0 or 1 (task.h)
    if (mine == *hash) return false;
    *hash = mine;
  }
  batch_.Put(state::RowKey(task, customer.customer_id()), scratch_);
  if (out != nullptr) *out = row;
  return true;
}

void StateBatch::DeleteRow(uint16_t task, std::string_view customer_id) {
  batch_.Delete(state::RowKey(task, customer_id));
}

std::unique_ptr<StateStore> StateStore::Open(const std::string& dir,
                                             const std::function<void(rocksdb::Options&)>& tune) {
  const StateDirOrigin origin = PrepareStateDirectory(dir);
  rocksdb::Options options;
  options.create_if_missing = true;
  // Writes come in large batches from one thread; a bigger memtable means fewer flushes.
  options.write_buffer_size = 64 << 20;
  options.max_background_jobs = 2;
  options.compression = rocksdb::kLZ4Compression;
  // The default skip-list memtable: customers missing from the cache are point-read, and
  // a vector memtable (faster inserts) makes each such read a scan of the memtable.
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = rocksdb::NewLRUCache(64 << 20);
  options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  if (tune) tune(options);
  rocksdb::DB* raw = nullptr;
  const rocksdb::Status status = rocksdb::DB::Open(options, dir, &raw);
  if (!status.ok())
    throw StateError("cannot open state directory " + dir + ": " + status.ToString());
  return std::unique_ptr<StateStore>(
      new StateStore(std::unique_ptr<rocksdb::DB>(raw), origin, dir));
}

std::unique_ptr<StateStore> StateStore::OpenReadOnly(const std::string& dir) {
  rocksdb::Options options;
  rocksdb::DB* raw = nullptr;
  const rocksdb::Status status = rocksdb::DB::OpenForReadOnly(options, dir, &raw);
  if (!status.ok())
    throw StateError("cannot open state directory " + dir + ": " + status.ToString());
  return std::unique_ptr<StateStore>(
      new StateStore(std::unique_ptr<rocksdb::DB>(raw), StateDirOrigin::kMarked, dir));
}

std::vector<uint16_t> StateStore::Tasks() const {
  std::vector<uint16_t> tasks;
  ScanPrefix(std::string(1, static_cast<char>(state::Family::kStreamTime)),
             [&](std::string_view key, std::string_view) {
               if (key.size() == 3) tasks.push_back(state::ReadU16(key.substr(1)));
             });
  return tasks;
}

StateStore::~StateStore() {
  if (db_) {
    (void)db_->Close();
  }
}

std::optional<std::string> StateStore::Commit(StateBatch* batch) {
  rocksdb::WriteOptions options;
  options.sync = false;  // WAL on; fsync is left to the OS (SPEC: no per-batch sync)
  if (FailPoint("commit")) return std::string("IO error: injected by C360_FAIL_POINT (disk full)");
  const rocksdb::Status status = db_->Write(options, batch->raw());
  if (status.ok()) return std::nullopt;
  return status.ToString();
}

std::map<uint16_t, std::vector<changelog::Record>> StateBatch::RecordsByTask() const {
  struct Split : rocksdb::WriteBatch::Handler {
    std::map<uint16_t, std::vector<changelog::Record>> out;
    void Add(const rocksdb::Slice& key, std::optional<std::string> value) {
      if (key.size() < 3 || key[0] == static_cast<char>(state::Family::kMeta)) return;
      out[state::ReadU16(std::string_view(key.data() + 1, 2))].push_back(
          {key.ToString(), std::move(value)});
    }
    void Put(const rocksdb::Slice& key, const rocksdb::Slice& value) override {
      Add(key, value.ToString());
    }
    void Delete(const rocksdb::Slice& key) override { Add(key, std::nullopt); }
  } split;
  // A batch built by this class holds only puts and deletes; Iterate fails on nothing else.
  const rocksdb::Status status = batch_.Iterate(&split);
  if (!status.ok()) throw StateError("cannot read a state batch: " + status.ToString());
  return std::move(split.out);
}

std::optional<std::string> StateStore::ApplyChangelog(uint16_t task,
                                                      const changelog::Batch& batch) {
  rocksdb::WriteBatch write;
  if (batch.checkpoint) {
    // Every family of the task: its state is the checkpoint's, nothing else.
    for (state::Family family : state::kTaskFamilies) {
      const std::string begin = state::TaskPrefix(family, task);
      write.DeleteRange(begin, *PrefixEnd(begin));  // a family byte is never 0xff
    }
  }
  for (const changelog::Record& r : batch.records) {
    if (r.key.size() < 3 || state::ReadU16(std::string_view(r.key).substr(1)) != task) {
      return "a changelog record whose key is not of task " + std::to_string(task);
    }
    if (r.value) {
      write.Put(r.key, *r.value);
    } else {
      write.Delete(r.key);
    }
  }
  state::v1::ChangelogChain chain;
  try {
    chain = LoadChangelogChain(task);
  } catch (const StateError& e) {
    return e.what();
  }
  chain.set_epoch(batch.id.epoch);
  chain.set_sequence(batch.id.sequence);
  write.Put(state::ChangelogChainKey(task), chain.SerializeAsString());
  rocksdb::WriteOptions options;
  options.sync = false;
  const rocksdb::Status status = db_->Write(options, &write);
  if (status.ok()) return std::nullopt;
  return status.ToString();
}

std::optional<std::string> StateStore::DropTask(uint16_t task) {
  rocksdb::WriteBatch write;
  for (state::Family family : state::kTaskFamilies) {
    const std::string begin = state::TaskPrefix(family, task);
    write.DeleteRange(begin, *PrefixEnd(begin));
  }
  write.Delete(state::ChangelogChainKey(task));
  const rocksdb::Status status = db_->Write(rocksdb::WriteOptions(), &write);
  if (status.ok()) return std::nullopt;
  return status.ToString();
}

state::v1::ChangelogChain StateStore::LoadChangelogChain(uint16_t task) const {
  std::string value;
  const rocksdb::Status s =
      db_->Get(rocksdb::ReadOptions(), state::ChangelogChainKey(task), &value);
  state::v1::ChangelogChain chain;
  if (s.IsNotFound()) return chain;
  if (!s.ok() || !chain.ParseFromString(value)) {
    throw StateError("cannot read the changelog chain of task " + std::to_string(task) + ": " +
                     (s.ok() ? "it does not parse" : s.ToString()));
  }
  return chain;
}

std::optional<std::string> StateStore::SaveChangelogChain(uint16_t task,
                                                          const state::v1::ChangelogChain& chain) {
  const rocksdb::Status status =
      db_->Put(rocksdb::WriteOptions(), state::ChangelogChainKey(task), chain.SerializeAsString());
  if (status.ok()) return std::nullopt;
  return status.ToString();
}

std::optional<int> StateStore::LoadInputPartitions() const {
  std::string value;
  const rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), state::InputPartitionsKey(), &value);
  if (s.IsNotFound()) return std::nullopt;
  if (!s.ok() || value.size() != 8) {
    throw StateError("cannot read the stored partition count: " +
                     (s.ok() ? std::string("not 8 bytes") : s.ToString()));
  }
  return static_cast<int>(state::ReadU64(value));
}

std::optional<std::string> StateStore::SaveInputPartitions(int count) {
  std::string value;
  state::AppendU64(&value, static_cast<uint64_t>(count));
  const rocksdb::Status status =
      db_->Put(rocksdb::WriteOptions(), state::InputPartitionsKey(), value);
  if (status.ok()) return std::nullopt;
  return status.ToString();
}

std::optional<int64_t> StateStore::LoadOffset(uint16_t task, uint8_t topic_id) const {
  std::string value;
  const rocksdb::Status s =
      db_->Get(rocksdb::ReadOptions(), state::OffsetKey(task, topic_id), &value);
  if (s.IsNotFound()) return std::nullopt;
  if (!s.ok() || value.size() != 8) throw StateError("cannot read offset: " + s.ToString());
  return static_cast<int64_t>(state::ReadU64(value));
}

std::optional<state::v1::Task> StateStore::LoadTask(uint16_t task) const {
  return LoadTaskAt(task, nullptr);
}

std::optional<state::v1::Task> StateStore::LoadTaskAt(uint16_t task,
                                                      const rocksdb::Snapshot* snapshot) const {
  std::string value;
  rocksdb::ReadOptions options;
  options.snapshot = snapshot;
  const rocksdb::Status s = db_->Get(options, state::StreamTimeKey(task), &value);
  if (s.IsNotFound()) return std::nullopt;
  state::v1::Task meta;
  if (!s.ok() || !meta.ParseFromString(value)) {
    throw StateError("cannot read task " + std::to_string(task) + ": " + s.ToString());
  }
  return meta;
}

bool StateStore::LoadCustomer(uint16_t task, std::string_view customer_id,
                              CustomerState* out) const {
  if (FailPoint("read")) {
    throw StateError("cannot read customer " + state::Printable(customer_id) + " of task " +
                     std::to_string(task) + ": IO error: injected by C360_FAIL_POINT (read)");
  }
  return LoadCustomerAt(task, customer_id, out, nullptr);
}

bool StateStore::LoadCustomerAt(uint16_t task, std::string_view customer_id, CustomerState* out,
                                const rocksdb::Snapshot* snapshot) const {
  std::string value;
  rocksdb::ReadOptions options;
  options.snapshot = snapshot;
  const rocksdb::Status s = db_->Get(options, state::CustomerKey(task, customer_id), &value);
  if (s.IsNotFound()) return false;
  if (!s.ok()) {
    throw StateError("cannot read customer " + state::Printable(customer_id) + " of task " +
                     std::to_string(task) + ": " + s.ToString());
  }
  if (!CustomerCodec::Decode(value, out)) {
    throw StateError("unreadable state for customer " + state::Printable(customer_id) +
                     " of task " + std::to_string(task) + ": its stored value (" +
                     std::to_string(value.size()) + " bytes) does not decode");
  }
  return true;
}

void StateStore::ScanPrefix(const std::string& prefix,
                            const std::function<void(std::string_view, std::string_view)>& fn,
                            const rocksdb::Snapshot* snapshot) const {
  rocksdb::ReadOptions options;
  options.snapshot = snapshot;
  const std::optional<std::string> upper = PrefixEnd(prefix);
  rocksdb::Slice upper_slice(upper ? *upper : std::string_view());
  if (upper) options.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(options));
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    fn(std::string_view(it->key().data(), it->key().size()),
       std::string_view(it->value().data(), it->value().size()));
  }
  if (!it->status().ok()) throw StateError("cannot scan state: " + it->status().ToString());
}

void StateStore::ForEachCustomer(
    uint16_t task, const std::function<void(const std::string&, std::string_view)>& fn) const {
  const std::string prefix = state::TaskPrefix(state::Family::kCustomer, task);
  ScanPrefix(prefix, [&](std::string_view key, std::string_view value) {
    fn(std::string(key.substr(prefix.size())), value);
  });
}

std::vector<std::string> StateStore::CustomerIdsAfter(uint16_t task, const std::string& after,
                                                      size_t limit) const {
  const std::string prefix = state::TaskPrefix(state::Family::kCustomer, task);
  const std::optional<std::string> upper = PrefixEnd(prefix);
  rocksdb::Slice upper_slice(upper ? *upper : std::string_view());
  rocksdb::ReadOptions options;
  if (upper) options.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(options));
  std::vector<std::string> ids;
  for (it->Seek(prefix + after); it->Valid() && it->key().starts_with(prefix) && ids.size() < limit;
       it->Next()) {
    std::string id(it->key().data() + prefix.size(), it->key().size() - prefix.size());
    if (!after.empty() && id == after) continue;
    ids.push_back(std::move(id));
  }
  if (!it->status().ok()) throw StateError("cannot scan state: " + it->status().ToString());
  return ids;
}

void StateStore::ForEachTimer(uint16_t task,
                              const std::function<void(const state::TimerKey&)>& fn) const {
  ScanPrefix(state::TaskPrefix(state::Family::kTimer, task),
             [&](std::string_view key, std::string_view) {
               if (auto timer = state::DecodeTimerKey(key)) fn(*timer);
             });
}

void StateStore::ForEachOutbox(
    uint16_t task, const std::function<void(uint64_t, const state::v1::OutboxEntry&)>& fn) const {
  const std::string prefix = state::TaskPrefix(state::Family::kOutbox, task);
  ScanPrefix(prefix, [&](std::string_view key, std::string_view value) {
    state::v1::OutboxEntry entry;
    if (key.size() != prefix.size() + 8 ||
        !entry.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
      throw StateError("unreadable outbox entry in task " + std::to_string(task));
    }
    fn(state::ReadU64(key.substr(prefix.size())), entry);
  });
}

std::unique_ptr<StateView> StateStore::View() const {
  return std::unique_ptr<StateView>(new StateView(this, db_->GetSnapshot()));
}

StateView::~StateView() { store_->db_->ReleaseSnapshot(snapshot_); }

void StateView::ForEachTaskRecord(
    uint16_t task, const std::function<void(std::string_view, std::string_view)>& fn) const {
  for (state::Family family : state::kTaskFamilies) {
    store_->ScanPrefix(state::TaskPrefix(family, task), fn, snapshot_);
  }
}

std::optional<state::v1::Task> StateView::LoadTask(uint16_t task) const {
  return store_->LoadTaskAt(task, snapshot_);
}

bool StateView::LoadCustomer(uint16_t task, std::string_view customer_id,
                             CustomerState* out) const {
  return store_->LoadCustomerAt(task, customer_id, out, snapshot_);
}

void StateView::ForEachCustomer(
    uint16_t task, const std::function<void(std::string_view, std::string_view)>& fn) const {
  const std::string prefix = state::TaskPrefix(state::Family::kCustomer, task);
  store_->ScanPrefix(
      prefix,
      [&](std::string_view key, std::string_view value) { fn(key.substr(prefix.size()), value); },
      snapshot_);
}

void StateView::ForEachRow(
    uint16_t task,
    const std::function<void(std::string_view, const state::v1::CustomerRow&)>& fn) const {
  const std::string prefix = state::TaskPrefix(state::Family::kRow, task);
  state::v1::CustomerRow row;
  store_->ScanPrefix(
      prefix,
      [&](std::string_view key, std::string_view value) {
        if (!row.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
          throw StateError("unreadable list row in task " + std::to_string(task));
        }
        fn(key.substr(prefix.size()), row);
      },
      snapshot_);
}

std::vector<state::v1::JournalEntry> StateView::Journal(uint16_t task,
                                                        std::string_view customer_id) const {
  std::vector<state::v1::JournalEntry> entries;
  store_->ScanPrefix(
      state::JournalPrefix(task, customer_id),
      [&](std::string_view, std::string_view value) {
        if (!entries.emplace_back().ParseFromArray(value.data(), static_cast<int>(value.size()))) {
          throw StateError("unreadable journal entry of customer " + std::string(customer_id));
        }
      },
      snapshot_);
  return entries;
}

std::vector<DailyScore> StateView::DailyHistory(uint16_t task, std::string_view customer_id) const {
  std::vector<DailyScore> entries;
  state::v1::DailyScores month;
  store_->ScanPrefix(
      state::DailyPrefix(task, customer_id),
      [&](std::string_view, std::string_view value) {
        if (!month.ParseFromArray(value.data(), static_cast<int>(value.size())) ||
            month.version() != 1) {
          throw StateError("unreadable daily scores of customer " + state::Printable(customer_id) +
                           " of task " + std::to_string(task));
        }
        for (uint64_t v : month.entries()) entries.push_back(CustomerCodec::UnpackDaily(v));
      },
      snapshot_);
  return entries;
}

uint64_t StateStore::LiveDataBytes() const {
  uint64_t sst = 0, memtables = 0;
  db_->GetIntProperty(rocksdb::DB::Properties::kEstimateLiveDataSize, &sst);
  db_->GetIntProperty(rocksdb::DB::Properties::kCurSizeAllMemTables, &memtables);
  return sst + memtables;
}

uint64_t StateStore::BlockCacheBytes() const {
  uint64_t v = 0;
  db_->GetIntProperty(rocksdb::DB::Properties::kBlockCacheUsage, &v);
  return v;
}

uint64_t StateStore::PendingCompactionBytes() const {
  uint64_t v = 0;
  db_->GetIntProperty(rocksdb::DB::Properties::kEstimatePendingCompactionBytes, &v);
  return v;
}

const WriteStalls& StateStore::SampleWriteStalls() {
  uint64_t stopped = 0, delayed_rate = 0;
  db_->GetIntProperty(rocksdb::DB::Properties::kIsWriteStopped, &stopped);
  db_->GetIntProperty(rocksdb::DB::Properties::kActualDelayedWriteRate, &delayed_rate);
  WriteStalls::Condition now = WriteStalls::Condition::kNormal;
  if (stopped != 0) {
    now = WriteStalls::Condition::kStopped;
  } else if (delayed_rate != 0) {
    now = WriteStalls::Condition::kDelayed;
  }
  if (now != stalls_.condition()) stalls_.Change(now, WriteStalls::Clock::now());
  return stalls_;
}

StateStore::Disk StateStore::DiskSpace() const {
  std::error_code error;
  const std::filesystem::space_info space = std::filesystem::space(dir_, error);
  if (error) return {};
  return {space.available, space.capacity};
}

}  // namespace c360
