// Live: attach to a running simulation over loopback, steer it, and misbehave at it.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sys/wait.h>

#include <algorithm>
#include <future>
#include <thread>

#include <xxhash.h>

#include <cstring>

#include "runtime/live/live.hpp"
#include "support.hpp"

namespace flowframe {
namespace {

// A served run on its own thread; address() is known once it serves.
class ServedRun {
 public:
  ServedRun(const std::string& scenario, const std::string& log, double speed, bool paused = false,
            std::vector<std::string> overrides = {}, int linger_ms = 3000) {
    RunOptions options;
    options.out_path = log;
    options.serve = "127.0.0.1:0";
    options.speed = speed;
    options.start_paused = paused;
    options.linger_ms = linger_ms;
    options.on_serving = [this](const std::string& address) { address_.set_value(address); };
    run_ = std::async(std::launch::async, [scenario, options, overrides] {
      return test::run_scenario(scenario, overrides, options).summary;
    });
    address = address_.get_future().get();
  }
  nlohmann::ordered_json wait() { return run_.get(); }
  std::string address;

 private:
  std::promise<std::string> address_;
  std::future<nlohmann::ordered_json> run_;
};

// Sends `request` with `id` and waits (up to 5 s) for its reply.
v1::ControlReply ask_run(LiveClient& client, v1::ControlRequest request, std::uint64_t id) {
  request.set_id(id);
  client.send(request);
  for (int i = 0; i < 500; ++i) {
    for (const auto& reply : client.take_replies())
      if (reply.id() == id) return reply;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ADD_FAILURE() << "no reply to " << request.ShortDebugString();
  return v1::ControlReply{};
}

void wait_closed(const LiveClient& client) {
  for (int i = 0; i < 1000 && !client.closed(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
}

TEST(Live, AttachMidRunReceivesExactlyTheLog) {
  test::TempPath log(".ffl"), received(".ffl");
  ServedRun run("load_balancing_failover", log.str(), 6.0);  // about half a second of wall time
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  LiveClient client(run.address, received.str(), "test");
  run.wait();
  wait_closed(client);
  EXPECT_TRUE(client.error().empty()) << client.error();
  const auto bytes = test::read_file(log.str());
  ASSERT_GT(bytes.size(), 1000u);
  EXPECT_TRUE(test::read_file(received.str()) == bytes);  // from the start, then live, to the end
  EXPECT_EQ(test::read_file(received.str()).size(), bytes.size());
  FrameLogReader reader(received.str());
  EXPECT_TRUE(reader.health().ok());
}

TEST(Live, ControlTakesEffectAtALogicalTimeAndIsInTheLog) {
  test::TempPath log(".ffl"), received(".ffl");
  ServedRun run("load_balancing", log.str(), 0, /*paused=*/true, {"stop.requests=300", "workload.rate=120"});
  LiveClient client(run.address, received.str(), "test");
  auto ask = [&](v1::ControlRequest request, std::uint64_t id) { return ask_run(client, std::move(request), id); };
  v1::ControlRequest step;
  step.set_step(200);
  EXPECT_TRUE(ask(step, 1).ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // it pauses again after 200 frames
  v1::ControlRequest unknown;
  unknown.set_node("server-9");
  unknown.mutable_set()->set_field("capacity");
  unknown.mutable_set()->set_value("0");
  const auto refused = ask(unknown, 2);
  EXPECT_FALSE(refused.ok());
  EXPECT_EQ(refused.error(), "unknown node 'server-9'");
  v1::ControlRequest bad_field = unknown;
  bad_field.set_node("server-2");
  bad_field.mutable_set()->set_field("colour");
  EXPECT_NE(ask(bad_field, 3).error().find("cannot change during a run"), std::string::npos);
  v1::ControlRequest down = unknown;
  down.set_node("server-2");
  const auto accepted = ask(down, 4);
  ASSERT_TRUE(accepted.ok()) << accepted.error();
  const Time at = accepted.at_ns();
  EXPECT_GT(at, 0);
  v1::ControlRequest resume;
  resume.set_resume(true);
  EXPECT_TRUE(ask(resume, 5).ok());
  run.wait();
  wait_closed(client);
  const NodeIndex server2 = 7;
  int control_frames = 0, requests_after = 0;
  for (const auto& view : test::read_frames(log.str())) {
    const auto& f = view.frame;
    if (f.kind() == v1::Frame::CONTROL && f.dst() == server2 && f.note() == "capacity=0") {
      EXPECT_EQ(view.time, at);
      ++control_frames;
    }
    if (f.kind() == v1::Frame::REQUEST && f.dst() == server2 && view.sent >= at) ++requests_after;
  }
  EXPECT_EQ(control_frames, 1);
  EXPECT_EQ(requests_after, 0);  // nothing is sent to server-2 once it is down
  EXPECT_TRUE(test::read_file(received.str()) == test::read_file(log.str()));

  // Replaying the steered log's changes at their logical times writes the very same log.
  test::TempPath replay(".ffl");
  RunOptions options;
  options.out_path = replay.str();
  options.scheduled_controls = controls_from_log(log.str());
  options.live_chunks = true;
  ASSERT_EQ(options.scheduled_controls.size(), 1u);
  EXPECT_EQ(options.scheduled_controls[0].first, at);
  test::run_scenario("load_balancing", {"stop.requests=300", "workload.rate=120"}, options);
  EXPECT_TRUE(test::read_file(replay.str()) == test::read_file(log.str()));
}

std::string framed_message(const google::protobuf::Message& message) {
  const std::string body = message.SerializeAsString();
  const auto length = static_cast<std::uint32_t>(body.size());
  return std::string(reinterpret_cast<const char*>(&length), 4) + body;
}

// What a client says first: the magic, then its Hello.
std::string greeting_of(const v1::Hello& hello) { return std::string(kHelloMagic, 4) + framed_message(hello); }

// A raw connection; `receive_buffer` > 0 shrinks its socket's receive buffer (a slow reader).
int connect_to(const std::string& address, int receive_buffer = 0) {
  const auto [host, port] = parse_address(address);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(port);
  inet_pton(AF_INET, host.c_str(), &to.sin_addr);
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (receive_buffer > 0) ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);
  EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to), 0);
  return fd;
}

// Bursts asked for at one moment add up to at most limits::kBurst extra requests, however many
// requests ask: a peer cannot pile them up while the run is paused.
TEST(Live, BurstsAtOneMomentShareOneLimit) {
  test::TempPath log(".ffl"), received(".ffl");
  ServedRun run("load_balancing", log.str(), 0, /*paused=*/true, {"stop.requests=8"}, 100);
  LiveClient client(run.address, received.str(), "test", /*control_only=*/true);
  auto ask = [&](const std::vector<std::string>& words, std::uint64_t id) { return ask_run(client, parse_control(words), id); };
  const auto failed = ask({"fail", "server"}, 1);
  EXPECT_TRUE(failed.ok()) << failed.error();  // failed servers answer the bursts at once: a short run
  EXPECT_TRUE(ask({"burst", "client", "15000"}, 2).ok());  // 4 clients: 60,000
  const auto refused = ask({"burst", "client", "15000"}, 3);
  EXPECT_FALSE(refused.ok());
  EXPECT_NE(refused.error().find("more than 100000 requests at once with the 60000 asked for already"), std::string::npos)
      << refused.error();
  EXPECT_TRUE(ask({"burst", "client", "10000"}, 4).ok());  // 100,000 in all
  EXPECT_FALSE(ask({"burst", "client-1", "1"}, 5).ok());
  EXPECT_TRUE(ask({"step", "1"}, 6).ok());  // the run moves on: a new moment, a new budget
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  const auto later = ask({"burst", "client-1", "7"}, 7);
  EXPECT_TRUE(later.ok()) << later.error();
  EXPECT_TRUE(ask({"resume"}, 8).ok());
  const auto summary = run.wait();
  EXPECT_EQ(summary["requests"]["sent"].get<std::uint64_t>(), 8u + 100000u + 7u);
}

// A viewer that stops reading while more log waits for it than the sockets hold: the run still
// ends after its linger time (CAF would otherwise wait to send it everything, for ever).
TEST(Live, AFrozenReaderCannotHoldTheRunsExit) {
  test::TempPath log(".ffl");
  ServedRun run("load_balancing", log.str(), 0, false, {"stop.requests=60000", "workload.rate=120", "server.queue_limit=100000"}, 100);
  const int frozen = connect_to(run.address, 4096);
  v1::Hello hello;
  hello.set_protocol(kLiveProtocol);
  const std::string greeting = greeting_of(hello);
  ASSERT_EQ(::send(frozen, greeting.data(), greeting.size(), MSG_NOSIGNAL), static_cast<ssize_t>(greeting.size()));
  const auto summary = run.wait();  // returns: the frozen reader was cut
  EXPECT_EQ(summary["requests"]["sent"].get<int>(), 60000);
  EXPECT_GT(test::read_file(log.str()).size(), 6u << 20);  // more than loopback's buffers hold
  ::close(frozen);
}

// Garbage, an oversized message, a reader that never reads and one that leaves mid-run change
// nothing: the run completes and its log is byte-identical to one nobody watched.
TEST(Live, MisbehavingViewersNeverChangeOrStallTheRun) {
  const std::vector<std::string> load{"stop.requests=3000", "workload.rate=400"};
  test::TempPath quiet_log(".ffl"), busy_log(".ffl"), leaver(".ffl");
  ServedRun quiet("load_balancing", quiet_log.str(), 20.0, false, load, 100);
  quiet.wait();
  ServedRun busy("load_balancing", busy_log.str(), 20.0, false, load, 100);
  const int garbage = connect_to(busy.address);
  ASSERT_GT(::send(garbage, "GET / HTTP/1.1\r\n\r\n", 18, MSG_NOSIGNAL), 0);
  const int oversized = connect_to(busy.address);
  std::string huge = std::string(kHelloMagic, 4) + std::string("\xff\xff\xff\x7f", 4);
  ASSERT_GT(::send(oversized, huge.data(), huge.size(), MSG_NOSIGNAL), 0);
  const int sleeper = connect_to(busy.address);  // says hello, then never reads
  v1::Hello hello;
  hello.set_protocol(kLiveProtocol);
  std::string greeting = greeting_of(hello);
  ASSERT_GT(::send(sleeper, greeting.data(), greeting.size(), MSG_NOSIGNAL), 0);
  {
    LiveClient leaving(busy.address, leaver.str(), "test");
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }  // disconnects mid-run
  const auto summary = busy.wait();
  EXPECT_EQ(summary["requests"]["sent"].get<int>(), 3000);
  EXPECT_TRUE(test::read_file(busy_log.str()) == test::read_file(quiet_log.str()));
  char byte;
  EXPECT_EQ(::recv(garbage, &byte, 1, 0), 0);  // the server closed those connections
  EXPECT_EQ(::recv(oversized, &byte, 1, 0), 0);
  ::close(garbage);
  ::close(oversized);
  ::close(sleeper);
}

// Reads replies (records of framing::kReplyMagic) from a control-only connection until `count`
// arrived or the connection closed.
std::vector<v1::ControlReply> read_replies(int fd, std::size_t count) {
  std::vector<v1::ControlReply> replies;
  std::string in;
  char buffer[4096];
  while (replies.size() < count) {
    const auto n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n <= 0) break;
    in.append(buffer, static_cast<std::size_t>(n));
    std::uint32_t magic;
    std::uint64_t total;
    while (in.size() >= framing::kRecordHeaderSize && framing::record_size(in.data(), magic, total) && in.size() >= total) {
      replies.emplace_back().ParseFromArray(in.data() + framing::kRecordHeaderSize, static_cast<int>(total - framing::kRecordHeaderSize));
      in.erase(0, total);
    }
  }
  return replies;
}

TEST(Live, AGreetingInPiecesAndManySmallRequestsAtOnceAreServed) {
  test::TempPath log(".ffl");
  ServedRun run("load_balancing", log.str(), 0, /*paused=*/true, {}, 100);
  const int fd = connect_to(run.address);
  v1::Hello hello;
  hello.set_protocol(kLiveProtocol);
  hello.set_control_only(true);
  const std::string greeting = greeting_of(hello);
  for (const char byte : greeting) {  // once refused as a bad greeting when split
    ASSERT_EQ(::send(fd, &byte, 1, MSG_NOSIGNAL), 1);
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  auto replies = read_replies(fd, 1);
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_TRUE(replies[0].ok()) << replies[0].error();
  // 200 requests of about 500 bytes in one send: 100 KiB, more than one message may be, and each answered.
  std::string burst;
  for (int i = 1; i <= 200; ++i) {
    v1::ControlRequest request;
    request.set_id(static_cast<std::uint64_t>(i));
    request.set_node("server-1");
    request.mutable_set()->set_field(std::string(480, 'f'));
    request.mutable_set()->set_value("1");
    burst += framed_message(request);
  }
  ASSERT_GT(burst.size(), 64u * 1024);
  ASSERT_EQ(::send(fd, burst.data(), burst.size(), MSG_NOSIGNAL), static_cast<ssize_t>(burst.size()));
  replies = read_replies(fd, 200);
  ASSERT_EQ(replies.size(), 200u);
  EXPECT_EQ(replies.back().id(), 200u);
  EXPECT_FALSE(replies.back().ok());  // no such field: refused, with the reason
  EXPECT_NE(replies.back().error().find("cannot change during a run"), std::string::npos) << replies.back().error();
  // An error quoting a 60,000-character field stays within what a reply may be.
  v1::ControlRequest long_field;
  long_field.set_id(201);
  long_field.set_node("server-1");
  long_field.mutable_set()->set_field(std::string(60000, 'f'));
  long_field.mutable_set()->set_value("1");
  const auto long_bytes = framed_message(long_field);
  ASSERT_EQ(::send(fd, long_bytes.data(), long_bytes.size(), MSG_NOSIGNAL), static_cast<ssize_t>(long_bytes.size()));
  replies = read_replies(fd, 1);
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_EQ(replies[0].id(), 201u);
  EXPECT_LT(replies[0].error().size(), 1100u);
  // A flood of 3,000 tiny requests in one go: read a poll at a time while the run keeps up, each answered.
  std::string flood;
  for (int i = 0; i < 3000; ++i) {
    v1::ControlRequest pause;
    pause.set_id(static_cast<std::uint64_t>(1000 + i));
    pause.set_pause(true);
    flood += framed_message(pause);
  }
  ASSERT_EQ(::send(fd, flood.data(), flood.size(), MSG_NOSIGNAL), static_cast<ssize_t>(flood.size()));
  replies = read_replies(fd, 3000);
  ASSERT_EQ(replies.size(), 3000u);
  EXPECT_EQ(replies.back().id(), 3999u);
  v1::ControlRequest resume;
  resume.set_resume(true);
  const auto bytes = framed_message(resume);
  ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
  run.wait();
  ::close(fd);
}

// The client end against a server that lies: it must stop with a reason, never read past what
// arrived or buffer whatever size a header claims.
TEST(Live, AServerThatLiesIsRefusedWithoutOverreadingOrHoarding) {
  test::TempPath real(".ffl");
  RunOptions options;
  options.out_path = real.str();
  test::run_scenario("load_balancing", {}, options);
  const auto log = test::read_file(real.str());
  auto reply = framing::record(framing::kReplyMagic, "");
  std::string huge_reply = reply;
  const std::uint32_t gigabyte = 1u << 30;
  std::memcpy(huge_reply.data() + 8, &gigabyte, 4);  // payload_size, then the header hash again
  const std::uint64_t hash = XXH3_64bits(huge_reply.data(), 56);
  std::memcpy(huge_reply.data() + 56, &hash, 8);
  std::string huge_header = log.substr(0, framing::kFileHeaderSize);
  const std::uint32_t four_gigabytes = 0xFFFFFFF0u;
  std::memcpy(huge_header.data() + 12, &four_gigabytes, 4);
  for (const auto& [sent, expected] : std::vector<std::pair<std::string, std::string>>{
           {std::string(100, 'x'), "not a FlowFrame live stream"},
           {reply.substr(0, 40), ""},  // a short reply header, then the end: nothing to read past
           {huge_reply, "beyond the limit"},
           {huge_header, "beyond the limit"},
           {log.substr(0, framing::file_header_size(log.data())) + std::string(200, '\x55'), "the stream is corrupted"}}) {
    const int listener = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in at{};
    at.sin_family = AF_INET;
    at.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&at), sizeof at), 0);
    ASSERT_EQ(::listen(listener, 1), 0);
    socklen_t length = sizeof at;
    ::getsockname(listener, reinterpret_cast<sockaddr*>(&at), &length);
    test::TempPath received(".ffl");
    LiveClient client("127.0.0.1:" + std::to_string(ntohs(at.sin_port)), received.str(), "test");
    const int peer = ::accept(listener, nullptr, nullptr);
    ::send(peer, sent.data(), sent.size(), MSG_NOSIGNAL);
    if (expected.empty()) ::shutdown(peer, SHUT_WR);
    wait_closed(client);
    EXPECT_TRUE(client.closed());
    if (!expected.empty()) {
      EXPECT_NE(client.error().find(expected), std::string::npos) << client.error();
    }
    EXPECT_LE(test::read_file(received.str()).size(), 5000u);
    ::close(peer);
    ::close(listener);
  }
}

