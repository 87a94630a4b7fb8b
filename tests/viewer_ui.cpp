// The real viewer window driven by scripted input under Xvfb (flowframe-view --script): every
// control responds, the gallery round trip and a Learn try-it after the run ended work, and every
// control is whole on screen at 1280x720 and 1600x1000 in both themes.
#include <fmt/format.h>
#include <gif_lib.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>
#include <sstream>

#include "runtime/compare/diff.hpp"
#include "runtime/framelog/frame_text.hpp"
#include "support.hpp"
#include "viewer/model/log_model.hpp"

namespace flowframe {
namespace {

struct Outcome {
  int code = -1;
  std::string said;
};

// Runs the viewer with `arguments` and the script, at `size` (WxH); what it said on stderr.
Outcome drive(const std::string& arguments, const std::string& script, const std::string& size = "1600x1000") {
  test::TempPath script_file(".txt"), said(".txt");
  test::write_file(script_file.str(), script);
  const auto command = "FLOWFRAME_BIN=" + std::string(FLOWFRAME_BIN) + " xvfb-run -a -s '-screen 0 " + size + "x24' " +
                       std::string(FLOWFRAME_VIEW_BIN) + " --size " + size + " " + arguments + " --script " + script_file.str() +
                       " >/dev/null 2>" + said.str();
  const int status = std::system(command.c_str());
  std::ifstream in(said.str());
  std::stringstream text;
  text << in.rdbuf();
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, text.str()};
}

std::string recorded(const std::string& scenario, const std::vector<std::string>& overrides, test::TempPath& log) {
  RunOptions options;
  options.out_path = log.str();
  test::run_scenario(scenario, overrides, options);
  return log.str();
}

TEST(ViewerUi, ScriptsFailLoudlyOnWhatIsNotThere) {
  test::TempPath log(".ffl");
  recorded("load_balancing", {}, log);
  // A check that cannot hold fails the run and names the line; the harness is not a rubber stamp.
  auto outcome = drive(log.str(), "expect-visible Fit\nexpect no such control\n");
  EXPECT_EQ(outcome.code, 3);
  EXPECT_NE(outcome.said.find(":2: expect no such control: not drawn"), std::string::npos) << outcome.said;
  outcome = drive(log.str(), "frobnicate Fit\n");
  EXPECT_EQ(outcome.code, 2);
  EXPECT_NE(outcome.said.find(":1: unknown command 'frobnicate'"), std::string::npos) << outcome.said;
}

TEST(ViewerUi, CanvasButtonsAndTransportRespond) {
  test::TempPath log(".ffl");
  recorded("load_balancing", {}, log);
  const auto outcome = drive(log.str() + " --theme dark", R"(
    # Zoomed far in the servers leave the canvas; Fit brings them back.
    expect settled
    expect-visible node:server-3
    scroll 15 canvas
    expect-hidden node:server-3
    click Fit
    expect-visible node:server-3
    expect-visible node:client-1
    # Collapse groups: one node per group, and back.
    click Collapse groups
    expect-gone node:server-2
    expect-visible node:server
    click Collapse groups
    expect-visible node:server-2
    # Clicking a node opens it in the inspector.
    click node:lb
    expect inspecting lb
    # Transport: step, keys, ends, play and pause.
    expect at frame 0
    click step forward
    expect at frame 1
    key right
    expect at frame 2
    click step back
    expect at frame 1
    click to end
    expect at frame 239
    click to start
    expect at frame 0
    # Story pace: one hop at a time, a visible moment each (1.5 a second).
    click pace
    click pace story
    expect 1.5 hops/s
    click play
    expect playing
    expect at frame 1
    key space
    expect paused
    wait 90
    expect at frame 1
    # Simulated time: the whole run (1.3 s) plays in about as long, then stops at its end.
    click pace
    click pace sim time
    click play
    expect playing
    expect at frame 239
    expect paused
    expect dark theme
    click theme
    expect light theme
    click help
    expect Keyboard help
    key escape
    expect-gone Keyboard help
  )");
  EXPECT_EQ(outcome.code, 0) << outcome.said;
}

TEST(ViewerUi, SequenceChartShowsRecentFramesFollowsAClickedRequestAndGoesToFrames) {
  test::TempPath log(".ffl");
  recorded("load_balancing", {}, log);
  const auto outcome = drive(log.str(), R"(
    expect settled
    click Sequence chart
    expect-visible Topology
    expect sequence: 1 arrows
    expect lifelines: 1
    click to end
    expect at frame 239
    expect sequence: 24 arrows
    # Further back from the cursor, and back again.
    click recent frames
    click recent 96
    expect sequence: 96 arrows
    click recent frames
    click recent 24
    expect sequence: 24 arrows
    # An arrow goes to its frame and follows its request: the chart shows that request's hops.
    click arrow:230
    expect at frame 230
    expect Request *
    expect-gone arrow:239
    expect lifelines: 3
    # Back to the frames up to the cursor.
    click Request *
    expect sequence: 24 arrows
    expect arrow:207
    click Topology
    expect-visible node:lb
  )");
  EXPECT_EQ(outcome.code, 0) << outcome.said;
}

// Runs the viewer headless with `arguments`; its exit code and everything it printed.
Outcome run_viewer(const std::string& arguments) {
  const auto [code, said] = test::shell("xvfb-run -a -s '-screen 0 1280x720x24' " + std::string(FLOWFRAME_VIEW_BIN) +
                                        " --size 1280x720 " + arguments);
  return {code, said};
}

// Two runs side by side: a node clicked on either side is inspected on both (a run without it says
// so), the transport moves both by simulated time (steps, the first difference, end, start, play),
// and the figures are `flowframe diff`'s.
TEST(ViewerUi, ComparesTwoRunsSideBySideLockedBySimulatedTime) {
  test::TempPath a(".ffl"), b(".ffl");
  recorded("load_balancing", {"stop.requests=200", "workload.rate=150"}, a);
  recorded("load_balancing", {"stop.requests=200", "workload.rate=150", "lb.strategy=least_conn", "server.replicas=4"}, b);
  const auto diff = diff_runs({a.str()}, {b.str()});
  ASSERT_TRUE(diff.divergence);
  const auto first = diff.divergence->frame;
  const auto figure = [&](const char* name) {
    return std::find_if(diff.figures.begin(), diff.figures.end(), [&](const FigureDiff& f) { return f.name == name; });
  };
  const auto error_rate = figure("error_rate");
  ASSERT_NE(error_rate, diff.figures.end());
  ASSERT_NE(figure("completed"), diff.figures.end());
  const auto& completed = *figure("completed");  // the metrics overlay counts as the diff does
  view::LogModel a_model(a.str()), b_model(b.str());
  // A step back from where the runs part moves the run whose frame there is the later (both if
  // at the same moment).
  const auto b_first = diff.divergence->b_frame;
  const Time part_a = a_model.frame(first, true)->time, part_b = b_model.frame(b_first, true)->time;
  const auto back_a = part_a >= part_b ? first - 1 : first, back_b = part_b >= part_a ? b_first - 1 : b_first;
  // An arrow of A's sequence chart at the end (it shows the last 24 frames): a hop, whose frame A
  // goes to, and B to the same moment.
  std::uint64_t arrow = a_model.frame_count() - 4;
  while (!is_hop(a_model.frame(arrow, true)->frame)) --arrow;
  const auto outcome = drive(a.str() + " " + b.str() + " --theme dark", fmt::format(R"(
    expect settled
    expect-visible A/canvas
    expect-visible B/canvas
    expect at A frame 0, B frame 0
    click A/node:server-1
    expect A/inspecting server-1
    expect B/inspecting server-1
    click B/node:server-4
    expect B/inspecting server-4
    expect A/no node server-4
    click B/node:lb
    expect A/inspecting lb
    click step forward
    expect at A frame 1, B frame 1
    click First difference: frame {0}
    expect at A frame {0}, B frame {13}
    click step back
    expect at A frame {11}, B frame {12}
    click to end
    expect at A frame {2}, B frame {3}
    click to start
    expect at A frame 0, B frame 0
    click play
    expect playing
    click play
    expect paused
    expect-gone at A frame 0, B frame 0
    expect error_rate: {4} -> {5} {6}
    expect completed {9} and {10}
    click theme
    expect light theme
    click A/Sequence chart
    expect A/sequence: *
    expect-visible B/node:lb
    # A request followed on one side is followed on the other.
    click B/Sequence chart
    click to end
    click A/arrow:{7}
    expect A/Request *
    expect B/Request *
    expect at A frame {7}, B frame {8}
    click B/Topology
    click A/Topology
    expect-visible A/node:lb
    expect-tidy
  )", first, first - 1, a_model.frame_count() - 1, b_model.frame_count() - 1, figure_text(error_rate->a), figure_text(error_rate->b),
                                                                          noise_text(*error_rate), arrow, b_model.frame_at_time(a_model.frame(arrow, true)->time, true).value(),
                                                                          figure_text(completed.a), figure_text(completed.b),
                                                                          back_a, back_b, diff.divergence->b_frame));
  EXPECT_EQ(outcome.code, 0) << outcome.said;
  // Bad input names the file; a third log is refused.
  test::TempPath junk(".ffl");
  test::write_file(junk.str(), "not a frame log");
  auto refused = run_viewer(a.str() + " " + junk.str() + " --screenshot /dev/null");
  EXPECT_EQ(refused.code, 2);
  EXPECT_NE(refused.said.find(junk.str()), std::string::npos) << refused.said;
  refused = run_viewer(a.str() + " " + b.str() + " " + a.str());
  EXPECT_EQ(refused.code, 2) << refused.said;
  EXPECT_NE(refused.said.find("one log, or two to compare side by side; 3 were given"), std::string::npos) << refused.said;
  refused = run_viewer(a.str() + " " + b.str() + " --frame 99999 --screenshot /dev/null");
  EXPECT_EQ(refused.code, 2);
  EXPECT_NE(refused.said.find("--frame 99999: " + a.str() + " has frames 0 to"), std::string::npos) << refused.said;
  refused = run_viewer(a.str() + " " + b.str() + " --record out.gif");
  EXPECT_EQ(refused.code, 2);
  EXPECT_NE(refused.said.find("--record takes one log"), std::string::npos) << refused.said;
}

