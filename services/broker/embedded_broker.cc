#include "services/broker/embedded_broker.h"

#include <sstream>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

namespace c360 {

// librdkafka's mock brokers listen on ephemeral ports chosen by the OS. When a fixed port
// is asked for, this forwards connections from 127.0.0.1:port to the first mock broker.
// Only the bootstrap connection goes through it: metadata advertises the mock brokers'
// own addresses, which clients then use directly.
class EmbeddedBroker::Forwarder {
 public:
  Forwarder(int port, const std::string& target_bootstrap) {
    target_port_ = std::stoi(target_bootstrap.substr(target_bootstrap.rfind(':') + 1));
    listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const int one = 1;
    setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr = Loopback(port);
    if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        listen(listen_fd_, 64) != 0) {
      const std::string why = std::strerror(errno);
      close(listen_fd_);
      throw KafkaError("cannot listen on 127.0.0.1:" + std::to_string(port) + ": " + why);
    }
    acceptor_ = std::thread([this] { AcceptLoop(); });
  }

  ~Forwarder() {
    stop_ = true;
    shutdown(listen_fd_, SHUT_RDWR);
    acceptor_.join();
    close(listen_fd_);
    std::lock_guard lock(mu_);
    for (std::thread& pump : pumps_) pump.join();
  }

 private:
  static sockaddr_in Loopback(int port) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return addr;
  }

  void AcceptLoop() {
    while (!stop_) {
      const int client = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (client < 0) {
        if (errno == EINTR) continue;
        return;  // listening socket shut down
      }
      const int upstream = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_in addr = Loopback(target_port_);
      if (connect(upstream, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        close(upstream);
        close(client);
        continue;
      }
      std::lock_guard lock(mu_);
      pumps_.emplace_back([this, client, upstream] { Pump(client, upstream); });
    }
  }

  // Copies bytes both ways until either side closes or the forwarder stops.
  void Pump(int a, int b) {
    char buf[64 * 1024];
    pollfd fds[2] = {{a, POLLIN, 0}, {b, POLLIN, 0}};
    while (!stop_) {
      if (poll(fds, 2, 200) < 0 && errno != EINTR) break;
      bool closed = false;
      for (int i = 0; i < 2 && !closed; ++i) {
        if ((fds[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
        const ssize_t n = read(fds[i].fd, buf, sizeof buf);
        if (n <= 0) {
          closed = true;
          break;
        }
        for (ssize_t sent = 0; sent < n;) {
          const ssize_t w = write(fds[1 - i].fd, buf + sent, static_cast<size_t>(n - sent));
          if (w <= 0) {
            closed = true;
            break;
          }
          sent += w;
        }
      }
      if (closed) break;
    }
    close(a);
    close(b);
  }

  int target_port_ = 0;
  int listen_fd_ = -1;
  std::atomic<bool> stop_{false};
  std::thread acceptor_;
  std::mutex mu_;
  std::vector<std::thread> pumps_;
};

std::unique_ptr<EmbeddedBroker> EmbeddedBroker::Start(const BrokerOptions& options) {
  std::unique_ptr<EmbeddedBroker> broker(new EmbeddedBroker());
  // The mock cluster needs a client handle to live on; it is never used to produce.
  broker->owner_ = MakeClient(RD_KAFKA_PRODUCER, {{"log_level", "3"}});
  broker->mock_ = rd_kafka_mock_cluster_new(broker->owner_.get(), options.broker_count);
  if (broker->mock_ == nullptr) throw KafkaError("cannot start the embedded mock cluster");
  const auto all = options.topics.All();
  std::vector<std::string> topics(all.begin(), all.end());
  topics.push_back(options.topics.notify_deadletter);
  for (const std::string& topic : topics) {
    const rd_kafka_resp_err_t err =
        rd_kafka_mock_topic_create(broker->mock_, topic.c_str(), options.partitions, 1);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      throw KafkaError("cannot create topic " + topic + ": " + rd_kafka_err2str(err));
    }
  }
  const std::string mock_bootstrap = rd_kafka_mock_cluster_bootstraps(broker->mock_);
  if (options.port == 0) {
    // First mock broker's address; the others are found through metadata.
    broker->bootstrap_ = mock_bootstrap.substr(0, mock_bootstrap.find(','));
  } else {
    broker->forwarder_ = std::make_unique<Forwarder>(options.port, mock_bootstrap);
    broker->bootstrap_ = "127.0.0.1:" + std::to_string(options.port);
  }
  return broker;
}

EmbeddedBroker::~EmbeddedBroker() {
  forwarder_.reset();
  if (mock_ != nullptr) rd_kafka_mock_cluster_destroy(mock_);
}

std::string EmbeddedBroker::ApplyFault(const std::string& command) {
  std::istringstream in(command);
  std::string verb;
  in >> verb;
  long a = 0, b = 0, c = 0;
  if (verb == "down" || verb == "up") {
    if (!(in >> a)) return "expected: " + verb + " BROKER_ID";
    const rd_kafka_resp_err_t err =
        verb == "down" ? rd_kafka_mock_broker_set_down(mock_, static_cast<int32_t>(a))
                       : rd_kafka_mock_broker_set_up(mock_, static_cast<int32_t>(a));
    return err ? rd_kafka_err2str(err) : "";
  }
  if (verb == "rtt") {
    if (!(in >> a >> b) || b < 0) return "expected: rtt BROKER_ID MS";
    const rd_kafka_resp_err_t err =
        rd_kafka_mock_broker_set_rtt(mock_, static_cast<int32_t>(a), static_cast<int>(b));
    return err ? rd_kafka_err2str(err) : "";
  }
  if (verb == "errors") {
    if (!(in >> a >> b >> c) || b < 1 || b > 100000)
      return "expected: errors API_KEY COUNT ERROR_CODE";
    const std::vector<rd_kafka_resp_err_t> errors(static_cast<size_t>(b),
                                                  static_cast<rd_kafka_resp_err_t>(c));
    rd_kafka_mock_push_request_errors_array(mock_, static_cast<int16_t>(a), errors.size(),
                                            errors.data());
    return "";
  }
  return "unknown fault command '" + verb + "' (down, up, rtt, errors)";
}

}  // namespace c360
