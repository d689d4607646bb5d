#include "services/http/router.h"
#include "common/logfmt.h"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>

namespace c360 {
namespace {

// Error details quote at most this much of what a client sent.
constexpr size_t kMaxQuoted = 200;

std::string Quoted(std::string_view text) {
  if (text.size() <= kMaxQuoted) return std::string(text);
  return std::string(text.substr(0, kMaxQuoted)) + "...";
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Percent-decodes `in`; nullopt on a broken escape or a result that is not UTF-8 or holds
// a NUL (state keys end ids with NUL).
std::optional<std::string> Decode(std::string_view in, bool plus_is_space) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    if (c == '%') {
      if (i + 2 >= in.size()) return std::nullopt;
      const int hi = HexValue(in[i + 1]), lo = HexValue(in[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  if (out.find('\0') != std::string::npos || !IsValidUtf8(out)) return std::nullopt;
  return out;
}

std::vector<std::string_view> Split(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (true) {
    const size_t end = text.find(separator, start);
    parts.push_back(text.substr(start, end == std::string_view::npos ? text.npos : end - start));
    if (end == std::string_view::npos) return parts;
    start = end + 1;
  }
}

std::string Lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// The host of a Host header, without port, brackets or a trailing dot, lower case.
std::string HostName(std::string_view header) {
  std::string_view host = header;
  if (!host.empty() && host.front() == '[') {
    const size_t close = host.find(']');
    host = close == host.npos ? host : host.substr(1, close - 1);
  } else if (const size_t colon = host.rfind(':'); colon != host.npos && host.find(':') == colon) {
    host = host.substr(0, colon);
  }
  if (!host.empty() && host.back() == '.') host.remove_suffix(1);
  return Lower(host);
}

// Compares every byte whatever the first difference, so the time taken does not tell how
// much of a guessed token was right. `secret` is not empty.
bool SameSecret(std::string_view presented, std::string_view secret) {
  size_t diff = presented.size() ^ secret.size();
  for (size_t i = 0; i < presented.size(); ++i) {
    diff |= static_cast<unsigned char>(presented[i] ^ secret[i % secret.size()]);
  }
  return diff == 0;
}

}  // namespace

std::string HttpRequest::param(std::string_view name) const {
  for (const auto& [key, value] : query) {
    if (key == name) return value;
  }
  return {};
}

bool HttpRequest::has_param(std::string_view name) const {
  return std::any_of(query.begin(), query.end(), [&](const auto& kv) { return kv.first == name; });
}

HttpResponse JsonError(int status, const std::string& error, const std::string& detail) {
  const nlohmann::json body = {{"error", error}, {"detail", detail}};
  return {status,
          "application/json",
          body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n",
          {}};
}

bool IsValidUtf8(std::string_view text) {
  size_t i = 0;
  const size_t n = text.size();
  while (i < n) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len = 0;
    uint32_t cp = 0;
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
      cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;  // a continuation byte first, C0/C1 (overlong) or F5..FF
    }
    if (i + len > n) return false;
    for (size_t k = 1; k < len; ++k) {
      const auto cc = static_cast<unsigned char>(text[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    i += len;
  }
  return true;
}

void Router::Get(const std::string& pattern, Handler handler, Cost cost) {
  Entry entry{pattern, {}, std::move(handler), cost};
  for (std::string_view segment : Split(std::string_view(pattern).substr(1), '/')) {
    entry.segments.emplace_back(segment);
  }
  if (!entry.segments.empty() && entry.segments.back().empty()) entry.segments.pop_back();
  routes_.push_back(std::move(entry));
}

bool Router::HostAllowed(std::optional<std::string_view> host, bool http10) const {
  if (allowed_hosts_.empty()) return true;
  if (!host) return http10;  // HTTP/1.1 requires Host; browsers always send it
  const std::string name = HostName(*host);
  return std::find(allowed_hosts_.begin(), allowed_hosts_.end(), name) != allowed_hosts_.end();
}

bool Router::Authorized(std::optional<std::string_view> authorization) const {
  if (token_.empty()) return true;
  if (!authorization || authorization->size() < 7 ||
      Lower(authorization->substr(0, 7)) != "bearer ") {
    return false;
  }
  std::string_view presented = authorization->substr(7);
  while (!presented.empty() && presented.front() == ' ') presented.remove_prefix(1);
  while (!presented.empty() && presented.back() == ' ') presented.remove_suffix(1);
  return SameSecret(presented, token_);
}

Router::Routed Router::Route(const RawRequest& raw) const {
  Routed routed;
  routed.head = raw.method == "HEAD";
  auto fail = [&](HttpResponse response) {
    routed.response = std::move(response);
    return routed;
  };
  if (!HostAllowed(raw.host, raw.http10)) {
    return fail(JsonError(421, "misdirected_request",
                          "this server answers only requests for its own address; add the "
                          "host name to http.allowed_hosts to reach it by that name"));
  }
  if (raw.method != "GET" && raw.method != "HEAD") {
    HttpResponse response = JsonError(405, "method_not_allowed", "only GET and HEAD are served");
    response.headers.emplace_back("Allow", "GET, HEAD");
    return fail(std::move(response));
  }
  if (raw.target.empty() || raw.target.front() != '/') {
    return fail(JsonError(400, "bad_request", "the request target must be a path starting with /"));
  }
  const size_t question = raw.target.find('?');
  const std::string_view raw_path = raw.target.substr(0, question);
  const std::string_view raw_query =
      question == std::string_view::npos ? std::string_view() : raw.target.substr(question + 1);

  // Segments are decoded one by one, so an escaped slash (%2F) stays inside its segment.
  std::vector<std::string> segments;
  for (std::string_view part : Split(raw_path.substr(1), '/')) {
    auto decoded = Decode(part, false);
    if (!decoded) {
      return fail(JsonError(400, "bad_request",
                            "the path has a broken percent escape or is not UTF-8 once decoded"));
    }
    segments.push_back(std::move(*decoded));
  }
  if (!segments.empty() && segments.back().empty()) segments.pop_back();
  HttpRequest& request = routed.request;
  request.method = std::string(raw.method);
  request.path = "/";
  for (size_t i = 0; i < segments.size(); ++i) request.path += (i ? "/" : "") + segments[i];

  if (!raw_query.empty()) {
    for (std::string_view pair : Split(raw_query, '&')) {
      if (pair.empty()) continue;
      const size_t eq = pair.find('=');
      auto name = Decode(pair.substr(0, eq), true);
      auto value = Decode(eq == pair.npos ? std::string_view() : pair.substr(eq + 1), true);
      if (!name || !value) {
        return fail(JsonError(400, "bad_request",
                              "a query parameter has a broken percent escape or is not UTF-8 "
                              "once decoded"));
      }
      request.query.emplace_back(std::move(*name), std::move(*value));
    }
  }

  const Entry* found = nullptr;
  for (const Entry& entry : routes_) {
    if (entry.segments.size() != segments.size()) continue;
    bool match = true;
    for (size_t i = 0; i < segments.size() && match; ++i) {
      const std::string& want = entry.segments[i];
      const bool placeholder = want.size() > 2 && want.front() == '{' && want.back() == '}';
      match = placeholder ? !segments[i].empty() : want == segments[i];
    }
    if (match) {
      found = &entry;
      break;
    }
  }
  if (found != nullptr) routed.route = found->pattern;

  // Unknown paths under /api/ need the token too: nothing to probe without it.
  if (!segments.empty() && segments.front() == "api" && !Authorized(raw.authorization)) {
    HttpResponse response = JsonError(401, "unauthorized",
                                      "this API needs the header Authorization: Bearer <token> "
                                      "with the engine's http.auth_token");
    response.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"c360\"");
    return fail(std::move(response));
  }
  if (found != nullptr) {
    request.matches.push_back(request.path);
    for (size_t i = 0; i < segments.size(); ++i) {
      if (found->segments[i].front() == '{') request.matches.push_back(segments[i]);
    }
    routed.handler = &found->handler;
    routed.cost = found->cost;
    return routed;
  }
  return fail(
      JsonError(404, "not_found", "no endpoint " + request.method + " " + Quoted(request.path)));
}

HttpResponse Router::Run(const Routed& routed) {
  if (routed.response) return *routed.response;
  try {
    return (*routed.handler)(routed.request);
  } catch (const std::exception& e) {
    spdlog::error("event=http_handler_failed route={} error={}", LogValue(routed.route),
                  LogValue(e.what()));
  }
  return JsonError(500, "internal_error",
                   "the request could not be answered; the server's log says why "
                   "(event=http_handler_failed)");
}

HttpResponse Router::Handle(const RawRequest& raw, std::string* route) const {
  const Routed routed = Route(raw);
  if (route != nullptr) *route = routed.route;
  HttpResponse response = Run(routed);
  if (routed.head) response.body.clear();
  return response;
}

}  // namespace c360
