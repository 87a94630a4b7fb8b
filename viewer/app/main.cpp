// flowframe-view: replay a frame log, frame by frame, and inspect every node.
//   flowframe-view run.ffl
//   flowframe-view run.ffl --frame N [--select NODE] [--theme light] --screenshot out.png
//   flowframe-view a.ffl b.ffl                  (two runs side by side, locked by simulated time)
//   flowframe-view --attach 127.0.0.1:7070      (a running `flowframe run … --serve`)
//   flowframe-view [--scenario NAME]            (the scenario gallery, or one scenario live)
#include <CLI/CLI.hpp>
#include <GLFW/glfw3.h>
#include <imgui.h>
#include <imgui_impl_glfw.h>
#include <imgui_impl_opengl3.h>
#include <stb_image_write.h>

#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <thread>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <fstream>
#include <iostream>

#include "runtime/scenario/scenario.hpp"
#include "runtime/base/version.hpp"
#include "runtime/learn/share_link.hpp"
#include "viewer/app/comparison.hpp"
#include "viewer/app/gallery.hpp"
#include "viewer/app/sandbox.hpp"
#include "viewer/app/ui.hpp"
#include "viewer/app/gif_writer.hpp"
#include "viewer/app/ui_script.hpp"
#include "viewer/app/viewer.hpp"