TEST(ViewerUi, RecordsTheCanvasAsAnAnimatedGifHeadless) {
  test::TempPath log(".ffl"), gif(".gif");
  recorded("load_balancing", {}, log);
  auto outcome = run_viewer(log.str() + " --record " + gif.str() + " --from 10 --to 200 --speed 0.5 --fps 10");
  ASSERT_EQ(outcome.code, 0) << outcome.said;
  EXPECT_NE(outcome.said.find(gif.str() + ": "), std::string::npos) << outcome.said;
  EXPECT_NE(outcome.said.find("frames 10 to 200"), std::string::npos) << outcome.said;

  int error = 0;
  GifFileType* file = DGifOpenFileName(gif.str().c_str(), &error);
  ASSERT_NE(file, nullptr) << GifErrorString(error);
  ASSERT_EQ(DGifSlurp(file), GIF_OK) << GifErrorString(file->Error);
  // The canvas, not the window: narrower and shorter than 1280x720.
  EXPECT_GT(file->SWidth, 300);
  EXPECT_LT(file->SWidth, 1280);
  EXPECT_GT(file->SHeight, 200);
  EXPECT_LT(file->SHeight, 720);
  // Frames 10 to 200 of load_balancing span about a second of simulated time: at half speed and
  // 10 a second about 20 pictures (fewer where nothing moved: those show longer).
  EXPECT_GE(file->ImageCount, 8);
  int total_cs = 0;
  for (int i = 0; i < file->ImageCount; ++i) {
    const auto& image = file->SavedImages[i];
    GraphicsControlBlock control{};
    ASSERT_EQ(DGifSavedExtensionToGCB(file, i, &control), GIF_OK) << i;
    EXPECT_EQ(control.DelayTime % 10, 0) << i;
    total_cs += control.DelayTime;
    ASSERT_NE(image.ImageDesc.ColorMap, nullptr) << i;
    EXPECT_LE(image.ImageDesc.Left + image.ImageDesc.Width, file->SWidth);
    EXPECT_LE(image.ImageDesc.Top + image.ImageDesc.Height, file->SHeight);
    if (i == 0) {
      EXPECT_EQ(image.ImageDesc.Width * image.ImageDesc.Height, file->SWidth * file->SHeight);
    }
  }
  EXPECT_GE(total_cs, 150);  // the clip lasts about two seconds
  EXPECT_LE(total_cs, 300);
  // It loops: the NETSCAPE2.0 extension before the first picture.
  bool loops = false;
  for (int k = 0; k < file->SavedImages[0].ExtensionBlockCount; ++k) {
    const auto& block = file->SavedImages[0].ExtensionBlocks[k];
    loops = loops || (block.ByteCount == 11 && std::string(reinterpret_cast<char*>(block.Bytes), 11) == "NETSCAPE2.0");
  }
  EXPECT_TRUE(loops);
  DGifCloseFile(file, &error);

  // From the last frame: one picture (not the whole log from the start again).
  outcome = run_viewer(log.str() + " --record " + gif.str() + " --from 239");
  EXPECT_EQ(outcome.code, 0) << outcome.said;
  EXPECT_NE(outcome.said.find(": 1 frames of "), std::string::npos) << outcome.said;
  EXPECT_NE(outcome.said.find("frames 239 to 239"), std::string::npos) << outcome.said;

  outcome = run_viewer(log.str() + " --record " + gif.str() + ".png");
  EXPECT_EQ(outcome.code, 2);
  EXPECT_NE(outcome.said.find("the file must end in .gif"), std::string::npos) << outcome.said;
  outcome = run_viewer(log.str() + " --record " + gif.str() + " --from 100 --to 5000");
  EXPECT_EQ(outcome.code, 2);
  EXPECT_NE(outcome.said.find("the log has frames 0 to 239"), std::string::npos) << outcome.said;
}

