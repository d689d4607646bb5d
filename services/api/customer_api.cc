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
#include "services/api/web_assets.h"

namespace c360::api {
namespace {

using nlohmann::json;
using v1::HealthSnapshot;

constexpr int kDefaultLimit = 50;
constexpr int kMaxLimit = 1000;
constexpr size_t kTopCustomers = 10;

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

using SortKey = std::variant<int64_t, std::string>;

SortKey KeyOf(const CustomerRow& r, const Sort& sort) {
  // Unscored customers sort after every score (last ascending, first descending).
  if (sort.name == "health") return r.scored ? int64_t{r.health} : int64_t{1000};
  if (sort.name == "risk") return r.scored ? int64_t{r.risk} : int64_t{-1};
  if (sort.name == "revenue") return r.annual_revenue_cents;
  if (sort.name == "name") return r.name.empty() ? r.customer_id : r.name;
  return r.customer_id;  // "id"
}

// True when (a, a_id) comes before (b, b_id) in the list's order.
bool Before(const SortKey& a, const std::string& a_id, const SortKey& b, const std::string& b_id,
            const Sort& sort) {
  if (a != b) return sort.descending ? b < a : a < b;
  return a_id < b_id;
}

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

std::string EncodeCursor(const Sort& sort, const SortKey& key, const std::string& id) {
  std::string raw;
  AppendField(&raw, (sort.descending ? "-" : "") + sort.name);
  AppendField(&raw, std::holds_alternative<int64_t>(key)
                        ? "i" + std::to_string(std::get<int64_t>(key))
                        : "s" + std::get<std::string>(key));
  AppendField(&raw, id);
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

struct CustomerApi::Portfolio {
  std::vector<CustomerRow> rows;
  std::map<uint16_t, state::v1::Task> metas;             // of every task with rows or a meta
  std::map<std::string, std::vector<uint16_t>> members;  // other instances asked, their tasks
};

CustomerApi::CustomerApi(const Config& config, const Clock& clock,
                         std::function<const StateStore*()> store,
                         std::function<Ownership()> ownership, PeerFetch fetch)
    : config_(config),
      clock_(clock),
      store_(std::move(store)),
      ownership_(std::move(ownership)),
      fetch_(std::move(fetch)) {}

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

  const StateStore* store = store_();
  if (store == nullptr)
    return JsonError(503, "starting", "the engine has not opened its state yet");
  const Ownership own = ownership_();
  auto gathered = Gather(own, *store->View(), request.param("scope") == "local");
  if (auto* error = std::get_if<HttpResponse>(&gathered)) return *error;
  Portfolio& portfolio = std::get<Portfolio>(gathered);
  std::vector<CustomerRow>& rows = portfolio.rows;
  std::erase_if(rows, [&](const CustomerRow& r) {
    if (statuses && (!r.scored || !statuses->count(r.status))) return true;
    if (risks && (!r.scored || !risks->count(r.risk_level))) return true;
    if (segments && (!r.has_profile || !segments->count(r.segment))) return true;
    if (!query.empty() && !ContainsLower(r.customer_id, query) && !ContainsLower(r.name, query))
      return true;
    return false;
  });
  const size_t total = rows.size();
  std::vector<std::pair<SortKey, const CustomerRow*>> keyed;
  keyed.reserve(rows.size());
  for (const CustomerRow& r : rows) {
    SortKey key = KeyOf(r, sort);
    if (after && !Before(after->first, after->second, key, r.customer_id, sort)) continue;
    keyed.emplace_back(std::move(key), &r);
  }
  const size_t page = std::min(keyed.size(), static_cast<size_t>(limit));
  std::partial_sort(keyed.begin(), keyed.begin() + static_cast<ptrdiff_t>(page), keyed.end(),
                    [&](const auto& a, const auto& b) {
                      return Before(a.first, a.second->customer_id, b.first, b.second->customer_id,
                                    sort);
                    });
  json items = json::array();
  for (size_t i = 0; i < page; ++i) items.push_back(RowJson(*keyed[i].second));
  json next = nullptr;
  if (keyed.size() > page && page > 0) {
    next = EncodeCursor(sort, keyed[page - 1].first, keyed[page - 1].second->customer_id);
  }
  return Json({{"customers", items},
               {"total", total},
               {"next_cursor", next},
               {"sort", (sort.descending ? "-" : "") + sort.name},
               {"tasks", Coverage(own, portfolio.members)}});
}

HttpResponse CustomerApi::Summary(const HttpRequest& request) const {
  const StateStore* store = store_();
  if (store == nullptr)
    return JsonError(503, "starting", "the engine has not opened its state yet");
  const Ownership own = ownership_();
  const auto view = store->View();
  auto gathered = Gather(own, *view, request.param("scope") == "local");
  if (auto* error = std::get_if<HttpResponse>(&gathered)) return *error;
  Portfolio& portfolio = std::get<Portfolio>(gathered);
  std::vector<CustomerRow>& rows = portfolio.rows;

  json by_status = json::object(), by_risk = json::object(), by_segment = json::object();
  for (int s = 1; s <= 4; ++s)
    by_status[HealthSnapshot::Status_Name(static_cast<HealthSnapshot::Status>(s))] = 0;
  for (int r = 1; r <= 3; ++r)
    by_risk[HealthSnapshot::RiskLevel_Name(static_cast<HealthSnapshot::RiskLevel>(r))] = 0;
  for (int s = 1; s <= 4; ++s)
    by_segment[v1::CustomerProfile::Segment_Name(static_cast<v1::CustomerProfile::Segment>(s))] = 0;
  by_segment["NONE"] = 0;  // no profile, or no segment in it
  int64_t health_sum = 0, scored = 0, total_revenue = 0, revenue_at_risk = 0;
  for (const CustomerRow& r : rows) {
    total_revenue += r.annual_revenue_cents;
    const std::string segment =
        r.has_profile && r.segment != 0 ? v1::CustomerProfile::Segment_Name(r.segment) : "NONE";
    by_segment[segment] = by_segment[segment].get<int64_t>() + 1;
    if (!r.scored) continue;
    ++scored;
    health_sum += r.health;
    by_status[HealthSnapshot::Status_Name(r.status)] =
        by_status[HealthSnapshot::Status_Name(r.status)].get<int64_t>() + 1;
    by_risk[HealthSnapshot::RiskLevel_Name(r.risk_level)] =
        by_risk[HealthSnapshot::RiskLevel_Name(r.risk_level)].get<int64_t>() + 1;
    if (r.status == HealthSnapshot::AT_RISK || r.status == HealthSnapshot::CRITICAL) {
      revenue_at_risk += r.annual_revenue_cents;
    }
  }
  auto by_revenue = [](const CustomerRow* a, const CustomerRow* b) {
    return a->annual_revenue_cents != b->annual_revenue_cents
               ? a->annual_revenue_cents > b->annual_revenue_cents
               : a->customer_id < b->customer_id;
  };
  std::vector<const CustomerRow*> all, at_risk;
  for (const CustomerRow& r : rows) {
    all.push_back(&r);
    if (r.scored && (r.status == HealthSnapshot::AT_RISK || r.status == HealthSnapshot::CRITICAL))
      at_risk.push_back(&r);
  }
  const auto top = [&](std::vector<const CustomerRow*>& list) {
    const size_t n = std::min(list.size(), kTopCustomers);
    std::partial_sort(list.begin(), list.begin() + static_cast<ptrdiff_t>(n), list.end(),
                      by_revenue);
    json out = json::array();
    for (size_t i = 0; i < n; ++i) {
      json row = RowJson(*list[i]);
      row["revenue_share_pct"] =
          total_revenue > 0 ? Rounded(100.0 * static_cast<double>(list[i]->annual_revenue_cents) /
                                          static_cast<double>(total_revenue),
                                      2)
                            : 0.0;
      out.push_back(std::move(row));
    }
    return out;
  };
  json top_revenue = top(all);
  int64_t top_sum = 0;
  for (const json& row : top_revenue) top_sum += row["annual_revenue_cents"].get<int64_t>();
  json top_at_risk = top(at_risk);

  // FIRING alerts in the 24 hours of stream time up to each task's T.
  json alerts = json::object();
  for (int r = 1; r < kRuleCount; ++r)
    alerts[v1::AlertEvent::Rule_Name(static_cast<v1::AlertEvent::Rule>(r))] = 0;
  int64_t alerts_total = 0;
  for (const auto& [task, stored] : portfolio.metas) {
    const state::v1::Task* meta = &stored;
    if (meta->stream_time() == kNoTime) continue;
    const int64_t hour_now = meta->stream_time() / kMsPerHour;
    for (const state::v1::AlertHour& h : meta->alert_hours()) {
      if (h.hour() <= hour_now - 24 || h.hour() > hour_now) continue;
      for (int r = 1; r < kRuleCount && r < h.by_rule_size(); ++r) {
        const std::string name = v1::AlertEvent::Rule_Name(static_cast<v1::AlertEvent::Rule>(r));
        alerts[name] = alerts[name].get<int64_t>() + h.by_rule(r);
        alerts_total += h.by_rule(r);
      }
    }
  }
  return Json(
      {{"customers", rows.size()},
       {"scored", scored},
       {"by_status", by_status},
       {"by_risk_level", by_risk},
       {"by_segment", by_segment},
       {"average_health",
        scored > 0 ? json(Rounded(static_cast<double>(health_sum) / static_cast<double>(scored), 2))
                   : json(nullptr)},
       {"total_revenue_cents", total_revenue},
       {"revenue_at_risk_cents", revenue_at_risk},
       {"revenue_at_risk_pct", total_revenue > 0
                                   ? Rounded(100.0 * static_cast<double>(revenue_at_risk) /
                                                 static_cast<double>(total_revenue),
                                             2)
                                   : 0.0},
       {"top_customers_by_revenue", top_revenue},
       {"top_customers_revenue_share_pct",
        total_revenue > 0
            ? Rounded(100.0 * static_cast<double>(top_sum) / static_cast<double>(total_revenue), 2)
            : 0.0},
       {"top_at_risk_by_revenue", top_at_risk},
       {"alerts_last_24h", {{"by_rule", alerts}, {"total", alerts_total}}},
       {"tasks", Coverage(own, portfolio.members)}});
}

std::variant<CustomerApi::Portfolio, HttpResponse> CustomerApi::Gather(const Ownership& own,
                                                                       const StateView& view,
                                                                       bool local) const {
  Portfolio p;
  for (uint16_t task : own.tasks) {
    view.ForEachRow(task, [&](std::string_view id, const state::v1::CustomerRow& row) {
      p.rows.push_back(RowOf(id, row, task, config_));
    });
    if (auto meta = view.LoadTask(task)) p.metas[task] = std::move(*meta);
  }
  if (local || !own.owners || !fetch_) return p;
  // The other tasks, from their owners: one request to each other instance.
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
      answered.insert(task);
      p.metas[task] = tr.meta();
      for (int i = 0; i < tr.ids_size() && i < tr.rows_size(); ++i) {
        p.rows.push_back(RowOf(tr.ids(i), tr.rows(i), task, config_));
      }
    }
    for (uint16_t task : tasks) {
      if (answered.count(task) == 0) uncovered.push_back(task);
    }
    p.members[address] = {answered.begin(), answered.end()};
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
  return p;
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
