// The home screen: the built-in scenarios as cards. "Open" starts `flowframe run NAME --serve`
// on a free loopback port as a child process and attaches to it.
#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <stdexcept>

#include "runtime/scenario/scenario.hpp"
#include "viewer/app/gallery.hpp"

extern char** environ;

namespace flowframe::viewer {
namespace {

// The flowframe binary: $FLOWFRAME_BIN, beside this program, in the build tree, or on PATH.
std::string flowframe_binary() {
  if (const char* bin = std::getenv("FLOWFRAME_BIN"); bin && *bin) return bin;
  std::error_code ignored;
  const auto self = std::filesystem::read_symlink("/proc/self/exe", ignored).parent_path();
  for (const auto& candidate : {self / "flowframe", self / "../../cli/flowframe"})
    if (std::filesystem::exists(candidate)) return std::filesystem::canonical(candidate).string();
  return "flowframe";
}

}  // namespace

RunningScenario::RunningScenario(const std::string& scenario, double speed) {
  // `scenario` is a built-in name or a file path (the sandbox's design): the log is named by its stem.
  const auto name = std::filesystem::path(scenario).stem().string();
  log_ = (std::filesystem::temp_directory_path() / fmt::format("flowframe-view-{}-{}.ffl", ::getpid(), name)).string();
  int pipe_fds[2];
  if (::pipe(pipe_fds) != 0) throw std::runtime_error("pipe failed");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDERR_FILENO);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addclose(&actions, pipe_fds[0]);
  const std::string binary = flowframe_binary();
  const std::string speed_text = fmt::format("{}", speed);
  std::vector<std::string> args{binary, "run", scenario, "--serve", "127.0.0.1:0", "--speed", speed_text, "--out", log_, "--linger", "600", "--quiet"};
  std::vector<char*> argv;
  for (auto& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  const int failed = posix_spawnp(&child_, binary.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(pipe_fds[1]);
  if (failed != 0) {
    ::close(pipe_fds[0]);
    throw std::runtime_error("cannot start " + binary + ": " + std::strerror(failed));
  }
  // Its first words say where it serves.
  std::string said;
  char c;
  while (said.find('\n') == std::string::npos && ::read(pipe_fds[0], &c, 1) == 1) said.push_back(c);
  ::close(pipe_fds[0]);
  const auto at = said.find("serving on ");
  if (at == std::string::npos) {
    stop();
    throw std::runtime_error("`flowframe run " + scenario + "` did not start serving: " + said);
  }
  address_ = said.substr(at + 11, said.find(' ', at + 11) - at - 11);
}

void RunningScenario::stop() {
  if (child_ > 0) {
    ::kill(child_, SIGTERM);
    ::waitpid(child_, nullptr, 0);
    child_ = -1;
  }
  std::error_code ignored;
  std::filesystem::remove(log_, ignored);
}

RunningScenario::~RunningScenario() { stop(); }

std::optional<std::string> draw_gallery(ImVec2 size, const Fonts& fonts, const std::string& error, bool& build,
                                        std::string& edit) {
  std::optional<std::string> chosen;
  begin_panel("FlowFrame", {0, 0}, size, ImGuiWindowFlags_NoTitleBar);
  ImGui::PushFont(fonts.title);
  ImGui::TextUnformatted("FlowFrame — watch backend architectures run");
  ImGui::PopFont();
  ImGui::TextDisabled("Pick a scenario: it runs live at real speed; pause it, step it, change a server's capacity or fail it, and watch the system react.");
  if (ui::button("Build your own")) build = true;
  ImGui::SameLine();
  ImGui::TextDisabled("sketch a topology, run it, share it");
  if (!error.empty()) ImGui::TextColored({0.95f, 0.4f, 0.4f, 1}, "%s", error.c_str());
  ImGui::Spacing();
  const auto& style = ImGui::GetStyle();
  const float card_width = std::max(320.0f, (ImGui::GetContentRegionAvail().x - 2 * style.ItemSpacing.x) / 3);
  constexpr float kCardHeight = 290;
  int column = 0;
  static const auto scenarios = [] {  // parsed once, not every UI frame
    std::vector<v1::Scenario> all;
    for (const auto& builtin : builtin_scenarios()) all.push_back(parse_scenario(builtin.text, builtin.name));
    return all;
  }();
  for (std::size_t i = 0; i < scenarios.size(); ++i) {
    const auto& builtin = builtin_scenarios()[i];
    const auto& scenario = scenarios[i];
    if (column++ % 3) ImGui::SameLine();
    ImGui::PushStyleVar(ImGuiStyleVar_ChildRounding, 8);
    ImGui::BeginChild(builtin.name.c_str(), {card_width, kCardHeight}, true, ImGuiWindowFlags_NoScrollbar);
    ImGui::PushFont(fonts.title);
    ImGui::TextUnformatted(builtin.name.c_str());
    ImGui::PopFont();
    // The text scrolls inside the card; its buttons always show at the bottom.
    const float text_height = ImGui::GetContentRegionAvail().y - ImGui::GetFrameHeightWithSpacing() - 4;
    ImGui::BeginChild("text", {0, text_height}, false);
    ImGui::TextWrapped("%s", scenario.description().c_str());
    ImGui::Spacing();
    ImGui::PushStyleColor(ImGuiCol_Text, ImGui::GetStyleColorVec4(ImGuiCol_TextDisabled));
    ImGui::TextWrapped("%s", scenario.explanation().c_str());
    ImGui::PopStyleColor();
    ImGui::EndChild();
    if (ui::button(fmt::format("{} Open live##open {}", icon::play, builtin.name).c_str())) chosen = builtin.name;
    ImGui::SameLine();
    if (ui::button(fmt::format("Edit in the sandbox##edit {}", builtin.name).c_str())) edit = builtin.name;
    ImGui::EndChild();
    ImGui::PopStyleVar();
  }
  ImGui::End();
  return chosen;
}

}  // namespace flowframe::viewer
