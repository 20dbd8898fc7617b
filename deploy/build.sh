#!/usr/bin/env bash
# Configures and builds Deja into ./build (or $DEJA_BUILD_DIR).
# Usage: deploy/build.sh [cmake --build arguments, e.g. --target dejad deja]
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${DEJA_BUILD_DIR:-build}
launcher=()
if command -v ccache >/dev/null 2>&1; then launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache); fi
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "${launcher[@]}" >/dev/null
echo "build: compiling into $build_dir with $(nproc) jobs (the first build takes a few minutes)"
cmake --build "$build_dir" -j"$(nproc)" "$@"
