#include "state/changelog.h"

#include <algorithm>
#include <utility>

#include "state/keys.h"

namespace c360::changelog {
namespace {

using state::Family;

bool TaskFamily(char c) {
  for (Family f : state::kTaskFamilies) {
    if (static_cast<char>(f) == c) return true;
  }
  return false;
}

std::string Describe(BatchId id) {
  return std::to_string(id.epoch) + "." + std::to_string(id.sequence);
}

}  // namespace

std::string EncodeBatchHeader(BatchId id, bool checkpoint) {
  std::string out;
  state::AppendU64(&out, id.epoch);
  state::AppendU64(&out, id.sequence);
  out.push_back(checkpoint ? 1 : 0);
  return out;
}

std::optional<BatchHeader> DecodeBatchHeader(std::string_view value) {
  if (value.size() != 17 || static_cast<uint8_t>(value[16]) > 1) return std::nullopt;
  BatchHeader h;
  h.id = {state::ReadU64(value), state::ReadU64(value.substr(8))};
  h.checkpoint = value[16] == 1;
  if (h.id.none()) return std::nullopt;  // (0, 0) means "no batch" in a marker's prev
  return h;
}

std::string MarkerKey(uint16_t task) { return state::TaskPrefix(Family::kChangelogMarker, task); }

std::vector<Message> BatchMessages(uint16_t task, BatchId id, BatchId prev, bool checkpoint,
                                   std::vector<Record> records, state::v1::ChangelogMarker marker) {
  const std::string header = EncodeBatchHeader(id, checkpoint);
  std::vector<Message> out;
  out.reserve(records.size() + 1);
  for (Record& r : records) out.push_back({std::move(r.key), std::move(r.value), header});
  marker.set_epoch(id.epoch);
  marker.set_sequence(id.sequence);
  marker.set_prev_epoch(prev.epoch);
  marker.set_prev_sequence(prev.sequence);
  marker.set_records(static_cast<uint32_t>(records.size()));
  marker.set_checkpoint(checkpoint);
  out.push_back({MarkerKey(task), marker.SerializeAsString(), header});
  return out;
}

Restorer::Restorer(uint16_t task, BatchId applied, std::set<BatchId> excluded)
    : task_(task), applied_(applied), excluded_(std::move(excluded)) {
  applied_chain_.push_back(applied);
}

std::optional<std::string> Restorer::Add(std::string_view key,
                                         std::optional<std::string_view> value,
                                         std::optional<std::string_view> batch_header) {
  if (key.size() < 3 || state::ReadU16(key.substr(1)) != task_) {
    return "a record whose key is not of task " + std::to_string(task_);
  }
  const bool marker = key == MarkerKey(task_);
  if (!marker && !TaskFamily(key[0])) return "a record whose key is not a state key";
  if (!batch_header) return std::string("a record without its ") + kBatchHeader + " header";
  const std::optional<BatchHeader> header = DecodeBatchHeader(*batch_header);
  if (!header) return std::string("a record with a malformed ") + kBatchHeader + " header";
  state::v1::ChangelogMarker m;
  if (marker) {
    if (!value || !m.ParseFromArray(value->data(), static_cast<int>(value->size()))) {
      return "a commit marker that does not parse";
    }
    if (m.epoch() != header->id.epoch || m.sequence() != header->id.sequence ||
        m.checkpoint() != header->checkpoint) {
      return "a commit marker that names another batch than its header, " + Describe(header->id);
    }
  }
  if (excluded_.count(header->id) > 0) return std::nullopt;

  auto& batches = header->checkpoint ? checkpoints_ : pending_;
  Pending& p = batches[header->id];
  p.batch.id = header->id;
  p.batch.checkpoint = header->checkpoint;
  if (!marker) {
    if (!p.has_marker) {
      p.batch.records.push_back(
          {std::string(key), value ? std::optional<std::string>(*value) : std::nullopt});
    }
    return std::nullopt;
  }
  if (p.has_marker) return std::nullopt;  // the same marker again
  p.has_marker = true;
  p.batch.marker = std::move(m);
  p.broken = p.batch.records.size() != p.batch.marker.records();
  if (!header->checkpoint) {
    const BatchId prev = PrevOf(p);
    const uint64_t epoch = header->id.epoch;
    uint64_t& child = child_epoch_[prev];
    child = std::max(child, epoch);
    confirmed_.insert(prev);
    // A batch applied after prev, of a lower epoch than this sibling, was a superseded
    // writer's (a zombie's): what follows it here is not the task's history.
    const auto at = std::find(applied_chain_.begin(), applied_chain_.end(), prev);
    if (at != applied_chain_.end() && at + 1 != applied_chain_.end() && (at + 1)->epoch < epoch) {
      conflict_ = true;
      superseded_.insert(at + 1, applied_chain_.end());
    }
  }
  Advance(/*finishing=*/false);
  return std::nullopt;
}

void Restorer::Finish() {
  Advance(/*finishing=*/true);
  for (const auto& [id, p] : pending_) {
    if (p.has_marker && !p.broken && id.epoch >= applied_.epoch &&
        id.sequence > applied_.sequence) {
      gap_ = true;
    }
  }
}

std::vector<Batch> Restorer::TakeReady() { return std::exchange(ready_, {}); }

void Restorer::Advance(bool finishing) {
  while (!conflict_) {
    // A restore from nothing starts with the first whole checkpoint (its reading began
    // at one), unless the partition starts with the task's first batch.
    if (applied_.none() && !base_applied_) {
      auto first = std::find_if(checkpoints_.begin(), checkpoints_.end(), [](const auto& c) {
        return c.second.has_marker && !c.second.broken;
      });
      if (first != checkpoints_.end()) {
        Apply(first, /*checkpoint=*/true);
        continue;
      }
    }
    // The batches that continue what is applied; of siblings, the highest epoch.
    auto best = pending_.end();
    for (auto it = pending_.begin(); it != pending_.end(); ++it) {
      const Pending& p = it->second;
      if (!p.has_marker || p.broken || PrevOf(p) != applied_) continue;
      if (best == pending_.end() || it->first.epoch > best->first.epoch) best = it;
    }
    if (best == pending_.end()) return;
    const auto child = child_epoch_.find(applied_);
    if (child != child_epoch_.end() && best->first.epoch < child->second) return;
    if (!finishing && confirmed_.count(best->first) == 0) return;
    Apply(best, /*checkpoint=*/false);
  }
}

void Restorer::Apply(std::map<BatchId, Pending>::iterator it, bool checkpoint) {
  ready_.push_back(std::move(it->second.batch));
  applied_ = it->first;
  applied_chain_.push_back(applied_);
  base_applied_ = true;
  if (checkpoint) {
    checkpoints_.clear();  // one base per restore
  } else {
    pending_.erase(it);
  }
  // Batches at or before the applied sequence can no longer continue the chain.
  std::erase_if(pending_, [this](const auto& e) { return e.first.sequence <= applied_.sequence; });
}

}  // namespace c360::changelog
