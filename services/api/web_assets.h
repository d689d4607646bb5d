#pragma once
// The Customer 360 page's files (web/ and the vendored chart library), built into the
// binary by cmake/embed_assets.cmake. Immutable; thread-safe.

#include <string_view>
#include <vector>

namespace c360::api {

struct WebAsset {
  std::string_view path;  // "/index.html" is served at "/"
  std::string_view content_type;
  std::string_view body;
};

const std::vector<WebAsset>& WebAssets();

}  // namespace c360::api
