#include "services/http/http_server.h"
#include "common/logfmt.h"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>
#include <type_traits>

namespace c360 {
// Named, not anonymous: HttpServer::Impl holds a WorkerPool, and GCC warns about a class
// member of anonymous-namespace type whenever this file is compiled inside a unity file.
namespace http_server_internal {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using ErrorCode = boost::system::error_code;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

std::string_view View(beast::string_view text) { return {text.data(), text.size()}; }

// Threads that run jobs from a bounded queue.
class WorkerPool {
 public:
  ~WorkerPool() { Stop(); }

  void Start(int threads, size_t max_queued) {
    max_queued_ = max_queued;
    for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { Work(); });
  }
  bool running() const { return !threads_.empty(); }

  // False when the queue is full: the caller answers 503 instead.
  bool TrySubmit(std::function<void()> job) {
    {
      std::lock_guard lock(mu_);
      if (stopping_ || jobs_.size() >= max_queued_) return false;
      jobs_.push_back(std::move(job));
    }
    cv_.notify_one();
    return true;
  }

  // Finishes the jobs running, drops the queued ones, joins.
  void Stop() {
    std::deque<std::function<void()>> dropped;
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
      dropped.swap(jobs_);
    }
    cv_.notify_all();
    for (std::thread& t : threads_) t.join();
    threads_.clear();
  }

 private:
  void Work() {
    while (true) {
      std::function<void()> job;
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
        if (stopping_) return;
        job = std::move(jobs_.front());
        jobs_.pop_front();
      }
      job();  // Router::Run catches what a handler throws
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  std::vector<std::thread> threads_;
  size_t max_queued_ = 0;
  bool stopping_ = false;
};

std::string Lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

}  // namespace http_server_internal

using namespace http_server_internal;

class HttpServer::Impl {
 public:
  explicit Impl(HttpServerOptions options) : options_(std::move(options)) {}
  ~Impl() { Stop(); }

  void Start(const std::string& address);
  void Stop() {
    if (!io_thread_.joinable()) return;
    ioc_.stop();
    io_thread_.join();
    ErrorCode ignored;
    acceptor_.close(ignored);
    // Jobs hold their connections: released while the I/O context still exists.
    workers_.Stop();
  }

  template <class Stream>
  class Session;

  HttpServerOptions options_;
  Router router_;
  std::string host_;
  int port_ = 0;
  std::atomic<size_t> connections_{0};
  std::optional<ssl::context> tls_;
  // Declared after what sessions use: destroying the context destroys the sessions.
  asio::io_context ioc_{1};
  tcp::acceptor acceptor_{ioc_};
  asio::steady_timer accept_retry_{ioc_};
  std::chrono::steady_clock::time_point last_refusal_log_;
  WorkerPool workers_;
  std::thread io_thread_;

 private:
  void Accept();
  void RunIo();
  // At most one such warning every 10 s: a flood must not become a log flood.
  bool ShouldLogRefusal() {
    const auto now = std::chrono::steady_clock::now();
    if (now - last_refusal_log_ < std::chrono::seconds(10)) return false;
    last_refusal_log_ = now;
    return true;
  }
};

// One connection: reads a request under a deadline, routes it, answers, and goes on while
// the client keeps the connection alive. Lives as long as an operation holds it.
template <class Stream>
class HttpServer::Impl::Session : public std::enable_shared_from_this<Session<Stream>> {
 public:
  static constexpr bool kTls = std::is_same_v<Stream, TlsStream>;

  template <class... Args>
  Session(Impl& server, Args&&... args) : server_(server), stream_(std::forward<Args>(args)...) {
    ++server_.connections_;
  }
  ~Session() { --server_.connections_; }

  void Run() {
    Lowest().expires_after(server_.options_.request_timeout);
    if constexpr (kTls) {
      stream_.async_handshake(ssl::stream_base::server,
                              [self = this->shared_from_this()](ErrorCode ec) {
                                if (!ec) self->ReadHead();
                              });
    } else {
      ReadHead();
    }
  }

 private:
  beast::tcp_stream& Lowest() { return beast::get_lowest_layer(stream_); }

  void ReadHead() {
    const HttpServerOptions& o = server_.options_;
    parser_.emplace();
    parser_->header_limit(static_cast<uint32_t>(o.max_header_bytes));
    parser_->body_limit(o.max_body_bytes);
    // The head and the body must both arrive within request_timeout of now.
    Lowest().expires_after(o.request_timeout);
    http::async_read_header(
        stream_, buffer_, *parser_,
        [self = this->shared_from_this()](ErrorCode ec, size_t) { self->OnHead(ec); });
  }

  void OnHead(ErrorCode ec) {
    if (ec) return Failed(ec);
    if (parser_->is_done()) return Dispatch();
    http::async_read(stream_, buffer_, *parser_,
                     [self = this->shared_from_this()](ErrorCode ec, size_t) {
                       if (ec) return self->Failed(ec);
                       self->Dispatch();
                     });
  }

