#!/usr/bin/env bash
# Build every sample (samples/*/comic.toml) from a clean copy with the code in CHECKOUT (default: this
# checkout) and write their PDFs to OUT, so two checkouts can be compared byte for byte:
#   scripts/sample_pdfs.sh /tmp/before            # build with this checkout
#   CHECKOUT=/tmp/other scripts/sample_pdfs.sh /tmp/after
#   scripts/compare_pdfs.sh /tmp/before /tmp/after
set -euo pipefail
out=${1:?usage: sample_pdfs.sh OUT_DIR}
here=$(cd "$(dirname "$0")/.." && pwd)
checkout=${CHECKOUT:-$here}
python=${PYTHON:-python}
mkdir -p "$out"
out=$(cd "$out" && pwd)
# The copies keep the samples' own cache (.comicc/) out of the comparison.
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
unset SOURCE_DATE_EPOCH
for manifest in "$checkout"/samples/*/comic.toml; do
  sample=$(basename "$(dirname "$manifest")")
  cp -r "$checkout/samples/$sample" "$scratch/$sample"
  rm -rf "$scratch/$sample/.comicc"
  cmd=(build "$scratch/$sample" -o "$out/$sample.pdf" --no-report -q)
  echo "comicc ${cmd[*]}" >"$out/$sample.cmd"
  (cd "$checkout" && PYTHONPATH="$checkout" "$python" -m comicc "${cmd[@]}")
done
