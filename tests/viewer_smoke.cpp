// The viewer, headless under Xvfb, for every built-in scenario: the screenshot is not blank, and
// two frames where something moved give two different pictures.
#include <gtest/gtest.h>
#include <stb_image.h>
#include <sys/wait.h>

#include <set>

#include "runtime/scenario/kind.hpp"
#include "support.hpp"
#include "viewer/app/kind_view.hpp"

namespace flowframe {
namespace {

struct Image {
  int width = 0, height = 0;
  std::vector<unsigned char> pixels;
};

Image load_png(const std::string& path) {
  Image image;
  int channels = 0;
  unsigned char* data = stbi_load(path.c_str(), &image.width, &image.height, &channels, 3);
  if (data) image.pixels.assign(data, data + static_cast<std::size_t>(image.width) * image.height * 3);
  stbi_image_free(data);
  return image;
}

int run(const std::string& command) {
  const int status = std::system((command + " 2>&1").c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

Image screenshot(const std::string& log, std::uint64_t frame, const std::string& extra) {
  test::TempPath png(".png");
  const auto command = "xvfb-run -a -s '-screen 0 1280x800x24' " + std::string(FLOWFRAME_VIEW_BIN) + " " + log +
                       " --size 1280x800 --frame " + std::to_string(frame) + " " + extra + " --screenshot " + png.str();
  EXPECT_EQ(run(command), 0) << command;
  return load_png(png.str());
}

TEST(ViewerSmoke, EveryBuiltinScenarioRendersAndMoves) {
  ASSERT_EQ(run("command -v xvfb-run >/dev/null"), 0) << "xvfb-run is missing: scripts/setup.sh installs it";
  for (const auto& builtin : builtin_scenarios()) {
    test::TempPath log(".ffl");
    RunOptions options;
    options.out_path = log.str();
    auto result = test::run_scenario(builtin.name, {}, options);
    const auto frames = result.result.frames;
    const auto first = screenshot(log.str(), frames / 4, "--theme dark");
    const auto second = screenshot(log.str(), frames / 2, "--theme dark");
    ASSERT_EQ(first.width, 1280) << builtin.name;
    ASSERT_EQ(first.height, 800) << builtin.name;
    // Not blank: plenty of distinct colours.
    std::set<std::uint32_t> colours;
    for (std::size_t i = 0; i + 2 < first.pixels.size(); i += 3 * 97)
      colours.insert(first.pixels[i] << 16 | first.pixels[i + 1] << 8 | first.pixels[i + 2]);
    EXPECT_GT(colours.size(), 20u) << builtin.name;
    std::size_t differing = 0;
    for (std::size_t i = 0; i < first.pixels.size(); ++i) differing += first.pixels[i] != second.pixels[i];
    EXPECT_GT(differing, 1000u) << builtin.name << ": frames " << frames / 4 << " and " << frames / 2 << " look the same";
  }
  // A file that is not a frame log gets a clear message, not a crash.
  test::TempPath bogus(".ffl");
  test::write_file(bogus.str(), "not a log");
  EXPECT_EQ(run(std::string(FLOWFRAME_VIEW_BIN) + " " + bogus.str() + " --screenshot /dev/null >/dev/null"), 2);
}

}  // namespace
}  // namespace flowframe

namespace flowframe {
namespace {

Image shot(const std::string& arguments) {
  test::TempPath png(".png");
  const auto command = "FLOWFRAME_BIN=" + std::string(FLOWFRAME_BIN) + " xvfb-run -a -s '-screen 0 1280x800x24' " +
                       std::string(FLOWFRAME_VIEW_BIN) + " --size 1280x800 " + arguments + " --screenshot " + png.str();
  EXPECT_EQ(run(command), 0) << command;
  return load_png(png.str());
}

std::size_t colours(const Image& image) {
  std::set<std::uint32_t> seen;
  for (std::size_t i = 0; i + 2 < image.pixels.size(); i += 3 * 97)
    seen.insert(image.pixels[i] << 16 | image.pixels[i + 1] << 8 | image.pixels[i + 2]);
  return seen.size();
}

// The Learn page beside a live run, the gallery and the sandbox with a small topology.
TEST(ViewerSmoke, LearnGalleryAndSandboxRender) {
  const auto learn = shot("--scenario cache_aside --select cache");
  const auto gallery = shot("");
  const auto sandbox = shot("--build");
  for (const auto* image : {&learn, &gallery, &sandbox}) {
    ASSERT_EQ(image->width, 1280);
    EXPECT_GT(colours(*image), 20u);
  }
  std::size_t differing = 0;
  for (std::size_t i = 0; i < gallery.pixels.size(); ++i) differing += gallery.pixels[i] != sandbox.pixels[i];
  EXPECT_GT(differing, 10000u);
  EXPECT_EQ(run(std::string(FLOWFRAME_VIEW_BIN) + " --open flowframe:AAAA --screenshot /dev/null >/dev/null"), 2);
  // Run: the sandbox's design runs live and the viewer shows it (shot() fails on a non-zero exit).
  const auto ran = shot("--build --run");
  differing = 0;
  for (std::size_t i = 0; i < sandbox.pixels.size(); ++i) differing += ran.pixels.size() == sandbox.pixels.size() && ran.pixels[i] != sandbox.pixels[i];
  EXPECT_GT(differing, 10000u);
}

// The messaging and saga kinds' inspectors (queue depth bars, partition strips, positions, saga
// state machines, effects by key) draw for a selected node at a busy frame; shot() fails on a non-zero
// exit (an ImGui assertion, a crash).
TEST(ViewerSmoke, MessagingAndSagaInspectorsRender) {
  for (const auto& [scenario, nodes] : {std::pair{std::string("work_queue"), std::vector<std::string>{"broker", "worker-1"}},
                                         std::pair{std::string("event_log"), std::vector<std::string>{"kafka", "replica-1", "app-2"}},
                                         std::pair{std::string("log_failover"), std::vector<std::string>{"replica-1", "kafka"}},
                                         std::pair{std::string("saga_orchestrated"), std::vector<std::string>{"orders", "payments"}},
                                         std::pair{std::string("saga_choreography"), std::vector<std::string>{"orders", "payments", "kafka"}},
                                         std::pair{std::string("cdn"), std::vector<std::string>{"edge-eu", "shield", "origin"}},
                                         std::pair{std::string("multi_region_failover"), std::vector<std::string>{"db-us", "db-eu", "dns"}}}) {
    test::TempPath log(".ffl");
    RunOptions options;
    options.out_path = log.str();
    const auto result = test::run_scenario(scenario, {}, options);
    Image previous;
    for (const auto& node : nodes) {
      const auto image = shot(log.str() + " --frame " + std::to_string(result.result.frames / 2) + " --select " + node + " --theme light");
      ASSERT_EQ(image.width, 1280) << scenario << " " << node;
      EXPECT_GT(colours(image), 20u) << scenario << " " << node;
      if (!previous.pixels.empty()) {
        std::size_t differing = 0;
        for (std::size_t i = 0; i < image.pixels.size(); ++i) differing += image.pixels[i] != previous.pixels[i];
        EXPECT_GT(differing, 2000u) << scenario << ": selecting " << node << " changed nothing";
      }
      previous = image;
    }
  }
}

// Every kind the engine knows has a view: colour, icon, badge, inspector and live controls.
TEST(ViewerKinds, EveryRegisteredKindHasAView) {
  for (const auto* kind : kind_descriptions()) {
    SCOPED_TRACE(kind->name);
    EXPECT_TRUE(viewer::has_kind_view(kind->kind)) << "add viewer/kinds/" << kind->name << ".cpp";
  }
  EXPECT_EQ(viewer::kind_views().size(), kind_descriptions().size());
  EXPECT_FALSE(kind_descriptions().empty());
}

}  // namespace
}  // namespace flowframe
