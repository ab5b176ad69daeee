#!/usr/bin/env bash
# The user documentation as PDF, in OUTDIR: README.md, DOC_CONNEXION.md, docs/INSTALLATION.md,
# docs/EXPLOITATION.md, SECURITE.md, FONCTIONNALITES.md and CONTAINERS.md -> OUTDIR/NAME.pdf, side
# by side whatever their folder (called by cross/release.sh and by build_deb in cross/lib.sh;
# tested alone by .ci/system/57-docs-pdf.sh).
# pandoc turns the GitHub Markdown into HTML (cross/docs-pdf.lua for the links, cross/docs-pdf.css
# for the page), headless chromium prints it: text in UTF-8 with real fonts (accents, « », →), a
# clickable link for each link. Web links and #anchors work as is; a link to another of these
# documents opens its PDF in the same folder; a link to another file of the repository becomes
# text; images (docs/images/) are embedded. Both tools are installed with apt when missing (about 520 MB installed, most of it
# chromium, which the browser tests use too; a LaTeX route would need about 630 MB).
# Usage: cross/docs-pdf.sh OUTDIR     (cross/docs-pdf.sh --list: the rendered Markdown files)
set -euo pipefail
cd "$(dirname "$0")/.."
docs=(README.md DOC_CONNEXION.md docs/INSTALLATION.md docs/EXPLOITATION.md SECURITE.md
    FONCTIONNALITES.md CONTAINERS.md)
if [ "${1:-}" = --list ]; then
    printf '%s\n' "${docs[@]}"
    exit 0
fi
out="${1:?usage: cross/docs-pdf.sh OUTDIR}"

missing=()
command -v pandoc >/dev/null || missing+=(pandoc)
command -v chromium >/dev/null || missing+=(chromium)
if [ "${#missing[@]}" -gt 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >&2
fi

started=$(date +%s)
mkdir -p "$out"
work=$(mktemp -d /tmp/classcord-docs-pdf.XXXXXX)
trap 'rm -rf "$work"' EXIT
{ printf '<style>\n'; cat cross/docs-pdf.css; printf '</style>\n'; } > "$work/style.html"
# For cross/docs-pdf.lua: the rendered documents, the repository (images), the current document.
export CLASSCORD_DOCS="${docs[*]}" CLASSCORD_ROOT="$PWD"
for doc in "${docs[@]}"; do
    name=$(basename "$doc" .md)
    title=$(sed -n 's/^# //p' "$doc" | head -n 1)
    CLASSCORD_DOC="$doc" pandoc --from gfm --to html5 --standalone --lua-filter cross/docs-pdf.lua \
        --metadata pagetitle="${title:-$name}" --metadata lang=fr \
        --include-in-header "$work/style.html" --output "$work/$name.html" "$doc"
    # A fresh profile each time; nothing reaches the network (the pages have no remote content).
    profile=$(mktemp -d "$work/profile.XXXXXX")
    if ! timeout 120 chromium --headless --no-sandbox --disable-gpu \
        --disable-background-networking --no-first-run --disable-component-update --disable-sync \
        --user-data-dir="$profile" --no-pdf-header-footer \
        --print-to-pdf="$work/$name.pdf" "file://$work/$name.html" > "$work/chromium.log" 2>&1 ||
        [ ! -s "$work/$name.pdf" ]; then
        cat "$work/chromium.log" >&2
        echo "docs-pdf.sh : chromium n'a pas produit $name.pdf" >&2
        exit 1
    fi
    rm -rf "$profile"
    # The links between documents, relative (same length: the PDF's offsets stay right).
    perl -0777 -pi -e 's{\(ccdoc:}{(./././}g' "$work/$name.pdf"
    mv "$work/$name.pdf" "$out/$name.pdf"
done
echo "docs-pdf.sh : ${#docs[@]} PDF dans $out en $(( $(date +%s) - started )) s" >&2