  // A request that could not be read: answered when the client deserves to know why,
  // else the connection just closes (timeouts, resets, a client that went away).
  void Failed(ErrorCode ec) {
    const HttpServerOptions& o = server_.options_;
    keep_alive_ = false;
    if (ec == http::error::header_limit || ec == http::error::buffer_overflow) {
      return Reply("other",
                   JsonError(431, "headers_too_large",
                             "the request line and headers may take at most " +
                                 std::to_string(o.max_header_bytes) + " bytes"),
                   false);
    }
    if (ec == http::error::body_limit) {
      return Reply("other",
                   JsonError(413, "body_too_large",
                             "a request body may take at most " + std::to_string(o.max_body_bytes) +
                                 " bytes"),
                   false);
    }
    if (ec.category() == http::make_error_code(http::error::bad_method).category() &&
        ec != http::error::end_of_stream && ec != http::error::partial_message) {
      return Reply("other",
                   JsonError(400, "bad_request", "the request is not well-formed HTTP/1.1"), false);
    }
    Close();
  }

  void Dispatch() {
    const http::request<http::string_body>& req = parser_->get();
    keep_alive_ = req.keep_alive();
    RawRequest raw;
    raw.method = View(req.method_string());
    raw.target = View(req.target());
    if (auto it = req.find(http::field::host); it != req.end()) raw.host = View(it->value());
    if (auto it = req.find(http::field::authorization); it != req.end()) {
      raw.authorization = View(it->value());
    }
    raw.http10 = req.version() == 10;
    Router::Routed routed = server_.router_.Route(raw);
    if (routed.response || routed.cost == Router::Cost::kCheap || !server_.workers_.running()) {
      return Reply(routed.route, Router::Run(routed), routed.head);
    }
    const std::string route = routed.route;
    const bool head = routed.head;
    auto self = this->shared_from_this();
    const bool queued = server_.workers_.TrySubmit([self, routed = std::move(routed)] {
      HttpResponse response = Router::Run(routed);
      asio::post(self->stream_.get_executor(), [self, route = routed.route, head = routed.head,
                                                response = std::move(response)]() mutable {
        self->Reply(route, std::move(response), head);
      });
    });
    if (!queued) {
      HttpResponse busy =
          JsonError(503, "busy", "too many requests in progress; try again shortly");
      busy.headers.emplace_back("Retry-After", "1");
      Reply(route, std::move(busy), head);
    }
  }

  void Reply(const std::string& route, HttpResponse response, bool head) {
    const HttpServerOptions& o = server_.options_;
    const unsigned version = parser_ && parser_->is_header_done() ? parser_->get().version() : 11;
    response_.emplace(static_cast<http::status>(response.status), version);
    http::response<http::string_body>& res = *response_;
    res.set(http::field::server, "c360");
    res.set(http::field::content_type, response.content_type);
    res.set("X-Content-Type-Options", "nosniff");
    for (const auto& [name, value] : response.headers) res.set(name, value);
    const size_t length = response.body.size();
    if (!head) res.body() = std::move(response.body);
    res.content_length(length);
    res.keep_alive(keep_alive_);
    if (o.on_response) o.on_response(route, response.status);
    Lowest().expires_after(o.write_timeout);
    http::async_write(stream_, res, [self = this->shared_from_this()](ErrorCode ec, size_t) {
      if (ec) return;  // the client went away: the connection closes with the session
      if (!self->keep_alive_) return self->Close();
      self->ReadHead();
    });
  }

  void Close() {
    if constexpr (kTls) {
      Lowest().expires_after(std::chrono::seconds(1));
      stream_.async_shutdown([self = this->shared_from_this()](ErrorCode) {});
    } else {
      // A lingering close: what the client still sends (the rest of a refused body) is
      // read and dropped for a moment, so that closing with unread data (a reset) does not
      // destroy the answer before the client reads it.
      ErrorCode ignored;
      stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
      linger_buffer_ = std::make_unique<char[]>(kLingerChunk);
      Lowest().expires_after(kLingerTime);
      Linger();
    }
  }

  void Linger() {
    stream_.async_read_some(asio::buffer(linger_buffer_.get(), kLingerChunk),
                            [self = this->shared_from_this()](ErrorCode ec, size_t n) {
                              self->lingered_ += n;
                              if (!ec && self->lingered_ < kLingerBytes) self->Linger();
                            });
  }

  static constexpr size_t kLingerChunk = 16 << 10;
  static constexpr size_t kLingerBytes = 1 << 20;
  static constexpr auto kLingerTime = std::chrono::seconds(2);

  Impl& server_;
  Stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::optional<http::response<http::string_body>> response_;
  bool keep_alive_ = false;
  std::unique_ptr<char[]> linger_buffer_;
  size_t lingered_ = 0;
};

