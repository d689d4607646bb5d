#include "common/logfmt.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <sstream>

namespace c360 {
namespace {

TEST(LogfmtTest, PlainWordsStayBare) {
  EXPECT_EQ(LogfmtValue("c360.tickets"), "c360.tickets");
  EXPECT_EQ(LogfmtValue("127.0.0.1:8080"), "127.0.0.1:8080");
  EXPECT_EQ(LogfmtValue("/var/lib/c360/state"), "/var/lib/c360/state");
  EXPECT_EQ(LogfmtValue("Größe"), "Größe");  // UTF-8 is printable
}

TEST(LogfmtTest, AnythingElseIsQuotedAndEscaped) {
  EXPECT_EQ(LogfmtValue(""), R"("")");
  EXPECT_EQ(LogfmtValue("Broker: Not coordinator"), R"("Broker: Not coordinator")");
  EXPECT_EQ(LogfmtValue("a=b"), R"("a=b")");
  EXPECT_EQ(LogfmtValue(R"(say "hi")"), R"("say \"hi\"")");
  EXPECT_EQ(LogfmtValue(R"(C:\dir)"), R"("C:\\dir")");
  EXPECT_EQ(LogfmtValue("line one\nlevel=error event=forged"),
            R"("line one\nlevel=error event=forged")");
  EXPECT_EQ(LogfmtValue(std::string("tab\tcr\rnul\0bel\x07", 15)),
            R"("tab\tcr\rnul\u0000bel\u0007")");
}

// Through spdlog as the commands log: one line, whatever the value holds.
TEST(LogfmtTest, ALoggedValueCannotBreakTheLine) {
  std::ostringstream out;
  auto logger = std::make_shared<spdlog::logger>(
      "logfmt_test", std::make_shared<spdlog::sinks::ostream_sink_mt>(out));
  logger->set_pattern("level=%l %v");
  logger->warn("event=kafka_error error={}", LogValue("timed out\nlevel=info event=ok"));
  EXPECT_EQ(out.str(),
            "level=warning event=kafka_error error=\"timed out\\nlevel=info event=ok\"\n");
}

}  // namespace
}  // namespace c360
