#include "services/engine/commit_writer.h"

#include <stdexcept>

namespace c360 {

void CommitWriter::Submit(StateBatch* batch) {
  if (job_.pending()) throw std::logic_error("CommitWriter: a write is still pending");
  job_.Submit([this, batch] {
    const auto started = std::chrono::steady_clock::now();
    Result result;
    try {
      result.error = store_->Commit(batch);
    } catch (const std::exception& e) {  // a crash point's failure, or RocksDB's
      result.error = e.what();
    }
    result.took = std::chrono::steady_clock::now() - started;
    result_ = std::move(result);
  });
}

bool CommitWriter::finished() const { return job_.finished(); }

CommitWriter::Result CommitWriter::Wait() {
  if (!job_.pending()) return {};  // nothing was submitted
  job_.Wait();
  return std::move(result_);
}

}  // namespace c360
