#include "services/http/http_server.h"

#include <httplib.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

namespace c360 {

HttpResponse JsonError(int status, const std::string& error, const std::string& detail) {
  return {status, "application/json",
          nlohmann::json{{"error", error}, {"detail", detail}}.dump() + "\n"};
}

HttpServer::HttpServer() : server_(std::make_unique<httplib::Server>()) {
  // cpp-httplib sets SO_REUSEPORT by default, which lets a second process bind the same
  // port and steal half the requests; SO_REUSEADDR alone allows a quick restart only.
  server_->set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  // Anything no route answered: a JSON error naming the path, never an empty body.
  server_->set_error_handler([](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return;
    const HttpResponse error =
        res.status == 404 ? JsonError(404, "not found", "no endpoint " + req.method + " " + req.path)
                          : JsonError(res.status, "error " + std::to_string(res.status), req.method + " " + req.path);
    res.set_content(error.body, error.content_type);
  });
  server_->set_exception_handler(
      [](const httplib::Request& req, httplib::Response& res, std::exception_ptr ep) {
        std::string what = "unknown error";
        try {
          std::rethrow_exception(ep);
        } catch (const std::exception& e) {
          what = e.what();
        }
        spdlog::error("event=http_handler_failed path={} error=\"{}\"", req.path, what);
        const HttpResponse error = JsonError(500, "internal error", what);
        res.status = 500;
        res.set_content(error.body, error.content_type);
      });
}

HttpServer::~HttpServer() { Stop(); }

void HttpServer::Get(const std::string& pattern, Handler handler) {
  server_->Get(pattern, [handler = std::move(handler)](const httplib::Request& req,
                                                        httplib::Response& res) {
    HttpRequest request;
    request.path = req.path;
    for (const auto& m : req.matches) request.matches.push_back(m.str());
    request.param = [&req](const std::string& name) { return req.get_param_value(name); };
    request.has_param = [&req](const std::string& name) { return req.has_param(name); };
    const HttpResponse response = handler(request);
    res.status = response.status;
    res.set_content(response.body, response.content_type);
  });
}

void HttpServer::Start(const std::string& address) {
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos) throw HttpError("cannot listen on " + address + ": expected HOST:PORT");
  host_ = address.substr(0, colon);
  if (host_.size() > 2 && host_.front() == '[' && host_.back() == ']') {
    host_ = host_.substr(1, host_.size() - 2);  // [::1]:8080
  }
  const int port = std::stoi(address.substr(colon + 1));
  port_ = port == 0 ? server_->bind_to_any_port(host_) : (server_->bind_to_port(host_, port) ? port : -1);
  if (port_ < 0) {
    throw HttpError("cannot listen on " + address + ": " + std::strerror(errno) +
                    " (is another process using it? --http picks another address)");
  }
  thread_ = std::thread([this] {
    server_->listen_after_bind();
    listen_returned_ = true;
  });
  // httplib's stop() does nothing before the accept loop runs, so a Stop() right after
  // Start() would leave the thread serving forever: wait for the loop to start.
  while (!server_->is_running() && !listen_returned_) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  spdlog::info("event=http_listening address={}:{}", host_, port_);
}

void HttpServer::Stop() {
  if (!thread_.joinable()) return;
  server_->stop();
  thread_.join();
}

}  // namespace c360
