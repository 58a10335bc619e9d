#!/usr/bin/env bash
# Installs what tally needs to build, test and run on Debian 12, then builds.
#
#   tools/setup.sh [BUILD_DIR [cmake options...]]
#
# Packages are installed with apt-get only when missing (root, or sudo).
# Every dependency is a Debian package: see docs/architecture.md for why.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  build-essential cmake pkg-config git
  libpq-dev postgresql         # PostgreSQL client library and a real server
  librdkafka-dev kcat          # Kafka client (with its mock cluster) and a CLI
  libyaml-dev libcbor-dev      # pricing catalogs, CBOR events
  libgmp-dev                   # exact rationals for pricing
  libcriterion-dev libjansson-dev  # tests (jansson: an independent JSON oracle)
  libssl-dev                   # SHA-256 (content hashes, migrations)
  libmicrohttpd-dev            # HTTP: tally serve, the meter's /metrics and /healthz
  libcurl4-openssl-dev         # HTTP client: tally serve's webhook deliveries
  libcairo2-dev fonts-dejavu-core  # invoice PDFs (cairo) and their font
  clang-format binutils        # tools/lint.sh: formatting, symbol names (nm)
  dpkg-dev systemd             # the .deb test: dpkg-shlibdeps, systemd-analyze verify
  wrk                          # bench/bench_api.sh: HTTP load on tally serve
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
    || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  if [ "$(id -u)" = 0 ]; then SUDO=(); elif command -v sudo >/dev/null; then SUDO=(sudo); else
    echo "setup: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; fi
  export DEBIAN_FRONTEND=noninteractive
  "${SUDO[@]}" apt-get update -qq
  "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

build=${1:-build}
shift || true
cmake -S . -B "$build" "$@" >/dev/null
cmake --build "$build" -j"$(nproc)"
