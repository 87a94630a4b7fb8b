// flowframe: run, validate, list and inspect simulations. Bad input exits with code 2.
#include <CLI/CLI.hpp>
#include <google/protobuf/text_format.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spawn.h>
#include <sys/wait.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "actors/common/components.hpp"
#include "runtime/lab/experiment.hpp"
#include "runtime/check/invariants.hpp"
#include "runtime/compare/diff.hpp"
#include "runtime/export/export.hpp"
#include "runtime/framelog/frame_log.hpp"
#include "runtime/framelog/frame_text.hpp"
#include "runtime/live/live.hpp"
#include "runtime/scenario/scenario.hpp"
#include "runtime/scenario/limits_text.hpp"
#include "runtime/scenario/regions.hpp"
#include "runtime/learn/share_link.hpp"
#include "runtime/lab/summary.hpp"
#include "runtime/lab/workers.hpp"
#include "flowframe/v1/limits.pb.h"
#include "runtime/base/text.hpp"
#include "runtime/base/limits.hpp"
#include "runtime/base/version.hpp"

extern char** environ;

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

// The built-in round-trip times between regions, as a table (one row per region, in ms).
int list_regions() {
  const auto& regions = builtin_regions();
  std::cout << fmt::format("{:<16}", "rtt ms");
  for (const auto& region : regions) std::cout << fmt::format("{:>7}", region.code);
  std::cout << '\n';
  const v1::Scenario none;
  for (const auto& from : regions) {
    std::cout << fmt::format("{:<16}", from.name);
    for (const auto& to : regions) std::cout << fmt::format("{:>7.1f}", *region_rtt_ms(none, from.name, to.name));
    std::cout << fmt::format("  {} ({})\n", from.code, from.place);
  }
  std::cout << "Average ping round trips between AWS regions (2017); a link between two regions takes half.\n"
               "A scenario's region_latencies { a b rtt_ms } replace these or add regions.\n";
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
  std::string detail = "auto";
  std::string serve;
  bool allow_remote = false;
  double speed = 0;
  bool paused = false;
  double linger_s = 10;
  std::string controls_from;
  std::vector<std::string> workers;
};

