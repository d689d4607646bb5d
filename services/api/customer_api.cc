#include "services/api/customer_api.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <set>
#include <variant>

#include <librdkafka/rdkafka.h>
#include <nlohmann/json.hpp>

#include "common/url.h"
#include "services/api/customer_view.h"
#include "services/api/rollups.h"
#include "services/api/web_assets.h"

namespace c360::api {
namespace {

using nlohmann::json;
using v1::HealthSnapshot;

constexpr int kDefaultLimit = 50;
constexpr int kMaxLimit = 1000;

HttpResponse Json(const json& body, int status = 200) {
  // Ids and names come from validated (UTF-8) events; replace keeps a reply whole anyway.
  return HttpResponse{status, "application/json",
                      body.dump(-1, ' ', false, json::error_handler_t::replace) + "\n"};
}

HttpResponse BadParameter(const std::string& name, const std::string& detail) {
  return JsonError(400, "bad_parameter", "parameter " + name + ": " + detail);
}

std::string TaskList(const std::vector<uint16_t>& tasks) {
  std::string out;
  for (uint16_t t : tasks) out += (out.empty() ? "" : ",") + std::to_string(t);
  return out.empty() ? "none" : out;
}

// Who answers for what: this instance's tasks, the ones other members own, and the
// members whose tasks this answer includes.
json Coverage(const Ownership& own,
              const std::map<std::string, std::vector<uint16_t>>& members = {}) {
  json not_owned = json::array();
  for (int t = 0; t < own.task_count; ++t) {
    if (std::find(own.tasks.begin(), own.tasks.end(), t) == own.tasks.end()) not_owned.push_back(t);
  }
  json from = json::object();
  for (const auto& [address, tasks] : members) from[address] = tasks;
  return {{"owned", own.tasks},
          {"not_owned", not_owned},
          {"total", own.task_count},
          {"engine", own.self},
          {"from_members", from}};
}

// Parses a comma-separated list of enum names; nullopt names the bad one in *bad.
template <typename Enum>
std::optional<std::set<int>> EnumSet(const std::string& text,
                                     bool (*parse)(const std::string&, Enum*), std::string* bad) {
  std::set<int> out;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t comma = std::min(text.find(',', start), text.size());
    std::string name = text.substr(start, comma - start);
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return std::toupper(c); });
    Enum value;
    if (name.empty() || name.find("UNSPECIFIED") != std::string::npos || !parse(name, &value)) {
      *bad = name;
      return std::nullopt;
    }
    out.insert(static_cast<int>(value));
    start = comma + 1;
  }
  return out;
}

// True when `text` contains `lower` (already lower case), ignoring ASCII case.
bool ContainsLower(const std::string& text, const std::string& lower) {
  auto it = std::search(text.begin(), text.end(), lower.begin(), lower.end(), [](char a, char b) {
    return std::tolower(static_cast<unsigned char>(a)) == b;
  });
  return it != text.end();
}

std::optional<std::vector<uint16_t>> TaskListParam(const std::string& text, int task_count) {
  std::vector<uint16_t> out;
  size_t start = 0;
  while (start < text.size()) {
    const size_t comma = std::min(text.find(',', start), text.size());
    int t = -1;
    const auto [ptr, ec] = std::from_chars(text.data() + start, text.data() + comma, t);
    if (ec != std::errc() || ptr != text.data() + comma || t < 0 || t >= task_count) {
      return std::nullopt;
    }
    out.push_back(static_cast<uint16_t>(t));
    start = comma + 1;
  }
  return out;
}

// List order: a field and a direction; ties by customer_id, always ascending.
struct Sort {
  std::string name = "health";
  bool descending = false;
};

using SortKey = std::variant<int64_t, std::string>;  // a cursor's

// A row's place in the list's order, without copying its strings (views into the rows,
// valid while the index's lock is held): a number for health, risk and revenue, a string
// for name and id.
struct RowKey {
  int64_t number = 0;
  uint64_t prefix = 0;  // of text: compared before it
  std::string_view text;
  std::string_view id;
};

