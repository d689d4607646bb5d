#include "services/http/http_server.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <nlohmann/json.hpp>

namespace c360 {
namespace {

class HttpServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_.Get("/hello/([a-z]+)", [](const HttpRequest& req) {
      return HttpResponse{200, "text/plain", "hello " + req.matches[1] + " " + req.param("x") +
                                                 (req.has_param("y") ? " y" : "")};
    });
    server_.Get("/boom", [](const HttpRequest&) -> HttpResponse {
      throw std::runtime_error("it broke");
    });
    server_.Start("127.0.0.1:0");
  }
  httplib::Client Client() { return httplib::Client("127.0.0.1", server_.port()); }
  HttpServer server_;
};

TEST_F(HttpServerTest, RoutesWithPathAndQueryParameters) {
  ASSERT_GT(server_.port(), 0);
  auto res = Client().Get("/hello/world?x=1&y=");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body, "hello world 1 y");
  EXPECT_EQ(res->get_header_value("Content-Type"), "text/plain");
}

TEST_F(HttpServerTest, UnknownPathsAndFailuresAreJsonErrors) {
  auto missing = Client().Get("/nope");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
  const auto body = nlohmann::json::parse(missing->body);
  EXPECT_EQ(body["error"], "not found");
  EXPECT_EQ(body["detail"], "no endpoint GET /nope");

  auto boom = Client().Get("/boom");
  ASSERT_TRUE(boom);
  EXPECT_EQ(boom->status, 500);
  EXPECT_EQ(nlohmann::json::parse(boom->body)["detail"], "it broke");
}

TEST_F(HttpServerTest, ABusyAddressIsNamed) {
  HttpServer second;
  const std::string address = "127.0.0.1:" + std::to_string(server_.port());
  try {
    second.Start(address);
    FAIL() << "bound a busy port";
  } catch (const HttpError& e) {
    EXPECT_NE(std::string(e.what()).find("cannot listen on " + address), std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace c360
