#!/usr/bin/env bash
# The whole test suite: installs, builds, then runs every test twice, in the
# release build (-O3, the type production builds use) and in the ASan +
# UBSan build. Unit and integration tests alike: the integration tests start
# a real PostgreSQL and a tally broker.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)

tools/setup.sh build -DCMAKE_BUILD_TYPE=Release
echo "== tests (release build)"
ctest --test-dir build --output-on-failure -j"$jobs"

tools/setup.sh build-asan -DCMAKE_BUILD_TYPE=Debug -DTALLY_SANITIZE=ON
echo "== tests (ASan + UBSan build)"
ctest --test-dir build-asan --output-on-failure -j"$jobs"
