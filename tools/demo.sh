#!/usr/bin/env bash
# The main job: installs, builds, then runs `tally demo` with any arguments.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh build -DCMAKE_BUILD_TYPE=RelWithDebInfo
exec build/tools/tally demo "$@"
