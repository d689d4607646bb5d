#include "common/url.h"

#include <gtest/gtest.h>

namespace c360 {
namespace {

TEST(UrlTest, PercentEncodesAllButTheUnreservedBytes) {
  EXPECT_EQ(PercentEncode("cust-00042_a.b~c"), "cust-00042_a.b~c");
  EXPECT_EQ(PercentEncode("a b/c?d#e%"), "a%20b%2Fc%3Fd%23e%25");
  EXPECT_EQ(PercentEncode("caf\xc3\xa9"), "caf%C3%A9");  // UTF-8 bytes one by one
  EXPECT_EQ(PercentEncode(std::string_view("\0x", 2)), "%00x");
}

TEST(UrlTest, CustomerUrlIsEmptyWithoutAPublicUrl) {
  EXPECT_EQ(CustomerUrl("", "cust-1"), "");
  EXPECT_EQ(CustomerUrl("https://c360.example.com", "acme corp"),
            "https://c360.example.com/#acme%20corp");
}

}  // namespace
}  // namespace c360
