#pragma once
// Signing upload tokens: HMAC-SHA256 (OpenSSL's libcrypto) over the token's fields.
#include <string>

#include "flowframe/v1/message.pb.h"

namespace flowframe {

// Lowercase hex HMAC-SHA256 of bucket, key, permission and expiry, keyed with `secret`.
std::string token_signature(const v1::UploadToken& token, const std::string& secret);

}  // namespace flowframe
