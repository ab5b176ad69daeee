#!/usr/bin/env bash
# The Raspberry Pi image path, as far as it can run here (no Pi OS image or Pi archive, no Pi):
#   1. a synthetic Pi-like disk image: MBR, FAT boot partition, ext4 root made from a cached
#      Debian 12 arm64 root (with openssh-server; lib/debian_root.sh, built in the background
#      by .ci/run while earlier steps compile), as in a Pi OS Lite image;
#   2. pi-image/customize.sh on that image with the arm64 .deb (loop device at the partition
#      offset, chroot through qemu-user binfmt, dpkg -i, hostname, static IP, SSH, fail2ban
#      files, journald, userconf.txt on the boot partition with mtools);
#   3. checks read back from the image; then the arm64 binary installed in it serves a chat on
#      loopback under qemu, as the classcord user, with the packaged configuration;
#   4. the pi-gen stage's 00-run.sh on a copy of the arm64 root with a chroot-based on_chroot.
# fail2ban itself is not installed (--no-apt: installing it under qemu takes minutes).
set -euo pipefail
cd "$(dirname "$0")/../.."
. cross/lib.sh
. .ci/system/lib/debian_root.sh
started=$(date +%s)
target=aarch64-unknown-linux-gnu
ensure_cross_tools "$target"
for tool in mcopy:mtools sfdisk:fdisk mke2fs:e2fsprogs zerofree:zerofree; do
    command -v "${tool%%:*}" >/dev/null ||
        apt-get install -y --no-install-recommends "${tool#*:}"
done

build_release "$target"
deb=$(build_deb "$target")
echo "package: $deb ($(stat -c %s "$deb") bytes)"
pristine=$(debian_root arm64 openssh-server)

work=$(mktemp -d /var/tmp/classcord-pi.XXXXXX)
loops=() server_pid=""
cleanup() {
    local status=$?
    if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
    unmount_under "$work"
    for loop in "${loops[@]}"; do losetup -d "$loop" 2>/dev/null || true; done
    rm -rf "$work"
    exit "$status"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }
checks=0
ok() { checks=$((checks + 1)); echo "ok   $*"; }

# 1. The synthetic image: 256 MiB FAT32 at 4 MiB, ext4 root after it (sectors of 512 bytes).
t0=$(date +%s)
img="$work/pi.img"
boot_start=8192 boot_size=524288 root_start=532480
truncate -s 1200M "$img"
printf 'label: dos\nstart=%s, size=%s, type=c\nstart=%s, type=83\n' \
    "$boot_start" "$boot_size" "$root_start" | sfdisk -q "$img"
mformat -i "$img@@$((boot_start * 512))" -F -v bootfs ::
root_blocks=$(( ($(stat -c %s "$img") - root_start * 512) / 4096 ))
mke2fs -q -t ext4 -b 4096 -L rootfs -d "$pristine" -E offset=$((root_start * 512)) "$img" "$root_blocks"
echo "synthetic image built in $(( $(date +%s) - t0 ))s"

# 2. customize.sh, as a user would run it (in place on the image).
t0=$(date +%s)
hash='$6$test$not-a-real-password-hash' # only checked to be written where Pi OS reads it
bash pi-image/customize.sh --image "$img" --output "$img" --deb "$deb" --hostname classe-sio \
    --static-ip 192.168.50.10/24 --gateway 192.168.50.1 --userconf "prof:$hash" --no-apt \
    > "$work/customize.log" 2>&1 || { cat "$work/customize.log"; fail "customize.sh"; }
echo "customize.sh ran in $(( $(date +%s) - t0 ))s"
ok "customize.sh on the image: exit 0"

# 3. Read back.
loop=$(losetup --find --show --offset $((root_start * 512)) "$img")
loops+=("$loop")
e2fsck -fn "$loop" > "$work/fsck.log" 2>&1 || { cat "$work/fsck.log"; fail "e2fsck after customize"; }
ok "root file system clean (e2fsck -fn)"
mnt="$work/mnt"
mkdir -p "$mnt"
mount "$loop" "$mnt"
[ "$(chroot "$mnt" systemctl is-enabled classcord.service)" = enabled ] || fail "classcord not enabled"
grep -q '^classcord:' "$mnt/etc/passwd" || fail "no classcord user"
ok "classcord.service enabled at boot, classcord user created (dpkg -i in the chroot)"
[ "$(chroot "$mnt" systemctl is-enabled ssh.service)" = enabled ] || fail "ssh not enabled"
mdir -i "$img@@$((boot_start * 512))" ::/ssh > /dev/null || fail "no ssh flag on the boot partition"
ok "SSH enabled (ssh.service + ssh flag file on the boot partition)"
[ "$(cat "$mnt/etc/hostname")" = classe-sio ] || fail "hostname"
grep -q '^127\.0\.1\.1[[:space:]]classe-sio$' "$mnt/etc/hosts" || fail "/etc/hosts"
ok "hostname classe-sio (/etc/hostname, /etc/hosts)"
nm="$mnt/etc/NetworkManager/system-connections/classcord-eth0.nmconnection"
[ "$(stat -c %a "$nm")" = 600 ] || fail "NetworkManager profile mode"
grep -qx 'address1=192.168.50.10/24,192.168.50.1' "$nm" || fail "static address"
ok "static IP in a NetworkManager profile (mode 600)"
grep -qx 'Storage=persistent' "$mnt/etc/systemd/journald.conf.d/90-classcord.conf" || fail "journald"
grep -qx 'SystemMaxUse=64M' "$mnt/etc/systemd/journald.conf.d/90-classcord.conf" || fail "journald cap"
ok "journald persistent, capped at 64M"
grep -qx 'backend = systemd' "$mnt/etc/fail2ban/jail.d/sshd-systemd.conf" || fail "sshd jail"
if [ -f etc/fail2ban/jail.d/classcord-systemd.conf ]; then
    for file in jail.d/classcord-systemd.conf filter.d/classcord.conf action.d/classcord-nftables.conf; do
        cmp "etc/fail2ban/$file" "$mnt/etc/fail2ban/$file" || fail "fail2ban $file not installed"
    done
    [ ! -e "$mnt/etc/fail2ban/jail.d/classcord.conf" ] || fail "the file-based jail variant was installed too"
    ok "fail2ban: sshd jail on the journal; classcord journal jails, filter and nftables action installed"