RowKey KeyOf(const TaskRows& t, uint32_t slot, const Sort& sort) {
  const IndexRow& r = t.rows[slot];
  RowKey key{0, 0, {}, t.ids[slot]};
  // Unscored customers sort after every score (last ascending, first descending).
  if (sort.name == "health") {
    key.number = r.scored() ? r.health : 1000;
  } else if (sort.name == "risk") {
    key.number = r.scored() ? r.risk : -1;
  } else if (sort.name == "revenue") {
    key.number = r.revenue;
  } else if (sort.name == "name") {
    key.text = t.names[slot].empty() ? t.ids[slot] : t.names[slot];
    key.prefix = t.name_prefixes[slot];
  } else {
    key.text = t.ids[slot];  // "id"
    key.prefix = Prefix(key.text);
  }
  return key;
}

// True when a comes before b in the list's order (ties by customer_id, ascending).
bool Before(const RowKey& a, const RowKey& b, const Sort& sort) {
  if (a.number != b.number) return sort.descending ? b.number < a.number : a.number < b.number;
  if (a.prefix != b.prefix) return sort.descending ? b.prefix < a.prefix : a.prefix < b.prefix;
  if (a.text != b.text) return sort.descending ? b.text < a.text : a.text < b.text;
  return a.id < b.id;
}

bool NumericSort(const Sort& sort) { return sort.name != "name" && sort.name != "id"; }

// A cursor is the position after the last row returned: sort, key and customer_id, as hex
// (opaque to clients; rows are compared by value, so pages neither repeat nor skip rows
// that keep their place).
std::string Hex(const std::string& raw) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : raw) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 15]);
  }
  return out;
}

std::optional<std::string> Unhex(const std::string& hex) {
  if (hex.size() % 2 != 0) return std::nullopt;
  std::string out;
  for (size_t i = 0; i < hex.size(); i += 2) {
    int v = 0;
    const auto [ptr, ec] = std::from_chars(hex.data() + i, hex.data() + i + 2, v, 16);
    if (ec != std::errc() || ptr != hex.data() + i + 2) return std::nullopt;
    out.push_back(static_cast<char>(v));
  }
  return out;
}

// Fields are length-prefixed ("<n>:<bytes>"), so any byte may appear in them.
void AppendField(std::string* out, std::string_view field) {
  out->append(std::to_string(field.size())).push_back(':');
  out->append(field);
}

std::optional<std::string> TakeField(std::string_view* in) {
  const size_t colon = in->find(':');
  if (colon == std::string_view::npos || colon == 0) return std::nullopt;
  size_t n = 0;
  const auto [ptr, ec] = std::from_chars(in->data(), in->data() + colon, n);
  if (ec != std::errc() || ptr != in->data() + colon || in->size() - colon - 1 < n)
    return std::nullopt;
  std::string field(in->substr(colon + 1, n));
  in->remove_prefix(colon + 1 + n);
  return field;
}

std::string EncodeCursor(const Sort& sort, const RowKey& key) {
  std::string raw;
  AppendField(&raw, (sort.descending ? "-" : "") + sort.name);
  AppendField(&raw,
              NumericSort(sort) ? "i" + std::to_string(key.number) : "s" + std::string(key.text));
  AppendField(&raw, key.id);
  return Hex(raw);
}

std::optional<std::pair<SortKey, std::string>> DecodeCursor(const std::string& cursor,
                                                            const Sort& sort) {
  const auto raw = Unhex(cursor);
  if (!raw) return std::nullopt;
  std::string_view in = *raw;
  const auto order = TakeField(&in);
  const auto value = TakeField(&in);
  const auto id = TakeField(&in);
  if (!order || !value || !id || !in.empty() || value->empty()) return std::nullopt;
  if (*order != (sort.descending ? "-" : "") + sort.name) return std::nullopt;
  if ((*value)[0] == 's') return std::make_pair(SortKey(value->substr(1)), *id);
  if ((*value)[0] != 'i') return std::nullopt;
  int64_t n = 0;
  const auto [ptr, ec] = std::from_chars(value->data() + 1, value->data() + value->size(), n);
  if (ec != std::errc() || ptr != value->data() + value->size()) return std::nullopt;
  return std::make_pair(SortKey(n), *id);
}

}  // namespace

uint16_t TaskOfCustomer(const std::string& customer_id, int partitions) {
  if (partitions <= 0 || customer_id.empty()) return 0;
  // librdkafka's murmur2 partitioner reads only the key for a non-empty one.
  return static_cast<uint16_t>(rd_kafka_msg_partitioner_murmur2(
      nullptr, customer_id.data(), customer_id.size(), partitions, nullptr, nullptr));
}

