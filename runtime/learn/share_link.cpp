#include "runtime/learn/share_link.hpp"

#include "runtime/base/limits.hpp"
#include "runtime/scenario/settings.hpp"

#include <openssl/evp.h>
#include <xxhash.h>
#include <zstd.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace flowframe {
namespace {

constexpr const char* kPrefix = "flowframe:";
constexpr unsigned char kLinkVersion = 1;
constexpr std::size_t kHead = 1 + 8;  // version, XXH3 of the compressed bytes

std::string base64url(const std::string& bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(n));
  std::replace(out.begin(), out.end(), '+', '-');
  std::replace(out.begin(), out.end(), '/', '_');
  while (!out.empty() && out.back() == '=') out.pop_back();
  return out;
}

std::string from_base64url(std::string text) {
  if (text.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") != std::string::npos)
    throw std::invalid_argument("the link is damaged: it holds characters a FlowFrame link never has");
  std::replace(text.begin(), text.end(), '-', '+');
  std::replace(text.begin(), text.end(), '_', '/');
  if (text.size() % 4 == 1) throw std::invalid_argument("the link is cut short");
  const std::size_t padding = (4 - text.size() % 4) % 4;
  text.append(padding, '=');
  std::string out(text.size() / 4 * 3, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(text.data()), static_cast<int>(text.size()));
  if (n < 0) throw std::invalid_argument("the link is damaged (not base64url)");
  out.resize(static_cast<std::size_t>(n) - padding);
  return out;
}

}  // namespace

std::string encode_link(const v1::Scenario& scenario) {
  const std::string bytes = scenario.SerializeAsString();
  std::string compressed(ZSTD_compressBound(bytes.size()), '\0');
  compressed.resize(ZSTD_compress(compressed.data(), compressed.size(), bytes.data(), bytes.size(), 19));
  const std::uint64_t checksum = XXH3_64bits(compressed.data(), compressed.size());
  std::string packed(1, static_cast<char>(kLinkVersion));
  packed.append(reinterpret_cast<const char*>(&checksum), sizeof checksum);
  return kPrefix + base64url(packed + compressed);
}

v1::Scenario decode_link(const std::string& link) {
  if (link.rfind(kPrefix, 0) != 0) throw std::invalid_argument("not a FlowFrame link (it starts with 'flowframe:')");
  const std::string packed = from_base64url(link.substr(std::strlen(kPrefix)));
  if (packed.size() <= kHead) throw std::invalid_argument("the link is cut short");
  if (static_cast<unsigned char>(packed[0]) != kLinkVersion)
    throw std::invalid_argument("the link was made by a newer FlowFrame (link version " +
                                std::to_string(static_cast<unsigned char>(packed[0])) + ")");
  std::uint64_t checksum;
  std::memcpy(&checksum, packed.data() + 1, sizeof checksum);
  const std::string compressed = packed.substr(kHead);
  if (XXH3_64bits(compressed.data(), compressed.size()) != checksum)
    throw std::invalid_argument("the link is damaged or cut short (checksum mismatch)");
  const auto size = ZSTD_getFrameContentSize(compressed.data(), compressed.size());
  if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN || size > limits::kScenarioBytes)
    throw std::invalid_argument("the link is damaged");
  std::string bytes(size, '\0');
  if (ZSTD_isError(ZSTD_decompress(bytes.data(), bytes.size(), compressed.data(), compressed.size())))
    throw std::invalid_argument("the link is damaged");
  v1::Scenario scenario;
  if (!scenario.ParseFromString(bytes)) throw std::invalid_argument("the link is damaged");
  // A link is made from a checked scenario; one that is not was crafted. Its numbers are checked
  // before anything (a layout of its replicas, say) uses them; the rest when it is loaded.
  if (const auto found = value_problems(scenario); !found.empty())
    throw std::invalid_argument("the link's scenario is not valid: " + found[0].field() + " " + found[0].message);
  return scenario;
}

}  // namespace flowframe
