#!/usr/bin/env bash
# Prepares the pi-gen stage for a build of a complete Raspberry Pi OS Lite image with ClassCord
# (pi-gen: the official Raspberry Pi OS image builder; needs a machine with internet access).
#
#   git clone --branch bookworm https://github.com/RPi-Distro/pi-gen.git
#   pi-image/pi-gen-prepare.sh --pi-gen pi-gen --deb dist/classcord_0.1.0-1_arm64.deb
#   cd pi-gen && sudo ./build.sh          (or ./build-docker.sh)
#
# --pi-gen DIR  copies stage-classcord/ into DIR, fills its files/, writes DIR/config
#               (64-bit Bookworm, SSH on, stages 0-2 then ClassCord) and skips stage2's image.
# --stage DIR   only fills the files/ of an existing copy of the stage (used by the CI test).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
pi_gen="" stage="" deb="" hostname=classcord
while [ $# -gt 0 ]; do
    case "$1" in
        --pi-gen) pi_gen=$2; shift 2 ;;
        --stage) stage=$2; shift 2 ;;
        --deb) deb=$2; shift 2 ;;
        --hostname) hostname=$2; shift 2 ;;
        *) echo "pi-gen-prepare.sh : option inconnue : $1" >&2; exit 2 ;;
    esac
done
[ -f "$deb" ] || { echo "pi-gen-prepare.sh : --deb classcord_VERSION_arm64.deb manquant" >&2; exit 2; }
if [ -n "$pi_gen" ]; then
    [ -f "$pi_gen/build.sh" ] || { echo "pi-gen-prepare.sh : $pi_gen n'est pas un dépôt pi-gen" >&2; exit 2; }
    rm -rf "$pi_gen/stage-classcord"
    cp -a "$repo/pi-image/stage-classcord" "$pi_gen/stage-classcord"
    stage="$pi_gen/stage-classcord"
fi
[ -d "$stage/00-install" ] || { echo "pi-gen-prepare.sh : --pi-gen ou --stage requis" >&2; exit 2; }

files="$stage/00-install/files"
rm -f "$files"/classcord_*_arm64.deb
install -m 644 "$deb" "$files/"
install -m 644 "$repo/pi-image/files/journald-classcord.conf" "$repo/pi-image/files/fail2ban-sshd-systemd.conf" "$files/"
install -d "$files/fail2ban/jail.d" "$files/fail2ban/filter.d" "$files/fail2ban/action.d"
# The journal variant of the jails (Pi OS has no rsyslog), with its filter and action.
jail="$repo/etc/fail2ban/jail.d/classcord-systemd.conf"
[ -f "$jail" ] && install -m 644 "$jail" "$files/fail2ban/jail.d/"
for kind in filter action; do
    for f in "$repo"/etc/fail2ban/"$kind".d/classcord*.conf; do
        [ -f "$f" ] && install -m 644 "$f" "$files/fail2ban/$kind.d/"
    done
done

if [ -n "$pi_gen" ]; then
    cat > "$pi_gen/config" <<CONFIG
IMG_NAME=classcord
RELEASE=bookworm
ARCH=arm64
TARGET_HOSTNAME=$hostname
ENABLE_SSH=1
LOCALE_DEFAULT=fr_FR.UTF-8
KEYBOARD_KEYMAP=fr
KEYBOARD_LAYOUT="French"
TIMEZONE_DEFAULT=Europe/Paris
STAGE_LIST="stage0 stage1 stage2 stage-classcord"
CONFIG
    touch "$pi_gen/stage2/SKIP_IMAGES"
    echo "pi-gen-prepare.sh : prêt ; ajoutez FIRST_USER_NAME / FIRST_USER_PASS à $pi_gen/config, puis lancez ./build.sh dans $pi_gen"
else
    echo "pi-gen-prepare.sh : $stage prêt"
fi
