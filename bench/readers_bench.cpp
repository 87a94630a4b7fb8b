// What users run on a recorded log: `flowframe export` in each format and `flowframe diff` (the CLI,
// process start to exit), on W1 recorded at full detail, beside the floor every reader pays,
// decoding each frame of the same log in this process, measured in the same run.
//
//   flowframe_readers_bench [--requests N] [--dir DIR]
#include <fmt/format.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "bench/spawn.hpp"
#include "runtime/framelog/frame_log.hpp"

namespace {

using namespace flowframe;

const std::string kW1 = std::string(FLOWFRAME_SOURCE_DIR) + "/bench/workloads/w1.textproto";

void record(std::uint64_t requests, const std::string& log, const std::vector<std::string>& more_sets) {
  std::vector<std::string> args = {FLOWFRAME_CLI, "run", kW1, "--quiet", "--out", log, "--detail", "full",
                                   "--set", fmt::format("stop.requests={}", requests)};
  for (const auto& set : more_sets) args.insert(args.end(), {"--set", set});
  if (bench::spawn(args).exit_code != 0) throw std::runtime_error("`flowframe run` of W1 failed");
}

// Decodes every chunk: what reading the log costs any reader. Returns (frames, seconds).
std::pair<std::uint64_t, double> decode_all(const std::string& log, FrameLogReader::States states) {
  const auto start = std::chrono::steady_clock::now();
  FrameLogReader reader(log);
  DecodedChunk chunk;
  std::uint64_t frames = 0;
  for (std::size_t i = 0; i < reader.chunks().size(); ++i)
    if (reader.read_chunk(i, chunk, states)) frames += chunk.frames.size();
  return {frames, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count()};
}

}  // namespace

int main(int argc, char** argv) {
  std::uint64_t requests = 100'000;
  std::string dir = std::filesystem::temp_directory_path();
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--requests")) requests = std::stoull(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--dir")) dir = argv[i + 1];
  }
  const auto a = dir + "/flowframe_readers_bench_a.ffl", b = dir + "/flowframe_readers_bench_b.ffl";
  const auto out = dir + "/flowframe_readers_bench.out";
  record(requests, a, {});
  record(requests, b, {"lb.strategy=least_conn"});
  // The floor: the readers below skip the states, as a viewer does not; each pass after a first
  // that grows this process's heap.
  decode_all(a, FrameLogReader::States::read);
  const auto [frames, decode_s] = decode_all(a, FrameLogReader::States::skip);
  const auto [ignored, with_states_s] = decode_all(a, FrameLogReader::States::read);
  const double floor_rate = static_cast<double>(frames) / decode_s;
  std::cout << fmt::format("W1, {} requests at full detail: {} frames, {:.1f} MB log. Decoding every frame here: {:.2f} M frames/s "
                           "without states (the floor below), {:.2f} M with them (the viewer's chunks)\n\n",
                           requests, frames, static_cast<double>(std::filesystem::file_size(a)) / 1e6, floor_rate / 1e6,
                           static_cast<double>(frames) / with_states_s / 1e6);
  std::cout << "| command | wall | frames/s | x decoding | output | peak |\n|---|---|---|---|---|---|\n";
  auto report = [&](const std::string& what, const bench::Spawned& run, std::uint64_t frames_read, double output_mb) {
    const double rate = static_cast<double>(frames_read) / run.wall_s;
    std::cout << fmt::format("| `{}` | {:.2f} s | {:.2f} M | {:.2f} | {} | {:.0f} MiB |\n", what, run.wall_s, rate / 1e6, rate / floor_rate,
                             output_mb < 0 ? std::string("-") : fmt::format("{:.1f} MB", output_mb), run.peak_mib)
              << std::flush;
  };
  for (const std::string format : {"perfetto", "chrome-json", "csv"}) {
    const auto run = bench::spawn({FLOWFRAME_CLI, "export", a, "--format", format, "-o", out});
    if (run.exit_code != 0) throw std::runtime_error("`flowframe export --format " + format + "` failed");
    report("export --format " + format, run, frames, static_cast<double>(std::filesystem::file_size(out)) / 1e6);
    std::filesystem::remove(out);
  }
  // Both logs read whole, twice each (figures, then the first difference): frames of both counted.
  const auto run = bench::spawn({FLOWFRAME_CLI, "diff", a, b}, "/dev/null");
  if (run.exit_code != 1) throw std::runtime_error(fmt::format("`flowframe diff` exited {} (1: the runs differ)", run.exit_code));
  const auto b_frames = decode_all(b, FrameLogReader::States::skip).first;
  report("diff", run, frames + b_frames, -1);
  std::filesystem::remove(a);
  std::filesystem::remove(b);
  return 0;
}
