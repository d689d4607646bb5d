#include "services/http/http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

namespace c360 {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

// A raw client: the tests send bytes no well-behaved client library would.
class Conn {
 public:
  explicit Conn(int port) : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  }
  ~Conn() { ::close(fd_); }
  bool connected() const { return connected_; }

  bool Send(std::string_view bytes) {
    while (!bytes.empty()) {
      const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  struct Response {
    int status = 0;
    std::string head;
    std::string body;
  };
  // One response (Content-Length framed); status 0 if the connection closed first.
  Response Read(milliseconds timeout = milliseconds(5000)) {
    Response r;
    const auto deadline = Clock::now() + timeout;
    size_t head_end;
    while ((head_end = buffer_.find("\r\n\r\n")) == std::string::npos) {
      if (!Fill(deadline)) return r;
    }
    r.head = buffer_.substr(0, head_end);
    r.status = std::stoi(r.head.substr(9, 3));
    size_t length = 0;
    const size_t cl = r.head.find("Content-Length: ");
    if (cl != std::string::npos) length = std::stoul(r.head.substr(cl + 16));
    while (buffer_.size() < head_end + 4 + length) {
      if (!Fill(deadline)) return r;
    }
    r.body = buffer_.substr(head_end + 4, length);
    buffer_.erase(0, head_end + 4 + length);
    return r;
  }
  // True once the server has closed the connection (within `timeout`).
  bool Closed(milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
      if (!Fill(deadline)) return eof_;
    }
    return eof_;
  }

 private:
  bool Fill(Clock::time_point deadline) {
    const auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return false;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left)) <= 0) return false;
    char chunk[65536];
    const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n <= 0) {
      eof_ = true;
      return false;
    }
    buffer_.append(chunk, static_cast<size_t>(n));
    return true;
  }
  int fd_;
  bool connected_ = false;
  bool eof_ = false;
  std::string buffer_;
};

std::string Get(const std::string& target, const std::string& extra = "") {
  return "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + extra + "\r\n";
}

class HttpServerTest : public ::testing::Test {
 protected:
  void Start(HttpServerOptions options = {}) {
    options.on_response = [this](const std::string& route, int status) {
      std::lock_guard lock(mu_);
      answered_.emplace_back(route, status);
    };
    server_ = std::make_unique<HttpServer>(std::move(options));
    server_->Get("/hello/{name}", [](const HttpRequest& req) {
      return HttpResponse{200, "text/plain", "hello " + req.matches[1] + " " + req.param("x"), {}};
    });
    server_->Get(
        "/healthz",
        [](const HttpRequest&) {
          return HttpResponse{200, "text/plain", "ok", {}};
        },
        Router::Cost::kCheap);
    server_->Get("/slow", [this](const HttpRequest&) {
      std::unique_lock lock(mu_);
      ++slow_started_;
      cv_.notify_all();
      cv_.wait(lock, [this] { return release_slow_; });
      return HttpResponse{200, "text/plain", "slow", {}};
    });
    server_->Start("127.0.0.1:0");
    ASSERT_GT(server_->port(), 0);
  }
  void TearDown() override {
    {
      std::lock_guard lock(mu_);
      release_slow_ = true;
    }
    cv_.notify_all();
    server_.reset();
  }
  int port() const { return server_->port(); }

  std::unique_ptr<HttpServer> server_;
  std::mutex mu_;
  std::condition_variable cv_;
  int slow_started_ = 0;
  bool release_slow_ = false;
  std::vector<std::pair<std::string, int>> answered_;
};