CustomerApi::CustomerApi(const Config& config, const Clock& clock,
                         std::function<const StateStore*()> store,
                         std::function<Ownership()> ownership, PeerFetch fetch,
                         const RowIndex* index)
    : config_(config),
      clock_(clock),
      store_(std::move(store)),
      ownership_(std::move(ownership)),
      fetch_(std::move(fetch)),
      index_(index) {}

void CustomerApi::Register(std::shared_ptr<const CustomerApi> api, Router& server) {
  const auto local = [](const HttpRequest& r) { return r.param("scope") == "local"; };
  server.Get("/api/v1/customers/{id}", [api, local](const HttpRequest& r) {
    return api->Customer(r.matches[1], "", local(r));
  });
  for (const char* part : {"/alerts", "/timeline", "/recommendations"}) {
    server.Get(std::string("/api/v1/customers/{id}") + part,
               [api, part, local](const HttpRequest& r) {
                 return api->Customer(r.matches[1], part, local(r));
               });
  }
  server.Get("/api/v1/customers", [api](const HttpRequest& r) { return api->List(r); });
  server.Get("/api/v1/summary", [api](const HttpRequest& r) { return api->Summary(r); });
  server.Get("/api/v1/portfolio", [api](const HttpRequest& r) { return api->Portfolio(r); });
  server.Get("/api/v1/internal/rows", [api](const HttpRequest& r) { return api->InternalRows(r); });
  for (const WebAsset& asset : WebAssets()) {
    const std::string path = std::string(asset.path);
    const std::string pattern = path == "/index.html" ? "/" : path;
    server.Get(pattern, [&asset](const HttpRequest&) {
      return HttpResponse{200, std::string(asset.content_type), std::string(asset.body)};
    });
  }
}

HttpResponse CustomerApi::Customer(const std::string& id, const std::string& part,
                                   bool local) const {
  const StateStore* store = store_();
  if (store == nullptr)
    return JsonError(503, "starting", "the engine has not opened its state yet");
  const Ownership own = ownership_();
  const bool in_group = own.owners && fetch_ && !local;
  if (own.tasks.empty() && !in_group) {
    HttpResponse r =
        JsonError(503, "no_tasks",
                  "this instance owns no tasks yet (group " + own.group + " is assigning them)");
    r.headers.emplace_back("Retry-After", "1");
    return r;
  }
  const auto view = store->View();
  // Which engine answers (docs/scale.md): the owner, or this one from its standby copy.
  const auto answer = [&](uint16_t task, const char* role, const std::string& owner,
                          CustomerState& state) {
    const auto meta = view->LoadTask(task);
    const ViewContext ctx{config_, task, meta ? meta->stream_time() : kNoTime, clock_.NowMs()};
    const std::vector<state::v1::JournalEntry> journal = view->Journal(task, id);
    const Evaluation eval = Evaluate(state, ctx);
    json body;
    if (part == "/alerts") {
      body = AlertsView(state, eval, journal, ctx);
    } else if (part == "/timeline") {
      state.FoldDailyHistory(view->DailyHistory(task, id));  // the closed months too
      body = TimelineView(state, eval, journal, ctx);
    } else if (part == "/recommendations") {
      body = RecommendationsView(state, eval, journal, ctx);
    } else {
      body = CustomerView(state, eval, journal, ctx);
    }
    if (body.is_object()) {
      body["served_by"] = {{"engine", own.self},
                           {"role", role},
                           {"owner", owner},
                           {"task", task},
                           {"stream_time_ms", meta ? json(meta->stream_time()) : json(nullptr)}};
    }
    return Json(body);
  };
  CustomerState state;
  for (uint16_t task : own.tasks) {
    if (!view->LoadCustomer(task, id, &state) || !state.exists()) continue;
    return answer(task, "owner", own.self, state);
  }
  const uint16_t task = TaskOfCustomer(id, own.task_count);
  const bool owned = std::find(own.tasks.begin(), own.tasks.end(), task) != own.tasks.end();
  if (!owned && !local) {
    std::map<uint16_t, std::string> owners;
    if (own.owners) owners = own.owners();
    const auto owner = owners.find(task);
    const std::string owner_address = owner != owners.end() ? owner->second : "";
    if (std::find(own.standbys.begin(), own.standbys.end(), task) != own.standbys.end() &&
        view->LoadCustomer(task, id, &state) && state.exists()) {
      return answer(task, "standby", owner_address, state);
    }
    if (fetch_ && !owner_address.empty() && owner_address != own.self) {
      if (std::optional<HttpResponse> r = fetch_(
              owner_address, "/api/v1/customers/" + PercentEncode(id) + part + "?scope=local")) {
        return *r;
      }
      HttpResponse r = JsonError(503, "owner_unreachable",
                                 "customer " + id + " is in task " + std::to_string(task) +
                                     ", owned by " + owner_address + ", which did not answer");
      r.headers.emplace_back("Retry-After", "1");
      return r;
    }
  }
  if (own.tasks.empty()) {
    HttpResponse r =
        JsonError(503, "no_tasks",
                  "this instance owns no tasks yet (group " + own.group + " is assigning them)");
    r.headers.emplace_back("Retry-After", "1");
    return r;
  }
  std::string detail = "no customer " + id + " in the tasks this instance owns (" +
                       TaskList(own.tasks) + " of " + std::to_string(own.task_count) + ")";
  if (!owned && static_cast<int>(own.tasks.size()) < own.task_count) {
    detail += "; it belongs to task " + std::to_string(task) +
              ", served by another member of group " + own.group;
  }
  return JsonError(404, "customer_not_found", detail);
}

