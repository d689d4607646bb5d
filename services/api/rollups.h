#pragma once
// The summary and the portfolio (SPEC section 8) computed from list rows (row_index.h):
// one pass over each task's contiguous rows, no RocksDB read and no parse per customer.
// Pure: the caller holds the rows (under the index's lock) for the duration of a call.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "scoring/config.h"
#include "services/api/customer_view.h"
#include "services/api/row_index.h"
#include "state/state.pb.h"

namespace c360::api {

// The rows an answer covers: this engine's tasks (from the index) and the ones fetched from
// the group's other engines, with each task's meta (stream time, alert counts).
struct RowSet {
  std::vector<const TaskRows*> tasks;
  std::map<uint16_t, state::v1::Task> metas;

  // The UTC day of a task's stream time (days_to_renewal is counted from it); kNoDay when
  // the task has none yet.
  int32_t DayOf(uint16_t task) const;
};

// GET /api/v1/summary's body, "tasks" apart.
nlohmann::json SummaryJson(const RowSet& rows, const Config& config);

// GET /api/v1/portfolio?by=: the dimensions a portfolio rolls up by.
enum class Dimension { kSegment, kIndustry, kRegion, kOwner, kLifecycleStage };
std::optional<Dimension> ParseDimension(const std::string& name);
const char* DimensionName(Dimension d);
// GET /api/v1/portfolio's body, "tasks" apart.
nlohmann::json PortfolioJson(const RowSet& rows, Dimension by, const Config& config);

// A row as the list shows it.
CustomerRow ApiRow(const TaskRows& t, uint32_t slot, const Config& config);

}  // namespace c360::api
