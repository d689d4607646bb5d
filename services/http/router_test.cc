#include "services/http/router.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace c360 {
namespace {

nlohmann::json Body(const HttpResponse& r) { return nlohmann::json::parse(r.body); }

std::string Header(const HttpResponse& r, const std::string& name) {
  for (const auto& [k, v] : r.headers) {
    if (k == name) return v;
  }
  return {};
}

class RouterTest : public ::testing::Test {
 protected:
  RouterTest() {
    router_.Get("/customers/{id}", [](const HttpRequest& r) {
      return HttpResponse{
          200,
          "text/plain",
          "customer " + r.matches[1] + " q=" + r.param("q") + (r.has_param("flag") ? " flag" : ""),
          {}};
    });
    router_.Get("/customers/{id}/alerts", [](const HttpRequest& r) {
      return HttpResponse{200, "text/plain", "alerts " + r.matches[1], {}};
    });
    router_.Get("/api/v1/summary", [](const HttpRequest&) {
      return HttpResponse{200, "text/plain", "summary", {}};
    });
    router_.Get("/", [](const HttpRequest&) { return HttpResponse{200, "text/html", "page", {}}; });
    router_.Get("/boom", [](const HttpRequest&) -> HttpResponse {
      throw std::runtime_error("secret internals: /var/lib/x");
    });
  }

  HttpResponse Get(std::string_view target, std::string* route = nullptr) {
    RawRequest raw;
    raw.method = "GET";
    raw.target = target;
    return router_.Handle(raw, route);
  }

  Router router_;
};

TEST_F(RouterTest, PlaceholdersAndParametersAreDecoded) {
  std::string route;
  const HttpResponse r = Get("/customers/cust%2F1%20a?q=a+b%26c&flag&q=second", &route);
  EXPECT_EQ(r.status, 200);
  // %2F stays inside its segment; '+' is a space in the query only; the first q wins.
  EXPECT_EQ(r.body, "customer cust/1 a q=a b&c flag");
  EXPECT_EQ(route, "/customers/{id}");
  EXPECT_EQ(Get("/customers/%E2%82%AC/alerts", &route).body, "alerts \xE2\x82\xAC");
  EXPECT_EQ(route, "/customers/{id}/alerts");
  EXPECT_EQ(Get("/customers/x/").body, "customer x q=") << "one trailing slash is ignored";
  EXPECT_EQ(Get("/").body, "page");
  EXPECT_EQ(Get("/?x=%zz").status, 400);
}

TEST_F(RouterTest, BrokenEscapesAndInvalidUtf8AreJson400s) {
  for (const char* target :
       {"/customers/%FF", "/customers/%ZZ", "/customers/%F", "/customers/%", "/customers/%00x",
        "/customers/%C0%AF", "/customers/%ED%A0%80", "/customers/%F4%90%80%80",
        "/customers/a?q=%FF", "/customers/a?%FE=1", "/customers/\xFF\xFE"}) {
    std::string route;
    const HttpResponse r = Get(target, &route);
    EXPECT_EQ(r.status, 400) << target;
    EXPECT_EQ(route, "other") << target;
    const auto body = Body(r);  // parses: the body is valid JSON whatever the target
    EXPECT_EQ(body["error"], "bad_request") << target;
    EXPECT_EQ(r.body.find('\xFF'), std::string::npos) << target;
  }
  EXPECT_EQ(Get("nopath").status, 400);
  EXPECT_EQ(Get("").status, 400);
}

TEST_F(RouterTest, UnknownPathsAre404sThatQuoteAtMostAFewHundredBytes) {
  const HttpResponse r = Get("/nope/" + std::string(5000, 'a'));
  EXPECT_EQ(r.status, 404);
  const auto body = Body(r);
  EXPECT_EQ(body["error"], "not_found");
  EXPECT_LT(body["detail"].get<std::string>().size(), 300u);
  EXPECT_EQ(Body(Get("/nope"))["detail"], "no endpoint GET /nope");
  EXPECT_EQ(Get("/customers//alerts").status, 404) << "an empty segment fills no placeholder";
}

TEST_F(RouterTest, OnlyGetAndHeadAreServed) {
  for (const char* method : {"POST", "PUT", "DELETE", "OPTIONS", "TRACE", "BREW", "get"}) {
    RawRequest raw;
    raw.method = method;
    raw.target = "/customers/x";
    const HttpResponse r = router_.Handle(raw);
    EXPECT_EQ(r.status, 405) << method;
    EXPECT_EQ(Header(r, "Allow"), "GET, HEAD") << method;
  }
  RawRequest head;
  head.method = "HEAD";
  head.target = "/customers/x";
  const HttpResponse r = router_.Handle(head);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "");
}