TEST(ViewerUi, GalleryRoundTripAndLearnTryItAfterTheRunEnded) {
  const auto outcome = drive("", R"(
    click open load_balancing
    expect-visible Scenarios
    # load_balancing ends after 1.3 s; its try-its then start it again and do it there.
    expect ENDED
    expect-disabled pause run
    click try Fail server-2
    expect LIVE
    expect status: done at*
    click restart run
    expect status: restarted
    click Scenarios
    expect-visible open load_balancing
    click Build your own
    expect-visible Scenarios
    click Scenarios
    # A scripted scenario in the sandbox shows its script, not a rate of 0.
    click edit cache_aside
    expect scripted workload
    expect-gone rate
    click Scenarios
    expect-visible open cache_aside
  )");
  EXPECT_EQ(outcome.code, 0) << outcome.said;
}

TEST(ViewerUi, EveryControlIsWholeAtBothSizesInBothThemes) {
  test::TempPath log(".ffl"), big(".ffl");
  recorded("load_balancing_failover", {}, log);
  recorded("load_balancing", {"server.replicas=64"}, big);
  // Each screen with what shows that it is all drawn: a settled viewer, the gallery's cards, the sandbox.
  const std::vector<std::pair<std::string, std::string>> screens = {
      {log.str() + " --frame 300 --select lb", "expect settled\nexpect inspecting lb\n"},
      {big.str() + " --select lb", "expect settled\nexpect node:server\n"},
      {"--scenario cache_aside", "expect settled\nexpect try*\n"},
      {"", "expect open load_balancing\n"},
      {"--build", "expect Run\n"},
      {log.str() + " --frame 300", "expect settled\nclick Sequence chart\nexpect sequence:*\n"},
      {log.str() + " " + big.str() + " --frame 300 --select server-1", "expect settled\nexpect B/inspecting server-1\n"}};
  for (const std::string size : {"1280x720", "1600x1000"})
    for (const std::string theme : {"dark", "light"})
      for (const auto& [screen, ready] : screens) {
        const auto outcome = drive(screen + " --theme " + theme, ready + "expect-tidy\n", size);
        EXPECT_EQ(outcome.code, 0) << size << " " << theme << " " << screen << ": " << outcome.said;
      }
}

