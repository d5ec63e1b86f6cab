#!/usr/bin/env bash
# Refreshes the KaTeX files the review page ships (autograder/templates/katex/), so that math is
# typeset with no network at grading time. KaTeX is MIT-licensed; its LICENSE goes with it.
# Only the minified script, its style sheet and the WOFF2 fonts are kept (every browser the
# page supports reads WOFF2, so the WOFF and TTF fallbacks the style sheet names are never
# fetched). Needs npm. Usage: scripts/vendor_katex.sh [VERSION]
set -euo pipefail
cd "$(dirname "$0")/.."
version=${1:-0.19.1}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "katex@$version" >/dev/null && tar xzf "katex-$version.tgz")
dest=autograder/templates/katex
rm -rf "$dest"
mkdir -p "$dest/fonts"
cp "$work/package/dist/katex.min.js" "$work/package/dist/katex.min.css" "$work/package/LICENSE" "$dest/"
cp "$work"/package/dist/fonts/*.woff2 "$dest/fonts/"
echo "KaTeX $version in $dest"