TEST_F(RouterTest, AHandlersExceptionIsA500WithoutItsText) {
  const HttpResponse r = Get("/boom");
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(Body(r)["error"], "internal_error");
  EXPECT_EQ(r.body.find("secret"), std::string::npos);
}

TEST_F(RouterTest, OnLoopbackTheHostMustBeOurs) {
  router_.RequireHost({"localhost", "127.0.0.1", "c360.internal"});
  auto with_host = [&](std::optional<std::string_view> host, bool http10 = false) {
    RawRequest raw;
    raw.method = "GET";
    raw.target = "/";
    raw.host = host;
    raw.http10 = http10;
    return router_.Handle(raw).status;
  };
  EXPECT_EQ(with_host("127.0.0.1:8080"), 200);
  EXPECT_EQ(with_host("127.0.0.1"), 200);
  EXPECT_EQ(with_host("LOCALHOST:1"), 200);
  EXPECT_EQ(with_host("localhost."), 200);
  EXPECT_EQ(with_host("c360.internal:443"), 200);
  EXPECT_EQ(with_host("evil.example"), 421);
  EXPECT_EQ(with_host("evil.example:8080"), 421);
  EXPECT_EQ(with_host("127.0.0.1.evil.example"), 421);
  EXPECT_EQ(with_host("\xFF\xFE"), 421);
  EXPECT_EQ(with_host(""), 421);
  EXPECT_EQ(with_host(std::nullopt), 421) << "HTTP/1.1 without Host";
  EXPECT_EQ(with_host(std::nullopt, true), 200) << "HTTP/1.0 may omit Host";
  RawRequest head;
  head.method = "HEAD";
  head.target = "/";
  head.host = "evil.example";
  const HttpResponse refused = router_.Handle(head);
  EXPECT_EQ(refused.status, 421);
  EXPECT_EQ(refused.body, "") << "a HEAD's answer has no body, refusals included";
}

TEST_F(RouterTest, TheTokenGuardsTheApiOnly) {
  router_.RequireToken("s3cret-token");
  auto with_auth = [&](std::string_view target, std::optional<std::string_view> auth) {
    RawRequest raw;
    raw.method = "GET";
    raw.target = target;
    raw.authorization = auth;
    return router_.Handle(raw);
  };
  const HttpResponse missing = with_auth("/api/v1/summary", std::nullopt);
  EXPECT_EQ(missing.status, 401);
  EXPECT_EQ(Header(missing, "WWW-Authenticate"), "Bearer realm=\"c360\"");
  EXPECT_EQ(with_auth("/api/v1/summary", "Bearer wrong").status, 401);
  EXPECT_EQ(with_auth("/api/v1/summary", "Bearer s3cret-toke").status, 401);
  EXPECT_EQ(with_auth("/api/v1/summary", "Bearer s3cret-token-and-more").status, 401);
  EXPECT_EQ(with_auth("/api/v1/summary", "Basic s3cret-token").status, 401);
  EXPECT_EQ(with_auth("/api/v1/summary", "Bearer s3cret-token").status, 200);
  EXPECT_EQ(with_auth("/api/v1/summary", "bearer  s3cret-token").status, 200);
  // The check is on the decoded path: an escaped "api" is the API too.
  EXPECT_EQ(with_auth("/%61pi/v1/summary", std::nullopt).status, 401);
  EXPECT_EQ(with_auth("/api/unknown", std::nullopt).status, 401) << "no probing without the token";
  EXPECT_EQ(with_auth("/", std::nullopt).status, 200) << "the page itself is public";
}

TEST(Utf8Test, AcceptsWellFormedAndRejectsTheRest) {
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8("plain ascii"));
  EXPECT_TRUE(IsValidUtf8("\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\xF4\x8F\xBF\xBF"));
  EXPECT_FALSE(IsValidUtf8("\x80"));
  EXPECT_FALSE(IsValidUtf8("\xC3"));              // truncated
  EXPECT_FALSE(IsValidUtf8("\xC0\x80"));          // overlong NUL
  EXPECT_FALSE(IsValidUtf8("\xE0\x80\xAF"));      // overlong
  EXPECT_FALSE(IsValidUtf8("\xED\xA0\x80"));      // surrogate
  EXPECT_FALSE(IsValidUtf8("\xF4\x90\x80\x80"));  // past U+10FFFF
  EXPECT_FALSE(IsValidUtf8("\xF5\x80\x80\x80"));
  EXPECT_FALSE(IsValidUtf8("a\xE2\x82"));
}

}  // namespace
}  // namespace c360
