#include "runtime/live/live.hpp"
#include "runtime/live/network_errors.hpp"

#include <arpa/inet.h>
#include <sys/socket.h>
#include <spdlog/spdlog.h>

#include <caf/all.hpp>
#include <caf/io/all.hpp>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstring>
#include <map>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <unordered_map>

#include "runtime/base/actor_timer.hpp"
#include "runtime/base/limits.hpp"
#include "runtime/base/text.hpp"
#include "runtime/framelog/frame_log.hpp"
#include "runtime/scenario/settings.hpp"

namespace flowframe {
namespace {

std::uint32_t read_u32(const char* bytes) {
  std::uint32_t value;
  std::memcpy(&value, bytes, sizeof value);
  return value;
}

std::string framed(const google::protobuf::Message& message) {
  const std::string bytes = message.SerializeAsString();
  const auto length = static_cast<std::uint32_t>(bytes.size());
  std::string out(reinterpret_cast<const char*>(&length), sizeof length);
  return out + bytes;
}

}  // namespace

v1::ControlRequest parse_control(const std::vector<std::string>& words) {
  v1::ControlRequest request;
  if (words.empty()) throw std::invalid_argument("a control needs words: pause, resume, step N, ...");
  auto need = [&](std::size_t n, const char* usage) {
    if (words.size() != n) throw std::invalid_argument(std::string("usage: ") + usage);
  };
  auto number = [&](const std::string& text, const char* what) {
    char* end = nullptr;
    const double value = std::strtod(text.c_str(), &end);
    if (*end != '\0' || text.empty() || !std::isfinite(value))
      throw std::invalid_argument(std::string(what) + " must be a finite number, got '" + printable(text) + "'");
    return value;
  };
  auto whole = [&](const std::string& text, const char* what) {
    std::uint64_t value = 0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (error != std::errc() || end != text.data() + text.size())
      throw std::invalid_argument(std::string(what) + " must be a whole number, got '" + printable(text) + "'");
    return value;
  };
  const auto& verb = words[0];
  auto& fault = *request.mutable_fault();
  auto link = [&](const char* usage) -> v1::LinkFault& {
    if (words.size() < 3) throw std::invalid_argument(std::string("usage: ") + usage);
    request.set_node(words[1]);
    fault.mutable_link()->set_to(words[2]);
    return *fault.mutable_link();
  };
  if (verb == "pause" && words.size() == 3) {
    request.set_node(words[1]);
    fault.set_pause_s(number(words[2], "SECONDS"));
  } else if (verb == "crash") need(2, "crash NODE"), request.set_node(words[1]), fault.set_crash(true);
  else if (verb == "restart") need(2, "restart NODE"), request.set_node(words[1]), fault.set_restart(true);
  else if (verb == "slow") need(3, "slow NODE FACTOR"), request.set_node(words[1]), fault.set_slow(number(words[2], "FACTOR"));
  else if (verb == "partition") {
    auto& cut = link("partition NODE OTHER [one-way]");
    if (words.size() > 4 || (words.size() == 4 && words[3] != "one-way"))
      throw std::invalid_argument("usage: partition NODE OTHER [one-way]");
    cut.set_partition(true);
    if (words.size() == 4) cut.set_direction(v1::LinkFault::OUTBOUND);
  } else if (verb == "heal") need(3, "heal NODE OTHER"), link("heal NODE OTHER").set_heal(true);
  else if (verb == "loss") need(4, "loss NODE OTHER PROBABILITY"), link("loss NODE OTHER PROBABILITY").set_loss(number(words[3], "PROBABILITY"));
  else if (verb == "latency") {
    need(4, "latency NODE OTHER MS");
    link("latency NODE OTHER MS").mutable_latency()->set_mean_ms(number(words[3], "MS"));
  } else if (verb == "pause") need(1, "pause  (the run)  or  pause NODE SECONDS"), request.set_pause(true);
  else if (verb == "resume") need(1, "resume"), request.set_resume(true);
  else if (verb == "step") need(2, "step N"), request.set_step(whole(words[1], "N"));
  else if (verb == "speed") need(2, "speed X"), request.set_speed(number(words[1], "X"));
  else if (verb == "fail") need(2, "fail NODE"), request.set_fail(true), request.set_node(words[1]);
  else if (verb == "restore") need(2, "restore NODE"), request.set_restore(true), request.set_node(words[1]);
  else if (verb == "burst") {
    need(3, "burst CLIENTS N");
    request.set_node(words[1]);
    const auto count = whole(words[2], "N");
    request.set_burst(static_cast<std::uint32_t>(std::min<std::uint64_t>(count, UINT32_MAX)));
  }
  else if (verb == "upload") need(3, "upload CLIENT MISUSE"), request.set_node(words[1]), request.set_upload(words[2]);
  else if (verb == "set") {
    need(2, "set NODE.FIELD=VALUE");
    const auto& text = words[1];
    const auto dot = text.find('.'), equals = text.find('=');
    if (dot == std::string::npos || equals == std::string::npos || dot > equals)
      throw std::invalid_argument("usage: set NODE.FIELD=VALUE (e.g. server-2.capacity=0)");
    request.set_node(text.substr(0, dot));
    request.mutable_set()->set_field(text.substr(dot + 1, equals - dot - 1));
    request.mutable_set()->set_value(text.substr(equals + 1));
  } else {
    throw std::invalid_argument("unknown control '" + printable(verb) + "': " + std::string(kControlUsage));
  }
  if (!request.fault().has_link() && request.fault().verb_case() == v1::Fault::VERB_NOT_SET) request.clear_fault();
  if (auto error = control_problem(request); !error.empty()) throw std::invalid_argument(error);
  return request;
}

std::string control_problem(const v1::ControlRequest& request) {
  for (const auto& found : value_problems(request)) return found.field() + " " + found.message;
  return "";
}

std::pair<std::string, std::uint16_t> parse_address(const std::string& address) {
  const auto colon = address.rfind(':');
  if (colon == std::string::npos || colon + 1 == address.size())
    throw std::invalid_argument("'" + address + "': expected HOST:PORT, e.g. 127.0.0.1:7070");
  std::string host = address.substr(0, colon);
  if (host == "localhost" || host.empty()) host = "127.0.0.1";
  const auto port_text = address.substr(colon + 1);
  char* end = nullptr;
  const long port = std::strtol(port_text.c_str(), &end, 10);
  if (*end != '\0' || port < 0 || port > 65535)
    throw std::invalid_argument("'" + address + "': the port must be a number from 0 to 65535");
  return {host, static_cast<std::uint16_t>(port)};
}

std::pair<std::string, std::uint16_t> listen_address(const std::string& address, bool allow_remote, const std::string& flag,
                                                     const std::string& what_peers_can_do) {
  auto [host, port] = parse_address(address);
  in_addr parsed{};
  if (inet_pton(AF_INET, host.c_str(), &parsed) != 1)
    throw std::invalid_argument("'" + host + "' is not an IPv4 address (e.g. 127.0.0.1)");
  const bool loopback = (ntohl(parsed.s_addr) >> 24) == 127;
  if (!loopback && !allow_remote)
    throw std::runtime_error(flag + " " + address + ": not a loopback address; add --allow-remote to serve other hosts");
  if (!loopback) spdlog::warn("listening on {}: anyone who can reach it can {}", address, what_peers_can_do);
  return {host, port};
}

std::string ClientMessages::feed(std::string_view bytes) {
  in_.append(bytes);
  if (!magic_seen_) {
    // The greeting may arrive a byte at a time.
    const auto size = std::min(in_.size(), sizeof kHelloMagic);
    if (std::memcmp(in_.data(), kHelloMagic, size) != 0) return "not a FlowFrame client (bad greeting)";
    if (size < sizeof kHelloMagic) return "";
    in_.erase(0, sizeof kHelloMagic);
    magic_seen_ = true;
  }
  std::size_t at = 0;
  std::string error;
  while (in_.size() - at >= 4) {
    const auto length = read_u32(in_.data() + at);
    if (length > limits::kControlBytes) {
      error = "message of " + std::to_string(length) + " bytes (at most " + std::to_string(limits::kControlBytes) + ")";
      break;
    }
    if (in_.size() - at - 4 < length) break;
    const char* body = in_.data() + at + 4;
    if (!hello) {
      if (!hello.emplace().ParseFromArray(body, static_cast<int>(length))) {
        hello.reset();
        error = "garbage instead of a hello";
        break;
      }
    } else if (!requests.emplace_back().ParseFromArray(body, static_cast<int>(length))) {
      requests.pop_back();
      error = "garbage instead of a control request";
      break;
    }
    at += 4 + length;
  }
  in_.erase(0, at);
  return error;
}

std::string StreamPieces::feed(std::string_view bytes, std::vector<Piece>& out) {
  if (broken_) return "the stream was already refused";
  pending_.append(bytes);
  const auto refuse = [&](std::string why) {
    broken_ = true;
    return why;
  };
  while (pending_.size() >= framing::kFileHeaderSize) {
    std::uint64_t total = 0;
    std::uint32_t magic = 0;
    if (!log_started_ && (total = framing::file_header_size(pending_.data())) != 0) {
      if (total > framing::kFileHeaderSize + limits::kLogHeaderBytes)
        return refuse("the stream announces a log header of " + std::to_string(total) + " bytes, beyond the limit");
    } else {
      if (pending_.size() < framing::kRecordHeaderSize) break;
      if (!framing::record_size(pending_.data(), magic, total))
        return refuse(log_started_ ? "the stream is corrupted" : "not a FlowFrame live stream");
      if (!log_started_ && magic != framing::kReplyMagic) return refuse("not a FlowFrame live stream");
      const std::uint64_t most =
          framing::kRecordHeaderSize + (magic == framing::kReplyMagic ? limits::kControlBytes : limits::kChunkBytes);
      if (total > most) return refuse("the stream announces a record of " + std::to_string(total) + " bytes, beyond the limit");
    }
    if (pending_.size() < total) break;
    const bool reply = magic == framing::kReplyMagic;
    out.push_back({reply, reply ? pending_.substr(framing::kRecordHeaderSize, total - framing::kRecordHeaderSize)
                                : pending_.substr(0, total)});
    log_started_ |= !reply;
    pending_.erase(0, total);
  }
  return "";
}

// ---------------------------------------------------------------------------------------------
// Both ends run a caf_io broker on a small actor system of their own: one scheduler thread and
// CAF's multiplexer, apart from the run's scheduler so networking never changes the run.

namespace {

using tick_atom = caf::atom_constant<caf::atom("tick")>;
using reply_atom = caf::atom_constant<caf::atom("reply")>;
using stop_atom = caf::atom_constant<caf::atom("stop")>;
constexpr auto kTick = std::chrono::milliseconds(20);  // how often the server looks for newly committed log
constexpr std::size_t kReadSize = 64 * 1024;

caf::actor_system_config& network_config(caf::actor_system_config& config) {
  config.load<caf::io::middleman>();
  config.set("scheduler.max-threads", std::size_t{1});
  // One read per connection per poll: a connection told to stop reading stops at once.
  config.set("middleman.max-consecutive-reads", std::size_t{1});
  return config;
}


}  // namespace

struct LiveServer::Shared {
  std::mutex mutex;
  std::vector<ControlInbox> inbox;
  std::unordered_map<std::uint64_t, std::size_t> waiting;  // per client: requests the run has not taken
  bool all_done = true;  // every greeted client has the whole finished log
};

// Ending it tells the broker to stop; the actor system then waits for the broker to finish.
struct LiveNetwork {
  caf::actor_system_config config;
  caf::actor_system system{network_config(config)};
  caf::actor broker;
  ~LiveNetwork() { caf::anon_send(broker, stop_atom::value); }
};

namespace {

// One viewer, inspector or controller attached to the server.
struct Connection {
  std::uint64_t id = 0;
  std::string peer;
  ClientMessages messages;
  bool greeted = false;
  bool ending = false;       // done with it (whole log sent, refused, bad input): send what is queued, then end
  bool half_closed = false;  // our side is closed; what the peer still sends is read and dropped until it closes
  bool reading = true;
  std::uint64_t offset = 0;  // log bytes handed to the network so far
  std::uint64_t unsent = 0;  // bytes handed to the network not yet on the wire
  File file;                 // the log, for a client that streams it
};

// CAF 0.17 has no half-close: with its default multiplexer a connection's handle is its socket.
int socket_of(caf::io::connection_handle hdl) { return static_cast<int>(hdl.id()); }

// The server broker's own state; only the broker touches it.
struct ServerState {
  std::shared_ptr<LiveServer::Shared> shared;
  std::string log_path;
  const FrameLogWriter* writer = nullptr;
  std::map<caf::io::connection_handle, Connection> connections;
  std::uint64_t next_id = 1;
};

// The next whole piece of the log for `connection` (its file header, a record, or the trailer
// after the last record), or "" when none is committed yet.
std::string next_log_piece(Connection& connection, const FrameLogWriter& writer) {
  const auto committed = writer.committed();
  if (connection.offset >= committed) return "";
  std::FILE* file = connection.file.get();
  std::string out;
  // The trailer after the last record (docs/FORMAT.md) goes as it is.
  if (writer.finished() && committed - connection.offset < framing::kRecordHeaderSize && connection.offset > 0) {
    out.resize(committed - connection.offset);
    std::fseek(file, static_cast<long>(connection.offset), SEEK_SET);
    if (std::fread(out.data(), 1, out.size(), file) != out.size()) return "";
    connection.offset = committed;
    return out;
  }
  char head[framing::kRecordHeaderSize];
  const std::size_t head_size = connection.offset == 0 ? framing::kFileHeaderSize : framing::kRecordHeaderSize;
  std::fseek(file, static_cast<long>(connection.offset), SEEK_SET);
  if (std::fread(head, 1, head_size, file) != head_size) return "";
  std::uint64_t total = 0;
  std::uint32_t magic = 0;
  if (connection.offset == 0) total = framing::file_header_size(head);
  else if (!framing::record_size(head, magic, total)) total = 0;
  if (total == 0 || connection.offset + total > committed) return "";
  out.resize(total);
  std::memcpy(out.data(), head, head_size);
  if (std::fread(out.data() + head_size, 1, total - head_size, file) != total - head_size) return "";
  connection.offset += total;
  return out;
}

caf::behavior serve_live(caf::io::broker* self, std::shared_ptr<ServerState> state, caf::io::doorman_ptr doorman) {
  self->add_doorman(std::move(doorman));
  auto send = [self](caf::io::connection_handle hdl, Connection& connection, const std::string& bytes) {
    self->write(hdl, bytes.size(), bytes.data());
    self->flush(hdl);
    connection.unsent += bytes.size();
  };
  // Streams what the window allows; a connection that is done ends once its last byte is on the
  // wire, with a half-close, so the peer reads everything and then the end (a full close could
  // reset the connection and lose what the peer had not read yet).
  auto pump = [state, send](caf::io::connection_handle hdl, Connection& connection) {
    const auto& writer = *state->writer;
    if (connection.greeted && !connection.ending && connection.file)
      while (connection.unsent < limits::kLiveSendWindow) {
        const auto piece = next_log_piece(connection, writer);
        if (piece.empty()) break;
        send(hdl, connection, piece);
      }
    if (connection.greeted && writer.finished() && (!connection.file || connection.offset >= writer.committed()))
      connection.ending = true;
    if (connection.ending && !connection.half_closed && connection.unsent == 0) {
      ::shutdown(socket_of(hdl), SHUT_WR);
      connection.half_closed = true;
      std::lock_guard lock(state->shared->mutex);
      state->shared->waiting.erase(connection.id);
    }
  };
  auto update_done = [state] {
    bool all_done = true;
    for (const auto& [hdl, connection] : state->connections) all_done &= !connection.greeted || connection.half_closed;
    std::lock_guard lock(state->shared->mutex);
    state->shared->all_done = all_done;
  };
  auto forget = [state](caf::io::connection_handle hdl) {
    const auto found = state->connections.find(hdl);
    if (found == state->connections.end()) return;
    {
      std::lock_guard lock(state->shared->mutex);
      state->shared->waiting.erase(found->second.id);
    }
    state->connections.erase(found);
  };
  remind_self(self, kTick, tick_atom::value);
  return {
      [self, state](const caf::io::new_connection_msg& accepted) {
        auto& connection = state->connections[accepted.handle];
        connection.id = state->next_id++;
        connection.peer = self->remote_addr(accepted.handle) + ":" + std::to_string(self->remote_port(accepted.handle));
        self->configure_read(accepted.handle, caf::io::receive_policy::at_most(kReadSize));
        self->ack_writes(accepted.handle, true);
      },
      [state, send, pump, update_done](const caf::io::new_data_msg& data) {
        const auto found = state->connections.find(data.handle);
        if (found == state->connections.end()) return;
        auto& connection = found->second;
        if (connection.ending) return;  // the rest of what it sends is dropped
        auto error = connection.messages.feed({data.buf.data(), data.buf.size()});
        if (connection.messages.hello && !connection.greeted) {
          const auto& hello = *connection.messages.hello;
          v1::ControlReply answer;
          answer.set_ok(hello.protocol() == kLiveProtocol);
          if (!answer.ok()) {
            answer.set_error("protocol mismatch: this run speaks live protocol " + std::to_string(kLiveProtocol) + ", " +
                             (hello.client().empty() ? "the client" : printable(hello.client())) + " speaks " +
                             std::to_string(hello.protocol()) + "; use matching FlowFrame versions");
            spdlog::warn("live: refusing {}: {}", connection.peer, answer.error());
            connection.ending = true;
          } else {
            spdlog::info("live: {} attached ({})", connection.peer, printable(hello.client()));
          }
          connection.greeted = true;
          if (!hello.control_only()) connection.file.reset(std::fopen(state->log_path.c_str(), "rb"));
          send(data.handle, connection, framing::record(framing::kReplyMagic, answer.SerializeAsString()));
        }
        if (!connection.messages.requests.empty() && !connection.ending) {
          std::lock_guard lock(state->shared->mutex);
          auto& waiting = state->shared->waiting[connection.id];
          waiting += connection.messages.requests.size();
          // Reading stops at the limit on the next tick; a client that sends this much more
          // before then is flooding.
          if (waiting > limits::kLiveFloodRequests && error.empty())
            error = "more than " + std::to_string(limits::kLiveFloodRequests) + " requests the run has not taken yet";
          for (auto& request : connection.messages.requests) state->shared->inbox.push_back({connection.id, std::move(request)});
        }
        connection.messages.requests.clear();
        if (!error.empty()) {
          spdlog::warn("live: closing {}: {}", connection.peer, error);
          connection.ending = true;
        }
        pump(data.handle, connection);
        update_done();
      },
      [state, pump, update_done](const caf::io::data_transferred_msg& sent) {
        const auto found = state->connections.find(sent.handle);
        if (found == state->connections.end()) return;
        found->second.unsent = sent.remaining;
        pump(sent.handle, found->second);
        update_done();
      },
      [forget, update_done](const caf::io::connection_closed_msg& closed) {
        forget(closed.handle);
        update_done();
      },
      [state, send](reply_atom, std::uint64_t client, const std::string& record) {
        for (auto& [hdl, connection] : state->connections)
          if (connection.id == client && !connection.ending) send(hdl, connection, record);
      },
      // Reading is started and stopped here only: CAF applies a stop at the end of its poll
      // cycle, so a stop and a start in one cycle could leave a connection never read again;
      // ticks are never in one cycle.
      [self, state, pump, update_done](tick_atom) {
        for (auto& [hdl, connection] : state->connections) {
          pump(hdl, connection);
          std::size_t waiting = 0;
          {
            std::lock_guard lock(state->shared->mutex);
            if (const auto found = state->shared->waiting.find(connection.id); found != state->shared->waiting.end())
              waiting = found->second;
          }
          const bool read = connection.half_closed ||
                            (waiting < limits::kLiveWaitingRequests && connection.unsent < limits::kLiveSendWindow);
          if (read != connection.reading) read ? self->trigger(hdl) : self->halt(hdl);
          connection.reading = read;
        }
        update_done();
        remind_self(self, kTick, tick_atom::value);
      },
      // The end of serving: a peer that stopped reading cannot hold the run's exit (CAF would wait
      // to send it everything), so such connections are cut.
      [self, state](stop_atom) {
        for (auto& [hdl, connection] : state->connections)
          if (connection.unsent > 0) ::shutdown(socket_of(hdl), SHUT_RDWR);
        self->quit();
      },
  };
}

}  // namespace

LiveServer::LiveServer(const std::string& address, bool allow_remote, const std::string& log_path,
                       const FrameLogWriter& writer)
    : shared_(std::make_shared<Shared>()) {
  const auto [host, port] = listen_address(address, allow_remote, "--serve", "watch and steer this run");
  network_ = std::make_unique<LiveNetwork>();
  auto doorman = network_->system.middleman().backend().new_tcp_doorman(port, host.c_str(), /*reuse_addr=*/true);
  if (!doorman) throw std::runtime_error("--serve " + address + ": " + network_error_text(network_->system, doorman.error()));
  address_ = host + ":" + std::to_string((*doorman)->port());
  auto state = std::make_shared<ServerState>();
  state->shared = shared_;
  state->log_path = log_path;
  state->writer = &writer;
  network_->broker = network_->system.middleman().spawn_broker(serve_live, state, std::move(*doorman));
}

LiveServer::~LiveServer() = default;

std::vector<ControlInbox> LiveServer::take_requests() {
  std::lock_guard lock(shared_->mutex);
  shared_->waiting.clear();
  return std::exchange(shared_->inbox, {});
}

void LiveServer::reply(std::uint64_t client, const v1::ControlReply& reply) {
  // An error may quote what the client sent; quoted whole it could outgrow a reply's limit.
  v1::ControlReply clipped = reply;
  clipped.set_error(printable(reply.error(), 1000));
  if (!network_) return;  // finished: nobody is attached any more
  caf::anon_send(network_->broker, reply_atom::value, client,
                 framing::record(framing::kReplyMagic, clipped.SerializeAsString()));
}

void LiveServer::finish(int linger_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(linger_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    {
      std::lock_guard lock(shared_->mutex);
      if (shared_->all_done) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  network_.reset();  // stops serving: whoever is still attached sees the connection close
}

// ---------------------------------------------------------------------------------------------

struct LiveClient::Shared {
  std::mutex mutex;
  std::vector<v1::ControlReply> replies;
  std::uint64_t received = 0;
  bool closed = false;
  std::string error;
};


namespace {

struct ClientState {
  std::shared_ptr<LiveClient::Shared> shared;
  File out;
  StreamPieces stream;
  bool ended = false;
};

caf::behavior receive_live(caf::io::broker* self, caf::io::connection_handle hdl, std::shared_ptr<ClientState> state,
                           std::string greeting) {
  self->configure_read(hdl, caf::io::receive_policy::at_most(kReadSize));
  self->write(hdl, greeting.size(), greeting.data());
  self->flush(hdl);
  // Ends the connection: with an error (then it is cut), or at the server's end of stream.
  auto end = [self, state, hdl](std::string error) {
    if (state->ended) return;
    state->ended = true;
    // What follows the last record (the trailer) is no record: keep it as it came.
    const auto& rest = state->stream.rest();
    std::uint64_t kept = 0;
    if (error.empty() && state->stream.log_started() && !rest.empty() && rest.size() < framing::kRecordHeaderSize) {
      std::fwrite(rest.data(), 1, rest.size(), state->out.get());
      std::fflush(state->out.get());
      kept = rest.size();
    }
    {
      std::lock_guard lock(state->shared->mutex);
      state->shared->received += kept;
      if (!error.empty()) state->shared->error = error;
      state->shared->closed = true;
    }
    // A server that stopped reading us must not keep our requests (and this process) waiting.
    if (!error.empty()) ::shutdown(socket_of(hdl), SHUT_RDWR);
    self->close(hdl);
    self->quit();
  };
  return {
      [state, end](const caf::io::new_data_msg& data) {
        std::vector<StreamPieces::Piece> pieces;
        auto error = state->stream.feed({data.buf.data(), data.buf.size()}, pieces);
        for (const auto& piece : pieces) {
          if (piece.reply) {
            v1::ControlReply reply;
            if (!reply.ParseFromString(piece.bytes)) {
              error = "a control reply that does not parse";
              break;
            }
            std::lock_guard lock(state->shared->mutex);
            if (reply.id() == 0 && !reply.ok()) state->shared->error = reply.error();
            state->shared->replies.push_back(std::move(reply));
          } else {
            std::fwrite(piece.bytes.data(), 1, piece.bytes.size(), state->out.get());
            std::fflush(state->out.get());
            std::lock_guard lock(state->shared->mutex);
            state->shared->received += piece.bytes.size();
          }
        }
        if (!error.empty()) end(error);
      },
      [self, hdl](const std::string& request) {
        self->write(hdl, request.size(), request.data());
        self->flush(hdl);
      },
      [end](const caf::io::connection_closed_msg&) { end(""); },
      [end](stop_atom) { end("the connection was closed"); },
  };
}

}  // namespace

LiveClient::LiveClient(const std::string& address, const std::string& file, std::string name, bool control_only)
    : file_(file), shared_(std::make_shared<Shared>()) {
  const auto [host, port] = parse_address(address);
  auto state = std::make_shared<ClientState>();
  state->shared = shared_;
  state->out.reset(std::fopen(file_.c_str(), "wb"));
  if (!state->out) throw std::runtime_error(file_ + ": cannot write: " + std::strerror(errno));
  v1::Hello hello;
  hello.set_protocol(kLiveProtocol);
  hello.set_client(std::move(name));
  hello.set_control_only(control_only);
  network_ = std::make_unique<LiveNetwork>();
  auto broker = network_->system.middleman().spawn_client(receive_live, host, port, state,
                                                          std::string(kHelloMagic, sizeof kHelloMagic) + framed(hello));
  if (!broker) {
    const auto reason = network_error_text(network_->system, broker.error());
    state->out.reset();
    std::remove(file_.c_str());
    throw std::runtime_error(address + ": cannot connect: " + reason + " (is `flowframe run … --serve " + address +
                             "` running?)");
  }
  network_->broker = *broker;
}

LiveClient::~LiveClient() = default;

void LiveClient::send(const v1::ControlRequest& request) {
  {
    std::lock_guard lock(shared_->mutex);
    if (shared_->closed) {
      if (shared_->error.empty()) shared_->error = "the connection dropped";
      return;
    }
  }
  caf::anon_send(network_->broker, framed(request));
}

std::vector<v1::ControlReply> LiveClient::take_replies() {
  std::lock_guard lock(shared_->mutex);
  return std::exchange(shared_->replies, {});
}

std::uint64_t LiveClient::received() const {
  std::lock_guard lock(shared_->mutex);
  return shared_->received;
}

bool LiveClient::closed() const {
  std::lock_guard lock(shared_->mutex);
  return shared_->closed;
}

std::string LiveClient::error() const {
  std::lock_guard lock(shared_->mutex);
  return shared_->error;
}

}  // namespace flowframe
