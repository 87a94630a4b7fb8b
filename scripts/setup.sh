#!/usr/bin/env bash
# Installs the Debian 12 packages FlowFrame needs. Safe to run again: it installs only what is missing.
set -euo pipefail
packages=(
  build-essential cmake ninja-build pkg-config   # compiler and build
  libcaf-dev                                     # actor runtime (CAF 0.17)
  protobuf-compiler libprotobuf-dev              # schemas for scenarios, frames, log header
  libzstd-dev libxxhash-dev                      # frame log: chunk compression and checksums
  libssl-dev                                     # HMAC-SHA256 for valet-key upload tokens (libcrypto)
  libcli11-dev libfmt-dev nlohmann-json3-dev     # command line, formatting, JSON output
  libutfcpp-dev                                  # UTF-8 checks on names and paths from files, flags and sockets
  libspdlog-dev                                  # logging (the live server's connection events)
  librsvg2-bin                                   # flowframe bench --plot out.png (SVG to PNG)
  libimgui-dev libstb-dev libglfw3-dev libgl-dev # viewer: Dear ImGui 1.86, PNG screenshots, window, OpenGL
  libgif-dev                                     # viewer: --record out.gif (animated GIF, giflib's quantizer)
  fonts-inter fonts-jetbrains-mono fonts-font-awesome  # viewer: text, monospace and icon fonts
  libgtest-dev libgmock-dev                      # tests
  xvfb xauth                                     # tests: the viewer's headless screenshots
)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}" >&2
  sudo_cmd=()
  [[ $(id -u) -ne 0 ]] && sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
