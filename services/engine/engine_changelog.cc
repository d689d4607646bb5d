// Engine::Impl: a task's state moves with it (SPEC 6.4, docs/scale.md): each commit's
// changes on the task's changelog partition, checkpoints, and the restore at assignment
// (engine_impl.h).
//
// The changelog is the truth about a task; an engine's local state is a copy it may use
// only while it lies on the changelog's chain of batches (state/changelog.h). At
// assignment:
//   - local state whose batch is the last one this engine saw confirmed, with nothing
//     written after it: used as it is;
//   - otherwise the tail after the last confirmed batch is read: local state whose batch
//     is there (or was the confirmed one) takes the batches that continue it;
//   - otherwise (no local state, a local batch never delivered, another writer's later
//     epoch, a gap) the task is dropped locally and restored from nothing: from the
//     latest checkpoint, which the last marker names, through every batch after it.
// The inputs then resume at the restored state's offsets. The engine writes with an epoch
// above every epoch it read, so that its batches win over a zombie's.
#include "services/engine/engine_impl.h"
#include "common/logfmt.h"

namespace c360 {
namespace {

using changelog::BatchId;

constexpr int kMetadataTimeoutMs = 10'000;

// A checkpoint's marker carries the offsets and stream time its records hold.
void FillMarkerFromRecords(const std::vector<changelog::Record>& records,
                           state::v1::ChangelogMarker* marker) {
  std::array<int64_t, kInputTopicCount> offsets;
  offsets.fill(-1);
  for (const changelog::Record& r : records) {
    if (!r.value) continue;
    if (r.key.size() == 4 && r.key[0] == static_cast<char>(state::Family::kOffset) &&
        r.value->size() == 8 && static_cast<uint8_t>(r.key[3]) < kInputTopicCount) {
      offsets[static_cast<uint8_t>(r.key[3])] = static_cast<int64_t>(state::ReadU64(*r.value));
    } else if (r.key.size() == 3 && r.key[0] == static_cast<char>(state::Family::kStreamTime)) {
      state::v1::Task meta;
      if (meta.ParseFromString(*r.value)) marker->set_stream_time(meta.stream_time());
    }
  }
  for (int64_t o : offsets) marker->add_offsets(o);
}

std::string Describe(BatchId id) {
  return std::to_string(id.epoch) + "." + std::to_string(id.sequence);
}

}  // namespace

// A reader of changelog partitions (the restore's, the standbys', the owners'
// directory's): assign only, outside the group, with the config's kafka.* properties (TLS,
// SASL) but none of the group member's. Only committed transactions' batches
// (exactly_once writes the changelog in them).
KafkaHandle Engine::Impl::MakeChangelogReader() const {
  KafkaProperties props = {
      {"bootstrap.servers", settings_.brokers},
      {"group.id", settings_.group + ".changelog-reader"},
      {"enable.auto.commit", "false"},
      {"enable.auto.offset.store", "false"},
      {"enable.partition.eof", "true"},  // where reading ends (changelog_reader.cc)
      {"auto.offset.reset", "earliest"},
      {"queued.min.messages", "1000000"},
      {"queued.max.messages.kbytes", "1048576"},
      {"fetch.wait.max.ms", "50"},
      {"log_level", "4"},
  };
  for (const auto& [key, value] : config_.kafka) {
    if (key == "group.instance.id" || key == "session.timeout.ms" ||
        key == "heartbeat.interval.ms" || key == "max.poll.interval.ms" ||
        key == "partition.assignment.strategy") {
      continue;
    }
    props.emplace_back(key, value);
  }
  props.emplace_back("isolation.level", "read_committed");
  return MakeClient(RD_KAFKA_CONSUMER, props);
}

void Engine::Impl::CreateRestoreConsumer() { restore_consumer_ = MakeChangelogReader(); }

// The changelog has one partition per task. Created with the inputs' partition count when
// missing (a broker that lets clients create topics); one with another count is refused.
void Engine::Impl::EnsureChangelogTopic(int partitions) {
  const std::string& topic = config_.topics.changelog;
  int have = PartitionCounts(consumer_.get(), {topic}, kMetadataTimeoutMs)[0];
  if (have == 0) {
    CreateTopic(consumer_.get(), topic, partitions,
                {{"cleanup.policy", "delete"},
                 {"retention.ms", std::to_string(config_.changelog_retention_ms)}},
                kMetadataTimeoutMs);
    spdlog::info("event=changelog_topic_created topic={} partitions={} retention_ms={}",
                 LogValue(topic), partitions, config_.changelog_retention_ms);
    have = partitions;
  }
  if (have != partitions) {
    throw EngineRefused("topic " + topic + " has " + std::to_string(have) +
                        " partitions, but the input topics have " + std::to_string(partitions) +
                        "; the changelog needs one partition per task: recreate it with " +
                        std::to_string(partitions) + " partitions (docs/scale.md)");
  }
}

// Brings the stored state of `task` to the changelog's last batch (see the top), reading
// with `consumer`: what an assignment and a standby do. Writes the restored batches and
// the task's ChangelogChain; epochs and checkpoints are the owner's (RestoreTask).
Engine::Impl::TaskSync Engine::Impl::SyncTask(uint16_t task, rd_kafka_t* consumer) {
  const std::string& topic = config_.topics.changelog;
  const int timeout = config_.changelog_restore_timeout_ms;
  TaskSync out;
  state::v1::ChangelogChain chain = store_->LoadChangelogChain(task);
  const bool has_local = store_->LoadTask(task).has_value();
  const BatchId local{chain.epoch(), chain.sequence()};
  const BatchId confirmed{chain.confirmed_epoch(), chain.confirmed_sequence()};
  const auto [low, high] = ChangelogWatermarks(consumer, topic, task, timeout);
  out.high = high;
  out.from = std::max(low, chain.confirmed_next_offset());
  out.max_epoch = local.epoch;
  ChangelogRestore& read = out.read;
  if (high <= low) {
    // Nothing to restore from. Local state the changelog does not hold (state from before
    // the changelog, or a topic recreated) goes to it as a checkpoint.
    out.needs_checkpoint = has_local;
    if (!has_local && high > 0) {
      spdlog::warn("event=changelog_empty task={} offset={} action=start_empty", task, high);
    }
    out.how = has_local ? "local_checkpointed" : "new";
    out.chain = chain;
    return out;
  }
  bool usable = false;
  if (has_local && !local.none()) {
    const int64_t from = confirmed.none() ? low : chain.confirmed_next_offset();
    if (confirmed == local && from == high) {
      usable = true;  // nothing written after the last batch this store knows delivered
    } else if (from >= low) {
      read = RestoreFromChangelog(consumer, topic, settings_.group, task, from, high, local, {},
                                  store_.get(), timeout);
      out.max_epoch = std::max(out.max_epoch, read.max_epoch);
      // The local batch is on the chain when its marker is read, when it is the one
      // confirmed before, or when a batch that continues it is.
      const bool on_chain = read.local_seen || confirmed == local || read.batches_applied > 0;
      usable = on_chain && !read.gap && !read.conflict && read.max_epoch <= read.applied.epoch;
      if (usable && read.batches_applied > 0) {
        out.how = "tail";
        out.restored = true;
      } else if (usable && read.resume_offset > from) {
        // Nothing continues the local batch yet: the next read starts after its marker.
        chain.set_confirmed_epoch(local.epoch);
        chain.set_confirmed_sequence(local.sequence);
        chain.set_confirmed_next_offset(read.resume_offset);
      }
    }
  }
  const std::optional<state::v1::ChangelogMarker> last =
      usable ? std::nullopt
             : LastChangelogMarker(consumer, topic, settings_.group, task, low, high, timeout);
  if (!usable && !last) {
    // Nothing of this group's (other groups share the topic): as if it were empty.
    out.needs_checkpoint = has_local;
    out.how = has_local ? "local_checkpointed" : "new";
  } else if (!usable) {
    // From nothing: the latest checkpoint, then every batch after it.
    out.how = "full";
    out.restored = true;
    const int64_t base = last->base_offset() >= low ? last->base_offset() : low;
    std::set<BatchId> excluded;
    for (int attempt = 0;; ++attempt) {
      if (auto error = store_->DropTask(task)) {
        throw StateError("cannot drop task " + std::to_string(task) + ": " + *error);
      }
      read = RestoreFromChangelog(consumer, topic, settings_.group, task, base, high, {}, excluded,
                                  store_.get(), timeout);
      out.max_epoch = std::max(out.max_epoch, read.max_epoch);
      if (!read.conflict || attempt == 3) break;
      excluded.insert(read.superseded.begin(), read.superseded.end());
    }
    if (read.applied.none()) {
      spdlog::warn("event=changelog_unusable task={} low={} high={} base={} action=start_empty",
                   task, low, high, base);
    } else if (read.gap) {
      spdlog::warn("event=changelog_gap task={} applied={} action=resume_from_applied", task,
                   Describe(read.applied));
    }
  }
  if (out.restored) {
    // Reading continues after what was read, next time.
    chain = store_->LoadChangelogChain(task);
    if (read.marker) {
      chain.set_confirmed_epoch(read.applied.epoch);
      chain.set_confirmed_sequence(read.applied.sequence);
      chain.set_confirmed_next_offset(read.resume_offset);
      chain.set_base_offset(read.marker->base_offset());
      chain.set_owner(read.marker->owner());
    }
  }
  out.chain = chain;
  return out;
}

// An assigned task: its stored state made the changelog's, then this engine's epoch.
void Engine::Impl::RestoreTask(uint16_t task) {
  const auto started = std::chrono::steady_clock::now();
  TaskSync sync = SyncTask(task, restore_consumer_.get());
  state::v1::ChangelogChain& chain = sync.chain;
  TaskChangelog tc;
  // Above every epoch read, and distinct from a zombie's that read the same: wall-clock ms.
  const auto wall_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count();
  tc.epoch = std::max<uint64_t>(sync.max_epoch + 1, static_cast<uint64_t>(wall_ms));
  tc.applied = {chain.epoch(), chain.sequence()};
  tc.base_offset = chain.base_offset();
  tc.checkpoint_at = std::chrono::steady_clock::now();
  if (sync.needs_checkpoint) {
    tc.applied = {tc.epoch, tc.applied.sequence + 1};
    chain.set_epoch(tc.applied.epoch);
    chain.set_sequence(tc.applied.sequence);
  }
  // This engine's first batch of the task, empty after the checkpoint if one is due: it
  // names this engine as the owner (queries on any engine find it there, engine_group.cc)
  // and puts the new epoch on the chain at once.
  const BatchId claim_prev = tc.applied;
  const BatchId claim{tc.epoch, tc.applied.sequence + 1};
  chain.set_owner(advertised_http());
  chain.set_epoch(claim.epoch);
  chain.set_sequence(claim.sequence);
  tc.chain = chain;
  if (auto error = store_->SaveChangelogChain(task, chain)) {
    throw StateError("cannot store the changelog chain of task " + std::to_string(task) + ": " +
                     *error);
  }
  changelogs_[task] = std::move(tc);
  if (sync.needs_checkpoint) WriteCheckpoint(task);  // the state at claim_prev
  TaskChangelog& owned = changelogs_[task];
  state::v1::ChangelogMarker marker;
  for (InputTopic topic : kAllInputTopics) {
    marker.add_offsets(store_->LoadOffset(task, static_cast<uint8_t>(topic)).value_or(-1));
  }
  if (const auto meta = store_->LoadTask(task)) marker.set_stream_time(meta->stream_time());
  marker.set_owner(advertised_http());
  marker.set_base_offset(owned.base_offset);
  std::vector<changelog::Message> messages = changelog::BatchMessages(
      task, claim, claim_prev, /*checkpoint=*/false, {}, std::move(marker));
  held_.push_back(ChangelogItem(task, std::move(messages.back()), /*marker=*/true));
  owned.applied = claim;
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  if (sync.restored) metrics_.ObserveRestore(seconds);
  spdlog::info(
      "event=task_restored task={} from={} batch={} records_read={} batches_applied={} "
      "seconds={:.3f}",
      task, sync.how, Describe(changelogs_[task].applied), sync.read.records_read,
      sync.read.batches_applied, seconds);
}

PublishItem Engine::Impl::ChangelogItem(uint16_t task, changelog::Message message,
                                        bool marker) const {
  PublishItem item{task, 0, {}};
  state::v1::OutboxEntry& e = item.entry;
  e.set_topic(config_.topics.changelog);
  e.set_partition(task);
  e.set_key(std::move(message.key));
  e.set_has_key(true);
  if (message.value) {
    e.set_value(std::move(*message.value));
    e.set_has_value(true);
  }
  state::v1::Header* h = e.add_headers();
  h->set_name(changelog::kBatchHeader);
  h->set_value(std::move(message.batch_header));
  h = e.add_headers();
  h->set_name(kGroupHeader);
  h->set_value(settings_.group);
  e.set_changelog(marker ? 2 : 1);
  return item;
}

// A commit's changelog batches: for each task that changed, its records of `batch`, then
// its marker (the task's offsets and stream time as drained).
void Engine::Impl::AppendChangelog(const StateBatch& batch, const std::vector<uint16_t>& changed,
                                   std::vector<PublishItem>* publish) {
  if (changed.empty()) return;
  std::map<uint16_t, std::vector<changelog::Record>> by_task = batch.RecordsByTask();
  for (uint16_t id : changed) {
    TaskChangelog& tc = changelogs_.at(id);
    const Task& task = *tasks_.at(id);
    std::vector<changelog::Record>& records = by_task[id];
    const BatchId prev = tc.applied;
    const BatchId next{tc.epoch, prev.sequence + 1};
    state::v1::ChangelogMarker marker;
    for (InputTopic topic : kAllInputTopics)
      marker.add_offsets(task.resume_offset(topic).value_or(-1));
    marker.set_stream_time(task.stream_time());
    marker.set_owner(advertised_http());
    marker.set_base_offset(tc.base_offset);
    int64_t bytes = 0;
    for (const changelog::Record& r : records) {
      bytes += static_cast<int64_t>(r.key.size() + (r.value ? r.value->size() : 0));
    }
    tc.delta_bytes += bytes;
    std::vector<changelog::Message> messages = changelog::BatchMessages(
        id, next, prev, /*checkpoint=*/false, std::move(records), std::move(marker));
    for (size_t i = 0; i < messages.size(); ++i) {
      publish->push_back(ChangelogItem(id, std::move(messages[i]), i + 1 == messages.size()));
    }
    tc.applied = next;
  }
}

// The task's whole state as of its last commit, on its changelog partition: the base of a
// restore from nothing. Called when no commit is being written, so the store holds
// exactly the batch the task's changelog has reached (tc.applied).
void Engine::Impl::WriteCheckpoint(uint16_t task) {
  TaskChangelog& tc = changelogs_.at(task);
  std::vector<changelog::Record> records;
  int64_t bytes = 0;
  store_->View()->ForEachTaskRecord(task, [&](std::string_view key, std::string_view value) {
    records.push_back({std::string(key), std::string(value)});
    bytes += static_cast<int64_t>(key.size() + value.size());
  });
  state::v1::ChangelogMarker marker;
  FillMarkerFromRecords(records, &marker);
  marker.set_owner(advertised_http());
  marker.set_base_offset(tc.base_offset);
  const size_t count = records.size();
  std::vector<changelog::Message> messages = changelog::BatchMessages(
      task, tc.applied, BatchId{}, /*checkpoint=*/true, std::move(records), std::move(marker));
  for (size_t i = 0; i < messages.size(); ++i) {
    PublishItem item = ChangelogItem(task, std::move(messages[i]), i + 1 == messages.size());
    if (i == 0) item.entry.set_checkpoint_start(true);
    held_.push_back(std::move(item));
  }
  tc.checkpoint_pending = tc.applied;
  tc.checkpoint_pending_offset = -1;
  tc.checkpoint_bytes = bytes;
  tc.delta_bytes = 0;
  tc.checkpoint_at = std::chrono::steady_clock::now();
  spdlog::info("event=changelog_checkpoint task={} batch={} records={} bytes={}", task,
               Describe(tc.applied), count, bytes);
}

// After a commit: a checkpoint for each task whose deltas since its last one outgrew it
// (changelog.checkpoint_pct, checkpoint_min_bytes), or whose last one is too old.
void Engine::Impl::MaybeCheckpoint() {
  const auto now = std::chrono::steady_clock::now();
  const auto interval = std::chrono::milliseconds(config_.changelog_checkpoint_interval_ms);
  for (auto& [id, tc] : changelogs_) {
    if (tc.applied.none()) continue;  // nothing written yet
    const int64_t due = std::max(config_.changelog_checkpoint_min_bytes,
                                 tc.checkpoint_bytes * config_.changelog_checkpoint_pct / 100);
    if ((tc.delta_bytes > 0 && tc.delta_bytes >= due) || now - tc.checkpoint_at >= interval) {
      WriteCheckpoint(static_cast<uint16_t>(id));
    }
  }
}

// A changelog message the broker confirmed: a marker moves the task's confirmed position
// (stored with the next commit); a checkpoint's first message, once its marker is
// confirmed too, is the base later markers name.
void Engine::Impl::ChangelogDelivered(const InFlight& flight) {
  auto it = changelogs_.find(flight.task);
  if (it == changelogs_.end()) return;  // no longer this engine's
  TaskChangelog& tc = it->second;
  std::optional<changelog::BatchHeader> header;
  for (const auto& h : flight.entry.headers()) {
    if (h.name() == changelog::kBatchHeader) header = changelog::DecodeBatchHeader(h.value());
  }
  if (!header) return;
  if (flight.entry.checkpoint_start() && header->id == tc.checkpoint_pending) {
    tc.checkpoint_pending_offset = flight.offset;
  }
  if (flight.entry.changelog() != 2) return;
  if (header->checkpoint && header->id == tc.checkpoint_pending &&
      tc.checkpoint_pending_offset >= 0) {
    tc.base_offset = tc.checkpoint_pending_offset;
    tc.chain.set_base_offset(tc.base_offset);
    tc.checkpoint_pending = {};
  }
  tc.chain.set_confirmed_epoch(header->id.epoch);
  tc.chain.set_confirmed_sequence(header->id.sequence);
  tc.chain.set_confirmed_next_offset(flight.offset + 1);
  tc.chain_dirty = true;
}

}  // namespace c360
