// Engine::Impl: the commit: every task drained into one WriteBatch, written by the commit writer
// (engine_impl.h).
#include "services/engine/engine_impl.h"

namespace c360 {

// A commit, written before it returns (rebalances, shutdown).
void Engine::Impl::Commit() {
  SubmitCommit();
  FinishCommit(/*wait=*/true);
}

// Starts a commit (SPEC 6.2): every task's changes since the last one, drained into one
// StateBatch, written by the commit writer while the processing thread goes on with the
// next records. What depends on the write — publishing the batch's outputs, the
// exactly_once offsets, trimming the cache, a day sweep's next slice — waits for it in
// FinishCommit. One commit at a time: a commit still being written is finished first.
void Engine::Impl::SubmitCommit() {
  FinishCommit(/*wait=*/true);
  // After a failed write the state is left as its last good commit: nothing more is
  // written (or published) by this process; a restart resumes from that commit.
  if (state_failed_) return;
  next_batch_ ^= 1;
  StateBatch& batch = batches_[next_batch_];  // reused: its buffers stay allocated
  batch.Clear();
  std::vector<PublishItem> publish;
  // Each task's delivered outputs leave its outbox with its other changes: whatever a
  // task adds to the batch is its next changelog batch (SPEC 6.4).
  std::map<uint16_t, std::vector<uint64_t>> delivered;
  for (const auto& [task, sequence] : delivered_) delivered[task].push_back(sequence);
  delivered_.clear();
  std::vector<uint16_t> changed;
  for (auto& [id, task] : tasks_) {
    const size_t before = batch.count();
    if (auto it = delivered.find(task->id()); it != delivered.end()) {
      for (uint64_t sequence : it->second) batch.DeleteOutbox(task->id(), sequence);
      delivered.erase(it);
    }
    task->Drain(&batch, &publish, &writing_.rows);
    if (batch.count() > before) changed.push_back(task->id());
  }
  // Outputs of tasks no longer this engine's: local only, in no changelog batch.
  for (const auto& [task, sequences] : delivered) {
    for (uint64_t sequence : sequences) batch.DeleteOutbox(task, sequence);
  }
  AppendChangelog(batch, changed, &publish);
  for (auto& [id, tc] : changelogs_) {
    if (!tc.chain_dirty && std::find(changed.begin(), changed.end(), id) == changed.end()) {
      continue;
    }
    tc.chain.set_epoch(tc.applied.epoch);
    tc.chain.set_sequence(tc.applied.sequence);
    batch.PutChangelogChain(static_cast<uint16_t>(id), tc.chain);
    tc.chain_dirty = false;
  }
  if (batch.count() == 0) return;
  CrashPoint("before-commit");
  writing_.publish = std::move(publish);
  writing_.offsets.clear();
  if (transactions_) {  // as stored by this commit; the tasks' run ahead meanwhile
    for (const auto& [id, task] : tasks_) {
      auto& offsets = writing_.offsets[id];
      for (InputTopic topic : kAllInputTopics) {
        offsets[static_cast<int>(topic)] = task->resume_offset(topic).value_or(-1);
      }
    }
  }
  writing_.active = true;
  writer_->Submit(&batch);
}

// Completes the commit being written, once it is (at once if `wait`): its outputs are
// held for the fence (or the transaction), which is issued now if `publish`. Returns true
// if a commit completed.
bool Engine::Impl::FinishCommit(bool wait, bool publish_now) {
  if (!writing_.active || (!wait && !writer_->finished())) return false;
  const CommitWriter::Result written = writer_->Wait();
  writing_.active = false;
  // A catch-up batch's buffer (hundreds of MB with a million customers' first records) is
  // given back once written; a live batch's is kept for the next one.
  if (batches_[next_batch_].bytes() > kKeepBatchBytes) batches_[next_batch_] = StateBatch();
  sweep_due_ = true;  // the loop's next turn advances a sweep in progress
  if (written.error) {
    state_failed_ = true;
    throw EngineError("state commit failed: " + *written.error);
  }
  for (auto& [id, offsets] : writing_.offsets) {
    if (tasks_.count(id) > 0) progress_[id].offsets = offsets;
  }
  metrics_.ObserveCommit(std::chrono::duration<double>(written.took).count());
  ++stats_.commits;
  for (auto& [id, task] : tasks_) {
    metrics_.AddProcessingTimes(task->processing_times());
    metrics_.AddShadowDiffs(task->shadow_diffs());
  }
  std::vector<PublishItem> publish = std::move(writing_.publish);
  writing_.publish.clear();
  row_index_.Apply(std::move(writing_.rows));
  writing_.rows.clear();
  PublishStats();
  if (!publish.empty()) CrashPoint("after-commit");
  for (PublishItem& item : publish) held_.push_back(std::move(item));
  MaybeCheckpoint();  // after the batch's own changelog messages
  if (transactions_) ++commits_ahead_;
  if (publish_now && std::chrono::steady_clock::now() >= fence_retry_at_) {
    if (transactions_) {
      // The next transaction takes this commit's outputs, with those of every commit
      // written while the one under way runs. The loop runs at most kCommitsAhead commits
      // ahead of it: then it waits for it, so that a slow transaction slows processing
      // instead of letting outputs (and the work a crash repeats) pile up.
      if (commits_ahead_ >= kCommitsAhead) FinishTransaction(/*wait=*/true);
      StartTransaction();  // or, while one is under way, after it
    } else if (!held_.empty()) {
      IssueFence();
    }
  }
  // Committed customers are clean: trim each task to its share of the cache.
  if (!tasks_.empty()) {
    const size_t share = static_cast<size_t>(config_.cache_max_customers) / tasks_.size() + 1;
    for (auto& [id, task] : tasks_) task->Evict(share);
  }
  return true;
}

}  // namespace c360
