#pragma once
// Every size limit that is not a single field's range, in one place; the ranges of fields are
// stated in the schema (proto/flowframe/v1/limits.proto). `flowframe limits` lists both, and
// docs/LIMITS.md is its output. Whatever comes from a file, a socket, a --set or a share link is
// checked against these before it is used, so no input can make FlowFrame allocate or loop
// without bound.
#include <cstddef>
#include <cstdint>

namespace flowframe::limits {

// Scenarios.
inline constexpr std::size_t kScenarioBytes = 16 << 20;  // a scenario file's text
inline constexpr std::uint32_t kNodes = 200'000;         // nodes after replicas are expanded
inline constexpr std::uint32_t kReplicas = 100'000;      // members of one replicated node (= Node.replicas' range)
inline constexpr std::size_t kIdentifierChars = 256;     // node ids, regions, paths, names
inline constexpr std::uint32_t kBurstPerClient = 100'000;  // a live burst, per client (= ControlRequest.burst's range)
inline constexpr std::uint32_t kBurst = 100'000;  // extra requests one burst makes, all clients together (well below kChunkFrames)

// Frame logs and the live wire.
inline constexpr std::size_t kLogHeaderBytes = 256 << 20;  // the log header (the scenario as run)
inline constexpr std::size_t kChunkBytes = 256 << 20;      // one chunk, decompressed
inline constexpr std::uint32_t kChunkFrames = 1 << 20;     // frames in one chunk
inline constexpr std::uint32_t kControlBytes = 64 * 1024;  // one live control message
// A live client is not read while either is reached (TCP then pushes back on it), so a peer that
// floods requests or never reads its replies holds at most this much of the server's memory.
inline constexpr std::size_t kLiveSendWindow = 256 * 1024;  // bytes waiting to go to one live client
inline constexpr std::size_t kLiveWaitingRequests = 256;    // one client's requests the run has not taken yet
// Reading stops at most 20 ms after a limit is reached; a client with this many requests waiting
// by then is flooding and is disconnected.
inline constexpr std::size_t kLiveFloodRequests = 16384;

// Workers (flowframe worker).
inline constexpr unsigned kWorkerJobs = 256;       // runs at once a worker may offer, whatever it says
inline constexpr unsigned kWorkerExtraRuns = 8;    // runs beyond its offer a worker queues before it answers "busy"

}  // namespace flowframe::limits
