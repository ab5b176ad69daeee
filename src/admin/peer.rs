//! Who is at the other end of the control socket, as the kernel says (SO_PEERCRED: it cannot be
//! forged by the client), and whether they may administer: root, the server's own user, or a
//! member of the admin group (its primary group, or a supplementary one from the group
//! database).

use std::ffi::CString;
use std::os::fd::AsFd;

use nix::sys::socket::{getsockopt, sockopt};
use nix::unistd::{getgrouplist, Gid, Group, Uid, User};

/// The peer's identity when it connected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerCred {
    pub uid: u32,
    pub gid: u32,
    pub pid: i32,
}

pub fn credentials(socket: &impl AsFd) -> nix::Result<PeerCred> {
    let cred = getsockopt(socket, sockopt::PeerCredentials)?;
    Ok(PeerCred {
        uid: cred.uid(),
        gid: cred.gid(),
        pid: cred.pid(),
    })
}

/// Whether `peer` may administer (blocking: asks the user and group databases).
pub fn allowed(peer: &PeerCred, admin_group: &str) -> bool {
    if peer.uid == 0 || peer.uid == Uid::effective().as_raw() {
        return true;
    }
    let Ok(Some(group)) = Group::from_name(admin_group) else {
        return false;
    };
    if peer.gid == group.gid.as_raw() {
        return true;
    }
    let Ok(Some(user)) = User::from_uid(Uid::from_raw(peer.uid)) else {
        return false;
    };
    if user.gid == group.gid || group.mem.contains(&user.name) {
        return true;
    }
    let Ok(name) = CString::new(user.name.as_bytes()) else {
        return false;
    };
    getgrouplist(&name, user.gid)
        .map(|groups| groups.contains(&group.gid))
        .unwrap_or(false)
}

/// The admin group's id, if the group exists (the socket file is given to it).
pub fn group_id(admin_group: &str) -> Option<Gid> {
    Group::from_name(admin_group).ok().flatten().map(|g| g.gid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_servers_own_user_and_root_are_allowed_nobody_is_not() {
        let me = PeerCred {
            uid: Uid::effective().as_raw(),
            gid: Gid::effective().as_raw(),
            pid: 1,
        };
        assert!(allowed(&me, "no-such-group-classcord"));
        let root = PeerCred {
            uid: 0,
            gid: 0,
            pid: 1,
        };
        assert!(allowed(&root, "no-such-group-classcord"));
        if Uid::effective().is_root() {
            let nobody = PeerCred {
                uid: 65534,
                gid: 65534,
                pid: 1,
            };
            assert!(!allowed(&nobody, "no-such-group-classcord"));
            // Its own primary group, named as the admin group, lets it in.
            if let Ok(Some(group)) = Group::from_gid(Gid::from_raw(65534)) {
                assert!(allowed(&nobody, &group.name));
            }
        }
    }
}
