#include "runtime/live/live.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <charconv>
#include <chrono>
#include <cmath>
#include <cstring>
#include <stdexcept>

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

sockaddr_in socket_address(const std::string& address) {
  const auto [host, port] = parse_address(address);
  sockaddr_in out{};
  out.sin_family = AF_INET;
  out.sin_port = htons(port);
  if (inet_pton(AF_INET, host.c_str(), &out.sin_addr) != 1)
    throw std::invalid_argument("'" + host + "' is not an IPv4 address (e.g. 127.0.0.1)");
  return out;
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

struct LiveServer::Client {
  std::uint64_t id;
  int fd;
  std::string peer;
  ClientMessages messages;
  std::size_t waiting_requests = 0;  // in the inbox, not yet taken by the run
  bool greeted = false;
  bool done = false;      // has the whole finished log
  bool closing = false;   // send what is queued, then close
  std::string out;
  std::size_t out_sent = 0;
  std::uint64_t offset = 0;  // log bytes queued so far
  File file;
  std::vector<v1::ControlReply> replies;
  ~Client() {
    if (fd >= 0) ::close(fd);
  }
};

LiveServer::LiveServer(const std::string& address, bool allow_remote, const std::string& log_path,
                       const FrameLogWriter& writer)
    : log_path_(log_path), writer_(writer) {
  sockaddr_in bind_to = socket_address(address);
  const bool loopback = (ntohl(bind_to.sin_addr.s_addr) >> 24) == 127;
  if (!loopback && !allow_remote)
    throw std::runtime_error("--serve " + address + ": not a loopback address; add --allow-remote to serve other hosts");
  if (!loopback) spdlog::warn("serving on {}: anyone who can reach it can watch and steer this run", address);
  listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  const int yes = 1;
  ::setsockopt(listener_, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  if (listener_ < 0 || ::bind(listener_, reinterpret_cast<sockaddr*>(&bind_to), sizeof bind_to) != 0 ||
      ::listen(listener_, 16) != 0) {
    const std::string reason = std::strerror(errno);
    if (listener_ >= 0) ::close(listener_);
    throw std::runtime_error("--serve " + address + ": " + reason);
  }
  socklen_t length = sizeof bind_to;
  ::getsockname(listener_, reinterpret_cast<sockaddr*>(&bind_to), &length);
  char host[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, &bind_to.sin_addr, host, sizeof host);
  address_ = std::string(host) + ":" + std::to_string(ntohs(bind_to.sin_port));
  if (::pipe2(wake_, O_NONBLOCK | O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
  thread_ = std::thread([this] { loop(); });
}

LiveServer::~LiveServer() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  const char byte = 0;
  [[maybe_unused]] auto ignored = ::write(wake_[1], &byte, 1);
  if (thread_.joinable()) thread_.join();
  ::close(listener_);
  ::close(wake_[0]);
  ::close(wake_[1]);
}

std::vector<ControlInbox> LiveServer::take_requests() {
  std::lock_guard lock(mutex_);
  for (auto& client : clients_) client->waiting_requests = 0;
  return std::exchange(inbox_, {});
}

void LiveServer::reply(std::uint64_t client, const v1::ControlReply& reply) {
  {
    std::lock_guard lock(mutex_);
    for (auto& c : clients_)
      if (c->id == client) {
        // An error may quote what the client sent; quoted whole it could outgrow a reply's limit.
        c->replies.push_back(reply);
        c->replies.back().set_error(printable(reply.error(), 1000));
      }
  }
  const char byte = 0;
  [[maybe_unused]] auto ignored = ::write(wake_[1], &byte, 1);
}

void LiveServer::finish(int linger_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(linger_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    {
      std::lock_guard lock(mutex_);
      bool all_done = true;
      for (const auto& client : clients_) all_done &= client->done || !client->greeted;
      if (all_done) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::lock_guard lock(mutex_);
  stopping_ = true;
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

// Reads what the client sent, taking each complete message as soon as it is whole, so any number
// of small messages in one poll is fine and only a single message may not exceed its limit.
// Returns false when the connection must close (reason logged).
bool LiveServer::read_from(Client& client) {
  char buffer[4096];
  // A flood is read a poll at a time and only while the run keeps up with what was taken: the
  // rest waits in the socket (TCP pushes back on the sender), the lock is let go, the run goes on.
  for (std::size_t read = 0; read < limits::kControlBytes && client.waiting_requests < kMaxWaitingRequests;) {
    const auto n = ::recv(client.fd, buffer, sizeof buffer, MSG_DONTWAIT);
    if (n == 0) return false;  // gone
    if (n < 0) return true;
    read += static_cast<std::size_t>(n);
    const auto error = client.messages.feed({buffer, static_cast<std::size_t>(n)});
    if (client.messages.hello && !client.greeted) {
      const auto& hello = *client.messages.hello;
      v1::ControlReply answer;
      answer.set_ok(hello.protocol() == kLiveProtocol);
      if (!answer.ok()) {
        answer.set_error("protocol mismatch: this run speaks live protocol " + std::to_string(kLiveProtocol) + ", " +
                         (hello.client().empty() ? "the client" : printable(hello.client())) + " speaks " +
                         std::to_string(hello.protocol()) + "; use matching FlowFrame versions");
        spdlog::warn("live: refusing {}: {}", client.peer, answer.error());
        client.closing = true;
      } else {
        spdlog::info("live: {} attached ({})", client.peer, printable(hello.client()));
      }
      client.replies.push_back(answer);
      client.greeted = true;
      if (!hello.control_only()) client.file.reset(std::fopen(log_path_.c_str(), "rb"));
    }
    for (auto& request : client.messages.requests) inbox_.push_back({client.id, std::move(request)});
    client.waiting_requests += client.messages.requests.size();
    client.messages.requests.clear();
    if (!error.empty()) {
      spdlog::warn("live: closing {}: {}", client.peer, error);
      return false;
    }
  }
  return true;
}

// Queues and sends as much as the socket takes: replies and whole records of the log.
void LiveServer::serve(Client& client) {
  while (true) {
    if (client.out_sent < client.out.size()) {
      const auto n = ::send(client.fd, client.out.data() + client.out_sent, client.out.size() - client.out_sent,
                            MSG_DONTWAIT | MSG_NOSIGNAL);
      if (n > 0) client.out_sent += static_cast<std::size_t>(n);
      if (client.out_sent < client.out.size()) return;  // the socket is full: a slow reader waits, the run does not
    }
    client.out.clear();
    client.out_sent = 0;
    if (!client.replies.empty()) {
      client.out = framing::record(framing::kReplyMagic, client.replies.front().SerializeAsString());
      client.replies.erase(client.replies.begin());
      continue;
    }
    if (!client.greeted || client.closing) return;
    if (!client.file) {  // control only: nothing to stream
      client.done = writer_.finished();
      return;
    }
    const auto committed = writer_.committed();
    if (client.offset >= committed) {
      client.done = writer_.finished();
      return;
    }
    // The trailer after the last record (docs/FORMAT.md) goes as it is.
    if (writer_.finished() && committed - client.offset < framing::kRecordHeaderSize && client.offset > 0) {
      client.out.resize(committed - client.offset);
      std::fseek(client.file.get(), static_cast<long>(client.offset), SEEK_SET);
      if (std::fread(client.out.data(), 1, client.out.size(), client.file.get()) != client.out.size()) {
        client.out.clear();
        return;
      }
      client.offset = committed;
      continue;
    }
    // One whole file header or record at a time, so replies fall between records.
    char head[framing::kRecordHeaderSize];
    const std::size_t head_size = client.offset == 0 ? framing::kFileHeaderSize : framing::kRecordHeaderSize;
    std::fseek(client.file.get(), static_cast<long>(client.offset), SEEK_SET);
    if (std::fread(head, 1, head_size, client.file.get()) != head_size) return;
    std::uint64_t total = 0;
    std::uint32_t magic = 0;
    if (client.offset == 0) total = framing::file_header_size(head);
    else if (!framing::record_size(head, magic, total)) total = 0;
    if (total == 0 || client.offset + total > committed) return;
    client.out.resize(total);
    std::memcpy(client.out.data(), head, head_size);
    if (std::fread(client.out.data() + head_size, 1, total - head_size, client.file.get()) != total - head_size) {
      client.out.clear();
      return;
    }
    client.offset += total;
  }
}

void LiveServer::loop() {
  std::vector<pollfd> fds;
  while (true) {
    fds.clear();
    fds.push_back({listener_, POLLIN, 0});
    fds.push_back({wake_[0], POLLIN, 0});
    {
      std::lock_guard lock(mutex_);
      if (stopping_) break;
      for (const auto& client : clients_) {
        const bool sending = client->out_sent < client->out.size();
        fds.push_back({client->fd, static_cast<short>(POLLIN | (sending ? POLLOUT : 0)), 0});
      }
    }
    ::poll(fds.data(), fds.size(), 20);  // also wakes to stream what the writer committed meanwhile
    char drain[64];
    while (::read(wake_[0], drain, sizeof drain) > 0) {
    }
    std::lock_guard lock(mutex_);
    sockaddr_in peer{};
    socklen_t length = sizeof peer;
    for (int fd; (fd = ::accept4(listener_, reinterpret_cast<sockaddr*>(&peer), &length, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0;
         length = sizeof peer) {
      char host[INET_ADDRSTRLEN];
      inet_ntop(AF_INET, &peer.sin_addr, host, sizeof host);
      auto client = std::make_unique<Client>();
      client->id = next_client_++;
      client->fd = fd;
      client->peer = std::string(host) + ":" + std::to_string(ntohs(peer.sin_port));
      clients_.push_back(std::move(client));
    }
    for (auto& client : clients_) {
      if (client->fd < 0) continue;
      if (!read_from(*client)) {
        ::close(client->fd);
        client->fd = -1;
        continue;
      }
      serve(*client);
      // A client that does not read its replies cannot make the server hold them without bound.
      if (client->replies.size() > limits::kQueuedReplies) {
        spdlog::warn("live: closing {}: {} replies it does not read", client->peer, client->replies.size());
        ::close(client->fd);
        client->fd = -1;
        continue;
      }
      if ((client->closing && client->out.empty() && client->replies.empty()) || (client->done && client->out.empty())) {
        ::shutdown(client->fd, SHUT_WR);  // the whole log sent: the reader sees the end
        if (client->closing) {
          ::close(client->fd);
          client->fd = -1;
        }
      }
    }
    std::erase_if(clients_, [](const auto& client) { return client->fd < 0; });
  }
  std::lock_guard lock(mutex_);
  clients_.clear();
}

// ---------------------------------------------------------------------------------------------

LiveClient::LiveClient(const std::string& address, const std::string& file, std::string name, bool control_only)
    : file_(file) {
  sockaddr_in to = socket_address(address);
  socket_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (socket_ < 0 || ::connect(socket_, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0) {
    const std::string reason = std::strerror(errno);
    if (socket_ >= 0) ::close(socket_);
    throw std::runtime_error(address + ": cannot connect: " + reason + " (is `flowframe run … --serve " + address + "` running?)");
  }
  std::FILE* out = std::fopen(file_.c_str(), "wb");
  if (!out) throw std::runtime_error(file_ + ": cannot write: " + std::strerror(errno));
  std::fclose(out);
  v1::Hello hello;
  hello.set_protocol(kLiveProtocol);
  hello.set_client(std::move(name));
  hello.set_control_only(control_only);
  const std::string greeting = std::string(kHelloMagic, sizeof kHelloMagic) + framed(hello);
  if (::send(socket_, greeting.data(), greeting.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(greeting.size()))
    throw std::runtime_error(address + ": the connection dropped");
  thread_ = std::thread([this] { loop(); });
}

LiveClient::~LiveClient() {
  ::shutdown(socket_, SHUT_RDWR);
  if (thread_.joinable()) thread_.join();
  ::close(socket_);
}

void LiveClient::send(const v1::ControlRequest& request) {
  const std::string bytes = framed(request);
  std::lock_guard lock(mutex_);
  if (::send(socket_, bytes.data(), bytes.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(bytes.size()))
    error_ = "the connection dropped";
}

std::vector<v1::ControlReply> LiveClient::take_replies() {
  std::lock_guard lock(mutex_);
  return std::exchange(replies_, {});
}

std::uint64_t LiveClient::received() const {
  std::lock_guard lock(mutex_);
  return received_;
}

bool LiveClient::closed() const {
  std::lock_guard lock(mutex_);
  return closed_;
}

std::string LiveClient::error() const {
  std::lock_guard lock(mutex_);
  return error_;
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

void LiveClient::loop() {
  const File out{std::fopen(file_.c_str(), "ab")};
  StreamPieces stream;
  std::vector<StreamPieces::Piece> pieces;
  char buffer[1 << 16];
  std::string error = out ? "" : file_ + ": cannot write: " + std::strerror(errno);
  while (error.empty()) {
    const auto n = ::recv(socket_, buffer, sizeof buffer, 0);
    if (n <= 0) break;
    pieces.clear();
    error = stream.feed({buffer, static_cast<std::size_t>(n)}, pieces);
    for (const auto& piece : pieces) {
      if (piece.reply) {
        v1::ControlReply reply;
        if (!reply.ParseFromString(piece.bytes)) {
          error = "a control reply that does not parse";
          break;
        }
        std::lock_guard lock(mutex_);
        if (reply.id() == 0 && !reply.ok()) error_ = reply.error();
        replies_.push_back(std::move(reply));
      } else {
        std::fwrite(piece.bytes.data(), 1, piece.bytes.size(), out.get());
        std::fflush(out.get());
        std::lock_guard lock(mutex_);
        received_ += piece.bytes.size();
      }
    }
  }
  if (!error.empty()) ::shutdown(socket_, SHUT_RDWR);
  // What follows the last record (the trailer) is no record: keep it as it came.
  const auto& rest = stream.rest();
  if (error.empty() && stream.log_started() && !rest.empty() && rest.size() < framing::kRecordHeaderSize) {
    std::fwrite(rest.data(), 1, rest.size(), out.get());
    std::lock_guard lock(mutex_);
    received_ += rest.size();
  }
  std::lock_guard lock(mutex_);
  if (!error.empty()) error_ = error;
  closed_ = true;
}

}  // namespace flowframe
