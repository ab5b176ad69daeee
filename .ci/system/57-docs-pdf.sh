#!/usr/bin/env bash
# The documentation as PDF (cross/docs-pdf.sh, which cross/release.sh and build_deb call):
#   a PDF for each document of `cross/docs-pdf.sh --list` (docs/ pages included, side by side);
#   pdftotext (poppler-utils) finds every heading of each Markdown file, accents included; no link
#   points into the build folder (file://); each link between documents is relative and names a
#   PDF that was rendered; a document with #anchor links has internal destinations; a document
#   with images has them embedded.
set -euo pipefail
cd "$(dirname "$0")/../.."
started=$(date +%s)
command -v pdftotext >/dev/null || apt-get install -y --no-install-recommends poppler-utils

out=$(mktemp -d /tmp/classcord-docs-pdf-ci.XXXXXX)
trap 'rm -rf "$out"' EXIT
bash cross/docs-pdf.sh "$out"

python3 - "$out" $(bash cross/docs-pdf.sh --list) <<'PY'
import os, re, subprocess, sys
out = sys.argv[1]
docs = sys.argv[2:]
assert "README.md" in docs and "docs/INSTALLATION.md" in docs, docs

def headings(markdown):
    """ATX headings outside fenced code blocks, as plain text."""
    found, fenced = [], False
    for line in markdown.splitlines():
        if re.match(r"^\s*(```|~~~)", line):
            fenced = not fenced
            continue
        match = None if fenced else re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if match:
            text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", match.group(1))
            text = re.sub(r"<[^>]+>", "", text)  # an explicit anchor, <a id="..."></a>
            found.append(text.replace("`", "").replace("**", ""))
    return found

def squeeze(text):
    # Without any spacing: line breaks and the padding around inline code differ in the PDF text.
    return re.sub(r"\s+", "", text)

total = 0
for doc in docs:
    pdf = os.path.join(out, os.path.basename(doc).replace(".md", ".pdf"))
    assert os.path.getsize(pdf) > 10_000, f"{pdf} missing or empty"
    text = squeeze(subprocess.run(["pdftotext", "-enc", "UTF-8", pdf, "-"], check=True,
                                  capture_output=True, text=True, timeout=60).stdout)
    wanted = headings(open(doc, encoding="utf-8").read())
    assert wanted, doc
    missing = [h for h in wanted if squeeze(h) not in text]
    assert not missing, f"{doc}: headings not found in the PDF text: {missing}"
    accented = [h for h in wanted if re.search(r"[À-ÿŒœ]", h)]
    assert accented or doc == "CONTAINERS.md", f"{doc}: no accented heading to check"
    urls = subprocess.run(["pdfinfo", "-url", pdf], check=True, capture_output=True,
                          text=True, timeout=60).stdout.splitlines()[1:]
    targets = [line.split(None, 2)[2] for line in urls if len(line.split(None, 2)) == 3]
    assert not [t for t in targets if t.startswith("file:")], f"{doc}: build paths in links {targets}"
    for target in targets:
        if target.startswith("./"):
            name = target.split("#")[0].replace("./", "")
            assert os.path.exists(os.path.join(out, name)), f"{doc}: link to missing {name}"
    source = open(doc, encoding="utf-8").read()
    if re.search(r"\]\(#", source):
        assert b"/Dest /" in open(pdf, "rb").read(), f"{doc}: #anchor links lost"
    images = len(re.findall(r"!\[[^\]]*\]\(", source))
    if images:
        embedded = subprocess.run(["pdfimages", "-list", pdf], check=True, capture_output=True,
                                  text=True, timeout=60).stdout.splitlines()[2:]
        assert len(embedded) >= images, f"{doc}: {images} images, {len(embedded)} in the PDF"
    total += len(wanted)
    print(f"{doc}: {len(wanted)} headings found ({len(accented)} with accents, e.g. "
          f"{accented[0] if accented else '-'!r}), {len(targets)} links")
print(f"{total} headings found in {len(docs)} PDFs")
PY
echo "57-docs-pdf: all checks passed in $(( $(date +%s) - started ))s"