void HttpServer::Impl::Start(const std::string& address) {
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos)
    throw HttpError("cannot listen on " + address + ": expected HOST:PORT");
  host_ = address.substr(0, colon);
  if (host_.size() > 2 && host_.front() == '[' && host_.back() == ']') {
    host_ = host_.substr(1, host_.size() - 2);  // [::1]:8080
  }
  const std::string port = address.substr(colon + 1);
  ErrorCode ec;
  tcp::resolver resolver(ioc_);
  const auto endpoints = resolver.resolve(host_, port, tcp::resolver::numeric_service, ec);
  if (ec || endpoints.empty()) {
    throw HttpError("cannot listen on " + address + ": " + (ec ? ec.message() : "no such address"));
  }
  const tcp::endpoint endpoint = endpoints.begin()->endpoint();
  // SO_REUSEADDR alone: a quick restart may bind again, a second process may not (no
  // SO_REUSEPORT, which would let it steal half the connections).
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    throw HttpError("cannot listen on " + address + ": " + ec.message() +
                    " (is another process using it? --http picks another address)");
  }
  port_ = acceptor_.local_endpoint().port();

  if (endpoint.address().is_loopback()) {
    // DNS rebinding: a page from another site that resolves its name to 127.0.0.1 sends
    // its own name as Host. localhost only ever names this machine.
    std::vector<std::string> hosts = {"localhost", Lower(host_), endpoint.address().to_string()};
    for (const std::string& h : options_.allowed_hosts) hosts.push_back(Lower(h));
    router_.RequireHost(std::move(hosts));
  }
  router_.RequireToken(options_.auth_token);

  if (!options_.tls_cert_file.empty() || !options_.tls_key_file.empty()) {
    if (options_.tls_cert_file.empty() || options_.tls_key_file.empty()) {
      throw HttpError("HTTPS needs both http.tls_cert_file and http.tls_key_file");
    }
    tls_.emplace(ssl::context::tls_server);
    tls_->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                      ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 |
                      ssl::context::single_dh_use);
    tls_->use_certificate_chain_file(options_.tls_cert_file, ec);
    if (ec) {
      throw HttpError("cannot load http.tls_cert_file " + options_.tls_cert_file + ": " +
                      ec.message());
    }
    tls_->use_private_key_file(options_.tls_key_file, ssl::context::pem, ec);
    if (ec) {
      throw HttpError("cannot load http.tls_key_file " + options_.tls_key_file + ": " +
                      ec.message());
    }
  }

  workers_.Start(options_.workers, options_.max_queued);
  Accept();
  io_thread_ = std::thread([this] { RunIo(); });
  spdlog::info("event=http_listening address={}:{} tls={} auth={}", LogValue(host_), port_,
               tls_.has_value(), !options_.auth_token.empty());
}

void HttpServer::Impl::Accept() {
  acceptor_.async_accept([this](ErrorCode ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor_.is_open()) return;
    if (ec) {
      // Out of file descriptors and the like: try again shortly rather than spin.
      if (ShouldLogRefusal())
        spdlog::warn("event=http_accept_failed error={}", LogValue(ec.message()));
      accept_retry_.expires_after(std::chrono::milliseconds(100));
      accept_retry_.async_wait([this](ErrorCode wait_ec) {
        if (!wait_ec) Accept();
      });
      return;
    }
    if (connections_ >= options_.max_connections) {
      if (ShouldLogRefusal()) {
        spdlog::warn("event=http_connection_refused connections={} reason=max_connections",
                     connections_.load());
      }
      ErrorCode ignored;
      socket.close(ignored);
    } else if (tls_) {
      std::make_shared<Session<TlsStream>>(*this, std::move(socket), *tls_)->Run();
    } else {
      std::make_shared<Session<beast::tcp_stream>>(*this, std::move(socket))->Run();
    }
    Accept();
  });
}

void HttpServer::Impl::RunIo() {
  // A handler that throws (memory exhausted) must not end the process: log and go on.
  while (true) {
    try {
      ioc_.run();
      return;
    } catch (const std::exception& e) {
      spdlog::error("event=http_io_failed error={} action=continue", LogValue(e.what()));
    }
  }
}

HttpServer::HttpServer(HttpServerOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {}
HttpServer::~HttpServer() = default;

void HttpServer::Get(const std::string& pattern, Handler handler, Router::Cost cost) {
  impl_->router_.Get(pattern, std::move(handler), cost);
}
Router& HttpServer::router() { return impl_->router_; }
void HttpServer::Start(const std::string& address) { impl_->Start(address); }
void HttpServer::Stop() { impl_->Stop(); }
int HttpServer::port() const { return impl_->port_; }
const std::string& HttpServer::host() const { return impl_->host_; }

}  // namespace c360
