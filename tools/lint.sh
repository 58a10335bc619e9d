#!/usr/bin/env bash
# The house rules a reviewer would check, checked by a machine (run by the
# test command through ctest: lint.house_rules and lint.catches_violations).
#
#   tools/lint.sh [BUILD_DIR]   every rule on this tree; BUILD_DIR (default
#                               build) holds the built libraries whose
#                               symbols the naming rule reads
#   tools/lint.sh --self-test   plants one violation of each rule in a scratch
#                               tree and fails unless every one is caught
#
# Rules (docs/architecture.md, "House rules"):
#   format   every C file is clang-format clean (.clang-format at the root)
#   names    every non-static symbol of a part carries the part's prefix;
#            one not declared in the part's public headers is an internal
#            and carries the prefix and a double underscore (rate__x)
#   alloc    no raw malloc/calloc/realloc/free/strdup outside core's
#            allocator, so the fail-the-Nth-allocation tests reach every
#            part; a memory block a library hands back that must go to libc's
#            free carries "lint: libc-free" and the reason on its line
#   free     every x_free takes 'struct x **' (and clears it)
#   size     no C file over 800 lines (tests and benchmarks too)
#   money    no float or double in money code (tools/scripts/check-money.sh)
set -uo pipefail

# Folder -> prefix. tools/ subfolders are products of their own.
PARTS="core:tl schemas:sch rating:rate meter:meter invoicing:inv inference:inf
api:api tools/src:cli tools/loadgen:lg tools/demo:demo tools/infer:infer
tools/broker:brk"
ALLOC_EXEMPT="core/src/alloc.c core/src/big_alloc.c"

failed=0
fail() {
  echo "lint: $*" >&2
  failed=1
}

# C files of the product (parts and tools) or of everything (tests, bench).
product_files() {
  local d
  for d in core schemas rating meter invoicing inference api tools; do
    [ -d "$root/$d" ] && (cd "$root" && find "$d" -name '*.[ch]' -type f)
  done | sort
}
all_files() {
  product_files
  local d
  for d in tests bench; do
    [ -d "$root/$d" ] && (cd "$root" && find "$d" -name '*.[ch]' -type f)
  done | sort
}

check_format() {
  local bad
  bad=$(cd "$root" && all_files | xargs -r -P2 -n16 \
    clang-format --style=file --dry-run --Werror 2>&1 |
    grep -oE '^[^: ]+\.[ch]' | sort -u)
  [ -z "$bad" ] ||
    fail "format: not clang-format clean (run clang-format -i FILE): $(echo $bad)"
}

check_alloc() {
  local hits
  hits=$(cd "$root" && product_files | grep -vxF -f <(tr ' ' '\n' <<<"$ALLOC_EXEMPT") |
    xargs -r grep -nE '(^|[^_[:alnum:]])(malloc|calloc|realloc|free|strdup|strndup)\s*\(' |
    grep -vE '^[^:]+:[0-9]+:\s*(/\*|\*|//)' | grep -v 'lint: libc-free')
  [ -z "$hits" ] ||
    fail "alloc: raw allocation outside core/alloc.h (use tl_malloc/tl_free):"$'\n'"$hits"
}

check_free() {
  local hits
  hits=$(cd "$root" && product_files | xargs -r grep -nE \
    '\b[a-z][a-z0-9_]*_free\s*\(\s*(const\s+)?struct\s+[a-z0-9_]+\s*\*\s*[a-z_]*\s*\)' |
    grep -vE ':\s*static ')
  [ -z "$hits" ] ||
    fail "free: an x_free takes 'struct x **' and sets it NULL:"$'\n'"$hits"
}

