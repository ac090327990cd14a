#!/usr/bin/env bash
# Compare two folders of sample PDFs written by scripts/sample_pdfs.sh, byte for byte.
#   scripts/compare_pdfs.sh /tmp/before /tmp/after
# Prints each PDF's sha256 on both sides; exits 1 if any pair differs or is missing.
set -uo pipefail
before=${1:?usage: compare_pdfs.sh BEFORE_DIR AFTER_DIR}
after=${2:?usage: compare_pdfs.sh BEFORE_DIR AFTER_DIR}
status=0
for pdf in "$before"/*.pdf; do
  name=$(basename "$pdf")
  if [ ! -f "$after/$name" ]; then
    echo "$name: missing in $after"; status=1; continue
  fi
  a=$(sha256sum "$pdf" | cut -c1-16); b=$(sha256sum "$after/$name" | cut -c1-16)
  if cmp -s "$pdf" "$after/$name"; then
    echo "$name: identical ($a, $(stat -c %s "$pdf") bytes)"
  else
    echo "$name: DIFFERENT ($a vs $b)"; status=1
  fi
done
exit $status
