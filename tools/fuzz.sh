#!/usr/bin/env bash
# Fuzz the event decoders with libFuzzer under ASan + UBSan.
#
#   tools/fuzz.sh [SECONDS]      each target runs SECONDS (default 600),
#                                both at once (one per core)
#
# Starts from the seed corpus in tests/fuzz/corpus/<target>; new inputs go
# to build-fuzz/corpus-<target>, crashes to build-fuzz/crash-<target>-*.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-600}

tools/setup.sh build >/dev/null
need=()
for p in clang libclang-rt-14-dev; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  SUDO=(); [ "$(id -u)" = 0 ] || SUDO=(sudo)
  "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Debug -DTALLY_FUZZ=ON \
  -DTALLY_SANITIZE=ON -DTALLY_TESTS=ON >/dev/null
cmake --build build-fuzz -j"$(nproc)" --target fuzz_json fuzz_cbor

pids=()
for t in json cbor; do
  mkdir -p "build-fuzz/corpus-$t"
  ( cd build-fuzz && UBSAN_OPTIONS=halt_on_error=1 ./tests/fuzz_$t \
      -max_total_time="$seconds" -max_len=16384 -timeout=10 -rss_limit_mb=2048 \
      -artifact_prefix="crash-$t-" -print_final_stats=1 \
      "corpus-$t" "../tests/fuzz/corpus/$t" >"fuzz-$t.log" 2>&1 ) &
  pids+=($!)
done
status=0
for i in "${!pids[@]}"; do wait "${pids[$i]}" || status=1; done
for t in json cbor; do
  echo "== fuzz_$t"
  grep -E "^stat::(number_of_executed_units|peak_rss_mb|new_units_added)|Done [0-9]+ runs|ERROR|SUMMARY" "build-fuzz/fuzz-$t.log" || true
done
[ $status = 0 ] && echo "fuzzing: no crash in ${seconds}s per target" || echo "fuzzing: FOUND A CRASH (see build-fuzz/)"
exit $status