check_size() {
  local out
  out=$(cd "$root" && all_files | xargs -r wc -l | awk '
    $2 != "total" {
      max = 800
      if ($1 > max) printf "size: %s has %d lines (at most %d)\n", $2, $1, max
    }')
  [ -z "$out" ] || fail "$out"
}

# Symbols the libraries of folder $1 define globally, one per line. The
# tally binary's own objects stand for tools/src, which is no library.
defined_symbols() {
  local objs
  if [ "$1" = tools/src ]; then
    # The objects the binary was linked from (stale ones of moved files may
    # linger in the directory).
    objs=$(grep -oE 'CMakeFiles/tally\.dir/src/[^ ]+\.o' \
      "$build/tools/CMakeFiles/tally.dir/link.txt" 2>/dev/null |
      sed "s|^|$build/tools/|")
  else
    objs=$(find "$build/$1" -maxdepth 1 -name '*.a' 2>/dev/null)
  fi
  [ -n "$objs" ] || return 0
  nm -g --defined-only $objs 2>/dev/null |
    awk 'NF == 3 && $2 ~ /^[TDBRCVW]$/ { print $3 }' | sort -u
}

check_names() {
  local entry dir prefix out seen=0
  for entry in $PARTS; do
    dir=${entry%%:*} prefix=${entry##*:}
    [ -d "$root/$dir" ] || continue
    local syms
    syms=$(defined_symbols "$dir")
    [ -n "$syms" ] || continue
    seen=1
    # Public only when a public header declares it; the binary has no API.
    out=$(find "$root/$dir" -path '*/include/*' -name '*.h' -print0 2>/dev/null |
      xargs -0 -r cat | grep -oE '[A-Za-z_][A-Za-z0-9_]*' | sort -u |
      awk -v p="$prefix" -v d="$dir" -v syms="$syms" '
        { public[$0] = 1 }
        END {
          n = split(syms, s, "\n")
          for (i = 1; i <= n; i++) {
            x = s[i]
            # main, and what compilers and sanitizers add (__odr_asan.x,
            # __lsan_default_suppressions): names no one wrote.
            if (x == "main" || index(x, "__") == 1 || index(x, p "__") == 1) continue
            if (index(x, p "_") != 1) {
              printf "names: %s: %s lacks the prefix %s_\n", d, x, p
            } else if (!(x in public) && d != "tools/src") {
              printf "names: %s: %s is in no public header of %s: an internal is %s__%s\n",
                d, x, d, p, substr(x, length(p) + 2)
            }
          }
        }')
    [ -z "$out" ] || fail "$out"
  done
  [ $seen = 1 ] || fail "names: no library found under $build (build first)"
}

check_money() {
  "$root/tools/scripts/check-money.sh" "$root" >/dev/null || failed=1
}

run_all() {
  check_format
  check_names
  check_alloc
  check_free
  check_size
  check_money
}

# One violation of each rule in a scratch copy of the rules' inputs; each
# must be caught on its own.
self_test() {
  local tmp here rule ok=1
  here=$(cd "$(dirname "$0")/.." && pwd)
  tmp=$(mktemp -d /tmp/tally-lint-XXXXXX)
  trap 'rm -rf "$tmp"' RETURN
  mkdir -p "$tmp/tools/scripts" "$tmp/rating/include/rating" "$tmp/rating/src" \
    "$tmp/build/rating"
  cp "$here/.clang-format" "$tmp/"
  cp "$here/tools/scripts/check-money.sh" "$tmp/tools/scripts/"
  printf '/* ok */\nvoid rate_ok(void);\n' >"$tmp/rating/include/rating/ok.h"
  printf '/* ok */\n#include "rating/ok.h"\n\nvoid rate_ok(void)\n{\n}\n' \
    >"$tmp/rating/src/ok.c"
  build_lib() {
    cc -c -x c -o "$tmp/build/o.o" - <<<"$1" &&
      rm -f "$tmp/build/rating/lib.a" && ar rcs "$tmp/build/rating/lib.a" "$tmp/build/o.o"
  }
  build_lib 'void rate_ok(void); void rate_ok(void) {}' || return 1
  root=$tmp build=$tmp/build failed=0
  run_all
  if [ $failed != 0 ]; then
    echo "lint self-test: the clean scratch tree did not pass" >&2
    return 1
  fi
  for rule in format names-prefix names-internal alloc free size money; do
    cp "$tmp/rating/src/ok.c" "$tmp/ok.bak"
    case $rule in
    format) printf 'int  rate_x(void){return 0;}\n' >"$tmp/rating/src/v.c" ;;
    names-prefix) build_lib 'void rate_ok(void) {} void misnamed(void); void misnamed(void) {}' ;;
    names-internal) build_lib 'void rate_ok(void) {} void rate_hidden(void); void rate_hidden(void) {}' ;;
    alloc) printf '/* v */\n#include <stdlib.h>\n\nvoid *rate__v(void);\nvoid *rate__v(void)\n{\n        return malloc(1);\n}\n' >"$tmp/rating/src/v.c" ;;
    free) printf '/* v */\nstruct rate_v;\nvoid rate_v_free(struct rate_v *v);\n' >"$tmp/rating/include/rating/v.h" ;;
    size) seq 801 | sed 's|.*|/* line */|' >"$tmp/rating/src/v.c" ;;
    money) printf '/* v */\ndouble rate__v;\n' >"$tmp/rating/src/v.c" ;;
    esac
    failed=0
    run_all 2>/dev/null
    if [ $failed = 0 ]; then
      echo "lint self-test: a planted '$rule' violation was not caught" >&2
      ok=0
    else
      echo "lint self-test: '$rule' violation caught"
    fi
    rm -f "$tmp/rating/src/v.c" "$tmp/rating/include/rating/v.h"
    build_lib 'void rate_ok(void); void rate_ok(void) {}'
  done
  [ $ok = 1 ]
}

if [ "${1:-}" = --self-test ]; then
  self_test
  exit $?
fi
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$root/build}" && pwd) || exit 2
run_all
if [ $failed = 0 ]; then
  echo "lint: format, names, alloc, free, size and money rules hold"
fi
exit $failed
