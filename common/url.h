#pragma once
// Percent-encoding (RFC 3986) of a customer_id where a URL carries it: a forwarded API path
// and the page link (`url`) of alerts and snapshots.

#include <string>
#include <string_view>

namespace c360 {

// Every byte but the unreserved ones (ALPHA, DIGIT, "-", ".", "_", "~") as %XX.
std::string PercentEncode(std::string_view text);

// The page link of a customer: public_url + "/#" + PercentEncode(customer_id); "" when
// public_url is empty (SPEC section 5).
std::string CustomerUrl(std::string_view public_url, std::string_view customer_id);

}  // namespace c360
