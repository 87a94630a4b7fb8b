#pragma once
// Helpers shared by the test suites: run a scenario in-process, read a log back.
#include <gtest/gtest.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <sys/wait.h>
#include <unistd.h>

#include "actors/common/components.hpp"
#include "runtime/check/invariants.hpp"
#include "runtime/framelog/frame_log.hpp"
#include "runtime/scenario/scenario.hpp"
#include "runtime/engine/simulation.hpp"
#include "runtime/lab/summary.hpp"

namespace flowframe::test {

// A file path unique to the running test, removed when the test ends.
class TempPath {
 public:
  explicit TempPath(const std::string& suffix) {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = std::filesystem::temp_directory_path() /
            (std::string("flowframe_") + info->test_suite_name() + "_" + info->name() + "_" +
             std::to_string(counter_++) + suffix);
  }
  ~TempPath() { std::filesystem::remove(path_); }
  std::string str() const { return path_.string(); }

 private:
  static inline int counter_ = 0;
  std::filesystem::path path_;
};

// A `flowframe worker` process on a free loopback port, killed however the test ends (a worker
// never exits by itself). `address` is empty if it did not start.
class WorkerProcess {
 public:
  WorkerProcess() {
    int out[2];
    if (pipe(out) != 0) return;
    pid_ = fork();
    if (pid_ == 0) {
      dup2(out[1], STDOUT_FILENO);
      close(out[0]);
      execl(FLOWFRAME_BIN, FLOWFRAME_BIN, "worker", "--listen", "127.0.0.1:0", "--jobs", "2", nullptr);
      _exit(127);
    }
    close(out[1]);
    std::string line;
    for (char c; line.find('\n') == std::string::npos && read(out[0], &c, 1) == 1;) line += c;
    close(out[0]);
    if (const auto at = line.find("127.0.0.1:"); at != std::string::npos) address_ = line.substr(at, line.find(' ', at) - at);
  }
  ~WorkerProcess() {
    kill_now();
    if (pid_ > 0) waitpid(pid_, nullptr, 0);
  }
  WorkerProcess(const WorkerProcess&) = delete;
  WorkerProcess& operator=(const WorkerProcess&) = delete;
  const std::string& address() const { return address_; }
  void kill_now() {
    if (pid_ > 0) kill(pid_, SIGKILL);
  }

 private:
  pid_t pid_ = -1;
  std::string address_;
};

// A shell command's exit code and what it printed (stdout and stderr).
inline std::pair<int, std::string> shell(const std::string& command) {
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  std::string output;
  char buffer[4096];
  while (pipe && fgets(buffer, sizeof buffer, pipe)) output += buffer;
  const int status = pipe ? pclose(pipe) : -1;
  return {WEXITSTATUS(status), output};
}

struct Run {
  std::unique_ptr<Simulation> simulation;
  RunResult result;
  nlohmann::ordered_json summary;
};

inline Run run_scenario(const std::string& source, const std::vector<std::string>& overrides = {},
                        RunOptions options = {}) {
  Run run;
  const auto scenario = load_scenario(source, overrides);
  if (options.seed == 1 && scenario.seed()) options.seed = scenario.seed();
  run.simulation = std::make_unique<Simulation>(scenario, options, make_component);
  run.result = run.simulation->run();
  run.summary = summarize(run.simulation->topology(), run.result);
  return run;
}

inline std::vector<FrameView> read_frames(const std::string& path) {
  FrameLogReader reader(path);
  std::vector<FrameView> frames;
  DecodedChunk chunk;
  for (std::size_t i = 0; i < reader.chunks().size(); ++i)
    if (reader.read_chunk(i, chunk)) frames.insert(frames.end(), chunk.frames.begin(), chunk.frames.end());
  return frames;
}

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

inline void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out << bytes;
}

inline std::string builtin_text(const std::string& name) {
  for (const auto& builtin : builtin_scenarios())
    if (builtin.name == name) return builtin.text;
  ADD_FAILURE() << "no built-in scenario " << name;
  return "";
}

// A built-in scenario (with `extra` appended: events, nodes) run and recorded, its frames read back
// and checked as `flowframe check` does.
struct Recorded {
  Run run;
  std::vector<FrameView> frames;
  CheckReport report;
  v1::LogHeader header;
};

inline Recorded record_builtin(const std::string& name, const std::vector<std::string>& overrides = {}, const std::string& extra = "",
                               std::size_t chunk_frames = RunOptions{}.chunk_frames) {
  TempPath scenario(".textproto"), log(".ffl");
  write_file(scenario.str(), builtin_text(name) + extra);
  RunOptions options;
  options.out_path = log.str();
  options.chunk_frames = chunk_frames;
  Recorded r{run_scenario(scenario.str(), overrides, options), {}, {}, {}};
  r.frames = read_frames(log.str());
  FrameLogReader reader(log.str());
  r.header = reader.header();
  r.report = check_log(reader);
  return r;
}

// Expects `text`, read as `name`, to be refused with an error that holds `expected`.
inline void expect_refused(const std::string& text, const std::string& name, const std::string& expected) {
  try {
    parse_scenario(text, name);
    ADD_FAILURE() << "accepted: " << expected;
  } catch (const ScenarioError& error) {
    EXPECT_NE(std::string(error.what()).find(expected), std::string::npos) << error.what();
  }
}

// Expects `text` with `from` replaced by `to` to be refused with `expected`, named at a line of `name`.
inline void expect_refused_edit(std::string text, const std::string& from, const std::string& to, const std::string& name,
                                const std::string& expected) {
  const auto at = text.find(from);
  ASSERT_NE(at, std::string::npos) << from;
  text.replace(at, from.size(), to);
  expect_refused(text, name, expected);
  expect_refused(text, name, name + ":");
}

inline std::uint64_t handled(const Run& run, const std::string& node) {
  return run.summary["nodes"][node]["handled"].get<std::uint64_t>();
}

}  // namespace flowframe::test
