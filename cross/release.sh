#!/usr/bin/env bash
# Release artifacts for VERSION (must be the version in Cargo.toml), in dist/:
#   classcord-VERSION-TARGET.tar.gz   binary, systemd/, etc/, README.md, DOC_CONNEXION.md,
#                                     CHANGELOG.md, LICENSE, docs/PROTOCOL.md, docs/INSTALLATION.md
#                                     and docs/EXPLOITATION.md (where the README links them)
#   classcord_VERSION-1_ARCH.deb      amd64, arm64, armhf (cargo-deb; the PDFs in /usr/share/doc)
#   README.pdf, DOC_CONNEXION.pdf...  the documentation as PDF (cross/docs-pdf.sh)
#   SHA256SUMS                        check with: sha256sum -c SHA256SUMS
# Built with plain cargo and Debian's cross linkers (no Docker); tarballs are byte-for-byte
# reproducible from the same binaries (sorted names, fixed owner and mtime, gzip -n).
# Usage: cross/release.sh 0.1.0        (targets: CLASSCORD_TARGETS="t1 t2" to choose)
set -euo pipefail
cd "$(dirname "$0")/.."
. cross/lib.sh

version="${1:?usage: cross/release.sh VERSION}"
crate_version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
if [ "$version" != "$crate_version" ]; then
    echo "release.sh : la version $version ne correspond pas à Cargo.toml ($crate_version)" >&2
    exit 1
fi
targets=(${CLASSCORD_TARGETS:-x86_64-unknown-linux-gnu aarch64-unknown-linux-gnu
    armv7-unknown-linux-gnueabihf x86_64-unknown-linux-musl aarch64-unknown-linux-musl})

started=$(date +%s)
ensure_cross_tools "${targets[@]}"
release_env
dist=dist
rm -rf "$dist"
mkdir -p "$dist"

# The documentation first (a broken document fails in seconds, not after the builds).
t0=$(date +%s)
bash cross/docs-pdf.sh target/docs-pdf
cp target/docs-pdf/*.pdf "$dist/"
echo "release.sh : documentation PDF en $(( $(date +%s) - t0 )) s"

for target in "${targets[@]}"; do
    t0=$(date +%s)
    build_release "$target"
    name="classcord-$version-$target"
    stage="$dist/$name"
    install -d -m 755 "$stage/systemd/optional" "$stage/etc" "$stage/docs"
    install -m 755 "target/$target/release/classcord" "$stage/"
    install -m 644 systemd/*.[st][eio]* systemd/classcord.sysusers "$stage/systemd/"
    install -m 644 systemd/optional/* "$stage/systemd/optional/"
    install -m 644 etc/classcord.toml "$stage/etc/"
    install -m 644 README.md DOC_CONNEXION.md CHANGELOG.md LICENSE "$stage/"
    install -m 644 docs/PROTOCOL.md "$stage/docs/"
    install -m 644 docs/INSTALLATION.md docs/EXPLOITATION.md "$stage/docs/"
    tar --sort=name --mtime="@$SOURCE_DATE_EPOCH" --owner=0 --group=0 --numeric-owner \
        -C "$dist" -cf - "$name" | gzip -n -9 > "$dist/$name.tar.gz"
    rm -rf "$stage"
    case "$target" in
        *-linux-gnu | *-linux-gnueabihf) cp "$(build_deb "$target")" "$dist/" ;;
    esac
    echo "release.sh : $target en $(( $(date +%s) - t0 )) s"
done

(cd "$dist" && sha256sum -- *.tar.gz *.deb *.pdf > SHA256SUMS)
ls -l "$dist"
echo "release.sh : terminé en $(( $(date +%s) - started )) s"
