//! A minimal safe wrapper around Linux `epoll` (level-triggered), used by the fan-out receiver
//! threads and by `fake-server`. This is the only module of the bench with `unsafe` code: three
//! system calls (`epoll_create1`, `epoll_ctl`, `epoll_wait`), each with its SAFETY argument.
//!
//! Registrations carry a caller-chosen `u64` token. `epoll_ctl` may be called from any thread
//! while another thread waits: the kernel reports readiness of a descriptor added meanwhile.

use std::io;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

/// What a registration waits for. Hang-ups and errors are always reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interest {
    pub readable: bool,
    pub writable: bool,
}

impl Interest {
    pub const READ: Interest = Interest {
        readable: true,
        writable: false,
    };
    pub const READ_WRITE: Interest = Interest {
        readable: true,
        writable: true,
    };

    fn bits(self) -> u32 {
        let mut b = libc::EPOLLRDHUP as u32;
        if self.readable {
            b |= libc::EPOLLIN as u32;
        }
        if self.writable {
            b |= libc::EPOLLOUT as u32;
        }
        b
    }
}

/// One readiness report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Event {
    pub token: u64,
    /// Readable, or the peer hung up / the socket has an error (a read will tell which).
    pub readable: bool,
    /// Writable, or the socket has an error (a write will tell which).
    pub writable: bool,
}

/// A reusable buffer of readiness reports.
pub struct Events {
    buf: Vec<libc::epoll_event>,
    len: usize,
}

impl Events {
    pub fn with_capacity(n: usize) -> Events {
        Events {
            buf: vec![libc::epoll_event { events: 0, u64: 0 }; n.clamp(1, 4096)],
            len: 0,
        }
    }

    /// The reports of the last `wait`.
    pub fn iter(&self) -> impl Iterator<Item = Event> + '_ {
        self.buf[..self.len].iter().map(|e| {
            // Copies out of the (packed on x86_64) struct; no reference to a packed field.
            let (bits, token) = (e.events, e.u64);
            let trouble = bits & (libc::EPOLLHUP | libc::EPOLLERR | libc::EPOLLRDHUP) as u32 != 0;
            Event {
                token,
                readable: bits & libc::EPOLLIN as u32 != 0 || trouble,
                writable: bits & libc::EPOLLOUT as u32 != 0 || bits & libc::EPOLLERR as u32 != 0,
            }
        })
    }
}

/// An epoll instance (closed on drop).
pub struct Epoll {
    fd: OwnedFd,
}

impl Epoll {
    pub fn new() -> io::Result<Epoll> {
        // SAFETY: epoll_create1 takes no pointers; it returns a new descriptor or -1.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` is a freshly created, open descriptor that nothing else owns.
        Ok(Epoll {
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
        })
    }

    fn ctl(
        &self,
        op: libc::c_int,
        fd: &impl AsFd,
        token: u64,
        interest: Interest,
    ) -> io::Result<()> {
        let mut ev = libc::epoll_event {
            events: interest.bits(),
            u64: token,
        };
        // SAFETY: both descriptors are open for the duration of the call (owned by `self`,
        // borrowed through `AsFd`); `ev` is a valid epoll_event that outlives the call (the
        // kernel copies it and ignores it for EPOLL_CTL_DEL).
        let r =
            unsafe { libc::epoll_ctl(self.fd.as_raw_fd(), op, fd.as_fd().as_raw_fd(), &mut ev) };
        if r < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(())
        }
    }

    /// Registers `fd` (level-triggered). The registration ends when the descriptor is closed
    /// (its last duplicate) or with `delete`.
    pub fn add(&self, fd: &impl AsFd, token: u64, interest: Interest) -> io::Result<()> {
        self.ctl(libc::EPOLL_CTL_ADD, fd, token, interest)
    }

    pub fn modify(&self, fd: &impl AsFd, token: u64, interest: Interest) -> io::Result<()> {
        self.ctl(libc::EPOLL_CTL_MOD, fd, token, interest)
    }

    pub fn delete(&self, fd: &impl AsFd) -> io::Result<()> {
        self.ctl(libc::EPOLL_CTL_DEL, fd, 0, Interest::READ)
    }

    /// Waits at most `timeout` (rounded up to a millisecond; zero polls without sleeping) for
    /// readiness reports. An interrupted wait returns with no reports.
    pub fn wait(&self, events: &mut Events, timeout: Duration) -> io::Result<()> {
        let ms = timeout.as_nanos().div_ceil(1_000_000).min(i32::MAX as u128) as libc::c_int;
        let cap = events.buf.len().min(i32::MAX as usize) as libc::c_int;
        // SAFETY: the pointer and capacity describe `events.buf`, a live, initialised buffer
        // of `cap` epoll_event slots that we borrow mutably for the duration of the call; the
        // epoll descriptor is open (owned by `self`).
        let n = unsafe { libc::epoll_wait(self.fd.as_raw_fd(), events.buf.as_mut_ptr(), cap, ms) };
        if n < 0 {
            events.len = 0;
            let e = io::Error::last_os_error();
            return if e.kind() == io::ErrorKind::Interrupted {
                Ok(())
            } else {
                Err(e)
            };
        }
        events.len = n as usize;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::net::{TcpListener, TcpStream};

    #[test]
    fn reports_readable_sockets_with_their_token() {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = l.local_addr().expect("addr");
        let mut a = TcpStream::connect(addr).expect("connect");
        let (b, _) = l.accept().expect("accept");
        let ep = Epoll::new().expect("epoll");
        let mut evs = Events::with_capacity(8);
        ep.add(&b, 42, Interest::READ).expect("add");
        ep.wait(&mut evs, Duration::from_millis(1)).expect("wait");
        assert_eq!(evs.iter().count(), 0);
        a.write_all(b"x\n").expect("write");
        ep.wait(&mut evs, Duration::from_secs(5)).expect("wait");
        let got: Vec<Event> = evs.iter().collect();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].token, 42);
        assert!(got[0].readable);
        // Level-triggered: still reported while unread.
        ep.modify(&b, 7, Interest::READ_WRITE).expect("modify");
        ep.wait(&mut evs, Duration::from_secs(5)).expect("wait");
        let got: Vec<Event> = evs.iter().collect();
        assert_eq!(got.len(), 1);
        assert!(got[0].readable && got[0].writable && got[0].token == 7);
        ep.delete(&b).expect("delete");
        ep.wait(&mut evs, Duration::from_millis(1)).expect("wait");
        assert_eq!(evs.iter().count(), 0);
    }
}
