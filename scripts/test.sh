#!/usr/bin/env bash
# README command 2: install, build, run every test. With --sanitize: the same under ASan + UBSan
# in build-sanitize/.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
if [[ ${1:-} == --sanitize ]]; then
  export BUILD_DIR=build-sanitize BUILD_TYPE=Debug
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  # The viewer's GL stack (Mesa) is not built with sanitizers; its model library is tested here.
  # -O1 -g1: ASan's advice for speed; line tables are enough for its stack traces.
  scripts/build.sh -DFLOWFRAME_SANITIZE=ON -DFLOWFRAME_BENCH=OFF -DFLOWFRAME_VIEWER=OFF "-DCMAKE_CXX_FLAGS_DEBUG=-O1 -g1"
  # The tests that run every built-in scenario (the first two many times) take a third of the suite's
  # time under the sanitizers and run the code the other tests run: they run in the plain pass.
  ctest --test-dir "$BUILD_DIR" -j2 --output-on-failure \
    -E '^(Determinism\.EveryBuiltinScenarioAnyThreadsAndShards|ViewModel\.SeekingEqualsReplayingForEveryFrameOfEveryBuiltinScenario|Export\.EveryBuiltinScenarioExportsAWellFormedTraceAndOneRowPerRequest)$'
  exit
fi
export BUILD_DIR=build
scripts/build.sh
ctest --test-dir "$BUILD_DIR" -j2 --output-on-failure
