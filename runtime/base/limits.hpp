#pragma once
// Every size limit in one place (docs/LIMITS.md lists them for users). Whatever comes from a file,
// a socket, a --set or a share link is checked against these before it is used, so no input can
// make FlowFrame allocate or loop without bound.
#include <cstddef>
#include <cstdint>

namespace flowframe::limits {

// Scenarios.
inline constexpr std::size_t kScenarioBytes = 16 << 20;  // a scenario file's text
inline constexpr std::uint32_t kNodes = 200'000;         // nodes after replicas are expanded
inline constexpr std::uint32_t kReplicas = 100'000;      // members of one replicated node
inline constexpr std::size_t kIdentifierChars = 256;     // node ids, regions, paths, names
inline constexpr std::uint32_t kUsers = 1'000'000;       // closed-loop users
inline constexpr std::uint32_t kVirtualNodes = 10'000;   // a hash ring's points per backend
inline constexpr std::uint64_t kRequests = 1'000'000'000;  // stop.requests
inline constexpr std::uint32_t kBurstPerClient = 100'000;  // extra requests a live burst asks of each client
inline constexpr std::uint32_t kBurst = 1'000'000;       // extra requests one burst makes, all clients together

// Frame logs and the live wire.
inline constexpr std::size_t kLogHeaderBytes = 256 << 20;  // the log header (the scenario as run)
inline constexpr std::size_t kChunkBytes = 256 << 20;      // one chunk, decompressed
inline constexpr std::uint32_t kChunkFrames = 1 << 20;     // frames in one chunk
inline constexpr std::uint32_t kControlBytes = 64 * 1024;  // one live control message
inline constexpr std::size_t kClientBacklogBytes = 64 << 20;  // bytes queued for one live client that does not read

}  // namespace flowframe::limits