HttpResponse CustomerApi::List(const HttpRequest& raw) const {
  // An empty parameter (`?status=&sort=`, as SPEC writes the URL, or a form) is absent.
  HttpRequest request = raw;
  std::erase_if(request.query, [](const auto& kv) { return kv.second.empty(); });
  std::optional<std::set<int>> statuses, segments, risks;
  std::string bad;
  if (request.has_param("status")) {
    statuses = EnumSet<HealthSnapshot::Status>(request.param("status"),
                                               &HealthSnapshot::Status_Parse, &bad);
    if (!statuses)
      return BadParameter(
          "status",
          "expected HEALTHY, WATCH, AT_RISK or CRITICAL (comma-separated), not '" + bad + "'");
  }
  if (request.has_param("segment")) {
    segments = EnumSet<v1::CustomerProfile::Segment>(request.param("segment"),
                                                     &v1::CustomerProfile::Segment_Parse, &bad);
    if (!segments)
      return BadParameter(
          "segment", "expected SMB, MID_MARKET, ENTERPRISE or GOVERNMENT (comma-separated), not '" +
                         bad + "'");
  }
  if (request.has_param("risk")) {
    risks = EnumSet<HealthSnapshot::RiskLevel>(request.param("risk"),
                                               &HealthSnapshot::RiskLevel_Parse, &bad);
    if (!risks)
      return BadParameter("risk",
                          "expected LOW, MEDIUM or HIGH (comma-separated), not '" + bad + "'");
  }
  Sort sort;
  if (request.has_param("sort")) {
    std::string s = request.param("sort");
    sort.descending = !s.empty() && s[0] == '-';
    if (sort.descending) s.erase(0, 1);
    if (s != "health" && s != "risk" && s != "revenue" && s != "name" && s != "id") {
      return BadParameter("sort",
                          "expected health, risk, revenue, name or id, optionally with a leading - "
                          "for descending, not '" +
                              request.param("sort") + "'");
    }
    sort.name = s;
  }
  int limit = kDefaultLimit;
  if (request.has_param("limit")) {
    const std::string text = request.param("limit");
    const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), limit);
    if (text.empty() || ec != std::errc() || ptr != text.data() + text.size() || limit < 1 ||
        limit > kMaxLimit) {
      return BadParameter("limit", "expected an integer from 1 to " + std::to_string(kMaxLimit) +
                                       ", not '" + text + "'");
    }
  }
  // q: a case-insensitive substring of the customer_id or the name (the page's search box).
  std::string query;
  if (request.has_param("q")) {
    query = request.param("q");
    if (query.size() > 200) return BadParameter("q", "at most 200 characters");
    std::transform(query.begin(), query.end(), query.begin(),
                   [](unsigned char c) { return std::tolower(c); });
  }
  std::optional<std::pair<SortKey, std::string>> after;
  if (request.has_param("cursor")) {
    after = DecodeCursor(request.param("cursor"), sort);
    if (!after)
      return BadParameter("cursor",
                          "not a cursor of this list's sort order (pass next_cursor back "
                          "unchanged, with the same sort)");
  }

  std::optional<RowKey> after_key;
  if (after) {
    RowKey& k = after_key.emplace();
    if (const auto* n = std::get_if<int64_t>(&after->first)) k.number = *n;
    if (const auto* text = std::get_if<std::string>(&after->first)) {
      k.text = *text;
      k.prefix = Prefix(*text);
    }
    k.id = after->second;
  }
  return WithRows(request, [&](const RowSet& set, const json& coverage) {
    // One pass: the rows that pass the filters and come after the cursor, the first
    // `limit` of them kept in a heap (its top the last of them).
    const auto later = [&](const std::pair<RowKey, Ranked>& a, const std::pair<RowKey, Ranked>& b) {
      return Before(a.first, b.first, sort);
    };
    std::vector<std::pair<RowKey, Ranked>> heap;
    size_t total = 0, after_cursor = 0;
    for (const TaskRows* t : set.tasks) {
      for (uint32_t i = 0; i < t->rows.size(); ++i) {
        const IndexRow& r = t->rows[i];
        if (statuses && (!r.scored() || !statuses->count(r.status))) continue;
        if (risks && (!r.scored() || !risks->count(r.risk_level))) continue;
        if (segments && (!r.has_profile || !segments->count(r.segment))) continue;
        if (!query.empty() && !ContainsLower(t->ids[i], query) &&
            !ContainsLower(t->names[i], query))
          continue;
        ++total;
        RowKey key = KeyOf(*t, i, sort);
        if (after_key && !Before(*after_key, key, sort)) continue;
        ++after_cursor;
        if (heap.size() == static_cast<size_t>(limit) && !Before(key, heap.front().first, sort))
          continue;
        heap.emplace_back(key, Ranked{t, i});
        std::push_heap(heap.begin(), heap.end(), later);
        if (heap.size() > static_cast<size_t>(limit)) {
          std::pop_heap(heap.begin(), heap.end(), later);
          heap.pop_back();
        }
      }
    }
    std::sort_heap(heap.begin(), heap.end(), later);
    json items = json::array();
    for (const auto& [key, ranked] : heap)
      items.push_back(RowJson(ApiRow(*ranked.t, ranked.slot, config_)));
    json next = nullptr;
    if (after_cursor > heap.size() && !heap.empty()) next = EncodeCursor(sort, heap.back().first);
    return Json({{"customers", items},
                 {"total", total},
                 {"next_cursor", next},
                 {"sort", (sort.descending ? "-" : "") + sort.name},
                 {"tasks", coverage}});
  });
}

