// The viewer's model on a large log: open and show the first frame, seek to random frames, play
// at several speeds (the model work one UI frame needs), and resident memory throughout.
//   flowframe_viewer_bench [--requests N] [--dir DIR]    (2,000,000 requests ~ 10 million frames)
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>

#include "actors/common/components.hpp"
#include "bench/plain_loop.hpp"
#include "runtime/scenario/scenario.hpp"
#include "runtime/engine/simulation.hpp"
#include "viewer/model/playback.hpp"

namespace {

using namespace flowframe;
using Clock = std::chrono::steady_clock;

double since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

double resident_mib() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const auto [requests, dir] = bench::parse_bench_args(argc, argv);
  const std::string path = dir + "/flowframe_viewer_bench.ffl";
  {
    const auto workload = bench::dense_workload(requests);
    const auto scenario = parse_scenario(bench::scenario_text(workload), workload.name);
    RunOptions options;
    options.threads = 2;
    options.out_path = path;
    Simulation(scenario, options, make_component).run();
  }
  const double file_mib = static_cast<double>(std::filesystem::file_size(path)) / (1 << 20);
  const double baseline_mib = resident_mib();

  auto start = Clock::now();
  view::LogModel model(path);
  const auto world = model.world_at(0, true);
  const double open_s = since(start);
  std::cout << fmt::format("log: {} frames, {} chunks, {:.0f} MiB on disk\n", model.frame_count(), model.chunk_count(), file_mib);
  std::cout << fmt::format("open and show the first frame: {:.1f} ms (target < 1000 ms)\n", open_s * 1e3);

  std::mt19937_64 random(7);
  std::vector<double> seeks;
  for (int i = 0; i < 200; ++i) {
    const auto target = random() % model.frame_count();
    start = Clock::now();
    const auto rebuilt = model.world_at(target, true);
    seeks.push_back(since(start) * 1e3);
    if (!rebuilt || rebuilt->frame != target) {
      std::cerr << "seek failed at " << target << "\n";
      return 1;
    }
  }
  std::sort(seeks.begin(), seeks.end());
  std::cout << fmt::format("seek to a random frame (cold, 200 seeks): median {:.1f} ms, p95 {:.1f} ms, max {:.1f} ms (target < 50 ms)\n",
                           seeks[100], seeks[190], seeks.back());

  // Playback: the model's share of one UI frame at 60 fps, waiting for chunks the way the
  // loader thread provides them.
  for (double speed : {1.0, 100.0, 1000.0}) {
    view::Playback playback(model);
    playback.seek_frame(0);
    playback.set_rate(speed);
    playback.play();
    double worst = 0, total = 0;
    int ticks = 0;
    for (; ticks < 600 && playback.playing(); ++ticks) {
      start = Clock::now();
      playback.tick(1.0 / 60);
      playback.world();
      // The canvas reads the frames in flight after the current one (here always the most it reads).
      for (std::uint64_t i = playback.frame() + 1; i <= playback.frame() + view::LogModel::kInFlightScan && i < model.frame_count(); ++i)
        if (!model.frame(i, false)) break;
      const double took = since(start);
      worst = std::max(worst, took);
      total += took;
      std::this_thread::sleep_for(std::chrono::microseconds(std::max<long>(0, 16667 - static_cast<long>(took * 1e6))));
    }
    std::cout << fmt::format("playback at {:g}x: {} UI frames, model work per frame mean {:.2f} ms, worst {:.2f} ms (budget 16.7 ms)\n",
                             speed, ticks, total / ticks * 1e3, worst * 1e3);
  }
  std::cout << fmt::format("resident memory of the model: {:.0f} MiB above the process start (target < 500 MiB)\n",
                           resident_mib() - baseline_mib);
  std::filesystem::remove(path);
  return world ? 0 : 1;
}
