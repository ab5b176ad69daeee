//! Operating-system probes: the server's CPU time and memory from /proc/<pid>, the bench's own
//! CPU time (getrusage) and raising RLIMIT_NOFILE. Parsing is separated from reading so it can
//! be unit-tested on captured text.

use std::fs;
use std::io;

/// utime + stime (clock ticks) from the text of /proc/<pid>/stat. The command name (field 2)
/// is parenthesised and may itself contain spaces and parentheses, so fields are counted from
/// the LAST ')'.
pub fn parse_stat_cpu_ticks(stat: &str) -> Option<u64> {
    let after = &stat[stat.rfind(')')? + 1..];
    let mut fields = after.split_whitespace();
    // After the name: state(3) ppid(4) ... utime(14) stime(15) -> indexes 11 and 12.
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// A `kB` value such as `VmRSS:` from the text of /proc/<pid>/status, in KiB.
pub fn parse_status_kib(status: &str, key: &str) -> Option<u64> {
    status.lines().find_map(|line| {
        let rest = line.strip_prefix(key)?.strip_prefix(':')?;
        let mut it = rest.split_whitespace();
        let v = it.next()?.parse().ok()?;
        (it.next() == Some("kB")).then_some(v)
    })
}

fn clock_ticks_per_sec() -> u64 {
    // SAFETY: sysconf has no memory-safety preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as u64
    } else {
        100
    }
}

/// Reads one process's counters.
#[derive(Debug, Clone)]
pub struct ProcWatch {
    pub pid: u32,
    ticks_per_sec: u64,
}

/// One reading of the server's memory.
#[derive(Debug, Clone, Copy)]
pub struct Memory {
    pub rss_kib: u64,
    pub peak_kib: u64,
    /// The anonymous part of the RSS (heap, stacks), without the binary's and libraries' pages
    /// (`RssAnon`, absent before Linux 4.5).
    pub anon_kib: Option<u64>,
}

impl ProcWatch {
    /// Fails early (with a clear message) if the process cannot be read.
    pub fn new(pid: u32) -> Result<Self, String> {
        let w = ProcWatch {
            pid,
            ticks_per_sec: clock_ticks_per_sec(),
        };
        w.cpu_seconds()
            .map_err(|e| format!("cannot read /proc/{pid}/stat: {e}"))?;
        w.memory()
            .map_err(|e| format!("cannot read /proc/{pid}/status: {e}"))?;
        Ok(w)
    }

    pub fn cpu_seconds(&self) -> io::Result<f64> {
        let text = fs::read_to_string(format!("/proc/{}/stat", self.pid))?;
        let ticks = parse_stat_cpu_ticks(&text)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "unparsable stat line"))?;
        Ok(ticks as f64 / self.ticks_per_sec as f64)
    }

    pub fn memory(&self) -> io::Result<Memory> {
        let text = fs::read_to_string(format!("/proc/{}/status", self.pid))?;
        let get = |key| {
            parse_status_kib(&text, key)
                .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, format!("no {key} line")))
        };
        Ok(Memory {
            rss_kib: get("VmRSS")?,
            peak_kib: get("VmHWM")?,
            anon_kib: parse_status_kib(&text, "RssAnon"),
        })
    }
}

/// CPU seconds of the watched server (if any) and of the bench itself over a measured window.
#[derive(Debug, Clone, Copy)]
pub struct CpuWindow {
    server: Option<f64>,
    bench: f64,
}

/// CPU used during a window; `server_cpu_s` is None without a pid or if /proc became unreadable.
#[derive(Debug, Clone, Copy)]
pub struct CpuUsage {
    pub server_cpu_s: Option<f64>,
    pub bench_cpu_s: f64,
}

impl CpuWindow {
    pub fn start(watch: Option<&ProcWatch>) -> Self {
        CpuWindow {
            server: watch.and_then(|w| w.cpu_seconds().ok()),
            bench: self_cpu_seconds(),
        }
    }

    pub fn finish(&self, watch: Option<&ProcWatch>) -> CpuUsage {
        let server_now = watch.and_then(|w| w.cpu_seconds().ok());
        CpuUsage {
            server_cpu_s: match (self.server, server_now) {
                (Some(a), Some(b)) => Some(round3(b - a)),
                _ => None,
            },
            bench_cpu_s: round3(self_cpu_seconds() - self.bench),
        }
    }
}

/// Rounds to 3 decimals (reports stay readable).
pub fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

/// CPU seconds (user + system) consumed so far by this process, all threads.
pub fn self_cpu_seconds() -> f64 {
    // SAFETY: getrusage writes into the zeroed struct we pass; RUSAGE_SELF is always valid.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) } != 0 {
        return 0.0;
    }
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// Raises the soft RLIMIT_NOFILE to the hard limit (capped by fs.nr_open when the hard limit is
/// unlimited). Returns the soft limit now in force.
pub fn raise_nofile_limit() -> io::Result<u64> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read/write the struct we pass.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let mut target = lim.rlim_max;
    if target == libc::RLIM_INFINITY {
        target = fs::read_to_string("/proc/sys/fs/nr_open")
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(1 << 20);
    }
    if target > lim.rlim_cur {
        let new = libc::rlimit {
            rlim_cur: target,
            rlim_max: lim.rlim_max,
        };
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &new) } != 0 {
            return Err(io::Error::last_os_error());
        }
        lim.rlim_cur = target;
    }
    #[allow(clippy::unnecessary_cast)] // rlim_t is 32-bit on some targets (armv7).
    Ok(lim.rlim_cur as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_with_tricky_name() {
        // Fields: pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt
        // cmajflt utime stime ...
        let stat = "4242 (my (odd) name) S 1 4242 4242 0 -1 4194560 1500 0 3 0 250 75 0 0 20 0 \
                    9 0 12345 123456789 2500 18446744073709551615";
        assert_eq!(parse_stat_cpu_ticks(stat), Some(325));
        assert_eq!(parse_stat_cpu_ticks("garbage"), None);
        assert_eq!(parse_stat_cpu_ticks("1 (x) S 1 2"), None);
    }

    #[test]
    fn status_kib() {
        let status = "Name:\tclasscord\nVmPeak:\t  200000 kB\nVmHWM:\t    9000 kB\n\
                      VmRSS:\t    8192 kB\nThreads:\t3\n";
        assert_eq!(parse_status_kib(status, "VmRSS"), Some(8192));
        assert_eq!(parse_status_kib(status, "VmHWM"), Some(9000));
        assert_eq!(parse_status_kib(status, "VmSwap"), None);
        assert_eq!(parse_status_kib(status, "Threads"), None); // no kB unit
    }

    #[test]
    fn reads_own_process() {
        let w = ProcWatch::new(std::process::id()).expect("own /proc entry");
        assert!(w.cpu_seconds().expect("cpu") >= 0.0);
        let m = w.memory().expect("memory");
        assert!(m.rss_kib > 0 && m.peak_kib >= m.rss_kib);
        assert!(self_cpu_seconds() >= 0.0);
    }
}
