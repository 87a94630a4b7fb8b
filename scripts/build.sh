#!/usr/bin/env bash
# Configures and builds into BUILD_DIR (default: build). Arguments starting with -D go to CMake's
# configure step, the rest (e.g. --target flowframe) to its build step.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${BUILD_DIR:-build}
configure=() build=()
for arg in "$@"; do
  if [[ $arg == -D* ]]; then configure+=("$arg"); else build+=("$arg"); fi
done
# A first build merges each target's sources into a few (CMake's unity build): a third less time
# from scratch (a new clone, CI). A directory configured before keeps its choice.
if [[ ! -f $build_dir/CMakeCache.txt ]]; then configure=(-DCMAKE_UNITY_BUILD=ON "${configure[@]}"); fi
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=${BUILD_TYPE:-RelWithDebInfo} "${configure[@]}" >/dev/null
cmake --build "$build_dir" -j2 "${build[@]}"