TEST(Live, MismatchedProtocolIsToldWhy) {
  test::TempPath log(".ffl");
  ServedRun run("load_balancing", log.str(), 0, /*paused=*/true);
  const int fd = connect_to(run.address);
  v1::Hello hello;
  hello.set_protocol(kLiveProtocol + 1);
  hello.set_client("viewer 9");
  const std::string greeting = greeting_of(hello);
  ASSERT_GT(::send(fd, greeting.data(), greeting.size(), MSG_NOSIGNAL), 0);
  std::string answer;
  char buffer[4096];
  for (ssize_t n; (n = ::recv(fd, buffer, sizeof buffer, 0)) > 0;) answer.append(buffer, static_cast<std::size_t>(n));
  ::close(fd);
  ASSERT_GT(answer.size(), framing::kRecordHeaderSize);
  std::uint32_t magic = 0;
  std::uint64_t total = 0;
  ASSERT_TRUE(framing::record_size(answer.data(), magic, total));
  EXPECT_EQ(magic, framing::kReplyMagic);
  v1::ControlReply reply;
  ASSERT_TRUE(reply.ParseFromArray(answer.data() + framing::kRecordHeaderSize, static_cast<int>(total - framing::kRecordHeaderSize)));
  EXPECT_FALSE(reply.ok());
  EXPECT_NE(reply.error().find("protocol mismatch: this run speaks live protocol 1, viewer 9 speaks 2"), std::string::npos)
      << reply.error();
  // Let the paused run finish.
  test::TempPath control_file(".ffl");
  LiveClient control(run.address, control_file.str(), "test");
  v1::ControlRequest resume;
  resume.set_resume(true);
  control.send(resume);
  run.wait();
}

