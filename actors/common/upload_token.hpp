#pragma once
// Signing upload tokens: HMAC-SHA256 (OpenSSL's libcrypto) over the token's fields.
#include <string>

#include "flowframe/v1/message.pb.h"

namespace flowframe {

// Lowercase hex HMAC-SHA256 of bucket, key, permission and expiry, keyed with `secret`. Each field
// is signed with its length before it ("7:uploads"), so no two tokens sign the same text: joined
// with newlines, bucket "uploads" + key "x\ny" signed as bucket "uploads\nx" + key "y".
std::string token_signature(const v1::UploadToken& token, const std::string& secret);
// Whether the token's signature is right, compared in constant time (no timing tells how much of
// a forged signature matched).
bool token_verifies(const v1::UploadToken& token, const std::string& secret);

}  // namespace flowframe
