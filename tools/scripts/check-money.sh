#!/usr/bin/env bash
# Fails when rating/ or invoicing/ mention float or double: money is exact.
set -euo pipefail
root=${1:-.}
hits=$(cd "$root" && grep -rnwE 'float|double' --include='*.c' --include='*.h' \
  rating invoicing 2>/dev/null || true)
if [ -n "$hits" ]; then
  echo "binary floating point in money code (use tl_dec or wider integers):" >&2
  echo "$hits" >&2
  exit 1
fi
echo "money code is free of float and double"
