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
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=${BUILD_TYPE:-RelWithDebInfo} "${configure[@]}" >/dev/null
cmake --build "$build_dir" -j2 "${build[@]}"
