// Installing like a tool: `cmake --install` into a prefix, the tools run from there (not from the
// source tree), bash completion, the .deb CPack makes.
#include <gtest/gtest.h>

#include <filesystem>

#include "support.hpp"

namespace flowframe {
namespace {

namespace fs = std::filesystem;

// A directory unique to the running test, removed when the test ends.
struct TempDir {
  TempDir() : path(test::TempPath("_dir").str()) { fs::create_directories(path); }
  ~TempDir() { fs::remove_all(path); }
  fs::path path;
};

TEST(Install, PutsTheToolsInThePrefixAndTheyRunFromAnywhere) {
  TempDir prefix, elsewhere;
  auto [code, said] = test::shell("cmake --install " FLOWFRAME_BUILD_DIR " --prefix " + prefix.path.string());
  ASSERT_EQ(code, 0) << said;
  const auto tool = prefix.path / "bin" / "flowframe";
  ASSERT_TRUE(fs::exists(tool));
  EXPECT_EQ(fs::exists(prefix.path / "bin" / "flowframe-view"), fs::exists(FLOWFRAME_BUILD_DIR "/viewer/app/flowframe-view"));
  EXPECT_TRUE(fs::exists(prefix.path / "share" / "flowframe" / "scenarios" / "load_balancing.textproto"));
  EXPECT_TRUE(fs::exists(prefix.path / "share" / "doc" / "flowframe" / "docs" / "FORMAT.md"));
  EXPECT_TRUE(fs::exists(prefix.path / "share" / "bash-completion" / "completions" / "flowframe"));
  // From a directory with nothing of the project in it: built-ins are inside the tool.
  std::tie(code, said) = test::shell("cd " + elsewhere.path.string() + " && " + tool.string() +
                                     " run cache_aside --quiet --out run.ffl && " + tool.string() + " export run.ffl --format csv");
  EXPECT_EQ(code, 0) << said;
  EXPECT_TRUE(fs::exists(elsewhere.path / "run.ffl"));
  EXPECT_TRUE(fs::exists(elsewhere.path / "run.csv"));
  // The installed scenario file runs as the built-in does.
  std::tie(code, said) = test::shell(tool.string() + " validate " + (prefix.path / "share/flowframe/scenarios/cdn.textproto").string());
  EXPECT_EQ(code, 0) << said;
}

TEST(Install, CPackMakesADebWithTheToolsAndTheirLibraries) {
  TempDir out, unpacked;
  auto [code, said] = test::shell("cpack --config " FLOWFRAME_BUILD_DIR "/CPackConfig.cmake -B " + out.path.string());
  ASSERT_EQ(code, 0) << said;
  std::string deb;
  for (const auto& entry : fs::directory_iterator(out.path))
    if (entry.path().extension() == ".deb") deb = entry.path().string();
  ASSERT_FALSE(deb.empty()) << said;
  std::tie(code, said) = test::shell("dpkg-deb -f " + deb + " Package Depends");
  EXPECT_EQ(code, 0) << said;
  EXPECT_NE(said.find("Package: flowframe"), std::string::npos) << said;
  EXPECT_NE(said.find("libcaf-core0.17"), std::string::npos) << said;  // found by dpkg-shlibdeps
  EXPECT_NE(said.find("libprotobuf32"), std::string::npos) << said;
  std::tie(code, said) = test::shell("dpkg-deb -x " + deb + " " + unpacked.path.string() + " && " +
                                     (unpacked.path / "usr/bin/flowframe").string() + " --version");
  EXPECT_EQ(code, 0) << said;
  EXPECT_TRUE(fs::exists(unpacked.path / "usr/share/bash-completion/completions/flowframe"));
}

// What bash offers after `words` (the last one being typed), with the completion script sourced.
std::vector<std::string> complete(const std::string& words) {
  test::TempPath script(".sh");
  test::write_file(script.str(), std::string("source <(") + FLOWFRAME_BIN + " completion bash)\nCOMP_WORDS=(" + words +
                                     ")\nCOMP_CWORD=$((${#COMP_WORDS[@]} - 1))\n_flowframe\nprintf '%s\\n' \"${COMPREPLY[@]}\"\n");
  const auto [code, said] = test::shell("cd /tmp && bash " + script.str());
  EXPECT_EQ(code, 0) << said;
  std::vector<std::string> offered;
  std::istringstream in(said);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) offered.push_back(line);
  return offered;
}

TEST(Install, BashCompletesVerbsFlagsValuesAndScenarios) {
  EXPECT_EQ(complete("flowframe ex"), std::vector<std::string>{"export"});
  const auto verbs = complete("flowframe \"\"");
  for (const char* verb : {"run", "diff", "export", "bench", "worker", "completion"})
    EXPECT_NE(std::find(verbs.begin(), verbs.end(), verb), verbs.end()) << verb;
  EXPECT_EQ(complete("flowframe export x.ffl --fo"), std::vector<std::string>{"--format"});
  EXPECT_EQ(complete("flowframe export x.ffl --format c"), (std::vector<std::string>{"chrome-json", "csv"}));
  EXPECT_EQ(complete("flowframe run load_balancing --detail l"), std::vector<std::string>{"light"});
  const auto scenarios = complete("flowframe run cache_a");
  EXPECT_NE(std::find(scenarios.begin(), scenarios.end(), "cache_aside"), scenarios.end());
  const auto run_flags = complete("flowframe run x --wo");
  EXPECT_EQ(run_flags, std::vector<std::string>{"--workers"});
}

}  // namespace
}  // namespace flowframe
