#include "actors/common/upload_token.hpp"

#include <openssl/evp.h>
#include <openssl/crypto.h>
#include <openssl/hmac.h>

#include <stdexcept>

namespace flowframe {

std::string token_signature(const v1::UploadToken& token, const std::string& secret) {
  std::string message;
  for (const auto& field : {token.bucket(), token.key(), token.permission(), std::to_string(token.expires_ns())})
    message += std::to_string(field.size()) + ":" + field;
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  if (HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
           reinterpret_cast<const unsigned char*>(message.data()), message.size(), digest, &size) == nullptr)
    throw std::runtime_error("HMAC-SHA256 failed");
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  for (unsigned int i = 0; i < size; ++i) {
    hex.push_back(kHex[digest[i] >> 4]);
    hex.push_back(kHex[digest[i] & 15]);
  }
  return hex;
}

bool token_verifies(const v1::UploadToken& token, const std::string& secret) {
  const std::string expected = token_signature(token, secret);
  return token.signature().size() == expected.size() &&
         CRYPTO_memcmp(expected.data(), token.signature().data(), expected.size()) == 0;
}

}  // namespace flowframe