TEST_F(HttpServerTest, ServesRoutesOnAKeptAliveConnection) {
  Start();
  Conn c(port());
  ASSERT_TRUE(c.Send(Get("/hello/world?x=1") + Get("/hello/again")));
  auto first = c.Read();
  EXPECT_EQ(first.status, 200);
  EXPECT_EQ(first.body, "hello world 1");
  EXPECT_NE(first.head.find("Content-Type: text/plain"), std::string::npos);
  EXPECT_EQ(c.Read().body, "hello again ");
  ASSERT_TRUE(c.Send("HEAD /hello/h HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
  auto head = c.Read();
  EXPECT_EQ(head.status, 200);
  EXPECT_NE(head.head.find("Content-Length: 8"), std::string::npos) << head.head;
  std::lock_guard lock(mu_);
  ASSERT_EQ(answered_.size(), 3u);
  EXPECT_EQ(answered_[0], std::make_pair(std::string("/hello/{name}"), 200));
}

TEST_F(HttpServerTest, MalformedRequestsGetJson4xxAndTheServerGoesOn) {
  Start();
  struct Case {
    std::string bytes;
    int status;
  };
  const std::vector<Case> cases = {
      {"GET /%FF HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", 400},
      {"GET /hello/%C0%AF HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", 400},
      {"GET /nope HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", 404},
      {"POST /hello/x HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 3\r\n\r\nabc", 405},
      {"BREW /hello/x HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", 405},
      {"GET /hello/x HTTP/1.1\r\nHost: evil.example\r\n\r\n", 421},
      {"GET /hello/x HTTP/1.1\r\n\r\n", 421},
      {"GET /hello/x HTTP/9.9\r\nHost: 127.0.0.1\r\n\r\n", 400},
      {"G\x01T / HTTP/1.1\r\n\r\n", 400},
      {"GET /hello/x HTTP/1.1\r\nHost: 127.0.0.1\r\nBad Header: x\r\n\r\n", 400},
      {"GET /hello/x HTTP/1.1\r\nHost: 127.0.0.1\r\nX: \xFF\xFE\r\n\r\n", 200},
      {"GET /hello/x HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + std::string(20000, 'a') + "\r\n\r\n",
       431},
      {"GET /" + std::string(20000, 'a') + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", 431},
  };
  for (const Case& c : cases) {
    Conn conn(port());
    ASSERT_TRUE(conn.Send(c.bytes));
    const auto r = conn.Read();
    EXPECT_EQ(r.status, c.status) << c.bytes.substr(0, 60);
    if (r.status != 200) {
      const auto body = nlohmann::json::parse(r.body);  // JSON, whatever was sent
      EXPECT_TRUE(body.contains("error")) << r.body;
      EXPECT_NE(r.head.find("application/json"), std::string::npos);
    }
  }
  Conn after(port());
  ASSERT_TRUE(after.Send(Get("/hello/still")));
  EXPECT_EQ(after.Read().body, "hello still ");
}

TEST_F(HttpServerTest, ALargeBodyIs413WithoutBeingRead) {
  Start();
  Conn declared(port());
  // 100 MB announced: answered from the head alone, before any of it is sent.
  ASSERT_TRUE(declared.Send(
      "GET /hello/x HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 104857600\r\n\r\n"));
  const auto r = declared.Read();
  EXPECT_EQ(r.status, 413);
  EXPECT_TRUE(declared.Closed(milliseconds(5000)));

  Conn chunked(port());
  std::string bytes =
      "GET /hello/x HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 20; ++i) bytes += "1000\r\n" + std::string(4096, 'z') + "\r\n";
  chunked.Send(bytes);  // the server may close before all of it is taken
  EXPECT_EQ(chunked.Read().status, 413);

  Conn small(port());
  ASSERT_TRUE(
      small.Send("GET /hello/x HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5\r\n\r\nhello"));
  EXPECT_EQ(small.Read().status, 200) << "a small body is read and ignored";
}

TEST_F(HttpServerTest, ASlowClientIsCutOffAtTheRequestTimeout) {
  HttpServerOptions options;
  options.request_timeout = milliseconds(300);
  Start(options);
  Conn slow(port());
  ASSERT_TRUE(slow.Send("GET /hello/x HTTP/1.1\r\nHo"));
  const auto started = Clock::now();
  EXPECT_TRUE(slow.Closed(milliseconds(5000)));
  EXPECT_GE(Clock::now() - started, milliseconds(200));
  // An idle keep-alive connection too.
  Conn idle(port());
  ASSERT_TRUE(idle.Send(Get("/hello/x")));
  EXPECT_EQ(idle.Read().status, 200);
  EXPECT_TRUE(idle.Closed(milliseconds(5000)));
}

TEST_F(HttpServerTest, ProbesAnswerWhileSlowClientsAndBusyWorkersHoldTheRest) {
  HttpServerOptions options;
  options.workers = 1;
  options.max_queued = 1;
  Start(options);
  std::vector<std::unique_ptr<Conn>> loris;
  for (int i = 0; i < 200; ++i) {
    loris.push_back(std::make_unique<Conn>(port()));
    ASSERT_TRUE(loris.back()->Send("GET /hello/x HTTP/1.1\r\nX-"));
  }
  Conn busy(port()), queued(port()), refused(port());
  ASSERT_TRUE(busy.Send(Get("/slow")));
  {
    std::unique_lock lock(mu_);
    ASSERT_TRUE(cv_.wait_for(lock, std::chrono::seconds(5), [this] { return slow_started_ == 1; }));
  }
  ASSERT_TRUE(queued.Send(Get("/slow")));
  // The one worker is busy and its queue holds one: the next API request is refused at
  // once, and the probe is answered on the I/O thread.
  bool refused_503 = false;
  for (int attempt = 0; attempt < 50 && !refused_503; ++attempt) {
    Conn again(port());
    ASSERT_TRUE(again.Send(Get("/slow")));
    const auto r = again.Read();
    refused_503 = r.status == 503 && r.head.find("Retry-After: 1") != std::string::npos;
  }
  EXPECT_TRUE(refused_503);
  Conn probe(port());
  const auto asked = Clock::now();
  ASSERT_TRUE(probe.Send(Get("/healthz")));
  const auto r = probe.Read(milliseconds(1000));
  EXPECT_EQ(r.status, 200);
  EXPECT_LT(Clock::now() - asked, milliseconds(1000));
}

TEST_F(HttpServerTest, ConnectionsBeyondTheCapAreClosed) {
  HttpServerOptions options;
  options.max_connections = 3;
  Start(options);
  Conn a(port()), b(port()), c(port());
  ASSERT_TRUE(a.Send(Get("/hello/a")));
  ASSERT_EQ(a.Read().status, 200);  // all three accepted by now
  Conn d(port());
  EXPECT_TRUE(d.Closed(milliseconds(5000)));
  EXPECT_EQ(b.Send(Get("/hello/b")) ? b.Read().status : 0, 200);
}

TEST_F(HttpServerTest, ABusyAddressIsNamed) {
  Start();
  HttpServer second;
  const std::string address = "127.0.0.1:" + std::to_string(port());
  try {
    second.Start(address);
    FAIL() << "bound a busy port";
  } catch (const HttpError& e) {
    EXPECT_NE(std::string(e.what()).find("cannot listen on " + address), std::string::npos)
        << e.what();
  }
}

TEST_F(HttpServerTest, MissingTlsFilesAreNamed) {
  HttpServerOptions options;
  options.tls_cert_file = "/nonexistent/cert.pem";
  options.tls_key_file = "/nonexistent/key.pem";
  HttpServer server(options);
  try {
    server.Start("127.0.0.1:0");
    FAIL() << "started without its certificate";
  } catch (const HttpError& e) {
    EXPECT_NE(std::string(e.what()).find("http.tls_cert_file /nonexistent/cert.pem"),
              std::string::npos)
        << e.what();
  }
  HttpServerOptions half;
  half.tls_cert_file = "/nonexistent/cert.pem";
  HttpServer server2(half);
  EXPECT_THROW(server2.Start("127.0.0.1:0"), HttpError);
}

}  // namespace
}  // namespace c360