int run(const RunArgs& args) {
  if (args.quiet) spdlog::set_level(spdlog::level::warn);
  // Read once: workers get the very text this run parses.
  const auto source = read_scenario(args.scenario);
  const auto scenario = parse_scenario(source.text, source.name, args.overrides);
  RunOptions options;
  options.seed = args.seed.value_or(scenario.seed() ? scenario.seed() : 1);
  options.threads = args.threads;
  options.shards = args.shards;
  options.compression_level = args.compression;
  options.detail = args.detail == "full"    ? RunOptions::Detail::full
                   : args.detail == "light" ? RunOptions::Detail::light
                                            : RunOptions::Detail::automatic;
  options.serve = args.serve;
  options.allow_remote = args.allow_remote;
  options.speed = args.speed;
  options.start_paused = args.paused;
  options.linger_ms = static_cast<int>(args.linger_s * 1000);
  if (!args.controls_from.empty()) {
    options.scheduled_controls = controls_from_log(args.controls_from);
    options.live_chunks = true;
  }
  options.on_serving = [](const std::string& address) {
    std::cerr << "serving on " << address << " (flowframe-view --attach " << address << ")" << std::endl;
  };
  if (!args.no_frames) options.out_path = args.out.empty() ? log_file_stem(scenario.name()) + ".ffl" : args.out;
  if (isatty(STDERR_FILENO) && !args.quiet) {
    options.progress = [](const Progress& p) {
      std::cerr << fmt::format("\r\033[K  simulated {:.3f} s | {} requests done | {:.2f} M events/s",
                               to_seconds(p.now), p.requests_done, p.events / std::max(p.wall_s, 1e-9) / 1e6)
                << std::flush;
    };
  }
  // Shards on workers: one per worker beside this process's own; the pool outlives the run.
  std::unique_ptr<WorkerPool> pool;
  if (!args.workers.empty()) {
    if (args.shards > 0) throw std::invalid_argument("--shards cannot be used with --workers: each worker hosts one shard, this process one");
    pool = std::make_unique<WorkerPool>(args.workers);
    options.remote_shards = pool->shards(source.name, source.text, args.overrides);
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

// Prints the frames of chunks [next_chunk, end) from `from` on, at most `count` in all.
void print_chunks(FrameLogReader& reader, const FrameText& text, std::size_t& next_chunk, bool json, std::uint64_t from,
                  std::uint64_t count, std::uint64_t& printed) {
  DecodedChunk chunk;
  for (; next_chunk < reader.chunks().size() && printed < count; ++next_chunk) {
    const auto& ref = reader.chunks()[next_chunk];
    if (ref.first_frame() + ref.frame_count() <= from || !reader.read_chunk(next_chunk, chunk)) continue;
    for (const auto& view : chunk.frames) {
      if (view.index < from) continue;
      if (printed++ >= count) break;
      std::cout << (json ? text.json(view).dump() : text.line(view)) << '\n';
    }
  }
  std::cout.flush();
}

void print_title(const FrameLogReader& reader, const std::string& source) {
  std::cout << fmt::format("# {} seed {}: {} frames in {} chunks, {} nodes (format {}.{}) from {}\n",
                           reader.header().scenario().name(), reader.header().seed(), reader.frame_count(),
                           reader.chunks().size(), reader.header().nodes_size() - 1, reader.major_version(),
                           reader.minor_version(), source);
}

int report_health(const FrameLogReader& reader, const std::string& source) {
  for (const auto& problem : reader.health().problems) std::cerr << source << ": " << problem << '\n';
  return reader.health().problems.empty() ? 0 : 1;
}

int inspect(const std::string& path, bool json, std::uint64_t from, std::uint64_t count) {
  FrameLogReader reader(path);
  FrameText text(reader.header());
  if (!json) print_title(reader, path);
  std::size_t next_chunk = reader.chunk_of(from);
  std::uint64_t printed = 0;
  print_chunks(reader, text, next_chunk, json, from, count, printed);
  return report_health(reader, path);
}

int check(const std::string& path, bool json) {
  FrameLogReader reader(path);
  const auto report = check_log(reader);
  if (json) {
    nlohmann::ordered_json out;
    out["ok"] = report.ok();
    for (const auto& invariant : report.invariants)
      out["invariants"].push_back({{"name", invariant.name}, {"holds", invariant.holds}, {"detail", invariant.detail}});
    out["figures"] = report.figures;
    out["log_problems"] = report.log_problems;
    std::cout << out.dump(2) << '\n';
  } else {
    std::cout << format_report(report);
  }
  if (!report.ok()) return 1;
  // A damaged or cut log was checked only as far as it reads: not a pass.
  return report.log_problems.empty() ? 0 : kBadInput;
}

// A log in another tool's format; written beside and renamed into place, so a failed export
// leaves no half file, and never over the log itself.
int export_command(const std::string& log, const std::string& format_name, std::string out) {
  const auto format = parse_export_format(format_name);
  if (!format) throw std::invalid_argument("--format " + format_name + ": expected perfetto, chrome-json or csv");
  FrameLogReader reader(log);
  if (out.empty()) out = std::filesystem::path(log).replace_extension(export_extension(*format)).string();
  std::error_code same_error;
  if (std::filesystem::equivalent(log, out, same_error))
    throw std::invalid_argument(out + ": is the log being exported; choose another output file (-o)");
  const std::string partial = out + ".partial";
  ExportCounts counts;
  {
    std::ofstream file(partial, std::ios::binary | std::ios::trunc);
    if (!file) throw std::runtime_error(partial + ": cannot write: " + std::strerror(errno));
    try {
      counts = export_log(reader, *format, file);
      file.flush();
      if (!file) throw std::runtime_error(partial + ": write failed: " + std::strerror(errno));
      file.close();
      std::filesystem::rename(partial, out);
    } catch (...) {
      std::filesystem::remove(partial, same_error);
      throw;
    }
  }
  if (*format == ExportFormat::csv)
    std::cout << fmt::format("{}: {} requests from {} frames\n", out, counts.rows, counts.frames);
  else
    std::cout << fmt::format("{}: {} frames as {} slices, {} hops, {} counter values\n", out, counts.frames, counts.slices,
                             counts.flows, counts.counter_values);
  return report_health(reader, log);
}

// Exit codes as diff(1): 0 the runs hold the same frames, 1 they differ, 2 bad input.
int diff_command(const std::string& a, const std::string& b, bool json, std::size_t top) {
  const auto logs = [](const std::string& list) {
    std::vector<std::string> paths;
    std::stringstream in(list);
    for (std::string path; std::getline(in, path, ',');) {
      if (!std::filesystem::is_regular_file(path)) throw std::invalid_argument(path + ": no such file");
      paths.push_back(path);
    }
    return paths;
  };
  const auto diff = diff_runs(logs(a), logs(b), top);
  if (json) std::cout << diff_json(diff).dump(2) << '\n';
  else print_diff(diff, std::cout);
  for (const auto& problem : diff.problems) std::cerr << problem << '\n';
  return diff.divergence ? 1 : 0;
}

// A bash completion script made from the command line's own definition, so it never falls
// behind: verbs, each verb's flags, values of flags that take one of a list, built-in scenario names.
std::string bash_completion(CLI::App& app) {
  std::string verbs, cases, values;
  std::string scenario_names;
  for (const auto& builtin : builtin_scenarios()) scenario_names += builtin.name + " ";
  for (auto* verb : app.get_subcommands([](CLI::App*) { return true; })) {
    verbs += verb->get_name() + " ";
    std::string flags = "--help ";
    bool takes_scenario = false;
    for (const auto* option : verb->get_options()) {
      if (!option->nonpositional()) {
        takes_scenario = takes_scenario || option->get_name() == "scenario";
        continue;
      }
      for (const auto& name : option->get_lnames()) flags += "--" + name + " ";
      for (const auto& name : option->get_snames()) flags += "-" + name + " ";
      // CLI::IsMember shows its list in the type name: TEXT:{a,b,c}.
      const auto type = option->get_type_name();
      const auto open = type.find('{'), close = type.rfind('}');
      if (open == std::string::npos || close == std::string::npos || close < open || option->get_lnames().empty()) continue;
      auto list = type.substr(open + 1, close - open - 1);
      std::replace(list.begin(), list.end(), ',', ' ');
      values += fmt::format("    {}:--{}) words=\"{}\" ;;\n", verb->get_name(), option->get_lnames()[0], list);
    }
    cases += fmt::format("    {}) flags=\"{}\"{} ;;\n", verb->get_name(), flags, takes_scenario ? "; scenarios=1" : "");
  }
  return fmt::format(R"(# bash completion for flowframe (made by `flowframe completion bash`)
_flowframe() {{
  local cur=${{COMP_WORDS[COMP_CWORD]}} prev=${{COMP_WORDS[COMP_CWORD-1]}}
  if (( COMP_CWORD == 1 )); then
    COMPREPLY=($(compgen -W "{}--help --version" -- "$cur"))
    return
  fi
  local verb=${{COMP_WORDS[1]}} flags="" scenarios=0 words=""
  case $verb in
{}  esac
  case $verb:$prev in
{}  esac
  if [[ -n $words ]]; then
    COMPREPLY=($(compgen -W "$words" -- "$cur"))
  elif [[ $cur == -* ]]; then
    COMPREPLY=($(compgen -W "$flags" -- "$cur"))
  else
    COMPREPLY=($(compgen -f -- "$cur"))
    (( scenarios )) && COMPREPLY+=($(compgen -W "{}" -- "$cur"))
  fi
}}
complete -o filenames -F _flowframe flowframe
)",
                     verbs, cases, values, scenario_names);
}

// Where a live stream lands while we read it; removed afterwards.
struct TempFile {
  explicit TempFile(const char* purpose)
      : path((std::filesystem::temp_directory_path() / fmt::format("flowframe-{}-{}.ffl", purpose, ::getpid())).string()) {}
  ~TempFile() { std::filesystem::remove(path); }
  std::string path;
};

// A running simulation's frames as they come: from the start, until the run ends.
int inspect_live(const std::string& address, bool json, std::uint64_t from, std::uint64_t count) {
  const TempFile file("inspect");
  LiveClient client(address, file.path, std::string("flowframe inspect ") + kFlowFrameVersion);
  std::unique_ptr<FrameLogReader> reader;
  std::unique_ptr<FrameText> text;
  std::size_t next_chunk = 0;
  std::uint64_t printed = 0;
  while (true) {
    const bool closed = client.closed();
    if (!client.error().empty()) throw std::runtime_error(address + ": " + client.error());
    if (!reader && client.received() > 0) {
      reader = std::make_unique<FrameLogReader>(file.path);
      text = std::make_unique<FrameText>(reader->header());
    }
    if (reader) {
      reader->refresh(closed);
      print_chunks(*reader, *text, next_chunk, json, from, count, printed);
      if (printed >= count) return 0;
    }
    if (closed) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (!reader) throw std::runtime_error(address + ": the run ended before sending its log");
  return report_health(*reader, address);
}

// One control request from the shell; prints the reply.
int control(const std::string& address, const std::vector<std::string>& words) {
  auto request = parse_control(words);
  request.set_id(1);
  const TempFile file("control");
  LiveClient client(address, file.path, std::string("flowframe control ") + kFlowFrameVersion, /*control_only=*/true);
  client.send(request);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (bool last = false; !last && std::chrono::steady_clock::now() < deadline;) {
    last = client.closed();  // the answers that came before the end still count
    for (const auto& reply : client.take_replies()) {
      if (reply.id() == 0 && !reply.ok()) throw std::runtime_error(address + ": " + reply.error());
      if (reply.id() != 1) continue;
      if (!reply.ok()) {
        std::cerr << "error: " << reply.error() << '\n';
        return 2;
      }
      std::cout << fmt::format("ok: {} at simulated time {:.6f} s\n", fmt::join(words, " "), to_seconds(reply.at_ns()));
      return 0;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  throw std::runtime_error(address + ": no answer (the run may have ended)");
}

struct BenchArgs {
  std::string scenario;
  std::vector<std::string> sweeps;
  std::vector<std::string> overrides;
  unsigned seeds = 3;
  std::uint64_t requests = 0;
  unsigned jobs = std::max(1u, std::thread::hardware_concurrency());
  std::string format = "table";
  std::string csv, json, plot, plot_metric = "latency_p99_ms", record;
  std::vector<std::string> workers;
};

struct WorkerArgs {
  std::string listen;
  bool allow_remote = false;
  unsigned jobs = std::max(1u, std::thread::hardware_concurrency());
};

// Serves benchmark runs until stopped (Ctrl-C, or a signal from whoever started it).
int worker(const WorkerArgs& args) {
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);  // before CAF's threads start, so they inherit it
  WorkerServer server(args.listen, args.allow_remote, args.jobs, make_component);
  std::cout << "worker listening on " << server.address() << " (" << args.jobs << " runs at once; stop it with Ctrl-C)"
            << std::endl;
  int received = 0;
  sigwait(&stop_signals, &received);
  // Runs under way finish first; a second Ctrl-C stops at once.
  pthread_sigmask(SIG_UNBLOCK, &stop_signals, nullptr);
  std::cerr << "stopping after the runs under way (Ctrl-C again to stop now)" << std::endl;
  return 0;
}

std::ofstream open_output(const std::string& path) {
  std::ofstream out(path);
  if (!out) throw std::runtime_error(path + ": cannot write");
  return out;
}

// Runs a program with these arguments, without a shell (a path is never parsed as a command);
// its exit status, or -1 if it could not start.
int run_program(std::vector<std::string> args) {
  std::vector<char*> argv;
  for (auto& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  pid_t child = -1;
  if (posix_spawnp(&child, argv[0], nullptr, nullptr, argv.data(), environ) != 0) return -1;
  int status = 0;
  if (waitpid(child, &status, 0) < 0) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int bench(const BenchArgs& args) {
  ExperimentSpec spec;
  spec.scenario = args.scenario;
  spec.overrides = args.overrides;
  for (const auto& sweep : args.sweeps) spec.axes.push_back(parse_sweep(sweep));
  spec.seeds = args.seeds;
  spec.requests = args.requests;
  spec.jobs = args.jobs;
  spec.record_dir = args.record;
  spec.workers = args.workers;
  spec.factory = make_component;
  // A plot that cannot be drawn is refused before any point runs.
  if (!args.plot.empty()) {
    check_plot_request(args.plot, args.plot_metric);
    if (spec.axes.empty()) throw std::invalid_argument("--plot needs a --sweep to draw against (e.g. --sweep lb.strategy=round_robin,least_conn)");
  }
  const bool tty = isatty(STDERR_FILENO);
  const auto started = std::chrono::steady_clock::now();
  const auto points = run_experiment(spec, [&](std::size_t done, std::size_t total) {
    if (!tty) return;
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    const double eta = done ? elapsed / done * (total - done) : 0;
    const int filled = static_cast<int>(30.0 * done / total);
    std::cerr << fmt::format("\r\033[K[{}{}] {}/{} runs, ETA {:.0f} s", std::string(filled, '#'), std::string(30 - filled, '-'),
                             done, total, eta)
              << std::flush;
  });
  if (tty) std::cerr << "\r\033[K";
  if (args.format == "table") write_table(points, std::cout);
  else if (args.format == "csv") write_csv(points, std::cout);
  else write_json(spec, points, std::cout);
  if (!args.csv.empty()) {
    auto out = open_output(args.csv);
    write_csv(points, out);
  }
  if (!args.json.empty()) {
    auto out = open_output(args.json);
    write_json(spec, points, out);
  }
  if (!args.plot.empty()) {
    const bool png = args.plot.size() > 4 && args.plot.substr(args.plot.size() - 4) == ".png";
    const std::string svg = png ? args.plot + ".svg" : args.plot;
    {
      auto out = open_output(svg);
      write_svg_plot(spec, points, args.plot_metric, out);
    }
    if (png) {
      if (run_program({"rsvg-convert", "-o", args.plot, svg}) != 0)
        throw std::runtime_error("--plot " + args.plot + ": rsvg-convert (package librsvg2-bin) could not make the PNG; " + svg + " is there");
      std::filesystem::remove(svg);
    }
  }
  return 0;
}

}  // namespace

// A flag's number checked like a scenario's: finite and inside [low, high], said in plain digits.
CLI::Validator number_from(double low, double high) {
  return CLI::Validator(
      [low, high](std::string& text) -> std::string {
        char* end = nullptr;
        const double value = std::strtod(text.c_str(), &end);
        if (text.empty() || *end != '\0' || !(value >= low && value <= high))
          return "must be a number from " + fmt_number(low) + " to " + fmt_number(high) + ", got '" + printable(text) + "'";
        return "";
      },
      "NUMBER in [" + fmt_number(low) + ", " + fmt_number(high) + "]");
}

int main(int argc, char** argv) {
  // Messages go to stderr, so a summary on stdout stays clean for pipes. A reader that stopped
  // listening (the viewer reads only the "serving on" line) must not kill a run with SIGPIPE.
  spdlog::set_default_logger(spdlog::stderr_color_mt("flowframe"));
  std::signal(SIGPIPE, SIG_IGN);
  CLI::App app{"FlowFrame: run backend architectures as actors and record every hop as a frame."};
  app.set_version_flag("--version", kFlowFrameVersion);
  app.require_subcommand(1);

  app.add_subcommand("scenarios", "List the built-in scenarios");
  app.add_subcommand("regions", "List the built-in round-trip times between cloud regions");
  app.add_subcommand("limits", "List every size limit and the range of every number a scenario or control takes");

  RunArgs run_args;
  // The same range a live `speed` control has, from the schema.
  const auto& speed_options = v1::ControlRequest::descriptor()->FindFieldByName("speed")->options();
  const std::pair speed_range{speed_options.GetExtension(v1::at_least), speed_options.GetExtension(v1::at_most)};
  auto* run_cmd = app.add_subcommand("run", "Run a scenario, print a summary and write a frame log");
  run_cmd->add_option("scenario", run_args.scenario, "Built-in scenario name or .textproto file")->required();
  run_cmd->add_option("--seed", run_args.seed, "Random seed (default: the scenario's, else 1)");
  run_cmd->add_option("--threads", run_args.threads, "CAF worker threads")->check(CLI::Range(1u, 256u));
  run_cmd->add_option("--shards", run_args.shards, "CAF actors hosting the components (0 = automatic)")
      ->check(CLI::Range(0u, 4096u));
  run_cmd->add_option("--out", run_args.out, "Frame log file (default: SCENARIO_NAME.ffl)");
  run_cmd->add_flag("--no-frames", run_args.no_frames, "Record no frames (fastest)");
  run_cmd->add_option("--set", run_args.overrides, "Override a field: NODE.FIELD=VALUE, workload.rate=900, ...");
  run_cmd->add_option("--summary-json", run_args.summary_json, "Write the summary as JSON to this file");
  run_cmd->add_flag("--quiet", run_args.quiet, "Print nothing but errors");
  run_cmd->add_option("--compression", run_args.compression, "zstd level of the frame log: higher is smaller and slower")
      ->check(CLI::Range(-5, 19));
  run_cmd->add_option("--detail", run_args.detail,
                      "What frames record: full (every event with its node's state), light (what crosses a link "
                      "and timers; state in keyframes and for rich kinds) or auto (full up to 32 nodes)")
      ->check(CLI::IsMember({"auto", "full", "light"}));
  run_cmd->add_option("--serve", run_args.serve, "Stream the log live on HOST:PORT (loopback; port 0 picks one)");
  run_cmd->add_flag("--allow-remote", run_args.allow_remote, "Allow --serve on an address other than loopback");
  run_cmd->add_option("--speed", run_args.speed, "Pace to wall time: simulated seconds per second (0: flat out)")
      ->check(number_from(speed_range.first, speed_range.second));
  run_cmd->add_flag("--paused", run_args.paused, "Start paused (resume from a viewer or `flowframe control`)");
  run_cmd->add_option("--linger", run_args.linger_s, "Seconds to keep serving viewers after the run (default 10)")
      ->check(number_from(0, 3600));
  run_cmd->add_option("--controls-from", run_args.controls_from,
                      "Replay the live changes recorded in this log (a steered run) at their logical times");
  run_cmd->add_option("--workers", run_args.workers,
                      "HOST:PORT of `flowframe worker`s that each host a shard of this run (same log as one process)")
      ->delimiter(',');

  std::string validate_source;
  std::vector<std::string> validate_overrides;
  auto* validate_cmd = app.add_subcommand("validate", "Check a scenario file and report every problem");
  validate_cmd->add_option("scenario", validate_source, "Built-in scenario name or .textproto file")->required();
  validate_cmd->add_option("--set", validate_overrides, "Overrides to check along with it");

  std::string log_path;
  bool json = false;
  std::uint64_t from = 0, count = UINT64_MAX;
  auto* inspect_cmd = app.add_subcommand("inspect", "Print the frames of a frame log");
  inspect_cmd->add_option("log", log_path, "A .ffl file, or HOST:PORT of a running `flowframe run --serve`")->required();
  inspect_cmd->add_flag("--json", json, "One JSON object per frame");
  inspect_cmd->add_option("--from", from, "First frame to print");
  inspect_cmd->add_option("--count", count, "How many frames to print");

  std::string check_path;
  bool check_json = false;
  auto* check_cmd = app.add_subcommand(
      "check", "Check a frame log against the invariants every run must keep (exit 1 if one fails, 2 if the log is damaged or cut)");
  check_cmd->add_option("log", check_path, "A .ffl file")->required()->check(CLI::ExistingFile);
  check_cmd->add_flag("--json", check_json, "The report as JSON");

  std::string export_path, export_format, export_out;
  auto* export_cmd = app.add_subcommand(
      "export", "Write a frame log as a Perfetto trace, a Chrome JSON trace (chrome://tracing) or CSV (a row per request)");
  export_cmd->add_option("log", export_path, "A .ffl file")->required()->check(CLI::ExistingFile);
  export_cmd->add_option("--format", export_format, "perfetto, chrome-json or csv")
      ->required()
      ->check(CLI::IsMember({"perfetto", "chrome-json", "csv"}));
  export_cmd->add_option("-o,--out", export_out, "Output file (default: the log's name with .perfetto-trace, .json or .csv)");

  std::string diff_a, diff_b;
  bool diff_as_json = false;
  std::size_t diff_top = 10;
  auto* diff_cmd = app.add_subcommand(
      "diff", "Compare two runs from their logs: settings, figures and whether they differ beyond noise, nodes, first difference, requests");
  diff_cmd->add_option("a", diff_a, "Side A: a .ffl file, or several seeds' logs A1.ffl,A2.ffl,...")->required();
  diff_cmd->add_option("b", diff_b, "Side B: the same")->required();
  diff_cmd->add_flag("--json", diff_as_json, "The comparison as JSON");
  diff_cmd->add_option("--top", diff_top, "Requests whose latency changed most to list (default 10)")->check(CLI::Range(0, 100000));

  std::string completion_shell;
  auto* completion_cmd = app.add_subcommand("completion", "Print a shell completion script: source <(flowframe completion bash)");
  completion_cmd->add_option("shell", completion_shell, "The shell (bash)")->required()->check(CLI::IsMember({"bash"}));

  BenchArgs bench_args;
  auto* bench_cmd = app.add_subcommand("bench", "Run a scenario over a grid of settings and seeds; report with confidence intervals");
  bench_cmd->add_option("scenario", bench_args.scenario, "Built-in scenario name or .textproto file")->required();
  bench_cmd->add_option("--sweep", bench_args.sweeps, "KEY=v1,v2,... (repeatable: every combination runs)");
  bench_cmd->add_option("--set", bench_args.overrides, "Fixed overrides for every point");
  bench_cmd->add_option("--seeds", bench_args.seeds, "Seeds per point (default 3)")->check(CLI::Range(1u, 1000u));
  bench_cmd->add_option("--requests", bench_args.requests, "Requests per run (stop.requests)");
  bench_cmd->add_option("--jobs", bench_args.jobs, "Runs at once (default: cores)")->check(CLI::Range(1u, 256u));
  bench_cmd->add_option("--format", bench_args.format, "table, csv or json on stdout")->check(CLI::IsMember({"table", "csv", "json"}));
  bench_cmd->add_option("--csv", bench_args.csv, "Also write CSV here");
  bench_cmd->add_option("--json", bench_args.json, "Also write JSON here");
  bench_cmd->add_option("--plot", bench_args.plot, "Latency against the numeric sweep: .svg, or .png (needs rsvg-convert)");
  bench_cmd->add_option("--plot-metric", bench_args.plot_metric, "latency_p99_ms (default), latency_mean_ms, latency_p999_ms, ...");
  bench_cmd->add_option("--record", bench_args.record, "Record every run's frames into this directory");
  bench_cmd->add_option("--workers", bench_args.workers, "HOST:PORT of `flowframe worker`s that run points too")
      ->delimiter(',');

  WorkerArgs worker_args;
  auto* worker_cmd = app.add_subcommand("worker", "Run points for `flowframe bench --workers` and shards for `flowframe run --workers` on this machine");
  worker_cmd->add_option("--listen", worker_args.listen, "HOST:PORT to listen on (loopback; port 0 picks one)")->required();
  worker_cmd->add_flag("--allow-remote", worker_args.allow_remote, "Listen on an address other than loopback");
  worker_cmd->add_option("--jobs", worker_args.jobs, "Runs at once (default: cores)")->check(CLI::Range(1u, limits::kWorkerJobs));

  std::string share_source;
  auto* share_cmd = app.add_subcommand("share", "Print a flowframe: link holding a scenario (flowframe-view --open LINK)");
  share_cmd->add_option("scenario", share_source, "Built-in scenario name or .textproto file")->required();

  std::string control_address;
  std::vector<std::string> control_words;
  auto* control_cmd = app.add_subcommand("control", "Steer a running `flowframe run --serve` from the shell");
  control_cmd->add_option("address", control_address, "HOST:PORT")->required();
  control_cmd->add_option("command", control_words, kControlUsage)->required();

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
    if (app.got_subcommand("regions")) return list_regions();
    if (app.got_subcommand("limits")) {
      std::cout << limits_markdown();
      return 0;
    }
    if (*run_cmd) return run(run_args);
    if (*validate_cmd) return validate(validate_source, validate_overrides);
    if (*inspect_cmd) {
      const bool address = !std::filesystem::exists(log_path) && log_path.find(':') != std::string::npos;
      return address ? inspect_live(log_path, json, from, count) : inspect(log_path, json, from, count);
    }
    if (*check_cmd) return check(check_path, check_json);
    if (*export_cmd) return export_command(export_path, export_format, export_out);
    if (*diff_cmd) return diff_command(diff_a, diff_b, diff_as_json, diff_top);
    if (*completion_cmd) {
      std::cout << bash_completion(app);
      return 0;
    }
    if (*control_cmd) return control(control_address, control_words);
    if (*bench_cmd) return bench(bench_args);
    if (*worker_cmd) return worker(worker_args);
    if (*share_cmd) {
      // The scenario as written (its replicas not expanded), checked first.
      const auto read = read_scenario(share_source);
      parse_scenario(read.text, read.name);
      v1::Scenario scenario;
      google::protobuf::TextFormat::ParseFromString(read.text, &scenario);
      std::cout << encode_link(scenario) << '\n';
      return 0;
    }
  } catch (const ScenarioError& error) {
    std::cerr << "error: " << error.what() << '\n';
    return kBadInput;
  } catch (const LogError& error) {
    std::cerr << "error: " << error.what() << '\n';
    return kBadInput;
  } catch (const std::invalid_argument& error) {
    std::cerr << "error: " << error.what() << '\n';
    return kBadInput;
  } catch (const std::runtime_error& error) {
    std::cerr << "error: " << error.what() << '\n';
    return kBadInput;
  }
  return 0;
}