namespace {

using namespace flowframe;

// SIGTERM or SIGINT: leave the loop, so the live runs stop and their temporary logs go.
volatile std::sig_atomic_t stop_requested = 0;
void request_stop(int) { stop_requested = 1; }

// The theme choice survives restarts: $XDG_CONFIG_HOME/flowframe/viewer.ini (or ~/.config/…).
std::filesystem::path settings_path() {
  if (const char* xdg = std::getenv("XDG_CONFIG_HOME"); xdg && *xdg) return std::filesystem::path(xdg) / "flowframe/viewer.ini";
  if (const char* home = std::getenv("HOME"); home && *home) return std::filesystem::path(home) / ".config/flowframe/viewer.ini";
  return {};
}

bool load_dark_theme() {
  std::ifstream in(settings_path());
  std::string line;
  while (std::getline(in, line))
    if (line == "theme=light") return false;
  return true;
}

void save_dark_theme(bool dark) {
  const auto path = settings_path();
  if (path.empty()) return;
  std::error_code ignored;
  std::filesystem::create_directories(path.parent_path(), ignored);
  std::ofstream(path) << "theme=" << (dark ? "dark" : "light") << "\n";
}

viewer::Fonts load_fonts(float scale) {
  auto& io = ImGui::GetIO();
  viewer::Fonts fonts;
  const char* text = "/usr/share/fonts/opentype/inter/Inter-Regular.otf";
  const char* bold = "/usr/share/fonts/opentype/inter/Inter-SemiBold.otf";
  const char* mono = "/usr/share/fonts/truetype/jetbrains-mono/JetBrainsMono-Regular.ttf";
  const char* icons = "/usr/share/fonts/truetype/font-awesome/fontawesome-webfont.ttf";
  static const ImWchar icon_range[] = {0xf000, 0xf2e0, 0};
  static const ImWchar text_range[] = {0x0020, 0x00FF, 0x2013, 0x2026, 0x2190, 0x2192, 0x25CF, 0x25CF, 0};
  auto add = [&](const char* path, float size, bool with_icons) -> ImFont* {
    if (!std::filesystem::exists(path)) return nullptr;
    ImFont* font = io.Fonts->AddFontFromFileTTF(path, size * scale, nullptr, text_range);
    if (font && with_icons && std::filesystem::exists(icons)) {
      ImFontConfig merge;
      merge.MergeMode = true;
      merge.GlyphMinAdvanceX = size * scale;
      io.Fonts->AddFontFromFileTTF(icons, size * scale * 0.95f, &merge, icon_range);
    }
    return font;
  };
  fonts.text = add(text, 16, true);
  fonts.mono = add(mono, 14.5f, true);
  fonts.title = add(bold, 19, true);
  if (!fonts.text) fonts.text = io.Fonts->AddFontDefault();  // the fonts packages are missing: still usable
  if (!fonts.mono) fonts.mono = fonts.text;
  if (!fonts.title) fonts.title = fonts.text;
  io.FontDefault = fonts.text;
  return fonts;
}

// Clip frames a recording stops at: five minutes at 10 a second.
constexpr int kMaxRecordedFrames = 3000;
// UI frames (5 ms apart) a recording waits for a picture to be ready: 10 s.
constexpr int kMaxRecordWaits = 2000;

// The back buffer's pixels in a rectangle (x, y from the bottom left, as OpenGL counts), RGBA,
// top row first.
std::vector<unsigned char> read_pixels(int x, int y, int width, int height) {
  std::vector<unsigned char> pixels(static_cast<std::size_t>(width) * height * 4);
  glPixelStorei(GL_PACK_ALIGNMENT, 1);
  glReadBuffer(GL_BACK);
  glReadPixels(x, y, width, height, GL_RGBA, GL_UNSIGNED_BYTE, pixels.data());
  // OpenGL's rows start at the bottom.
  const std::size_t stride = static_cast<std::size_t>(width) * 4;
  for (int row = 0; row < height / 2; ++row)
    std::swap_ranges(pixels.begin() + static_cast<std::ptrdiff_t>(row * stride), pixels.begin() + static_cast<std::ptrdiff_t>((row + 1) * stride),
                     pixels.begin() + static_cast<std::ptrdiff_t>((height - 1 - row) * stride));
  return pixels;
}

bool write_screenshot(const std::string& path, int width, int height) {
  const auto pixels = read_pixels(0, 0, width, height);
  return stbi_write_png(path.c_str(), width, height, 4, pixels.data(), width * 4) != 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::signal(SIGTERM, request_stop);
  std::signal(SIGINT, request_stop);
  CLI::App app{"FlowFrame viewer: replay a frame log and inspect every node."};
  std::vector<std::string> log_paths;
  std::string log_path, attach, scenario, select, theme, screenshot, open_link, script_path;
  bool build = false, run_design = false;
  std::optional<std::uint64_t> frame;
  int width = 1600, height = 1000;
  auto* log_option = app.add_option("log", log_paths,
                                    "A .ffl frame log (from flowframe run); two: compare them side by side; none: the scenario gallery");
  auto* attach_option = app.add_option("--attach", attach, "HOST:PORT of a running `flowframe run --serve`")->excludes(log_option);
  app.add_option("--scenario", scenario, "Run this built-in scenario live and watch it")->excludes(log_option)->excludes(attach_option);
  app.add_flag("--build", build, "Open the sandbox");
  app.add_option("--open", open_link, "Open a flowframe: share link in the sandbox");
  app.add_flag("--run", run_design, "With --build or --open: run the design live at once");
  app.add_option("--frame,--from", frame, "Open at this frame (with --record: the first frame; with two logs: A's)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--select", select, "Select this node in the inspector");
  app.add_option("--theme", theme, "dark or light (default: the last one used)")->check(CLI::IsMember({"dark", "light"}));
  app.add_option("--screenshot", screenshot, "Render once, write this PNG and exit (use xvfb-run without a display)");
  std::string record_path;
  std::optional<std::uint64_t> record_to;
  int record_fps = 10;
  double record_speed = 1;
  auto* record_option = app.add_option("--record", record_path, "Write the canvas as an animated GIF from --frame to --to and exit (headless: xvfb-run)");
  app.add_option("--to", record_to, "With --record: the last frame (default: the log's last)")->needs(record_option);
  app.add_option("--fps", record_fps, "With --record: frames a second (1-50, default 10)")->check(CLI::Range(1, 50))->needs(record_option);
  app.add_option("--speed", record_speed, "With --record: simulated seconds per second of the clip (0.1-1000, default 1)")
      ->check(CLI::Range(0.1, 1000.0))
      ->needs(record_option);
  app.add_option("--script", script_path, "Drive the window with scripted input and checks (UI tests); exit 3 if a check fails");
  app.add_option("--size", [&](const CLI::results_t& r) {
    return std::sscanf(r[0].c_str(), "%dx%d", &width, &height) == 2 && width > 200 && height > 200;
  }, "Window size WxH (default 1600x1000)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return 2;
  }

  if (log_paths.size() > 2) {
    std::cerr << fmt::format("error: flowframe-view opens one log, or two to compare side by side; {} were given\n", log_paths.size());
    return 2;
  }
  if (!log_paths.empty()) log_path = log_paths.front();
  const std::string compare_path = log_paths.size() == 2 ? log_paths[1] : "";
  // Open what was asked for before any window, so bad input fails fast and clearly.
  const auto live_file = (std::filesystem::temp_directory_path() / fmt::format("flowframe-view-live-{}.ffl", ::getpid())).string();
  struct RemoveLiveFile {
    std::string path;
    ~RemoveLiveFile() { std::filesystem::remove(path); }
  } remove_live_file{live_file};
  using Opened = std::pair<std::unique_ptr<view::LogModel>, std::unique_ptr<LiveClient>>;
  // A running simulation: its stream arrives in a local file the model reads as it grows.
  auto connect = [&](const std::string& address) -> Opened {
    auto client = std::make_unique<LiveClient>(address, live_file, std::string("flowframe-view ") + kFlowFrameVersion);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (client->received() == 0 && client->error().empty() && !client->closed() && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    if (!client->error().empty()) throw std::runtime_error(address + ": " + client->error());
    if (client->received() == 0) throw std::runtime_error(address + ": no log arrived");
    auto model = std::make_unique<view::LogModel>(live_file);
    model->refresh(client->closed());
    return {std::move(model), std::move(client)};
  };
  // The sandbox's design runs from a file, as `flowframe run design.textproto` would.
  auto start_design = [](const view::Design& design) {
    const auto file = std::filesystem::temp_directory_path() / fmt::format("flowframe-sandbox-{}.textproto", ::getpid());
    std::ofstream(file) << design.text();
    struct Remove {
      std::filesystem::path path;
      ~Remove() { std::filesystem::remove(path); }  // read by the child before it serves
    } remove{file};
    return std::make_unique<viewer::RunningScenario>(file.string(), 1.0);
  };
  std::unique_ptr<viewer::RunningScenario> running;
  std::function<std::unique_ptr<viewer::RunningScenario>()> restart_run;  // how the live run was started
  std::unique_ptr<viewer::Sandbox> sandbox;
  std::unique_ptr<viewer::UiScript> script;
  Opened opened;
  std::unique_ptr<view::LogModel> compared;  // the second run of a comparison
  try {
    if (!script_path.empty()) script = std::make_unique<viewer::UiScript>(script_path);
    if (!open_link.empty()) {
      sandbox = std::make_unique<viewer::Sandbox>();
      sandbox->design = view::Design(decode_link(open_link));
    } else if (build) {
      sandbox = std::make_unique<viewer::Sandbox>();
    }
    if (!log_path.empty()) {
      opened.first = std::make_unique<view::LogModel>(log_path);
      if (opened.first->frame_count() == 0) throw std::runtime_error(log_path + ": holds no readable frames");
      if (frame && *frame >= opened.first->frame_count())
        throw std::runtime_error(fmt::format("--frame {}: {} has frames 0 to {}", *frame, log_path, opened.first->frame_count() - 1));
      if (!compare_path.empty()) {
        if (!record_path.empty()) throw std::runtime_error("--record takes one log, not two");
        if (sandbox) throw std::runtime_error("--build and --open open the sandbox, not a comparison of two logs");
        compared = std::make_unique<view::LogModel>(compare_path);
        if (compared->frame_count() == 0) throw std::runtime_error(compare_path + ": holds no readable frames");
      }
    } else if (!attach.empty()) {
      opened = connect(attach);
    } else if (!scenario.empty()) {
      restart_run = [scenario] { return std::make_unique<viewer::RunningScenario>(scenario, 1.0); };
      running = restart_run();
      opened = connect(running->address());
    } else if (run_design) {
      if (!sandbox) throw std::runtime_error("--run runs the sandbox's design: give --build or --open too");
      restart_run = [start_design, design = sandbox->design] { return start_design(design); };
      running = restart_run();
      opened = connect(running->address());
    }
    if (!select.empty() && opened.first) {  // named before any window opens; in a comparison, in one run at least
      if (!node_named(opened.first->header(), select) && !(compared && node_named(compared->header(), select))) throw std::runtime_error("--select: no node '" + select + "'");
    }
    if (!record_path.empty()) {
      if (!opened.first) throw std::runtime_error("--record needs a frame log to play");
      if (opened.first->frame_count() == 0) throw std::runtime_error(log_path + ": holds no frames to record");
      if (std::filesystem::path(record_path).extension() != ".gif") throw std::runtime_error("--record " + record_path + ": the file must end in .gif");
      const auto last = opened.first->frame_count() ? opened.first->frame_count() - 1 : 0;
      if (frame.value_or(0) > last || record_to.value_or(last) > last || record_to.value_or(last) < frame.value_or(0))
        throw std::runtime_error(fmt::format("--frame/--to: the log has frames 0 to {}, from must come before to", last));
    }
  } catch (const std::exception& error) {
    std::cerr << "error: " << error.what() << '\n';
    return 2;
  }
  const bool headless = !screenshot.empty() || !record_path.empty();

  if (!glfwInit()) {
    std::cerr << "error: cannot open a window (no display? run under xvfb-run -a)\n";
    return 1;
  }
  glfwWindowHint(GLFW_CONTEXT_VERSION_MAJOR, 3);
  glfwWindowHint(GLFW_CONTEXT_VERSION_MINOR, 0);
  if (headless) glfwWindowHint(GLFW_VISIBLE, GLFW_FALSE);
  const std::string title = "FlowFrame — " + log_path + (compare_path.empty() ? "" : " and " + compare_path);
  GLFWwindow* window = glfwCreateWindow(width, height, title.c_str(), nullptr, nullptr);
  if (!window) {
    std::cerr << "error: cannot create an OpenGL 3 window\n";
    glfwTerminate();
    return 1;
  }
  glfwMakeContextCurrent(window);
  glfwSwapInterval(headless ? 0 : 1);
  IMGUI_CHECKVERSION();
  ImGui::CreateContext();
  ImGui::GetIO().IniFilename = nullptr;
  float scale = 1;
  glfwGetWindowContentScale(window, &scale, nullptr);
  const auto fonts = load_fonts(std::max(1.0f, scale));
  ImGui_ImplGlfw_InitForOpenGL(window, true);
  ImGui_ImplOpenGL3_Init("#version 130");

  bool dark = theme.empty() ? load_dark_theme() : theme == "dark";
  viewer::apply_style(dark);
  std::unique_ptr<viewer::Viewer> shown;
  if (opened.first) shown = std::make_unique<viewer::Viewer>(std::move(opened.first), fonts, dark, std::move(opened.second));
  if (shown && sandbox) shown->from_gallery = true;  // "back" returns to the design
  if (shown && running) shown->can_restart = true;
  // Starts a live run and switches to it; "" or why it could not.
  auto open_live = [&](const std::function<std::unique_ptr<viewer::RunningScenario>()>& start) -> std::string {
    try {
      running = start();
      auto [model, client] = connect(running->address());
      shown = std::make_unique<viewer::Viewer>(std::move(model), fonts, dark, std::move(client));
      shown->from_gallery = true;
      shown->can_restart = true;
      restart_run = start;
      return "";
    } catch (const std::exception& error) {
      running.reset();
      return error.what();
    }
  };
  std::string gallery_error;
  std::unique_ptr<viewer::Comparison> comparing;
  if (compared) {
    auto b = std::make_unique<viewer::Viewer>(std::move(compared), fonts, dark);
    comparing = std::make_unique<viewer::Comparison>(std::move(shown), std::move(b), log_path, compare_path);
    if (frame) {  // A at the frame, B at the same moment
      comparing->a().playback().seek_frame(*frame);
      comparing->lock().follow(true);
    }
    if (!select.empty()) {  // in one of them at least, checked before the window
      comparing->a().selected_node = comparing->a().node_named(select);
      if (!comparing->a().selected_node) comparing->b().selected_node = comparing->b().node_named(select);
    }
  }
  if (shown) {
    if (frame) {
      shown->following = false;
      shown->playback().seek_frame(*frame);
      if (auto view = shown->model().frame(*frame, true)) shown->select_request(view->frame.client(), view->frame.request(), *frame);
    }
    if (!select.empty()) shown->selected_node = shown->node_named(select);  // checked before the window
  }
  // Recording: the playback runs in simulated time at --speed, a clip frame each 1/fps seconds,
  // each taken once everything it shows is loaded.
  std::unique_ptr<viewer::GifWriter> recorder;
  double record_step = 0;
  int record_waits = 0;  // UI frames in a row the picture was not ready
  const auto record_to_frame = shown ? record_to.value_or(shown->model().frame_count() - 1) : 0;
  if (shown && !record_path.empty()) {
    shown->playback().set_pace(view::Playback::Pace::sim_time);
    shown->playback().set_rate(record_speed);
    // From the last frame there is nothing to play (and play() would start over): one picture.
    if (frame.value_or(0) < record_to_frame) shown->playback().play();
  }
  // Whether what is shown has everything it needs (a screenshot waits for it).
  auto settled = [&] { return comparing ? comparing->settled() : !shown || shown->settled(); };
  auto last = std::chrono::steady_clock::now();
  int frames_drawn = 0;
  int exit_code = 0;
  while (!glfwWindowShouldClose(window) && !stop_requested) {
    glfwPollEvents();
    const auto now = std::chrono::steady_clock::now();
    const double elapsed = std::chrono::duration<double>(now - last).count();
    last = now;
    ImGui_ImplOpenGL3_NewFrame();
    ImGui_ImplGlfw_NewFrame();
    if (script) script->feed(ImGui::GetIO());
    ImGui::NewFrame();
    int fb_width, fb_height;
    glfwGetFramebufferSize(window, &fb_width, &fb_height);
    const ImVec2 size = ImGui::GetIO().DisplaySize;
    if (build && !sandbox && !shown) sandbox = std::make_unique<viewer::Sandbox>();
    build = false;
    if (comparing) {
      comparing->frame(screenshot.empty() ? std::min(elapsed, 0.1) : 0.0, size);
      dark = comparing->dark();
    } else if (shown) {
      shown->frame(!record_path.empty() ? record_step : screenshot.empty() ? std::min(elapsed, 0.1) : 0.0, size);
      dark = shown->dark();
      if (shown->wants_home) {
        shown.reset();
        running.reset();
      } else if (shown->wants_restart) {
        // The old run and its connection go first: the new one writes the same live file.
        auto carried = shown->carry();
        shown.reset();
        running.reset();
        if (auto error = open_live(restart_run); !error.empty()) gallery_error = "cannot restart the run: " + error;
        else shown->continue_from(std::move(carried));
      }
    } else if (sandbox) {
      const auto action = viewer::draw_sandbox(*sandbox, size, fonts, dark);
      if (action == viewer::SandboxAction::back) sandbox.reset();
      if (action == viewer::SandboxAction::run) {
        if (auto error = open_live([start_design, design = sandbox->design] { return start_design(design); }); !error.empty())
        sandbox->status = error;
      }
    } else {
      std::string edit;
      const auto chosen = viewer::draw_gallery(size, fonts, gallery_error, build, edit);
      for (const auto& builtin : builtin_scenarios()) {
        if (builtin.name != edit) continue;
        sandbox = std::make_unique<viewer::Sandbox>();
        sandbox->design = view::Design::from_text(builtin.text, builtin.name);
        sandbox->path = builtin.name + ".textproto";
        sandbox->status = "editing a copy of " + builtin.name;
      }
      if (chosen) gallery_error = open_live([name = *chosen] { return std::make_unique<viewer::RunningScenario>(name, 1.0); });
    }
    viewer::ui::end_frame();
    if (script) script->advance(size);
    ImGui::Render();
    glViewport(0, 0, fb_width, fb_height);
    const auto background = dark ? ImVec4(0.07f, 0.08f, 0.09f, 1) : ImVec4(0.88f, 0.89f, 0.92f, 1);
    glClearColor(background.x, background.y, background.z, 1);
    glClear(GL_COLOR_BUFFER_BIT);
    ImGui_ImplOpenGL3_RenderDrawData(ImGui::GetDrawData());
    ++frames_drawn;
    // A screenshot waits until the background work the picture depends on is done.
    if (!screenshot.empty() && frames_drawn > 3 && (settled() || frames_drawn > 600)) {
      if (!write_screenshot(screenshot, fb_width, fb_height)) {
        std::cerr << "error: cannot write " << screenshot << '\n';
        exit_code = 1;
      }
      break;
    }
    if (!record_path.empty() && frames_drawn > 3) {
      record_step = 0;
      if (!shown || !shown->settled()) {
        // A frame that never loads (its chunk is damaged) must not hold the recording for ever.
        if (++record_waits > kMaxRecordWaits) {
          std::cerr << fmt::format("error: frame {} cannot be shown (its chunk is damaged or missing); {} is incomplete\n",
                                   shown ? shown->playback().frame() : 0, record_path);
          exit_code = 1;
          break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      } else {
        record_waits = 0;
        const auto to = record_to_frame;
        try {
          const float scale_x = static_cast<float>(fb_width) / size.x, scale_y = static_cast<float>(fb_height) / size.y;
          const int x0 = static_cast<int>(shown->canvas_min.x * scale_x), x1 = static_cast<int>(shown->canvas_max.x * scale_x);
          const int y0 = static_cast<int>(shown->canvas_min.y * scale_y), y1 = static_cast<int>(shown->canvas_max.y * scale_y);
          if (!recorder) recorder = std::make_unique<viewer::GifWriter>(record_path, x1 - x0, y1 - y0, record_fps);
          recorder->add(read_pixels(x0, fb_height - y1, x1 - x0, y1 - y0));
          const bool at_end = shown->playback().frame() >= to || !shown->playback().playing();
          if (at_end || recorder->pictures_added() >= kMaxRecordedFrames) {
            recorder->finish();
            std::cout << fmt::format("{}: {} frames of {}x{}, frames {} to {}{}\n", record_path, recorder->frames(), x1 - x0,
                                     y1 - y0, frame.value_or(0), std::min<std::uint64_t>(shown->playback().frame(), to),
                                     at_end ? "" : fmt::format(" (stopped at the limit of {} clip frames)", kMaxRecordedFrames));
            break;
          }
        } catch (const std::exception& error) {
          std::cerr << "error: " << error.what() << '\n';
          exit_code = 1;
          break;
        }
        record_step = 1.0 / record_fps;
      }
    }
    if (!screenshot.empty() && !settled()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    if (script) {
      if (const auto path = script->take_screenshot(); !path.empty() && !write_screenshot(path, fb_width, fb_height))
        std::cerr << "error: cannot write " << path << '\n', exit_code = 1;
      if (script->done()) {
        if (!script->failure().empty()) std::cerr << "error: " << script->failure() << '\n', exit_code = 3;
        break;
      }
      // A person's pace, so waits in the script mean the same time on any machine.
      std::this_thread::sleep_until(now + std::chrono::milliseconds(16));
    }
    glfwSwapBuffers(window);
  }
  if (script && !script->done()) std::cerr << "error: " << script->unfinished() << '\n', exit_code = 3;
  if (!headless && !script) save_dark_theme(dark);  // a test's clicks are not a user's choice
  comparing.reset();
  shown.reset();
  running.reset();
  ImGui_ImplOpenGL3_Shutdown();
  ImGui_ImplGlfw_Shutdown();
  ImGui::DestroyContext();
  glfwDestroyWindow(window);
  glfwTerminate();
  return exit_code;
}