// Stopped with SIGTERM while it shows a live run: the run stops and no temporary log stays behind.
TEST(ViewerUi, SigtermLeavesNoTemporaryLogs) {
  const auto folder = std::filesystem::temp_directory_path() / ("flowframe-sigterm-" + std::to_string(::getpid()));
  std::filesystem::create_directories(folder);
  test::TempPath script(".txt");
  test::TempPath ready(".png");
  test::write_file(script.str(), "expect settled\nscreenshot " + ready.str() + "\nwait 100000\n");
  const auto command = "TMPDIR=" + folder.string() + " FLOWFRAME_BIN=" + std::string(FLOWFRAME_BIN) +
                       " xvfb-run -a -s '-screen 0 1280x720x24' " + std::string(FLOWFRAME_VIEW_BIN) +
                       " --size 1280x720 --scenario load_balancing --script " + script.str() + " >/dev/null 2>&1 &";
  ASSERT_EQ(std::system(command.c_str()), 0);
  auto logs = [&] {
    int found = 0;
    for (const auto& entry : std::filesystem::recursive_directory_iterator(folder))
      found += entry.path().filename().string().rfind("flowframe-", 0) == 0;
    return found;
  };
  // Once it shows the run (its screenshot is written), both logs exist and the signal handler is set.
  for (int i = 0; i < 400 && !std::filesystem::exists(ready.str()); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_TRUE(std::filesystem::exists(ready.str()));
  ASSERT_GE(logs(), 2) << "the run's log and the viewer's copy";
  // "[-]-script" matches the viewer's "--script" but not this pkill's own shell.
  const auto stop = "pkill -TERM -f -- '[-]-script " + script.str() + "'";
  ASSERT_EQ(std::system(stop.c_str()), 0);
  for (int i = 0; i < 200 && logs() > 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(logs(), 0);
  std::filesystem::remove_all(folder);
}

}  // namespace
}  // namespace flowframe