TEST(Live, ServingBeyondLoopbackNeedsConsent) {
  test::TempPath log(".ffl");
  RunOptions options;
  options.out_path = log.str();
  options.serve = "0.0.0.0:0";
  try {
    test::run_scenario("load_balancing", {}, options);
    FAIL() << "served on every interface without --allow-remote";
  } catch (const std::runtime_error& error) {
    EXPECT_NE(std::string(error.what()).find("add --allow-remote"), std::string::npos) << error.what();
  }
}

}  // namespace
}  // namespace flowframe

namespace flowframe {
namespace {

using test::shell;

TEST(LiveCli, InspectAndControlFromTheShell) {
  test::TempPath log(".ffl");
  ServedRun run("load_balancing", log.str(), 0, /*paused=*/true);
  auto inspect = std::async(std::launch::async, [&] {
    return shell(std::string(FLOWFRAME_BIN) + " inspect " + run.address + " --json");
  });
  const std::string control = std::string(FLOWFRAME_BIN) + " control " + run.address + " ";
  auto [code, said] = shell(control + "set server-9.capacity=0");
  EXPECT_EQ(code, 2);
  EXPECT_NE(said.find("error: unknown node 'server-9'"), std::string::npos) << said;
  std::tie(code, said) = shell(control + "step zero");
  EXPECT_EQ(code, 2);
  EXPECT_NE(said.find("N must be a whole number, got 'zero'"), std::string::npos) << said;
  std::tie(code, said) = shell(control + "resume");
  EXPECT_EQ(code, 0) << said;
  EXPECT_NE(said.find("ok: resume at simulated time"), std::string::npos) << said;
  const auto summary = run.wait();
  const auto [inspect_code, lines] = inspect.get();
  EXPECT_EQ(inspect_code, 0) << lines;
  EXPECT_EQ(static_cast<std::uint64_t>(std::count(lines.begin(), lines.end(), '\n')), summary["frames"].get<std::uint64_t>());
  std::tie(code, said) = shell(std::string(FLOWFRAME_BIN) + " control 127.0.0.1:1 pause");
  EXPECT_EQ(code, 2);
  EXPECT_NE(said.find("cannot connect"), std::string::npos) << said;
}

}  // namespace
}  // namespace flowframe
