#!/usr/bin/env bash
# Turns a downloaded Raspberry Pi OS Lite image (64-bit, Bookworm) into a ready-to-flash ClassCord
# appliance, without booting it: the root partition is attached with a loop device at its offset,
# the ClassCord .deb is installed in a chroot (arm64 code runs through qemu-user binfmt), and the
# appliance settings are written. Needs root, losetup, sfdisk, mtools, qemu-user-static and
# binfmt-support (see docs/INSTALLATION.md, section « Image Raspberry Pi prête à graver »).
#
#   pi-image/customize.sh --image 2024-11-19-raspios-bookworm-arm64-lite.img.xz \
#       --deb classcord_0.1.0-1_arm64.deb --output classcord-pi.img \
#       [--hostname classcord] [--static-ip 192.168.1.50/24 --gateway 192.168.1.1 [--dns IP]] \
#       [--userconf 'prof:$6$...'] [--no-apt] [--xz]
#   pi-image/customize.sh --root DIR --deb ...      same settings on a root directory (tests)
#
# What it does:
#   - dpkg -i the .deb: classcord user, service enabled at boot (started on first boot);
#   - hostname (default "classcord"); optional static IPv4 through a NetworkManager profile;
#   - SSH enabled (ssh.service, plus the "ssh" flag file on the boot partition);
#   - fail2ban with backend = systemd: etc/fail2ban/jail.d/classcord-systemd.conf from this
#     repository (with its filter and nftables action), and Debian's sshd jail switched to the
#     journal (Pi OS has no
#     /var/log/auth.log); the fail2ban package is installed with apt unless --no-apt;
#   - journald kept across reboots (Pi OS keeps it in RAM) with a 64 MiB cap;
#   - optional userconf.txt on the boot partition (Pi OS Bookworm has no default user).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
. "$repo/cross/lib.sh"

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 2; }
die() { echo "customize.sh : erreur : $*" >&2; exit 1; }

image="" root_dir="" deb="" output="" hostname=classcord static_ip="" gateway="" dns=""
userconf="" use_apt=1 compress=0
while [ $# -gt 0 ]; do
    case "$1" in
        --image) image=$2; shift 2 ;;
        --root) root_dir=$2; shift 2 ;;
        --deb) deb=$2; shift 2 ;;
        --output) output=$2; shift 2 ;;
        --hostname) hostname=$2; shift 2 ;;
        --static-ip) static_ip=$2; shift 2 ;;
        --gateway) gateway=$2; shift 2 ;;
        --dns) dns=$2; shift 2 ;;
        --userconf) userconf=$2; shift 2 ;;
        --no-apt) use_apt=0; shift ;;
        --xz) compress=1; shift ;;
        -h | --help) usage ;;
        *) die "option inconnue : $1 (--help pour l'aide)" ;;
    esac
done
[ -n "$deb" ] && [ -f "$deb" ] || die "--deb FICHIER.deb est obligatoire"
if [ -n "$image" ] && [ -n "$root_dir" ] || [ -z "$image" ] && [ -z "$root_dir" ]; then
    die "indiquez soit --image, soit --root"