HttpResponse CustomerApi::Summary(const HttpRequest& request) const {
  return WithRows(request, [&](const RowSet& set, const json& coverage) {
    json body = SummaryJson(set, config_);
    body["tasks"] = coverage;
    return Json(body);
  });
}

HttpResponse CustomerApi::Portfolio(const HttpRequest& request) const {
  const std::string by_name =
      request.has_param("by") && !request.param("by").empty() ? request.param("by") : "segment";
  const std::optional<Dimension> by = ParseDimension(by_name);
  if (!by) {
    return BadParameter(
        "by",
        "expected segment, industry, region, owner or lifecycle_stage, not '" + by_name + "'");
  }
  return WithRows(request, [&](const RowSet& set, const json& coverage) {
    json body = PortfolioJson(set, *by, config_);
    body["tasks"] = coverage;
    return Json(body);
  });
}

HttpResponse CustomerApi::WithRows(
    const HttpRequest& request,
    const std::function<HttpResponse(const RowSet&, const json& coverage)>& answer) const {
  const StateStore* store = store_();
  if (store == nullptr)
    return JsonError(503, "starting", "the engine has not opened its state yet");
  const Ownership own = ownership_();
  const bool local = request.param("scope") == "local";
  const auto view = store->View();
  RowSet set;
  for (uint16_t task : own.tasks) {
    if (auto meta = view->LoadTask(task)) set.metas[task] = std::move(*meta);
  }
  // The other tasks, from their owners: one request to each other instance, before the
  // index's lock is taken.
  StringTable fetched_strings;
  std::vector<std::unique_ptr<TaskRows>> fetched;
  std::map<std::string, std::vector<uint16_t>> members;
  // (Owning every task, there is no one to ask: the owners' directory is not read.)
  if (!local && own.owners && fetch_ && static_cast<int>(own.tasks.size()) < own.task_count) {
    const std::map<uint16_t, std::string> owners = own.owners();
    std::map<std::string, std::vector<uint16_t>> asked;
    std::vector<uint16_t> uncovered;
    for (int t = 0; t < own.task_count; ++t) {
      const auto task = static_cast<uint16_t>(t);
      if (std::find(own.tasks.begin(), own.tasks.end(), task) != own.tasks.end()) continue;
      const auto it = owners.find(task);
      if (it == owners.end()) continue;  // no state anywhere yet
      if (it->second == own.self || it->second.empty()) {
        uncovered.push_back(task);  // named here, not owned here: moving
        continue;
      }
      asked[it->second].push_back(task);
    }
    for (const auto& [address, tasks] : asked) {
      const std::optional<HttpResponse> r =
          fetch_(address, "/api/v1/internal/rows?tasks=" + TaskList(tasks));
      state::v1::GroupRows got;
      if (!r || r->status != 200 || !got.ParseFromString(r->body)) {
        uncovered.insert(uncovered.end(), tasks.begin(), tasks.end());
        continue;
      }
      std::set<uint16_t> answered;
      for (const state::v1::TaskRows& tr : got.tasks()) {
        const auto task = static_cast<uint16_t>(tr.task());
        if (std::find(tasks.begin(), tasks.end(), task) == tasks.end()) continue;
        if (!answered.insert(task).second) continue;
        set.metas[task] = tr.meta();
        auto rows = std::make_unique<TaskRows>();
        rows->task = task;
        rows->strings = &fetched_strings;
        for (int i = 0; i < tr.ids_size() && i < tr.rows_size(); ++i) {
          rows->Put(tr.ids(i), &tr.rows(i), fetched_strings);
        }
        fetched.push_back(std::move(rows));
      }
      for (uint16_t task : tasks) {
        if (answered.count(task) == 0) uncovered.push_back(task);
      }
      members[address] = {answered.begin(), answered.end()};
    }
    if (!uncovered.empty()) {
      std::sort(uncovered.begin(), uncovered.end());
      HttpResponse r =
          JsonError(503, "group_incomplete",
                    "tasks " + TaskList(uncovered) +
                        " are not served by the instances the changelog names as their owners (a "
                        "rebalance under way, or an instance unreachable); try again");
      r.headers.emplace_back("Retry-After", "1");
      return r;
    }
  }
  const json coverage = Coverage(own, members);
  for (const auto& rows : fetched) set.tasks.push_back(rows.get());
  // This instance's tasks: from the row index, or read from the state for a task the index
  // has not loaded yet (just assigned) and when there is no index.
  const auto with_local = [&](const std::map<uint16_t, std::unique_ptr<TaskRows>>* indexed) {
    std::vector<std::unique_ptr<TaskRows>> read;
    for (uint16_t task : own.tasks) {
      if (indexed != nullptr) {
        if (auto it = indexed->find(task); it != indexed->end()) {
          set.tasks.push_back(it->second.get());
          continue;
        }
      }
      auto rows = std::make_unique<TaskRows>();
      rows->task = task;
      rows->strings = &fetched_strings;
      view->ForEachRow(task, [&](std::string_view id, const state::v1::CustomerRow& row) {
        rows->Put(std::string(id), &row, fetched_strings);
      });
      set.tasks.push_back(rows.get());
      read.push_back(std::move(rows));
    }
    return answer(set, coverage);
  };
  if (index_ == nullptr) return with_local(nullptr);
  return index_->Read([&](const auto& tasks) { return with_local(&tasks); });
}

HttpResponse CustomerApi::InternalRows(const HttpRequest& request) const {
  const StateStore* store = store_();
  if (store == nullptr)
    return JsonError(503, "starting", "the engine has not opened its state yet");
  const Ownership own = ownership_();
  const std::optional<std::vector<uint16_t>> wanted =
      TaskListParam(request.param("tasks"), own.task_count);
  if (!wanted) {
    return BadParameter("tasks", "expected task numbers below " + std::to_string(own.task_count) +
                                     ", comma-separated");
  }
  const auto view = store->View();
  state::v1::GroupRows out;
  for (uint16_t task : *wanted) {
    if (std::find(own.tasks.begin(), own.tasks.end(), task) == own.tasks.end()) continue;
    state::v1::TaskRows* tr = out.add_tasks();
    tr->set_task(task);
    if (auto meta = view->LoadTask(task)) *tr->mutable_meta() = std::move(*meta);
    view->ForEachRow(task, [&](std::string_view id, const state::v1::CustomerRow& row) {
      tr->add_ids(std::string(id));
      *tr->add_rows() = row;
    });
  }
  return HttpResponse{200, "application/x-protobuf", out.SerializeAsString()};
}

}  // namespace c360::api
