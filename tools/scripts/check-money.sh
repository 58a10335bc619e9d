#!/usr/bin/env bash
# Fails when rating/ or invoicing/ mention float or double: money is exact.
# The one exception is the PDF/PNG drawing code (invoicing/src/render_pdf*.c):
# cairo takes geometry as doubles; it prints only the document's exact
# decimal strings and never computes an amount.
set -euo pipefail
root=${1:-.}
hits=$(cd "$root" && grep -rnwE 'float|double' --include='*.c' --include='*.h' \
  --exclude='render_pdf*.c' --exclude='render_pdf*.h' rating invoicing 2>/dev/null || true)
if [ -n "$hits" ]; then
  echo "binary floating point in money code (use tl_dec or wider integers):" >&2
  echo "$hits" >&2
  exit 1
fi
echo "money code is free of float and double"
