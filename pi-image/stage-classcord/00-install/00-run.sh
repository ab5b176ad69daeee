#!/bin/bash -e
# pi-gen stage: installs the ClassCord arm64 .deb (placed in files/ by pi-image/pi-gen-prepare.sh)
# and the appliance settings: service enabled at boot, SSH on, fail2ban reading the journal,
# journald kept across reboots with a size cap. fail2ban, python3-systemd and nftables come from
# 00-packages (pi-gen installs them before this script).

debs=(files/classcord_*_arm64.deb)
[ -f "${debs[0]}" ] || { echo "stage-classcord: no files/classcord_*_arm64.deb (run pi-gen-prepare.sh)" >&2; exit 1; }
install -m 644 "${debs[0]}" "${ROOTFS_DIR}/tmp/classcord.deb"

install -d -m 755 "${ROOTFS_DIR}/etc/systemd/journald.conf.d" "${ROOTFS_DIR}/etc/fail2ban/jail.d" \
    "${ROOTFS_DIR}/etc/fail2ban/filter.d" "${ROOTFS_DIR}/etc/fail2ban/action.d"
install -m 644 files/journald-classcord.conf "${ROOTFS_DIR}/etc/systemd/journald.conf.d/90-classcord.conf"
install -m 644 files/fail2ban-sshd-systemd.conf "${ROOTFS_DIR}/etc/fail2ban/jail.d/sshd-systemd.conf"
for f in files/fail2ban/jail.d/*.conf; do
    [ -f "$f" ] && install -m 644 "$f" "${ROOTFS_DIR}/etc/fail2ban/jail.d/"
done
for kind in filter action; do
    for f in files/fail2ban/"$kind".d/*.conf; do
        [ -f "$f" ] && install -m 644 "$f" "${ROOTFS_DIR}/etc/fail2ban/$kind.d/"
    done
done

on_chroot << CHROOT
dpkg -i /tmp/classcord.deb
rm -f /tmp/classcord.deb
systemctl enable classcord.service
if [ -e /lib/systemd/system/ssh.service ]; then systemctl enable ssh.service; fi
install -d -m 2755 -g systemd-journal /var/log/journal
CHROOT
