#!/usr/bin/env bash
# packaging.deb: cpack builds the .deb, `dpkg -i` installs it into a scratch
# root whose dpkg database holds this machine's entries for the package's
# Depends (so they are really checked), the installed tally runs from there,
# then `dpkg --purge` removes it. Nothing is installed on the machine.
#
#   tests/packaging/deb.sh BUILD_DIR VERSION
set -uo pipefail
build=$(cd "$1" && pwd)
version=$2
tmp=$(mktemp -d /tmp/tally-deb-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
passed=0 failed=0

ok() { echo "ok: $1"; passed=$((passed + 1)); }
fail() { echo "FAIL: $1"; failed=$((failed + 1)); }
# check DESCRIPTION COMMAND...: the command's exit status decides.
check() {
  local what=$1
  shift
  if "$@"; then ok "$what"; else fail "$what"; fi
}
# run NAME COMMAND...: stdout, stderr and status in $tmp/NAME.{out,err,rc}.
run() {
  local name=$1
  shift
  "$@" >"$tmp/$name.out" 2>"$tmp/$name.err"
  echo $? >"$tmp/$name.rc"
}
rc_is() { [ "$(cat "$tmp/$1.rc")" = "$2" ] || { cat "$tmp/$1.err" >&2; false; }; }
finish() {
  echo "packaging: $passed passed, $failed failed"
  [ "$failed" = 0 ]
  exit
}
host_status=$(md5sum </var/lib/dpkg/status)

# The package, as a user builds it.
if ! cpack --config "$build/CPackConfig.cmake" -B "$tmp/out" >"$tmp/cpack.log" 2>&1; then
  cat "$tmp/cpack.log"
  fail "cpack builds the .deb"
  finish
fi
debs=("$tmp"/out/*.deb)
check "cpack wrote one package, tally_${version}_*.deb" \
  test ${#debs[@]} = 1 -a -f "${debs[0]}" -a "${debs[0]##*/tally_${version}_}" != "${debs[0]##*/}"
deb=${debs[0]}
dpkg-deb -c "$deb" | awk '{print $6}' >"$tmp/contents"
for f in ./usr/bin/tally ./usr/lib/systemd/system/tally-meter.service \
  ./usr/lib/systemd/system/tally-serve.service ./etc/tally/tally.yaml \
  ./etc/tally/tally.env ./usr/share/tally/examples/catalog.yaml \
  ./usr/share/doc/tally/operations.md; do
  check "the package holds $f" grep -qxF "$f" "$tmp/contents"
done
check "the package is named tally, version $version" \
  test "$(dpkg-deb -f "$deb" Package Version | tr '\n' ' ')" = "Package: tally Version: $version "
depends=$(dpkg-deb -f "$deb" Depends)
for p in fonts-dejavu-core libpq5 librdkafka1 libcairo2 libc6; do
  check "Depends names $p" grep -qE "(^|, )$p( |,|$)" <<<"$depends"
done
check "/etc/tally's files are conffiles" test "$(dpkg-deb -I "$deb" conffiles)" \
  = "$(printf '/etc/tally/tally.yaml\n/etc/tally/tally.env')"

# A scratch root: an empty dpkg database plus this machine's entries for the
# packages tally depends on (their files are this machine's, as at run time).
root=$tmp/root
admin=$root/var/lib/dpkg
mkdir -p "$admin/info" "$admin/updates" "$admin/triggers"
: >"$admin/available"
: >"$admin/status"
for p in $(tr ',' '\n' <<<"$depends" | sed 's/(.*)//; s/|.*//; s/ //g'); do
  if dpkg-query -s "$p" >>"$admin/status" 2>/dev/null; then
    echo >>"$admin/status"
    : >"$admin/info/$(dpkg-query -W -f='${binary:Package}' "$p").list"
  fi
done
dpkg=(dpkg --root="$root" --log="$tmp/dpkg.log" --force-not-root)
run install "${dpkg[@]}" -i "$deb"
check "dpkg -i installs it, its Depends satisfied" rc_is install 0
check "dpkg says tally $version is installed" test \
  "$(dpkg-query --admindir="$admin" -W -f='${Status} ${Version}' tally)" = "install ok installed $version"

# The installed binary: help, version, rules check on the shipped example.
tally=$root/usr/bin/tally
run help "$tally" help
check "tally help exits 0" rc_is help 0
check "tally help lists the commands" grep -q '^  meter ' "$tmp/help.out"
run version "$tally" --version
check "tally --version says $version" test "$(cat "$tmp/version.out")" = "tally $version"
catalog=$root/usr/share/tally/examples/catalog.yaml
run rules "$tally" rules check "$catalog"
check "tally rules check on the example catalog exits 0" rc_is rules 0
check "... and reports it valid" grep -q "^$catalog: ok: catalog tally-demo " "$tmp/rules.out"
printf 'catalog: [\n' >"$tmp/broken.yaml"
run broken "$tally" rules check "$tmp/broken.yaml"
check "tally rules check on a broken catalog exits 2" rc_is broken 2

# The shipped configuration is the meter's: it starts with it (no database
# or broker here, so it retries) and stops cleanly on SIGTERM.
run meter env -u DATABASE_URL PGHOST="$tmp/nopg" TALLY_KAFKA_BROKERS=127.0.0.1:9 \
  timeout --preserve-status -s TERM 1 \
  "$tally" meter --config "$root/etc/tally/tally.yaml" -X meter.http=127.0.0.1:0
check "tally meter accepts /etc/tally/tally.yaml and exits 0 on SIGTERM" rc_is meter 0

# The units, pointed at the installed binary, pass systemd's own checks.
units=$root/usr/lib/systemd/system
check "tally-meter.service runs /usr/bin/tally meter --config /etc/tally/tally.yaml" \
  grep -qxF 'ExecStart=/usr/bin/tally meter --config /etc/tally/tally.yaml' "$units/tally-meter.service"
if command -v systemd-analyze >/dev/null; then
  mkdir "$tmp/units"
  for u in tally-meter.service tally-serve.service; do
    sed "s|/usr/bin/tally|$tally|" "$units/$u" >"$tmp/units/$u"
    run "verify-$u" systemd-analyze verify "$tmp/units/$u"
    check "systemd-analyze verify $u: no error, no warning" \
      test "$(cat "$tmp/verify-$u.rc")" = 0 -a ! -s "$tmp/verify-$u.err"
    [ -s "$tmp/verify-$u.err" ] && cat "$tmp/verify-$u.err"
  done
else
  echo "skip: systemd-analyze is not installed (package systemd)"
fi

run purge "${dpkg[@]}" --purge tally
check "dpkg --purge removes it" rc_is purge 0
check "... binary, units and /etc/tally included" \
  test ! -e "$tally" -a ! -e "$units/tally-meter.service" -a ! -e "$root/etc/tally"
check "this machine's dpkg database is untouched" \
  test "$(md5sum </var/lib/dpkg/status)" = "$host_status"
finish
