#pragma once
// The live connection (docs/FORMAT.md, "The live stream"): the server streams a run's log bytes
// to every client from the start, clients send control requests back.
//
// Client to server: the 4 bytes "FFHI", then messages as a 4-byte little-endian length and a
// protobuf: first a Hello, then ControlRequests. Server to client: the log's bytes, record by
// record, with ControlReply records (framing::kReplyMagic) between whole records; the first reply
// (id 0) answers the Hello.
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string_view>
#include <string>
#include <vector>

#include "flowframe/v1/control.pb.h"

namespace flowframe {

class FrameLogWriter;
struct LiveNetwork;  // a live end's own small CAF actor system and its broker (live.cpp)

inline constexpr std::uint32_t kLiveProtocol = 1;
inline constexpr char kHelloMagic[4] = {'F', 'F', 'H', 'I'};

// A control request from words, as `flowframe control ADDR ...` and the docs' "try it" lines
// take them: pause | resume | step N | speed X | set NODE.FIELD=VALUE | fail NODE | restore NODE |
// burst CLIENTS N. Throws std::invalid_argument with the usage.
// Every control `flowframe control` and a page's try line take.
inline constexpr const char* kControlUsage =
    "pause | resume | step N | speed X | set NODE.FIELD=VALUE | fail NODE | restore NODE | burst CLIENTS N | "
    "upload CLIENT MISUSE | crash NODE | restart NODE | pause NODE SECONDS | slow NODE FACTOR | "
    "partition NODE OTHER [one-way] | heal NODE OTHER | loss NODE OTHER PROBABILITY | latency NODE OTHER MS";
v1::ControlRequest parse_control(const std::vector<std::string>& words);
// What is wrong with a request whatever its target ("" if nothing): numbers outside their
// documented ranges, text that is not UTF-8. The run checks every request it receives with it.
std::string control_problem(const v1::ControlRequest& request);

// "127.0.0.1:7070" -> host and port; throws std::invalid_argument with the reason.
std::pair<std::string, std::uint16_t> parse_address(const std::string& address);
// The same for an address to listen on: an IPv4 address, loopback unless `allow_remote` (then
// with a warning that anyone who can reach it can `what_peers_can_do`). Throws with the reason,
// naming `flag`.
std::pair<std::string, std::uint16_t> listen_address(const std::string& address, bool allow_remote, const std::string& flag,
                                                     const std::string& what_peers_can_do);

// What a client sends, decoded as it arrives: the greeting "FFHI", a Hello, then ControlRequests,
// each a 4-byte little-endian length and a protobuf. Any split of the bytes decodes the same.
class ClientMessages {
 public:
  // Takes in `bytes`; returns "" or why the connection must close (a wrong greeting, a message
  // over the limit or one that does not parse). What was whole before a fault is still handed out.
  std::string feed(std::string_view bytes);
  std::optional<v1::Hello> hello;            // once it arrived
  std::vector<v1::ControlRequest> requests;  // arrived since the caller last cleared it

 private:
  std::string in_;
  bool magic_seen_ = false;
};

// What a server streams, decoded as it arrives: the log's file header and records, with control
// replies between them. Any split decodes the same; every announced size is checked against the
// limits before anything waits for it.
class StreamPieces {
 public:
  struct Piece {
    bool reply = false;  // a ControlReply record (its payload in `bytes`), else log bytes to keep
    std::string bytes;
  };
  // Takes in `bytes` and appends the pieces now whole to `out`; returns "" or why the stream
  // cannot be trusted (then nothing more is decoded).
  std::string feed(std::string_view bytes, std::vector<Piece>& out);
  // Bytes after the last whole piece: at the end of a finished log, its trailer.
  const std::string& rest() const { return pending_; }
  bool log_started() const { return log_started_; }

 private:
  std::string pending_;
  bool log_started_ = false;
  bool broken_ = false;
};

// A control request from client `client`, answered later through LiveServer::reply.
struct ControlInbox {
  std::uint64_t client;
  v1::ControlRequest request;
};

// Serves a run live over CAF's network layer (a caf_io broker on its own small actor system, so
// the run's scheduler is untouched): streams the log as the writer commits it, reads control
// requests for the run to take. A client is not read while limits::kLiveSendWindow bytes wait to
// go to it or the run has not taken limits::kLiveWaitingRequests of its requests; TCP then pushes
// back on it.
class LiveServer {
 public:
  // Listens on `address` (port 0: any free port). Binding to anything but loopback needs
  // `allow_remote`. Streams `log_path` as `writer` commits it. Throws std::runtime_error.
  LiveServer(const std::string& address, bool allow_remote, const std::string& log_path, const FrameLogWriter& writer);
  ~LiveServer();
  LiveServer(const LiveServer&) = delete;
  LiveServer& operator=(const LiveServer&) = delete;

  // The address actually bound ("127.0.0.1:40123").
  const std::string& address() const { return address_; }
  // Control requests received since the last call.
  std::vector<ControlInbox> take_requests();
  void reply(std::uint64_t client, const v1::ControlReply& reply);
  // Waits (at most `linger_ms`) until every client has the whole finished log, then stops.
  void finish(int linger_ms);

  struct Shared;  // what the run and the network side share

 private:
  std::string address_;
  std::shared_ptr<Shared> shared_;
  std::unique_ptr<LiveNetwork> network_;
};

// A live connection's client end: receives the stream into a local file (the log's bytes only)
// and keeps control replies for take_replies(), over CAF's network layer like the server. Used by the viewer, `flowframe inspect ADDR` and
// `flowframe control`.
class LiveClient {
 public:
  // Connects and says hello; throws std::runtime_error with the reason.
  LiveClient(const std::string& address, const std::string& file, std::string name, bool control_only = false);
  ~LiveClient();
  LiveClient(const LiveClient&) = delete;
  LiveClient& operator=(const LiveClient&) = delete;

  // Sends a request; its reply arrives through replies().
  void send(const v1::ControlRequest& request);
  std::vector<v1::ControlReply> take_replies();
  // Bytes of the log written to the file so far (whole records only).
  std::uint64_t received() const;
  // The server closed the connection (the run ended, or it refused us: see error()).
  bool closed() const;
  std::string error() const;
  const std::string& file() const { return file_; }

  struct Shared;  // what the caller and the network side share

 private:
  std::string file_;
  std::shared_ptr<Shared> shared_;
  std::unique_ptr<LiveNetwork> network_;
};

}  // namespace flowframe