else
    ok "fail2ban: sshd jail on the journal (etc/fail2ban/jail.d/classcord-systemd.conf not in this tree yet)"
fi
[ "$(mtype -i "$img@@$((boot_start * 512))" ::/userconf.txt)" = "prof:$hash" ] || fail "userconf.txt"
ok "userconf.txt on the boot partition"

# The installed arm64 binary, run in the image as systemd would run it (classcord user, packaged
# configuration, StateDirectory created as systemd does), serving a chat on loopback.
version=$(chroot "$mnt" /usr/bin/classcord --version)
[[ "$version" == *aarch64-unknown-linux-gnu* ]] || fail "--version: $version"
install -d -o "$(chroot "$mnt" id -u classcord)" -g "$(chroot "$mnt" id -g classcord)" -m 750 \
    "$mnt/var/lib/classcord"
for fs in proc dev; do mount --bind "/$fs" "$mnt/$fs"; done
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
chroot --userspec=classcord:classcord "$mnt" /usr/bin/classcord serve \
    --config /etc/classcord/classcord.toml --data /var/lib/classcord --listen "127.0.0.1:$port" \
    2> "$work/server.log" &
server_pid=$!
for _ in $(seq 150); do grep -q "écoute sur 127.0.0.1:$port" "$work/server.log" && break; sleep 0.2; done
grep -q "écoute sur 127.0.0.1:$port" "$work/server.log" || { cat "$work/server.log"; fail "server did not start"; }
[ "$(stat -c %U "/proc/$server_pid")" = "$(awk -F: '$1 == "classcord" { print $3 }' "$mnt/etc/passwd")" ] ||
    [ "$(stat -c %u "/proc/$server_pid")" = "$(awk -F: '$1 == "classcord" { print $3 }' "$mnt/etc/passwd")" ] ||
    fail "server not running as classcord"
python3 .ci/system/lib/chat_exchange.py 127.0.0.1 "$port" chat alice motdepasse || fail "chat under qemu"
kill -TERM "$server_pid"
wait "$server_pid" || fail "server exit status $?"
server_pid=""
grep -q '\[LOGIN\] alice' "$work/server.log" || fail "no [LOGIN] line"
[ -f "$mnt/var/lib/classcord/classcord.redb" ] || fail "no database"
ok "arm64 binary ($version) served a chat as classcord under qemu"
unmount_under "$mnt"

# 4. The pi-gen stage's install script, with pi-gen's on_chroot replaced by a plain chroot.
t0=$(date +%s)
stage_root="$work/stage-root"
cp -a "$pristine" "$stage_root"
stage="$work/stage-classcord"
cp -a pi-image/stage-classcord "$stage"
bash pi-image/pi-gen-prepare.sh --stage "$stage" --deb "$deb" > "$work/prepare.log" 2>&1 ||
    { cat "$work/prepare.log"; fail "pi-gen-prepare.sh"; }
(
    export ROOTFS_DIR="$stage_root"
    on_chroot() { chroot "$ROOTFS_DIR" /bin/bash -e; }
    export -f on_chroot
    cd "$stage/00-install"
    for fs in proc sys dev; do mount --bind "/$fs" "$ROOTFS_DIR/$fs"; done
    trap 'for fs in dev sys proc; do umount -l "$ROOTFS_DIR/$fs"; done' EXIT
    bash -e ./00-run.sh
) > "$work/stage.log" 2>&1 || { cat "$work/stage.log"; fail "stage 00-run.sh"; }
[ "$(chroot "$stage_root" systemctl is-enabled classcord.service)" = enabled ] || fail "stage: not enabled"
grep -qx 'Storage=persistent' "$stage_root/etc/systemd/journald.conf.d/90-classcord.conf" || fail "stage: journald"
if [ -f etc/fail2ban/jail.d/classcord-systemd.conf ]; then
    [ -f "$stage_root/etc/fail2ban/action.d/classcord-nftables.conf" ] || fail "stage: fail2ban action"
    [ ! -e "$stage_root/etc/fail2ban/jail.d/classcord.conf" ] || fail "stage: file-based jail installed"
fi
ok "pi-gen stage 00-run.sh: classcord enabled, journald drop-in, fail2ban files ($(( $(date +%s) - t0 ))s)"

echo "pi image test: $checks checks passed in $(( $(date +%s) - started ))s"
