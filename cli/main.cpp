// flowframe: run, validate, list and inspect simulations. Bad input exits with code 2.
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <unistd.h>

#include <fstream>
#include <iostream>

#include "actors/components.hpp"
#include "runtime/frame_log.hpp"
#include "runtime/frame_text.hpp"
#include "runtime/scenario.hpp"
#include "runtime/summary.hpp"
#include "runtime/version.hpp"

namespace {

using namespace flowframe;

constexpr int kBadInput = 2;

int list_scenarios() {
  for (const auto& builtin : builtin_scenarios()) {
    const auto scenario = parse_scenario(builtin.text, builtin.name);
    std::cout << fmt::format("{:<28} {}\n", builtin.name, scenario.description());
  }
  return 0;
}

int validate(const std::string& source, const std::vector<std::string>& overrides) {
  const auto scenario = load_scenario(source, overrides);
  Topology topology(scenario, scenario.seed(), make_component);
  std::cout << fmt::format("{}: ok — {} nodes, {} links, lookahead {:.3f} ms, {} timed events\n", source,
                           topology.size() - 1, scenario.links_size(), to_millis(topology.lookahead()),
                           scenario.events_size());
  return 0;
}

struct RunArgs {
  std::string scenario;
  std::vector<std::string> overrides;
  std::optional<std::uint64_t> seed;
  unsigned threads = 1;
  unsigned shards = 0;
  std::string out;
  bool no_frames = false;
  std::string summary_json;
  bool quiet = false;
  int compression = 3;
};

int run(const RunArgs& args) {
  const auto scenario = load_scenario(args.scenario, args.overrides);
  RunOptions options;
  options.seed = args.seed.value_or(scenario.seed() ? scenario.seed() : 1);
  options.threads = args.threads;
  options.shards = args.shards;
  options.compression_level = args.compression;
  if (!args.no_frames) options.out_path = args.out.empty() ? scenario.name() + ".ffl" : args.out;
  if (isatty(STDERR_FILENO) && !args.quiet) {
    options.progress = [](const Progress& p) {
      std::cerr << fmt::format("\r\033[K  simulated {:.3f} s | {} requests done | {:.2f} M events/s",
                               to_seconds(p.now), p.requests_done, p.events / std::max(p.wall_s, 1e-9) / 1e6)
                << std::flush;
    };
  }
  Simulation simulation(scenario, options, make_component);
  const auto result = simulation.run();
  if (options.progress) std::cerr << "\r\033[K";
  const auto summary = summarize(simulation.topology(), result);
  if (!args.quiet) print_summary(summary, std::cout);
  if (!options.out_path.empty() && !args.quiet)
    std::cout << fmt::format("\nframe log: {} ({} frames, {:.1f} KiB, {:.2f} bytes/frame)\n", options.out_path,
                             result.frames, result.log_bytes / 1024.0,
                             result.frames ? static_cast<double>(result.log_bytes) / result.frames : 0.0);
  if (!args.summary_json.empty()) {
    std::ofstream out(args.summary_json);
    out << summary.dump(2) << "\n";
    if (!out) throw LogError(args.summary_json + ": cannot write the summary");
  }
  return 0;
}

int inspect(const std::string& path, bool json, std::uint64_t from, std::uint64_t count) {
  FrameLogReader reader(path);
  FrameText text(reader.header());
  if (!json) {
    std::cout << fmt::format("# {} seed {}: {} frames in {} chunks, {} nodes (format {}.{})\n",
                             reader.header().scenario().name(), reader.header().seed(), reader.frame_count(),
                             reader.chunks().size(), reader.header().nodes_size() - 1, reader.major_version(),
                             reader.minor_version());
  }
  DecodedChunk chunk;
  std::uint64_t printed = 0;
  for (std::size_t i = reader.chunk_of(from); i < reader.chunks().size() && printed < count; ++i) {
    if (!reader.read_chunk(i, chunk)) continue;
    for (const auto& view : chunk.frames) {
      if (view.index < from) continue;
      if (printed++ >= count) break;
      std::cout << (json ? text.json(view).dump() : text.line(view)) << '\n';
    }
  }
  std::cout.flush();
  for (const auto& problem : reader.health().problems) std::cerr << path << ": " << problem << '\n';
  return reader.health().problems.empty() ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"FlowFrame: run backend architectures as actors and record every hop as a frame."};
  app.set_version_flag("--version", kFlowFrameVersion);
  app.require_subcommand(1);

  app.add_subcommand("scenarios", "List the built-in scenarios");

  RunArgs run_args;
  auto* run_cmd = app.add_subcommand("run", "Run a scenario, print a summary and write a frame log");
  run_cmd->add_option("scenario", run_args.scenario, "Built-in scenario name or .textproto file")->required();
  run_cmd->add_option("--seed", run_args.seed, "Random seed (default: the scenario's, else 1)");
  run_cmd->add_option("--threads", run_args.threads, "CAF worker threads")->check(CLI::Range(1u, 256u));
  run_cmd->add_option("--shards", run_args.shards, "CAF actors hosting the components (0 = automatic)");
  run_cmd->add_option("--out", run_args.out, "Frame log file (default: SCENARIO_NAME.ffl)");
  run_cmd->add_flag("--no-frames", run_args.no_frames, "Record no frames (fastest)");
  run_cmd->add_option("--set", run_args.overrides, "Override a field: NODE.FIELD=VALUE, workload.rate=900, ...");
  run_cmd->add_option("--summary-json", run_args.summary_json, "Write the summary as JSON to this file");
  run_cmd->add_flag("--quiet", run_args.quiet, "Print nothing but errors");
  run_cmd->add_option("--compression", run_args.compression, "zstd level of the frame log: higher is smaller and slower")
      ->check(CLI::Range(-5, 19));

  std::string validate_source;
  std::vector<std::string> validate_overrides;
  auto* validate_cmd = app.add_subcommand("validate", "Check a scenario file and report every problem");
  validate_cmd->add_option("scenario", validate_source, "Built-in scenario name or .textproto file")->required();
  validate_cmd->add_option("--set", validate_overrides, "Overrides to check along with it");

  std::string log_path;
  bool json = false;
  std::uint64_t from = 0, count = UINT64_MAX;
  auto* inspect_cmd = app.add_subcommand("inspect", "Print the frames of a frame log");
  inspect_cmd->add_option("log", log_path, "A .ffl file")->required();
  inspect_cmd->add_flag("--json", json, "One JSON object per frame");
  inspect_cmd->add_option("--from", from, "First frame to print");
  inspect_cmd->add_option("--count", count, "How many frames to print");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return kBadInput;
  }

  try {
    if (app.got_subcommand("scenarios")) return list_scenarios();
    if (*run_cmd) return run(run_args);
    if (*validate_cmd) return validate(validate_source, validate_overrides);
    if (*inspect_cmd) return inspect(log_path, json, from, count);
  } catch (const ScenarioError& error) {
    std::cerr << "error: " << error.what() << '\n';
    return kBadInput;
  } catch (const LogError& error) {
    std::cerr << "error: " << error.what() << '\n';
    return kBadInput;
  } catch (const std::invalid_argument& error) {
    std::cerr << "error: " << error.what() << '\n';
    return kBadInput;
  }
  return 0;
}