fi
[[ "$hostname" =~ ^[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$ ]] || die "nom d'hôte invalide : $hostname"
if [ -n "$static_ip" ]; then
    [[ "$static_ip" =~ ^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+/[0-9]+$ ]] || die "--static-ip attend ADRESSE/PRÉFIXE, par ex. 192.168.1.50/24"
    [ -n "$gateway" ] || die "--static-ip demande aussi --gateway"
fi
[ "$(id -u)" = 0 ] || die "à lancer en root (losetup, mount, chroot)"

mounts=() chroot_mounts=() loop=""
cleanup() {
    local status=$?
    for ((i = ${#chroot_mounts[@]} - 1; i >= 0; i--)); do umount -l "${chroot_mounts[i]}" 2>/dev/null || true; done
    for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do umount -l "${mounts[i]}" 2>/dev/null || true; done
    [ -n "$loop" ] && losetup -d "$loop" 2>/dev/null || true
    [ -n "${mnt:-}" ] && rmdir "$mnt" 2>/dev/null || true
    exit "$status"
}
trap cleanup EXIT

# Everything done inside the root file system (mounted image or directory).
customize_root() {
    local root=$1
    ensure_binfmt
    chroot "$root" /bin/true || die "impossible d'exécuter du code de l'image (qemu-user-static et binfmt-support installés ?)"
    for fs in proc sys dev dev/pts; do
        mount --bind "/$fs" "$root/$fs"
        chroot_mounts+=("$root/$fs")
    done

    install -m 644 "$deb" "$root/tmp/classcord.deb"
    chroot "$root" dpkg -i /tmp/classcord.deb
    rm -f "$root/tmp/classcord.deb"
    chroot "$root" systemctl enable classcord.service

    echo "$hostname" > "$root/etc/hostname"
    if grep -qs '^127\.0\.1\.1' "$root/etc/hosts"; then
        sed -i "s/^127\.0\.1\.1.*/127.0.1.1\t$hostname/" "$root/etc/hosts"
    else
        printf '127.0.1.1\t%s\n' "$hostname" >> "$root/etc/hosts"
    fi

    if [ -n "$static_ip" ]; then
        # Raspberry Pi OS Bookworm manages the network with NetworkManager.
        install -d -m 755 "$root/etc/NetworkManager/system-connections"
        install -m 600 /dev/null "$root/etc/NetworkManager/system-connections/classcord-eth0.nmconnection"
        cat > "$root/etc/NetworkManager/system-connections/classcord-eth0.nmconnection" <<EOF
[connection]
id=classcord-eth0
type=ethernet
interface-name=eth0
autoconnect=true

[ipv4]
method=manual
address1=$static_ip,$gateway
dns=${dns:-$gateway};

[ipv6]
method=auto
EOF
    fi

    if [ -e "$root/lib/systemd/system/ssh.service" ] || [ -e "$root/usr/lib/systemd/system/ssh.service" ]; then
        chroot "$root" systemctl enable ssh.service
    else
        echo "customize.sh : attention : openssh-server absent de l'image, SSH non activé" >&2
    fi

    local jail="$repo/etc/fail2ban/jail.d/classcord-systemd.conf"
    if [ "$use_apt" = 1 ] && [ ! -e "$root/usr/bin/fail2ban-server" ]; then
        # apt in the chroot needs name resolution: borrow the host's resolv.conf meanwhile.
        mv "$root/etc/resolv.conf" "$root/etc/resolv.conf.classcord-orig" 2>/dev/null || true
        cp -L /etc/resolv.conf "$root/etc/resolv.conf"
        chroot "$root" apt-get update
        DEBIAN_FRONTEND=noninteractive chroot "$root" apt-get install -y --no-install-recommends \
            fail2ban python3-systemd nftables
        rm -f "$root/etc/resolv.conf"
        mv "$root/etc/resolv.conf.classcord-orig" "$root/etc/resolv.conf" 2>/dev/null || true
    fi
    install -d -m 755 "$root/etc/fail2ban/jail.d" "$root/etc/fail2ban/filter.d" \
        "$root/etc/fail2ban/action.d"
    if [ -f "$jail" ]; then
        # The journal variant of the jails only (the other one reads a file rsyslog writes).
        install -m 644 "$jail" "$root/etc/fail2ban/jail.d/"
        for kind in filter action; do
            for file in "$repo"/etc/fail2ban/"$kind".d/classcord*.conf; do
                [ -f "$file" ] && install -m 644 "$file" "$root/etc/fail2ban/$kind.d/"
            done
        done
    else
        echo "customize.sh : attention : $jail absent, pas de prison fail2ban pour ClassCord" >&2
    fi
    install -m 644 "$repo/pi-image/files/fail2ban-sshd-systemd.conf" \
        "$root/etc/fail2ban/jail.d/sshd-systemd.conf"

    install -d -m 755 "$root/etc/systemd/journald.conf.d"
    install -m 644 "$repo/pi-image/files/journald-classcord.conf" \
        "$root/etc/systemd/journald.conf.d/90-classcord.conf"
    install -d -m 2755 -g systemd-journal "$root/var/log/journal" 2>/dev/null ||
        install -d -m 2755 "$root/var/log/journal"

    for ((i = ${#chroot_mounts[@]} - 1; i >= 0; i--)); do umount "${chroot_mounts[i]}"; done
    chroot_mounts=()
}

if [ -n "$root_dir" ]; then
    customize_root "$root_dir"
    echo "customize.sh : $root_dir personnalisé"
    exit 0
fi

# Image mode.
for tool in losetup:mount sfdisk:fdisk mcopy:mtools e2fsck:e2fsprogs; do
    command -v "${tool%%:*}" >/dev/null ||
        apt-get install -y --no-install-recommends "${tool#*:}"
done
[ -f "$image" ] || die "image introuvable : $image"
[ -n "$output" ] || output="classcord-$(basename "${image%.xz}")"
case "$image" in
    *.xz) xz -dc "$image" > "$output" ;;
    *) [ "$(realpath "$image")" = "$(realpath -m "$output")" ] || cp --sparse=always "$image" "$output" ;;
esac

# Partition 1: FAT boot partition (/boot/firmware); partition 2: ext4 root file system.
read -r boot_start _ < <(sfdisk -d "$output" | sed -n 's/.*1 : start= *\([0-9]*\), size= *\([0-9]*\).*/\1 \2/p')
read -r root_start root_size < <(sfdisk -d "$output" | sed -n 's/.*2 : start= *\([0-9]*\), size= *\([0-9]*\).*/\1 \2/p')
[ -n "${boot_start:-}" ] && [ -n "${root_start:-}" ] || die "table de partitions inattendue dans $output"
loop=$(losetup --find --show --offset $((root_start * 512)) --sizelimit $((root_size * 512)) "$output")
mnt=$(mktemp -d /tmp/classcord-pi.XXXXXX)
mount "$loop" "$mnt"
mounts+=("$mnt")
customize_root "$mnt"
umount "$mnt"
mounts=()
e2fsck -fy "$loop" || [ $? -le 1 ] || die "e2fsck a trouvé des erreurs"
command -v zerofree >/dev/null && zerofree "$loop" || true
losetup -d "$loop"
loop=""

# The boot partition is FAT: written with mtools (no vfat mount needed).
boot="$output@@$((boot_start * 512))"
mcopy -o -i "$boot" /dev/null ::/ssh
if [ -n "$userconf" ]; then
    printf '%s\n' "$userconf" > "$mnt/userconf.txt"
    mcopy -o -i "$boot" "$mnt/userconf.txt" ::/userconf.txt
    rm -f "$mnt/userconf.txt"
fi

if [ "$compress" = 1 ]; then
    xz -T0 -3 -f "$output"
    output="$output.xz"
fi
echo "customize.sh : image prête : $output"
