#!/usr/bin/env bash
# The README's test command: installs what is missing (Debian packages),
# builds, and runs every test: unit, PostgreSQL (real disposable clusters)
# and end-to-end (the real dejad with the deja CLI and a Python grpcio client).
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS=0
./deploy/install-deps.sh
./deploy/build.sh
build_dir=${DEJA_BUILD_DIR:-build}
echo "test: built in ${SECONDS}s; running the tests"
ctest --test-dir "$build_dir" --output-on-failure -j2 --timeout 900
echo "test: finished in ${SECONDS}s"
