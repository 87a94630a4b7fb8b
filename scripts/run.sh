#!/usr/bin/env bash
# README command 1: install, build, run the default scenario (prints a summary, writes load_balancing.ffl).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh --target flowframe
build/cli/flowframe run load_balancing --out load_balancing.ffl --summary-json load_balancing.json
