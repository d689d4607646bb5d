#include "common/log_redaction.h"

#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace c360 {
namespace {

// Redacts each message's text and hands it to the sinks it stands in front of, which keep
// their own formats and levels.
class RedactingSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  RedactingSink(Redactor redactor, std::vector<spdlog::sink_ptr> sinks)
      : redactor_(std::move(redactor)), sinks_(std::move(sinks)) {}

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    const std::string text =
        redactor_.Redact(std::string_view(msg.payload.data(), msg.payload.size()));
    spdlog::details::log_msg redacted = msg;
    redacted.payload = spdlog::string_view_t(text.data(), text.size());
    for (const spdlog::sink_ptr& sink : sinks_) {
      if (sink->should_log(redacted.level)) sink->log(redacted);
    }
  }
  void flush_() override {
    for (const spdlog::sink_ptr& sink : sinks_) sink->flush();
  }
  // spdlog::set_pattern() after installation reaches the sinks that format.
  void set_pattern_(const std::string& pattern) override {
    for (const spdlog::sink_ptr& sink : sinks_) sink->set_pattern(pattern);
  }
  void set_formatter_(std::unique_ptr<spdlog::formatter> formatter) override {
    for (const spdlog::sink_ptr& sink : sinks_) sink->set_formatter(formatter->clone());
  }

 private:
  const Redactor redactor_;
  const std::vector<spdlog::sink_ptr> sinks_;
};

}  // namespace

void RedactLogs(Redactor redactor) {
  if (redactor.empty()) return;
  std::vector<spdlog::sink_ptr>& sinks = spdlog::default_logger_raw()->sinks();
  auto front = std::make_shared<RedactingSink>(std::move(redactor), std::move(sinks));
  sinks = {std::move(front)};
}

}  // namespace c360
